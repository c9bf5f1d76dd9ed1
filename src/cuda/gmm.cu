/* CUDA side of the Gaussian-mixture denoiser (models/gmm.c has the CPU loops and the contract).
 *
 * One eval is two launches on the default stream, no host synchronisation:
 *   1. gmm_tables_kernel: for each (group, component) the per-point tables inv_c, gain and
 *      1/2 log det C, one block per pair (the diagonal log det is a block reduction);
 *   2. gmm_denoise_kernel: one team of threads per sample row (pd_gmm_team: 1 thread for d <= 16, a
 *      warp for d <= 1024, a block beyond): pass 1 sweeps the row once per PD_GMM_KC components for their
 *      Mahalanobis sums, the responsibilities go through a [rows, K] scratch in global memory
 *      (log-sum-exp as on the CPU), pass 2 forms each element of x0_hat over the components in the
 *      CPU's order. The element math is models/gmm_elem.h, the same functions as the CPU loops; the
 *      CPU adds the sums over a row in the order of these teams (models/team_sum.h). */
#include <stdlib.h>

#include "cuda/cuda_check.h"
#include "cuda/cuda_models.h"
#include "cuda/team_reduce.cuh"
#include "models/gmm_elem.h"

#define PD_GMM_KC 4 /* components per sweep over a row in pass 1 (PD_GMM_BLOCK: gmm_elem.h) */
#define PD_GMM_MAX_GRID 65535

struct pd_cuda_gmm {
    int K;
    int64_t d;
    int diag;
    pd_gmm_strides st; /* of var and of the per-point tables */
    int64_t cap_max;
    double *log_weight; /* [K] */
    double *mean;       /* [K, d] */
    double *var;        /* [K, kst]: per element (diag) or one per component */
    /* per-point tables for up to gcap groups */
    int gcap;
    pd_grid_point *pts;  /* [gcap]: the call's points, copied from the host */
    double *inv_c;       /* [gcap, K, kst] */
    double *gain;        /* [gcap, K, kst] */
    double *half_logdet; /* [gcap, K] */
    /* responsibilities of a chunk of up to cap samples */
    int64_t cap;
    double *resp; /* [cap, K] */
};

/* What the denoise kernel reads, by value. Group g's tables start at g K kst (inv_c, gain) and g K. */
struct gmm_args {
    int K;
    int64_t d, kst, ist;
    const double *log_weight, *mean;
    const pd_grid_point *pts;
    const double *inv_c, *gain, *half_logdet;
    int64_t rows_per_group; /* row r of the batch is at point pts[r / rows_per_group] */
    double *resp;           /* [chunk rows, K] */
};

/* Tables of group g, component k at the group's point, for all pairs gk = g K + k: one block per pair
 * (grid-stride; every branch is uniform across the block). */
static __global__ void __launch_bounds__(PD_GMM_BLOCK)
    gmm_tables_kernel(int n_groups, int K, int64_t d, int diag, const double *__restrict__ var,
                      const pd_grid_point *__restrict__ pts, double *__restrict__ inv_c,
                      double *__restrict__ gain, double *__restrict__ half_logdet)
{
    __shared__ double sh[32];
    const pd_gmm_strides st = pd_gmm_table_strides(diag, d);
    for (int64_t gk = blockIdx.x; gk < (int64_t)n_groups * K; gk += gridDim.x) {
        const int64_t g = gk / K, k = gk - g * K;
        const double a = pts[g].alpha, s2 = pts[g].sigma * pts[g].sigma;
        const double *v = var + k * st.kst;
        double *ic = inv_c + gk * st.kst, *gn = gain + gk * st.kst;
        if (!diag) {
            if (threadIdx.x == 0) {
                const double c = pd_gmm_elem_c(a, s2, v[0]);
                ic[0] = 1.0 / c;
                gn[0] = pd_gmm_elem_gain(a, v[0], c);
                half_logdet[gk] = pd_gmm_half_logdet_iso(d, c);
            }
            continue;
        }
        double logdet[1] = {0.0};
        for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
            const double c = pd_gmm_elem_c(a, s2, v[i]);
            ic[i] = 1.0 / c;
            gn[i] = pd_gmm_elem_gain(a, v[i], c);
            logdet[0] += log(c);
        }
        pd_team_reduce<PD_GMM_BLOCK, 1>(logdet, sh, pd_op_sum());
        if (threadIdx.x == 0) half_logdet[gk] = 0.5 * logdet[0];
    }
}

