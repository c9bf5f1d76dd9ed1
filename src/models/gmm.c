/* Gaussian mixture target with its exact denoiser (ALGORITHMS.md §2.2).
 *
 * p_0 = sum_k pi_k N(mu_k, diag(s_k^2)); the noised marginal at (alpha, sigma) is
 * p_t = sum_k pi_k N(alpha mu_k, C_k), c_{k,i} = alpha^2 s_{k,i}^2 + sigma^2. Responsibilities by
 * log-sum-exp of l_k = log pi_k - 1/2 sum_i [(x_i - alpha mu_{k,i})^2 / c_{k,i} + log c_{k,i}];
 * x0_hat = sum_k w_k [mu_k + alpha s_k^2 / c_k (x - alpha mu_k)]. All arithmetic in double.
 *
 * The element math is models/gmm_elem.h, shared with the CUDA kernels (cuda/gmm.cu), and the sums over
 * a row's elements go in the kernels' order (models/team_sum.h), so that the two agree to ~1e-15 where
 * a sequential sum of 3072 terms would leave ~1e-11 between them. CUDA states go to the kernels, with
 * the parameters copied to the GPU at the first such eval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/gmm_elem.h"
#include "models/model_impl.h"
#include "models/team_sum.h"
#include "pintdiff/rng.h"
#ifdef PD_HAVE_CUDA
#include "cuda/cuda_models.h"
#endif

#define PD_LOG_2PI 1.8378770664093454836
/* Largest responsibility scratch ([samples, K] doubles) of one CUDA launch; bigger batches go in chunks. */
#define PD_GMM_DEV_WS_MAX_BYTES ((int64_t)64 << 20)

typedef struct pd_gmm {
    int n_comp;         /* K */
    int64_t dim;        /* d */
    int diag;           /* variances given per element (1) or per component (0) */
    double *weight;     /* [K], normalised */
    double *log_weight; /* [K], -inf for a zero weight */
    double *cdf;        /* [K], cumulative weights, 1 exactly at the last positive weight */
    double *mean;       /* [K, d] */
    double *var;        /* [K, d] (isotropic variances expanded) */
    double *sd;         /* [K, d], sqrt(var) */
    int has_zero_var;   /* some component has a zero variance: no density at sigma = 0 */
    pd_gmm_strides st;  /* of the per-point tables (gmm_elem.h): [K, d] diagonal, [K] isotropic */
    /* Scratch for one call (not batch-sized: samples are processed one at a time), allocated at
     * creation so that eval never allocates; eval is therefore not re-entrant. */
    double *inv_c;           /* [K, kst] 1 / c_{k,i} at the call's (alpha, sigma) */
    double *gain;            /* [K, kst] alpha s_{k,i}^2 / c_{k,i} */
    double *half_logdet;     /* [K] 1/2 sum_i log c_{k,i} */
    double *ell;             /* [K] l_k of the current sample */
    double *xd;              /* [d] the current sample in double */
    double *acc;             /* [d] x0_hat of the current sample */
    double *part;            /* [PD_GMM_BLOCK] partial sums of a row's terms, as the kernels' threads */
    int64_t reserved;        /* the largest batch announced by reserve: sizes the device scratch */
    struct pd_cuda_gmm *dev; /* device copy and workspaces, made at the first eval on CUDA states */
} pd_gmm;

static void pd_gmm_free(pd_gmm *g)
{
    if (!g) return;
    free(g->weight);
    free(g->log_weight);
    free(g->cdf);
    free(g->mean);
    free(g->var);
    free(g->sd);
    free(g->inv_c);
    free(g->gain);
    free(g->half_logdet);
    free(g->ell);
    free(g->xd);
    free(g->acc);
    free(g->part);
#ifdef PD_HAVE_CUDA
    pd_cuda_gmm_destroy(&g->dev);
#endif
    free(g);
}

static void pd_gmm_destroy(void *self)
{
    pd_gmm_free((pd_gmm *)self);
}

