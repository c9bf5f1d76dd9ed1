/* The device side of the built-in models (src/models/gmm.c and dataset.c dispatch here for CUDA states).
 * C linkage; implemented in src/cuda/gmm.cu and dataset.cu, compiled only with the CUDA backend.
 *
 * Each model keeps one opaque device object: its parameters, copied to the current GPU once, and
 * workspaces that grow with the batch (reserve), so that an eval in steady state allocates nothing and
 * moves nothing between host and device but the small array of grid points. All launches go to the
 * default stream, in order with the state operations (cuda_backend.h); nothing here synchronises. */
#ifndef PD_CUDA_MODELS_H
#define PD_CUDA_MODELS_H

#include <stdint.h>

#include "pintdiff/schedule.h"
#include "pintdiff/state.h"
#include "pintdiff/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----- Gaussian mixture (cuda/gmm.cu) ----- */

typedef struct pd_cuda_gmm pd_cuda_gmm;

/* out: a device copy of a mixture of K components in d dimensions. log_weight [K] (-inf for a zero
 * weight), mean [K, d], var [K, d] (for diag = 0 only var[k * d] is read: one variance per component).
 * cap_max: the most samples one kernel launch takes (the responsibility scratch is [cap, K]). */
pd_status pd_cuda_gmm_create(pd_ctx *ctx, int n_comp, int64_t dim, int diag, const double *log_weight,
                             const double *mean, const double *var, int64_t cap_max, pd_cuda_gmm **out);
void pd_cuda_gmm_destroy(pd_cuda_gmm **g);
/* Workspace for batches of up to n samples (capped at cap_max; no-op when there is room). */
pd_status pd_cuda_gmm_reserve(pd_ctx *ctx, pd_cuda_gmm *g, int64_t n);
/* out = x0_hat(x): x [n, d] of dtype xt and out [n, d] of dtype ot in device memory (out may be x);
 * n_groups equal groups of rows, group i at p[i] (host array, points checked by the caller). */
pd_status pd_cuda_gmm_eval(pd_ctx *ctx, pd_cuda_gmm *g, int64_t n, pd_dtype xt, const void *x, int n_groups,
                           const pd_grid_point *p, pd_dtype ot, void *out);

/* ----- data-set denoiser (cuda/dataset.cu) ----- */

typedef struct pd_cuda_dataset pd_cuda_dataset;

/* out: a device copy of rows [M, d] and their squared norms rnorm2 [M] (as the CPU computed them) and a
 * cuBLAS handle. cap_max: the most samples one chunk takes (workspace [cap, M + d + 1] doubles). */
pd_status pd_cuda_dataset_create(pd_ctx *ctx, int64_t n_rows, int64_t dim, const double *rows,
                                 const double *rnorm2, int64_t cap_max, pd_cuda_dataset **out);
void pd_cuda_dataset_destroy(pd_cuda_dataset **ds);
pd_status pd_cuda_dataset_reserve(pd_ctx *ctx, pd_cuda_dataset *ds, int64_t n);
/* As pd_cuda_gmm_eval (points checked by the caller: sigma > 0). */
pd_status pd_cuda_dataset_eval(pd_ctx *ctx, pd_cuda_dataset *ds, int64_t n, pd_dtype xt, const void *x,
                               int n_groups, const pd_grid_point *p, pd_dtype ot, void *out);

/* ----- PSLD mixture score (cuda/psld_gmm.cu) ----- */

typedef struct pd_cuda_psld pd_cuda_psld;

/* out: a device copy of the mixture's log weights [K] and means [K, d]; per = d (diagonal variances) or 1. */
pd_status pd_cuda_psld_create(pd_ctx *ctx, int n_comp, int64_t d, int per, const double *log_w, const double *mean,
                              pd_cuda_psld **out);
void pd_cuda_psld_destroy(pd_cuda_psld **g);
/* out = score(x): x, out [n, 2d] in device memory (out may be x), n_groups equal groups of rows; tab: host
 * tables of each group, [G][4 + 4 K per + K] = E_t (a, b, c, d), the inverse 2x2 covariances [K, per]
 * (a, b, c, d each), the half log-determinants [K] (the tab buffer is copied before the call returns). */
pd_status pd_cuda_psld_eval(pd_ctx *ctx, pd_cuda_psld *g, int64_t n, pd_dtype xt, const void *x, int n_groups,
                            const double *tab, pd_dtype ot, void *out);

#ifdef __cplusplus
}
#endif
#endif
