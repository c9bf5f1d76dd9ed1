/* Ranks fail together: when rank 1 fails (bad input) and rank 2 fails later in another way, every
 * rank learns the status of the lowest failing rank, and only that rank reports. */
#include <mpi.h>

#include "mpi/comm.h"
#include "pd_test.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1, fails = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    pd_ctx *ctx = pd_ctx_create();
    pd_ctx_set_rank(ctx, rank, size);
    pd_agreement a;

    if (pd_comm_agree(ctx, MPI_COMM_WORLD, PD_OK, &a) != PD_OK) fails++;
    fails += pd_expect_true(a.status == PD_OK && a.failing_rank == -1, "all ok: agreement ok");

    pd_status local = PD_OK;
    if (rank == 1) local = pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__, "bad input on rank 1");
    if (rank == 2) local = PD_ERR_NUMERIC;
    if (pd_comm_agree(ctx, MPI_COMM_WORLD, local, &a) != PD_OK) fails++;
    if (size >= 2) {
        fails += pd_expect_true(a.status == PD_ERR_INPUT, "every rank sees rank 1's status");
        fails += pd_expect_true(a.failing_rank == 1, "lowest failing rank is 1");
    } else {
        fails += pd_expect_true(a.status == PD_OK, "one rank: nobody failed");
    }
    pd_comm_report(ctx, MPI_COMM_WORLD, &a); /* rank 1 prints its message */
    int total = 0;
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s\n", total ? "test_comm_agree: FAILED" : "test_comm_agree: all passed");
    pd_ctx_destroy(&ctx);
    MPI_Finalize();
    return total != 0;
}
