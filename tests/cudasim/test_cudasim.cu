/* cudasim's own checks: what it computes (block and warp reductions, GEMM, copies) and the CUDA rules
 * it enforces, each of which a CPU build would let pass.
 *   test_cudasim                 the checks that must hold (exit 0)
 *   test_cudasim MODE            a program that breaks one rule: cudasim must stop it with a message
 *                                (test_cudasim.sh runs every MODE and reads the message)
 * Built only with PINTDIFF_CUDA=SIM (rewrite.cmake makes it C++). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int fails = 0;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    fails += !ok;
}

/* ------------------------------------------------------------------ kernels */

__global__ void block_sum(const double *x, int n, double *out)
{
    __shared__ double s[256];
    double acc = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += x[i];
    s[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

/* every lane ends with the warp's sum (butterfly) */
__global__ void warp_sum(const double *x, double *out)
{
    double v = x[blockIdx.x * blockDim.x + threadIdx.x];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

__global__ void fill(double *p, int n, double v)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) p[i] = v;
}

/* writes one element past n: the last thread of the grid */
__global__ void overrun(double *p, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) p[i] = 1.0;
}

/* a __syncthreads that half the block skips */
__global__ void divergent(double *p)
{
    if (threadIdx.x < 16) __syncthreads();
    p[threadIdx.x] = 1.0;
}

/* block 0 leaves a value in shared memory; every other block reads it without writing first */
__global__ void shared_leftover(double *out)
{
    __shared__ double s[1];
    if (blockIdx.x == 0 && threadIdx.x == 0) s[0] = 5.0;
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

/* shift left without a barrier between the reads and the writes: a race */
__global__ void shift_racy(double *out)
{
    __shared__ double s[64];
    s[threadIdx.x] = threadIdx.x;
    __syncthreads();
    double v = threadIdx.x + 1 < blockDim.x ? s[threadIdx.x + 1] : 0.0;
    s[threadIdx.x] = v; /* a thread may overwrite what its left neighbour has not read yet */
    __syncthreads();
    out[threadIdx.x] = s[threadIdx.x];
}

/* half the block at one __syncthreads, half at another */
__global__ void two_barriers(double *p)
{
    if (threadIdx.x < 16) {
        __syncthreads();
        p[threadIdx.x] = 1.0;
    } else {
        __syncthreads();
        p[threadIdx.x] = 2.0;
    }
}

/* ------------------------------------------------------------------ checks that must hold */

static void check_schedules(void)
{
    double *d, h[64];
    cudaMalloc((void **)&d, sizeof h);
    shared_leftover<<<3, 32>>>(d);
    cudaMemcpy(h, d, 3 * sizeof(double), cudaMemcpyDeviceToHost);
    expect(h[0] == 5.0 && isnan(h[1]) && isnan(h[2]), "shared memory starts as NaN in every block");
    shift_racy<<<1, 64>>>(d);
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    int right = 1;
    for (int t = 0; t < 64; t++) right = right && h[t] == (t + 1 < 64 ? t + 1 : 0);
    expect(!right, "a missing barrier between reads and writes of shared memory shows (threads run in reverse)");
    cudaFree(d);
}

static void check_reductions(void)
{
    const int n = 1000;
    double h[1024], *x, *out, got[4];
    for (int i = 0; i < 1024; i++) h[i] = 1.0 + i % 7;
    double want = 0.0;
    for (int i = 0; i < n; i++) want += h[i];
    cudaMalloc((void **)&x, sizeof h);
    cudaMalloc((void **)&out, sizeof h);
    cudaMemcpy(x, h, sizeof h, cudaMemcpyHostToDevice);
    block_sum<<<1, 256>>>(x, n, out);
    cudaMemcpy(got, out, sizeof(double), cudaMemcpyDeviceToHost);
    expect(got[0] == want, "block reduction with __syncthreads");
    warp_sum<<<2, 64>>>(x, out);
    double w[128];
    cudaMemcpy(w, out, sizeof w, cudaMemcpyDeviceToHost);
    int ok = 1;
    for (int t = 0; t < 128; t++) {
        double s = 0.0;
        for (int l = 0; l < 32; l++) s += h[t / 32 * 32 + l];
        ok = ok && w[t] == s;
    }
    expect(ok, "warp butterfly with __shfl_xor_sync: every lane has its warp's sum");
    cudaFree(x);
    cudaFree(out);
}

static void check_streams(void)
{
    double *d, *pinned, page[4] = {1, 2, 3, 4}, back[4];
    cudaMalloc((void **)&d, sizeof page);
    cudaMallocHost((void **)&pinned, sizeof page);
    memset(pinned, 0, sizeof page);
    fill<<<1, 32>>>(d, 4, 7.0);
    cudaMemcpyAsync(pinned, d, sizeof page, cudaMemcpyDeviceToHost, 0);
    expect(pinned[0] == 0.0, "an asynchronous copy into pinned memory has not happened before a wait");
    cudaStreamSynchronize(0);
    expect(pinned[0] == 7.0 && pinned[3] == 7.0, "... and has after cudaStreamSynchronize");
    cudaMemcpyAsync(d, page, sizeof page, cudaMemcpyHostToDevice, 0);
    page[0] = -1.0; /* pageable memory is staged at the call */
    cudaMemcpy(back, d, sizeof back, cudaMemcpyDeviceToHost);
    expect(back[0] == 1.0, "an asynchronous copy from pageable memory takes the contents at the call");
    cudaEvent_t ev;
    cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    fill<<<1, 32>>>(d, 4, 3.0);
    cudaEventRecord(ev, 0);
    expect(cudaEventQuery(ev) == cudaSuccess, "an event after a kernel completes when queried");
    cudaEventDestroy(ev);
    cudaError_t e = cudaMemcpy(back, page, sizeof back, cudaMemcpyHostToDevice);
    expect(e == cudaErrorInvalidValue && cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess,
           "a copy whose kind does not match the pointers fails (and the error is not sticky)");
    double *fresh;
    cudaMalloc((void **)&fresh, sizeof back);
    cudaMemcpy(back, fresh, sizeof back, cudaMemcpyDeviceToHost);
    expect(isnan(back[0]) && isnan(back[3]), "fresh device memory reads as NaN, not zero");
    fill<<<1, 2048>>>(d, 4, 1.0);
    expect(cudaGetLastError() == cudaErrorInvalidConfiguration, "a block of 2048 threads is refused at launch");
    cudaFree(fresh);
    cudaFree(d);
    cudaFreeHost(pinned);
}

static void check_gemm(void)
{
    /* C (2 x 3) = A^T B with A stored 4 x 2 (lda 4), B 4 x 3 (ldb 4), column-major */
    double A[8], B[12], C[6], *dA, *dB, *dC, one = 1.0, zero = 0.0;
    for (int i = 0; i < 8; i++) A[i] = i + 1;
    for (int i = 0; i < 12; i++) B[i] = 0.5 * i - 2;
    cudaMalloc((void **)&dA, sizeof A);
    cudaMalloc((void **)&dB, sizeof B);
    cudaMalloc((void **)&dC, sizeof C);
    cudaMemcpy(dA, A, sizeof A, cudaMemcpyHostToDevice);
    cudaMemcpy(dB, B, sizeof B, cudaMemcpyHostToDevice);
    cublasHandle_t h;
    cublasCreate(&h);
    cublasStatus_t s = cublasDgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 3, 4, &one, dA, 4, dB, 4, &zero, dC, 2);
    cudaMemcpy(C, dC, sizeof C, cudaMemcpyDeviceToHost);
    int ok = s == CUBLAS_STATUS_SUCCESS;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            double want = 0.0;
            for (int k = 0; k < 4; k++) want += A[i * 4 + k] * B[j * 4 + k];
            ok = ok && C[j * 2 + i] == want;
        }
    expect(ok, "cublasDgemm A^T B (column-major) into NaN-filled memory with beta = 0");
    s = cublasDgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 3, 4, &one, dA, 3, dB, 4, &zero, dC, 2);
    expect(s == CUBLAS_STATUS_INVALID_VALUE, "cublasDgemm with lda below the rows of op(A)'s storage is refused");
    cublasDestroy(h);
    cudaFree(dA);
    cudaFree(dB);
    cudaFree(dC);
}

