/* Time grids (ALGORITHMS.md §1.5-1.6): N steps = N + 1 points, noisiest first. */
#include <math.h>
#include <stdlib.h>

#include "core/schedule_impl.h"

const char *pd_spacing_name(pd_spacing sp)
{
    static const char *names[] = {"uniform",   "leading", "trailing", "linspace",
                                  "linspace-dpm", "quadratic", "logsnr", "karras"};
    return (unsigned)sp < 8 ? names[sp] : "?";
}

static pd_grid_point point_at(const pd_schedule *s, double t)
{
    return (pd_grid_point){.t = t, .alpha = pd_schedule_alpha(s, t), .sigma = pd_schedule_sigma(s, t),
                           .lambda = pd_schedule_lambda(s, t)};
}

/* numpy's round (half to even) under the default rounding mode */
static int round_even(double v) { return (int)nearbyint(v); }

/* numpy.linspace(0, stop, num)[j]: step = stop / (num - 1) first, then j * step, the last point set
 * to stop exactly: the same rounding as the diffusers / DDIM-repo spacings computed with numpy. */
static double np_linspace(double stop, int num, int j)
{
    if (num == 1) return 0.0;
    return j == num - 1 ? stop : j * (stop / (num - 1));
}

/* The N integer timesteps of a discrete spacing, descending (diffusers / DDIM repo, §1.5). */
static pd_status discrete_timesteps(pd_ctx *ctx, const pd_schedule *s, pd_spacing sp, int N, int *ts)
{
    int K = s->p.train_steps;
    if (N > K) PD_FAIL(ctx, PD_ERR_INPUT, "sampler.steps: %d steps exceed the %d training steps", N, K);
    for (int i = 0; i < N; i++) {
        int j = N - 1 - i; /* ascending position */
        switch (sp) {
        case PD_SPACING_UNIFORM:
        case PD_SPACING_LEADING: ts[i] = j * (K / N); break;
        case PD_SPACING_TRAILING: ts[i] = round_even(K + i * -((double)K / N)) - 1; break;
        case PD_SPACING_LINSPACE: ts[i] = round_even(np_linspace(K - 1, N, j)); break;
        case PD_SPACING_LINSPACE_DPM: ts[i] = round_even(np_linspace(K - 1, N + 1, j + 1)); break;
        case PD_SPACING_QUADRATIC: {
            double r = np_linspace(sqrt(0.8 * K), N, j);
            ts[i] = (int)(r * r);
            break;
        }
        default:
            PD_FAIL(ctx, PD_ERR_INPUT, "sampler.spacing: %s is not available on the discrete schedule %s",
                    pd_spacing_name(sp), pd_schedule_kind_name(s->p.kind));
        }
    }
    for (int i = 1; i < N; i++)
        if (ts[i] >= ts[i - 1])
            PD_FAIL(ctx, PD_ERR_INPUT,
                    "sampler.steps: spacing %s with %d steps repeats timestep %d; use fewer steps",
                    pd_spacing_name(sp), N, ts[i]);
    return PD_OK;
}

static pd_status fill_discrete(pd_ctx *ctx, const pd_schedule *s, pd_spacing sp, int N, int final_alpha0,
                               pd_grid_point *pts)
{
    int *ts = malloc(sizeof(int) * (size_t)N);
    if (!ts) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate timesteps");
    pd_status st = discrete_timesteps(ctx, s, sp, N, ts);
    if (st == PD_OK && final_alpha0 && ts[N - 1] == 0)
        st = pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__,
                          "schedule.final: alpha0 needs a spacing whose last timestep is not 0 "
                          "(spacing %s ends at 0)", pd_spacing_name(sp));
    if (st == PD_OK) {
        for (int i = 0; i < N; i++) pts[i] = point_at(s, ts[i]);
        pts[N] = point_at(s, final_alpha0 ? 0.0 : -1.0);
    }
    free(ts);
    return st;
}

/* vp-linear and psld: N + 1 points from t_max to t_min (§1.6). */
static pd_status fill_vp(pd_ctx *ctx, const pd_schedule *s, pd_spacing sp, int N, pd_grid_point *pts)
{
    const pd_schedule_params *p = &s->p;
    double l0 = pd_schedule_lambda(s, p->t_max), l1 = pd_schedule_lambda(s, p->t_min);
    double r0 = pow(exp(-l0), 1.0 / p->rho), r1 = pow(exp(-l1), 1.0 / p->rho);
    for (int n = 0; n <= N; n++) {
        double f = (double)n / N, t;
        switch (sp) {
        case PD_SPACING_UNIFORM: t = p->t_max + (p->t_min - p->t_max) * f; break;
        case PD_SPACING_QUADRATIC: {
            double r = sqrt(p->t_max) + (sqrt(p->t_min) - sqrt(p->t_max)) * f;
            t = r * r;
            break;
        }
        case PD_SPACING_LOGSNR: t = pd_schedule_t_of_lambda(s, l0 + (l1 - l0) * f); break;
        case PD_SPACING_KARRAS: t = pd_schedule_t_of_lambda(s, -p->rho * log(r0 + (r1 - r0) * f)); break;
        default:
            PD_FAIL(ctx, PD_ERR_INPUT, "sampler.spacing: %s is not available on %s "
                    "(uniform, quadratic, logsnr, karras)", pd_spacing_name(sp), pd_schedule_kind_name(p->kind));
        }
        if (n == 0) t = p->t_max;
        if (n == N) t = p->t_min;
        pts[n] = point_at(s, t);
    }
    return PD_OK;
}

