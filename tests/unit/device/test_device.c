/* pd_device_decide and pd_device_pick_gpu: every rule of device.kind, device.comm and device.gpu, with
 * the facts a rank would gather, and the messages a user sees (they name the key and the node). No
 * GPU and no MPI needed: the decision is pure. */
#include "mpi/device.h"
#include "pd_test.h"

static pd_ctx *ctx;

/* One rank alone on a node with n GPUs, CUDA built, everything auto. */
static pd_device_facts alone(int n_gpus)
{
    return (pd_device_facts){.kind = PD_DEVKIND_AUTO, .comm = PD_COMM_AUTO, .gpu_key = -1, .have_cuda = 1,
                             .gpus_visible = n_gpus, .local_rank = 0, .ranks_on_node = 1,
                             .gpus_on_node = n_gpus > 0, .all_see_gpu = n_gpus > 0, .all_own_gpu = n_gpus > 0,
                             .node = "node7"};
}

/* 4 ranks on a node that shows each of them the same single GPU. */
static pd_device_facts shared_gpu(int local_rank)
{
    pd_device_facts f = alone(1);
    f.local_rank = local_rank;
    f.ranks_on_node = 4;
    f.gpus_on_node = 1;
    f.all_own_gpu = 0;
    return f;
}

static int expect_plan(const pd_device_facts *f, pd_device_kind kind, pd_comm_choice comm, int gpu, const char *what)
{
    pd_device_plan p = {.kind = PD_DEVICE_CPU, .comm = PD_COMM_AUTO, .gpu = -99};
    pd_ctx_clear(ctx);
    pd_status st = pd_device_decide(ctx, f, &p);
    int bad = st != PD_OK || p.kind != kind || p.comm != comm || p.gpu != gpu;
    if (bad)
        fprintf(stderr, "FAIL: %s: got status %s (%s), %s/%s/gpu %d; want %s/%s/gpu %d\n", what, pd_status_name(st),
                pd_ctx_message(ctx), pd_device_name(p.kind), pd_comm_name(p.comm), p.gpu, pd_device_name(kind),
                pd_comm_name(comm), gpu);
    else
        printf("ok: %s: %s/%s/gpu %d\n", what, pd_device_name(kind), pd_comm_name(comm), gpu);
    return bad;
}

/* The decision fails with PD_ERR_INPUT and a message holding each of the needles. */
static int expect_refusal(const pd_device_facts *f, const char *needle1, const char *needle2, const char *what)
{
    pd_device_plan p;
    pd_ctx_clear(ctx);
    pd_status st = pd_device_decide(ctx, f, &p);
    int bad = pd_expect_true(st == PD_ERR_INPUT, what);
    bad += pd_expect_contains(pd_ctx_message(ctx), needle1, what);
    if (needle2) bad += pd_expect_contains(pd_ctx_message(ctx), needle2, what);
    if (!bad) printf("ok: %s: \"%s\"\n", what, pd_ctx_message(ctx));
    return bad != 0;
}

static int kinds(void)
{
    int fails = 0;
    pd_device_facts f = alone(0);
    fails += expect_plan(&f, PD_DEVICE_CPU, PD_COMM_MPI, -1, "auto without GPU: cpu and mpi");
    f = alone(1);
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_NCCL, 0, "auto with a GPU: cuda and nccl");
    f.have_cuda = 0;
    fails += expect_plan(&f, PD_DEVICE_CPU, PD_COMM_MPI, -1, "auto, a GPU but no CUDA build: cpu");
    f = alone(1);
    f.all_see_gpu = 0; /* another rank sees none: the job stays on one device kind */
    f.all_own_gpu = 0;
    fails += expect_plan(&f, PD_DEVICE_CPU, PD_COMM_MPI, -1, "auto when some rank sees no GPU: cpu everywhere");
    f = alone(2);
    f.kind = PD_DEVKIND_CPU;
    fails += expect_plan(&f, PD_DEVICE_CPU, PD_COMM_MPI, -1, "cpu asked: cpu, whatever the GPUs");
    f.kind = PD_DEVKIND_CUDA;
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_NCCL, 0, "cuda asked, GPUs there");
    f = alone(0);
    f.kind = PD_DEVKIND_CUDA;
    fails += expect_refusal(&f, "device.kind: cuda: no GPU visible", "node7", "cuda asked, no GPU");
    f.have_cuda = 0;
    fails += expect_refusal(&f, "device.kind: cuda", "PINTDIFF_CUDA=OFF", "cuda asked, no CUDA build");
    return fails;
}

