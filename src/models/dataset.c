/* Exact denoiser of the empirical distribution of a data set (ALGORITHMS.md §2.3).
 *
 * p_t = (1/M) sum_i N(alpha x_i, sigma^2 I); w_i = softmax_i(-|x - alpha x_i|^2 / (2 sigma^2));
 * x0_hat = sum_i w_i x_i. For a batch X [n, d] and the rows R [M, d] (double):
 *   G = X R^T (dgemm), |x - alpha x_i|^2 = |x|^2 - 2 alpha G + alpha^2 |x_i|^2 (clamped at >= 0),
 *   W = row-wise softmax (log-sum-exp), X0 = W R (dgemm).
 * The expanded form loses about eps * (|x|^2 + alpha^2 |x_i|^2) absolutely, i.e. eps (|x|^2 +
 * alpha^2 |x_i|^2) / (2 sigma^2) in a logit: in double that is 6e-8 for d = 3072, |x|^2 ~ 1000 at
 * sigma = 0.002 (EDM's smallest), harmless; in float32 it would not be (§2.3), hence double
 * throughout; float32 states are converted per element.
 *
 * The logit and softmax element math is models/dataset_elem.h, shared with the CUDA path
 * (cuda/dataset.cu: cuBLAS for the two products, a kernel for the softmax): CUDA states go there, with
 * the rows copied to the GPU at the first such eval. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/dataset_elem.h"
#include "models/model_impl.h"
#include "pintdiff/rng.h"
#ifdef PD_HAVE_CUDA
#include "cuda/cuda_models.h"
#endif

#define PD_LOG_2PI 1.8378770664093454836
/* Largest workspace one eval uses; bigger batches are processed in chunks of this size. */
#define PD_DATASET_WS_MAX_BYTES ((int64_t)256 << 20)

typedef struct pd_dataset {
    int64_t n_rows; /* M */
    int64_t dim;    /* d */
    double *rows;   /* [M, d] */
    double *rnorm2; /* [M] |x_i|^2 */
    /* workspace for chunks of up to `cap` samples (reserve; grown once by a bigger eval) */
    int64_t cap;
    int64_t cap_max;  /* PD_DATASET_WS_MAX_BYTES worth of samples, >= 1 */
    double *wk;       /* [cap, M]: X R^T, then logits, then weights */
    double *xb;       /* [cap, d]: the chunk in double (float32 input), then x0_hat (float32 out) */
    double *xn2;      /* [cap]: |x|^2, then log-sum-exp of the logits */
    int64_t reserved; /* the largest batch announced by reserve: sizes the device workspace */
    struct pd_cuda_dataset *dev; /* device copy and workspace, made at the first eval on CUDA states */
} pd_dataset;

static void pd_dataset_free(pd_dataset *ds)
{
    if (!ds) return;
    free(ds->rows);
    free(ds->rnorm2);
    free(ds->wk);
    free(ds->xb);
    free(ds->xn2);
#ifdef PD_HAVE_CUDA
    pd_cuda_dataset_destroy(&ds->dev);
#endif
    free(ds);
}

static void pd_dataset_destroy(void *self)
{
    pd_dataset_free((pd_dataset *)self);
}

/* Make room for chunks of min(n, cap_max) samples (no-op when there is room already). */
static pd_status pd_dataset_grow(pd_dataset *ds, pd_ctx *ctx, int64_t n)
{
    int64_t want = n < 1 ? 1 : (n > ds->cap_max ? ds->cap_max : n);
    double *wk, *xb, *xn2;
    if (want <= ds->cap) return PD_OK;
    wk = malloc((size_t)(want * ds->n_rows) * sizeof *wk);
    xb = malloc((size_t)(want * ds->dim) * sizeof *xb);
    xn2 = malloc((size_t)want * sizeof *xn2);
    if (!wk || !xb || !xn2) {
        free(wk);
        free(xb);
        free(xn2);
        PD_FAIL(ctx, PD_ERR_NOMEM,
                "model dataset: out of memory for a workspace of %lld x (%lld + %lld) "
                "doubles",
                (long long)want, (long long)ds->n_rows, (long long)ds->dim);
    }
    free(ds->wk);
    free(ds->xb);
    free(ds->xn2);
    ds->wk = wk;
    ds->xb = xb;
    ds->xn2 = xn2;
    ds->cap = want;
    return PD_OK;
}

