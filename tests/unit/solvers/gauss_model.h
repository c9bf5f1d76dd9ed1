/* Test-only closed-form reference: the single Gaussian N(mu, s^2 I) of ALGORITHMS.md §2.1 through the
 * pd_model_ops table (exact x0_hat), its PF-ODE flow, and helpers shared by the solver tests. */
#ifndef PD_TEST_GAUSS_MODEL_H
#define PD_TEST_GAUSS_MODEL_H

#include <stddef.h> /* size_t for state.h */
#include <stdint.h>

#include "pintdiff/model.h"
#include "pintdiff/rng.h"
#include "pintdiff/schedule.h"
#include "pintdiff/solver.h"

typedef struct gauss_spec {
    double mu, s;          /* the target N(mu, s^2 I), same mu in every element */
    /* NaN injection (off when nan_sample < 0): x0_hat of global sample nan_sample, element nan_elem
     * is NaN at every point with t < nan_below_t */
    int64_t nan_sample, nan_elem;
    double nan_below_t;
} gauss_spec;

static inline gauss_spec gauss_plain(double mu, double s)
{
    return (gauss_spec){.mu = mu, .s = s, .nan_sample = -1, .nan_elem = 0, .nan_below_t = 0.0};
}

pd_status gauss_model_create(pd_ctx *ctx, int64_t dim, gauss_spec spec, pd_model **out);

/* v_t = alpha^2 s^2 + sigma^2, the marginal variance at p */
double gauss_var(double s, const pd_grid_point *p);
/* closed-form PF-ODE flow of one element from point `from` to point `to` (§2.1) */
double gauss_flow(double mu, double s, const pd_grid_point *from, const pd_grid_point *to, double x);

/* schedule with its defaults + grid; both NULL on failure (the error is in ctx) */
pd_status test_grid(pd_ctx *ctx, pd_schedule_kind kind, pd_spacing sp, int steps,
                    pd_schedule **sched, pd_grid **grid);
/* x = alpha_0 mu + sqrt(v_0) z(seed, global sample, step 0, PD_RNG_START, element): the exact marginal
 * at the grid's first point (§2.4) */
pd_status test_start_exact(pd_ctx *ctx, pd_state *x, const pd_grid *g, double mu, double s,
                           uint64_t seed);
/* steps n_begin .. n_end - 1 of solver `name` on x (a workspace made and freed here) */
pd_status test_run(pd_ctx *ctx, const char *name, const pd_solver_params *p, pd_model *m,
                   const pd_grid *g, int n_begin, int n_end, pd_state *x);
/* least-squares slope of log2(err) against log2(N), negated (the observed order) */
double test_fit_order(int k, const int *steps, const double *err);

#endif
