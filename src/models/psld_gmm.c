/* PSLD with Gaussian-mixture data: the exact score of the noised marginal in u = (x, m) (ALGORITHMS.md
 * §6.3). Per data dimension i and component k the marginal at time t is N(mean_{k,i}, C_{k,i}) in the pair
 * (x_i, m_i): mean = E_t (mu_{k,i}, 0), C = Sigma_inf + E_t (diag(s_{k,i}^2, kappa M) - Sigma_inf) E_t^T
 * (core/psld.h), the dimensions independent given k. Responsibilities by log-sum-exp of
 * l_k = log w_k - 1/2 sum_i [r^T C^-1 r + log det C]; score = -sum_k w_k C_k^-1 (u - mean_k). In double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/psld.h"
#include "models/model_impl.h"
#ifdef PD_HAVE_CUDA
#include "cuda/cuda_models.h"
#endif

#define PD_LOG_2PI 1.8378770664093454836

typedef struct pd_psld_gmm {
    pd_psld p;
    int n_comp, diag;
    int64_t d;            /* data dimension; states hold 2d */
    double *log_w;        /* [K] */
    double *mean, *var;   /* [K, d]; var [K] when isotropic */
    /* per call point, made once (eval is not re-entrant) */
    pd_mat2 *cinv;        /* [K, d] (or [K] isotropic) */
    double *half_logdet;  /* [K] 1/2 sum_i log det C_{k,i} */
    double *ell, *u, *acc; /* [K], [2d], [2d] */
    /* GPU: the device copy (made at the first eval on CUDA states) and the host tables of a call */
    struct pd_cuda_psld *dev;
    double *tab;
    int tab_groups;
} pd_psld_gmm;

static void pd_psld_gmm_destroy(void *self)
{
    pd_psld_gmm *g = self;
    if (!g) return;
    free(g->log_w), free(g->mean), free(g->var), free(g->cinv), free(g->half_logdet);
    free(g->ell), free(g->u), free(g->acc), free(g->tab);
#ifdef PD_HAVE_CUDA
    pd_cuda_psld_destroy(&g->dev);
#endif
    free(g);
}

/* The tables of time t (J = beta t). */
static pd_status pd_psld_gmm_prepare(pd_psld_gmm *g, pd_ctx *ctx, const pd_grid_point *pt, pd_mat2 *E)
{
    if (!(pt->t >= 0.0) || !isfinite(pt->t))
        PD_FAIL(ctx, PD_ERR_INPUT, "model psld-gmm: time %g, expected finite t >= 0", pt->t);
    const double J = g->p.beta * pt->t;
    *E = pd_psld_fwd(&g->p, J);
    const int64_t per = g->diag ? g->d : 1;
    for (int k = 0; k < g->n_comp; k++) {
        double ld_sum = 0.0;
        for (int64_t i = 0; i < per; i++) {
            double ld;
            pd_mat2 C = pd_psld_cov(&g->p, J, g->var[k * per + i]);
            g->cinv[k * per + i] = pd_mat2_inv(C, &ld);
            if (!isfinite(ld))
                PD_FAIL(ctx, PD_ERR_INPUT, "model psld-gmm: singular covariance at t = %g (component %d)", pt->t, k);
            ld_sum += ld;
        }
        g->half_logdet[k] = 0.5 * (g->diag ? ld_sum : ld_sum * (double)g->d);
    }
    return PD_OK;
}

/* The logits l_k of the pair vector g->u (x then m); returns their max. */
static double pd_psld_gmm_logits(pd_psld_gmm *g, pd_mat2 E)
{
    const int64_t d = g->d, per = g->diag ? d : 1;
    double lmax = -INFINITY;
    for (int k = 0; k < g->n_comp; k++) {
        double q = 0.0;
        for (int64_t i = 0; i < d; i++) {
            const double mu = g->mean[k * d + i], rx = g->u[i] - E.a * mu, rm = g->u[d + i] - E.c * mu;
            q += pd_psld_quad(rx, rm, g->cinv[k * per + (g->diag ? i : 0)]);
        }
        g->ell[k] = g->log_w[k] - 0.5 * q - g->half_logdet[k];
        if (g->ell[k] > lmax) lmax = g->ell[k];
    }
    return lmax;
}

