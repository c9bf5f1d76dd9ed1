/* Rank -> GPU binding and the choice of device and transport (device.h). The facts are gathered with
 * a fixed sequence of collectives that every rank runs whatever it finds; only then does each rank
 * decide, locally and purely, and bind. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/comm.h"
#include "mpi/device.h"
#ifdef PD_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/cuda_device.h"
#endif

#define PD_BUS_ID_LEN 32 /* "0000:3b:00.0" and room to spare */

const char *pd_comm_name(pd_comm_choice c)
{
    return c == PD_COMM_NCCL ? "nccl" : c == PD_COMM_MPI ? "mpi" : "auto";
}

int pd_device_pick_gpu(int gpu_key, int local_rank, int n_visible)
{
    if (n_visible < 1) return -1;
    return gpu_key >= 0 ? gpu_key : local_rank % n_visible;
}

static const char *gpus_word(int n) { return n == 1 ? "GPU" : "GPUs"; }

/* ---------------------------------------------------------------- the decision (pure) */

static pd_status decide_kind(pd_ctx *ctx, const pd_device_facts *f, pd_device_kind *kind)
{
    *kind = PD_DEVICE_CPU;
    if (f->kind == PD_DEVKIND_CPU) return PD_OK;
    if (f->kind == PD_DEVKIND_AUTO) { /* the same answer on every rank: it reads job-wide facts */
        if (f->have_cuda && f->all_see_gpu) *kind = PD_DEVICE_CUDA;
        return PD_OK;
    }
    if (!f->have_cuda)
        PD_FAIL(ctx, PD_ERR_INPUT, "device.kind: cuda: this pintdiff was built without the CUDA backend "
                "(PINTDIFF_CUDA=OFF); use cpu or auto");
    if (f->gpus_visible < 1)
        PD_FAIL(ctx, PD_ERR_INPUT, "device.kind: cuda: no GPU visible to a rank on node %s (check the driver "
                "and CUDA_VISIBLE_DEVICES); use cpu or auto", f->node);
    *kind = PD_DEVICE_CUDA;
    return PD_OK;
}

static pd_status decide_gpu(pd_ctx *ctx, const pd_device_facts *f, pd_device_kind kind, int *gpu)
{
    *gpu = -1;
    if (kind != PD_DEVICE_CUDA) return PD_OK;
    int g = pd_device_pick_gpu(f->gpu_key, f->local_rank, f->gpus_visible);
    if (g < 0 || g >= f->gpus_visible)
        PD_FAIL(ctx, PD_ERR_INPUT, "device.gpu: %d, but a rank on node %s sees %d %s (expected -1 or 0 .. %d)",
                f->gpu_key, f->node, f->gpus_visible, gpus_word(f->gpus_visible), f->gpus_visible - 1);
    *gpu = g;
    return PD_OK;
}

static pd_status decide_comm(pd_ctx *ctx, const pd_device_facts *f, pd_device_kind kind, pd_comm_choice *comm)
{
    *comm = PD_COMM_MPI;
    if (f->comm == PD_COMM_MPI) return PD_OK;
    if (f->comm == PD_COMM_AUTO) {
        if (kind == PD_DEVICE_CUDA && f->all_own_gpu) *comm = PD_COMM_NCCL;
        return PD_OK;
    }
    if (!f->have_cuda)
        PD_FAIL(ctx, PD_ERR_INPUT, "device.comm: nccl: this pintdiff was built without CUDA and NCCL "
                "(PINTDIFF_CUDA=OFF); use mpi or auto");
    if (kind != PD_DEVICE_CUDA)
        PD_FAIL(ctx, PD_ERR_INPUT, "device.comm: nccl needs states on GPUs, but device.kind is %s; use mpi or auto",
                f->kind == PD_DEVKIND_CPU ? "cpu" : "auto and resolved to cpu (not every rank sees a GPU)");
    if (f->ranks_on_node > f->gpus_on_node)
        PD_FAIL(ctx, PD_ERR_INPUT, "device.comm: nccl needs one GPU per rank: node %s has %d ranks and %d %s for "
                "them%s (device.comm: mpi lets ranks share a GPU)", f->node, f->ranks_on_node, f->gpus_on_node,
                gpus_word(f->gpus_on_node), f->gpu_key >= 0 ? ", device.gpu puts them all on one" : "");
    *comm = PD_COMM_NCCL;
    return PD_OK;
}

pd_status pd_device_decide(pd_ctx *ctx, const pd_device_facts *f, pd_device_plan *out)
{
    pd_device_plan p = {.kind = PD_DEVICE_CPU, .comm = PD_COMM_MPI, .gpu = -1};
    PD_TRY(decide_kind(ctx, f, &p.kind));
    PD_TRY(decide_gpu(ctx, f, p.kind, &p.gpu));
    PD_TRY(decide_comm(ctx, f, p.kind, &p.comm));
    *out = p;
    return PD_OK;
}

/* ---------------------------------------------------------------- the facts */