/* Grows the CPU workspace, and the device one when the model has run on a GPU already (else the first
 * eval there makes it this big). */
static pd_status pd_dataset_reserve(void *self, pd_ctx *ctx, int64_t n)
{
    pd_dataset *ds = self;
    if (n > ds->reserved) ds->reserved = n;
#ifdef PD_HAVE_CUDA
    if (ds->dev) PD_TRY(pd_cuda_dataset_reserve(ctx, ds->dev, n));
#endif
    return pd_dataset_grow(ds, ctx, n);
}

static pd_status pd_dataset_check_point(pd_ctx *ctx, const pd_grid_point *p)
{
    if (!isfinite(p->alpha) || !isfinite(p->sigma) || !(p->sigma > 0))
        PD_FAIL(ctx, PD_ERR_INPUT,
                "model dataset: grid point alpha = %g, sigma = %g: expected finite "
                "alpha and sigma > 0 (the denoiser is not defined at sigma = 0)",
                p->alpha, p->sigma);
    return PD_OK;
}

/* The chunk of samples [s0, s0 + nb) of x as a row-major double matrix: x's own memory when it is
 * float64, else converted into ds->xb. */
static const double *pd_dataset_chunk(pd_dataset *ds, const pd_state *x, int64_t s0, int64_t nb)
{
    if (pd_state_dtype(x) == PD_F64) return (const double *)pd_state_cdata(x) + s0 * ds->dim;
    for (int64_t s = 0; s < nb; s++)
        pd_model_row_get(x, s0 + s, ds->dim, ds->xb + s * ds->dim);
    return ds->xb;
}

/* The grid points of a call: rows [i rows, (i + 1) rows) of the batch are at p[i]. */
typedef struct pd_dataset_points {
    const pd_grid_point *p;
    int64_t rows;
} pd_dataset_points;

/* ds->wk[0 .. nb) = the normalised weights of the chunk X [nb, d], rows s0 .. s0 + nb - 1 of the batch,
 * each at its group's (alpha, sigma); ds->xn2[s] = log sum_i exp(logit_i) of sample s (log density). */
static void pd_dataset_weights(pd_dataset *ds, const double *X, int64_t s0, int64_t nb, pd_dataset_points pts)
{
    const int64_t M = ds->n_rows, d = ds->dim;
    for (int64_t s = 0; s < nb; s++) {
        const double *xs = X + s * d;
        double q = 0;
        for (int64_t i = 0; i < d; i++)
            q += xs[i] * xs[i];
        ds->xn2[s] = q;
    }
    /* wk = X R^T: [nb, M] */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)M, (int)d, 1.0, X, (int)d, ds->rows,
                (int)d, 0.0, ds->wk, (int)M);
    for (int64_t s = 0; s < nb; s++) {
        const pd_grid_point *p = &pts.p[(s0 + s) / pts.rows];
        const double alpha = p->alpha, inv2s2 = pd_dataset_inv2s2(p->sigma);
        double *w = ds->wk + s * M;
        const double xn2 = ds->xn2[s];
        double lmax = -INFINITY, sum = 0;
        for (int64_t i = 0; i < M; i++) {
            w[i] = pd_dataset_logit(xn2, w[i], ds->rnorm2[i], alpha, inv2s2);
            if (w[i] > lmax) lmax = w[i];
        }
        for (int64_t i = 0; i < M; i++) {
            w[i] = pd_dataset_resp(w[i], lmax);
            sum += w[i];
        }
        for (int64_t i = 0; i < M; i++)
            w[i] /= sum;
        ds->xn2[s] = lmax + log(sum);
    }
}

