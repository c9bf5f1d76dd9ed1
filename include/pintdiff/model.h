/* pintdiff: the model interface, a small ops table (STYLE.md habit 6), and the built-in models.
 *
 * A model answers one question: the denoised estimate x0_hat(x, t) at a grid point. It converts its
 * native prediction (eps, x0 or v) once, so every solver sees one kind of output; eps_hat and the
 * score follow from x0_hat (ALGORITHMS.md §1.4).
 *
 * One call may carry several groups of samples, each at its own grid point: a rank that owns several
 * Parareal blocks advances them with one (batched) model call per stage, as a network would be called
 * on one batch with a time per sample. */
#ifndef PINTDIFF_MODEL_H
#define PINTDIFF_MODEL_H

#include <stdint.h>

#include "pintdiff/schedule.h"
#include "pintdiff/state.h"
#include "pintdiff/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pd_model_ops {
    const char *name;
    /* 0: eval gives x0_hat (the usual contract). 1: an augmented diffusion's model (psld): states hold
     * (x, m), dim = 2 x data dim, and eval gives the score of the noised marginal in (x, m) */
    int augmented;
    /* out = x0_hat(x); x, out: [n, dim] on the model's device, n_groups >= 1 equal groups of rows:
     * rows [i n/G, (i + 1) n/G) are at point p[i] (required). The wrapper checks that G divides n. */
    pd_status (*eval)(void *self, pd_ctx *ctx, const pd_state *x, int n_groups, const pd_grid_point *p,
                      pd_state *out);
    void (*destroy)(void *self); /* required */
    /* Allocate scratch for batches of up to n samples, so that eval never allocates (optional). */
    pd_status (*reserve)(void *self, pd_ctx *ctx, int64_t n);
    /* out = exact samples of the data distribution; sample s is keyed by global index
     * offset + s and the seed (optional: models with ground truth). */
    pd_status (*sample_exact)(void *self, pd_ctx *ctx, uint64_t seed, pd_state *out);
    /* out[s] = log p_t(x_s) of the noised marginal at p (optional). */
    pd_status (*log_density)(void *self, pd_ctx *ctx, const pd_state *x, const pd_grid_point *p,
                             double *out);
} pd_model_ops;

typedef struct pd_model pd_model;

/* Wrap an implementation: shape is the data shape of one sample (ndim <= 4), dim = its product.
 * Takes ownership of self (ops->destroy is called by pd_model_destroy, also on failure). */
pd_status pd_model_create(pd_ctx *ctx, const pd_model_ops *ops, void *self, int ndim,
                          const int64_t *shape, pd_model **out);
void pd_model_destroy(pd_model **m);

const char *pd_model_name(const pd_model *m);
int64_t pd_model_dim(const pd_model *m);
int pd_model_ndim(const pd_model *m);
const int64_t *pd_model_shape(const pd_model *m);
int pd_model_has_exact(const pd_model *m);       /* sample_exact available */
int pd_model_has_log_density(const pd_model *m);
int pd_model_is_augmented(const pd_model *m);

/* Counts one NFE per call (per batch, whatever its size). */
pd_status pd_model_eval(pd_ctx *ctx, pd_model *m, const pd_state *x, const pd_grid_point *p,
                        pd_state *x0_out);
/* The same for n_groups equal groups of rows of x, group i at point p[i] (one NFE). */
pd_status pd_model_eval_groups(pd_ctx *ctx, pd_model *m, const pd_state *x, int n_groups,
                               const pd_grid_point *p, pd_state *x0_out);
pd_status pd_model_reserve(pd_ctx *ctx, pd_model *m, int64_t n);
pd_status pd_model_sample_exact(pd_ctx *ctx, pd_model *m, uint64_t seed, pd_state *out);
pd_status pd_model_log_density(pd_ctx *ctx, pd_model *m, const pd_state *x, const pd_grid_point *p,
                               double *out);
int64_t pd_model_nfe(const pd_model *m);
void pd_model_reset_nfe(pd_model *m);

/* ----- built-in models ----- */

/* Gaussian mixture p_0 = sum_k w_k N(mu_k, diag(var_k)). weights [K] (normalised here), means
 * [K, dim], var [K] (isotropic, diag = 0) or [K, dim] (diag = 1). Copies the arrays. */
pd_status pd_model_gmm_create(pd_ctx *ctx, int n_comp, int ndim, const int64_t *shape,
                              const double *weights, const double *means, const double *var,
                              int diag, pd_model **out);
/* Exact denoiser of the empirical distribution of rows [n_rows, dim] (copied, as double). */
pd_status pd_model_dataset_create(pd_ctx *ctx, int64_t n_rows, int ndim, const int64_t *shape,
                                  const double *rows, pd_model **out);

/* PSLD with Gaussian-mixture data (ALGORITHMS.md §6.3): the exact score of the noised marginal in
 * u = (x, m) at the grid point's time t, for data `gmm` (copied; a gmm model) and m_0 ~ N(0, kappa M).
 * An augmented model: dim = 2 x the gmm's, shape [2 * dim]. log_density and sample_exact (x_0 from the
 * mixture, m_0 from N(0, kappa M)) are provided. */
pd_status pd_model_psld_gmm_create(pd_ctx *ctx, const pd_model *gmm, double gamma, double nu, double beta,
                                   double kappa, pd_model **out);

/* The mixture's moments (mean [dim], covariance [dim, dim]) for metrics; PD_ERR_INPUT if m is not
 * a gmm. */
pd_status pd_model_gmm_moments(pd_ctx *ctx, const pd_model *m, double *mean, double *cov);

/* Read-only views of a built-in model's parameters (metrics, tests). PD_ERR_INPUT when m is not of
 * that kind; the pointers live as long as m. */
pd_status pd_model_gmm_params(const pd_model *m, int *n_comp, const double **weights,
                              const double **means, const double **var, int *diag);
pd_status pd_model_dataset_rows(const pd_model *m, int64_t *n_rows, const double **rows);

#ifdef __cplusplus
}
#endif
#endif
