/* Foreign errors become pd_status at the call (STYLE.md habit 2), for the .cu files of src/cuda that
 * include it (state_ops.cu keeps its own PD_CUDA_CHECK). CUDA C only. */
#ifndef PD_CUDA_CHECK_H
#define PD_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "pintdiff/status.h"

/* A CUDA runtime call; also after each launch: PD_CUDA_TRY(ctx, cudaGetLastError()). */
#define PD_CUDA_TRY(ctx, call)                                                                               \
    do {                                                                                                     \
        cudaError_t e_ = (call);                                                                             \
        if (e_ != cudaSuccess) {                                                                             \
            (void)cudaGetLastError(); /* a non-sticky error (e.g. out of memory) must not reach the next check */ \
            PD_FAIL(ctx, PD_ERR_CUDA, "%s: %s", #call, cudaGetErrorString(e_));                              \
        }                                                                                                    \
    } while (0)

/* A cuBLAS call, with cuBLAS's name and description of the status. */
#define PD_CUBLAS_TRY(ctx, call)                                                                             \
    do {                                                                                                     \
        cublasStatus_t b_ = (call);                                                                          \
        if (b_ != CUBLAS_STATUS_SUCCESS)                                                                     \
            PD_FAIL(ctx, PD_ERR_CUDA, "%s: %s (%s)", #call, cublasGetStatusName(b_),                         \
                    cublasGetStatusString(b_));                                                              \
    } while (0)

#endif
