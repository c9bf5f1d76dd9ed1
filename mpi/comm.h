/* pintdiff: how ranks agree (STYLE.md habit 3). Every phase of a run ends in pd_comm_agree, so a
 * failure on one rank (bad input, NaN, allocation) stops every rank at the same point, with the
 * message printed once, by the lowest failing rank. */
#ifndef PD_MPI_COMM_H
#define PD_MPI_COMM_H

#include <mpi.h>

#include "pintdiff/status.h"

#define PD_MPI_CHECK(ctx, call)                                                                    \
    do {                                                                                           \
        int e_ = (call);                                                                           \
        if (e_ != MPI_SUCCESS) {                                                                   \
            char m_[MPI_MAX_ERROR_STRING];                                                         \
            int l_ = 0;                                                                            \
            MPI_Error_string(e_, m_, &l_);                                                         \
            PD_FAIL(ctx, PD_ERR_MPI, "%s: %s", #call, m_);                                         \
        }                                                                                          \
    } while (0)

/* The outcome of a phase across all ranks. */
typedef struct pd_agreement {
    pd_status status;  /* the status of the lowest failing rank (PD_OK if none failed) */
    int failing_rank;  /* lowest failing rank, -1 if none */
} pd_agreement;

/* Collective: combine every rank's local status. On return, out->status is the same on all ranks.
 * Returns PD_OK, or PD_ERR_MPI when the communication itself failed. */
pd_status pd_comm_agree(pd_ctx *ctx, MPI_Comm comm, pd_status local, pd_agreement *out);

/* Print the message of a failed phase: the lowest failing rank prints its own message to stderr. */
void pd_comm_report(const pd_ctx *ctx, MPI_Comm comm, const pd_agreement *a);

#endif
