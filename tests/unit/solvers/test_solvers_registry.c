/* The solver registry and the contracts around a step: names and errors, parameter checks, NFE per
 * run, reproducible noise keyed by global sample (a batch slice equals the big batch's rows, bitwise),
 * NaN detection naming the step, multistep history carried between workspaces (ALGORITHMS.md §7.2a). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gauss_model.h"
#include "pd_test.h"
#include "pintdiff/solver.h"

static int test_registry(pd_ctx *ctx)
{
    int fails = 0;
    char joined[512] = "";
    fails += pd_expect_true(pd_solver_count() >= 6, "at least the six sequential solvers");
    for (int i = 0; i < pd_solver_count(); i++) {
        const pd_solver_info *in = pd_solver_info_at(i);
        if (i) strcat(joined, ", ");
        strcat(joined, in->name);
        fails += pd_expect_true(pd_solver_find(in->name) == in, "pd_solver_find finds each row");
        fails += pd_expect_true(in->order >= 1 && in->nfe_per_step >= 1 && in->summary && in->summary[0],
                                "row has order, NFE/step and a summary");
    }
    fails += pd_expect_true(pd_solver_info_at(pd_solver_count()) == NULL, "info_at past the end is NULL");
    fails += pd_expect_true(pd_solver_find("no-such") == NULL, "unknown name not found");
    if (strcmp(joined, pd_solver_names()) != 0) {
        fprintf(stderr, "FAIL: pd_solver_names() = \"%s\", the table gives \"%s\" (update "
                "pd_solver_name_list in src/solvers/registry.c)\n", pd_solver_names(), joined);
        fails++;
    }

    /* §11 table */
    static const struct { const char *name; int order, nfe, stoch, multi; } want[] = {
        {"ddpm", 1, 1, 1, 0},  {"ddim", 1, 1, 0, 0},         {"euler", 1, 1, 0, 0},
        {"heun", 2, 2, 0, 0},  {"dpm-solver-2", 2, 2, 0, 0}, {"dpmpp-2m", 2, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const pd_solver_info *in = pd_solver_find(want[i].name);
        char what[128];
        snprintf(what, sizeof what, "%s: order/NFE/stochastic/multistep as ALGORITHMS.md §11", want[i].name);
        fails += pd_expect_true(in && in->order == want[i].order && in->nfe_per_step == want[i].nfe &&
                                    in->stochastic == want[i].stoch && in->multistep == want[i].multi,
                                what);
    }

    /* unknown name: PD_ERR_INPUT listing the known ones */
    pd_solver *s = NULL;
    pd_ctx_clear(ctx);
    pd_status st = pd_solver_create(ctx, "dpm-solver-3", NULL, &s);
    fails += pd_expect_true(st == PD_ERR_INPUT && s == NULL, "unknown solver -> PD_ERR_INPUT");
    fails += pd_expect_contains(pd_ctx_message(ctx), "dpm-solver-3", "message names the unknown solver");
    for (int i = 0; i < pd_solver_count(); i++)
        fails += pd_expect_contains(pd_ctx_message(ctx), pd_solver_info_at(i)->name,
                                    "message lists the known solvers");
    printf("message: %s\n", pd_ctx_message(ctx));

    /* parameter checks */
    pd_solver_params p = pd_solver_default_params();
    fails += pd_expect_true(p.eta == 0.0 && p.variance_large == 0 && p.lower_order_final == 1,
                            "defaults: eta 0, fixed_small, lower_order_final");
    p.eta = 1.5;
    pd_ctx_clear(ctx);
    fails += pd_expect_true(pd_solver_create(ctx, "ddim", &p, &s) == PD_ERR_INPUT, "eta = 1.5 rejected");
    fails += pd_expect_contains(pd_ctx_message(ctx), "eta", "message names eta");
    p.eta = NAN;
    fails += pd_expect_true(pd_solver_create(ctx, "ddim", &p, &s) == PD_ERR_INPUT, "eta = NaN rejected");
    p = pd_solver_default_params();
    p.variance_large = 2;
    fails += pd_expect_true(pd_solver_create(ctx, "ddpm", &p, &s) == PD_ERR_INPUT,
                            "variance_large = 2 rejected");
    pd_ctx_clear(ctx);

    /* stochastic flag with parameters */
    p = pd_solver_default_params();
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "ddim", &p, &s));
    fails += pd_expect_true(!pd_solver_is_stochastic(s), "ddim eta=0 deterministic");
    pd_solver_destroy(&s);
    p.eta = 0.3;
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "ddim", &p, &s));
    fails += pd_expect_true(pd_solver_is_stochastic(s), "ddim eta>0 stochastic");
    pd_solver_destroy(&s);
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "ddpm", NULL, &s));
    fails += pd_expect_true(pd_solver_is_stochastic(s), "ddpm stochastic");
    pd_solver_destroy(&s);
    fails += pd_expect_true(s == NULL, "destroy leaves NULL");
    pd_solver_destroy(&s); /* NULL accepted */
    return fails;
}

