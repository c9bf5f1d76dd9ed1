/* State buffers and vector operations. CPU loops here; CUDA states go to src/cuda (when built). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/lincomb_elem.h"
#include "core/state_impl.h"
#ifdef PD_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

size_t pd_dtype_size(pd_dtype t) { return t == PD_F64 ? sizeof(double) : sizeof(float); }
const char *pd_dtype_name(pd_dtype t) { return t == PD_F64 ? "float64" : "float32"; }
const char *pd_device_name(pd_device_kind d) { return d == PD_DEVICE_CUDA ? "cuda" : "cpu"; }

static size_t state_bytes(const pd_state *x) { return (size_t)pd_state_len(x) * pd_dtype_size(x->dtype); }

#ifndef PD_HAVE_CUDA
static pd_status no_cuda(pd_ctx *ctx)
{
    PD_FAIL(ctx, PD_ERR_INPUT, "this pintdiff was built without the CUDA backend (PINTDIFF_CUDA=OFF)");
}
#endif

static pd_status mem_alloc(pd_ctx *ctx, pd_device_kind dev, size_t bytes, void **out)
{
    if (bytes == 0) bytes = 1;
    if (dev == PD_DEVICE_CUDA) {
#ifdef PD_HAVE_CUDA
        PD_TRY(pd_cuda_malloc(ctx, bytes, out));
        return pd_cuda_memset0(ctx, *out, bytes);
#else
        return no_cuda(ctx);
#endif
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0)
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate %zu bytes for a state", bytes);
    memset(p, 0, bytes);
    *out = p;
    return PD_OK;
}

static void mem_free(pd_device_kind dev, void *p)
{
#ifdef PD_HAVE_CUDA
    if (dev == PD_DEVICE_CUDA) {
        pd_cuda_free(p);
        return;
    }
#else
    (void)dev;
#endif
    free(p);
}

pd_status pd_state_create(pd_ctx *ctx, pd_dtype dtype, pd_device_kind dev, int64_t n_samples,
                          int64_t dim, int64_t offset, pd_state **out)
{
    if (n_samples < 0 || dim <= 0 || offset < 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "state shape [%lld, %lld] (offset %lld) is invalid",
                (long long)n_samples, (long long)dim, (long long)offset);
    pd_state *x = calloc(1, sizeof *x);
    if (!x) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a state");
    *x = (pd_state){.dtype = dtype, .device = dev, .n_samples = n_samples, .dim = dim,
                    .offset = offset, .owns_data = 1};
    pd_status st = mem_alloc(ctx, dev, state_bytes(x), &x->data);
#ifdef PD_HAVE_CUDA
    if (st == PD_OK && dev == PD_DEVICE_CUDA) st = pd_cuda_malloc(ctx, PD_CUDA_SCRATCH_BYTES, &x->scratch);
#endif
    if (st != PD_OK) {
        pd_state_destroy(&x);
        return st;
    }
    *out = x;
    return PD_OK;
}

pd_status pd_state_create_like(pd_ctx *ctx, const pd_state *like, pd_state **out)
{
    return pd_state_create(ctx, like->dtype, like->device, like->n_samples, like->dim, like->offset, out);
}

pd_status pd_state_view(pd_ctx *ctx, pd_state *x, int64_t first, int64_t count, pd_state **out)
{
    if (first < 0 || count < 0 || first + count > x->n_samples)
        PD_FAIL(ctx, PD_ERR_INPUT, "view [%lld, %lld) outside a state of %lld samples",
                (long long)first, (long long)(first + count), (long long)x->n_samples);
    pd_state *v = calloc(1, sizeof *v);
    if (!v) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a state view");
    *v = *x;
    v->n_samples = count;
    v->offset = x->offset + first;
    v->data = (char *)x->data + (size_t)(first * x->dim) * pd_dtype_size(x->dtype);
    v->owns_data = 0;
    *out = v;
    return PD_OK;
}

pd_status pd_state_view_set(pd_ctx *ctx, pd_state *view, pd_state *x, int64_t first, int64_t count,
                            int64_t offset)
{
    if (view->owns_data) PD_FAIL(ctx, PD_ERR_INPUT, "pd_state_view_set: the target owns its memory (not a view)");
    if (first < 0 || count < 0 || first + count > x->n_samples || offset < 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "view [%lld, %lld) (offset %lld) outside a state of %lld samples",
                (long long)first, (long long)(first + count), (long long)offset, (long long)x->n_samples);
    *view = *x;
    view->n_samples = count;
    view->offset = offset;
    view->data = (char *)x->data + (size_t)(first * x->dim) * pd_dtype_size(x->dtype);
    view->owns_data = 0;
    return PD_OK;
}

void pd_state_destroy(pd_state **x)
{
    if (!x || !*x) return;
    if ((*x)->owns_data) {
        if ((*x)->data) mem_free((*x)->device, (*x)->data);
        if ((*x)->scratch) mem_free((*x)->device, (*x)->scratch);
    }
    free(*x);
    *x = NULL;
}

int64_t pd_state_n_samples(const pd_state *x) { return x->n_samples; }
int64_t pd_state_dim(const pd_state *x) { return x->dim; }
int64_t pd_state_offset(const pd_state *x) { return x->offset; }
pd_dtype pd_state_dtype(const pd_state *x) { return x->dtype; }
pd_device_kind pd_state_device(const pd_state *x) { return x->device; }
void *pd_state_data(pd_state *x) { return x->data; }
const void *pd_state_cdata(const pd_state *x) { return x->data; }

static pd_status check_same_shape(pd_ctx *ctx, const pd_state *a, const pd_state *b, const char *op)
{
    if (a->n_samples != b->n_samples || a->dim != b->dim)
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: shapes differ ([%lld, %lld] vs [%lld, %lld])", op,
                (long long)a->n_samples, (long long)a->dim, (long long)b->n_samples, (long long)b->dim);
    return PD_OK;
}

static pd_status check_compatible(pd_ctx *ctx, const pd_state *a, const pd_state *b, const char *op)
{
    PD_TRY(check_same_shape(ctx, a, b, op));
    if (a->dtype != b->dtype || a->device != b->device)
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: states differ in dtype or device (%s/%s vs %s/%s)", op,
                pd_dtype_name(a->dtype), pd_device_name(a->device), pd_dtype_name(b->dtype),
                pd_device_name(b->device));
    return PD_OK;
}

/* ---- conversions between host arrays and CPU states ---- */