/* GPUs this process sees; none are looked for on a cpu run (no driver start-up for nothing). */
static int visible_gpus(const pd_config *cfg)
{
#ifdef PD_HAVE_CUDA
    if (cfg->device.kind != PD_DEVKIND_CPU) return pd_cuda_device_count();
#else
    (void)cfg;
#endif
    return 0;
}

/* The PCI bus id of the GPU this rank would take ("" when none). */
static void bus_id_of(int gpu, int n_visible, char *buf)
{
    memset(buf, 0, PD_BUS_ID_LEN);
#ifdef PD_HAVE_CUDA
    if (gpu >= 0 && gpu < n_visible && pd_cuda_device_bus_id(NULL, gpu, buf, PD_BUS_ID_LEN) != PD_OK)
        memset(buf, 0, PD_BUS_ID_LEN); /* unknown: counted as no GPU, so that nccl is not promised */
#else
    (void)gpu, (void)n_visible;
#endif
}

/* Distinct non-empty ids among n (each PD_BUS_ID_LEN bytes). */
static int count_distinct(const char *ids, int n)
{
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        const char *a = ids + (size_t)i * PD_BUS_ID_LEN;
        int seen = a[0] == '\0';
        for (int k = 0; k < i && !seen; k++) seen = !strncmp(a, ids + (size_t)k * PD_BUS_ID_LEN, PD_BUS_ID_LEN);
        distinct += !seen;
    }
    return distinct;
}

/* The node's facts: node-local rank, ranks, distinct GPUs they would take. Collective over comm. */
static pd_status node_facts(pd_ctx *ctx, MPI_Comm comm, pd_device_facts *f)
{
    MPI_Comm node;
    PD_MPI_CHECK(ctx, MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_Comm_rank(node, &f->local_rank);
    MPI_Comm_size(node, &f->ranks_on_node);
    char mine[PD_BUS_ID_LEN];
    bus_id_of(pd_device_pick_gpu(f->gpu_key, f->local_rank, f->gpus_visible), f->gpus_visible, mine);
    char *all = malloc((size_t)f->ranks_on_node * PD_BUS_ID_LEN);
    int ok = all != NULL, all_ok = 0; /* nobody enters the gather unless everybody has its buffer */
    int e = MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, node);
    if (e == MPI_SUCCESS && all_ok) e = MPI_Allgather(mine, PD_BUS_ID_LEN, MPI_CHAR, all, PD_BUS_ID_LEN, MPI_CHAR, node);
    f->gpus_on_node = e == MPI_SUCCESS && all_ok ? count_distinct(all, f->ranks_on_node) : 0;
    free(all);
    MPI_Comm_free(&node);
    if (e != MPI_SUCCESS) PD_FAIL(ctx, PD_ERR_MPI, "gathering the GPUs of node %s failed (MPI error %d)", f->node, e);
    if (!all_ok) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the GPU list of node %s", f->node);
    return PD_OK;
}

static pd_device_facts config_facts(const pd_config *cfg, const char *node)
{
    pd_device_facts f = {.kind = cfg->device.kind, .comm = cfg->device.comm, .gpu_key = cfg->device.gpu,
                         .node = node, .gpus_visible = visible_gpus(cfg)};
#ifdef PD_HAVE_CUDA
    f.have_cuda = 1;
#endif
    return f;
}

pd_status pd_device_setup(pd_ctx *ctx, MPI_Comm comm, const pd_config *cfg, pd_device_plan *out)
{
    char node[MPI_MAX_PROCESSOR_NAME] = "?";
    int len = 0;
    MPI_Get_processor_name(node, &len);
    pd_device_facts f = config_facts(cfg, node);
    /* every rank reaches the job-wide reduction, also after a local failure (its flags are then 0 and
     * it returns its error afterwards): no collective is left half entered */
    pd_status st = node_facts(ctx, comm, &f);
    int flags[2] = {st == PD_OK && f.gpus_visible > 0, st == PD_OK && f.gpus_on_node >= f.ranks_on_node};
    int all[2] = {0, 0};
    PD_MPI_CHECK(ctx, MPI_Allreduce(flags, all, 2, MPI_INT, MPI_MIN, comm));
    if (st != PD_OK) return st;
    f.all_see_gpu = all[0];
    f.all_own_gpu = all[1];
    PD_TRY(pd_device_decide(ctx, &f, out));
#ifdef PD_HAVE_CUDA
    if (out->kind == PD_DEVICE_CUDA) PD_TRY(pd_cuda_set_device(ctx, out->gpu));
#endif
    return PD_OK;
}

pd_status pd_device_check_local(pd_ctx *ctx, const pd_config *cfg, pd_device_plan *out)
{
    char node[256] = "?";
    gethostname(node, sizeof node - 1);
    pd_device_facts f = config_facts(cfg, node);
    int gpu = pd_device_pick_gpu(f.gpu_key, 0, f.gpus_visible);
    f.ranks_on_node = 1;
    f.gpus_on_node = gpu >= 0 && gpu < f.gpus_visible;
    f.all_see_gpu = f.gpus_visible > 0;
    f.all_own_gpu = 1;
    return pd_device_decide(ctx, &f, out);
}