/* NFE per run = the table: N * nfe/step, minus (nfe/step - 1) when the grid ends at sigma = 0. */
static int test_nfe(pd_ctx *ctx)
{
    enum { N = 12, S = 3, D = 2 };
    static const struct { const char *label; pd_schedule_kind kind; pd_spacing sp; } grids[] = {
        {"ddpm-linear leading (into sigma = 0)", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LEADING},
        {"vp-linear logsnr (ends at t_min)", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR},
    };
    int fails = 0;
    for (size_t gi = 0; gi < sizeof grids / sizeof grids[0]; gi++) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_model *m = NULL;
        pd_state *x = NULL;
        PD_TEST_CHECK(ctx, test_grid(ctx, grids[gi].kind, grids[gi].sp, N, &sch, &g));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, gauss_plain(0.2, 0.8), &m));
        PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, 0, &x));
        int into_clean = pd_grid_at(g, N)->sigma == 0.0;
        for (int i = 0; i < pd_solver_count(); i++) {
            const pd_solver_info *in = pd_solver_info_at(i);
            if (in->augmented) continue; /* psld samplers: test_solvers_psld */
            PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.2, 0.8, 1));
            pd_model_reset_nfe(m);
            PD_TEST_CHECK(ctx, test_run(ctx, in->name, NULL, m, g, 0, N, x));
            int64_t want = (int64_t)N * in->nfe_per_step - (into_clean ? in->nfe_per_step - 1 : 0);
            char what[160];
            snprintf(what, sizeof what, "%s NFE for %d steps on %s", in->name, N, grids[gi].label);
            fails += pd_expect_near((double)pd_model_nfe(m), (double)want, 0.0, what);
        }
        pd_state_destroy(&x);
        pd_model_destroy(&m);
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
    }
    return fails;
}

/* Run `name` on S samples (global offset off) started from the exact marginal; out [S * D]. */
static int run_batch(pd_ctx *ctx, const char *name, const pd_solver_params *p, pd_model *m,
                     const pd_grid *g, int64_t S, int64_t D, int64_t off, double *out)
{
    pd_state *x = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, off, &x));
    PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.2, 0.8, 3));
    PD_TEST_CHECK(ctx, test_run(ctx, name, p, m, g, 0, pd_grid_steps(g), x));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, out));
    pd_state_destroy(&x);
    return 0;
}

/* Same seed: identical; another seed: different; samples 4..7 run alone (offset 4) = rows 4..7 of an
 * 8-sample batch, bitwise. */
static int test_noise_reproducible(pd_ctx *ctx)
{
    enum { N = 20, S = 8, D = 3 };
    static const struct { const char *name; double eta; int large; pd_schedule_kind kind; } cases[] = {
        {"ddpm", 0.0, 0, PD_SCHEDULE_VP_LINEAR},
        {"ddpm", 0.0, 1, PD_SCHEDULE_DDPM_LINEAR},
        {"ddim", 0.5, 0, PD_SCHEDULE_DDPM_COSINE},
        {"heun", 0.0, 0, PD_SCHEDULE_VP_LINEAR},
        {"dpmpp-2m", 0.0, 0, PD_SCHEDULE_DDPM_LINEAR},
    };
    int fails = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_model *m = NULL;
        double a[S * D], b[S * D], half[S / 2 * D], other[S * D];
        pd_solver_params p = pd_solver_default_params();
        p.eta = cases[c].eta;
        p.variance_large = cases[c].large;
        p.seed = 0x9e3779b97f4a7c15ull;
        PD_TEST_CHECK(ctx, test_grid(ctx, cases[c].kind, PD_SPACING_UNIFORM, N, &sch, &g));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, gauss_plain(0.2, 0.8), &m));
        if (run_batch(ctx, cases[c].name, &p, m, g, S, D, 0, a) ||
            run_batch(ctx, cases[c].name, &p, m, g, S, D, 0, b) ||
            run_batch(ctx, cases[c].name, &p, m, g, S / 2, D, S / 2, half))
            return fails + 1;
        char what[160];
        snprintf(what, sizeof what, "%s (eta %.1f, large %d): same seed -> identical samples",
                 cases[c].name, cases[c].eta, cases[c].large);
        fails += pd_expect_true(memcmp(a, b, sizeof a) == 0, what);
        snprintf(what, sizeof what, "%s (eta %.1f, large %d): samples 4..7 alone (offset 4) = rows "
                 "4..7 of the batch of 8, bitwise", cases[c].name, cases[c].eta, cases[c].large);
        fails += pd_expect_true(memcmp(a + S / 2 * D, half, sizeof half) == 0, what);
        p.seed += 1;
        if (run_batch(ctx, cases[c].name, &p, m, g, S, D, 0, other)) return fails + 1;
        int stoch = strcmp(cases[c].name, "ddpm") == 0 || cases[c].eta > 0;
        snprintf(what, sizeof what, "%s: another seed %s the samples", cases[c].name,
                 stoch ? "changes" : "does not change");
        fails += pd_expect_true((memcmp(a, other, sizeof a) != 0) == stoch, what);
        pd_model_destroy(&m);
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
    }
    return fails;
}