static void cpu_convert(int64_t len, void *dst, pd_dtype dt, const void *src, pd_dtype st)
{
    if (dt == st) {
        memmove(dst, src, (size_t)len * pd_dtype_size(dt));
    } else if (dt == PD_F64) {
        const float *s = src;
        double *d = dst;
        for (int64_t i = 0; i < len; i++) d[i] = s[i];
    } else {
        const double *s = src;
        float *d = dst;
        for (int64_t i = 0; i < len; i++) d[i] = (float)s[i];
    }
}

pd_status pd_state_copy(pd_ctx *ctx, pd_state *dst, const pd_state *src)
{
    PD_TRY(check_same_shape(ctx, dst, src, "pd_state_copy"));
    int64_t len = pd_state_len(src);
    if (dst->device == PD_DEVICE_CPU && src->device == PD_DEVICE_CPU) {
        cpu_convert(len, dst->data, dst->dtype, src->data, src->dtype);
        return PD_OK;
    }
#ifdef PD_HAVE_CUDA
    if (dst->dtype != src->dtype && dst->device == PD_DEVICE_CUDA && src->device == PD_DEVICE_CUDA)
        return pd_cuda_convert(ctx, len, dst->data, dst->dtype, src->data, src->dtype);
    if (dst->dtype != src->dtype)
        PD_FAIL(ctx, PD_ERR_INPUT, "pd_state_copy between devices needs equal dtypes");
    pd_copy_kind k = dst->device == PD_DEVICE_CPU ? PD_COPY_D2H
                   : src->device == PD_DEVICE_CPU ? PD_COPY_H2D : PD_COPY_D2D;
    return pd_cuda_memcpy(ctx, dst->data, src->data, state_bytes(src), k);
#else
    return no_cuda(ctx);
#endif
}

