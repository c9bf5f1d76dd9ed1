/* pintdiff: integrators, registered by name (STYLE.md habit 9).
 *
 * A solver advances a batch of states by one step of the run's grid, from point n to point n + 1.
 * It is immutable: per-trajectory memory (multistep history, scratch buffers) lives in a pd_solver_ws,
 * so that several blocks of one run can share one solver. */
#ifndef PINTDIFF_SOLVER_H
#define PINTDIFF_SOLVER_H

#include <stdint.h>

#include "pintdiff/model.h"
#include "pintdiff/schedule.h"
#include "pintdiff/state.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pd_solver_info {
    const char *name;
    int order;          /* global order (weak order for stochastic ones) */
    int nfe_per_step;   /* model evaluations per step (see summary for last-step rules) */
    int stochastic;     /* draws noise (1) or not (0); ddim: depends on eta */
    int multistep;      /* carries history between steps */
    const char *summary;
    int augmented;      /* runs on augmented states (schedule psld, a score model), and only there */
} pd_solver_info;

typedef struct pd_solver_params {
    double eta;             /* ddim: 0 deterministic .. 1 = ddpm fixed_small */
    int variance_large;     /* ddpm: 0 = fixed_small (posterior variance), 1 = fixed_large (beta) */
    int lower_order_final;  /* dpmpp-2m: first-order last step when the run has < 15 steps */
    double conj_lambda;     /* conjugate-*: the lambda of B_t = lambda I (0: DDIM) */
    uint64_t seed;          /* keys all step noise */
} pd_solver_params;

typedef struct pd_solver pd_solver;
typedef struct pd_solver_ws pd_solver_ws;

/* The registry: count, the i-th entry, lookup by name (NULL if unknown). */
int pd_solver_count(void);
const pd_solver_info *pd_solver_info_at(int i);
const pd_solver_info *pd_solver_find(const char *name);
/* "ddpm, ddim, ..." for error messages */
const char *pd_solver_names(void);

pd_solver_params pd_solver_default_params(void);
/* PD_ERR_INPUT naming the known solvers when name is unknown. */
pd_status pd_solver_create(pd_ctx *ctx, const char *name, const pd_solver_params *p,
                           pd_solver **out);
void pd_solver_destroy(pd_solver **s);
const pd_solver_info *pd_solver_get_info(const pd_solver *s);
const pd_solver_params *pd_solver_get_params(const pd_solver *s);
/* Is the step one affine map x' = cx x + cd x0_hat + cz z (ddpm, ddim, euler, ...)? Only those take given
 * noise (pd_solver_ws_set_noise) and report pd_solver_noise_std. */
int pd_solver_is_affine(const pd_solver *s);
/* The coefficients of step n of g for an affine solver: x_{n+1} = cx x_n + cd x0_hat(x_n, t_n) + cz z_n, z_n the
 * standard normal of (params.seed, global sample, pd_grid_noise_step(g, n), PD_RNG_STEP) — the numbers the
 * serial step draws. PD_ERR_INPUT for a solver that is not affine. (Picard iterations use it.) */
pd_status pd_solver_affine_coef(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, int n, double *cx, double *cd,
                                double *cz);
/* Is the step stochastic with these parameters (ddim with eta > 0 is)? */
int pd_solver_is_stochastic(const pd_solver *s);

/* Scratch and history for one batch of trajectories shaped like `like`. */
pd_status pd_solver_ws_create(pd_ctx *ctx, const pd_solver *s, const pd_state *like,
                              pd_solver_ws **out);
/* The same for up to n_groups groups of such batches stacked in one state (see pd_solver_step_groups). */
pd_status pd_solver_ws_create_groups(pd_ctx *ctx, const pd_solver *s, const pd_state *like,
                                     int n_groups, pd_solver_ws **out);
void pd_solver_ws_destroy(pd_solver_ws **ws);
/* Forget the multistep history of every group (a new trajectory starts). */
void pd_solver_ws_reset(pd_solver_ws *ws);

