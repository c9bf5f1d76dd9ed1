/* The body of pd_model (private to src/models) and helpers shared by the built-in models.
 *
 * The public wrapper (model.h) owns an implementation `self` and its ops table; the built-in models
 * read and write CPU states through the row helpers below, converting to double per element. */
#ifndef PD_MODELS_MODEL_IMPL_H
#define PD_MODELS_MODEL_IMPL_H

#include <stdint.h>

#include "pintdiff/model.h"

#define PD_MODEL_MAX_NDIM 4

struct pd_model {
    const pd_model_ops *ops;
    void *self; /* owned: ops->destroy(self) in pd_model_destroy */
    int ndim;
    int64_t shape[PD_MODEL_MAX_NDIM]; /* data shape of one sample */
    int64_t dim;                      /* product of shape */
    int64_t nfe;                      /* calls of eval since creation or the last reset */
};

/* The implementation behind m when its ops table is `ops` (identity, not name), else NULL: how a
 * model-specific function (pd_model_gmm_moments) finds its own data. */
static inline void *pd_model_self_if(const pd_model *m, const pd_model_ops *ops)
{
    return (m && m->ops == ops) ? m->self : NULL;
}

/* dst[0 .. dim) = sample s of a CPU state, as double. */
static inline void pd_model_row_get(const pd_state *x, int64_t s, int64_t dim, double *dst)
{
    if (pd_state_dtype(x) == PD_F64) {
        const double *p = (const double *)pd_state_cdata(x) + s * dim;
        for (int64_t i = 0; i < dim; i++)
            dst[i] = p[i];
    } else {
        const float *p = (const float *)pd_state_cdata(x) + s * dim;
        for (int64_t i = 0; i < dim; i++)
            dst[i] = (double)p[i];
    }
}

/* Sample s of a CPU state = src[0 .. dim), rounded once to the state's dtype. */
static inline void pd_model_row_set(pd_state *x, int64_t s, int64_t dim, const double *src)
{
    if (pd_state_dtype(x) == PD_F64) {
        double *p = (double *)pd_state_data(x) + s * dim;
        for (int64_t i = 0; i < dim; i++)
            p[i] = src[i];
    } else {
        float *p = (float *)pd_state_data(x) + s * dim;
        for (int64_t i = 0; i < dim; i++)
            p[i] = (float)src[i];
    }
}

/* dim = product of shape[0 .. ndim); PD_ERR_INPUT (naming the model) unless 1 <= ndim <= 4 and every
 * entry is >= 1. */
pd_status pd_model_shape_dim(pd_ctx *ctx, const char *name, int ndim, const int64_t *shape, int64_t *dim);

/* PD_ERR_INPUT unless x (and out, when not NULL) live in CPU memory: for entries without device code. */
pd_status pd_model_check_cpu(pd_ctx *ctx, const char *name, const pd_state *x, const pd_state *out);

/* *dev = the device of x and out (out may be NULL). PD_ERR_INPUT when they differ, or for CUDA states
 * in a build without the CUDA backend (then a caller can rely on *dev being PD_DEVICE_CPU). */
pd_status pd_model_check_devices(pd_ctx *ctx, const char *name, const pd_state *x, const pd_state *out,
                                 pd_device_kind *dev);

/* The optional entries of a model with a CPU implementation only, for states elsewhere: `cpu` runs on a
 * CPU copy (same dtype, shape, offset) and the result is copied back. Host round trips and an
 * allocation per call: for metrics and tests, not for per-step work. */
pd_status pd_model_sample_exact_staged(pd_ctx *ctx, void *self,
                                       pd_status (*cpu)(void *, pd_ctx *, uint64_t, pd_state *),
                                       uint64_t seed, pd_state *out);
pd_status pd_model_log_density_staged(pd_ctx *ctx, void *self,
                                      pd_status (*cpu)(void *, pd_ctx *, const pd_state *,
                                                       const pd_grid_point *, double *),
                                      const pd_state *x, const pd_grid_point *p, double *out);

#endif
