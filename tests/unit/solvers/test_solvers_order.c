/* Deterministic solvers against the closed-form PF-ODE flow of a single Gaussian (ALGORITHMS.md §2.1,
 * §10), in float64: observed orders, the §10 reference errors, exactness for a point mass, the
 * identities DDIM = EDM Euler and DPM++(2M) first order = DDIM, and the last-step rules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gauss_model.h"
#include "pd_test.h"
#include "pintdiff/solver.h"

static const char *const det_solvers[] = {"ddim", "euler", "heun", "dpm-solver-2", "dpmpp-2m"};
#define N_DET ((int)(sizeof det_solvers / sizeof det_solvers[0]))

/* RMS over S x dim elements of (solver result at point n_end) - (closed-form flow from point 0),
 * started from the exact marginal. n_end < 0 means the grid's last point. */
static int run_error(pd_ctx *ctx, const char *name, pd_schedule_kind kind, pd_spacing sp, int steps,
                     int n_end_back, double mu, double s, int64_t S, int64_t dim, double *err)
{
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL;
    pd_state *x = NULL;
    double *x0 = malloc((size_t)(S * dim) * sizeof *x0), *x1 = malloc((size_t)(S * dim) * sizeof *x1);
    PD_TEST_CHECK(ctx, test_grid(ctx, kind, sp, steps, &sch, &g));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, dim, gauss_plain(mu, s), &m));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, dim, 0, &x));
    PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, mu, s, 11));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, x0));
    int n_end = pd_grid_steps(g) - n_end_back;
    pd_solver_params p = pd_solver_default_params();
    PD_TEST_CHECK(ctx, test_run(ctx, name, &p, m, g, 0, n_end, x));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, x1));
    double sum = 0;
    for (int64_t i = 0; i < S * dim; i++) {
        double d = x1[i] - gauss_flow(mu, s, pd_grid_at(g, 0), pd_grid_at(g, n_end), x0[i]);
        sum += d * d;
    }
    *err = sqrt(sum / (double)(S * dim));
    free(x0);
    free(x1);
    pd_state_destroy(&x);
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    return 0;
}

/* §10: vp-linear, N(0.7, 0.5^2), x = 1.3 at t = 1, uniform-lambda grid, N = 16 / 64 / 256. */
static double ref_err(pd_ctx *ctx, const char *name, int steps, int *fails)
{
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL;
    pd_state *x = NULL;
    double v = 1.3, e = NAN;
    if (test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, steps, &sch, &g) != PD_OK ||
        gauss_model_create(ctx, 1, gauss_plain(0.7, 0.5), &m) != PD_OK ||
        pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 1, 1, 0, &x) != PD_OK ||
        pd_state_write_f64(ctx, x, &v) != PD_OK ||
        test_run(ctx, name, NULL, m, g, 0, steps, x) != PD_OK || pd_state_read_f64(ctx, x, &v) != PD_OK) {
        fprintf(stderr, "FAIL: %s N=%d: %s\n", name, steps, pd_ctx_message(ctx));
        (*fails)++;
    } else {
        e = fabs(v - gauss_flow(0.7, 0.5, pd_grid_at(g, 0), pd_grid_at(g, steps), 1.3));
    }
    pd_state_destroy(&x);
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    return e;
}

static int test_reference_table(pd_ctx *ctx)
{
    /* the figures of ALGORITHMS.md §10 (two significant digits) */
    static const struct { const char *name; double e[3]; } ref[] = {
        {"ddim", {9.0e-2, 2.4e-2, 6.0e-3}},     {"euler", {9.0e-2, 2.4e-2, 6.0e-3}},
        {"heun", {3.4e-2, 1.9e-3, 1.1e-4}},     {"dpm-solver-2", {1.6e-2, 9.3e-4, 5.7e-5}},
        {"dpmpp-2m", {1.2e-2, 9.0e-4, 5.7e-5}},
    };
    static const int steps[3] = {16, 64, 256};
    int fails = 0;
    printf("ALGORITHMS.md §10 reference (vp-linear, logsnr, N(0.7, 0.25), x = 1.3):\n");
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        for (int j = 0; j < 3; j++) {
            double e = ref_err(ctx, ref[i].name, steps[j], &fails);
            char what[128];
            snprintf(what, sizeof what, "%s N=%d error %.3e vs §10 %.1e (log10 ratio)", ref[i].name,
                     steps[j], e, ref[i].e[j]);
            /* the table has two digits: within 10 % */
            fails += pd_expect_near(log10(e / ref[i].e[j]), 0.0, log10(1.1), what);
        }
    }
    return fails;
}

