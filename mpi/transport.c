/* The transport's common part (transport_impl.h): headers over MPI, one outstanding send per
 * destination and channel, the timings; the states after a header and the reductions go through the
 * implementation's ops table. */
#include <stdlib.h>

#include "mpi/comm.h"
#include "mpi/transport_impl.h"

size_t pd_transport_state_bytes(const pd_state *x)
{
    return (size_t)(pd_state_n_samples(x) * pd_state_dim(x)) * pd_dtype_size(pd_state_dtype(x));
}

pd_status pd_transport_init(pd_ctx *ctx, MPI_Comm comm, const pd_transport_ops *ops, void *impl,
                            pd_transport **out)
{
    pd_transport *tp = calloc(1, sizeof *tp);
    if (!tp) {
        if (ops->destroy) ops->destroy(impl);
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the transport");
    }
    *tp = (pd_transport){.ops = ops, .impl = impl, .comm = comm};
    MPI_Comm_rank(comm, &tp->rank);
    MPI_Comm_size(comm, &tp->size);
    tp->slots = calloc((size_t)tp->size * 2, sizeof *tp->slots);
    if (!tp->slots) {
        pd_transport_destroy(&tp);
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the transport's send slots");
    }
    *out = tp;
    return PD_OK;
}

void pd_transport_destroy(pd_transport **tp)
{
    if (!tp || !*tp) return;
    if ((*tp)->ops->destroy) (*tp)->ops->destroy((*tp)->impl);
    free((*tp)->slots);
    free(*tp);
    *tp = NULL;
}

const char *pd_transport_name(const pd_transport *tp) { return tp->ops->name; }
int pd_transport_rank(const pd_transport *tp) { return tp->rank; }
int pd_transport_size(const pd_transport *tp) { return tp->size; }
MPI_Comm pd_transport_comm(const pd_transport *tp) { return tp->comm; }
pd_transport_times pd_transport_get_times(const pd_transport *tp) { return tp->times; }