/* A model that returns NaN for global sample 3 (or 13), element 12, below t = 0.5: ddim on vp-linear
 * uniform 20 steps evaluates t_n = 1 - 0.04995 n, first below 0.5 at n = 11. */
static int test_nan_detection(pd_ctx *ctx)
{
    enum { N = 20, S = 5, D = 16 };
    int fails = 0;
    for (int64_t off = 0; off <= 10; off += 10) {
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        pd_model *m = NULL;
        pd_state *x = NULL;
        gauss_spec spec = gauss_plain(0.1, 0.6);
        spec.nan_sample = 3 + off;
        spec.nan_elem = 12;
        spec.nan_below_t = 0.5;
        PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_UNIFORM, N, &sch, &g));
        PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, spec, &m));
        PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, off, &x));
        PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.1, 0.6, 2));
        pd_ctx_clear(ctx);
        pd_status st = test_run(ctx, "ddim", NULL, m, g, 0, N, x);
        fails += pd_expect_true(st == PD_ERR_NUMERIC, "NaN from the model -> PD_ERR_NUMERIC");
        char want[128];
        snprintf(want, sizeof want, "ddim step 11 (t = %g -> %g): NaN/Inf in sample %lld, element 12",
                 pd_grid_at(g, 11)->t, pd_grid_at(g, 12)->t, (long long)(3 + off));
        fails += pd_expect_contains(pd_ctx_message(ctx), want, "message names solver, step, t, sample, element");
        printf("message: %s\n", pd_ctx_message(ctx));
        pd_ctx_clear(ctx);
        pd_state_destroy(&x);
        pd_model_destroy(&m);
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
    }
    return fails;
}

/* Argument checks of pd_solver_step / pd_solver_run. */
static int test_step_checks(pd_ctx *ctx)
{
    int fails = 0;
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL, *m3 = NULL;
    pd_state *x = NULL, *y = NULL;
    pd_solver *s = NULL, *s2 = NULL;
    pd_solver_ws *ws = NULL, *ws2 = NULL;
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 5, &sch, &g));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, 2, gauss_plain(0, 1), &m));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, 3, gauss_plain(0, 1), &m3));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 4, 2, 0, &x));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 3, 2, 0, &y));
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "heun", NULL, &s));
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "ddim", NULL, &s2));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, s, x, &ws));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, s2, x, &ws2));
    fails += pd_expect_true(pd_solver_step(ctx, s, m, g, 5, x, ws) == PD_ERR_INPUT, "step n = steps rejected");
    fails += pd_expect_true(pd_solver_step(ctx, s, m, g, -1, x, ws) == PD_ERR_INPUT, "step n = -1 rejected");
    fails += pd_expect_true(pd_solver_step(ctx, s, m, g, 0, x, ws2) == PD_ERR_INPUT,
                            "workspace of another solver rejected");
    fails += pd_expect_true(pd_solver_step(ctx, s, m, g, 0, y, ws) == PD_ERR_INPUT,
                            "state shaped unlike the workspace rejected");
    fails += pd_expect_true(pd_solver_step(ctx, s, m3, g, 0, x, ws) == PD_ERR_INPUT,
                            "model of another dim rejected");
    fails += pd_expect_true(pd_solver_run(ctx, s, m, g, 2, 6, x, ws) == PD_ERR_INPUT,
                            "run past the grid rejected");
    fails += pd_expect_true(pd_model_nfe(m) == 0, "no evaluation on rejected calls");
    fails += pd_expect_true(pd_solver_run(ctx, s, m, g, 3, 3, x, ws) == PD_OK, "empty run is fine");
    fails += pd_expect_true(pd_solver_ws_history(ws, NULL, NULL) == NULL, "one-step solver has no history");
    pd_ctx_clear(ctx);
    pd_solver_ws_destroy(&ws);
    pd_solver_ws_destroy(&ws2);
    pd_solver_ws_destroy(&ws); /* NULL accepted */
    pd_solver_destroy(&s);
    pd_solver_destroy(&s2);
    pd_state_destroy(&x);
    pd_state_destroy(&y);
    pd_model_destroy(&m);
    pd_model_destroy(&m3);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    return fails;
}