typedef struct order_case {
    const char *label;
    pd_schedule_kind kind;
    pd_spacing sp;
    int n_end_back; /* compare at point N - n_end_back (1: before the jump into sigma = 0) */
} order_case;

static int test_orders(pd_ctx *ctx)
{
    static const order_case cases[] = {
        {"vp-linear logsnr", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 0},
        {"vp-linear uniform", PD_SCHEDULE_VP_LINEAR, PD_SPACING_UNIFORM, 0},
        /* the last step (timestep 0 -> -1) has a fixed length whatever N: compare at timestep 0 */
        {"ddpm-linear linspace", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LINSPACE, 1},
    };
    static const int steps[] = {32, 64, 128, 256};
    enum { K = sizeof steps / sizeof steps[0] };
    int fails = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < N_DET; i++) {
            double err[K];
            for (int k = 0; k < K; k++)
                if (run_error(ctx, det_solvers[i], cases[c].kind, cases[c].sp, steps[k],
                              cases[c].n_end_back, 0.7, 0.5, 8, 2, &err[k]))
                    return fails + 1;
            double slope = test_fit_order(K, steps, err);
            int order = pd_solver_find(det_solvers[i])->order;
            char what[256];
            snprintf(what, sizeof what, "%s, %s: order (errors N=32..256: %.2e %.2e %.2e %.2e)",
                     det_solvers[i], cases[c].label, err[0], err[1], err[2], err[3]);
            fails += pd_expect_near(slope, order, 0.25, what);
        }
    }
    return fails;
}

/* Run solver `name` over the whole grid from the same start; out = result [S * dim]. */
static int run_full(pd_ctx *ctx, const char *name, const pd_solver_params *p, pd_model *m,
                    const pd_grid *g, const double *start, int64_t S, int64_t dim, double *out)
{
    pd_state *x = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, dim, 0, &x));
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x, start));
    PD_TEST_CHECK(ctx, test_run(ctx, name, p, m, g, 0, pd_grid_steps(g), x));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, out));
    pd_state_destroy(&x);
    return 0;
}

static double max_rel_diff(const double *a, const double *b, int64_t n)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(1.0, fabs(b[i]));
        if (!(d <= w)) w = d; /* NaN propagates as a failure */
    }
    return w;
}

typedef struct grid_case {
    const char *label;
    pd_schedule_kind kind;
    pd_spacing sp;
    int steps;
} grid_case;

static const grid_case id_grids[] = {
    {"vp-linear logsnr 50", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 50},
    {"vp-linear karras 20", PD_SCHEDULE_VP_LINEAR, PD_SPACING_KARRAS, 20},
    {"ddpm-linear leading 20 (into sigma = 0)", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LEADING, 20},
    {"ddpm-cosine trailing 12 (into sigma = 0)", PD_SCHEDULE_DDPM_COSINE, PD_SPACING_TRAILING, 12},
    {"edm karras 18 (into sigma~ = 0)", PD_SCHEDULE_EDM, PD_SPACING_KARRAS, 18},
};
#define N_ID_GRIDS ((int)(sizeof id_grids / sizeof id_grids[0]))

/* DDIM = EDM Euler (§3.3); point mass: every deterministic solver is exact (§2.1); the last-step rules
 * into sigma = 0 return x0_hat(x_{N-1}) (§1.6). */
