/* CUDA side of the data-set denoiser (models/dataset.c has the CPU path and the contract).
 *
 * Per chunk of samples, on the default stream with no host synchronisation, as on the CPU:
 *   X (double; float32 input converted on the device) -> G = X R^T (cuBLAS dgemm)
 *   -> dataset_softmax_kernel: per row, |x|^2, the clamped logits at the row's group point and their
 *      log-sum-exp softmax, one block per row (models/dataset_elem.h has the element math)
 *   -> X0 = W R (cuBLAS dgemm), written into out directly for float64, converted for float32.
 * Row-major [a, b] buffers are column-major [b, a] to cuBLAS, hence the transposes below. */
#include <stdlib.h>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_models.h"
#include "cuda/team_reduce.cuh"
#include "models/dataset_elem.h"

#define PD_DS_BLOCK 256
#define PD_DS_MAX_GRID 65535

struct pd_cuda_dataset {
    int64_t M, d, cap_max;
    cublasHandle_t blas;
    double *rows;   /* [M, d] */
    double *rnorm2; /* [M] |r_i|^2 */
    int gcap;
    pd_grid_point *pts; /* [gcap]: the call's points, copied from the host */
    /* workspace for chunks of up to cap samples */
    int64_t cap;
    double *wk; /* [cap, M]: X R^T, then logits, then weights */
    double *xb; /* [cap, d]: float32 input as double, then x0_hat for a float32 output */
};

/* wk[s] = softmax weights of chunk row s (batch row r0 + s) at its group's point, from wk[s] = X R^T.
 * One block per row (grid-stride, uniform across the block); the three block reductions give every
 * thread the same |x|^2, max and sum. */
static __global__ void __launch_bounds__(PD_DS_BLOCK)
    dataset_softmax_kernel(int64_t nb, int64_t M, int64_t d, const double *__restrict__ X,
                           const double *__restrict__ rnorm2, const pd_grid_point *__restrict__ pts,
                           int64_t r0, int64_t rows_per_group, double *__restrict__ wk)
{
    __shared__ double sh[32];
    for (int64_t s = blockIdx.x; s < nb; s += gridDim.x) {
        const pd_grid_point *p = &pts[(r0 + s) / rows_per_group];
        const double alpha = p->alpha, inv2s2 = pd_dataset_inv2s2(p->sigma);
        const double *xs = X + s * d;
        double *w = wk + s * M;
        double v[1] = {0.0};
        for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
            v[0] += xs[i] * xs[i];
        pd_team_reduce<PD_DS_BLOCK, 1>(v, sh, pd_op_sum());
        const double xn2 = v[0];
        v[0] = -INFINITY;
        for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
            const double l = pd_dataset_logit(xn2, w[i], rnorm2[i], alpha, inv2s2);
            w[i] = l;
            v[0] = fmax(v[0], l);
        }
        pd_team_reduce<PD_DS_BLOCK, 1>(v, sh, pd_op_max());
        const double lmax = v[0];
        v[0] = 0.0;
        for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
            const double e = pd_dataset_resp(w[i], lmax);
            w[i] = e;
            v[0] += e;
        }
        pd_team_reduce<PD_DS_BLOCK, 1>(v, sh, pd_op_sum());
        for (int64_t i = threadIdx.x; i < M; i += blockDim.x)
            w[i] /= v[0]; /* each thread its own i */
    }
}

/* *p = a device buffer of count elements of size bytes (at least one byte); NULL on failure. */
static pd_status ds_alloc(pd_ctx *ctx, void **p, size_t count, size_t size)
{
    cudaError_t e = cudaMalloc(p, (count ? count : 1) * size);
    if (e != cudaSuccess) {
        *p = NULL;
        PD_FAIL(ctx, PD_ERR_CUDA, "model dataset: cudaMalloc of %zu bytes: %s", count * size,
                cudaGetErrorString(e));
    }
    return PD_OK;
}

extern "C" void pd_cuda_dataset_destroy(pd_cuda_dataset **ds)
{
    if (!ds || !*ds) return;
    if ((*ds)->blas) cublasDestroy((*ds)->blas);
    cudaFree((*ds)->rows);
    cudaFree((*ds)->rnorm2);
    cudaFree((*ds)->pts);
    cudaFree((*ds)->wk);
    cudaFree((*ds)->xb);
    free(*ds);
    *ds = NULL;
}

