/* All solvers on the 8-component 2-D mixture (ring of radius 4, sigma_k = 0.3, equal weights; the
 * analytic gmm model) at 100 steps against exact samples (ALGORITHMS.md §2.4): sliced W2 to 20000
 * exact draws and the occupancy TV, each beside its floor (the same metric for an independent exact
 * set of the same size: 0.097 and 0.011 here). Tolerances: SW2 <= 1.25 floor + 0.005 (deterministic),
 * <= 2 floor + 0.01 (stochastic); TV <= 2 floor + 0.01. Seeds are fixed, so the test is deterministic.
 * Also: a one-component gmm equals the test's closed-form Gaussian model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/metrics.h"
#include "gauss_model.h"
#include "pd_test.h"
#include "pintdiff/solver.h"

enum { K = 8, D = 2, NS = 4000, NREF = 20000, STEPS = 100 };
static const double pd_pi = 3.14159265358979323846;
static const int64_t shape[1] = {D};

typedef struct ring {
    double w[K], mu[K * D], var[K];
} ring;

static ring ring_make(void)
{
    ring r;
    for (int k = 0; k < K; k++) {
        r.w[k] = 1.0 / K;
        r.mu[2 * k] = 4.0 * cos(2.0 * pd_pi * k / K);
        r.mu[2 * k + 1] = 4.0 * sin(2.0 * pd_pi * k / K);
        r.var[k] = 0.09;
    }
    return r;
}

/* out [n * D] = alpha x0 + sigma z: exact samples of the marginal at p (x0 from the model's
 * sample_exact with seed, z from PD_RNG_START with seed + 1), samples keyed from offset. */
static int exact_marginal(pd_ctx *ctx, pd_model *m, const pd_grid_point *p, int64_t n, int64_t off,
                          uint64_t seed, pd_state *x_out, double *out)
{
    pd_state *x0 = NULL, *z = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, n, D, off, &x0));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x0, &z));
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, seed, x0));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, z, seed + 1, 0, PD_RNG_START));
    const double c[2] = {p->alpha, p->sigma};
    const pd_state *v[2] = {x0, z};
    PD_TEST_CHECK(ctx, pd_state_lincomb(ctx, x0, 2, c, v, NULL));
    if (x_out) PD_TEST_CHECK(ctx, pd_state_copy(ctx, x_out, x0));
    if (out) PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x0, out));
    pd_state_destroy(&x0);
    pd_state_destroy(&z);
    return 0;
}

/* SW2 to the reference and occupancy TV for the components at the end point p */
static int metrics(pd_ctx *ctx, const ring *r, const pd_grid_point *p, const double *x,
                   const double *ref, double *sw2, double *tv)
{
    double mu[K * D], var[K];
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < D; i++) mu[k * D + i] = p->alpha * r->mu[k * D + i];
        var[k] = p->alpha * p->alpha * r->var[k] + p->sigma * p->sigma;
    }
    PD_TEST_CHECK(ctx, pd_metrics_sw2(ctx, x, NS, ref, NREF, D, PD_METRICS_SW2_DIRS, PD_METRICS_SEED, sw2));
    PD_TEST_CHECK(ctx, pd_metrics_gmm_occupancy(ctx, x, NS, D, K, r->w, mu, var, 0, tv, NULL));
    return 0;
}

