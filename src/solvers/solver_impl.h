/* The bodies of pd_solver and pd_solver_ws, the registry row, and the stage functions (private to
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
#define PD_SOLVER_MAX_STAGES 3

/* One group of trajectories within a step. A call may advance several groups at once, each at its own
 * grid step (a rank advancing its Parareal blocks together); a stage function sees one group only. */
typedef struct pd_lane {
    int n;                               /* grid step: x at point n on entry, n + 1 on return */
    const pd_grid_point *p0, *p1;        /* points n and n + 1 */
    pd_grid_point at;                    /* where the next stage evaluates the model (p0 at the first) */
    int done;                            /* set by a stage that completes the step early */
    pd_state *x;                         /* the group's rows of the batch */
    pd_state *s[PD_SOLVER_MAX_SCRATCH];  /* its rows of the workspace's scratch states */
    pd_state *hist;                      /* its rows of the multistep history, else NULL */
    int *hist_step;                      /* grid step the history was evaluated at (-1: none) */
    double *hist_lambda;                 /* and that point's lambda */
} pd_lane;

/* A stage of a step (STYLE.md habit 8): the model is evaluated once for every group still running, on
 * state `in` (-1: x, else scratch[in]) at each group's `at`, into scratch[out]; then `update` runs per
 * group. A k-NFE solver has k stages; a stage may finish a group early (l->done, e.g. into sigma = 0). */
typedef struct pd_solver_ws pd_solver_ws;
typedef pd_status (*pd_stage_fn)(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l,
                                 const pd_solver_ws *ws);
typedef struct pd_stage {
    int in, out;
    pd_stage_fn update;
} pd_stage;

/* x_{n+1} = cx * x_n + cd * x0_hat(x_n) + cz * z_n: a one-step affine update (see below). */
typedef struct pd_affine_coef {
    double cx, cd, cz;
} pd_affine_coef;

/* A row of the registry (STYLE.md habit 9): the public info plus what the implementation needs. */
typedef struct pd_solver_entry {
    pd_solver_info info;
    int n_scratch;          /* scratch states of the workspace (<= PD_SOLVER_MAX_SCRATCH) */
    int eta_noise;          /* draws noise exactly when params.eta > 0 (ddim) */
    int n_stages;           /* model evaluations of a full step (= info.nfe_per_step) */
    pd_stage_fn prepare;    /* per group before the first evaluation (accel-ddpm's half noise), or NULL */
    pd_stage stage[PD_SOLVER_MAX_STAGES];
    /* one-step affine solvers: the coefficients of step n of g (noise std = cz); NULL otherwise */
    pd_affine_coef (*coef)(const pd_solver *s, const pd_grid *g, int n);
} pd_solver_entry;

struct pd_solver {
    const pd_solver_entry *entry;
    pd_solver_params params;
};

/* Scratch and history for n_groups groups of `rows` trajectories, stacked [n_groups * rows, dim]. */
struct pd_solver_ws {
    const pd_solver_entry *entry;           /* the solver kind it was made for */
    int n_groups;
    int64_t rows;
    pd_state *scratch[PD_SOLVER_MAX_SCRATCH]; /* made once */
    pd_state *hist;                          /* multistep history (NULL for one-step solvers) */
    int *hist_step;                          /* [n_groups] */
    double *hist_lambda;                     /* [n_groups] */
    pd_lane *lane;                           /* [n_groups], views made once, x re-pointed per call */
    pd_state *eval_in, *eval_out;            /* views over the groups of one batched evaluation */
    pd_grid_point *at;                       /* [n_groups] their points */
    int *steps;                              /* [n_groups] step indices of pd_solver_run_groups */
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

/* The affine rows' coefficients with the solver's parameters (entry->coef). */
pd_affine_coef pd_ddpm_affine(const pd_solver *s, const pd_grid *g, int n);
pd_affine_coef pd_ddim_affine(const pd_solver *s, const pd_grid *g, int n);
pd_affine_coef pd_euler_affine(const pd_solver *s, const pd_grid *g, int n);
pd_affine_coef pd_conjugate_ddim_affine(const pd_solver *s, const pd_grid *g, int n);
pd_affine_coef pd_li_ddim_affine(const pd_solver *s, const pd_grid *g, int n);
pd_affine_coef pd_li_ddpm_affine(const pd_solver *s, const pd_grid *g, int n);

/* ---- the stage functions of the registry rows ---- */
/* ddpm, ddim, euler, conjugate-ddim: x <- cx x + cd x0_hat + cz z with the row's coefficients */
pd_status pd_affine_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
/* conjugate-ddim: the affine update after a check that the grid's schedule is VP */
pd_status pd_conjugate_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_conjugate2_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_conjugate2_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_accel_ddpm_prepare(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_accel_ddpm_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_accel_ddim_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
/* psld samplers (psld.c) */
pd_status pd_psld_em_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_ode_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_sscs_prepare(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_sscs_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_rvv_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_nvv_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_nvv_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_nvv_stage3(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_roba_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_noba_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_psld_noba_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_heun_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_heun_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_dpm2_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_dpm2_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);
pd_status pd_dpmpp2m_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws);

#endif