extern "C" pd_status pd_cuda_dataset_create(pd_ctx *ctx, int64_t n_rows, int64_t dim, const double *rows,
                                            const double *rnorm2, int64_t cap_max, pd_cuda_dataset **out)
{
    pd_status st = PD_OK;
    cudaError_t e = cudaSuccess;
    cublasStatus_t b = CUBLAS_STATUS_SUCCESS;
    const size_t md = (size_t)n_rows * (size_t)dim;
    pd_cuda_dataset *ds = (pd_cuda_dataset *)calloc(1, sizeof *ds);
    if (!ds) PD_FAIL(ctx, PD_ERR_NOMEM, "model dataset: out of memory");
    ds->M = n_rows;
    ds->d = dim;
    ds->cap_max = cap_max < 1 ? 1 : cap_max;
    PD_TRY_GOTO(ds_alloc(ctx, (void **)&ds->rows, md, sizeof(double)));
    PD_TRY_GOTO(ds_alloc(ctx, (void **)&ds->rnorm2, (size_t)n_rows, sizeof(double)));
    e = cudaMemcpy(ds->rows, rows, md * sizeof(double), cudaMemcpyHostToDevice);
    if (e == cudaSuccess)
        e = cudaMemcpy(ds->rnorm2, rnorm2, (size_t)n_rows * sizeof(double), cudaMemcpyHostToDevice);
    if (e != cudaSuccess)
        PD_FAIL_GOTO(ctx, PD_ERR_CUDA, "model dataset: copying the rows to the GPU: %s",
                     cudaGetErrorString(e));
    b = cublasCreate(&ds->blas);
    /* plain FP64 (no emulated-FP64 math mode): the logits need every bit of X R^T (dataset.c) */
    if (b == CUBLAS_STATUS_SUCCESS) b = cublasSetMathMode(ds->blas, CUBLAS_DEFAULT_MATH);
    if (b != CUBLAS_STATUS_SUCCESS)
        PD_FAIL_GOTO(ctx, PD_ERR_CUDA, "model dataset: cuBLAS setup: %s (%s)", cublasGetStatusName(b),
                     cublasGetStatusString(b));
    *out = ds;
    return PD_OK;
done:
    pd_cuda_dataset_destroy(&ds);
    return st;
}

extern "C" pd_status pd_cuda_dataset_reserve(pd_ctx *ctx, pd_cuda_dataset *ds, int64_t n)
{
    pd_status st = PD_OK;
    const int64_t want = n < 1 ? 1 : (n > ds->cap_max ? ds->cap_max : n);
    void *wk = NULL, *xb = NULL;
    if (want <= ds->cap) return PD_OK;
    PD_TRY_GOTO(ds_alloc(ctx, &wk, (size_t)want * (size_t)ds->M, sizeof(double)));
    PD_TRY_GOTO(ds_alloc(ctx, &xb, (size_t)want * (size_t)ds->d, sizeof(double)));
    cudaFree(ds->wk); /* synchronises: a running eval may still use the old workspace */
    cudaFree(ds->xb);
    ds->wk = (double *)wk;
    ds->xb = (double *)xb;
    ds->cap = want;
    return PD_OK;
done:
    cudaFree(wk);
    cudaFree(xb);
    return st;
}

static pd_status ds_grow_groups(pd_ctx *ctx, pd_cuda_dataset *ds, int n_groups)
{
    void *pts = NULL;
    if (n_groups <= ds->gcap) return PD_OK;
    PD_TRY(ds_alloc(ctx, &pts, (size_t)n_groups, sizeof(pd_grid_point)));
    cudaFree(ds->pts);
    ds->pts = (pd_grid_point *)pts;
    ds->gcap = n_groups;
    return PD_OK;
}

extern "C" pd_status pd_cuda_dataset_eval(pd_ctx *ctx, pd_cuda_dataset *ds, int64_t n, pd_dtype xt,
                                          const void *x, int n_groups, const pd_grid_point *p, pd_dtype ot,
                                          void *out)
{
    const int M = (int)ds->M, d = (int)ds->d; /* < 2^31: checked when the model was made */
    const double one = 1.0, zero = 0.0;
    PD_TRY(ds_grow_groups(ctx, ds, n_groups));
    PD_TRY(pd_cuda_dataset_reserve(ctx, ds, n));
    /* from pageable memory the copy is staged at the call: p may change as soon as this returns */
    PD_CUDA_TRY(ctx, cudaMemcpyAsync(ds->pts, p, (size_t)n_groups * sizeof *p, cudaMemcpyHostToDevice, 0));
    for (int64_t s0 = 0; s0 < n; s0 += ds->cap) {
        const int64_t nb64 = n - s0 < ds->cap ? n - s0 : ds->cap;
        const int nb = (int)nb64; /* cap_max samples fit the workspace budget: far below 2^31 */
        const double *X;
        double *X0;
        if (xt == PD_F64) {
            X = (const double *)x + s0 * d;
        } else {
            PD_TRY(pd_cuda_convert(ctx, nb64 * d, ds->xb, PD_F64, (const float *)x + s0 * d, PD_F32));
            X = ds->xb;
        }
        /* G = X R^T: row-major [nb, M] = column-major [M, nb] = R^T X, R col-major [d, M], X [d, nb] */
        PD_CUBLAS_TRY(ctx, cublasDgemm(ds->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, nb, d, &one, ds->rows, d, X, d,
                                       &zero, ds->wk, M));
        dataset_softmax_kernel<<<(unsigned)(nb64 < PD_DS_MAX_GRID ? nb64 : PD_DS_MAX_GRID), PD_DS_BLOCK>>>(
            nb64, ds->M, ds->d, X, ds->rnorm2, ds->pts, s0, n / n_groups, ds->wk);
        PD_CUDA_TRY(ctx, cudaGetLastError());
        /* X is consumed: out may be x itself. X0 = W R: row-major [nb, d] = column-major [d, nb] = R W,
         * R col-major [d, M], W [M, nb] */
        X0 = ot == PD_F64 ? (double *)out + s0 * d : ds->xb;
        PD_CUBLAS_TRY(ctx, cublasDgemm(ds->blas, CUBLAS_OP_N, CUBLAS_OP_N, d, nb, M, &one, ds->rows, d,
                                       ds->wk, M, &zero, X0, d));
        if (ot != PD_F64)
            PD_TRY(pd_cuda_convert(ctx, nb64 * d, (float *)out + s0 * d, PD_F32, ds->xb, PD_F64));
    }
    return PD_OK;
}
