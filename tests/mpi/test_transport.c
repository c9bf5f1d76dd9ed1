/* The transport between ranks, written once for every implementation (STYLE.md habit 12):
 *
 *   test_transport --device cpu|cuda [--comm mpi|nccl] [--fault]
 *
 * A chain r -> r + 1 on channel 0 of states with and without a history state, in both dtypes and a
 * range of sizes (one far beyond MPI's eager limit), two buffers used in turn (a send must finish
 * before its buffer is written again: the contract of transport.h); control messages without states
 * on channel 1, found by MPI_Iprobe as the Parareal driver finds them; reductions of many values; the
 * broadcast. GPU runs bind through pd_device_setup, as `pintdiff run` does, and exit 77 (skipped)
 * without a GPU, or for nccl with fewer GPUs than ranks on a node.
 *
 * --fault (nccl): a send nobody receives must not hang: the wait gives up after device.timeout,
 * aborts the communicator, and every later call fails at once. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/config.h"
#include "mpi/comm.h"
#include "mpi/device.h"
#include "mpi/transport.h"
#include "pd_test.h"
#ifdef PD_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

static pd_ctx *ctx;
static int rank, size;

/* Value i of the state that `who` sends in round k: a multiple of 1/8 below 2^17, exact in float32,
 * so that both dtypes carry it bitwise. */
static double pattern(int who, int k, int64_t i, int hist)
{
    return (double)(((int64_t)who * 7919 + (int64_t)k * 131 + i * 3 + hist * 50000) % 100000) * 0.125;
}

/* x = v (n_samples * dim doubles), through a host state of x's dtype when x is on a GPU. */
static pd_status put(pd_state *x, const double *v)
{
    if (pd_state_device(x) == PD_DEVICE_CPU) return pd_state_write_f64(ctx, x, v);
    pd_state *h = NULL;
    PD_TRY(pd_state_create(ctx, pd_state_dtype(x), PD_DEVICE_CPU, pd_state_n_samples(x), pd_state_dim(x), 0, &h));
    pd_status st = pd_state_write_f64(ctx, h, v);
    if (st == PD_OK) st = pd_state_copy(ctx, x, h);
    pd_state_destroy(&h);
    return st;
}

static pd_status get(const pd_state *x, double *v)
{
    if (pd_state_device(x) == PD_DEVICE_CPU) return pd_state_read_f64(ctx, x, v);
    pd_state *h = NULL;
    PD_TRY(pd_state_create(ctx, pd_state_dtype(x), PD_DEVICE_CPU, pd_state_n_samples(x), pd_state_dim(x), 0, &h));
    pd_status st = pd_state_copy(ctx, h, x);
    if (st == PD_OK) st = pd_state_read_f64(ctx, h, v);
    pd_state_destroy(&h);
    return st;
}

/* x = the pattern, written last by a state operation (a kernel on a GPU, still queued when the send
 * starts): half the pattern is copied in, then doubled, exactly. A transport that reads the state
 * without waiting for the work before it sends half the pattern. */
static pd_status fill(pd_state *x, int who, int k, int hist, double *buf)
{
    int64_t n = pd_state_n_samples(x) * pd_state_dim(x);
    for (int64_t i = 0; i < n; i++) buf[i] = 0.5 * pattern(who, k, i, hist);
    PD_TRY(put(x, buf));
    const double two = 2.0;
    const pd_state *v = x;
    return pd_state_lincomb(ctx, x, 1, &two, &v, NULL);
}

/* Number of elements of x that differ from the pattern. */
static int64_t mismatches(const pd_state *x, int who, int k, int hist, double *buf)
{
    int64_t n = pd_state_n_samples(x) * pd_state_dim(x), bad = 0;
    if (get(x, buf) != PD_OK) return n;
    for (int64_t i = 0; i < n; i++) bad += buf[i] != pattern(who, k, i, hist);
    return bad;
}

