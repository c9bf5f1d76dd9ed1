/* pd-bench-integrators: observed orders and distribution errors of the integrators on a single Gaussian
 * N(0.7, 0.5^2) in d = 1, where everything is known in closed form (ALGORITHMS.md §2.1).
 *
 *   pd-bench-integrators [SOLVER[:eta=E][:conj_lambda=L]]...     (no argument: the built-in list below)
 *
 * Prints CSV rows  schedule,solver,N,nfe,metric,value,order  for every schedule of the table below, every
 * solver and N = 10, 20, 40, ..., 640 (N <= train_steps on a discrete schedule with a fixed K). The model
 * is pd_model_gmm_create with one component (exact x0_hat), the states are float64, the start is the
 * exact marginal at the grid's first point (§2.4), so all error is the integrator's. Metrics:
 *   path_rms  deterministic solvers: RMS over SAMPLES trajectories of x_N minus the closed-form PF-ODE flow
 *             of the same start, x_N* = alpha_N mu + sqrt(v_N / v_0) (x_0 - alpha_0 mu),
 *             v = alpha^2 s^2 + sigma^2;
 *   tv, kl    every solver: total variation and KL(law || exact) between the law of x_N and the exact
 *             marginal N(alpha_N mu, v_N) at the last grid point, both Gaussian, the law exact (no Monte
 *             Carlo): a deterministic run is affine in its start, x_N = A x_0 + c (A, c fitted to the
 *             SAMPLES trajectories, residual checked), so m_N = A m_0 + c, V_N = A^2 V_0; a one-step
 *             stochastic step is affine in the state and its two Philox noise vectors,
 *             x' = A x + c + R1 z1 + R2 z2 (z1 = pd_rng_normal(seed, sample, step, PD_RNG_STEP, 0),
 *             z2 the same with PD_RNG_STEP2), read off one step of PROBES probe samples by least squares
 *             (residual checked), then m' = A m + c, V' = A^2 V + R1^2 + R2^2;
 *   var_rel   (V_N - v_N) / v_N, signed;  mean_err  m_N - alpha_N mu, signed.
 * order = log2(|value at N/2| / |value at N|), the observed order per doubling of N (of the metric: KL is
 * quadratic in the parameter errors, so its order is twice theirs).
 *
 * Checks before a row is printed (STYLE.md habit 14): the affine fits reproduce the solver's output to
 * 1e-9 (relative); a stochastic solver's law matches a full pd_solver_run of MC_SAMPLES samples from the
 * exact start (mean and variance within 5 standard errors). A failed check prints the reason on stderr,
 * drops the rows and makes the exit status 1. A solver that refuses a schedule or the model (bad input, e.g.
 * a psld-* sampler on this plain model) is skipped with a message on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pintdiff/pintdiff.h"

enum { SAMPLES = 1000, PROBES = 8, MC_SAMPLES = 4000, MAX_SOLVERS = 64 };
static const double MU = 0.7, SD = 0.5;
static const uint64_t SEED = 77;
static const int NS[] = {10, 20, 40, 80, 160, 320, 640};
#define N_NS ((int)(sizeof NS / sizeof NS[0]))

/* Schedules: kind, spacing, and for `li` the constants (our choice: the paper gives none) with T = N. */
typedef struct bench_schedule {
    const char *label;
    pd_schedule_kind kind;
    pd_spacing spacing;
    int t_is_n; /* li: train_steps = N, grid = the whole schedule (spacing leading, steps = T) */
    double c0, c1;
} bench_schedule;

static const bench_schedule SCHEDULES[] = {
    {"vp-linear uniform", PD_SCHEDULE_VP_LINEAR, PD_SPACING_UNIFORM, 0, 0, 0},
    {"vp-linear logsnr", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 0, 0, 0},
    /* linspace, not leading: leading starts at (N - 1)(K / N), e.g. 639 for N = 640, so its interval
     * changes with N; linspace always runs 999 -> 0 -> clean */
    {"ddpm-linear linspace", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LINSPACE, 0, 0, 0},
    {"li c0=2 c1=4 T=N", PD_SCHEDULE_LI, PD_SPACING_LEADING, 1, 2.0, 4.0},
};
#define N_SCHEDULES ((int)(sizeof SCHEDULES / sizeof SCHEDULES[0]))