static int test_identities(pd_ctx *ctx)
{
    enum { S = 6, D = 2 };
    int fails = 0;
    for (int c = 0; c < N_ID_GRIDS; c++) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_model *m = NULL, *pm = NULL;
        pd_state *x = NULL;
        double start[S * D], a[S * D], b[S * D];
        char what[256];
        const grid_case *gc = &id_grids[c];
        PD_TEST_CHECK(ctx, test_grid(ctx, gc->kind, gc->sp, gc->steps, &sch, &g));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, gauss_plain(0.7, 0.5), &m));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, gauss_plain(-0.4, 0.0), &pm));
        PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, 0, &x));
        PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.7, 0.5, 5));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, start));

        if (run_full(ctx, "ddim", NULL, m, g, start, S, D, a) ||
            run_full(ctx, "euler", NULL, m, g, start, S, D, b))
            return fails + 1;
        snprintf(what, sizeof what, "ddim = euler on %s (max rel. diff)", gc->label);
        fails += pd_expect_le(max_rel_diff(a, b, S * D), 1e-12, what);

        /* point mass at -0.4: the exact flow is x_u = alpha_u mu + (sigma_u/sigma_t)(x - alpha_t mu) */
        for (int i = 0; i < N_DET; i++) {
            if (run_full(ctx, det_solvers[i], NULL, pm, g, start, S, D, a)) return fails + 1;
            for (int j = 0; j < S * D; j++)
                b[j] = gauss_flow(-0.4, 0.0, pd_grid_at(g, 0), pd_grid_at(g, gc->steps), start[j]);
            snprintf(what, sizeof what, "%s exact for a point mass on %s (max rel. err)",
                     det_solvers[i], gc->label);
            fails += pd_expect_le(max_rel_diff(a, b, S * D), 1e-12, what);
        }

        /* last-step rule: into sigma = 0 the result is x0_hat(x_{N-1}, t_{N-1}), bitwise */
        if (pd_grid_at(g, gc->steps)->sigma == 0.0) {
            for (int i = 0; i < N_DET; i++) {
                PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x, start));
                PD_TEST_CHECK(ctx, test_run(ctx, det_solvers[i], NULL, m, g, 0, gc->steps - 1, x));
                pd_state *d = NULL;
                PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x, &d));
                PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, x, pd_grid_at(g, gc->steps - 1), d));
                PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, d, b));
                pd_state_destroy(&d);
                pd_model_reset_nfe(m);
                pd_solver *s = NULL;
                pd_solver_ws *ws = NULL;
                PD_TEST_CHECK(ctx, pd_solver_create(ctx, det_solvers[i], NULL, &s));
                PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, s, x, &ws));
                PD_TEST_CHECK(ctx, pd_solver_step(ctx, s, m, g, gc->steps - 1, x, ws));
                PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, a));
                snprintf(what, sizeof what, "%s last step into sigma = 0 on %s is x0_hat, 1 NFE",
                         det_solvers[i], gc->label);
                fails += pd_expect_true(memcmp(a, b, sizeof a) == 0 && pd_model_nfe(m) == 1, what);
                pd_solver_ws_destroy(&ws);
                pd_solver_destroy(&s);
            }
        }
        pd_state_destroy(&x);
        pd_model_destroy(&m);
        pd_model_destroy(&pm);
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
    }
    return fails;
}

/* DPM-Solver++(2M): a first-order step is DDIM (N = 1); lower_order_final on a run of < 15 steps
 * makes the last step first order, i.e. steps 0..N-2 of dpmpp-2m then one DDIM step. */