/* PD_ERR_INPUT unless the mixture has a density at p. */
static pd_status pd_gmm_check_point(const pd_gmm *g, pd_ctx *ctx, const pd_grid_point *p)
{
    if (!isfinite(p->alpha) || !isfinite(p->sigma) || p->sigma < 0)
        PD_FAIL(ctx, PD_ERR_INPUT,
                "model gmm: grid point alpha = %g, sigma = %g: expected finite "
                "alpha and sigma >= 0",
                p->alpha, p->sigma);
    if (p->sigma * p->sigma == 0 && (g->has_zero_var || p->alpha == 0)) /* c = alpha^2 v + sigma^2 = 0 */
        PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: no density at sigma = 0 with alpha = %g and %s", p->alpha,
                g->has_zero_var ? "a zero-variance component" : "alpha = 0");
    return PD_OK;
}

/* inv_c, gain, half_logdet at (alpha, sigma) (a point checked by pd_gmm_check_point). */
static void pd_gmm_prepare(pd_gmm *g, const pd_grid_point *p)
{
    const double a = p->alpha, s2 = p->sigma * p->sigma;
    for (int k = 0; k < g->n_comp; k++) {
        const double *v = g->var + (int64_t)k * g->dim;
        double *ic = g->inv_c + k * g->st.kst, *gn = g->gain + k * g->st.kst;
        if (!g->diag) {
            const double c = pd_gmm_elem_c(a, s2, v[0]);
            ic[0] = 1.0 / c;
            gn[0] = pd_gmm_elem_gain(a, v[0], c);
            g->half_logdet[k] = pd_gmm_half_logdet_iso(g->dim, c);
        } else { /* the log det as the tables kernel adds it: a block of PD_GMM_BLOCK threads */
            memset(g->part, 0, PD_GMM_BLOCK * sizeof *g->part);
            for (int64_t i = 0; i < g->dim; i++) {
                const double c = pd_gmm_elem_c(a, s2, v[i]);
                ic[i] = 1.0 / c;
                gn[i] = pd_gmm_elem_gain(a, v[i], c);
                g->part[i % PD_GMM_BLOCK] += log(c);
            }
            g->half_logdet[k] = 0.5 * pd_team_sum(g->part, PD_GMM_BLOCK);
        }
    }
}

/* ell[k] = l_k(x) for the sample in g->xd; returns max_k l_k. Each Mahalanobis sum is added as the
 * kernel's team of T threads adds it (T = 1: in order). */
static double pd_gmm_logits(pd_gmm *g, double a)
{
    const int64_t ist = g->st.ist, d = g->dim, T = pd_gmm_team(d);
    double lmax = -INFINITY;
    for (int k = 0; k < g->n_comp; k++) {
        const double *mu = g->mean + (int64_t)k * d, *ic = g->inv_c + k * g->st.kst;
        double q = 0;
        if (g->log_weight[k] != -INFINITY) { /* else l_k = -inf whatever q is: skip the sum */
            memset(g->part, 0, (size_t)T * sizeof *g->part);
            for (int64_t i0 = 0; i0 < d; i0 += T)
                for (int64_t t = 0; t < T && i0 + t < d; t++)
                    g->part[t] += pd_gmm_elem_quad(g->xd[i0 + t], a, mu[i0 + t], ic[(i0 + t) * ist]);
            q = pd_team_sum(g->part, (int)T);
        }
        g->ell[k] = pd_gmm_logit(g->log_weight[k], q, g->half_logdet[k]);
        if (g->ell[k] > lmax) lmax = g->ell[k];
    }
    return lmax;
}

/* x0_hat of rows [s0, s1) of x at point p (the tables of pd_gmm_prepare for p are in g). */
static void pd_gmm_denoise_rows(pd_gmm *g, const pd_state *x, int64_t s0, int64_t s1, double a, pd_state *out)
{
    const int64_t d = g->dim, ist = g->st.ist;
    for (int64_t s = s0; s < s1; s++) {
        double lmax, wsum = 0;
        pd_model_row_get(x, s, d, g->xd);
        lmax = pd_gmm_logits(g, a);
        for (int k = 0; k < g->n_comp; k++) {
            g->ell[k] = pd_gmm_resp(g->ell[k], lmax); /* unnormalised responsibility, max 1 */
            wsum += g->ell[k];
        }
        memset(g->acc, 0, (size_t)d * sizeof *g->acc);
        for (int k = 0; k < g->n_comp; k++) {
            const double w = g->ell[k] / wsum;
            const double *mu = g->mean + (int64_t)k * d, *gn = g->gain + k * g->st.kst;
            if (w == 0) continue;
            for (int64_t i = 0; i < d; i++)
                g->acc[i] += pd_gmm_elem_x0(w, g->xd[i], a, mu[i], gn[i * ist]);
        }
        pd_model_row_set(out, s, d, g->acc);
    }
}