/* A solver with its parameters; label = how it appears in the CSV. */
typedef struct bench_solver {
    char label[96];
    char name[48];
    double eta, lambda;
} bench_solver;

/* The default list: each integrator of issue 6 beside its baselines. Extend here or on the command line. */
static const char *DEFAULT_SOLVERS[] = {
    /* deterministic: baselines, references, the new ones */
    "ddim", "euler", "heun", "dpm-solver-2", "dpmpp-2m", "li-ddim", "accel-ddim",
    "conjugate-ddim:conj_lambda=-2", "conjugate-ddim:conj_lambda=-1", "conjugate-ddim:conj_lambda=-0.5",
    "conjugate-ddim:conj_lambda=0.5", "conjugate-ddim:conj_lambda=1",
    /* stochastic */
    "ddpm", "ddim:eta=1", "li-ddpm", "accel-ddpm",
};

static int parse_solver(const char *arg, bench_solver *b)
{
    memset(b, 0, sizeof *b);
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len == 0 || len >= sizeof b->name) return 1;
    memcpy(b->name, arg, len);
    snprintf(b->label, sizeof b->label, "%s", arg);
    while (colon) {
        const char *opt = colon + 1;
        char *end = NULL;
        if (!strncmp(opt, "eta=", 4)) b->eta = strtod(opt + 4, &end);
        else if (!strncmp(opt, "conj_lambda=", 12)) b->lambda = strtod(opt + 12, &end);
        else return 1;
        if (!end || (*end != '\0' && *end != ':')) return 1;
        colon = *end == ':' ? end : NULL;
    }
    return 0;
}

/* ----- closed forms ----- */

static double gauss_v(const pd_grid_point *p) { return p->alpha * p->alpha * SD * SD + p->sigma * p->sigma; }

static double phi_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* KL(N(m, v) || N(m0, v0)), with dv = v - v0 passed separately to keep its digits. */
static double kl_gauss(double dm, double dv, double v0)
{
    double r = dv / v0;
    return 0.5 * (r - log1p(r) + dm * dm / v0);
}

/* Total variation between N(m1, v1) and N(m2, v2) in one dimension (dm = m1 - m2, dv = v1 - v2): the
 * densities cross where a x^2 + b x + c = 0 (log p1 = log p2); TV = the sum over the regions where
 * p1 > p2 of P1 - P2. */
static double tv_gauss(double m1, double v1, double m2, double v2, double dv)
{
    double s1 = sqrt(v1), s2 = sqrt(v2);
    if (dv == 0.0) return 2.0 * phi_cdf(fabs(m1 - m2) / (2.0 * s1)) - 1.0;
    double a = dv / (2.0 * v1 * v2);              /* 1/(2 v2) - 1/(2 v1) */
    double b = m1 / v1 - m2 / v2;
    double c = m2 * m2 / (2.0 * v2) - m1 * m1 / (2.0 * v1) + 0.5 * log1p(-dv / v1); /* + 1/2 log(v2/v1) */
    double disc = b * b - 4.0 * a * c;
    if (disc < 0) disc = 0;
    double q = -0.5 * (b + copysign(sqrt(disc), b));
    double r1 = q / a, r2 = q != 0.0 ? c / q : -r1;
    if (r1 > r2) {
        double t = r1;
        r1 = r2;
        r2 = t;
    }
    /* P(X < r) of each law */
    double p1l = phi_cdf((r1 - m1) / s1), p2l = phi_cdf((r1 - m2) / s2);
    double p1h = phi_cdf(-(r2 - m1) / s1), p2h = phi_cdf(-(r2 - m2) / s2); /* P(X > r2) */
    double mid1 = 1.0 - p1l - p1h, mid2 = 1.0 - p2l - p2h;
    /* a > 0 (v1 > v2): p1 > p2 in the tails; else between the roots */
    return a > 0 ? (p1l - p2l) + (p1h - p2h) : mid1 - mid2;
}

