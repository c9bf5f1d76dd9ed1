/* Stochastic samplers (DDPM fixed_small / fixed_large, DDIM eta > 0) on a single Gaussian, float64.
 *
 * Exact law (ALGORITHMS.md §2.1): each step is x' = A x + c + R z_n with z_n the Philox noise keyed by
 * (seed, global sample, step n, PD_RNG_STEP, element). A, c, R are read off one step applied to the
 * states 0, 1, 0, 0 (four samples: four known noise values; the fourth checks the noise keying), then
 * mean and variance propagate exactly, m' = A m + c, V' = A^2 V + R^2, with no Monte-Carlo error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gauss_model.h"
#include "pd_test.h"
#include "pintdiff/rng.h"
#include "pintdiff/solver.h"

enum { SEED = 1234 };

typedef struct step_law {
    double A, c, R;
} step_law;

/* The law of step n; *fails counts a noise-keying mismatch. */
static int step_law_of(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                       step_law *law, int *fails)
{
    const int64_t off = 3;
    pd_state *x = NULL;
    pd_solver_ws *ws = NULL;
    double in[4] = {0, 1, 0, 0}, o[4], z[4];
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 4, 1, off, &x));
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x, in));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, s, x, &ws));
    PD_TEST_CHECK(ctx, pd_solver_step(ctx, s, m, g, n, x, ws));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, o));
    for (int k = 0; k < 4; k++)
        z[k] = pd_rng_normal(SEED, (uint32_t)(off + k), (uint32_t)n, PD_RNG_STEP, 0);
    law->R = (o[0] - o[2]) / (z[0] - z[2]);
    law->c = o[0] - law->R * z[0];
    law->A = o[1] - law->c - law->R * z[1];
    double pred3 = law->c + law->R * z[3];
    if (!(fabs(o[3] - pred3) <= 1e-12 * fmax(1.0, fabs(o[3])))) {
        fprintf(stderr, "FAIL: %s step %d: sample 3 gives %.17g, law predicts %.17g (noise keying)\n",
                pd_solver_get_info(s)->name, n, o[3], pred3);
        (*fails)++;
    }
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&x);
    return 0;
}

typedef struct moments {
    double m, V;      /* propagated */
    double m_ex, V_ex; /* exact marginal at the end point */
    double R_last;    /* noise coefficient of the last step taken */
} moments;

/* Propagate the exact start law (alpha_0 mu, v_0) through steps 0 .. n_end - 1. */
static int propagate(pd_ctx *ctx, const char *name, const pd_solver_params *p, pd_schedule_kind kind,
                     pd_spacing sp, int steps, int n_end_back, double mu, double s, moments *out,
                     int *fails)
{
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL;
    pd_solver *sv = NULL;
    PD_TEST_CHECK(ctx, test_grid(ctx, kind, sp, steps, &sch, &g));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, 1, gauss_plain(mu, s), &m));
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, name, p, &sv));
    const pd_grid_point *p0 = pd_grid_at(g, 0);
    double mm = p0->alpha * mu, V = gauss_var(s, p0), R = 0;
    int n_end = steps - n_end_back;
    for (int n = 0; n < n_end; n++) {
        step_law L;
        if (step_law_of(ctx, sv, m, g, n, &L, fails)) return 1;
        mm = L.A * mm + L.c;
        V = L.A * L.A * V + L.R * L.R;
        R = L.R;
    }
    const pd_grid_point *pe = pd_grid_at(g, n_end);
    *out = (moments){.m = mm, .V = V, .m_ex = pe->alpha * mu, .V_ex = gauss_var(s, pe), .R_last = R};
    pd_solver_destroy(&sv);
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    return 0;
}

static pd_solver_params params_for(int large, double eta)
{
    pd_solver_params p = pd_solver_default_params();
    p.variance_large = large;
    p.eta = eta;
    p.seed = SEED;
    return p;
}

/* fixed_small exact for a point mass, fixed_large exact for N(mu, 1) (§3.1): on vp-linear (the last
 * step ends at t_min, sigma > 0, and adds its noise) and on ddpm-linear up to timestep 0. */
