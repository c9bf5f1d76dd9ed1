/* Agreement on failure between ranks: one allreduce finds the lowest failing rank, one broadcast
 * gives everyone its status. */
#include <stdio.h>

#include "mpi/comm.h"

pd_status pd_comm_agree(pd_ctx *ctx, MPI_Comm comm, pd_status local, pd_agreement *out)
{
    int rank = 0, size = 1;
    PD_MPI_CHECK(ctx, MPI_Comm_rank(comm, &rank));
    PD_MPI_CHECK(ctx, MPI_Comm_size(comm, &size));
    int mine = local != PD_OK ? rank : size, lowest = size;
    PD_MPI_CHECK(ctx, MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, comm));
    if (lowest == size) {
        *out = (pd_agreement){.status = PD_OK, .failing_rank = -1};
        return PD_OK;
    }
    int code = (int)local;
    PD_MPI_CHECK(ctx, MPI_Bcast(&code, 1, MPI_INT, lowest, comm));
    *out = (pd_agreement){.status = (pd_status)code, .failing_rank = lowest};
    return PD_OK;
}

void pd_comm_report(const pd_ctx *ctx, MPI_Comm comm, const pd_agreement *a)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (a->status == PD_OK || rank != a->failing_rank) return;
    if (size > 1 && a->status != PD_ERR_INPUT)
        fprintf(stderr, "pintdiff: error (%s): %s\n", pd_ctx_where(ctx), pd_ctx_message(ctx));
    else
        fprintf(stderr, "pintdiff: error: %s\n", pd_ctx_message(ctx));
    fflush(stderr);
}
