/* The NCCL transport: headers over MPI (transport.c), the GPU states after them over NCCL, and the
 * reductions with ncclAllReduce.
 *
 * Streams. NCCL works on a stream of its own (non-blocking, so that the compute on the default stream
 * never waits behind a send whose receiver is still busy). Before a transfer, the stream waits for
 * an event recorded on the legacy default stream, where the state operations and models run: the
 * states are written before NCCL reads them. A send's completion is an event per destination and
 * channel, waited for before the next send there (the states may change only then, transport.h); a
 * receive or a reduction is waited for before the call returns, so the kernels launched after it see
 * the data.
 *
 * Matching. NCCL pairs sends and receives between two ranks in the order they are posted; the
 * header that announces the states goes first over MPI, so the receiver posts its ncclRecv in the
 * sender's order. Only channel 0 may carry states (the control channel is read out of order by
 * MPI_Iprobe, which NCCL's order could not follow).
 *
 * Errors. The communicator is non-blocking (ncclConfig_t.blocking = 0): no NCCL call blocks, and every
 * wait polls ncclCommGetAsyncError and the clock. An error or a wait beyond the timeout aborts the
 * communicator (ncclCommAbort) and returns PD_ERR_NCCL, after which the run aborts every rank (a peer
 * of an aborted communicator could wait forever). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi/comm.h"
#include "mpi/transport_impl.h"

#ifdef PD_HAVE_CUDA

#define PD_NCCL_RED_VALUES 4096 /* > B + 2 of Parareal's per-iteration reduction for any B in use */

#include <cuda_runtime.h>
#include <nccl.h>

typedef struct nccl_impl {
    ncclComm_t comm;
    int aborted;            /* comm was aborted: every later call fails at once */
    double timeout_s;
    cudaStream_t stream;    /* NCCL's */
    cudaEvent_t ready;      /* recorded on the default stream before a transfer */
    cudaEvent_t done;       /* a receive or reduction finished */
    int n_slots;
    cudaEvent_t *sent;      /* [n_slots]: the slot's last send finished */
    unsigned char *pending; /* [n_slots]: sent[i] is recorded and not waited for */
    double *dred, *hred;    /* reduction buffers: device, pinned host */
    int red_cap;
} nccl_impl;

/* ---------------------------------------------------------------- errors and waiting */

/* Abort the communicator after an error: peers waiting on this rank in NCCL then fail or time out
 * instead of waiting for ever. */
static void nccl_abort(nccl_impl *w)
{
    if (w->comm && !w->aborted) ncclCommAbort(w->comm);
    w->aborted = 1;
}

static pd_status nccl_fail(pd_ctx *ctx, nccl_impl *w, ncclResult_t r, const char *what)
{
    const char *last = w->comm ? ncclGetLastError(w->comm) : "";
    pd_status st = pd_error_set(ctx, PD_ERR_NCCL, __FILE__, __LINE__, "NCCL: %s: %s%s%s", what,
                                ncclGetErrorString(r), last && last[0] ? ": " : "", last ? last : "");
    nccl_abort(w);
    return st;
}

static pd_status cuda_fail(pd_ctx *ctx, nccl_impl *w, cudaError_t e, const char *what)
{
    (void)cudaGetLastError();
    pd_status st = pd_error_set(ctx, PD_ERR_NCCL, __FILE__, __LINE__, "NCCL transport: %s: CUDA: %s", what,
                                cudaGetErrorString(e));
    nccl_abort(w);
    return st;
}

static pd_status timed_out(pd_ctx *ctx, nccl_impl *w, const char *what)
{
    pd_status st = pd_error_set(ctx, PD_ERR_NCCL, __FILE__, __LINE__, "NCCL: %s: no progress after %g s "
                                "(device.timeout); communicator aborted", what, w->timeout_s);
    nccl_abort(w);
    return st;
}

/* Between polls: spin a while (a transfer is often done within microseconds), then sleep briefly so
 * that a long wait does not take a core from the ranks that share this node. */
static void backoff(int *polls)
{
    if (++*polls < 1000) return;
    struct timespec t = {0, *polls < 20000 ? 10000 : 200000};
    nanosleep(&t, NULL);
}

static pd_status check_async(pd_ctx *ctx, nccl_impl *w, const char *what, ncclResult_t *state)
{
    ncclResult_t r = ncclCommGetAsyncError(w->comm, state);
    if (r != ncclSuccess) *state = r;
    if (*state != ncclSuccess && *state != ncclInProgress) return nccl_fail(ctx, w, *state, what);
    return PD_OK;
}

