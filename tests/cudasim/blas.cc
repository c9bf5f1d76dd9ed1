/* cudasim cuBLAS: GEMM through CBLAS in column-major order (cuBLAS's), queued on the handle's stream,
 * after cuBLAS's own argument checks; a matrix that is not wholly in one device allocation stops the
 * process, as the GPU's illegal address would. alpha and beta are read at the call (host pointer
 * mode, cuBLAS's default). */
#include <cblas.h>

#include "cublas_v2.h"
#include "sim.h"

struct pd_sim_blas {
    cudaStream_t stream = nullptr;
};

namespace {

/* bytes spanned by a column-major rows x cols matrix with leading dimension ld */
size_t span(int rows, int cols, int ld, size_t elem)
{
    if (rows == 0 || cols == 0) return 0;
    return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * elem;
}

void check_matrix(const char *call, const char *name, const void *p, int rows, int cols, int ld, size_t elem)
{
    const size_t b = span(rows, cols, ld, elem);
    if (b && pdsim::classify(p, b) != pdsim::mem::device)
        pdsim::fatal("%s: %s (%d x %d, ld %d) is not a device range of %zu bytes: %s", call, name, rows, cols, ld, b,
                     pdsim::describe(p));
}

CBLAS_TRANSPOSE op(cublasOperation_t t) { return t == CUBLAS_OP_N ? CblasNoTrans : CblasTrans; }

template <typename T>
cublasStatus_t gemm(const char *call, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const T *alpha, const T *A, int lda, const T *B, int ldb, const T *beta, T *C, int ldc)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    const int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    const int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (m < 0 || n < 0 || k < 0 || lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1) ||
        !alpha || !beta || ta > CUBLAS_OP_C || tb > CUBLAS_OP_C)
        return CUBLAS_STATUS_INVALID_VALUE;
    pdsim::stream *s = pdsim::resolve(h->stream);
    if (!s) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    if (pdsim::classify(alpha, sizeof *alpha) == pdsim::mem::device)
        pdsim::fatal("%s: alpha is device memory but the handle is in host pointer mode", call);
    check_matrix(call, "A", A, ar, ac, lda, sizeof(T));
    check_matrix(call, "B", B, br, bc, ldb, sizeof(T));
    check_matrix(call, "C", C, m, n, ldc, sizeof(T));
    const T a = *alpha, b = *beta;
    pdsim::enqueue_fn(s, call, [=] {
        if constexpr (sizeof(T) == 8)
            cblas_dgemm(CblasColMajor, op(ta), op(tb), m, n, k, a, A, lda, B, ldb, b, C, ldc);
        else
            cblas_sgemm(CblasColMajor, op(ta), op(tb), m, n, k, a, A, lda, B, ldb, b, C, ldc);
    });
    return CUBLAS_STATUS_SUCCESS;
}

} // namespace

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    if (!h) return CUBLAS_STATUS_INVALID_VALUE;
    *h = new pd_sim_blas;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t h)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    return mode == CUBLAS_DEFAULT_MATH || mode == CUBLAS_PEDANTIC_MATH ? CUBLAS_STATUS_SUCCESS
                                                                        : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusName(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

const char *cublasGetStatusString(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    }
    return "unknown error";
}

cublasStatus_t cublasDgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double *alpha, const double *A, int lda, const double *B, int ldb,
                           const double *beta, double *C, int ldc)
{
    return gemm("cublasDgemm", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb,
                           const float *beta, float *C, int ldc)
{
    return gemm("cublasSgemm", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

} /* extern "C" */
