/* CUDA side of the exact PSLD mixture score (models/psld_gmm.c has the CPU loop and the contract).
 *
 * The host builds the per-point tables of a call (E_t, the 2x2 inverse covariances, the log-determinants:
 * K d 2x2 inversions, negligible next to the batch) and they go to the device asynchronously with the
 * launch; one thread per sample row then forms the logits (kept in a [rows, K] scratch), the normalised
 * weights, and the score element by element over the components in the CPU's order. The per-pair math is
 * core/psld.h, shared with the CPU loop. PSLD's data are low-dimensional; a team per row (as the gmm
 * kernel has) would be the next step for large d. */
#include <math.h>

#include "core/psld.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_models.h"

#define PD_PSLD_BLOCK 128

struct pd_cuda_psld {
    int K, per;
    int64_t d;
    double *log_w, *mean; /* [K], [K, d] */
    int gcap;
    double *tab;          /* [gcap, 4 + 4 K per + K]: E, inverse covariances, half log-determinants */
    int64_t cap;
    double *ell;          /* [cap, K] */
};

static pd_status psld_upload(pd_ctx *ctx, pd_cuda_psld *g, const double *log_w, const double *mean)
{
    PD_CUDA_TRY(ctx, cudaMalloc((void **)&g->log_w, sizeof(double) * g->K));
    PD_CUDA_TRY(ctx, cudaMalloc((void **)&g->mean, sizeof(double) * g->K * g->d));
    PD_CUDA_TRY(ctx, cudaMemcpy(g->log_w, log_w, sizeof(double) * g->K, cudaMemcpyHostToDevice));
    PD_CUDA_TRY(ctx, cudaMemcpy(g->mean, mean, sizeof(double) * g->K * g->d, cudaMemcpyHostToDevice));
    return PD_OK;
}

extern "C" void pd_cuda_psld_destroy(pd_cuda_psld **gp);

extern "C" pd_status pd_cuda_psld_create(pd_ctx *ctx, int n_comp, int64_t d, int per, const double *log_w,
                                         const double *mean, pd_cuda_psld **out)
{
    pd_cuda_psld *g = (pd_cuda_psld *)calloc(1, sizeof *g);
    if (!g) PD_FAIL(ctx, PD_ERR_NOMEM, "psld-gmm: cannot allocate the device model");
    g->K = n_comp, g->d = d, g->per = per;
    pd_status st = psld_upload(ctx, g, log_w, mean);
    if (st != PD_OK) { /* published only when complete */
        pd_cuda_psld_destroy(&g);
        return st;
    }
    *out = g;
    return PD_OK;
}

extern "C" void pd_cuda_psld_destroy(pd_cuda_psld **gp)
{
    if (!gp || !*gp) return;
    pd_cuda_psld *g = *gp;
    cudaFree(g->log_w), cudaFree(g->mean), cudaFree(g->tab), cudaFree(g->ell);
    free(g);
    *gp = NULL;
}

static int64_t tab_len(const pd_cuda_psld *g) { return 4 + 4 * (int64_t)g->K * g->per + g->K; }

/* Room for n rows and G groups (grown, never shrunk; the old contents are not kept). */
static pd_status grow(pd_ctx *ctx, pd_cuda_psld *g, int64_t n, int G)
{
    if (n > g->cap) {
        cudaFree(g->ell);
        g->ell = NULL, g->cap = 0;
        PD_CUDA_TRY(ctx, cudaMalloc((void **)&g->ell, sizeof(double) * n * g->K));
        g->cap = n;
    }
    if (G > g->gcap) {
        cudaFree(g->tab);
        g->tab = NULL, g->gcap = 0;
        PD_CUDA_TRY(ctx, cudaMalloc((void **)&g->tab, sizeof(double) * G * tab_len(g)));
        g->gcap = G;
    }
    return PD_OK;
}

template <typename TX, typename TO>
static __global__ void psld_score_kernel(int64_t n, int64_t rows, int64_t d, int K, int per, int64_t tl,
                                         const TX *x, const double *__restrict__ mean,
                                         const double *__restrict__ log_w, const double *__restrict__ tab,
                                         double *__restrict__ ell, TO *out)
{
    const int64_t stride = (int64_t)blockDim.x * gridDim.x;
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < n; r += stride) {
        const double *t = tab + (r / rows) * tl;
        const pd_mat2 E = {t[0], t[1], t[2], t[3]};
        const double *ci = t + 4, *hld = t + 4 + 4 * (int64_t)K * per;
        const TX *u = x + r * 2 * d;
        double *l = ell + r * K, lmax = -INFINITY;
        for (int k = 0; k < K; k++) {
            double q = 0.0;
            for (int64_t i = 0; i < d; i++) {
                const double mu = mean[k * d + i];
                const double *c = ci + 4 * (k * per + (per > 1 ? i : 0));
                q += pd_psld_quad((double)u[i] - E.a * mu, (double)u[d + i] - E.c * mu, (pd_mat2){c[0], c[1], c[2], c[3]});
            }
            l[k] = log_w[k] - 0.5 * q - hld[k];
            lmax = l[k] > lmax ? l[k] : lmax;
        }
        double wsum = 0.0;
        for (int k = 0; k < K; k++) wsum += (l[k] = exp(l[k] - lmax));
        for (int k = 0; k < K; k++) l[k] /= wsum;
        for (int64_t i = 0; i < d; i++) {
            const double ux = (double)u[i], um = (double)u[d + i];
            double sx = 0.0, sm = 0.0;
            for (int k = 0; k < K; k++) {
                if (l[k] == 0.0) continue;
                const double mu = mean[k * d + i];
                const double *c = ci + 4 * (k * per + (per > 1 ? i : 0));
                pd_psld_score_add(ux - E.a * mu, um - E.c * mu, (pd_mat2){c[0], c[1], c[2], c[3]}, l[k], &sx, &sm);
            }
            out[r * 2 * d + i] = (TO)sx; /* u[i], u[d + i] are read: out may be x */
            out[r * 2 * d + d + i] = (TO)sm;
        }
    }
}

template <typename TX, typename TO>
static void launch(const pd_cuda_psld *g, int64_t n, int64_t rows, const void *x, void *out)
{
    int64_t blocks = (n + PD_PSLD_BLOCK - 1) / PD_PSLD_BLOCK;
    if (blocks > 65535) blocks = 65535;
    psld_score_kernel<TX, TO><<<(unsigned)blocks, PD_PSLD_BLOCK>>>(n, rows, g->d, g->K, g->per, tab_len(g),
                                                                  (const TX *)x, g->mean, g->log_w, g->tab,
                                                                  g->ell, (TO *)out);
}

extern "C" pd_status pd_cuda_psld_eval(pd_ctx *ctx, pd_cuda_psld *g, int64_t n, pd_dtype xt, const void *x,
                                       int n_groups, const double *tab, pd_dtype ot, void *out)
{
    PD_TRY(grow(ctx, g, n, n_groups));
    PD_CUDA_TRY(ctx, cudaMemcpyAsync(g->tab, tab, sizeof(double) * n_groups * tab_len(g), cudaMemcpyHostToDevice));
    const int64_t rows = n / n_groups;
    if (xt == PD_F64 && ot == PD_F64) launch<double, double>(g, n, rows, x, out);
    else if (xt == PD_F64) launch<double, float>(g, n, rows, x, out);
    else if (ot == PD_F64) launch<float, double>(g, n, rows, x, out);
    else launch<float, float>(g, n, rows, x, out);
    PD_CUDA_TRY(ctx, cudaGetLastError());
    return PD_OK;
}