/* Inside a group a call only records the operation: success, or in progress on a non-blocking
 * communicator. */
static int issued(ncclResult_t r) { return r == ncclSuccess || r == ncclInProgress; }

/* A non-blocking NCCL call returned r: wait until the communicator has finished issuing it (its work
 * is on the stream then), or fail. */
static pd_status settle(pd_ctx *ctx, nccl_impl *w, ncclResult_t r, const char *what)
{
    if (r != ncclSuccess && r != ncclInProgress) return nccl_fail(ctx, w, r, what);
    double deadline = MPI_Wtime() + w->timeout_s;
    int polls = 0;
    ncclResult_t state = r;
    while (state == ncclInProgress) {
        if (MPI_Wtime() > deadline) return timed_out(ctx, w, what);
        backoff(&polls);
        PD_TRY(check_async(ctx, w, what, &state));
    }
    return PD_OK;
}

/* Wait for ev, watching NCCL's asynchronous errors and the clock. */
static pd_status wait_event(pd_ctx *ctx, nccl_impl *w, cudaEvent_t ev, const char *what)
{
    double deadline = MPI_Wtime() + w->timeout_s;
    int polls = 0;
    for (;;) {
        cudaError_t e = cudaEventQuery(ev);
        if (e == cudaSuccess) return PD_OK;
        if (e != cudaErrorNotReady) return cuda_fail(ctx, w, e, what);
        (void)cudaGetLastError(); /* "not ready" must not linger as the last error a kernel check then reads */
        ncclResult_t state;
        PD_TRY(check_async(ctx, w, what, &state));
        if (MPI_Wtime() > deadline) return timed_out(ctx, w, what);
        backoff(&polls);
    }
}

static pd_status usable(pd_ctx *ctx, const nccl_impl *w)
{
    if (w->aborted) PD_FAIL(ctx, PD_ERR_NCCL, "the NCCL communicator was aborted after an earlier error");
    return PD_OK;
}

/* NCCL's stream waits for the work queued so far on the default stream (the states' writers and
 * readers). */
static pd_status after_default_stream(pd_ctx *ctx, nccl_impl *w)
{
    cudaError_t e = cudaEventRecord(w->ready, cudaStreamLegacy);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(w->stream, w->ready, 0);
    return e == cudaSuccess ? PD_OK : cuda_fail(ctx, w, e, "ordering after the default stream");
}

static pd_status check_gpu_states(pd_ctx *ctx, const pd_state *const *x, int n, int channel)
{
    for (int i = 0; i < n; i++)
        if (pd_state_device(x[i]) != PD_DEVICE_CUDA)
            PD_FAIL(ctx, PD_ERR_NCCL, "the NCCL transport moves GPU states only (got a %s state)",
                    pd_device_name(pd_state_device(x[i])));
    if (n > 0 && channel != 0)
        PD_FAIL(ctx, PD_ERR_NCCL, "the NCCL transport carries states on channel 0 only (got channel %d)", channel);
    return PD_OK;
}

/* ---------------------------------------------------------------- the ops */

static pd_status nccl_send_states(pd_ctx *ctx, pd_transport *tp, int slot, int dst, int channel,
                                  const pd_state *const *x, int n)
{
    nccl_impl *w = tp->impl;
    PD_TRY(usable(ctx, w));
    PD_TRY(check_gpu_states(ctx, x, n, channel));
    PD_TRY(after_default_stream(ctx, w));
    ncclResult_t r = ncclGroupStart();
    for (int i = 0; i < n && issued(r); i++)
        r = ncclSend(pd_state_cdata(x[i]), pd_transport_state_bytes(x[i]), ncclUint8, dst, w->comm, w->stream);
    ncclResult_t g = ncclGroupEnd(); /* always closed, also after a failed call inside */
    PD_TRY(settle(ctx, w, issued(r) ? g : r, "sending a boundary state"));
    cudaError_t e = cudaEventRecord(w->sent[slot], w->stream);
    if (e != cudaSuccess) return cuda_fail(ctx, w, e, "recording a send");
    w->pending[slot] = 1;
    return PD_OK;
}

static pd_status nccl_wait_slot(pd_ctx *ctx, pd_transport *tp, int slot)
{
    nccl_impl *w = tp->impl;
    if (!w->pending[slot]) return PD_OK;
    PD_TRY(usable(ctx, w));
    PD_TRY(wait_event(ctx, w, w->sent[slot], "completing a send (its receiver never took it)"));
    w->pending[slot] = 0;
    return PD_OK;
}

