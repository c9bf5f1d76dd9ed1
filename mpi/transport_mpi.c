/* The MPI transport: every state as one message after its header, on the header's tag (MPI keeps the
 * order of messages between two ranks on one tag). Where the states live decides how:
 *   CPU states         straight from and into the state's memory;
 *   GPU, CUDA-aware    straight from and into device memory, once the GPU is idle (MPI reads and
 *                      writes the memory outside the CUDA streams);
 *   GPU, not aware     staged: copied to a pinned host buffer per destination and channel (it must
 *                      outlive the non-blocking send, like the header), received into a pinned
 *                      buffer and copied to the device.
 * Either way a state is one message of the same bytes, so ranks need not agree on how they send.
 * Reductions: host values, MPI_Allreduce. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h> /* Open MPI (after mpi.h): MPIX_CUDA_AWARE_SUPPORT, MPIX_Query_cuda_support */
#endif
#endif

#include "mpi/comm.h"
#include "mpi/transport_impl.h"
#ifdef PD_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/cuda_device.h"
#endif

typedef struct pd_host_buf {
    void *p; /* pinned */
    size_t cap;
} pd_host_buf;

typedef struct mpi_impl {
    int cuda_aware;    /* the MPI library reads and writes device memory itself */
    int n_send;
    pd_host_buf *send; /* [n_send = 2 * size]: staging of each slot's states */
    pd_host_buf recv;  /* staging of received states */
} mpi_impl;

int pd_transport_mpi_cuda_aware(void)
{
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
    return MPIX_Query_cuda_support() == 1;
#elif defined(MPIX_GPU_SUPPORT_CUDA) /* MPICH */
    int yes = 0;
    return MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA, &yes) == MPI_SUCCESS && yes;
#else
    return 0;
#endif
}

static void mpi_impl_destroy(void *impl)
{
    mpi_impl *m = impl;
    if (!m) return;
#ifdef PD_HAVE_CUDA
    for (int i = 0; m->send && i < m->n_send; i++) pd_cuda_host_free(m->send[i].p);
    pd_cuda_host_free(m->recv.p);
#endif
    free(m->send);
    free(m);
}

static int on_gpu(const pd_state *x) { return pd_state_device(x) == PD_DEVICE_CUDA; }
static int staged(const mpi_impl *m, const pd_state *x) { return on_gpu(x) && !m->cuda_aware; }

#ifdef PD_HAVE_CUDA
/* b holds at least bytes (old contents dropped). */
static pd_status host_buf_reserve(pd_ctx *ctx, pd_host_buf *b, size_t bytes)
{
    if (b->cap >= bytes) return PD_OK;
    pd_cuda_host_free(b->p);
    b->p = NULL;
    b->cap = 0;
    PD_TRY(pd_cuda_host_alloc(ctx, bytes, &b->p));
    b->cap = bytes;
    return PD_OK;
}
#endif

/* from[i]: where MPI reads state i: the state's own memory (CPU; GPU with CUDA-aware MPI, once the
 * GPU is idle), or its copy in the slot's pinned buffer (GPU without). */
static pd_status send_buffers(pd_ctx *ctx, mpi_impl *m, int slot, const pd_state *const *x, int n,
                              const void **from)
{
    size_t need = 0;
    int device = 0;
    for (int i = 0; i < n; i++) {
        from[i] = pd_state_cdata(x[i]);
        device |= on_gpu(x[i]);
        if (staged(m, x[i])) need += pd_transport_state_bytes(x[i]);
    }
    if (!device) return PD_OK;
#ifdef PD_HAVE_CUDA
    if (m->cuda_aware) return pd_cuda_synchronize(ctx); /* MPI reads outside the CUDA streams */
    PD_TRY(host_buf_reserve(ctx, &m->send[slot], need));
    char *to = m->send[slot].p;
    for (int i = 0; i < n; i++) {
        if (!staged(m, x[i])) continue;
        size_t bytes = pd_transport_state_bytes(x[i]);
        PD_TRY(pd_cuda_memcpy(ctx, to, from[i], bytes, PD_COPY_D2H)); /* after the kernels that wrote it */
        from[i] = to;
        to += bytes;
    }
    return PD_OK;
#else
    (void)slot, (void)need;
    PD_FAIL(ctx, PD_ERR_INPUT, "GPU states in a build without CUDA");
#endif
}

