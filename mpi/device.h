/* pintdiff: where each rank runs (DESIGN.md §4): its node, its GPU, and the transport between ranks.
 *
 * Two steps. pd_device_setup gathers facts collectively (the ranks sharing a node, from
 * MPI_Comm_split_type(MPI_COMM_TYPE_SHARED); the GPUs each rank sees; which physical GPU each would
 * take) and binds the rank to its GPU. pd_device_decide turns the facts into a plan; it is pure, so
 * every rule and every message is tested on machines without a GPU (tests/unit/device).
 *
 * Rules. device.kind auto = cuda when the build has CUDA and every rank sees a GPU, else cpu. A rank
 * takes GPU (node-local rank mod GPUs it sees), or GPU device.gpu of those it sees; with one GPU per
 * task from the launcher (CUDA_VISIBLE_DEVICES per rank, Slurm --gpus-per-task) every rank sees one
 * GPU and takes it. device.comm auto = nccl when states are on GPUs and no two ranks share a GPU
 * (NCCL cannot put two ranks on one GPU), else mpi, which may share GPUs (tests, small jobs). */
#ifndef PD_MPI_DEVICE_H
#define PD_MPI_DEVICE_H

#include <mpi.h>

#include "io/config.h"
#include "pintdiff/state.h"
#include "pintdiff/status.h"

/* What the decision reads. Counts are of this rank's node unless named otherwise. */
typedef struct pd_device_facts {
    pd_device_choice kind; /* device.kind as configured */
    pd_comm_choice comm;   /* device.comm as configured */
    int gpu_key;           /* device.gpu: -1 (by node-local rank) or an index among visible GPUs */
    int have_cuda;         /* the build has the CUDA backend (and NCCL) */
    int gpus_visible;      /* GPUs this rank sees */
    int local_rank;        /* this rank's index among the ranks of its node */
    int ranks_on_node;     /* ranks on this node */
    int gpus_on_node;      /* distinct physical GPUs that this node's ranks would take */
    int all_see_gpu;       /* every rank of the job sees at least one GPU */
    int all_own_gpu;       /* on every node no two ranks would take the same GPU */
    const char *node;      /* this node's name, for messages */
} pd_device_facts;

typedef struct pd_device_plan {
    pd_device_kind kind; /* where states (and models) live */
    pd_comm_choice comm; /* PD_COMM_MPI or PD_COMM_NCCL */
    int gpu;             /* cuda: the visible GPU this rank binds to; -1 on cpu */
} pd_device_plan;

/* The visible GPU a rank takes: gpu_key when >= 0, else local_rank mod n_visible; -1 when it sees
 * none. May return an index >= n_visible (a bad device.gpu): pd_device_decide reports it. */
int pd_device_pick_gpu(int gpu_key, int local_rank, int n_visible);

/* Pure: the plan for the facts, or PD_ERR_INPUT with a message naming the key (device.kind,
 * device.comm, device.gpu) and the node. Ranks with the same global facts get the same kind and comm;
 * a rank whose own node breaks a rule fails, the others do not (agreement spreads the failure, and
 * the message comes from a rank that knows the cause). */
pd_status pd_device_decide(pd_ctx *ctx, const pd_device_facts *f, pd_device_plan *out);

/* Collective over comm: gather the facts, decide, and on cuda bind this rank to its GPU (call it
 * before any CUDA allocation). Every rank takes part in every collective whatever its own outcome;
 * the caller agrees on the status afterwards. */
pd_status pd_device_setup(pd_ctx *ctx, MPI_Comm comm, const pd_config *cfg, pd_device_plan *out);

/* One process, no communicator (pintdiff check): the plan of a single rank on this machine, without
 * binding anything. */
pd_status pd_device_check_local(pd_ctx *ctx, const pd_config *cfg, pd_device_plan *out);

/* "mpi", "nccl", "auto" */
const char *pd_comm_name(pd_comm_choice c);

#endif