/* x0_hat of rows [r0, r0 + nb) of the batch, one team of TEAM threads per row (grid-stride over rows;
 * the row loop is uniform within a team, which the team's barriers need). x and out may be the same
 * memory (in-place eval), hence no __restrict__ on them: a row's elements are all read (pass 1) before
 * a team barrier, and in pass 2 each thread reads then writes only its own elements. */
template <typename TI, typename TO, int TEAM>
static __global__ void __launch_bounds__(PD_GMM_BLOCK)
    gmm_denoise_kernel(gmm_args A, int64_t r0, int64_t nb, const TI *x, TO *out)
{
    __shared__ double sh[PD_GMM_KC * 32]; /* team reductions of blocks */
    const int R = PD_GMM_BLOCK / TEAM;    /* rows per block */
    const int lane = pd_team_lane<TEAM>();
    const int64_t K = A.K, d = A.d, kst = A.kst, ist = A.ist;
    for (int64_t s = (int64_t)blockIdx.x * R + threadIdx.x / TEAM; s < nb; s += (int64_t)gridDim.x * R) {
        const int64_t row = r0 + s, g = row / A.rows_per_group;
        const double a = A.pts[g].alpha;
        const double *ic = A.inv_c + g * K * kst, *gn = A.gain + g * K * kst, *hld = A.half_logdet + g * K;
        const TI *xr = x + row * d;
        double *w = A.resp + s * K; /* logits, then responsibilities of this row */
        double lmax = -INFINITY;

        /* pass 1: l_k for PD_GMM_KC components per sweep; thread k % TEAM keeps l_k */
        for (int64_t k0 = 0; k0 < K; k0 += PD_GMM_KC) {
            double q[PD_GMM_KC];
            for (int j = 0; j < PD_GMM_KC; j++)
                q[j] = 0.0;
            for (int64_t i = lane; i < d; i += TEAM) {
                const double xi = (double)xr[i];
                for (int j = 0; j < PD_GMM_KC; j++) {
                    const int64_t k = k0 + j;
                    if (k < K) q[j] += pd_gmm_elem_quad(xi, a, A.mean[k * d + i], ic[k * kst + i * ist]);
                }
            }
            pd_team_reduce<TEAM, PD_GMM_KC>(q, sh, pd_op_sum());
            for (int j = 0; j < PD_GMM_KC && k0 + j < K; j++) {
                const int64_t k = k0 + j;
                const double l = pd_gmm_logit(A.log_weight[k], q[j], hld[k]);
                lmax = fmax(lmax, l); /* the same in every thread of the team */
                if (k % TEAM == lane) w[k] = l;
            }
        }
        /* responsibilities: each thread exponentiates its own logits; the sum runs over k in order in
         * every thread (the CPU's order); the division waits until every thread has read the sum */
        for (int64_t k = lane; k < K; k += TEAM)
            w[k] = pd_gmm_resp(w[k], lmax);
        pd_team_sync<TEAM>();
        double wsum = 0.0;
        for (int64_t k = 0; k < K; k++)
            wsum += w[k];
        pd_team_sync<TEAM>();
        for (int64_t k = lane; k < K; k += TEAM)
            w[k] /= wsum;
        pd_team_sync<TEAM>();

        /* pass 2: each element of x0_hat over the components in order, skipping zero weights */
        TO *orow = out + row * d;
        for (int64_t i = lane; i < d; i += TEAM) {
            const double xi = (double)xr[i];
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                const double wk = w[k];
                if (wk == 0) continue;
                acc += pd_gmm_elem_x0(wk, xi, a, A.mean[k * d + i], gn[k * kst + i * ist]);
            }
            orow[i] = (TO)acc;
        }
    }
}

/* *p = a device buffer of count elements of size bytes (at least one byte); NULL on failure. */
static pd_status gmm_alloc(pd_ctx *ctx, void **p, size_t count, size_t size)
{
    cudaError_t e = cudaMalloc(p, (count ? count : 1) * size);
    if (e != cudaSuccess) {
        *p = NULL;
        PD_FAIL(ctx, PD_ERR_CUDA, "model gmm: cudaMalloc of %zu bytes: %s", count * size,
                cudaGetErrorString(e));
    }
    return PD_OK;
}