typedef struct shape {
    pd_dtype dt;
    int64_t n, dim;
} shape;

/* The chain for one shape: `rounds` messages from each rank to the next, alternating two send
 * buffers, history on odd rounds; the last rank announces each round on channel 1 to everyone. */
static int chain(pd_transport *tp, pd_device_kind dev, shape s, int rounds)
{
    pd_state *x[2] = {0}, *h[2] = {0}, *y = NULL, *yh = NULL;
    double *buf = malloc(sizeof(double) * (size_t)(s.n * s.dim));
    for (int b = 0; b < 2; b++) {
        PD_TEST_CHECK(ctx, pd_state_create(ctx, s.dt, dev, s.n, s.dim, 0, &x[b]));
        PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x[b], &h[b]));
    }
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x[0], &y));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x[0], &yh));
    int fails = 0, last = size - 1;
    for (int k = 0; k < rounds; k++) {
        int b = k % 2, hist = k % 2;
        if (rank < last) {
            PD_TEST_CHECK(ctx, fill(x[b], rank, k, 0, buf)); /* buffer b's send of round k - 2 is done */
            PD_TEST_CHECK(ctx, fill(h[b], rank, k, 1, buf));
            pd_msg_header m = {.iter = k, .flags = PD_MSG_PAYLOAD | (hist ? PD_MSG_HIST : 0), .hist_step = k,
                               .clock = 10 * k + rank};
            PD_TEST_CHECK(ctx, pd_transport_send(ctx, tp, rank + 1, 0, &m, x[b], h[b]));
        }
        if (rank > 0) {
            pd_msg_header m;
            PD_TEST_CHECK(ctx, pd_transport_recv(ctx, tp, rank - 1, 0, &m, y, yh));
            fails += pd_expect_true(m.iter == k && m.clock == 10 * k + rank - 1, "header in order, intact");
            fails += pd_expect_true(!!(m.flags & PD_MSG_HIST) == hist, "history flag");
            fails += pd_expect_true(mismatches(y, rank - 1, k, 0, buf) == 0, "state arrives bitwise");
            if (hist) fails += pd_expect_true(mismatches(yh, rank - 1, k, 1, buf) == 0, "history arrives bitwise");
        }
        if (rank == last) {
            pd_msg_header c = {.iter = k, .flags = 0, .hist_step = -1, .max_residual = 0.5 * k};
            for (int r = 0; r < last; r++) PD_TEST_CHECK(ctx, pd_transport_send(ctx, tp, r, 1, &c, NULL, NULL));
        } else {
            int ready = 0;
            while (!ready) MPI_Iprobe(last, 101, pd_transport_comm(tp), &ready, MPI_STATUS_IGNORE);
            pd_msg_header c;
            PD_TEST_CHECK(ctx, pd_transport_recv(ctx, tp, last, 1, &c, NULL, NULL));
            fails += pd_expect_true(c.iter == k && c.max_residual == 0.5 * k, "control message");
        }
    }
    PD_TEST_CHECK(ctx, pd_transport_flush(ctx, tp));
    for (int b = 0; b < 2; b++) pd_state_destroy(&x[b]), pd_state_destroy(&h[b]);
    pd_state_destroy(&y);
    pd_state_destroy(&yh);
    free(buf);
    return fails;
}