static int binding(void)
{
    int fails = 0;
    for (int r = 0; r < 4; r++) {
        pd_device_facts f = shared_gpu(r);
        fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_MPI, 0, "4 ranks, 1 GPU: all on GPU 0, mpi");
    }
    fails += pd_expect_true(pd_device_pick_gpu(-1, 5, 4) == 1, "node-local rank 5 of 4 GPUs takes GPU 1");
    fails += pd_expect_true(pd_device_pick_gpu(-1, 3, 0) == -1, "no GPU: none taken");
    fails += pd_expect_true(pd_device_pick_gpu(2, 3, 4) == 2, "device.gpu overrides the rank rule");
    pd_device_facts f = alone(4);
    f.local_rank = 3;
    f.ranks_on_node = 4;
    f.gpus_on_node = 4;
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_NCCL, 3, "4 ranks, 4 GPUs: rank 3 on GPU 3, nccl");
    f.gpu_key = 2;
    f.gpus_on_node = 1;
    f.all_own_gpu = 0;
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_MPI, 2, "device.gpu 2: every rank on GPU 2, mpi");
    f.gpu_key = 4;
    fails += expect_refusal(&f, "device.gpu: 4", "sees 4 GPUs (expected -1 or 0 .. 3)", "device.gpu beyond the GPUs");
    f = alone(1); /* one GPU per task from the launcher: each rank sees one, all different */
    f.local_rank = 2;
    f.ranks_on_node = 4;
    f.gpus_on_node = 4;
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_NCCL, 0, "CUDA_VISIBLE_DEVICES per rank: its one GPU, nccl");
    return fails;
}

static int comms(void)
{
    int fails = 0;
    pd_device_facts f = shared_gpu(1);
    f.comm = PD_COMM_NCCL;
    fails += expect_refusal(&f, "device.comm: nccl needs one GPU per rank: node node7 has 4 ranks and 1 GPU",
                            "device.comm: mpi", "nccl on a shared GPU");
    f.gpu_key = 0;
    fails += expect_refusal(&f, "device.gpu puts them all on one", NULL, "nccl with device.gpu forcing sharing");
    f = shared_gpu(0);
    f.comm = PD_COMM_MPI;
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_MPI, 0, "mpi on a shared GPU");
    f = alone(1);
    f.all_own_gpu = 0; /* this node is fine, another is not: auto stays mpi everywhere */
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_MPI, 0, "auto when another node shares GPUs: mpi");
    f.comm = PD_COMM_NCCL; /* the other node's ranks fail; this one has nothing to say */
    fails += expect_plan(&f, PD_DEVICE_CUDA, PD_COMM_NCCL, 0, "nccl: a rank whose node is fine does not fail");
    f = alone(1);
    f.kind = PD_DEVKIND_CPU;
    f.comm = PD_COMM_NCCL;
    fails += expect_refusal(&f, "device.comm: nccl needs states on GPUs, but device.kind is cpu", NULL, "nccl on cpu");
    f = alone(0);
    f.comm = PD_COMM_NCCL;
    fails += expect_refusal(&f, "device.comm: nccl", "auto and resolved to cpu", "nccl, auto kind, no GPU");
    f.have_cuda = 0;
    fails += expect_refusal(&f, "device.comm: nccl", "PINTDIFF_CUDA=OFF", "nccl without a CUDA build");
    f = alone(0);
    f.comm = PD_COMM_MPI;
    fails += expect_plan(&f, PD_DEVICE_CPU, PD_COMM_MPI, -1, "mpi on cpu");
    return fails;
}

int main(void)
{
    ctx = pd_ctx_create();
    int fails = kinds() + binding() + comms();
    fails += pd_expect_true(!strcmp(pd_comm_name(PD_COMM_NCCL), "nccl") && !strcmp(pd_comm_name(PD_COMM_MPI), "mpi"),
                            "comm names");
    pd_ctx_destroy(&ctx);
    printf("%s\n", fails ? "test_device: FAILED" : "test_device: all passed");
    return fails != 0;
}
