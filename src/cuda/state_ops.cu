/* CUDA side of the state operations: memory, lincomb with Philox noise, conversions, reductions.
 * The per-element math comes from the same headers as the CPU loops (core/lincomb_elem.h). */
#include <cuda_runtime.h>

#include "cuda/cuda_backend.h"

#define PD_CUDA_CHECK(ctx, call)                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            PD_FAIL(ctx, PD_ERR_CUDA, "%s: %s", #call, cudaGetErrorString(e_));                    \
    } while (0)

static const int PD_BLOCK = 256;

static unsigned grid_for(int64_t len)
{
    int64_t g = (len + PD_BLOCK - 1) / PD_BLOCK;
    return (unsigned)(g < 65535 ? (g > 0 ? g : 1) : 65535);
}

extern "C" int pd_cuda_device_count(void)
{
    int n = 0; /* left unset by cudaGetDeviceCount when there is no driver */
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" pd_status pd_cuda_malloc(pd_ctx *ctx, size_t bytes, void **out)
{
    PD_CUDA_CHECK(ctx, cudaMalloc(out, bytes));
    return PD_OK;
}

extern "C" void pd_cuda_free(void *p) { cudaFree(p); }

extern "C" pd_status pd_cuda_memset0(pd_ctx *ctx, void *p, size_t bytes)
{
    PD_CUDA_CHECK(ctx, cudaMemset(p, 0, bytes));
    return PD_OK;
}

extern "C" pd_status pd_cuda_memcpy(pd_ctx *ctx, void *dst, const void *src, size_t bytes, pd_copy_kind kind)
{
    cudaMemcpyKind k = kind == PD_COPY_H2D ? cudaMemcpyHostToDevice
                     : kind == PD_COPY_D2H ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
    PD_CUDA_CHECK(ctx, cudaMemcpy(dst, src, bytes, k));
    return PD_OK;
}

/* Pointers travel by value in a struct (kernel arguments cannot be arrays). */
template <typename T> struct pd_ptrs {
    const T *v[PD_LINCOMB_MAX_TERMS];
};

template <typename T>
static __global__ void lincomb_kernel(int64_t len, T *__restrict__ out, pd_ptrs<T> p, pd_lincomb_args a)
{
    int64_t stride = (int64_t)blockDim.x * gridDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < len; i += stride) {
        double acc = 0.0;
        for (int k = 0; k < a.n; k++) acc += a.c[k] * (double)p.v[k][i];
        out[i] = (T)(acc + pd_lincomb_noise(&a, i));
    }
}

template <typename T>
static void launch_lincomb(int64_t len, void *out, const void *const *v, const pd_lincomb_args *a)
{
    pd_ptrs<T> p = {};
    for (int k = 0; k < a->n; k++) p.v[k] = (const T *)v[k];
    lincomb_kernel<T><<<grid_for(len), PD_BLOCK>>>(len, (T *)out, p, *a);
}

extern "C" pd_status pd_cuda_lincomb(pd_ctx *ctx, pd_dtype dtype, int64_t len, void *out,
                                     const void *const *v, const pd_lincomb_args *a)
{
    if (dtype == PD_F64) launch_lincomb<double>(len, out, v, a);
    else launch_lincomb<float>(len, out, v, a);
    PD_CUDA_CHECK(ctx, cudaGetLastError());
    return PD_OK;
}

/* One thread per (sample, pair): both outputs from the inputs read first (out may alias an input). */
template <typename T>
static __global__ void pairs_kernel(int64_t rows, T *out, pd_ptrs<T> p, pd_pairs_args a)
{
    const int64_t total = rows * a.half, stride = (int64_t)blockDim.x * gridDim.x;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < total; j += stride) {
        const int64_t s = j / a.half, i = j - s * a.half;
        double ox, om;
        PD_PAIR_APPLY(T, &a, p.v, s, i, ox, om);
        out[s * 2 * a.half + i] = (T)ox;
        out[s * 2 * a.half + a.half + i] = (T)om;
    }
}

template <typename T>
static void launch_pairs(int64_t rows, void *out, const void *const *v, const pd_pairs_args *a)
{
    pd_ptrs<T> p = {};
    for (int k = 0; k < a->n; k++) p.v[k] = (const T *)v[k];
    pairs_kernel<T><<<grid_for(rows * a->half), PD_BLOCK>>>(rows, (T *)out, p, *a);
}

extern "C" pd_status pd_cuda_lincomb_pairs(pd_ctx *ctx, pd_dtype dtype, int64_t rows, void *out,
                                           const void *const *v, const pd_pairs_args *a)
{
    if (dtype == PD_F64) launch_pairs<double>(rows, out, v, a);
    else launch_pairs<float>(rows, out, v, a);
    PD_CUDA_CHECK(ctx, cudaGetLastError());
    return PD_OK;
}

template <typename D, typename S>
static __global__ void convert_kernel(int64_t len, D *__restrict__ dst, const S *__restrict__ src)
{
    int64_t stride = (int64_t)blockDim.x * gridDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < len; i += stride) dst[i] = (D)src[i];
}