extern "C" void pd_cuda_gmm_destroy(pd_cuda_gmm **g)
{
    if (!g || !*g) return;
    cudaFree((*g)->log_weight);
    cudaFree((*g)->mean);
    cudaFree((*g)->var);
    cudaFree((*g)->pts);
    cudaFree((*g)->inv_c);
    cudaFree((*g)->gain);
    cudaFree((*g)->half_logdet);
    cudaFree((*g)->resp);
    free(*g);
    *g = NULL;
}

extern "C" pd_status pd_cuda_gmm_create(pd_ctx *ctx, int n_comp, int64_t dim, int diag,
                                        const double *log_weight, const double *mean, const double *var,
                                        int64_t cap_max, pd_cuda_gmm **out)
{
    pd_status st = PD_OK;
    cudaError_t e = cudaSuccess;
    double *vh = NULL;
    pd_cuda_gmm *g = (pd_cuda_gmm *)calloc(1, sizeof *g);
    const pd_gmm_strides vs = pd_gmm_table_strides(diag != 0, dim);
    const size_t K = (size_t)n_comp, kd = K * (size_t)dim, kv = K * (size_t)vs.kst;
    if (!g) PD_FAIL(ctx, PD_ERR_NOMEM, "model gmm: out of memory");
    g->K = n_comp;
    g->d = dim;
    g->diag = diag != 0;
    g->st = vs;
    g->cap_max = cap_max < 1 ? 1 : cap_max;
    /* isotropic: one variance per component, var[k * d] of the expanded array */
    vh = (double *)malloc(kv * sizeof *vh);
    if (!vh) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "model gmm: out of memory");
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < (size_t)vs.kst; i++)
            vh[k * (size_t)vs.kst + i] = var[k * (size_t)dim + i];
    PD_TRY_GOTO(gmm_alloc(ctx, (void **)&g->log_weight, K, sizeof(double)));
    PD_TRY_GOTO(gmm_alloc(ctx, (void **)&g->mean, kd, sizeof(double)));
    PD_TRY_GOTO(gmm_alloc(ctx, (void **)&g->var, kv, sizeof(double)));
    e = cudaMemcpy(g->log_weight, log_weight, K * sizeof(double), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(g->mean, mean, kd * sizeof(double), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(g->var, vh, kv * sizeof(double), cudaMemcpyHostToDevice);
    if (e != cudaSuccess)
        PD_FAIL_GOTO(ctx, PD_ERR_CUDA, "model gmm: copying the parameters to the GPU: %s",
                     cudaGetErrorString(e));
    free(vh);
    *out = g;
    return PD_OK;
done:
    free(vh);
    pd_cuda_gmm_destroy(&g);
    return st;
}

extern "C" pd_status pd_cuda_gmm_reserve(pd_ctx *ctx, pd_cuda_gmm *g, int64_t n)
{
    const int64_t want = n < 1 ? 1 : (n > g->cap_max ? g->cap_max : n);
    void *resp = NULL;
    if (want <= g->cap) return PD_OK;
    PD_TRY(gmm_alloc(ctx, &resp, (size_t)want * (size_t)g->K, sizeof(double)));
    cudaFree(g->resp); /* synchronises: a running eval may still read the old scratch */
    g->resp = (double *)resp;
    g->cap = want;
    return PD_OK;
}

/* Room for the tables of n_groups points (grown once by a call with more groups than before). */
static pd_status gmm_grow_groups(pd_ctx *ctx, pd_cuda_gmm *g, int n_groups)
{
    pd_status st = PD_OK;
    void *pts = NULL, *ic = NULL, *gn = NULL, *hld = NULL;
    if (n_groups <= g->gcap) return PD_OK;
    if ((size_t)g->K * (size_t)g->st.kst > SIZE_MAX / sizeof(double) / (size_t)n_groups)
        PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: tables of %d groups overflow a size", n_groups);
    const size_t tab = (size_t)n_groups * (size_t)g->K * (size_t)g->st.kst;
    PD_TRY_GOTO(gmm_alloc(ctx, &pts, (size_t)n_groups, sizeof(pd_grid_point)));
    PD_TRY_GOTO(gmm_alloc(ctx, &ic, tab, sizeof(double)));
    PD_TRY_GOTO(gmm_alloc(ctx, &gn, tab, sizeof(double)));
    PD_TRY_GOTO(gmm_alloc(ctx, &hld, (size_t)n_groups * (size_t)g->K, sizeof(double)));
    cudaFree(g->pts);
    cudaFree(g->inv_c);
    cudaFree(g->gain);
    cudaFree(g->half_logdet);
    g->pts = (pd_grid_point *)pts;
    g->inv_c = (double *)ic;
    g->gain = (double *)gn;
    g->half_logdet = (double *)hld;
    g->gcap = n_groups;
    return PD_OK;
done:
    cudaFree(pts);
    cudaFree(ic);
    cudaFree(gn);
    cudaFree(hld);
    return st;
}

template <typename TI, typename TO>
static void gmm_launch(int team, unsigned grid, const gmm_args &A, int64_t r0, int64_t nb, const void *x,
                       void *out)
{
    if (team == 1)
        gmm_denoise_kernel<TI, TO, 1><<<grid, PD_GMM_BLOCK>>>(A, r0, nb, (const TI *)x, (TO *)out);
    else if (team == 32)
        gmm_denoise_kernel<TI, TO, 32><<<grid, PD_GMM_BLOCK>>>(A, r0, nb, (const TI *)x, (TO *)out);
    else
        gmm_denoise_kernel<TI, TO, PD_GMM_BLOCK><<<grid, PD_GMM_BLOCK>>>(A, r0, nb, (const TI *)x, (TO *)out);
}

static unsigned gmm_grid(int64_t items)
{
    return (unsigned)(items < 1 ? 1 : items > PD_GMM_MAX_GRID ? PD_GMM_MAX_GRID : items);
}

extern "C" pd_status pd_cuda_gmm_eval(pd_ctx *ctx, pd_cuda_gmm *g, int64_t n, pd_dtype xt, const void *x,
                                      int n_groups, const pd_grid_point *p, pd_dtype ot, void *out)
{
    const int team = pd_gmm_team(g->d), rows_per_block = PD_GMM_BLOCK / team;
    PD_TRY(gmm_grow_groups(ctx, g, n_groups));
    PD_TRY(pd_cuda_gmm_reserve(ctx, g, n));
    /* from pageable memory the copy is staged at the call: p may change as soon as this returns */
    PD_CUDA_TRY(ctx, cudaMemcpyAsync(g->pts, p, (size_t)n_groups * sizeof *p, cudaMemcpyHostToDevice, 0));
    gmm_tables_kernel<<<gmm_grid((int64_t)n_groups * g->K), PD_GMM_BLOCK>>>(
        n_groups, g->K, g->d, g->diag, g->var, g->pts, g->inv_c, g->gain, g->half_logdet);
    PD_CUDA_TRY(ctx, cudaGetLastError());
    gmm_args A;
    A.K = g->K;
    A.d = g->d;
    A.kst = g->st.kst;
    A.ist = g->st.ist;
    A.log_weight = g->log_weight;
    A.mean = g->mean;
    A.pts = g->pts;
    A.inv_c = g->inv_c;
    A.gain = g->gain;
    A.half_logdet = g->half_logdet;
    A.rows_per_group = n / n_groups;
    A.resp = g->resp;
    for (int64_t r0 = 0; r0 < n; r0 += g->cap) {
        const int64_t nb = n - r0 < g->cap ? n - r0 : g->cap;
        const unsigned grid = gmm_grid((nb + rows_per_block - 1) / rows_per_block);
        if (xt == PD_F64 && ot == PD_F64)
            gmm_launch<double, double>(team, grid, A, r0, nb, x, out);
        else if (xt == PD_F64)
            gmm_launch<double, float>(team, grid, A, r0, nb, x, out);
        else if (ot == PD_F64)
            gmm_launch<float, double>(team, grid, A, r0, nb, x, out);
        else
            gmm_launch<float, float>(team, grid, A, r0, nb, x, out);
        PD_CUDA_TRY(ctx, cudaGetLastError());
    }
    return PD_OK;
}