#ifdef PD_HAVE_CUDA
/* The same on CUDA states: the device copy is made at the first call, then reused. */
static pd_status pd_dataset_eval_cuda(pd_dataset *ds, pd_ctx *ctx, const pd_state *x, int n_groups,
                                      const pd_grid_point *p, pd_state *out)
{
    const int64_t n = pd_state_n_samples(x);
    if (!ds->dev)
        PD_TRY(pd_cuda_dataset_create(ctx, ds->n_rows, ds->dim, ds->rows, ds->rnorm2, ds->cap_max, &ds->dev));
    /* a no-op in steady state; at the first call, room for what reserve announced */
    PD_TRY(pd_cuda_dataset_reserve(ctx, ds->dev, n > ds->reserved ? n : ds->reserved));
    return pd_cuda_dataset_eval(ctx, ds->dev, n, pd_state_dtype(x), pd_state_cdata(x), n_groups, p,
                                pd_state_dtype(out), pd_state_data(out));
}
#endif

/* All groups share one X R^T product per chunk: only the logits depend on the group's point. */
static pd_status pd_dataset_eval(void *self, pd_ctx *ctx, const pd_state *x, int n_groups,
                                 const pd_grid_point *p, pd_state *out)
{
    pd_dataset *ds = self;
    const int64_t n = pd_state_n_samples(x), M = ds->n_rows, d = ds->dim;
    const pd_dataset_points pts = {.p = p, .rows = n / n_groups};
    pd_device_kind dev;
    PD_TRY(pd_model_check_devices(ctx, "dataset", x, out, &dev));
    for (int i = 0; i < n_groups; i++)
        PD_TRY(pd_dataset_check_point(ctx, &p[i]));
#ifdef PD_HAVE_CUDA
    if (dev == PD_DEVICE_CUDA) return pd_dataset_eval_cuda(ds, ctx, x, n_groups, p, out);
#endif
    PD_TRY(pd_dataset_grow(ds, ctx, n));
    for (int64_t s0 = 0; s0 < n; s0 += ds->cap) {
        const int64_t nb = n - s0 < ds->cap ? n - s0 : ds->cap;
        const double *X = pd_dataset_chunk(ds, x, s0, nb);
        double *X0;
        pd_dataset_weights(ds, X, s0, nb, pts);
        /* X is consumed: out may be x itself (not a view overlapping it partly). x0_hat = W R: [nb, d] */
        X0 = pd_state_dtype(out) == PD_F64 ? (double *)pd_state_data(out) + s0 * d : ds->xb;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)d, (int)M, 1.0, ds->wk, (int)M,
                    ds->rows, (int)d, 0.0, X0, (int)d);
        if (pd_state_dtype(out) != PD_F64)
            for (int64_t s = 0; s < nb; s++)
                pd_model_row_set(out, s0 + s, d, ds->xb + s * d);
    }
    return PD_OK;
}

static pd_status pd_dataset_log_density(void *self, pd_ctx *ctx, const pd_state *x, const pd_grid_point *p,
                                        double *out)
{
    pd_dataset *ds = self;
    const int64_t n = pd_state_n_samples(x);
    double c;
    if (pd_state_device(x) != PD_DEVICE_CPU)
        return pd_model_log_density_staged(ctx, self, pd_dataset_log_density, x, p, out);
    PD_TRY(pd_dataset_check_point(ctx, p));
    PD_TRY(pd_dataset_grow(ds, ctx, n));
    /* log p = lse_i(logit_i) - log M - d/2 log(2 pi sigma^2) */
    c = -log((double)ds->n_rows) - 0.5 * (double)ds->dim * (PD_LOG_2PI + 2.0 * log(p->sigma));
    for (int64_t s0 = 0; s0 < n; s0 += ds->cap) {
        const int64_t nb = n - s0 < ds->cap ? n - s0 : ds->cap;
        pd_dataset_weights(ds, pd_dataset_chunk(ds, x, s0, nb), s0, nb,
                           (pd_dataset_points){.p = p, .rows = n});
        for (int64_t s = 0; s < nb; s++)
            out[s0 + s] = ds->xn2[s] + c;
    }
    return PD_OK;
}

/* Exact samples are data rows, chosen uniformly: row = (u32 * M) >> 32 with
 * u32 = pd_rng_u32(seed, global sample, 0, PD_RNG_EXACT_K, 0) (multiply-shift, no rejection; each
 * row has probability floor or ceil of 2^32 / M over 2^32, a relative bias below M / 2^32). */