/* ----- one (schedule, solver, N) ----- */

typedef struct result {
    int nfe;
    double path_rms; /* NAN for stochastic solvers */
    double m, V;     /* law of x_N */
    double m_ex, V_ex;
    double dV;       /* V - V_ex as propagated (kept apart from V for its digits) */
} result;

/* x = alpha_0 mu + sqrt(v_0) z(SEED, sample, 0, PD_RNG_START) */
static pd_status start_exact(pd_ctx *ctx, pd_state *x, const pd_grid *g, double *host)
{
    const pd_grid_point *p0 = pd_grid_at(g, 0);
    int64_t n = pd_state_n_samples(x);
    PD_TRY(pd_state_fill_normal(ctx, x, SEED, 0, PD_RNG_START));
    PD_TRY(pd_state_read_f64(ctx, x, host));
    for (int64_t i = 0; i < n; i++) host[i] = p0->alpha * MU + sqrt(gauss_v(p0)) * host[i];
    return pd_state_write_f64(ctx, x, host);
}

/* Least squares for k <= 4 unknowns: minimise |M u - y|, M [n, k] row-major; returns the max residual. */
static double lstsq(int n, int k, const double *M, const double *y, double *u)
{
    double G[4][5] = {{0}};
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            for (int r = 0; r < n; r++) G[i][j] += M[r * k + i] * M[r * k + j];
        for (int r = 0; r < n; r++) G[i][k] += M[r * k + i] * y[r];
    }
    for (int c = 0; c < k; c++) { /* Gauss-Jordan with partial pivoting */
        int p = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(G[r][c]) > fabs(G[p][c])) p = r;
        for (int j = 0; j <= k; j++) {
            double t = G[c][j];
            G[c][j] = G[p][j];
            G[p][j] = t;
        }
        for (int r = 0; r < k; r++) {
            if (r == c || G[c][c] == 0.0) continue;
            double f = G[r][c] / G[c][c];
            for (int j = c; j <= k; j++) G[r][j] -= f * G[c][j];
        }
    }
    for (int i = 0; i < k; i++) u[i] = G[i][i] != 0.0 ? G[i][k] / G[i][i] : 0.0;
    double worst = 0;
    for (int r = 0; r < n; r++) {
        double e = y[r];
        for (int i = 0; i < k; i++) e -= M[r * k + i] * u[i];
        worst = fmax(worst, fabs(e));
    }
    return worst;
}

/* Deterministic: one run of SAMPLES trajectories; path error against the flow; x_N = A x_0 + c fitted. */
static pd_status run_deterministic(pd_ctx *ctx, const pd_solver *sv, pd_model *m, const pd_grid *g, result *r)
{
    pd_status st = PD_OK;
    pd_state *x = NULL;
    pd_solver_ws *ws = NULL;
    int N = pd_grid_steps(g);
    const pd_grid_point *p0 = pd_grid_at(g, 0), *pN = pd_grid_at(g, N);
    double *x0 = malloc(SAMPLES * sizeof *x0), *x1 = malloc(SAMPLES * sizeof *x1);
    double *M = malloc(2 * SAMPLES * sizeof *M);
    if (!x0 || !x1 || !M) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "bench: scratch");
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, SAMPLES, 1, 0, &x));
    PD_TRY_GOTO(start_exact(ctx, x, g, x0));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, x, &ws));
    pd_model_reset_nfe(m);
    PD_TRY_GOTO(pd_solver_run(ctx, sv, m, g, 0, N, x, ws));
    r->nfe = (int)pd_model_nfe(m);
    PD_TRY_GOTO(pd_state_read_f64(ctx, x, x1));
    double sum = 0, scale = 0, u[2];
    for (int i = 0; i < SAMPLES; i++) {
        double ex = pN->alpha * MU + sqrt(gauss_v(pN) / gauss_v(p0)) * (x0[i] - p0->alpha * MU);
        sum += (x1[i] - ex) * (x1[i] - ex);
        M[2 * i] = x0[i] - p0->alpha * MU; /* centred start: A and c = the mean of x_N */
        M[2 * i + 1] = 1.0;
        scale = fmax(scale, fabs(x1[i]));
    }
    r->path_rms = sqrt(sum / SAMPLES);
    double res = lstsq(SAMPLES, 2, M, x1, u);
    if (!(res <= 1e-9 * scale))
        PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC, "%s: x_N is not affine in x_0 (residual %.3e): law not exact",
                     pd_solver_get_info(sv)->name, res);
    r->m = u[1];
    r->V = u[0] * u[0] * gauss_v(p0);
    /* dV from A^2 v_0 - v_N with v_N = v_0 A*^2: (A - A*)(A + A*) v_0 */
    double Aex = sqrt(gauss_v(pN) / gauss_v(p0));
    r->dV = (u[0] - Aex) * (u[0] + Aex) * gauss_v(p0);