/* ------------------------------------------------------------------ programs that break a rule */

static int broken(const char *mode)
{
    double *d, h[64] = {0};
    cudaMalloc((void **)&d, 64 * sizeof(double));
    if (!strcmp(mode, "host-touch")) {
        volatile double *p = d;
        printf("%g\n", p[3]); /* host code reading device memory */
    } else if (!strcmp(mode, "overrun")) {
        overrun<<<1, 128>>>(d, 64);
        cudaDeviceSynchronize();
    } else if (!strcmp(mode, "divergent")) {
        divergent<<<1, 32>>>(d);
        cudaDeviceSynchronize();
    } else if (!strcmp(mode, "host-arg")) {
        fill<<<1, 32>>>(h, 64, 1.0);
        cudaDeviceSynchronize();
    } else if (!strcmp(mode, "two-barriers")) {
        two_barriers<<<1, 32>>>(d);
        cudaDeviceSynchronize();
    } else if (!strcmp(mode, "gemm-range")) {
        double one = 1.0;
        cublasHandle_t b;
        cublasCreate(&b);
        cublasDgemm(b, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d, 8, d, 8, &one, d, 8); /* 64 doubles hold 8 x 8, */
        cublasDgemm(b, CUBLAS_OP_N, CUBLAS_OP_N, 8, 9, 8, &one, d, 8, d, 8, &one, d, 8); /* not 8 x 9 */
        cudaDeviceSynchronize();
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("not stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) return broken(argv[1]);
    check_reductions();
    check_schedules();
    check_streams();
    check_gemm();
    printf("%s\n", fails ? "test_cudasim: FAILED" : "test_cudasim: all passed");
    return fails != 0;
}