static int test_exactness(pd_ctx *ctx)
{
    static const struct {
        const char *label;
        pd_schedule_kind kind;
        pd_spacing sp;
        int back;
    } grids[] = {
        {"vp-linear logsnr 20", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 0},
        {"vp-linear uniform 20", PD_SCHEDULE_VP_LINEAR, PD_SPACING_UNIFORM, 0},
        {"ddpm-linear linspace 20, at timestep 0", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LINSPACE, 1},
    };
    static const struct {
        const char *label;
        const char *name;
        int large;
        double eta, s;
    } cases[] = {
        {"ddpm fixed_small, point mass s = 1e-6", "ddpm", 0, 0.0, 1e-6},
        {"ddim eta=1, point mass s = 1e-6", "ddim", 0, 1.0, 1e-6},
        {"ddpm fixed_large, N(mu, 1)", "ddpm", 1, 0.0, 1.0},
    };
    int fails = 0;
    char what[256];
    for (size_t gi = 0; gi < sizeof grids / sizeof grids[0]; gi++) {
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            moments mo;
            pd_solver_params p = params_for(cases[ci].large, cases[ci].eta);
            if (propagate(ctx, cases[ci].name, &p, grids[gi].kind, grids[gi].sp, 20, grids[gi].back,
                          0.3, cases[ci].s, &mo, &fails))
                return fails + 1;
            snprintf(what, sizeof what, "%s on %s: variance rel. err", cases[ci].label, grids[gi].label);
            /* point mass with s = 1e-6: exact up to O(s^2 / sigma_min^2) ~ 1e-8 */
            fails += pd_expect_le(fabs(mo.V / mo.V_ex - 1.0), cases[ci].s < 1 ? 1e-6 : 1e-12, what);
            snprintf(what, sizeof what, "%s on %s: mean abs err", cases[ci].label, grids[gi].label);
            fails += pd_expect_le(fabs(mo.m - mo.m_ex), 1e-12, what);
            if (grids[gi].back == 0) {
                snprintf(what, sizeof what, "%s on %s: last step (into sigma > 0) adds noise",
                         cases[ci].label, grids[gi].label);
                fails += pd_expect_true(mo.R_last > 0.0, what);
            }
        }
    }
    /* into sigma = 0: no noise, small or large; the result is the posterior mean */
    for (int large = 0; large <= 1; large++) {
        moments mo;
        pd_solver_params p = params_for(large, 0.0);
        if (propagate(ctx, "ddpm", &p, PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LEADING, 10, 0, 0.3, 0.5,
                      &mo, &fails))
            return fails + 1;
        snprintf(what, sizeof what, "ddpm %s: no noise on the step into sigma = 0",
                 large ? "fixed_large" : "fixed_small");
        fails += pd_expect_true(fabs(mo.R_last) < 1e-15, what);
    }
    return fails;
}

/* DDIM(eta = 1) = DDPM fixed_small (§3.2): the same law step by step. */
static int test_ddim_eta1_is_ddpm(pd_ctx *ctx)
{
    static const struct {
        pd_schedule_kind kind;
        pd_spacing sp;
        int steps;
    } grids[] = {{PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 25},
                 {PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LEADING, 25},
                 {PD_SCHEDULE_DDPM_COSINE, PD_SPACING_TRAILING, 25}};
    int fails = 0;
    double worst = 0;
    for (size_t gi = 0; gi < sizeof grids / sizeof grids[0]; gi++) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_model *m = NULL;
        pd_solver *a = NULL, *b = NULL;
        pd_solver_params pa = params_for(0, 0.0), pb = params_for(0, 1.0);
        PD_TEST_CHECK(ctx, test_grid(ctx, grids[gi].kind, grids[gi].sp, grids[gi].steps, &sch, &g));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, 1, gauss_plain(0.7, 0.5), &m));
        PD_TEST_CHECK(ctx, pd_solver_create(ctx, "ddpm", &pa, &a));
        PD_TEST_CHECK(ctx, pd_solver_create(ctx, "ddim", &pb, &b));
        for (int n = 0; n < grids[gi].steps; n++) {
            step_law la, lb;
            if (step_law_of(ctx, a, m, g, n, &la, &fails) || step_law_of(ctx, b, m, g, n, &lb, &fails))
                return fails + 1;
            double d = fmax(fabs(la.A - lb.A) / fmax(fabs(la.A), 1e-300),
                            fmax(fabs(la.c - lb.c), fabs(la.R - lb.R) / fmax(fabs(la.R), 1e-300)));
            if (la.R == 0.0 && lb.R == 0.0) d = fmax(fabs(la.A - lb.A), fabs(la.c - lb.c));
            if (!(d <= worst)) worst = d;
        }
        pd_solver_destroy(&a);
        pd_solver_destroy(&b);
        pd_model_destroy(&m);
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
    }
    fails += pd_expect_le(worst, 1e-13, "ddim eta=1 = ddpm fixed_small per step (max rel. diff of A, c, R)");
    return fails;
}