/* §7.2a: dpmpp-2m run in two halves with the history carried to a fresh workspace equals one run,
 * bitwise; without the history the second half restarts first order and differs. */
static int test_history_carry(pd_ctx *ctx)
{
    enum { N = 20, S = 4, D = 2, CUT = 9 };
    int fails = 0;
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL;
    pd_state *x = NULL;
    pd_solver *s = NULL;
    pd_solver_ws *wa = NULL, *wb = NULL;
    double one[S * D], two[S * D], restart[S * D];
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, N, &sch, &g));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, D, gauss_plain(0.7, 0.5), &m));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, 0, &x));
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "dpmpp-2m", NULL, &s));

    PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.7, 0.5, 4));
    PD_TEST_CHECK(ctx, test_run(ctx, "dpmpp-2m", NULL, m, g, 0, N, x));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, one));

    PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.7, 0.5, 4));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, s, x, &wa));
    PD_TEST_CHECK(ctx, pd_solver_run(ctx, s, m, g, 0, CUT, x, wa));
    int hs = -2;
    double hl = 0;
    pd_state *ha = pd_solver_ws_history(wa, &hs, &hl);
    fails += pd_expect_true(ha && hs == CUT - 1 && hl == pd_grid_at(g, CUT - 1)->lambda,
                            "history holds x0_hat of step CUT - 1 and its lambda");
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, s, x, &wb));
    int hb_step = 0;
    pd_solver_ws_history(wb, &hb_step, NULL);
    fails += pd_expect_true(hb_step == -1, "a new workspace has no history");
    PD_TEST_CHECK(ctx, pd_state_copy(ctx, pd_solver_ws_history(wb, NULL, NULL), ha));
    PD_TEST_CHECK(ctx, pd_solver_ws_set_history(ctx, wb, g, hs));
    PD_TEST_CHECK(ctx, pd_solver_run(ctx, s, m, g, CUT, N, x, wb));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, two));
    fails += pd_expect_true(memcmp(one, two, sizeof one) == 0,
                            "dpmpp-2m with history carried across workspaces = one run, bitwise");

    PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, 0.7, 0.5, 4));
    pd_solver_ws_reset(wa);
    PD_TEST_CHECK(ctx, pd_solver_run(ctx, s, m, g, 0, CUT, x, wa));
    pd_solver_ws_reset(wa);
    PD_TEST_CHECK(ctx, pd_solver_run(ctx, s, m, g, CUT, N, x, wa));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, restart));
    fails += pd_expect_true(memcmp(one, restart, sizeof one) != 0,
                            "dpmpp-2m restarted without history differs (first-order restart)");
    pd_ctx_clear(ctx);
    fails += pd_expect_true(pd_solver_ws_set_history(ctx, wb, g, N) == PD_ERR_INPUT,
                            "history step outside the grid rejected");
    pd_ctx_clear(ctx);
    pd_solver_ws_destroy(&wa);
    pd_solver_ws_destroy(&wb);
    pd_solver_destroy(&s);
    pd_state_destroy(&x);
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    return fails;
}

int main(void)
{
    pd_ctx *ctx = pd_ctx_create();
    if (!ctx) return 1;
    int fails = 0;
    fails += test_registry(ctx);
    fails += test_nfe(ctx);
    fails += test_noise_reproducible(ctx);
    fails += test_nan_detection(ctx);
    fails += test_step_checks(ctx);
    fails += test_history_carry(ctx);
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "%d check(s) failed\n", fails);
    return fails ? 1 : 0;
}
