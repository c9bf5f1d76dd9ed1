/* pintdiff: Picard-iteration samplers (ALGORITHMS.md §8), distributed over the ranks of a transport.
 *
 * Every step of a one-step affine solver is the map x_{j+1} = cx_j x_j + cd_j D(x_j) + cz_j z_j (D the
 * model's x0_hat, z_j the step's Philox noise, the same numbers the serial run draws). A Picard iteration
 * evaluates D at every point of a window [a, e] at once from the previous iterate (one batched model call
 * per rank: the critical path grows by 1 NFE per iteration), then composes the maps along the window:
 * x_a stays, x_{j+1} = cx_j x_j + (cd_j D_j + cz_j z_j) for j = a .. e-1.
 *   picard        the ParaDiGMS sliding window (§8.1): a point j of the window is converged when every
 *                 sample's change satisfies |dx|^2 / dim <= tol^2 v_j (v_j the DDPM fixed_small variance of
 *                 the step that starts at j; v_j = 0: exactly no change); the window slides to its first
 *                 unconverged point (at least 1, at most p per iteration) and new points start as copies
 *                 of the old end point.
 *   block-picard  the grid cut into B blocks solved one after another (§8.2), each by Picard iterations
 *                 over the whole block until the largest RMS change of a point is <= tol, or max_iters,
 *                 or the block's length M_b (after which the block is exact).
 * Ranks own contiguous ranges of the window's points; the composition runs along the ranks (each rank
 * receives the state at its first point from the one before, applies its maps in order, sends its last
 * state on), so the additions happen in the serial order whatever the rank count: the samples are the
 * same bits on any number of ranks, and a converged run's are the serial run's bits.
 *
 * The driver sees the model through pd_model_eval_groups, the solver through pd_solver_affine_coef, the
 * states through pd_state_* and the ranks through pd_transport_* only, so states may be on CPU or GPU and
 * the transport MPI or NCCL. */
#ifndef PD_MPI_PICARD_H
#define PD_MPI_PICARD_H

#include <stdint.h>

#include "mpi/transport.h"
#include "pintdiff/model.h"
#include "pintdiff/schedule.h"
#include "pintdiff/solver.h"

typedef enum { PD_PICARD_WINDOW = 0, PD_PICARD_BLOCKS } pd_picard_kind;

typedef struct pd_picard_opts {
    pd_picard_kind kind;
    int window;      /* picard: the window p in steps; 0 or more than the grid's steps: the whole grid */
    int blocks;      /* block-picard: B, 1 <= B <= steps */
    double tol;      /* > 0; picard: scaled per point by sqrt(v_j); block-picard: on the RMS change */
    int max_iters;   /* picard: the most updates of one point (it then counts as converged); block-picard:
                      * iterations per block; 0: no limit (picard) or the block's length (block-picard) */
    int progress;    /* rank 0 prints one line per iteration on stderr */
    const int *keep; /* [n_keep] ascending grid points whose final states are kept (output.trajectory) */
    int n_keep;
} pd_picard_opts;

/* What happened, identical on every rank after pd_picard_run. Matrices are row-major. Column i of the
 * per-point matrices is grid point window_start + 1 + i (the window's updated points). */
typedef struct pd_picard_log {
    int iters, width, n_ranks;
    double *residual;      /* [iters, width] RMS change of the point over samples x elements; NaN outside
                            * the window */
    int *converged;        /* [iters, width] the point counted as converged (picard: its rule; block-picard:
                            * RMS change <= tol) */
    int64_t *window_start; /* [iters] a: the first point of the window (fixed during the iteration) */
    int64_t *window_end;   /* [iters] e: its last point */
    int64_t *block;        /* [iters] block-picard: the block; picard: 0 */
    int64_t *nfe;          /* [iters, R] time points evaluated per rank (one batched call each) */
    double *compute_s;     /* [iters, R] seconds in model calls and updates */
    double *wait_s;        /* [iters, R] seconds blocked on a neighbour or a reduction */
    double *comm_s;        /* [iters, R] seconds moving data */
    int64_t critical_nfe;  /* model calls in sequence (= iterations) */
    int64_t total_nfe;     /* time points evaluated, all ranks (serial: the number of steps) */
    int64_t model_calls;   /* batched model calls, all ranks */
    int window;            /* p in use (picard) or the longest block (block-picard) */
    int n_blocks;          /* block-picard: B; picard: 1 */
    double wall_s;
} pd_picard_log;

typedef struct pd_picard pd_picard;

/* Collective over tp. fine: a one-step affine solver (pd_solver_is_affine; PD_ERR_INPUT naming
 * sampler.fine otherwise). x0: the batch's start state x_{t_0}, the same on every rank (also the
 * template of every state). */
pd_status pd_picard_create(pd_ctx *ctx, pd_transport *tp, const pd_solver *fine, pd_model *m,
                           const pd_grid *g, const pd_picard_opts *o, const pd_state *x0, pd_picard **out);
void pd_picard_destroy(pd_picard **p);
/* Collective: iterate until the window has passed the last point. The same status on every rank
 * (PD_ERR_REMOTE where another rank failed first). */
pd_status pd_picard_run(pd_ctx *ctx, pd_picard *p);
/* After a successful run: the final sample on the last rank, NULL elsewhere. */
const pd_state *pd_picard_result(const pd_picard *p);
const pd_picard_log *pd_picard_get_log(const pd_picard *p);
/* The kept final state of trajectory point i (opts.keep[i]) on the rank that holds it, NULL elsewhere;
 * *holder (if not NULL) is that rank, the same on every rank. */
const pd_state *pd_picard_kept(const pd_picard *p, int i, int *holder);

#endif
