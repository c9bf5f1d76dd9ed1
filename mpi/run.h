/* pintdiff: one job from a resolved config, on all ranks of a communicator.
 *
 * serial method: the samples are split into contiguous slices, one per rank; each rank integrates its
 * slice over the whole grid; the global sample index (not the rank) keys every noise draw, so the
 * samples do not depend on the rank count (DESIGN.md §3). Later methods (Parareal, Picard) plug in
 * beside the serial one. */
#ifndef PD_MPI_RUN_H
#define PD_MPI_RUN_H

#include <mpi.h>

#include "io/config.h"
#include "pintdiff/status.h"

typedef struct pd_run_summary {
    char png[4096];      /* picture written ("" if none) */
    double wall_s;       /* whole job, slowest rank */
    int64_t nfe;         /* model evaluations in sequence (serial: per trajectory; time-parallel: critical path) */
    int iterations;      /* iterations of a time-parallel method (0 for serial) */
    char method[16];     /* sampler.method */
    int64_t n_samples;
} pd_run_summary;

/* What `pintdiff check` adds to the config's own validation, on one process: the devices (as one rank
 * on this machine would get them: pd_device_check_local), the output target, the schedule and grid
 * (steps vs spacing), the model file. */
pd_status pd_run_dry(pd_ctx *ctx, const pd_config *cfg);

/* Collective. Each rank first takes its device (pd_device_setup: its GPU is bound before any GPU
 * allocation), then the states stay on that device for the whole run and come to the host only to be
 * written. On failure every rank returns the same status; the lowest failing rank's ctx holds the
 * message (pd_comm_report prints it). No result file is left behind on failure. */
/* quiet: no progress lines (output.log_iterations still goes into the stored config). */
pd_status pd_run_job(pd_ctx *ctx, MPI_Comm comm, const pd_config *cfg, const char *config_text, int quiet,
                     pd_run_summary *summary);

#endif
