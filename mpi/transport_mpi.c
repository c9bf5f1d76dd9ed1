/* The MPI transport: header and states as separate messages on one tag per channel (MPI keeps their
 * order between two ranks), non-blocking sends with one outstanding send per destination. States live
 * in CPU memory here; GPU states will be staged through pinned buffers (or sent with NCCL). */
#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "mpi/transport.h"

#define PD_TP_MAX_REQ 3 /* header, x, hist */

typedef struct pd_tp_slot {
    MPI_Request req[PD_TP_MAX_REQ];
    int n_req;
    pd_msg_header header; /* must outlive the send */
} pd_tp_slot;

struct pd_transport {
    MPI_Comm comm;
    int rank, size;
    pd_tp_slot *slots; /* one per destination rank and channel */
    pd_transport_times times;
};

static size_t state_bytes(const pd_state *x)
{
    return (size_t)(pd_state_n_samples(x) * pd_state_dim(x)) * pd_dtype_size(pd_state_dtype(x));
}

pd_status pd_transport_create_mpi(pd_ctx *ctx, MPI_Comm comm, pd_transport **out)
{
    pd_transport *tp = calloc(1, sizeof *tp);
    if (!tp) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the transport");
    tp->comm = comm;
    MPI_Comm_rank(comm, &tp->rank);
    MPI_Comm_size(comm, &tp->size);
    tp->slots = calloc((size_t)tp->size * 2, sizeof *tp->slots);
    if (!tp->slots) {
        free(tp);
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the transport's send slots");
    }
    *out = tp;
    return PD_OK;
}

void pd_transport_destroy(pd_transport **tp)
{
    if (!tp || !*tp) return;
    free((*tp)->slots);
    free(*tp);
    *tp = NULL;
}

int pd_transport_rank(const pd_transport *tp) { return tp->rank; }
int pd_transport_size(const pd_transport *tp) { return tp->size; }
MPI_Comm pd_transport_comm(const pd_transport *tp) { return tp->comm; }
pd_transport_times pd_transport_get_times(const pd_transport *tp) { return tp->times; }

static pd_status slot_wait(pd_ctx *ctx, pd_transport *tp, pd_tp_slot *s)
{
    if (s->n_req == 0) return PD_OK;
    double t0 = MPI_Wtime();
    int e = MPI_Waitall(s->n_req, s->req, MPI_STATUSES_IGNORE);
    tp->times.wait_s += MPI_Wtime() - t0;
    s->n_req = 0;
    if (e != MPI_SUCCESS) PD_FAIL(ctx, PD_ERR_MPI, "completing a boundary send failed (MPI error %d)", e);
    return PD_OK;
}

static pd_status check_cpu(pd_ctx *ctx, const pd_state *x)
{
    if (x && pd_state_device(x) != PD_DEVICE_CPU)
        PD_FAIL(ctx, PD_ERR_INPUT, "the MPI transport sends CPU states only in this version");
    return PD_OK;
}

pd_status pd_transport_send(pd_ctx *ctx, pd_transport *tp, int dst, int channel, const pd_msg_header *h,
                            const pd_state *x, const pd_state *hist)
{
    pd_tp_slot *s = &tp->slots[2 * dst + channel];
    PD_TRY(slot_wait(ctx, tp, s)); /* the previous send to dst still owns the buffers */
    PD_TRY(check_cpu(ctx, x));
    PD_TRY(check_cpu(ctx, hist));
    double t0 = MPI_Wtime();
    s->header = *h;
    int tag = 100 + channel;
    PD_MPI_CHECK(ctx, MPI_Isend(&s->header, (int)sizeof s->header, MPI_BYTE, dst, tag, tp->comm, &s->req[s->n_req++]));
    if ((h->flags & PD_MSG_PAYLOAD) && x)
        PD_MPI_CHECK(ctx, MPI_Isend(pd_state_cdata(x), (int)state_bytes(x), MPI_BYTE, dst, tag, tp->comm,
                                    &s->req[s->n_req++]));
    if ((h->flags & PD_MSG_PAYLOAD) && (h->flags & PD_MSG_HIST) && hist)
        PD_MPI_CHECK(ctx, MPI_Isend(pd_state_cdata(hist), (int)state_bytes(hist), MPI_BYTE, dst, tag, tp->comm,
                                    &s->req[s->n_req++]));
    tp->times.comm_s += MPI_Wtime() - t0;
    return PD_OK;
}

pd_status pd_transport_recv(pd_ctx *ctx, pd_transport *tp, int src, int channel, pd_msg_header *h,
                            pd_state *x, pd_state *hist)
{
    int tag = 100 + channel;
    double t0 = MPI_Wtime();
    PD_MPI_CHECK(ctx, MPI_Recv(h, (int)sizeof *h, MPI_BYTE, src, tag, tp->comm, MPI_STATUS_IGNORE));
    tp->times.wait_s += MPI_Wtime() - t0;
    t0 = MPI_Wtime();
    if (h->flags & PD_MSG_PAYLOAD) {
        if (!x) PD_FAIL(ctx, PD_ERR_MPI, "a state arrived from rank %d with nowhere to go", src);
        PD_TRY(check_cpu(ctx, x));
        PD_MPI_CHECK(ctx, MPI_Recv(pd_state_data(x), (int)state_bytes(x), MPI_BYTE, src, tag, tp->comm, MPI_STATUS_IGNORE));
        if (h->flags & PD_MSG_HIST) {
            if (!hist) PD_FAIL(ctx, PD_ERR_MPI, "a history state arrived from rank %d with nowhere to go", src);
            PD_MPI_CHECK(ctx, MPI_Recv(pd_state_data(hist), (int)state_bytes(hist), MPI_BYTE, src, tag, tp->comm,
                                       MPI_STATUS_IGNORE));
        }
    }
    tp->times.comm_s += MPI_Wtime() - t0;
    return PD_OK;
}

pd_status pd_transport_flush(pd_ctx *ctx, pd_transport *tp)
{
    pd_status st = PD_OK;
    for (int i = 0; i < 2 * tp->size; i++) {
        pd_status s = slot_wait(ctx, tp, &tp->slots[i]);
        if (st == PD_OK) st = s;
    }
    return st;
}

static pd_status allreduce(pd_ctx *ctx, pd_transport *tp, double *vals, int n, MPI_Op op)
{
    double t0 = MPI_Wtime();
    PD_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_DOUBLE, op, tp->comm));
    tp->times.wait_s += MPI_Wtime() - t0; /* a reduction is mostly waiting for the slowest rank */
    return PD_OK;
}

pd_status pd_transport_allreduce_max(pd_ctx *ctx, pd_transport *tp, double *vals, int n)
{
    return allreduce(ctx, tp, vals, n, MPI_MAX);
}

pd_status pd_transport_allreduce_sum(pd_ctx *ctx, pd_transport *tp, double *vals, int n)
{
    return allreduce(ctx, tp, vals, n, MPI_SUM);
}

pd_status pd_transport_bcast(pd_ctx *ctx, pd_transport *tp, void *buf, int bytes, int root)
{
    double t0 = MPI_Wtime();
    PD_MPI_CHECK(ctx, MPI_Bcast(buf, bytes, MPI_BYTE, root, tp->comm));
    tp->times.comm_s += MPI_Wtime() - t0;
    return PD_OK;
}