#ifdef PD_HAVE_CUDA
/* The same on CUDA states: the device copy is made at the first call, then reused. */
static pd_status pd_gmm_eval_cuda(pd_gmm *g, pd_ctx *ctx, const pd_state *x, int n_groups,
                                  const pd_grid_point *p, pd_state *out)
{
    const int64_t n = pd_state_n_samples(x);
    if (!g->dev) {
        const int64_t cap_max = PD_GMM_DEV_WS_MAX_BYTES / (int64_t)(sizeof(double) * (size_t)g->n_comp);
        PD_TRY(pd_cuda_gmm_create(ctx, g->n_comp, g->dim, g->diag, g->log_weight, g->mean, g->var, cap_max,
                                  &g->dev));
    }
    /* a no-op in steady state; at the first call, room for what reserve announced */
    PD_TRY(pd_cuda_gmm_reserve(ctx, g->dev, n > g->reserved ? n : g->reserved));
    return pd_cuda_gmm_eval(ctx, g->dev, n, pd_state_dtype(x), pd_state_cdata(x), n_groups, p,
                            pd_state_dtype(out), pd_state_data(out));
}
#endif

static pd_status pd_gmm_eval(void *self, pd_ctx *ctx, const pd_state *x, int n_groups, const pd_grid_point *p,
                             pd_state *out)
{
    pd_gmm *g = self;
    const int64_t rows = pd_state_n_samples(x) / n_groups;
    pd_device_kind dev;
    PD_TRY(pd_model_check_devices(ctx, "gmm", x, out, &dev));
    for (int i = 0; i < n_groups; i++) /* all points first: no half-written output on a bad one */
        PD_TRY(pd_gmm_check_point(g, ctx, &p[i]));
#ifdef PD_HAVE_CUDA
    if (dev == PD_DEVICE_CUDA) return pd_gmm_eval_cuda(g, ctx, x, n_groups, p, out);
#endif
    for (int i = 0; i < n_groups; i++) { /* the tables depend on the point: one group at a time */
        pd_gmm_prepare(g, &p[i]);
        pd_gmm_denoise_rows(g, x, i * rows, (i + 1) * rows, p[i].alpha, out);
    }
    return PD_OK;
}

/* Batches do not size the CPU scratch (one sample at a time); they size the device scratch, now when the
 * model has run on a GPU already, else at its first eval there. */
static pd_status pd_gmm_reserve(void *self, pd_ctx *ctx, int64_t n)
{
    pd_gmm *g = self;
    if (n > g->reserved) g->reserved = n;
#ifdef PD_HAVE_CUDA
    if (g->dev) return pd_cuda_gmm_reserve(ctx, g->dev, n);
#else
    (void)ctx;
#endif
    return PD_OK;
}

static pd_status pd_gmm_log_density(void *self, pd_ctx *ctx, const pd_state *x, const pd_grid_point *p,
                                    double *out)
{
    pd_gmm *g = self;
    const int64_t n = pd_state_n_samples(x);
    if (pd_state_device(x) != PD_DEVICE_CPU)
        return pd_model_log_density_staged(ctx, self, pd_gmm_log_density, x, p, out);
    PD_TRY(pd_gmm_check_point(g, ctx, p));
    pd_gmm_prepare(g, p);
    for (int64_t s = 0; s < n; s++) {
        double lmax, sum = 0;
        pd_model_row_get(x, s, g->dim, g->xd);
        lmax = pd_gmm_logits(g, p->alpha);
        for (int k = 0; k < g->n_comp; k++)
            sum += pd_gmm_resp(g->ell[k], lmax);
        out[s] = lmax + log(sum) - 0.5 * (double)g->dim * PD_LOG_2PI;
    }
    return PD_OK;
}

