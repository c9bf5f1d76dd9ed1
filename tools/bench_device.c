/* pd-bench-device: per-step time of the model and of a whole solver step, CPU or GPU, over batch sizes;
 * with --peak, the card's measured device-to-device copy bandwidth and GEMM rates (the references the
 * model kernels are compared with). Used by tests/gpu/check.sh; results/gpu/README.md explains the columns.
 *
 *   pd-bench-device MODEL.h5 gmm|dataset cpu|cuda float32|float64 STEPS B1,B2,... [SOLVER]
 *   pd-bench-device --peak
 *
 * CSV columns: model, dim, device, dtype, batch, solver, s_per_step (model call + update + NaN scan),
 * s_per_eval (model call alone), flop_per_eval, gflops, bytes_per_eval, gbytes_per_s. FLOP and byte counts
 * are models of the work, stated here: dataset 4 n M d flops (X R^T and W R) and 8 (M d + 2 n M) + 2 n d e
 * bytes (rows, the weights written and read, x and x0_hat of e bytes per element); gmm K n (7 d) flops and
 * 2 n d e + 16 K d bytes (x, x0_hat, the per-component tables read once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef PD_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

#include "tools/bench_load.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void device_sync(pd_device_kind dev)
{
#ifdef PD_HAVE_CUDA
    if (dev == PD_DEVICE_CUDA) cudaDeviceSynchronize();
#else
    (void)dev;
#endif
}

typedef struct work_model {
    double flop, bytes;
} work_model;

static work_model work_of(pd_model *m, const char *kind, int64_t n, pd_dtype dt)
{
    const double d = (double)pd_model_dim(m), e = (double)pd_dtype_size(dt);
    if (!strcmp(kind, "dataset")) {
        int64_t rows = 0;
        const double *r;
        pd_model_dataset_rows(m, &rows, &r);
        const double M = (double)rows;
        return (work_model){4.0 * n * M * d, 8.0 * (M * d + 2.0 * n * M) + 2.0 * n * d * e};
    }
    int K = 0, diag = 0;
    const double *w, *mu, *var;
    pd_model_gmm_params(m, &K, &w, &mu, &var, &diag);
    return (work_model){7.0 * K * n * d, 2.0 * n * d * e + 16.0 * K * d};
}

/* Best-of-3 seconds per call of fn over `reps` calls. */
static int time_one(pd_ctx *ctx, pd_model *m, const pd_solver *s, const pd_grid *g, pd_state *x, pd_state *out,
                    pd_solver_ws *ws, int steps, int model_only, double *best)
{
    pd_device_kind dev = pd_state_device(x);
    *best = 1e300;
    for (int r = 0; r < 3; r++) {
        PD_TRY(pd_state_fill_normal(ctx, x, 1, 0, PD_RNG_START));
        pd_solver_ws_reset(ws);
        device_sync(dev);
        double t0 = now();
        if (model_only) {
            for (int n = 0; n < steps; n++) PD_TRY(pd_model_eval(ctx, m, x, pd_grid_at(g, n), out));
        } else {
            PD_TRY(pd_solver_run(ctx, s, m, g, 0, steps, x, ws));
        }
        device_sync(dev);
        double t = (now() - t0) / steps;
        *best = t < *best ? t : *best;
    }
    return PD_OK;
}

static int bench_batch(pd_ctx *ctx, pd_model *m, const char *kind, const char *label, pd_device_kind dev,
                       pd_dtype dt, const pd_grid *g, int steps, int64_t n, const char *solver)
{
    pd_solver *s = NULL;
    pd_state *x = NULL, *out = NULL;
    pd_solver_ws *ws = NULL;
    double t_step, t_eval;
    pd_status st = pd_solver_create(ctx, solver, NULL, &s);
    if (st == PD_OK) st = pd_state_create(ctx, dt, dev, n, pd_model_dim(m), 0, &x);
    if (st == PD_OK) st = pd_state_create_like(ctx, x, &out);
    if (st == PD_OK) st = pd_solver_ws_create(ctx, s, x, &ws);
    if (st == PD_OK) st = pd_model_reserve(ctx, m, n);
    if (st == PD_OK) st = pd_model_eval(ctx, m, x, pd_grid_at(g, 0), out); /* warm-up: uploads, handles */
    if (st == PD_OK) st = time_one(ctx, m, s, g, x, out, ws, steps, 0, &t_step);
    if (st == PD_OK) st = time_one(ctx, m, s, g, x, out, ws, steps, 1, &t_eval);
    if (st == PD_OK) {
        work_model w = work_of(m, kind, n, dt);
        printf("%s,%lld,%s,%s,%lld,%s,%.4e,%.4e,%.4e,%.2f,%.4e,%.2f\n", label, (long long)pd_model_dim(m),
               pd_device_name(dev), pd_dtype_name(dt), (long long)n, solver, t_step, t_eval, w.flop,
               1e-9 * w.flop / t_eval, w.bytes, 1e-9 * w.bytes / t_eval);
        fflush(stdout);
    }
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&out);
    pd_state_destroy(&x);
    pd_solver_destroy(&s);
    return st != PD_OK;
}