done:
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&x);
    free(x0);
    free(x1);
    free(M);
    return st;
}

/* Stochastic one-step solvers: the law step by step from probes, then a Monte-Carlo check. */
static pd_status run_stochastic(pd_ctx *ctx, const pd_solver *sv, pd_model *m, const pd_grid *g, result *r)
{
    pd_status st = PD_OK;
    pd_state *x = NULL, *xm = NULL;
    pd_solver_ws *ws = NULL, *wsm = NULL;
    double *h = NULL;
    int N = pd_grid_steps(g);
    const char *name = pd_solver_get_info(sv)->name;
    if (pd_solver_get_info(sv)->multistep)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: stochastic multistep solver: the per-step law does not apply",
                     name);
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, PROBES, 1, 0, &x));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, x, &ws));
    double mean = pd_grid_at(g, 0)->alpha * MU, V = gauss_v(pd_grid_at(g, 0));
    for (int n = 0; n < N; n++) {
        double in[PROBES], out[PROBES], M[PROBES * 4], u[4], scale = 1e-300;
        uint32_t step = (uint32_t)pd_grid_noise_step(g, n);
        for (int k = 0; k < PROBES; k++) {
            in[k] = -2.0 + 0.55 * k;
            M[4 * k] = in[k];
            M[4 * k + 1] = 1.0;
            M[4 * k + 2] = pd_rng_normal(pd_solver_get_params(sv)->seed, (uint32_t)k, step, PD_RNG_STEP, 0);
            M[4 * k + 3] = pd_rng_normal(pd_solver_get_params(sv)->seed, (uint32_t)k, step, PD_RNG_STEP2, 0);
        }
        PD_TRY_GOTO(pd_state_write_f64(ctx, x, in));
        pd_solver_ws_reset(ws);
        PD_TRY_GOTO(pd_solver_step(ctx, sv, m, g, n, x, ws));
        PD_TRY_GOTO(pd_state_read_f64(ctx, x, out));
        for (int k = 0; k < PROBES; k++) scale = fmax(scale, fabs(out[k]));
        double res = lstsq(PROBES, 4, M, out, u);
        if (!(res <= 1e-9 * scale))
            PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC, "%s step %d: not affine in (x, z1, z2), residual %.3e", name, n,
                         res);
        mean = u[0] * mean + u[1];
        V = u[0] * u[0] * V + u[2] * u[2] + u[3] * u[3];
    }
    const pd_grid_point *pN = pd_grid_at(g, N);
    r->m = mean;
    r->V = V;
    r->dV = V - gauss_v(pN);
    r->path_rms = NAN;
    /* Monte-Carlo check: a full run of MC_SAMPLES samples from the exact start */
    h = malloc(MC_SAMPLES * sizeof *h);
    if (!h) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "bench: scratch");
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, MC_SAMPLES, 1, 0, &xm));
    PD_TRY_GOTO(start_exact(ctx, xm, g, h));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, xm, &wsm));
    pd_model_reset_nfe(m);
    PD_TRY_GOTO(pd_solver_run(ctx, sv, m, g, 0, N, xm, wsm));
    r->nfe = (int)pd_model_nfe(m);
    PD_TRY_GOTO(pd_state_read_f64(ctx, xm, h));
    double sm = 0, sv2 = 0;
    for (int i = 0; i < MC_SAMPLES; i++) sm += h[i];
    sm /= MC_SAMPLES;
    for (int i = 0; i < MC_SAMPLES; i++) sv2 += (h[i] - sm) * (h[i] - sm);
    sv2 /= MC_SAMPLES - 1;
    double zm = (sm - r->m) / sqrt(r->V / MC_SAMPLES);
    double zv = (sv2 - r->V) / (r->V * sqrt(2.0 / (MC_SAMPLES - 1)));
    if (!(fabs(zm) < 5.0 && fabs(zv) < 5.0))
        PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC,
                     "%s: Monte-Carlo run disagrees with the propagated law "
                     "(mean %.5f vs %.5f, var %.5f vs %.5f)",
                     name, sm, r->m, sv2, r->V);