static void pd_psld_gmm_score_rows(pd_psld_gmm *g, const pd_state *x, int64_t s0, int64_t s1, pd_mat2 E, pd_state *out)
{
    const int64_t d = g->d, per = g->diag ? d : 1;
    for (int64_t s = s0; s < s1; s++) {
        pd_model_row_get(x, s, 2 * d, g->u);
        const double lmax = pd_psld_gmm_logits(g, E);
        double wsum = 0.0;
        for (int k = 0; k < g->n_comp; k++) wsum += (g->ell[k] = exp(g->ell[k] - lmax));
        for (int k = 0; k < g->n_comp; k++) g->ell[k] /= wsum;
        /* element by element, the components in order: the kernel's summation order */
        for (int64_t i = 0; i < d; i++) {
            double sx = 0.0, sm = 0.0;
            for (int k = 0; k < g->n_comp; k++) {
                if (g->ell[k] == 0.0) continue;
                const double mu = g->mean[k * d + i], rx = g->u[i] - E.a * mu, rm = g->u[d + i] - E.c * mu;
                pd_psld_score_add(rx, rm, g->cinv[k * per + (g->diag ? i : 0)], g->ell[k], &sx, &sm);
            }
            g->acc[i] = sx;
            g->acc[d + i] = sm;
        }
        pd_model_row_set(out, s, 2 * d, g->acc);
    }
}

#ifdef PD_HAVE_CUDA
/* GPU: the tables of every group on the host ([G][4 + 4 K per + K], the layout of cuda_models.h), then one
 * launch. */
static pd_status pd_psld_gmm_eval_cuda(pd_psld_gmm *g, pd_ctx *ctx, const pd_state *x, int n_groups,
                                       const pd_grid_point *p, pd_state *out)
{
    const int64_t per = g->diag ? g->d : 1, tl = 4 + 4 * g->n_comp * per + g->n_comp;
    if (!g->dev) PD_TRY(pd_cuda_psld_create(ctx, g->n_comp, g->d, (int)per, g->log_w, g->mean, &g->dev));
    if (n_groups > g->tab_groups) {
        double *t = realloc(g->tab, sizeof(double) * (size_t)(n_groups * tl));
        if (!t) PD_FAIL(ctx, PD_ERR_NOMEM, "model psld-gmm: out of memory for the tables");
        g->tab = t;
        g->tab_groups = n_groups;
    }
    for (int i = 0; i < n_groups; i++) {
        pd_mat2 E;
        double *t = g->tab + i * tl;
        PD_TRY(pd_psld_gmm_prepare(g, ctx, &p[i], &E));
        t[0] = E.a, t[1] = E.b, t[2] = E.c, t[3] = E.d;
        for (int64_t j = 0; j < g->n_comp * per; j++) {
            const pd_mat2 c = g->cinv[j];
            t[4 + 4 * j] = c.a, t[5 + 4 * j] = c.b, t[6 + 4 * j] = c.c, t[7 + 4 * j] = c.d;
        }
        memcpy(t + 4 + 4 * g->n_comp * per, g->half_logdet, sizeof(double) * (size_t)g->n_comp);
    }
    return pd_cuda_psld_eval(ctx, g->dev, pd_state_n_samples(x), pd_state_dtype(x), pd_state_cdata(x), n_groups,
                             g->tab, pd_state_dtype(out), pd_state_data(out));
}
#endif

static pd_status pd_psld_gmm_eval(void *self, pd_ctx *ctx, const pd_state *x, int n_groups, const pd_grid_point *p,
                                  pd_state *out)
{
    pd_psld_gmm *g = self;
    const int64_t rows = pd_state_n_samples(x) / n_groups;
    pd_device_kind dev;
    PD_TRY(pd_model_check_devices(ctx, "psld-gmm", x, out, &dev));
#ifdef PD_HAVE_CUDA
    if (dev == PD_DEVICE_CUDA) return pd_psld_gmm_eval_cuda(g, ctx, x, n_groups, p, out);
#endif
    for (int i = 0; i < n_groups; i++) {
        pd_mat2 E;
        PD_TRY(pd_psld_gmm_prepare(g, ctx, &p[i], &E));
        pd_psld_gmm_score_rows(g, x, i * rows, (i + 1) * rows, E, out);
    }
    return PD_OK;
}

