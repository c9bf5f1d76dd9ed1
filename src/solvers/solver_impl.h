/* The bodies of pd_solver and pd_solver_ws, the registry row, and the step functions (private to
 * src/solvers).
 *
 * Every update is written as scalar coefficients (computed here in double from the grid points'
 * alpha, sigma, lambda) applied by pd_state_lincomb, and the model returns x0_hat only; so the same
 * solver code runs on any device that implements lincomb (STYLE.md habit 8, ALGORITHMS.md §3). */
#ifndef PD_SOLVERS_SOLVER_IMPL_H
#define PD_SOLVERS_SOLVER_IMPL_H

#include <stddef.h> /* NULL; also size_t for state.h */

#include "pintdiff/rng.h"
#include "pintdiff/solver.h"

#define PD_SOLVER_MAX_SCRATCH 3

/* One step of a solver: x at grid point n on entry, at n + 1 on return. Arguments are validated by
 * pd_solver_step before the call. */
typedef pd_status (*pd_solver_step_fn)(pd_ctx *ctx, const pd_solver *s, pd_model *m,
                                       const pd_grid *g, int n, pd_state *x, pd_solver_ws *ws);

/* x_{n+1} = cx * x_n + cd * x0_hat(x_n) + cz * z_n: a one-step affine update (see below). */
typedef struct pd_affine_coef {
    double cx, cd, cz;
} pd_affine_coef;

/* A row of the registry (STYLE.md habit 9): the public info plus what the implementation needs. */
typedef struct pd_solver_entry {
    pd_solver_info info;
    int n_scratch;          /* scratch states of the workspace (<= PD_SOLVER_MAX_SCRATCH) */
    int eta_noise;          /* draws noise exactly when params.eta > 0 (ddim) */
    pd_solver_step_fn step;
    /* one-step affine solvers: the coefficients of step p0 -> p1 (noise std = cz); NULL otherwise */
    pd_affine_coef (*coef)(const pd_solver *s, const pd_grid_point *p0, const pd_grid_point *p1);
} pd_solver_entry;

struct pd_solver {
    const pd_solver_entry *entry;
    pd_solver_params params;
};

struct pd_solver_ws {
    const pd_solver_entry *entry;           /* the solver kind it was made for */
    pd_state *scratch[PD_SOLVER_MAX_SCRATCH]; /* [n_samples, dim] like the state, made once */
    /* multistep history (NULL / -1 for one-step solvers): the previous x0_hat, the grid step n whose
     * point it was evaluated at, and that point's lambda */
    pd_state *hist;
    int hist_step;
    double hist_lambda;
    /* given noise (pd_solver_ws_set_noise): noise[n] replaces the drawn z of step n; not owned */
    const pd_state *const *noise;
    int n_noise;
};

/* ---- coefficients shared by several solvers (and by later ones built on them) ----
 *
 * x_{n+1} = cx * x_n + cd * x0_hat(x_n) + cz * z_n, from grid point p0 to p1 (ALGORITHMS.md §3.1-3.2).
 * Into sigma = 0 all return cx = 0, cd = alpha_1, cz = 0. */

/* DDIM with eta in [0, 1]; eta = 1 is DDPM fixed_small. */
pd_affine_coef pd_ddim_coef(const pd_grid_point *p0, const pd_grid_point *p1, double eta);
/* DDPM ancestral: posterior mean, variance fixed_small (large = 0) or fixed_large (large = 1). */
pd_affine_coef pd_ddpm_coef(const pd_grid_point *p0, const pd_grid_point *p1, int large);

/* x_out = cx * x + cd * d + cz * z for step n of g, x_out may be x. z is the workspace's noise for
 * step n when one was given (pd_solver_ws_set_noise), else drawn: keyed by params.seed, the global
 * sample of x_out, the global step id pd_grid_noise_step(g, n), PD_RNG_STEP. No noise when cz = 0. */
pd_status pd_solver_apply_affine(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, int n, const pd_solver_ws *ws,
                                 pd_affine_coef k, pd_state *x_out, const pd_state *x, const pd_state *d);

/* The ddpm and ddim rows' coefficients with the solver's parameters. */
pd_affine_coef pd_ddpm_affine(const pd_solver *s, const pd_grid_point *p0, const pd_grid_point *p1);
pd_affine_coef pd_ddim_affine(const pd_solver *s, const pd_grid_point *p0, const pd_grid_point *p1);

/* ---- the step functions, one per registry row ---- */
/* ddpm and ddim: one evaluation, then the row's affine coefficients (entry->coef) */
pd_status pd_affine_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                         pd_state *x, pd_solver_ws *ws);
pd_status pd_euler_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                        pd_state *x, pd_solver_ws *ws);
pd_status pd_heun_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                       pd_state *x, pd_solver_ws *ws);
pd_status pd_dpm2_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                       pd_state *x, pd_solver_ws *ws);
pd_status pd_dpmpp2m_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                          pd_state *x, pd_solver_ws *ws);

#endif