/* MPI counts are int: one message carries < 2 GiB. Larger states are refused as a transport failure (the
 * header may already be on its way: the run aborts rather than leave the receiver waiting). */
static pd_status check_count(pd_ctx *ctx, size_t bytes)
{
    if (bytes > (size_t)INT_MAX)
        PD_FAIL(ctx, PD_ERR_MPI, "MPI transport: a state of %zu bytes exceeds one message's 2 GiB limit (fewer "
                "samples per run, or device.comm: nccl)", bytes);
    return PD_OK;
}

static pd_status mpi_send_states(pd_ctx *ctx, pd_transport *tp, int slot, int dst, int channel,
                                 const pd_state *const *x, int n)
{
    mpi_impl *m = tp->impl;
    pd_tp_slot *s = &tp->slots[slot];
    const void *from[PD_TP_MAX_STATES];
    PD_TRY(send_buffers(ctx, m, slot, x, n, from));
    for (int i = 0; i < n; i++) PD_TRY(check_count(ctx, pd_transport_state_bytes(x[i])));
    for (int i = 0; i < n; i++)
        PD_MPI_CHECK(ctx, MPI_Isend(from[i], (int)pd_transport_state_bytes(x[i]), MPI_BYTE, dst, PD_TP_TAG(channel),
                                    tp->comm, &s->req[s->n_req++]));
    return PD_OK;
}

/* One state from src into x: directly, or through the pinned receive buffer. */
static pd_status recv_one(pd_ctx *ctx, pd_transport *tp, int src, int channel, pd_state *x)
{
    mpi_impl *m = tp->impl;
    size_t bytes = pd_transport_state_bytes(x);
    void *into = pd_state_data(x);
    PD_TRY(check_count(ctx, bytes));
#ifdef PD_HAVE_CUDA
    if (on_gpu(x) && m->cuda_aware) PD_TRY(pd_cuda_synchronize(ctx)); /* no kernel still reads x */
    if (staged(m, x)) {
        PD_TRY(host_buf_reserve(ctx, &m->recv, bytes));
        into = m->recv.p;
    }
#else
    if (staged(m, x)) PD_FAIL(ctx, PD_ERR_INPUT, "GPU states in a build without CUDA");
#endif
    PD_MPI_CHECK(ctx, MPI_Recv(into, (int)bytes, MPI_BYTE, src, PD_TP_TAG(channel), tp->comm, MPI_STATUS_IGNORE));
#ifdef PD_HAVE_CUDA
    if (staged(m, x)) PD_TRY(pd_cuda_memcpy(ctx, pd_state_data(x), into, bytes, PD_COPY_H2D));
#endif
    return PD_OK;
}

static pd_status mpi_recv_states(pd_ctx *ctx, pd_transport *tp, int src, int channel, pd_state *const *x, int n)
{
    for (int i = 0; i < n; i++) PD_TRY(recv_one(ctx, tp, src, channel, x[i]));
    return PD_OK;
}

static const pd_transport_ops mpi_ops = {
    .name = "mpi",
    .send_states = mpi_send_states,
    .wait_slot = NULL, /* everything in flight is an MPI request of the slot */
    .recv_states = mpi_recv_states,
    .allreduce = pd_transport_mpi_allreduce,
    .destroy = mpi_impl_destroy,
};

pd_status pd_transport_create_mpi(pd_ctx *ctx, MPI_Comm comm, int cuda_aware, pd_transport **out)
{
    int size = 1;
    PD_MPI_CHECK(ctx, MPI_Comm_size(comm, &size));
    mpi_impl *m = calloc(1, sizeof *m);
    if (m) m->send = calloc((size_t)size * 2, sizeof *m->send);
    if (!m || !m->send) {
        mpi_impl_destroy(m);
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the MPI transport");
    }
    m->n_send = size * 2;
    m->cuda_aware = cuda_aware != 0;
    return pd_transport_init(ctx, comm, &mpi_ops, m, out);
}