/* Host double array <-> state. A GPU state of another dtype goes through a CPU state of its own dtype
 * (copies between devices keep the dtype; the conversion happens on the CPU). */
static pd_status host_transfer(pd_ctx *ctx, pd_state *x, double *host, int to_host)
{
    pd_state h = {.dtype = PD_F64, .device = PD_DEVICE_CPU, .n_samples = x->n_samples, .dim = x->dim,
                  .offset = x->offset, .data = host, .owns_data = 0};
    if (x->device == PD_DEVICE_CPU || x->dtype == PD_F64)
        return to_host ? pd_state_copy(ctx, &h, x) : pd_state_copy(ctx, x, &h);
    pd_state *tmp = NULL;
    PD_TRY(pd_state_create(ctx, x->dtype, PD_DEVICE_CPU, x->n_samples, x->dim, x->offset, &tmp));
    pd_status st = to_host ? pd_state_copy(ctx, tmp, x) : pd_state_copy(ctx, tmp, &h);
    if (st == PD_OK) st = to_host ? pd_state_copy(ctx, &h, tmp) : pd_state_copy(ctx, x, tmp);
    pd_state_destroy(&tmp);
    return st;
}

pd_status pd_state_read_f64(pd_ctx *ctx, const pd_state *x, double *host)
{
    return host_transfer(ctx, (pd_state *)x, host, 1);
}

pd_status pd_state_write_f64(pd_ctx *ctx, pd_state *x, const double *host)
{
    return host_transfer(ctx, x, (double *)host, 0);
}

/* ---- linear combinations ---- */

/* The noise is drawn a Philox block (4 elements) at a time: one generator call and two Box-Muller
 * transforms per 4 numbers, the same numbers as pd_lincomb_noise element by element. */
#define PD_CPU_LINCOMB(T)                                                                          \
    static void cpu_lincomb_##T(int64_t len, T *out, const T *const *v, const pd_lincomb_args *a)  \
    {                                                                                              \
        for (int64_t i = 0; i < len; i++) {                                                        \
            double acc = 0.0;                                                                      \
            for (int k = 0; k < a->n; k++) acc += a->c[k] * (double)v[k][i];                       \
            out[i] = (T)acc;                                                                       \
        }                                                                                          \
    }                                                                                              \
    static void cpu_lincomb_noise_##T(int64_t len, T *out, const T *const *v,                      \
                                      const pd_lincomb_args *a)                                    \
    {                                                                                              \
        double z[4];                                                                               \
        for (int64_t s = 0; s * a->dim < len; s++) {                                               \
            for (int64_t e = 0; e < a->dim; e++) {                                                 \
                int64_t i = s * a->dim + e;                                                        \
                if ((e & 3) == 0)                                                                  \
                    pd_rng_normal4(a->seed, (uint32_t)(a->offset + s), a->step, a->purpose,        \
                                   (uint64_t)e, z);                                                \
                double acc = 0.0;                                                                  \
                for (int k = 0; k < a->n; k++) acc += a->c[k] * (double)v[k][i];                   \
                out[i] = (T)(acc + a->noise_coef * z[e & 3]);                                      \
            }                                                                                      \
        }                                                                                          \
    }
PD_CPU_LINCOMB(float)
PD_CPU_LINCOMB(double)