static int test_dpmpp_rules(pd_ctx *ctx)
{
    enum { S = 4, D = 3, N = 10 };
    int fails = 0;
    pd_schedule *sch = NULL;
    pd_grid *g = NULL, *g1 = NULL;
    pd_model *m = NULL;
    pd_state *x = NULL;
    double start[S * D], a[S * D], b[S * D], c[S * D];
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, N, &sch, &g));
    PD_TEST_CHECK(ctx, pd_grid_create(ctx, sch, PD_SPACING_LOGSNR, 1, 0, &g1));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, gauss_plain(0.7, 0.5), &m));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, 0, &x));
    PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.7, 0.5, 9));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, start));

    if (run_full(ctx, "dpmpp-2m", NULL, m, g1, start, S, D, a) ||
        run_full(ctx, "ddim", NULL, m, g1, start, S, D, b))
        return 1;
    fails += pd_expect_le(max_rel_diff(a, b, S * D), 1e-14, "dpmpp-2m N=1 = ddim N=1");

    pd_solver_params lof = pd_solver_default_params(), no_lof = lof;
    no_lof.lower_order_final = 0;
    if (run_full(ctx, "dpmpp-2m", &lof, m, g, start, S, D, a) ||
        run_full(ctx, "dpmpp-2m", &no_lof, m, g, start, S, D, c))
        return 1;
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x, start));
    PD_TEST_CHECK(ctx, test_run(ctx, "dpmpp-2m", NULL, m, g, 0, N - 1, x));
    PD_TEST_CHECK(ctx, test_run(ctx, "ddim", NULL, m, g, N - 1, N, x));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, b));
    fails += pd_expect_le(max_rel_diff(a, b, S * D), 1e-14,
                          "dpmpp-2m N=10 lower_order_final: last step = ddim");
    fails += pd_expect_true(max_rel_diff(a, c, S * D) > 1e-6,
                            "dpmpp-2m N=10 without lower_order_final differs");
    pd_state_destroy(&x);
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_grid_destroy(&g1);
    pd_schedule_destroy(&sch);
    return fails;
}

/* float32 states: every solver (lincomb in double per element, rounded once) stays within float32
 * round-off of the float64 run, also on ddpm-cosine where alpha_0 ~ 5e-5 (§10 pitfalls). */
static int test_float32(pd_ctx *ctx)
{
    enum { S = 16, D = 4, N = 30 };
    static const pd_schedule_kind kinds[] = {PD_SCHEDULE_VP_LINEAR, PD_SCHEDULE_DDPM_COSINE};
    int fails = 0;
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_model *m = NULL;
        pd_state *x64 = NULL, *x32 = NULL;
        PD_TEST_CHECK(ctx, test_grid(ctx, kinds[ki], PD_SPACING_UNIFORM, N, &sch, &g));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, gauss_plain(0.7, 0.5), &m));
        PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, 0, &x64));
        PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, PD_DEVICE_CPU, S, D, 0, &x32));
        for (int i = 0; i < pd_solver_count(); i++) {
            const char *name = pd_solver_info_at(i)->name;
            if (pd_solver_info_at(i)->augmented) continue; /* psld samplers: test_solvers_psld */
            double a[S * D], b[S * D];
            pd_solver_params p = pd_solver_default_params();
            p.seed = 8;
            PD_TEST_CHECK(ctx, test_start_exact(ctx, x64, g, 0.7, 0.5, 6));
            PD_TEST_CHECK(ctx, pd_state_copy(ctx, x32, x64));
            PD_TEST_CHECK(ctx, pd_state_copy(ctx, x64, x32)); /* the same rounded start */
            PD_TEST_CHECK(ctx, test_run(ctx, name, &p, m, g, 0, N, x64));
            PD_TEST_CHECK(ctx, test_run(ctx, name, &p, m, g, 0, N, x32));
            PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x64, a));
            PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x32, b));
            char what[160];
            snprintf(what, sizeof what, "%s float32 vs float64 on %s (max rel. diff)", name,
                     pd_schedule_kind_name(kinds[ki]));
            fails += pd_expect_le(max_rel_diff(b, a, S * D), 2e-6, what);
        }
        pd_state_destroy(&x64);
        pd_state_destroy(&x32);
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
    fails += test_reference_table(ctx);
    fails += test_orders(ctx);
    fails += test_identities(ctx);
    fails += test_dpmpp_rules(ctx);
    fails += test_float32(ctx);
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "%d check(s) failed\n", fails);
    return fails ? 1 : 0;
}
