/* Groups of trajectories stepped together (pd_solver_run_groups: a rank advancing several Parareal blocks
 * with one model call per stage) against each group run alone: for every registry solver, on the 2-D
 * eight-component mixture (gmm: each row's x0_hat depends on that row only), float64 and float32, with
 * groups of unequal lengths (so some sit out the last step), one group ending with the step into
 * sigma = 0, and multistep history set per group. Asserted: bitwise equality, the model calls of the
 * batched run (= the longest group's NFE) and an idle group left untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gauss_model.h"
#include "pd_test.h"
#include "pintdiff/solver.h"

enum { K = 8, D = 2, S = 5, G = 3, N = 13 };
static const int64_t shape[1] = {D};
static const int n_begin[G] = {0, 4, 8}, n_end[G] = {4, 8, 13}; /* 4, 4, 5 steps; the last one into 0 */

static int make_ring(pd_ctx *ctx, pd_model **m)
{
    double w[K], mu[K * D], var[K];
    for (int k = 0; k < K; k++) {
        w[k] = 1.0 / K;
        mu[2 * k] = 4.0 * cos(2.0 * 3.14159265358979 * k / K);
        mu[2 * k + 1] = 4.0 * sin(2.0 * 3.14159265358979 * k / K);
        var[k] = 0.09;
    }
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, w, mu, var, 0, m));
    return 0;
}

/* Start states: group i holds S samples (global 7 .. 7 + S - 1) drawn from the seed and i. */
static int fill_groups(pd_ctx *ctx, pd_state *batch, pd_state *const *alone)
{
    for (int i = 0; i < G; i++) {
        PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, alone[i], 99, (uint32_t)i, PD_RNG_START));
        pd_state *v = NULL;
        PD_TEST_CHECK(ctx, pd_state_view(ctx, batch, i * S, S, &v));
        PD_TEST_CHECK(ctx, pd_state_copy(ctx, v, alone[i]));
        pd_state_destroy(&v);
    }
    return 0;
}

/* Multistep solvers: give group i the history x0_hat = 0.1 i at step n_begin[i] - 1 (none for group 0). */
static int give_history(pd_ctx *ctx, pd_solver_ws *ws, int group, const pd_grid *g, int step, double value)
{
    pd_state *h = pd_solver_ws_group_history(ws, group, NULL, NULL);
    if (!h) return 0;
    double buf[S * D];
    for (int e = 0; e < S * D; e++) buf[e] = value + 0.01 * e;
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, h, buf));
    PD_TEST_CHECK(ctx, pd_solver_ws_set_group_history(ctx, ws, g, group, step));
    return 0;
}

static int compare_one(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, pd_dtype dt, int *fails)
{
    const char *name = pd_solver_get_info(s)->name;
    pd_state *batch = NULL, *alone[G] = {NULL}, *one = NULL;
    pd_solver_ws *wsb = NULL, *ws1 = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CPU, G * S, D, 7, &batch));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CPU, S, D, 7, &one));
    for (int i = 0; i < G; i++) PD_TEST_CHECK(ctx, pd_state_create_like(ctx, one, &alone[i]));
    if (fill_groups(ctx, batch, alone)) return 1;
    PD_TEST_CHECK(ctx, pd_solver_ws_create_groups(ctx, s, one, G, &wsb));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, s, one, &ws1));
    for (int i = 1; i < G; i++)
        if (give_history(ctx, wsb, i, g, n_begin[i] - 1, 0.1 * i)) return 1;

    int64_t nfe0 = pd_model_nfe(m);
    PD_TEST_CHECK(ctx, pd_solver_run_groups(ctx, s, m, g, G, n_begin, n_end, batch, wsb));
    int64_t nfe_batch = pd_model_nfe(m) - nfe0, nfe_longest = 0;

    for (int i = 0; i < G; i++) {
        pd_solver_ws_reset(ws1);
        if (i > 0 && give_history(ctx, ws1, 0, g, n_begin[i] - 1, 0.1 * i)) return 1;
        nfe0 = pd_model_nfe(m);
        PD_TEST_CHECK(ctx, pd_solver_run(ctx, s, m, g, n_begin[i], n_end[i], alone[i], ws1));
        int64_t nfe = pd_model_nfe(m) - nfe0;
        nfe_longest = nfe > nfe_longest ? nfe : nfe_longest;
        pd_state *v = NULL;
        int eq = 0, hs_b = -2, hs_1 = -3;
        PD_TEST_CHECK(ctx, pd_state_view(ctx, batch, i * S, S, &v));
        PD_TEST_CHECK(ctx, pd_state_equal(ctx, v, alone[i], &eq));
        pd_state_destroy(&v);
        char what[160];
        snprintf(what, sizeof what, "%s %s group %d (steps %d..%d) batched == alone, bitwise", name,
                 pd_dtype_name(dt), i, n_begin[i], n_end[i]);
        *fails += pd_expect_true(eq, what);
        pd_state *hb = pd_solver_ws_group_history(wsb, i, &hs_b, NULL), *h1 = pd_solver_ws_history(ws1, &hs_1, NULL);
        if (hb) {
            PD_TEST_CHECK(ctx, pd_state_equal(ctx, hb, h1, &eq));
            snprintf(what, sizeof what, "%s %s group %d history (step %d vs %d) equal", name, pd_dtype_name(dt), i,
                     hs_b, hs_1);
            *fails += pd_expect_true(eq && hs_b == hs_1, what);
        }
    }
    char what[160];
    snprintf(what, sizeof what, "%s %s: batched run made %lld model calls, the longest group alone %lld", name,
             pd_dtype_name(dt), (long long)nfe_batch, (long long)nfe_longest);
    *fails += pd_expect_true(nfe_batch == nfe_longest, what);

    pd_solver_ws_destroy(&wsb);
    pd_solver_ws_destroy(&ws1);
    for (int i = 0; i < G; i++) pd_state_destroy(&alone[i]);
    pd_state_destroy(&one);
    pd_state_destroy(&batch);
    return 0;
}