pd_status pd_state_lincomb(pd_ctx *ctx, pd_state *out, int n, const double *c,
                           const pd_state *const *v, const pd_noise_term *noise)
{
    if (n < 0 || n > PD_LINCOMB_MAX)
        PD_FAIL(ctx, PD_ERR_INPUT, "pd_state_lincomb: %d terms (at most %d)", n, PD_LINCOMB_MAX);
    pd_lincomb_args a = {.n = n, .dim = out->dim, .offset = out->offset};
    const void *ptr[PD_LINCOMB_MAX_TERMS];
    for (int k = 0; k < n; k++) {
        PD_TRY(check_compatible(ctx, out, v[k], "pd_state_lincomb"));
        a.c[k] = c[k];
        ptr[k] = v[k]->data;
    }
    if (noise && noise->coef != 0.0) {
        a.noise_coef = noise->coef;
        a.seed = noise->seed;
        a.step = noise->step;
        a.purpose = noise->purpose;
    }
    int64_t len = pd_state_len(out);
    if (out->device == PD_DEVICE_CUDA) {
#ifdef PD_HAVE_CUDA
        return pd_cuda_lincomb(ctx, out->dtype, len, out->data, ptr, &a);
#else
        return no_cuda(ctx);
#endif
    }
    int noisy = a.noise_coef != 0.0;
    if (out->dtype == PD_F64)
        (noisy ? cpu_lincomb_noise_double : cpu_lincomb_double)(len, out->data, (const double *const *)ptr, &a);
    else
        (noisy ? cpu_lincomb_noise_float : cpu_lincomb_float)(len, out->data, (const float *const *)ptr, &a);
    return PD_OK;
}

/* Pairs (x_i, m_i) of augmented states: the per-pair math is PD_PAIR_APPLY, shared with the kernel. */
#define PD_CPU_PAIRS(T)                                                                                     \
    static void cpu_pairs_##T(int64_t rows, T *out, const T *const *v, const pd_pairs_args *a)             \
    {                                                                                                       \
        for (int64_t s = 0; s < rows; s++)                                                                  \
            for (int64_t i = 0; i < a->half; i++) {                                                         \
                double ox, om;                                                                              \
                PD_PAIR_APPLY(T, a, v, s, i, ox, om);                                                       \
                out[s * 2 * a->half + i] = (T)ox;                                                           \
                out[s * 2 * a->half + a->half + i] = (T)om;                                                 \
            }                                                                                               \
    }
PD_CPU_PAIRS(float)
PD_CPU_PAIRS(double)

pd_status pd_state_lincomb_pairs(pd_ctx *ctx, pd_state *out, int n, const double (*c)[4],
                                 const pd_state *const *v, const pd_pair_noise *noise)
{
    if (n < 0 || n > PD_LINCOMB_MAX)
        PD_FAIL(ctx, PD_ERR_INPUT, "pd_state_lincomb_pairs: %d terms (at most %d)", n, PD_LINCOMB_MAX);
    if (out->dim % 2 != 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "pd_state_lincomb_pairs: dim %lld is odd (an augmented state holds x and m)",
                (long long)out->dim);
    pd_pairs_args a = {.n = n, .half = out->dim / 2, .offset = out->offset};
    const void *ptr[PD_LINCOMB_MAX_TERMS];
    for (int k = 0; k < n; k++) {
        PD_TRY(check_compatible(ctx, out, v[k], "pd_state_lincomb_pairs"));
        for (int j = 0; j < 4; j++) a.c[k][j] = c[k][j];
        ptr[k] = v[k]->data;
    }
    if (noise) {
        for (int j = 0; j < 4; j++) a.l[j] = noise->l[j];
        a.noisy = a.l[0] != 0.0 || a.l[1] != 0.0 || a.l[2] != 0.0 || a.l[3] != 0.0;
        a.seed = noise->seed;
        a.step = noise->step;
        a.purpose = noise->purpose;
    }
    if (out->device == PD_DEVICE_CUDA) {
#ifdef PD_HAVE_CUDA
        return pd_cuda_lincomb_pairs(ctx, out->dtype, out->n_samples, out->data, ptr, &a);
#else
        return no_cuda(ctx);
#endif
    }
    if (out->dtype == PD_F64) cpu_pairs_double(out->n_samples, out->data, (const double *const *)ptr, &a);
    else cpu_pairs_float(out->n_samples, out->data, (const float *const *)ptr, &a);
    return PD_OK;
}

pd_status pd_state_fill_normal(pd_ctx *ctx, pd_state *x, uint64_t seed, uint32_t step, uint32_t purpose)
{
    pd_noise_term z = {.coef = 1.0, .seed = seed, .step = step, .purpose = purpose};
    return pd_state_lincomb(ctx, x, 0, NULL, NULL, &z);
}

/* ---- reductions ---- */