/* The component of global sample `sample`: inverse CDF of one Philox uniform. */
static int pd_gmm_pick(const pd_gmm *g, uint64_t seed, uint32_t sample)
{
    double u = pd_rng_uniform(seed, sample, 0, PD_RNG_EXACT_K, 0);
    for (int k = 0; k < g->n_comp; k++)
        if (u < g->cdf[k]) return k;
    return g->n_comp - 1; /* not reached: the last positive weight has cdf 1 and u < 1 */
}

static pd_status pd_gmm_sample_exact(void *self, pd_ctx *ctx, uint64_t seed, pd_state *out)
{
    pd_gmm *g = self;
    const int64_t n = pd_state_n_samples(out), d = g->dim, off = pd_state_offset(out);
    if (pd_state_device(out) != PD_DEVICE_CPU)
        return pd_model_sample_exact_staged(ctx, self, pd_gmm_sample_exact, seed, out);
    for (int64_t s = 0; s < n; s++) {
        const uint32_t gs = (uint32_t)(off + s); /* range checked by pd_model_sample_exact */
        const int k = pd_gmm_pick(g, seed, gs);
        const double *mu = g->mean + (int64_t)k * d, *sd = g->sd + (int64_t)k * d;
        for (int64_t i = 0; i < d; i++)
            g->acc[i] = mu[i] + sd[i] * pd_rng_normal(seed, gs, 0, PD_RNG_EXACT, (uint64_t)i);
        pd_model_row_set(out, s, d, g->acc);
    }
    return PD_OK;
}

static const pd_model_ops pd_gmm_ops = {
    .name = "gmm",
    .eval = pd_gmm_eval,
    .destroy = pd_gmm_destroy,
    .reserve = pd_gmm_reserve, /* CPU scratch does not grow with the batch; the device scratch does */
    .sample_exact = pd_gmm_sample_exact,
    .log_density = pd_gmm_log_density,
};

static double *pd_gmm_alloc(size_t n)
{
    return malloc((n ? n : 1) * sizeof(double));
}