/* An idle group (step -1) keeps its rows bit for bit; a bad step or group count is refused. */
static int idle_and_errors(pd_ctx *ctx, pd_model *m, const pd_grid *g, int *fails)
{
    pd_solver *s = NULL;
    pd_state *batch = NULL, *before = NULL, *one = NULL;
    pd_solver_ws *ws = NULL;
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "heun", NULL, &s));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 2 * S, D, 0, &batch));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, D, 0, &one));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, batch, 5, 0, PD_RNG_START));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, batch, &before));
    PD_TEST_CHECK(ctx, pd_state_copy(ctx, before, batch));
    PD_TEST_CHECK(ctx, pd_solver_ws_create_groups(ctx, s, one, 2, &ws));
    const int n[2] = {-1, 3};
    PD_TEST_CHECK(ctx, pd_solver_step_groups(ctx, s, m, g, 2, n, batch, ws));
    pd_state *a = NULL, *b = NULL;
    int eq = 0;
    PD_TEST_CHECK(ctx, pd_state_view(ctx, batch, 0, S, &a));
    PD_TEST_CHECK(ctx, pd_state_view(ctx, before, 0, S, &b));
    PD_TEST_CHECK(ctx, pd_state_equal(ctx, a, b, &eq));
    *fails += pd_expect_true(eq, "idle group untouched");
    const int bad[2] = {0, N};
    *fails += pd_expect_true(pd_solver_step_groups(ctx, s, m, g, 2, bad, batch, ws) == PD_ERR_INPUT,
                             "group step = steps refused");
    *fails += pd_expect_true(pd_solver_step_groups(ctx, s, m, g, 3, n, batch, ws) == PD_ERR_INPUT,
                             "more groups than the workspace refused");
    *fails += pd_expect_true(pd_solver_step_groups(ctx, s, m, g, 1, n, batch, ws) == PD_ERR_INPUT,
                             "batch rows != groups x rows refused");
    pd_state_destroy(&a), pd_state_destroy(&b);
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&one), pd_state_destroy(&before), pd_state_destroy(&batch);
    pd_solver_destroy(&s);
    return 0;
}

int main(void)
{
    pd_ctx *ctx = pd_ctx_create();
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL;
    int fails = 0;
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LEADING, N, &sch, &g));
    if (!(pd_grid_at(g, N)->sigma == 0.0)) {
        fprintf(stderr, "FAIL: the test grid should end at sigma = 0\n");
        return 1;
    }
    if (make_ring(ctx, &m)) return 1;
    for (int i = 0; i < pd_solver_count(); i++) {
        pd_solver_params p = pd_solver_default_params();
        p.seed = 11;
        p.eta = 0.5; /* ddim: stochastic, so the noise keying of groups is covered */
        pd_solver *s = NULL;
        if (pd_solver_info_at(i)->augmented) continue; /* psld samplers need the psld model: their own test */
        PD_TEST_CHECK(ctx, pd_solver_create(ctx, pd_solver_info_at(i)->name, &p, &s));
        if (compare_one(ctx, s, m, g, PD_F64, &fails) || compare_one(ctx, s, m, g, PD_F32, &fails)) return 1;
        pd_solver_destroy(&s);
    }
    if (idle_and_errors(ctx, m, g, &fails)) return 1;
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "%d check(s) failed\n", fails);
    else printf("grouped steps == separate runs for %d solvers\n", pd_solver_count());
    return fails ? 1 : 0;
}