static int reductions(pd_transport *tp)
{
    enum { N = 5000 }; /* beyond what the NCCL transport reserves at creation: its buffers grow */
    double *v = malloc(sizeof(double) * N);
    int fails = 0;
    for (int i = 0; i < N; i++) v[i] = (i % 2 ? -1.0 : 1.0) * (rank + i);
    PD_TEST_CHECK(ctx, pd_transport_allreduce_max(ctx, tp, v, N));
    int bad = 0;
    for (int i = 0; i < N; i++) bad += v[i] != (i % 2 ? -(double)i : (double)(size - 1 + i));
    fails += pd_expect_true(bad == 0, "allreduce max of 5000 values");
    double s[2] = {1.0, (double)rank};
    PD_TEST_CHECK(ctx, pd_transport_allreduce_sum(ctx, tp, s, 2));
    fails += pd_expect_true(s[0] == size && s[1] == size * (size - 1) / 2.0, "allreduce sum");
    int64_t c[2] = {rank == size - 1 ? 4242 : 0, rank};
    PD_TEST_CHECK(ctx, pd_transport_bcast(ctx, tp, c, (int)sizeof c, size - 1));
    fails += pd_expect_true(c[0] == 4242 && c[1] == size - 1, "broadcast from the last rank");
    pd_transport_times t = pd_transport_get_times(tp);
    fails += pd_expect_true(t.wait_s >= 0 && t.comm_s >= 0, "times are accounted");
    free(v);
    return fails;
}

/* nccl: a send to this rank itself that nobody receives; the wait must end within the timeout. */
static int fault(pd_transport *tp, pd_device_kind dev)
{
    pd_state *x = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, dev, 64, 16, 0, &x));
    double t0 = MPI_Wtime();
    pd_msg_header m = {.flags = PD_MSG_PAYLOAD, .hist_step = -1};
    pd_status st = pd_transport_send(ctx, tp, rank, 0, &m, x, NULL);
    if (st == PD_OK) st = pd_transport_flush(ctx, tp);
    double took = MPI_Wtime() - t0;
    int fails = pd_expect_true(st == PD_ERR_NCCL, "an unmatched send fails with PD_ERR_NCCL");
    printf("fault: %s after %.1f s: %s\n", pd_status_name(st), took, pd_ctx_message(ctx));
    fails += pd_expect_le(took, 30.0, "within the timeout (and some slack)");
    pd_ctx_clear(ctx);
    double v = 1.0;
    t0 = MPI_Wtime();
    st = pd_transport_allreduce_max(ctx, tp, &v, 1);
    fails += pd_expect_true(st == PD_ERR_NCCL, "the aborted communicator refuses further work");
    fails += pd_expect_contains(pd_ctx_message(ctx), "aborted", "and says so");
    fails += pd_expect_le(MPI_Wtime() - t0, 1.0, "at once");
    pd_msg_header drop; /* the header went to this rank over MPI: take it */
    MPI_Recv(&drop, (int)sizeof drop, MPI_BYTE, rank, 100, pd_transport_comm(tp), MPI_STATUS_IGNORE);
    pd_state_destroy(&x);
    return fails;
}

/* Every rank: 1 when some rank's value is set. */
static int any(int mine)
{
    int all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return all;
}

static int finish(int code)
{
    pd_ctx_destroy(&ctx);
    MPI_Finalize();
    return code;
}

/* Rank 0 sends `rounds` states to rank 1 through two buffers, refilling each as soon as the transport
 * lets it, while rank 1 is still asleep: a transport that let a buffer be rewritten while its send is in
 * flight would deliver the later contents (or, on cudasim, be stopped for it). */