static pd_status nccl_recv_states(pd_ctx *ctx, pd_transport *tp, int src, int channel, pd_state *const *x, int n)
{
    nccl_impl *w = tp->impl;
    PD_TRY(usable(ctx, w));
    PD_TRY(check_gpu_states(ctx, (const pd_state *const *)x, n, channel));
    PD_TRY(after_default_stream(ctx, w)); /* kernels still reading the old contents finish first */
    ncclResult_t r = ncclGroupStart();
    for (int i = 0; i < n && issued(r); i++)
        r = ncclRecv(pd_state_data(x[i]), pd_transport_state_bytes(x[i]), ncclUint8, src, w->comm, w->stream);
    ncclResult_t g = ncclGroupEnd();
    PD_TRY(settle(ctx, w, issued(r) ? g : r, "receiving a boundary state"));
    cudaError_t e = cudaEventRecord(w->done, w->stream);
    if (e != cudaSuccess) return cuda_fail(ctx, w, e, "recording a receive");
    return wait_event(ctx, w, w->done, "receiving a boundary state (its sender stopped)");
}

/* The reduction buffers hold n values. They are made at creation for PD_NCCL_RED_VALUES and grow
 * only for longer reductions: cudaFree waits for the whole device, including a send whose receiver
 * is still busy (no deadlock, but a wait without the timeout's watch). */
static pd_status reserve_reduction(pd_ctx *ctx, nccl_impl *w, int n)
{
    if (n <= w->red_cap) return PD_OK;
    cudaFree(w->dred);
    cudaFreeHost(w->hred);
    w->dred = w->hred = NULL;
    w->red_cap = 0;
    cudaError_t e = cudaMalloc((void **)&w->dred, sizeof(double) * (size_t)n);
    if (e == cudaSuccess) e = cudaMallocHost((void **)&w->hred, sizeof(double) * (size_t)n);
    if (e != cudaSuccess) return cuda_fail(ctx, w, e, "allocating the reduction buffers");
    w->red_cap = n;
    return PD_OK;
}

/* Host values through the GPU: copy in, ncclAllReduce, copy out, all on NCCL's stream. */
static pd_status nccl_allreduce(pd_ctx *ctx, pd_transport *tp, double *vals, int n, pd_reduce_op op)
{
    nccl_impl *w = tp->impl;
    PD_TRY(usable(ctx, w));
    if (n <= 0) return PD_OK;
    PD_TRY(reserve_reduction(ctx, w, n));
    size_t bytes = sizeof(double) * (size_t)n;
    memcpy(w->hred, vals, bytes);
    cudaError_t e = cudaMemcpyAsync(w->dred, w->hred, bytes, cudaMemcpyHostToDevice, w->stream);
    if (e != cudaSuccess) return cuda_fail(ctx, w, e, "copying values to reduce");
    PD_TRY(settle(ctx, w, ncclAllReduce(w->dred, w->dred, (size_t)n, ncclFloat64, op == PD_REDUCE_MAX ? ncclMax : ncclSum,
                                        w->comm, w->stream), "all-reduce"));
    e = cudaMemcpyAsync(w->hred, w->dred, bytes, cudaMemcpyDeviceToHost, w->stream);
    if (e == cudaSuccess) e = cudaEventRecord(w->done, w->stream);
    if (e != cudaSuccess) return cuda_fail(ctx, w, e, "copying reduced values back");
    PD_TRY(wait_event(ctx, w, w->done, "all-reduce (a rank did not join)"));
    memcpy(vals, w->hred, bytes);
    return PD_OK;
}

/* Finalize (flushes, waits for the peers' quiescence; bounded by the timeout) and destroy; abort
 * when that fails or the communicator was never healthy. */
static void close_comm(nccl_impl *w)
{
    if (!w->comm || w->aborted) return;
    ncclResult_t r = ncclCommFinalize(w->comm);
    double deadline = MPI_Wtime() + w->timeout_s;
    int polls = 0;
    while (r == ncclInProgress && MPI_Wtime() <= deadline) {
        backoff(&polls);
        if (ncclCommGetAsyncError(w->comm, &r) != ncclSuccess) r = ncclInternalError;
    }
    if (r == ncclSuccess) ncclCommDestroy(w->comm);
    else ncclCommAbort(w->comm);
}

