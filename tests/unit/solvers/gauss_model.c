/* The single-Gaussian reference model and helpers of the solver tests (see gauss_model.h). */
#include "gauss_model.h"

#include <math.h>
#include <stdlib.h>

typedef struct gauss_self {
    gauss_spec spec;
    int64_t dim;
} gauss_self;

double gauss_var(double s, const pd_grid_point *p)
{
    return p->alpha * p->alpha * s * s + p->sigma * p->sigma;
}

double gauss_flow(double mu, double s, const pd_grid_point *from, const pd_grid_point *to, double x)
{
    return to->alpha * mu + sqrt(gauss_var(s, to) / gauss_var(s, from)) * (x - from->alpha * mu);
}

/* x0_hat = mu + (alpha s^2 / v)(x - alpha mu), ALGORITHMS.md §2.1; rows of group j at p[j] */
static pd_status gauss_eval(void *self, pd_ctx *ctx, const pd_state *x, int n_groups, const pd_grid_point *pts,
                            pd_state *out)
{
    const gauss_self *g = self;
    if (pd_state_device(x) != PD_DEVICE_CPU || pd_state_device(out) != PD_DEVICE_CPU)
        PD_FAIL(ctx, PD_ERR_INPUT, "gauss test model: CPU states only");
    int64_t n = pd_state_n_samples(x), dim = pd_state_dim(x), off = pd_state_offset(x), rows = n / n_groups;
    int f64 = pd_state_dtype(x) == PD_F64;
    for (int64_t i = 0; i < n * dim; i++) {
        const pd_grid_point *p = &pts[i / dim / rows];
        double mu = g->spec.mu, s2 = g->spec.s * g->spec.s, v = gauss_var(g->spec.s, p);
        double k = p->alpha * s2 / v;
        double xi = f64 ? ((const double *)pd_state_cdata(x))[i] : ((const float *)pd_state_cdata(x))[i];
        double r = mu + k * (xi - p->alpha * mu);
        if (g->spec.nan_sample >= 0 && off + (i / dim) % rows == g->spec.nan_sample &&
            i % dim == g->spec.nan_elem && p->t < g->spec.nan_below_t)
            r = NAN;
        if (pd_state_dtype(out) == PD_F64) ((double *)pd_state_data(out))[i] = r;
        else ((float *)pd_state_data(out))[i] = (float)r;
    }
    return PD_OK;
}

static void gauss_destroy(void *self) { free(self); }

static const pd_model_ops gauss_ops = {.name = "gauss-test", .eval = gauss_eval,
                                       .destroy = gauss_destroy};

pd_status gauss_model_create(pd_ctx *ctx, int64_t dim, gauss_spec spec, pd_model **out)
{
    gauss_self *g = calloc(1, sizeof *g);
    if (!g) PD_FAIL(ctx, PD_ERR_NOMEM, "gauss test model");
    g->spec = spec;
    g->dim = dim;
    return pd_model_create(ctx, &gauss_ops, g, 1, &dim, out);
}

pd_status test_grid(pd_ctx *ctx, pd_schedule_kind kind, pd_spacing sp, int steps,
                    pd_schedule **sched, pd_grid **grid)
{
    *sched = NULL;
    *grid = NULL;
    pd_schedule_params sp_ = pd_schedule_defaults(kind);
    PD_TRY(pd_schedule_create(ctx, &sp_, sched));
    pd_status st = pd_grid_create(ctx, *sched, sp, steps, 0, grid);
    if (st != PD_OK) pd_schedule_destroy(sched);
    return st;
}

pd_status test_start_exact(pd_ctx *ctx, pd_state *x, const pd_grid *g, double mu, double s,
                           uint64_t seed)
{
    const pd_grid_point *p0 = pd_grid_at(g, 0);
    PD_TRY(pd_state_fill_normal(ctx, x, seed, 0, PD_RNG_START));
    int64_t len = pd_state_n_samples(x) * pd_state_dim(x);
    double *h = malloc((size_t)len * sizeof *h);
    if (!h) PD_FAIL(ctx, PD_ERR_NOMEM, "test_start_exact");
    pd_status st = pd_state_read_f64(ctx, x, h);
    for (int64_t i = 0; st == PD_OK && i < len; i++)
        h[i] = p0->alpha * mu + sqrt(gauss_var(s, p0)) * h[i];
    if (st == PD_OK) st = pd_state_write_f64(ctx, x, h);
    free(h);
    return st;
}

pd_status test_run(pd_ctx *ctx, const char *name, const pd_solver_params *p, pd_model *m,
                   const pd_grid *g, int n_begin, int n_end, pd_state *x)
{
    pd_solver *s = NULL;
    pd_solver_ws *ws = NULL;
    pd_status st = PD_OK;
    PD_TRY_GOTO(pd_solver_create(ctx, name, p, &s));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, s, x, &ws));
    PD_TRY_GOTO(pd_solver_run(ctx, s, m, g, n_begin, n_end, x, ws));
done:
    pd_solver_ws_destroy(&ws);
    pd_solver_destroy(&s);
    return st;
}

double test_fit_order(int k, const int *steps, const double *err)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < k; i++) {
        double a = log2((double)steps[i]), b = log2(err[i]);
        sx += a;
        sy += b;
        sxx += a * a;
        sxy += a * b;
    }
    return -(k * sxy - sx * sy) / (k * sxx - sx * sx);
}