#ifdef PD_HAVE_CUDA
/* D2D copy of 1 GiB and square GEMMs (n = 8192, or n for a rehearsal on cudasim): what the card does at
 * best with the vendor's kernels. */
static int peak(int n)
{
    const size_t bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) return 1;
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
    double best = 1e300;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaDeviceSynchronize();
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("peak,d2d_copy_gbytes_per_s,%.1f\n", 2.0 * bytes / best * 1e-9); /* read + write */
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 1;
    const double one = 1.0, zero = 0.0;
    const float onef = 1.0f, zerof = 0.0f;
    for (int prec = 0; prec < 2; prec++) {
        double bestg = 1e300;
        for (int r = 0; r < 4; r++) {
            cudaDeviceSynchronize();
            double t0 = now();
            if (prec == 0)
                cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, a, n, &zero, b, n);
            else
                cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &onef, a, n, a, n, &zerof, b, n);
            cudaDeviceSynchronize();
            double t = now() - t0;
            if (r > 0) bestg = t < bestg ? t : bestg; /* the first call includes setup */
        }
        printf("peak,%s_gflops,%.1f\n", prec == 0 ? "dgemm" : "sgemm", 2.0 * n * (double)n * n / bestg * 1e-9);
    }
    cublasDestroy(h);
    cudaFree(a);
    cudaFree(b);
    return 0;
}
#endif

int main(int argc, char **argv)
{
    if ((argc == 2 || argc == 3) && !strcmp(argv[1], "--peak")) {
#ifdef PD_HAVE_CUDA
        const int n = argc == 3 ? atoi(argv[2]) : 8192;
        if (n < 1 || n > 8192) {
            fprintf(stderr, "pd-bench-device: --peak N: N from 1 to 8192 (the GEMMs use the 1 GiB buffers)\n");
            return 2;
        }
        return peak(n);
#else
        fprintf(stderr, "pd-bench-device: built without CUDA\n");
        return 2;
#endif
    }
    if (argc < 7) {
        fprintf(stderr, "usage: pd-bench-device MODEL.h5 gmm|dataset cpu|cuda float32|float64 STEPS B1,B2,... [SOLVER]\n"
                        "       pd-bench-device --peak [GEMM_N]\n");
        return 2;
    }
    const char *path = argv[1], *kind = argv[2], *solver = argc > 7 ? argv[7] : "ddim";
    pd_device_kind dev = !strcmp(argv[3], "cuda") ? PD_DEVICE_CUDA : PD_DEVICE_CPU;
    pd_dtype dt = !strcmp(argv[4], "float64") ? PD_F64 : PD_F32;
    int steps = atoi(argv[5]);
    pd_ctx *ctx = pd_ctx_create();
    pd_model *m = NULL;
    pd_schedule *sc = NULL;
    pd_grid *g = NULL;
    if (bench_load(ctx, path, kind, steps, &m, &sc, &g) != PD_OK) {
        fprintf(stderr, "pd-bench-device: %s\n", pd_ctx_message(ctx));
        return 2;
    }
    const char *label = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int fails = 0;
    char *list = strdup(argv[6]);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (bench_batch(ctx, m, kind, label, dev, dt, g, steps, atoll(tok), solver)) {
            fprintf(stderr, "pd-bench-device: batch %s: %s\n", tok, pd_ctx_message(ctx));
            pd_ctx_clear(ctx);
            fails++;
        }
    }
    free(list);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sc);
    pd_model_destroy(&m);
    pd_ctx_destroy(&ctx);
    return fails != 0;
}
