/* pintdiff: the result file (DESIGN.md §3), written by all ranks together through parallel HDF5.
 *
 * The file is created under a temporary name (path + ".tmp") and renamed to path only by
 * pd_result_commit, so a failed run never leaves a file that looks finished. Every function here is
 * collective over the communicator given to pd_result_open (same arguments on every rank unless a
 * parameter says "this rank's"). */
#ifndef PD_IO_RESULT_H
#define PD_IO_RESULT_H

#include <mpi.h>
#include <stdint.h>

#include "pintdiff/state.h"
#include "pintdiff/status.h"

typedef struct pd_result_layout {
    const char *path;        /* final file name (*.h5) */
    int64_t n_samples;       /* all ranks together */
    int ndim;                /* data shape of one sample */
    const int64_t *shape;
    pd_dtype dtype;          /* dtype of stored states */
    int n_traj_points;       /* stored trajectory points (0: no /trajectory/x) */
    int n_noise_steps;       /* stored step-noise vectors (0: no /trajectory/noise) */
    int n_boundary_iters;    /* Parareal: iterations (incl. 0) of /convergence/boundaries (0: none) */
    int n_boundaries;        /* Parareal: B + 1 */
} pd_result_layout;

typedef struct pd_result pd_result;

pd_status pd_result_open(pd_ctx *ctx, MPI_Comm comm, const pd_result_layout *lay, pd_result **out);
/* /trajectory/{t,alpha,sigma} (float64 [n]) and /trajectory/step (int [n]: grid index of each point). */
pd_status pd_result_write_times(pd_ctx *ctx, pd_result *r, int n, const double *t, const double *alpha,
                                const double *sigma, const int *step);
/* this rank's slice x (global samples x->offset ..) of trajectory point i / step noise i / samples */
pd_status pd_result_write_traj(pd_ctx *ctx, pd_result *r, int i, const pd_state *x);
pd_status pd_result_write_noise(pd_ctx *ctx, pd_result *r, int i, const pd_state *z);
pd_status pd_result_write_samples(pd_ctx *ctx, pd_result *r, const pd_state *x);
/* Parareal boundary b after iteration iter: written by its owner alone (independent I/O), the
 * others do not call it. x holds all samples. */
pd_status pd_result_write_boundary(pd_ctx *ctx, pd_result *r, int iter, int b, const pd_state *x);
/* A [rows, cols] matrix (cols = 1: a vector) of float64 or int64, the same on every rank; rank 0
 * writes it. */
pd_status pd_result_write_f64(pd_ctx *ctx, pd_result *r, const char *name, int rows, int cols, const double *v);
pd_status pd_result_write_i64(pd_ctx *ctx, pd_result *r, const char *name, int rows, int cols, const int64_t *v);
/* attributes on / */
pd_status pd_result_attr_str(pd_ctx *ctx, pd_result *r, const char *name, const char *value);
pd_status pd_result_attr_i64(pd_ctx *ctx, pd_result *r, const char *name, int64_t value);
pd_status pd_result_attr_u64(pd_ctx *ctx, pd_result *r, const char *name, uint64_t value);
pd_status pd_result_attr_f64(pd_ctx *ctx, pd_result *r, const char *name, double value);
/* /metrics/<name>: a float64 scalar */
pd_status pd_result_metric(pd_ctx *ctx, pd_result *r, const char *name, double value);
/* Close and rename to the final name. r is destroyed whatever the outcome. */
pd_status pd_result_commit(pd_ctx *ctx, pd_result **r);
/* Close and remove the temporary file (after a failure). NULL-safe. */
void pd_result_abort(pd_result **r);

/* PNG grid of image-shaped samples: [n, C, H, W] or [n, H, W] (C = 1 or 3), values in [lo, hi],
 * at most max_tiles samples, each pixel drawn scale x scale. Written to path + ".tmp", renamed. */
pd_status pd_png_write_grid(pd_ctx *ctx, const char *path, const double *x, int64_t n, int ndim,
                            const int64_t *shape, double lo, double hi, int max_tiles);
/* Data shape that a PNG grid can show (ndim 2, or 3 with C = 1 or 3). */
int pd_png_can_show(int ndim, const int64_t *shape);

#endif