extern "C" pd_status pd_cuda_convert(pd_ctx *ctx, int64_t len, void *dst, pd_dtype dt, const void *src, pd_dtype st)
{
    if (dt == st) return pd_cuda_memcpy(ctx, dst, src, (size_t)len * pd_dtype_size(dt), PD_COPY_D2D);
    if (dt == PD_F64) convert_kernel<<<grid_for(len), PD_BLOCK>>>(len, (double *)dst, (const float *)src);
    else convert_kernel<<<grid_for(len), PD_BLOCK>>>(len, (float *)dst, (const double *)src);
    PD_CUDA_CHECK(ctx, cudaGetLastError());
    return PD_OK;
}

/* first non-finite index via atomicMin on a device scalar (len when none) */
template <typename T>
static __global__ void nonfinite_kernel(int64_t len, const T *__restrict__ x, unsigned long long *first)
{
    int64_t stride = (int64_t)blockDim.x * gridDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < len; i += stride)
        if (!isfinite((double)x[i])) atomicMin(first, (unsigned long long)i);
}

extern "C" pd_status pd_cuda_find_nonfinite(pd_ctx *ctx, pd_dtype dtype, int64_t len, const void *x, void *scratch,
                                            int64_t *first)
{
    unsigned long long *d = (unsigned long long *)scratch, h = (unsigned long long)len;
    cudaError_t e = cudaMemcpy(d, &h, sizeof h, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) {
        if (dtype == PD_F64) nonfinite_kernel<<<grid_for(len), PD_BLOCK>>>(len, (const double *)x, d);
        else nonfinite_kernel<<<grid_for(len), PD_BLOCK>>>(len, (const float *)x, d);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) PD_FAIL(ctx, PD_ERR_CUDA, "find_nonfinite: %s", cudaGetErrorString(e));
    *first = h == (unsigned long long)len ? -1 : (int64_t)h;
    return PD_OK;
}

/* Sum of acc over the block's threads (blockDim.x a power of two, at most 256; s: __shared__ double[256]),
 * returned to every thread; s is free again when it returns. */
static __device__ double block_sum(double acc, double *s)
{
    s[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
        __syncthreads();
    }
    const double r = s[0];
    __syncthreads(); /* every thread has read s[0] before a next use overwrites s */
    return r;
}

/* The g per-block parts a reduction kernel left in d, on the host (after the launch's error check). */
static pd_status read_parts(pd_ctx *ctx, const char *what, const double *d, unsigned g, double *h)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpy(h, d, g * sizeof(double), cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) PD_FAIL(ctx, PD_ERR_CUDA, "%s: %s", what, cudaGetErrorString(e));
    return PD_OK;
}

/* per-block partial sums in double, summed on the host in block order (deterministic) */
template <typename T>
static __global__ void sqdiff_kernel(int64_t len, const T *__restrict__ a, const T *__restrict__ b, double *part)
{
    __shared__ double s[256];
    double acc = 0.0;
    int64_t stride = (int64_t)blockDim.x * gridDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < len; i += stride) {
        double d = (double)a[i] - (double)b[i];
        acc += d * d;
    }
    acc = block_sum(acc, s);
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

extern "C" pd_status pd_cuda_sqdiff(pd_ctx *ctx, pd_dtype dtype, int64_t len, const void *a, const void *b,
                                    void *scratch, double *out)
{
    unsigned g = grid_for(len) < 1024 ? grid_for(len) : 1024;
    double *d = (double *)scratch, h[1024];
    if (dtype == PD_F64) sqdiff_kernel<<<g, PD_BLOCK>>>(len, (const double *)a, (const double *)b, d);
    else sqdiff_kernel<<<g, PD_BLOCK>>>(len, (const float *)a, (const float *)b, d);
    PD_TRY(read_parts(ctx, "sqdiff", d, g, h));
    double s = 0.0;
    for (unsigned i = 0; i < g; i++) s += h[i];
    *out = s;
    return PD_OK;
}

/* One block per sample (grid-stride over samples): each sample's sum as sqdiff_kernel sums a block's
 * share, the block's largest into part[blockIdx.x]; the host takes the largest of the parts. */
template <typename T>
static __global__ void sample_sqdiff_max_kernel(int64_t n, int64_t dim, const T *__restrict__ a,
                                                const T *__restrict__ b, double *part)
{
    __shared__ double s[256];
    double m = 0.0;
    for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
        double acc = 0.0;
        for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
            double d = (double)a[r * dim + i] - (double)b[r * dim + i];
            acc += d * d;
        }
        m = pd_max_nan(m, block_sum(acc, s));
    }
    if (threadIdx.x == 0) part[blockIdx.x] = m;
}

extern "C" pd_status pd_cuda_sample_sqdiff_max(pd_ctx *ctx, pd_dtype dtype, int64_t n, int64_t dim, const void *a,
                                               const void *b, void *scratch, double *out)
{
    const unsigned g = (unsigned)(n < 1 ? 1 : n < 1024 ? n : 1024);
    double *d = (double *)scratch, h[1024];
    if (dtype == PD_F64) sample_sqdiff_max_kernel<<<g, PD_BLOCK>>>(n, dim, (const double *)a, (const double *)b, d);
    else sample_sqdiff_max_kernel<<<g, PD_BLOCK>>>(n, dim, (const float *)a, (const float *)b, d);
    PD_TRY(read_parts(ctx, "sample_sqdiff_max", d, g, h));
    double m = 0.0;
    for (unsigned i = 0; i < g; i++) m = pd_max_nan(m, h[i]);
    *out = m;
    return PD_OK;
}