static pd_status pd_dataset_sample_exact(void *self, pd_ctx *ctx, uint64_t seed, pd_state *out)
{
    pd_dataset *ds = self;
    const int64_t n = pd_state_n_samples(out), off = pd_state_offset(out);
    if (pd_state_device(out) != PD_DEVICE_CPU)
        return pd_model_sample_exact_staged(ctx, self, pd_dataset_sample_exact, seed, out);
    for (int64_t s = 0; s < n; s++) {
        const uint32_t u = pd_rng_u32(seed, (uint32_t)(off + s), 0, PD_RNG_EXACT_K, 0);
        const int64_t row = (int64_t)(((uint64_t)u * (uint64_t)ds->n_rows) >> 32);
        pd_model_row_set(out, s, ds->dim, ds->rows + row * ds->dim);
    }
    return PD_OK;
}

static const pd_model_ops pd_dataset_ops = {
    .name = "dataset",
    .eval = pd_dataset_eval,
    .destroy = pd_dataset_destroy,
    .reserve = pd_dataset_reserve,
    .sample_exact = pd_dataset_sample_exact,
    .log_density = pd_dataset_log_density,
};

pd_status pd_model_dataset_create(pd_ctx *ctx, int64_t n_rows, int ndim, const int64_t *shape,
                                  const double *rows, pd_model **out)
{
    pd_status st = PD_OK;
    pd_dataset *ds = NULL;
    int64_t d = 0;

    if (!out) PD_FAIL(ctx, PD_ERR_INPUT, "model dataset: out is NULL");
    *out = NULL;
    PD_TRY(pd_model_shape_dim(ctx, "dataset", ndim, shape, &d));
    if (n_rows < 1 || !rows)
        PD_FAIL(ctx, PD_ERR_INPUT, "model dataset: %lld rows, expected >= 1", (long long)n_rows);
    if (n_rows > INT_MAX || d > INT_MAX || n_rows > INT64_MAX / 8 / d)
        PD_FAIL(ctx, PD_ERR_INPUT,
                "model dataset: %lld rows x %lld elements is beyond the BLAS "
                "32-bit index range",
                (long long)n_rows, (long long)d);
    for (int64_t j = 0; j < n_rows * d; j++)
        if (!isfinite(rows[j]))
            PD_FAIL(ctx, PD_ERR_INPUT, "model dataset: row %lld element %lld is %g, expected finite",
                    (long long)(j / d), (long long)(j % d), rows[j]);

    ds = calloc(1, sizeof *ds);
    if (!ds) PD_FAIL(ctx, PD_ERR_NOMEM, "model dataset: out of memory");
    ds->n_rows = n_rows;
    ds->dim = d;
    ds->rows = malloc((size_t)(n_rows * d) * sizeof *ds->rows);
    ds->rnorm2 = malloc((size_t)n_rows * sizeof *ds->rnorm2);
    if (!ds->rows || !ds->rnorm2)
        PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "model dataset: out of memory for %lld x %lld doubles",
                     (long long)n_rows, (long long)d);
    memcpy(ds->rows, rows, (size_t)(n_rows * d) * sizeof *rows);
    for (int64_t i = 0; i < n_rows; i++) {
        double q = 0;
        for (int64_t j = 0; j < d; j++)
            q += rows[i * d + j] * rows[i * d + j];
        ds->rnorm2[i] = q;
    }
    ds->cap_max = PD_DATASET_WS_MAX_BYTES / (int64_t)(sizeof(double) * (size_t)(n_rows + d + 1));
    if (ds->cap_max < 1) ds->cap_max = 1;
    return pd_model_create(ctx, &pd_dataset_ops, ds, ndim, shape, out); /* owns ds, also on failure */
done:
    pd_dataset_free(ds);
    return st;
}

pd_status pd_model_dataset_rows(const pd_model *m, int64_t *n_rows, const double **rows)
{
    const pd_dataset *ds = pd_model_self_if(m, &pd_dataset_ops);
    if (!ds) return PD_ERR_INPUT;
    *n_rows = ds->n_rows;
    *rows = ds->rows;
    return PD_OK;
}