/* x     in/out  [n_samples, dim], the state at grid point n on entry, at n + 1 on return
 * n     in      step index 0 .. steps-1; the global step index keys the step's noise
 * ws    in/out  scratch and history of this batch of trajectories (from pd_solver_ws_create) */
pd_status pd_solver_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                         pd_state *x, pd_solver_ws *ws);

/* Several groups of trajectories in one step, each at its own grid step, with one model call per stage
 * for all of them (a rank advancing its Parareal blocks together):
 * x      in/out  [n_groups * rows, dim]: group i is rows [i rows, (i + 1) rows), the same global samples
 *                for every group (those of pd_state_offset(x) on), rows = the workspace's batch size
 * n      in      [n_groups] grid step of each group, -1: the group sits this step out
 * ws     in/out  made by pd_solver_ws_create_groups for at least n_groups groups; group i's history
 * The result of each group is bitwise what pd_solver_step gives for it alone (for a model whose rows do
 * not depend on the other rows of the batch). */
pd_status pd_solver_step_groups(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g,
                                int n_groups, const int *n, pd_state *x, pd_solver_ws *ws);

/* The multistep history held by ws, so that a driver can carry it with a boundary state
 * (ALGORITHMS.md §7.2a): returns the previous x0_hat (NULL for one-step solvers) and sets *step to the
 * grid step it was evaluated at (-1: none) and *lambda to that point's lambda (either may be NULL).
 * The state is the workspace's own: it changes with the next step on ws. */
pd_state *pd_solver_ws_history(pd_solver_ws *ws, int *step, double *lambda);
/* Declare the history state (filled by the caller through pd_solver_ws_history, e.g. received with a
 * boundary state) to be x0_hat at grid step `step` of g; step = -1 forgets it. A multistep step n uses
 * the history only when it is that of step n - 1; otherwise the step is first order. */
pd_status pd_solver_ws_set_history(pd_ctx *ctx, pd_solver_ws *ws, const pd_grid *g, int step);

/* The same for group `group` of a workspace made for several groups. */
pd_state *pd_solver_ws_group_history(pd_solver_ws *ws, int group, int *step, double *lambda);
pd_status pd_solver_ws_set_group_history(pd_ctx *ctx, pd_solver_ws *ws, const pd_grid *g, int group,
                                         int step);

/* Noise std of step n (the coefficient of z_n in the update; 0 for deterministic steps). */
double pd_solver_noise_std(const pd_solver *s, const pd_grid *g, int n);
/* Give the unit noise of the steps: z[n] (shaped like the workspace's states) replaces the drawn z_n
 * of step n where z[n] != NULL, for the next steps until changed; z = NULL goes back to drawing.
 * Parareal's coarse propagator uses it for the aggregated fine noise (ALGORITHMS.md §7.2). The
 * states are not copied: they must outlive their use. */
void pd_solver_ws_set_noise(pd_solver_ws *ws, const pd_state *const *z, int n);

/* The serial loop: steps n_begin .. n_end - 1 of grid g (0 <= n_begin <= n_end <= steps), x at point
 * n_begin on entry and at n_end on return. After each step the state is checked: a NaN/Inf fails with
 * PD_ERR_NUMERIC naming the solver, step, t and the global sample and element
 * ("ddim step 17 (t = 659 -> 639): NaN/Inf in sample 3, element 12"). */
pd_status pd_solver_run(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g,
                        int n_begin, int n_end, pd_state *x, pd_solver_ws *ws);
/* The same for groups (pd_solver_step_groups): group i runs steps n_begin[i] .. n_end[i] - 1, all groups
 * step together, a group whose run is over sits out the remaining steps. */
pd_status pd_solver_run_groups(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g,
                               int n_groups, const int *n_begin, const int *n_end, pd_state *x,
                               pd_solver_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
