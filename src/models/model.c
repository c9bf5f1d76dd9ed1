/* The pd_model wrapper: an ops table plus the data shape and an NFE counter (model.h). */
#include <stdlib.h>

#include "models/model_impl.h"

pd_status pd_model_check_cpu(pd_ctx *ctx, const char *name, const pd_state *x, const pd_state *out)
{
    if (pd_state_device(x) != PD_DEVICE_CPU || (out && pd_state_device(out) != PD_DEVICE_CPU))
        PD_FAIL(
            ctx, PD_ERR_INPUT, "model %s: this operation runs on CPU states only (got a %s state)", name,
            pd_device_name(pd_state_device(x) != PD_DEVICE_CPU ? pd_state_device(x) : pd_state_device(out)));
    return PD_OK;
}

pd_status pd_model_check_devices(pd_ctx *ctx, const char *name, const pd_state *x, const pd_state *out,
                                 pd_device_kind *dev)
{
    const pd_device_kind dx = pd_state_device(x);
    if (out && pd_state_device(out) != dx)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s: input state on %s, output state on %s: expected one device",
                name, pd_device_name(dx), pd_device_name(pd_state_device(out)));
#ifndef PD_HAVE_CUDA
    if (dx != PD_DEVICE_CPU)
        PD_FAIL(ctx, PD_ERR_INPUT,
                "model %s: got a %s state, but this pintdiff was built without the CUDA backend "
                "(PINTDIFF_CUDA=OFF)",
                name, pd_device_name(dx));
#endif
    *dev = dx;
    return PD_OK;
}

pd_status pd_model_sample_exact_staged(pd_ctx *ctx, void *self,
                                       pd_status (*cpu)(void *, pd_ctx *, uint64_t, pd_state *),
                                       uint64_t seed, pd_state *out)
{
    pd_state *h = NULL;
    pd_status st;
    PD_TRY(pd_state_create(ctx, pd_state_dtype(out), PD_DEVICE_CPU, pd_state_n_samples(out),
                           pd_state_dim(out), pd_state_offset(out), &h));
    st = cpu(self, ctx, seed, h);
    if (st == PD_OK) st = pd_state_copy(ctx, out, h);
    pd_state_destroy(&h);
    return st;
}

pd_status pd_model_log_density_staged(pd_ctx *ctx, void *self,
                                      pd_status (*cpu)(void *, pd_ctx *, const pd_state *,
                                                       const pd_grid_point *, double *),
                                      const pd_state *x, const pd_grid_point *p, double *out)
{
    pd_state *h = NULL;
    pd_status st;
    PD_TRY(pd_state_create(ctx, pd_state_dtype(x), PD_DEVICE_CPU, pd_state_n_samples(x), pd_state_dim(x),
                           pd_state_offset(x), &h));
    st = pd_state_copy(ctx, h, x);
    if (st == PD_OK) st = cpu(self, ctx, h, p, out);
    pd_state_destroy(&h);
    return st;
}

pd_status pd_model_shape_dim(pd_ctx *ctx, const char *name, int ndim, const int64_t *shape, int64_t *dim)
{
    int64_t d = 1;
    if (ndim < 1 || ndim > PD_MODEL_MAX_NDIM || !shape)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s: data shape must have 1 to %d dimensions, got %d", name,
                PD_MODEL_MAX_NDIM, shape ? ndim : 0);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            PD_FAIL(ctx, PD_ERR_INPUT, "model %s: data shape entry %d is %lld, expected >= 1", name, i,
                    (long long)shape[i]);
        if (d > INT64_MAX / shape[i])
            PD_FAIL(ctx, PD_ERR_INPUT, "model %s: data shape overflows a 64-bit size", name);
        d *= shape[i];
    }
    *dim = d;
    return PD_OK;
}

/* The first required entry missing from ops, or NULL when the table is complete. */
static const char *pd_model_missing_entry(const pd_model_ops *ops)
{
    if (!ops->name || !ops->name[0]) return "name";
    if (!ops->eval) return "eval";
    if (!ops->destroy) return "destroy";
    return NULL;
}

pd_status pd_model_create(pd_ctx *ctx, const pd_model_ops *ops, void *self, int ndim, const int64_t *shape,
                          pd_model **out)
{
    pd_status st = PD_OK;
    pd_model *m = NULL;
    const char *missing;
    int64_t dim = 1;

    if (!out) {
        st = pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__, "pd_model_create: out is NULL");
        goto done;
    }
    *out = NULL;
    if (!ops) PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "pd_model_create: ops table is NULL");
    missing = pd_model_missing_entry(ops);
    if (missing)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "model %s: ops table lacks the required entry '%s'",
                     ops->name && ops->name[0] ? ops->name : "(unnamed)", missing);
    PD_TRY_GOTO(pd_model_shape_dim(ctx, ops->name, ndim, shape, &dim));
    m = calloc(1, sizeof *m);
    if (!m) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "model %s: out of memory", ops->name);
    m->ops = ops;
    m->self = self;
    m->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        m->shape[i] = shape[i];
    m->dim = dim;
    *out = m;
    return PD_OK;