done:
    free(h);
    pd_solver_ws_destroy(&wsm);
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&xm);
    pd_state_destroy(&x);
    return st;
}

/* ----- the table ----- */

typedef struct prev_values {
    double v[5];
} prev_values;

static void print_row(const char *sched, const char *solver, int N, int nfe, const char *metric, double value,
                      double *prev)
{
    printf("%s,%s,%d,%d,%s,%.6e,", sched, solver, N, nfe, metric, value);
    if (isfinite(*prev) && *prev != 0.0 && value != 0.0) printf("%.3f", log2(fabs(*prev) / fabs(value)));
    printf("\n");
    *prev = value;
}

static pd_status make_grid(pd_ctx *ctx, const bench_schedule *bs, int N, pd_schedule **sch, pd_grid **g)
{
    pd_schedule_params sp = pd_schedule_defaults(bs->kind);
    if (bs->t_is_n) {
        sp.train_steps = N;
        sp.li_c0 = bs->c0;
        sp.li_c1 = bs->c1;
    }
    PD_TRY(pd_schedule_create(ctx, &sp, sch));
    return pd_grid_create(ctx, *sch, bs->spacing, N, 0, g);
}

/* All N of one (schedule, solver). Returns the number of failed checks (the rows of a failed N and of the
 * larger N are not printed); a solver that refuses the schedule (bad input) is skipped with a message. */
static int bench_one(pd_ctx *ctx, pd_model *m, const bench_schedule *bs, const bench_solver *b)
{
    pd_solver_params p = pd_solver_default_params();
    p.seed = SEED;
    p.eta = b->eta;
    p.conj_lambda = b->lambda;
    pd_solver *sv = NULL;
    if (pd_solver_create(ctx, b->name, &p, &sv) != PD_OK) {
        fprintf(stderr, "pd-bench-integrators: %s: %s\n", b->label, pd_ctx_message(ctx));
        pd_ctx_clear(ctx);
        return 1;
    }
    int stoch = pd_solver_is_stochastic(sv), fails = 0;
    prev_values prev = {{NAN, NAN, NAN, NAN, NAN}};
    for (int i = 0; i < N_NS; i++) {
        int N = NS[i];
        int K = pd_schedule_defaults(bs->kind).train_steps;
        if (!bs->t_is_n && bs->kind != PD_SCHEDULE_VP_LINEAR && N > K) /* cap at T = K */
            break;
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        result r = {0};
        pd_status st = make_grid(ctx, bs, N, &sch, &g);
        if (st == PD_OK)
            st = stoch ? run_stochastic(ctx, sv, m, g, &r) : run_deterministic(ctx, sv, m, g, &r);
        if (st == PD_OK) {
            const pd_grid_point *pN = pd_grid_at(g, N);
            r.m_ex = pN->alpha * MU;
            r.V_ex = gauss_v(pN);
            double dm = r.m - r.m_ex;
            if (!stoch) print_row(bs->label, b->label, N, r.nfe, "path_rms", r.path_rms, &prev.v[0]);
            double tv = tv_gauss(r.m, r.V, r.m_ex, r.V_ex, r.dV);
            print_row(bs->label, b->label, N, r.nfe, "tv", tv, &prev.v[1]);
            print_row(bs->label, b->label, N, r.nfe, "kl", kl_gauss(dm, r.dV, r.V_ex), &prev.v[2]);
            print_row(bs->label, b->label, N, r.nfe, "var_rel", r.dV / r.V_ex, &prev.v[3]);
            print_row(bs->label, b->label, N, r.nfe, "mean_err", dm, &prev.v[4]);
            fflush(stdout);
        }
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
        if (st != PD_OK) {
            int refused = st == PD_ERR_INPUT;
            fprintf(stderr, "pd-bench-integrators: %s on %s, N = %d: %s%s\n", b->label, bs->label, N,
                    pd_ctx_message(ctx), refused ? " (skipped)" : "");
            pd_ctx_clear(ctx);
            fails += !refused;
            break;
        }
    }
    pd_solver_destroy(&sv);
    return fails;
}

