/* pintdiff: the transport between ranks (DESIGN.md §4): what the time-parallel drivers need and
 * nothing more: send/receive a boundary state with a status header, reduce a few numbers. Two
 * implementations behind the same calls: MPI (CPU states; GPU states through CUDA-aware MPI or staged
 * through pinned host buffers) and NCCL (GPU states, one GPU per rank). MPI stays out of the numerics:
 * only mpi/ includes <mpi.h>.
 *
 * Boundary messages carry a header (STYLE.md habit 3): the sender's status, so that a rank waiting on
 * a failed neighbour learns of it instead of hanging; the iteration; flags; the running maximum of
 * the residual along the pipeline; and the sender's critical-path clock (model evaluations in
 * sequence). Headers always travel over MPI (one tag per channel), so that a receiver knows what
 * follows and MPI_Iprobe on pd_transport_comm sees control messages (tag 100 + channel); the states
 * after a header go over MPI or NCCL. Sends are non-blocking: a send returns once the previous send to
 * the same rank and channel has completed, so a sender never waits for a busy receiver to post its
 * receive. */
#ifndef PD_MPI_TRANSPORT_H
#define PD_MPI_TRANSPORT_H

#include <mpi.h>
#include <stdint.h>

#include "pintdiff/state.h"
#include "pintdiff/status.h"

enum {
    PD_MSG_PAYLOAD = 1, /* states follow the header */
    PD_MSG_STOP = 2,    /* the run stops after iteration `iter`; no more messages from the sender */
    PD_MSG_HIST = 4     /* a history state (multistep solvers) follows x */
};

typedef struct pd_msg_header {
    int32_t status;        /* pd_status of the sender (worst seen along the pipeline) */
    int32_t iter;
    int32_t flags;
    int32_t hist_step;     /* grid step of the history state, -1 if none */
    int32_t n_converged;   /* running count of blocks with residual < tol, blocks before here */
    int32_t pad;
    double max_residual;   /* running max of block residuals of this iteration, blocks before here */
    double hist_lambda;
    int64_t clock;         /* critical-path model evaluations at the sender */
    int64_t payload_bytes; /* bytes of the states that follow (set by the transport, checked on receipt) */
} pd_msg_header;

typedef struct pd_transport pd_transport;

typedef struct pd_transport_times {
    double wait_s;  /* blocked waiting for a message or for a send to drain */
    double comm_s;  /* posting sends, reductions */
} pd_transport_times;

/* Does this MPI library take device pointers? What it reports at run time (Open MPI, MPICH), else no. */
int pd_transport_mpi_cuda_aware(void);
/* Not collective. cuda_aware: GPU states go to MPI as device memory (else staged through pinned host
 * memory); pass pd_transport_mpi_cuda_aware() unless the user decided (device.cuda_aware_mpi). */
pd_status pd_transport_create_mpi(pd_ctx *ctx, MPI_Comm comm, int cuda_aware, pd_transport **out);
/* Collective over comm: an NCCL communicator over the same ranks (rank 0 makes the id, MPI broadcasts
 * it), on the GPU each rank is bound to (pd_device_setup), non-blocking: every wait on NCCL polls its
 * asynchronous errors and gives up after timeout_s seconds, aborting the communicator (PD_ERR_NCCL;
 * the caller then aborts the run). States sent or received must be on the GPU. */
pd_status pd_transport_create_nccl(pd_ctx *ctx, MPI_Comm comm, double timeout_s, pd_transport **out);
void pd_transport_destroy(pd_transport **tp);
/* "mpi" or "nccl" */
const char *pd_transport_name(const pd_transport *tp);
int pd_transport_rank(const pd_transport *tp);
int pd_transport_size(const pd_transport *tp);
MPI_Comm pd_transport_comm(const pd_transport *tp);
/* Accumulated times since creation (the drivers difference them per iteration). */
pd_transport_times pd_transport_get_times(const pd_transport *tp);

/* Send header h (and x, then hist, when h->flags say so) to rank dst; the states must not change
 * until the next send to dst on the channel or pd_transport_flush. channel separates streams
 * (0: boundaries, 1: control). */
pd_status pd_transport_send(pd_ctx *ctx, pd_transport *tp, int dst, int channel, const pd_msg_header *h,
                            const pd_state *x, const pd_state *hist);
/* Blocking receive of the next message from src on channel, into h, x and hist (as flagged). */
pd_status pd_transport_recv(pd_ctx *ctx, pd_transport *tp, int src, int channel, pd_msg_header *h,
                            pd_state *x, pd_state *hist);
/* Wait for every pending send. */
pd_status pd_transport_flush(pd_ctx *ctx, pd_transport *tp);
/* Has a message from src on channel arrived (a header is waiting)? Never blocks. */
int pd_transport_probe(pd_transport *tp, int src, int channel);
/* In-place reductions over all ranks (host values; the result is the same on every rank). */
pd_status pd_transport_allreduce_max(pd_ctx *ctx, pd_transport *tp, double *vals, int n);
pd_status pd_transport_allreduce_sum(pd_ctx *ctx, pd_transport *tp, double *vals, int n);
pd_status pd_transport_bcast(pd_ctx *ctx, pd_transport *tp, void *buf, int bytes, int root);

#endif