pd_status pd_model_gmm_create(pd_ctx *ctx, int n_comp, int ndim, const int64_t *shape, const double *weights,
                              const double *means, const double *var, int diag, pd_model **out)
{
    pd_status st = PD_OK;
    pd_gmm *g = NULL;
    int64_t d = 0, kd;
    double wsum = 0, cum = 0;
    int last_pos = -1;

    if (!out) PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: out is NULL");
    *out = NULL;
    PD_TRY(pd_model_shape_dim(ctx, "gmm", ndim, shape, &d));
    if (n_comp < 1) PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: %d components, expected >= 1", n_comp);
    if (!weights || !means || !var) PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: NULL parameter array");
    if (d > INT64_MAX / 8 / n_comp) PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: K * d too large");
    kd = (int64_t)n_comp * d;
    for (int k = 0; k < n_comp; k++) {
        if (!isfinite(weights[k]) || weights[k] < 0)
            PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: weight %d is %g, expected finite and >= 0", k, weights[k]);
        wsum += weights[k];
        if (weights[k] > 0) last_pos = k;
    }
    if (!(wsum > 0) || !isfinite(wsum))
        PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: the weights sum to %g, expected a positive finite sum", wsum);
    for (int64_t j = 0; j < kd; j++)
        if (!isfinite(means[j]))
            PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: mean [%lld, %lld] is %g, expected finite",
                    (long long)(j / d), (long long)(j % d), means[j]);
    for (int64_t j = 0; j < (diag ? kd : n_comp); j++)
        if (!isfinite(var[j]) || var[j] < 0)
            PD_FAIL(ctx, PD_ERR_INPUT, "model gmm: variance %lld is %g, expected finite and >= 0",
                    (long long)j, var[j]);

    g = calloc(1, sizeof *g);
    if (!g) PD_FAIL(ctx, PD_ERR_NOMEM, "model gmm: out of memory");
    g->n_comp = n_comp;
    g->dim = d;
    g->diag = diag != 0;
    g->st = pd_gmm_table_strides(g->diag, d);
    g->weight = pd_gmm_alloc((size_t)n_comp);
    g->log_weight = pd_gmm_alloc((size_t)n_comp);
    g->cdf = pd_gmm_alloc((size_t)n_comp);
    g->half_logdet = pd_gmm_alloc((size_t)n_comp);
    g->ell = pd_gmm_alloc((size_t)n_comp);
    g->mean = pd_gmm_alloc((size_t)kd);
    g->var = pd_gmm_alloc((size_t)kd);
    g->sd = pd_gmm_alloc((size_t)kd);
    g->inv_c = pd_gmm_alloc((size_t)(n_comp * g->st.kst));
    g->gain = pd_gmm_alloc((size_t)(n_comp * g->st.kst));
    g->xd = pd_gmm_alloc((size_t)d);
    g->acc = pd_gmm_alloc((size_t)d);
    g->part = pd_gmm_alloc(PD_GMM_BLOCK);
    if (!g->weight || !g->log_weight || !g->cdf || !g->half_logdet || !g->ell || !g->mean || !g->var ||
        !g->sd || !g->inv_c || !g->gain || !g->xd || !g->acc || !g->part)
        PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "model gmm: out of memory for K = %d, d = %lld", n_comp,
                     (long long)d);
    for (int k = 0; k < n_comp; k++) {
        g->weight[k] = weights[k] / wsum;
        g->log_weight[k] = weights[k] > 0 ? log(g->weight[k]) : -INFINITY;
        cum += g->weight[k];
        g->cdf[k] = k >= last_pos ? 1.0 : cum;
    }
    memcpy(g->mean, means, (size_t)kd * sizeof *means);
    for (int64_t j = 0; j < kd; j++) {
        g->var[j] = diag ? var[j] : var[j / d];
        g->sd[j] = sqrt(g->var[j]);
        if (g->var[j] == 0 && g->weight[j / d] > 0) g->has_zero_var = 1;
    }
    return pd_model_create(ctx, &pd_gmm_ops, g, ndim, shape, out); /* owns g, also on failure */
done:
    pd_gmm_free(g);
    return st;
}

pd_status pd_model_gmm_moments(pd_ctx *ctx, const pd_model *m, double *mean, double *cov)
{
    const pd_gmm *g = pd_model_self_if(m, &pd_gmm_ops);
    int64_t d;
    if (!g)
        PD_FAIL(ctx, PD_ERR_INPUT, "pd_model_gmm_moments: model %s is not a gmm",
                m ? pd_model_name(m) : "(null)");
    d = g->dim;
    for (int64_t i = 0; i < d; i++) {
        double s = 0;
        for (int k = 0; k < g->n_comp; k++)
            s += g->weight[k] * g->mean[(int64_t)k * d + i];
        mean[i] = s;
    }
    if (!cov) return PD_OK;
    /* Cov = sum_k pi_k [diag(s_k^2) + (mu_k - m)(mu_k - m)^T]: centred, no cancellation */
    memset(cov, 0, (size_t)(d * d) * sizeof *cov);
    for (int k = 0; k < g->n_comp; k++) {
        const double w = g->weight[k], *mu = g->mean + (int64_t)k * d;
        if (w == 0) continue;
        for (int64_t i = 0; i < d; i++) {
            const double ci = w * (mu[i] - mean[i]);
            for (int64_t j = 0; j < d; j++)
                cov[i * d + j] += ci * (mu[j] - mean[j]);
            cov[i * d + i] += w * g->var[(int64_t)k * d + i];
        }
    }
    return PD_OK;
}

pd_status pd_model_gmm_params(const pd_model *m, int *n_comp, const double **weights, const double **means,
                              const double **var, int *diag)
{
    const pd_gmm *g = pd_model_self_if(m, &pd_gmm_ops);
    if (!g) return PD_ERR_INPUT;
    *n_comp = g->n_comp;
    *weights = g->weight;
    *means = g->mean;
    *var = g->var;
    *diag = 1;
    return PD_OK;
}