int main(int argc, char **argv)
{
    bench_solver solvers[MAX_SOLVERS];
    int n_solvers = 0;
    int n_args = argc > 1 ? argc - 1 : (int)(sizeof DEFAULT_SOLVERS / sizeof DEFAULT_SOLVERS[0]);
    if (n_args > MAX_SOLVERS) {
        fprintf(stderr, "pd-bench-integrators: at most %d solvers\n", MAX_SOLVERS);
        return 2;
    }
    for (int i = 0; i < n_args; i++) {
        const char *a = argc > 1 ? argv[i + 1] : DEFAULT_SOLVERS[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || parse_solver(a, &solvers[n_solvers])) {
            fprintf(stderr, "usage: pd-bench-integrators [SOLVER[:eta=E][:conj_lambda=L]]...\n"
                            "  (solvers: %s; default list: the issue-6 set)\n", pd_solver_names());
            return 2;
        }
        n_solvers++;
    }
    pd_ctx *ctx = pd_ctx_create();
    pd_model *m = NULL;
    const int64_t shape[1] = {1};
    const double w[1] = {1.0}, mu[1] = {MU}, var[1] = {SD * SD};
    for (int k = 0; ctx && k < n_solvers; k++) { /* bad names and parameters are usage errors */
        pd_solver_params p = pd_solver_default_params();
        pd_solver *sv = NULL;
        p.eta = solvers[k].eta;
        p.conj_lambda = solvers[k].lambda;
        if (pd_solver_create(ctx, solvers[k].name, &p, &sv) != PD_OK) {
            fprintf(stderr, "pd-bench-integrators: %s: %s\n", solvers[k].label, pd_ctx_message(ctx));
            pd_ctx_destroy(&ctx);
            return 2;
        }
        pd_solver_destroy(&sv);
    }
    if (!ctx || pd_model_gmm_create(ctx, 1, 1, shape, w, mu, var, 0, &m) != PD_OK ||
        pd_model_reserve(ctx, m, MC_SAMPLES) != PD_OK) {
        fprintf(stderr, "pd-bench-integrators: %s\n", ctx ? pd_ctx_message(ctx) : "out of memory");
        return 1;
    }
    printf("# pd-bench-integrators: N(%g, %g^2), d = 1, float64, exact start; %d trajectories (path_rms), "
           "law exact (tv, kl, var_rel, mean_err); seed %llu\n",
           MU, SD, SAMPLES, (unsigned long long)SEED);
    printf("schedule,solver,N,nfe,metric,value,order\n");
    int fails = 0;
    for (int s = 0; s < N_SCHEDULES; s++)
        for (int k = 0; k < n_solvers; k++) fails += bench_one(ctx, m, &SCHEDULES[s], &solvers[k]);
    pd_model_destroy(&m);
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "pd-bench-integrators: %d failed check(s)\n", fails);
    return fails != 0;
}