static pd_status pd_psld_gmm_log_density(void *self, pd_ctx *ctx, const pd_state *x, const pd_grid_point *p,
                                         double *out)
{
    pd_psld_gmm *g = self;
    pd_mat2 E;
    if (pd_state_device(x) != PD_DEVICE_CPU) return pd_model_log_density_staged(ctx, self, pd_psld_gmm_log_density, x, p, out);
    PD_TRY(pd_psld_gmm_prepare(g, ctx, p, &E));
    for (int64_t s = 0; s < pd_state_n_samples(x); s++) {
        pd_model_row_get(x, s, 2 * g->d, g->u);
        const double lmax = pd_psld_gmm_logits(g, E);
        double sum = 0.0;
        for (int k = 0; k < g->n_comp; k++) sum += exp(g->ell[k] - lmax);
        out[s] = lmax + log(sum) - (double)g->d * PD_LOG_2PI;
    }
    return PD_OK;
}

static const pd_model_ops pd_psld_gmm_ops = {
    .name = "psld-gmm",
    .augmented = 1,
    .eval = pd_psld_gmm_eval,
    .destroy = pd_psld_gmm_destroy,
    .log_density = pd_psld_gmm_log_density,
};

static double *pd_psld_copy(const double *src, size_t n)
{
    double *d = malloc(sizeof(double) * (n ? n : 1));
    if (d && src) memcpy(d, src, sizeof(double) * n);
    return d;
}

pd_status pd_model_psld_gmm_create(pd_ctx *ctx, const pd_model *gmm, double gamma, double nu, double beta,
                                   double kappa, pd_model **out)
{
    int K = 0, diag = 0;
    const double *w, *mean, *var;
    PD_TRY(pd_model_gmm_params(gmm, &K, &w, &mean, &var, &diag));
    if (!(gamma > 0 && nu > 0 && beta > 0 && kappa > 0 && gamma != nu))
        PD_FAIL(ctx, PD_ERR_INPUT, "model psld-gmm: gamma, nu, beta, kappa must be > 0 and gamma != nu");
    const int64_t d = pd_model_dim(gmm), per = diag ? d : 1;
    pd_psld_gmm *g = calloc(1, sizeof *g);
    if (!g) PD_FAIL(ctx, PD_ERR_NOMEM, "model psld-gmm: out of memory");
    *g = (pd_psld_gmm){.p = pd_psld_make(gamma, nu, beta, kappa), .n_comp = K, .diag = diag, .d = d};
    g->log_w = malloc(sizeof(double) * (size_t)K);
    g->mean = pd_psld_copy(mean, (size_t)(K * d));
    g->var = pd_psld_copy(var, (size_t)(K * per));
    g->cinv = malloc(sizeof(pd_mat2) * (size_t)(K * per));
    g->half_logdet = malloc(sizeof(double) * (size_t)K);
    g->ell = malloc(sizeof(double) * (size_t)K);
    g->u = malloc(sizeof(double) * (size_t)(2 * d));
    g->acc = malloc(sizeof(double) * (size_t)(2 * d));
    if (!g->log_w || !g->mean || !g->var || !g->cinv || !g->half_logdet || !g->ell || !g->u || !g->acc) {
        pd_psld_gmm_destroy(g);
        PD_FAIL(ctx, PD_ERR_NOMEM, "model psld-gmm: out of memory");
    }
    for (int k = 0; k < K; k++) g->log_w[k] = log(w[k]);
    const int64_t shape[1] = {2 * d};
    return pd_model_create(ctx, &pd_psld_gmm_ops, g, 1, shape, out);
}