/* edm: Karras sigmas from sigma_max to sigma_min, then 0 (N steps, the last into sigma = 0). */
static pd_status fill_edm(pd_ctx *ctx, const pd_schedule *s, pd_spacing sp, int N, pd_grid_point *pts)
{
    const pd_schedule_params *p = &s->p;
    if (sp != PD_SPACING_KARRAS)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.spacing: %s is not available on edm (karras)", pd_spacing_name(sp));
    double r0 = pow(p->sigma_max, 1.0 / p->rho), r1 = pow(p->sigma_min, 1.0 / p->rho);
    for (int n = 0; n < N; n++) {
        double f = N == 1 ? 0.0 : (double)n / (N - 1);
        pts[n] = point_at(s, pow(r0 + (r1 - r0) * f, p->rho));
    }
    pts[0] = point_at(s, p->sigma_max);
    if (N > 1) pts[N - 1] = point_at(s, p->sigma_min);
    pts[N] = point_at(s, 0.0);
    return PD_OK;
}

pd_status pd_grid_create(pd_ctx *ctx, const pd_schedule *s, pd_spacing spacing, int steps,
                         int final_alpha0, pd_grid **out)
{
    if (steps < 1) PD_FAIL(ctx, PD_ERR_INPUT, "sampler.steps: expected >= 1, got %d", steps);
    if (final_alpha0 && !s->discrete)
        PD_FAIL(ctx, PD_ERR_INPUT, "schedule.final: alpha0 is only for discrete schedules");
    pd_grid *g = calloc(1, sizeof *g);
    pd_grid_point *pts = calloc((size_t)steps + 1, sizeof *pts);
    if (!g || !pts) {
        free(g);
        free(pts);
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a grid of %d steps", steps);
    }
    pd_status st;
    if (s->discrete) st = fill_discrete(ctx, s, spacing, steps, final_alpha0, pts);
    else if (s->p.kind == PD_SCHEDULE_VP_LINEAR || s->p.kind == PD_SCHEDULE_PSLD)
        st = fill_vp(ctx, s, spacing, steps, pts);
    else st = fill_edm(ctx, s, spacing, steps, pts);
    if (st != PD_OK) {
        free(g);
        free(pts);
        return st;
    }
    *g = (pd_grid){.sched = s, .steps = steps, .pts = pts, .total_steps = steps};
    *out = g;
    return PD_OK;
}

pd_status pd_grid_create_sub(pd_ctx *ctx, const pd_grid *g, const int *idx, int n, pd_grid **out)
{
    if (n < 1) PD_FAIL(ctx, PD_ERR_INPUT, "sub-grid: expected >= 1 step, got %d", n);
    for (int j = 0; j <= n; j++)
        if (idx[j] < 0 || idx[j] > g->steps || (j > 0 && idx[j] <= idx[j - 1]))
            PD_FAIL(ctx, PD_ERR_INPUT, "sub-grid: point %d = %d is not increasing within 0..%d", j, idx[j], g->steps);
    pd_grid *sub = calloc(1, sizeof *sub);
    pd_grid_point *pts = calloc((size_t)n + 1, sizeof *pts);
    int *ns = calloc((size_t)n + 1, sizeof *ns);
    if (!sub || !pts || !ns) {
        free(sub), free(pts), free(ns);
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a sub-grid of %d steps", n);
    }
    for (int j = 0; j <= n; j++) {
        pts[j] = g->pts[idx[j]];
        ns[j] = pd_grid_noise_step(g, idx[j] < g->steps ? idx[j] : g->steps - 1);
    }
    *sub = (pd_grid){.sched = g->sched, .steps = n, .pts = pts, .noise_step = ns, .total_steps = g->total_steps};
    *out = sub;
    return PD_OK;
}

int pd_grid_noise_step(const pd_grid *g, int n) { return g->noise_step ? g->noise_step[n] : n; }
int pd_grid_run_steps(const pd_grid *g) { return g->total_steps; }

void pd_grid_destroy(pd_grid **g)
{
    if (!g || !*g) return;
    free((*g)->noise_step);
    free((*g)->pts);
    free(*g);
    *g = NULL;
}

int pd_grid_steps(const pd_grid *g) { return g->steps; }
const pd_grid_point *pd_grid_at(const pd_grid *g, int n) { return &g->pts[n]; }
const pd_schedule *pd_grid_schedule(const pd_grid *g) { return g->sched; }

pd_grid_point pd_grid_point_at_lambda(const pd_grid *g, double lambda)
{
    const pd_schedule *s = g->sched;
    pd_grid_point p = {.t = pd_schedule_t_of_lambda(s, lambda), .lambda = lambda};
    if (pd_schedule_is_vp(s)) {
        p.alpha = pd_vp_alpha_of_lambda(lambda);
        p.sigma = pd_vp_sigma_of_lambda(lambda);
    } else {
        p.alpha = 1.0;
        p.sigma = exp(-lambda);
    }
    return p;
}