static int test_ring(pd_ctx *ctx)
{
    static const struct {
        const char *label;
        pd_schedule_kind kind;
        pd_spacing sp;
    } grids[] = {
        {"vp-linear logsnr", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR},
        {"ddpm-linear leading", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LEADING},
    };
    static const struct {
        const char *label, *name;
        double eta;
        int large;
    } solvers[] = {
        /* euler (= ddim) and ddim eta = 1 (= ddpm fixed_small) are covered by the identity tests */
        {"ddpm (fixed_small)", "ddpm", 0, 0}, {"ddpm (fixed_large)", "ddpm", 0, 1},
        {"ddim", "ddim", 0, 0},               {"ddim (eta = 0.5)", "ddim", 0.5, 0},
        {"heun", "heun", 0, 0},               {"dpm-solver-2", "dpm-solver-2", 0, 0},
        {"dpmpp-2m", "dpmpp-2m", 0, 0},
    };
    int fails = 0;
    ring r = ring_make();
    double *ref = malloc(NREF * D * sizeof *ref), *y = malloc(NS * D * sizeof *y);
    pd_model *m = NULL;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, r.w, r.mu, r.var, 0, &m));
    for (size_t gi = 0; gi < sizeof grids / sizeof grids[0]; gi++) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_state *x = NULL, *x_start = NULL;
        PD_TEST_CHECK(ctx, test_grid(ctx, grids[gi].kind, grids[gi].sp, STEPS, &sch, &g));
        const pd_grid_point *pN = pd_grid_at(g, STEPS);
        /* reference: 20000 exact draws at the end point; floor: an independent set of NS */
        if (exact_marginal(ctx, m, pN, NREF, 0, 100, NULL, ref) ||
            exact_marginal(ctx, m, pN, NS, NREF, 100, NULL, y))
            return fails + 1;
        double sw_floor, tv_floor;
        if (metrics(ctx, &r, pN, y, ref, &sw_floor, &tv_floor)) return fails + 1;
        printf("%s, %d steps: floor SW2 %.4f, occupancy TV %.4f (%d vs %d exact samples)\n",
               grids[gi].label, STEPS, sw_floor, tv_floor, NS, NREF);
        /* the solvers start from the exact marginal at t_0 (another independent set) */
        PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, NS, D, 0, &x_start));
        PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x_start, &x));
        if (exact_marginal(ctx, m, pd_grid_at(g, 0), NS, 0, 200, x_start, NULL)) return fails + 1;
        for (size_t si = 0; si < sizeof solvers / sizeof solvers[0]; si++) {
            pd_solver_params p = pd_solver_default_params();
            p.eta = solvers[si].eta;
            p.variance_large = solvers[si].large;
            p.seed = 300;
            PD_TEST_CHECK(ctx, pd_state_copy(ctx, x, x_start));
            PD_TEST_CHECK(ctx, test_run(ctx, solvers[si].name, &p, m, g, 0, STEPS, x));
            PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, y));
            double sw, tv;
            if (metrics(ctx, &r, pN, y, ref, &sw, &tv)) return fails + 1;
            char what[200];
            /* Tolerances against the floor (measured: deterministic solvers 1.06-1.10 x floor; the
             * stochastic ones 1.3-1.75 x, their weak-order-1 variance bias at 100 steps). */
            int stoch = strcmp(solvers[si].name, "ddpm") == 0 || solvers[si].eta > 0;
            double sw_tol = stoch ? 2.0 * sw_floor + 0.01 : 1.25 * sw_floor + 0.005;
            snprintf(what, sizeof what, "%s on %s: SW2 (floor %.4f)", solvers[si].label,
                     grids[gi].label, sw_floor);
            fails += pd_expect_le(sw, sw_tol, what);
            snprintf(what, sizeof what, "%s on %s: occupancy TV (floor %.4f)", solvers[si].label,
                     grids[gi].label, tv_floor);
            fails += pd_expect_le(tv, 2.0 * tv_floor + 0.01, what);
        }
        pd_state_destroy(&x);
        pd_state_destroy(&x_start);
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
    }
    pd_model_destroy(&m);
    free(ref);
    free(y);
    return fails;
}

/* A one-component gmm gives the closed-form Gaussian x0_hat of the test model (§2.1). */
static int test_gmm_is_gauss(pd_ctx *ctx)
{
    enum { S = 7, DIM = 3 };
    const int64_t shp[1] = {DIM};
    const double w = 1.0, mu[DIM] = {0.7, 0.7, 0.7}, var = 0.25;
    pd_model *gm = NULL, *ga = NULL;
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_state *x = NULL, *a = NULL, *b = NULL;
    double worst = 0;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 1, 1, shp, &w, mu, &var, 0, &gm));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, DIM, gauss_plain(0.7, 0.5), &ga));
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 10, &sch, &g));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, DIM, 0, &x));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x, &a));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x, &b));
    for (int n = 0; n < 10; n++) {
        double ha[S * DIM], hb[S * DIM];
        PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.7, 0.5, (uint64_t)n));
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, gm, x, pd_grid_at(g, n), a));
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, ga, x, pd_grid_at(g, n), b));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, a, ha));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, b, hb));
        for (int i = 0; i < S * DIM; i++) worst = fmax(worst, fabs(ha[i] - hb[i]) / fmax(1.0, fabs(hb[i])));
    }
    int fails = pd_expect_le(worst, 1e-13, "one-component gmm x0_hat = closed-form Gaussian");
    pd_state_destroy(&x);
    pd_state_destroy(&a);
    pd_state_destroy(&b);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    pd_model_destroy(&gm);
    pd_model_destroy(&ga);
    return fails;
}

int main(void)
{
    pd_ctx *ctx = pd_ctx_create();
    if (!ctx) return 1;
    int fails = 0;
    fails += test_gmm_is_gauss(ctx);
    fails += test_ring(ctx);
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "%d check(s) failed\n", fails);
    return fails ? 1 : 0;
}