static void nccl_impl_destroy(void *impl)
{
    nccl_impl *w = impl;
    if (!w) return;
    close_comm(w);
    for (int i = 0; w->sent && i < w->n_slots; i++)
        if (w->sent[i]) cudaEventDestroy(w->sent[i]);
    if (w->ready) cudaEventDestroy(w->ready);
    if (w->done) cudaEventDestroy(w->done);
    if (w->stream) cudaStreamDestroy(w->stream);
    cudaFree(w->dred);
    cudaFreeHost(w->hred);
    free(w->sent);
    free(w->pending);
    free(w);
}

static const pd_transport_ops nccl_ops = {
    .name = "nccl",
    .send_states = nccl_send_states,
    .wait_slot = nccl_wait_slot,
    .recv_states = nccl_recv_states,
    .allreduce = nccl_allreduce,
    .destroy = nccl_impl_destroy,
};

/* ---------------------------------------------------------------- creation */

/* This rank's stream, events and bookkeeping (no communication). */
static pd_status local_resources(pd_ctx *ctx, nccl_impl *w, int size)
{
    w->n_slots = 2 * size;
    w->sent = calloc((size_t)w->n_slots, sizeof *w->sent);
    w->pending = calloc((size_t)w->n_slots, 1);
    if (!w->sent || !w->pending) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the NCCL transport");
    cudaError_t e = cudaStreamCreateWithFlags(&w->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&w->ready, cudaEventDisableTiming);
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&w->done, cudaEventDisableTiming);
    for (int i = 0; i < w->n_slots && e == cudaSuccess; i++) e = cudaEventCreateWithFlags(&w->sent[i], cudaEventDisableTiming);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        PD_FAIL(ctx, PD_ERR_CUDA, "NCCL transport: creating its stream and events: %s", cudaGetErrorString(e));
    }
    return reserve_reduction(ctx, w, PD_NCCL_RED_VALUES);
}

/* Rank 0 makes the id and broadcasts it with its status, so that a failure there stops every rank
 * here instead of in ncclCommInitRank. */
static pd_status share_id(pd_ctx *ctx, MPI_Comm comm, int rank, ncclUniqueId *id)
{
    struct {
        int32_t status;
        ncclUniqueId id;
    } boot;
    memset(&boot, 0, sizeof boot);
    if (rank == 0) boot.status = (int32_t)ncclGetUniqueId(&boot.id);
    PD_MPI_CHECK(ctx, MPI_Bcast(&boot, (int)sizeof boot, MPI_BYTE, 0, comm));
    if (boot.status != ncclSuccess)
        PD_FAIL(ctx, PD_ERR_NCCL, "NCCL: ncclGetUniqueId on rank 0 failed: %s",
                ncclGetErrorString((ncclResult_t)boot.status));
    *id = boot.id;
    return PD_OK;
}

pd_status pd_transport_create_nccl(pd_ctx *ctx, MPI_Comm comm, double timeout_s, pd_transport **out)
{
    int rank = 0, size = 1;
    PD_MPI_CHECK(ctx, MPI_Comm_rank(comm, &rank));
    PD_MPI_CHECK(ctx, MPI_Comm_size(comm, &size));
    nccl_impl *w = calloc(1, sizeof *w);
    pd_status st = w ? local_resources(ctx, w, size)
                     : pd_error_set(ctx, PD_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate the NCCL transport");
    if (w) w->timeout_s = timeout_s > 0 ? timeout_s : 600.0;
    /* every rank ready before anyone enters the communicator's creation (which would wait for it) */
    pd_agreement a;
    pd_status e = pd_comm_agree(ctx, comm, st, &a);
    if (e == PD_OK && a.status != PD_OK)
        e = st != PD_OK ? st : pd_error_set(ctx, PD_ERR_REMOTE, __FILE__, __LINE__, "rank %d failed", a.failing_rank);
    ncclUniqueId id;
    if (e == PD_OK) e = share_id(ctx, comm, rank, &id);
    if (e == PD_OK) {
        ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
        cfg.blocking = 0;
        cfg.commName = "pintdiff";
        e = settle(ctx, w, ncclCommInitRankConfig(&w->comm, size, id, rank, &cfg), "creating the communicator");
    }
    if (e != PD_OK) {
        nccl_impl_destroy(w);
        return e;
    }
    return pd_transport_init(ctx, comm, &nccl_ops, w, out);
}

#else /* no CUDA backend */

pd_status pd_transport_create_nccl(pd_ctx *ctx, MPI_Comm comm, double timeout_s, pd_transport **out)
{
    (void)comm, (void)timeout_s, (void)out;
    PD_FAIL(ctx, PD_ERR_INPUT, "device.comm: nccl: this pintdiff was built without CUDA and NCCL "
            "(PINTDIFF_CUDA=OFF); use mpi or auto");
}

#endif