/* Wait until slot i's last send is complete: its buffers (header, states) are free again. */
static pd_status slot_wait(pd_ctx *ctx, pd_transport *tp, int i)
{
    pd_tp_slot *s = &tp->slots[i];
    double t0 = MPI_Wtime();
    int e = s->n_req > 0 ? MPI_Waitall(s->n_req, s->req, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    s->n_req = 0;
    pd_status st = e == MPI_SUCCESS ? PD_OK
                 : pd_error_set(ctx, PD_ERR_MPI, __FILE__, __LINE__,
                                "completing a send to rank %d failed (MPI error %d)", i / 2, e);
    if (st == PD_OK && tp->ops->wait_slot) st = tp->ops->wait_slot(ctx, tp, i);
    tp->times.wait_s += MPI_Wtime() - t0;
    return st;
}

/* The states a header announces: x with PD_MSG_PAYLOAD, then hist with PD_MSG_HIST too. */
static int announced(const pd_msg_header *h, const pd_state *x, const pd_state *hist, const pd_state **s)
{
    int n = 0;
    if (!(h->flags & PD_MSG_PAYLOAD)) return 0;
    if (x) s[n++] = x;
    if ((h->flags & PD_MSG_HIST) && hist) s[n++] = hist;
    return n;
}

static int64_t total_bytes(const pd_state *const *s, int n)
{
    int64_t b = 0;
    for (int i = 0; i < n; i++) b += (int64_t)pd_transport_state_bytes(s[i]);
    return b;
}

pd_status pd_transport_send(pd_ctx *ctx, pd_transport *tp, int dst, int channel, const pd_msg_header *h,
                            const pd_state *x, const pd_state *hist)
{
    if (dst < 0 || dst >= tp->size || channel < 0 || channel > 1)
        PD_FAIL(ctx, PD_ERR_INPUT, "pd_transport_send: rank %d, channel %d (expected ranks 0 .. %d, channel 0 or 1)",
                dst, channel, tp->size - 1);
    int i = 2 * dst + channel;
    pd_tp_slot *s = &tp->slots[i];
    PD_TRY(slot_wait(ctx, tp, i)); /* the previous send to dst still owns the buffers */
    const pd_state *states[PD_TP_MAX_STATES];
    int n = announced(h, x, hist, states);
    double t0 = MPI_Wtime();
    s->header = *h;
    s->header.payload_bytes = total_bytes(states, n);
    PD_MPI_CHECK(ctx, MPI_Isend(&s->header, (int)sizeof s->header, MPI_BYTE, dst, PD_TP_TAG(channel), tp->comm,
                                &s->req[s->n_req++]));
    pd_status st = n > 0 ? tp->ops->send_states(ctx, tp, i, dst, channel, states, n) : PD_OK;
    tp->times.comm_s += MPI_Wtime() - t0;
    return st;
}

pd_status pd_transport_recv(pd_ctx *ctx, pd_transport *tp, int src, int channel, pd_msg_header *h,
                            pd_state *x, pd_state *hist)
{
    double t0 = MPI_Wtime();
    PD_MPI_CHECK(ctx, MPI_Recv(h, (int)sizeof *h, MPI_BYTE, src, PD_TP_TAG(channel), tp->comm, MPI_STATUS_IGNORE));
    tp->times.wait_s += MPI_Wtime() - t0;
    if (!(h->flags & PD_MSG_PAYLOAD)) return PD_OK;
    pd_state *states[PD_TP_MAX_STATES];
    int n = 0;
    if (!x) PD_FAIL(ctx, PD_ERR_MPI, "a state arrived from rank %d with nowhere to go", src);
    states[n++] = x;
    if (h->flags & PD_MSG_HIST) {
        if (!hist) PD_FAIL(ctx, PD_ERR_MPI, "a history state arrived from rank %d with nowhere to go", src);
        states[n++] = hist;
    }
    int64_t want = total_bytes((const pd_state *const *)states, n);
    if (h->payload_bytes != want) /* the sender's states differ in shape or dtype: nothing would match */
        PD_FAIL(ctx, PD_ERR_MPI, "rank %d sent %lld bytes of states, rank %d expected %lld", src,
                (long long)h->payload_bytes, tp->rank, (long long)want);
    t0 = MPI_Wtime();
    pd_status st = tp->ops->recv_states(ctx, tp, src, channel, states, n);
    tp->times.comm_s += MPI_Wtime() - t0;
    return st;
}

pd_status pd_transport_flush(pd_ctx *ctx, pd_transport *tp)
{
    pd_status st = PD_OK;
    for (int i = 0; i < 2 * tp->size; i++) {
        pd_status s = slot_wait(ctx, tp, i);
        if (st == PD_OK) st = s;
    }
    return st;
}

int pd_transport_probe(pd_transport *tp, int src, int channel)
{
    int ready = 0;
    MPI_Iprobe(src, PD_TP_TAG(channel), tp->comm, &ready, MPI_STATUS_IGNORE);
    return ready;
}

pd_status pd_transport_mpi_allreduce(pd_ctx *ctx, pd_transport *tp, double *vals, int n, pd_reduce_op op)
{
    PD_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_DOUBLE, op == PD_REDUCE_MAX ? MPI_MAX : MPI_SUM,
                                    tp->comm));
    return PD_OK;
}

static pd_status allreduce(pd_ctx *ctx, pd_transport *tp, double *vals, int n, pd_reduce_op op)
{
    double t0 = MPI_Wtime();
    pd_status st = tp->ops->allreduce(ctx, tp, vals, n, op);
    tp->times.wait_s += MPI_Wtime() - t0; /* a reduction is mostly waiting for the slowest rank */
    return st;
}

pd_status pd_transport_allreduce_max(pd_ctx *ctx, pd_transport *tp, double *vals, int n)
{
    return allreduce(ctx, tp, vals, n, PD_REDUCE_MAX);
}

pd_status pd_transport_allreduce_sum(pd_ctx *ctx, pd_transport *tp, double *vals, int n)
{
    return allreduce(ctx, tp, vals, n, PD_REDUCE_SUM);
}

/* Host bytes, a few per run: MPI in both implementations (NCCL would add a copy to the GPU and back). */
pd_status pd_transport_bcast(pd_ctx *ctx, pd_transport *tp, void *buf, int bytes, int root)
{
    double t0 = MPI_Wtime();
    PD_MPI_CHECK(ctx, MPI_Bcast(buf, bytes, MPI_BYTE, root, tp->comm));
    tp->times.comm_s += MPI_Wtime() - t0;
    return PD_OK;
}
