/* The device side of the state operations (src/core/state.c dispatches here for CUDA states).
 * C linkage; implemented in the .cu files of src/cuda, compiled only when the CUDA backend is built. */
#ifndef PD_CUDA_BACKEND_H
#define PD_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/lincomb_elem.h"
#include "pintdiff/state.h"
#include "pintdiff/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PD_COPY_H2D, PD_COPY_D2H, PD_COPY_D2D } pd_copy_kind;

/* Number of usable GPUs (0 when there is no driver or device: never an error). */
int pd_cuda_device_count(void);
pd_status pd_cuda_malloc(pd_ctx *ctx, size_t bytes, void **out);
void pd_cuda_free(void *p);
pd_status pd_cuda_memset0(pd_ctx *ctx, void *p, size_t bytes);
pd_status pd_cuda_memcpy(pd_ctx *ctx, void *dst, const void *src, size_t bytes, pd_copy_kind kind);
/* Element-wise kernels on device buffers of len elements of dtype. */
pd_status pd_cuda_lincomb(pd_ctx *ctx, pd_dtype dtype, int64_t len, void *out, const void *const *v,
                          const pd_lincomb_args *a);
/* pd_state_lincomb_pairs on rows samples of 2 * a->half elements. */
pd_status pd_cuda_lincomb_pairs(pd_ctx *ctx, pd_dtype dtype, int64_t rows, void *out, const void *const *v,
                                const pd_pairs_args *a);
pd_status pd_cuda_convert(pd_ctx *ctx, int64_t len, void *dst, pd_dtype dt, const void *src, pd_dtype st);
/* Reductions use a device scratch of PD_CUDA_SCRATCH_BYTES made once with the state. */
#define PD_CUDA_SCRATCH_BYTES (1024 * sizeof(double))
pd_status pd_cuda_find_nonfinite(pd_ctx *ctx, pd_dtype dtype, int64_t len, const void *x, void *scratch,
                                 int64_t *first);
pd_status pd_cuda_sqdiff(pd_ctx *ctx, pd_dtype dtype, int64_t len, const void *a, const void *b, void *scratch,
                         double *out);
/* pd_state_sample_sqdiff_max_local on n samples of dim elements */
pd_status pd_cuda_sample_sqdiff_max(pd_ctx *ctx, pd_dtype dtype, int64_t n, int64_t dim, const void *a,
                                    const void *b, void *scratch, double *out);

#ifdef __cplusplus
}
#endif
#endif
