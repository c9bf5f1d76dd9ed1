/* pintdiff: Parareal / self-refining sampling (ALGORITHMS.md §7), distributed over the ranks of a
 * transport. The N fine steps are cut into B blocks; rank r owns a contiguous run of blocks. Each
 * iteration runs the fine propagator F on every block whose start state changed, then a sequential
 * sweep of the coarse propagator G along the ranks applies U'_{b+1} = F(U_b) + (G(U'_b) - G(U_b)).
 * After k iterations boundaries 0..k equal the serial fine solution (bitwise on one device); after B
 * iterations the result is the serial fine sample, whatever the tolerance.
 *
 * The driver sees solvers only through pd_solver_run (advance a batch from grid point a to b; the
 * blocks of a rank together through pd_solver_run_groups, one model call per stage) and
 * the transport only through send/recv of boundary states and reductions. */
#ifndef PD_MPI_PARAREAL_H
#define PD_MPI_PARAREAL_H

#include <stdint.h>

#include "mpi/transport.h"
#include "pintdiff/model.h"
#include "pintdiff/schedule.h"
#include "pintdiff/solver.h"

typedef struct pd_parareal_opts {
    int blocks;           /* B, 1 <= B <= N, at least one block per rank */
    int coarse_steps;     /* c: coarse steps per block (at most the block's fine steps) */
    int coarse_noise_aggregate; /* stochastic coarse: drive it by the fine steps' aggregated noise (§7.2) */
    double tol;           /* stop when every block's residual is < tol */
    int max_iters;        /* 0: B */
    int pipeline;         /* 1: a rank starts its next fine solve as soon as its start state is known */
    int store_boundaries; /* keep U_b after every iteration (output.trajectory: boundaries) */
    int progress;         /* rank 0 prints one line per iteration on stderr */
} pd_parareal_opts;

/* What happened, identical on every rank after pd_parareal_run. Matrices are row-major. */
typedef struct pd_parareal_log {
    int iters, n_blocks, n_ranks;
    double *residual;        /* [iters, B] RMS change of each block's end state */
    int *converged;          /* [iters, B] residual < tol */
    int64_t *nfe;            /* [iters, R] model evaluations per rank in the iteration */
    double *compute_s;       /* [iters, R] seconds in model calls and updates */
    double *wait_s;          /* [iters, R] seconds blocked on a neighbour or a reduction */
    double *comm_s;          /* [iters, R] seconds posting messages */
    int64_t init_nfe;        /* the initial coarse sweep's critical path (B * c * NFE_G) */
    int64_t critical_nfe;    /* model evaluations in sequence on the critical path, whole run */
    int64_t total_nfe;       /* all ranks, whole run */
    double wall_s;
} pd_parareal_log;

typedef struct pd_parareal pd_parareal;

/* Collective over tp. x0 is the batch's start state x_{t_0} (used by the owner of block 0; every rank
 * passes a state of the batch's shape, which the driver also uses as a template). */
pd_status pd_parareal_create(pd_ctx *ctx, pd_transport *tp, const pd_solver *fine, const pd_solver *coarse,
                             pd_model *m, const pd_grid *g, const pd_parareal_opts *o, const pd_state *x0,
                             pd_parareal **out);
void pd_parareal_destroy(pd_parareal **p);
/* Collective: iterate to convergence. On every rank the same status comes back (PD_ERR_REMOTE where
 * another rank failed first). */
pd_status pd_parareal_run(pd_ctx *ctx, pd_parareal *p);
/* After a successful run: the final sample (on the rank that owns the last block, else NULL), the
 * log, and whether this rank owns the last block. */
const pd_state *pd_parareal_result(const pd_parareal *p);
const pd_parareal_log *pd_parareal_get_log(const pd_parareal *p);
/* Boundary states kept with store_boundaries: this rank's boundaries (for k < iters, the blocks it
 * owns: boundary b + 1 of each, and boundary 0 on the owner of block 0). NULL if not stored. */
const pd_state *pd_parareal_boundary(const pd_parareal *p, int iter, int boundary);

#endif