done:
    /* we own self from the call on: release it on every failure we can release it on */
    if (ops && ops->destroy) ops->destroy(self);
    return st;
}

void pd_model_destroy(pd_model **m)
{
    if (!m || !*m) return;
    (*m)->ops->destroy((*m)->self);
    free(*m);
    *m = NULL;
}

const char *pd_model_name(const pd_model *m)
{
    return m->ops->name;
}
int64_t pd_model_dim(const pd_model *m)
{
    return m->dim;
}
int pd_model_ndim(const pd_model *m)
{
    return m->ndim;
}
const int64_t *pd_model_shape(const pd_model *m)
{
    return m->shape;
}
int pd_model_has_exact(const pd_model *m)
{
    return m->ops->sample_exact != NULL;
}
int pd_model_has_log_density(const pd_model *m)
{
    return m->ops->log_density != NULL;
}
int pd_model_is_augmented(const pd_model *m)
{
    return m->ops->augmented;
}
int64_t pd_model_nfe(const pd_model *m)
{
    return m->nfe;
}
void pd_model_reset_nfe(pd_model *m)
{
    m->nfe = 0;
}

static pd_status pd_model_check_x(pd_ctx *ctx, const pd_model *m, const pd_state *x, const char *what)
{
    if (!x) PD_FAIL(ctx, PD_ERR_INPUT, "model %s: %s is NULL", m->ops->name, what);
    if (pd_state_dim(x) != m->dim)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s: %s has %lld elements per sample, the model %lld", m->ops->name,
                what, (long long)pd_state_dim(x), (long long)m->dim);
    return PD_OK;
}

pd_status pd_model_eval_groups(pd_ctx *ctx, pd_model *m, const pd_state *x, int n_groups,
                               const pd_grid_point *p, pd_state *x0_out)
{
    PD_TRY(pd_model_check_x(ctx, m, x, "input state"));
    PD_TRY(pd_model_check_x(ctx, m, x0_out, "output state"));
    if (!p) PD_FAIL(ctx, PD_ERR_INPUT, "model %s: grid point is NULL", m->ops->name);
    const int64_t n = pd_state_n_samples(x);
    if (pd_state_n_samples(x0_out) != n)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s: output holds %lld samples, input %lld", m->ops->name,
                (long long)pd_state_n_samples(x0_out), (long long)n);
    if (n_groups < 1 || n % n_groups != 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s: %d groups do not split %lld samples evenly", m->ops->name,
                n_groups, (long long)n);
    if (n == 0) return PD_OK; /* nothing evaluated, nothing counted */
    m->nfe++;
    return m->ops->eval(m->self, ctx, x, n_groups, p, x0_out);
}

pd_status pd_model_eval(pd_ctx *ctx, pd_model *m, const pd_state *x, const pd_grid_point *p, pd_state *x0_out)
{
    return pd_model_eval_groups(ctx, m, x, 1, p, x0_out);
}

pd_status pd_model_reserve(pd_ctx *ctx, pd_model *m, int64_t n)
{
    if (n < 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s: cannot reserve %lld samples", m->ops->name, (long long)n);
    return m->ops->reserve ? m->ops->reserve(m->self, ctx, n) : PD_OK;
}

pd_status pd_model_sample_exact(pd_ctx *ctx, pd_model *m, uint64_t seed, pd_state *out)
{
    if (!m->ops->sample_exact)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s has no exact samples (no ground truth)", m->ops->name);
    PD_TRY(pd_model_check_x(ctx, m, out, "output state"));
    if (pd_state_offset(out) < 0 || pd_state_offset(out) + pd_state_n_samples(out) > (int64_t)UINT32_MAX + 1)
        PD_FAIL(ctx, PD_ERR_INPUT,
                "model %s: global sample indices [%lld, %lld) exceed the 32-bit "
                "noise counter",
                m->ops->name, (long long)pd_state_offset(out),
                (long long)(pd_state_offset(out) + pd_state_n_samples(out)));
    if (pd_state_n_samples(out) == 0) return PD_OK;
    return m->ops->sample_exact(m->self, ctx, seed, out);
}

pd_status pd_model_log_density(pd_ctx *ctx, pd_model *m, const pd_state *x, const pd_grid_point *p,
                               double *out)
{
    if (!m->ops->log_density) PD_FAIL(ctx, PD_ERR_INPUT, "model %s has no log density", m->ops->name);
    PD_TRY(pd_model_check_x(ctx, m, x, "input state"));
    if (!p || !out)
        PD_FAIL(ctx, PD_ERR_INPUT, "model %s: log density: NULL grid point or output", m->ops->name);
    if (pd_state_n_samples(x) == 0) return PD_OK;
    return m->ops->log_density(m->self, ctx, x, p, out);
}