/* Variance error of the final law shrinks like 1/N (weak order 1; §10). */
static int test_variance_convergence(pd_ctx *ctx)
{
    static const struct {
        const char *label, *name;
        int large;
        double eta;
    } cases[] = {
        {"ddpm fixed_small", "ddpm", 0, 0.0},
        {"ddpm fixed_large", "ddpm", 1, 0.0},
        {"ddim eta=1", "ddim", 0, 1.0},
        {"ddim eta=0.5", "ddim", 0, 0.5},
    };
    static const struct {
        const char *label;
        pd_schedule_kind kind;
        pd_spacing sp;
        int back;
    } grids[] = {
        {"vp-linear logsnr", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 0},
        {"ddpm-linear linspace (at timestep 0)", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LINSPACE, 1},
    };
    static const int steps[] = {32, 64, 128, 256};
    enum { K = sizeof steps / sizeof steps[0] };
    int fails = 0;
    for (size_t gi = 0; gi < sizeof grids / sizeof grids[0]; gi++) {
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            double ev[K], em[K];
            for (int k = 0; k < K; k++) {
                moments mo;
                pd_solver_params p = params_for(cases[ci].large, cases[ci].eta);
                if (propagate(ctx, cases[ci].name, &p, grids[gi].kind, grids[gi].sp, steps[k],
                              grids[gi].back, 0.7, 0.5, &mo, &fails))
                    return fails + 1;
                ev[k] = fabs(mo.V / mo.V_ex - 1.0);
                em[k] = fabs(mo.m - mo.m_ex);
            }
            char what[320];
            snprintf(what, sizeof what,
                     "%s on %s: variance-error order (rel. var err N=32..256: %.2e %.2e %.2e %.2e; "
                     "mean err %.1e %.1e %.1e %.1e)", cases[ci].label, grids[gi].label, ev[0],
                     ev[1], ev[2], ev[3], em[0], em[1], em[2], em[3]);
            fails += pd_expect_near(test_fit_order(K, steps, ev), 1.0, 0.25, what);
        }
    }
    return fails;
}

/* Monte Carlo: 20000 samples against the propagated law (checks that the noise is standard normal
 * and independent across samples and steps, which the per-step law cannot see). */
static int test_monte_carlo(pd_ctx *ctx)
{
    enum { S = 20000, N = 30 };
    int fails = 0;
    const char *names[2] = {"ddpm", "ddim"};
    const double etas[2] = {0.0, 0.5};
    for (int c = 0; c < 2; c++) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_model *m = NULL;
        pd_state *x = NULL;
        moments mo;
        pd_solver_params p = params_for(0, etas[c]);
        if (propagate(ctx, names[c], &p, PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, N, 0, 0.7, 0.5,
                      &mo, &fails))
            return fails + 1;
        PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, N, &sch, &g));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, 1, gauss_plain(0.7, 0.5), &m));
        PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, 1, 0, &x));
        PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.7, 0.5, 77));
        PD_TEST_CHECK(ctx, test_run(ctx, names[c], &p, m, g, 0, N, x));
        double *h = malloc(S * sizeof *h), sum = 0, sq = 0;
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, h));
        for (int i = 0; i < S; i++) sum += h[i];
        double mean = sum / S;
        for (int i = 0; i < S; i++) sq += (h[i] - mean) * (h[i] - mean);
        double var = sq / (S - 1);
        char what[160];
        snprintf(what, sizeof what, "%s eta=%.1f Monte-Carlo mean vs exact law (4 s.e.)", names[c], etas[c]);
        fails += pd_expect_near(mean, mo.m, 4 * sqrt(mo.V / S), what);
        snprintf(what, sizeof what, "%s eta=%.1f Monte-Carlo variance vs exact law (4 s.e.)", names[c], etas[c]);
        fails += pd_expect_near(var, mo.V, 4 * mo.V * sqrt(2.0 / S), what);
        free(h);
        pd_state_destroy(&x);
        pd_model_destroy(&m);
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
    }
    return fails;
}

int main(void)
{
    pd_ctx *ctx = pd_ctx_create();
    if (!ctx) return 1;
    int fails = 0;
    fails += test_exactness(ctx);
    fails += test_ddim_eta1_is_ddpm(ctx);
    fails += test_variance_convergence(ctx);
    fails += test_monte_carlo(ctx);
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "%d check(s) failed\n", fails);
    return fails ? 1 : 0;
}