static int burst(pd_transport *tp, pd_device_kind dev, int rounds)
{
    const shape s = {PD_F64, 37, 129}; /* above MPI's eager limit */
    pd_state *x[2] = {0}, *y = NULL;
    double *buf = malloc(sizeof(double) * (size_t)(s.n * s.dim));
    for (int b = 0; b < 2; b++) PD_TEST_CHECK(ctx, pd_state_create(ctx, s.dt, dev, s.n, s.dim, 0, &x[b]));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, x[0], &y));
    int fails = 0;
    for (int k = 0; k < rounds; k++) {
        if (rank == 0) {
            PD_TEST_CHECK(ctx, fill(x[k % 2], 0, 100 + k, 0, buf)); /* allowed: the send before the last is done */
            pd_msg_header m = {.iter = k, .flags = PD_MSG_PAYLOAD, .hist_step = -1};
            PD_TEST_CHECK(ctx, pd_transport_send(ctx, tp, 1, 0, &m, x[k % 2], NULL));
        } else if (rank == 1) {
            if (k == 0) nanosleep(&(struct timespec){0, 500000000}, NULL);
            pd_msg_header m;
            PD_TEST_CHECK(ctx, pd_transport_recv(ctx, tp, 0, 0, &m, y, NULL));
            fails += pd_expect_true(m.iter == k && mismatches(y, 0, 100 + k, 0, buf) == 0,
                                    "a slow receiver gets each state as it was sent");
        }
    }
    PD_TEST_CHECK(ctx, pd_transport_flush(ctx, tp));
    pd_state_destroy(&x[0]), pd_state_destroy(&x[1]), pd_state_destroy(&y);
    free(buf);
    return fails;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ctx = pd_ctx_create();
    pd_ctx_set_rank(ctx, rank, size);
    int cuda = 0, nccl = 0, do_fault = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) cuda = !strcmp(argv[++i], "cuda");
        else if (!strcmp(argv[i], "--comm") && i + 1 < argc) nccl = !strcmp(argv[++i], "nccl");
        else if (!strcmp(argv[i], "--fault")) do_fault = 1;
    }
    int gpus = 0;
#ifdef PD_HAVE_CUDA
    if (cuda) gpus = pd_cuda_device_count();
#endif
    if (cuda && any(gpus < 1)) {
        if (rank == 0) printf("no GPU: skipped\n");
        return finish(PD_SKIP);
    }
    pd_config cfg;
    if (pd_config_init(ctx, &cfg) != PD_OK) return finish(1);
    cfg.device.kind = cuda ? PD_DEVKIND_CUDA : PD_DEVKIND_CPU;
    cfg.device.comm = nccl ? PD_COMM_NCCL : PD_COMM_MPI;
    cfg.device.timeout = do_fault ? 3.0 : 60.0;
    pd_device_plan plan;
    pd_status st = pd_device_setup(ctx, MPI_COMM_WORLD, &cfg, &plan);
    pd_config_free(&cfg);
    if (any(st == PD_ERR_INPUT && nccl)) { /* NCCL needs a GPU per rank */
        if (st != PD_OK) printf("rank %d: %s: skipped\n", rank, pd_ctx_message(ctx));
        return finish(PD_SKIP);
    }
    pd_transport *tp = NULL;
    if (st == PD_OK)
        st = nccl ? pd_transport_create_nccl(ctx, MPI_COMM_WORLD, do_fault ? 3.0 : 60.0, &tp)
                  : pd_transport_create_mpi(ctx, MPI_COMM_WORLD, pd_transport_mpi_cuda_aware(), &tp);
    if (any(st != PD_OK)) {
        if (st != PD_OK) fprintf(stderr, "FAIL: rank %d: setup: %s\n", rank, pd_ctx_message(ctx));
        pd_transport_destroy(&tp);
        return finish(1);
    }
    int fails = pd_expect_true(!strcmp(pd_transport_name(tp), nccl ? "nccl" : "mpi"), "transport name");
    pd_device_kind dev = plan.kind;
    if (do_fault) {
        fails += fault(tp, dev);
    } else {
        const shape shapes[] = {{PD_F32, 1, 3}, {PD_F64, 37, 129}, {PD_F32, 1000, 2}, {PD_F64, 40000, 8}};
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) fails += chain(tp, dev, shapes[i], 5);
        fails += reductions(tp);
        if (size > 1) fails += burst(tp, dev, 6);
    }
    pd_transport_destroy(&tp);
    fails += pd_expect_true(tp == NULL, "destroy leaves NULL");
    int total = 0;
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s (%s states, %s transport, %d ranks)\n", total ? "test_transport: FAILED" : "test_transport: all passed",
               cuda ? "cuda" : "cpu", nccl ? "nccl" : "mpi", size);
    return finish(total != 0);
}