#define PD_CPU_REDUCE(T)                                                                           \
    static int64_t cpu_nonfinite_##T(int64_t len, const T *x)                                      \
    {                                                                                              \
        for (int64_t i = 0; i < len; i++)                                                          \
            if (!isfinite(x[i])) return i;                                                         \
        return -1;                                                                                 \
    }                                                                                              \
    static double cpu_sqdiff_##T(int64_t len, const T *a, const T *b)                              \
    {                                                                                              \
        double s = 0.0;                                                                            \
        for (int64_t i = 0; i < len; i++) {                                                        \
            double d = (double)a[i] - (double)b[i];                                                \
            s += d * d;                                                                            \
        }                                                                                          \
        return s;                                                                                  \
    }                                                                                              \
    static double cpu_sample_sqdiff_max_##T(int64_t n, int64_t dim, const T *a, const T *b)        \
    {                                                                                              \
        double m = 0.0;                                                                            \
        for (int64_t s = 0; s < n && m == m; s++)                                                  \
            m = pd_max_nan(m, cpu_sqdiff_##T(dim, a + s * dim, b + s * dim));                      \
        return m;                                                                                  \
    }
PD_CPU_REDUCE(float)
PD_CPU_REDUCE(double)

pd_status pd_state_find_nonfinite(pd_ctx *ctx, const pd_state *x, int64_t *first_bad)
{
    int64_t len = pd_state_len(x);
    if (x->device == PD_DEVICE_CUDA) {
#ifdef PD_HAVE_CUDA
        return pd_cuda_find_nonfinite(ctx, x->dtype, len, x->data, x->scratch, first_bad);
#else
        return no_cuda(ctx);
#endif
    }
    *first_bad = x->dtype == PD_F64 ? cpu_nonfinite_double(len, x->data) : cpu_nonfinite_float(len, x->data);
    return PD_OK;
}

pd_status pd_state_equal(pd_ctx *ctx, const pd_state *a, const pd_state *b, int *equal)
{
    PD_TRY(check_compatible(ctx, a, b, "pd_state_equal"));
    if (a->device == PD_DEVICE_CUDA) {
        double sq = 0.0; /* bit patterns of finite values: equal iff the squared difference is 0 */
        PD_TRY(pd_state_sqdiff_local(ctx, a, b, &sq));
        *equal = sq == 0.0;
        return PD_OK;
    }
    *equal = a->data == b->data || memcmp(a->data, b->data, state_bytes(a)) == 0;
    return PD_OK;
}

pd_status pd_state_sqdiff_local(pd_ctx *ctx, const pd_state *a, const pd_state *b, double *out)
{
    PD_TRY(check_compatible(ctx, a, b, "pd_state_sqdiff_local"));
    int64_t len = pd_state_len(a);
    if (a->device == PD_DEVICE_CUDA) {
#ifdef PD_HAVE_CUDA
        return pd_cuda_sqdiff(ctx, a->dtype, len, a->data, b->data, a->scratch, out);
#else
        return no_cuda(ctx);
#endif
    }
    *out = a->dtype == PD_F64 ? cpu_sqdiff_double(len, a->data, b->data) : cpu_sqdiff_float(len, a->data, b->data);
    return PD_OK;
}

pd_status pd_state_sample_sqdiff_max_local(pd_ctx *ctx, const pd_state *a, const pd_state *b, double *out)
{
    PD_TRY(check_compatible(ctx, a, b, "pd_state_sample_sqdiff_max_local"));
    const int64_t n = pd_state_n_samples(a), dim = pd_state_dim(a);
    if (a->device == PD_DEVICE_CUDA) {
#ifdef PD_HAVE_CUDA
        return pd_cuda_sample_sqdiff_max(ctx, a->dtype, n, dim, a->data, b->data, a->scratch, out);
#else
        return no_cuda(ctx);
#endif
    }
    *out = a->dtype == PD_F64 ? cpu_sample_sqdiff_max_double(n, dim, a->data, b->data)
                              : cpu_sample_sqdiff_max_float(n, dim, a->data, b->data);
    return PD_OK;
}
