/* pintdiff: state buffers and vector operations, on CPU or GPU memory.
 *
 * A state holds a batch of samples, [n_samples, dim], contiguous, in one dtype, in one memory space.
 * Sample s of the buffer is global sample (offset + s): the global index, never a rank-local one,
 * keys the sample's noise. The drivers and solvers see states only through these operations (the
 * SUNDIALS N_Vector / XBraid idea), so the same solver runs on either device. */
#ifndef PINTDIFF_STATE_H
#define PINTDIFF_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "pintdiff/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PD_DEVICE_CPU = 0, PD_DEVICE_CUDA = 1 } pd_device_kind;
typedef enum { PD_F32 = 0, PD_F64 = 1 } pd_dtype;

typedef struct pd_state pd_state;

/* One noise term of pd_state_lincomb: coef * z(seed, global sample, step, purpose, element). */
typedef struct pd_noise_term {
    double coef;     /* 0 adds nothing (and draws nothing) */
    uint64_t seed;
    uint32_t step;   /* global step index */
    uint32_t purpose;/* PD_RNG_* stream (rng.h) */
} pd_noise_term;

#define PD_LINCOMB_MAX 6 /* most terms a solver update needs */

size_t pd_dtype_size(pd_dtype t);
const char *pd_dtype_name(pd_dtype t);
const char *pd_device_name(pd_device_kind d);

/* out: a zeroed [n_samples, dim] buffer; sample 0 is global sample `offset`. */
pd_status pd_state_create(pd_ctx *ctx, pd_dtype dtype, pd_device_kind dev, int64_t n_samples,
                          int64_t dim, int64_t offset, pd_state **out);
/* out: a new zeroed buffer shaped, typed and placed like `like`. */
pd_status pd_state_create_like(pd_ctx *ctx, const pd_state *like, pd_state **out);
/* out: a view of samples [first, first + count) of x: shares x's memory, must not outlive it. */
pd_status pd_state_view(pd_ctx *ctx, pd_state *x, int64_t first, int64_t count, pd_state **out);
/* Re-point an existing view at samples [first, first + count) of x, numbered from global sample `offset`
 * (a batch that stacks groups of the same samples gives each group's view the same offset). view must
 * have been made by pd_state_view (PD_ERR_INPUT for a state that owns its memory). No allocation. */
pd_status pd_state_view_set(pd_ctx *ctx, pd_state *view, pd_state *x, int64_t first, int64_t count,
                            int64_t offset);
void pd_state_destroy(pd_state **x);

int64_t pd_state_n_samples(const pd_state *x);
int64_t pd_state_dim(const pd_state *x);
int64_t pd_state_offset(const pd_state *x);
pd_dtype pd_state_dtype(const pd_state *x);
pd_device_kind pd_state_device(const pd_state *x);
/* Raw pointer to the elements (device memory for CUDA states). */
void *pd_state_data(pd_state *x);
const void *pd_state_cdata(const pd_state *x);

/* dst = src (same shape; any dtypes, any devices). */
pd_status pd_state_copy(pd_ctx *ctx, pd_state *dst, const pd_state *src);
/* Host <-> state, converting from/to double: host holds n_samples * dim values. */
pd_status pd_state_read_f64(pd_ctx *ctx, const pd_state *x, double *host);
pd_status pd_state_write_f64(pd_ctx *ctx, pd_state *x, const double *host);

/* out = sum_i c[i] * v[i] + noise (n <= PD_LINCOMB_MAX; v[i] may alias out). Per element the sum is
 * formed in double and rounded once to the dtype. noise may be NULL. All states share shape and
 * device. */
pd_status pd_state_lincomb(pd_ctx *ctx, pd_state *out, int n, const double *c,
                           const pd_state *const *v, const pd_noise_term *noise);
/* Augmented states (PSLD: each sample holds a position x and a momentum m, dim = 2d, x first): a 2x2
 * mixing per data element. For every sample and i < d,
 *   (out_i, out_{i+d}) = sum_k C_k (v_k[i], v_k[i+d]) + L (z_i, z_{i+d}),
 * C_k = c[k] row-major {xx, xm, mx, mm}, L = noise->l likewise (NULL: no noise), z the standard normals of
 * (seed, global sample, step, purpose) at elements i and i + d: the same numbers pd_state_fill_normal puts
 * there. Sums in double, rounded once; v[k] may alias out; dim must be even. */
typedef struct pd_pair_noise {
    double l[4];
    uint64_t seed;
    uint32_t step, purpose;
} pd_pair_noise;
pd_status pd_state_lincomb_pairs(pd_ctx *ctx, pd_state *out, int n, const double (*c)[4],
                                 const pd_state *const *v, const pd_pair_noise *noise);
/* x = z(seed, global sample, step, purpose, element), standard normal. */
pd_status pd_state_fill_normal(pd_ctx *ctx, pd_state *x, uint64_t seed, uint32_t step,
                               uint32_t purpose);
/* Index (sample * dim + element) of the first non-finite element, or -1 when all are finite. */
pd_status pd_state_find_nonfinite(pd_ctx *ctx, const pd_state *x, int64_t *first_bad);
/* *equal = 1 when a and b hold the same bits (same shape, dtype, device). */
pd_status pd_state_equal(pd_ctx *ctx, const pd_state *a, const pd_state *b, int *equal);
/* Local (this process) sum over all elements of (a - b)^2, in double. */
pd_status pd_state_sqdiff_local(pd_ctx *ctx, const pd_state *a, const pd_state *b, double *out);
/* The largest over samples of sum_i (a - b)^2 of the sample's elements (NaN when any sample's is NaN):
 * one reduction where a per-sample test would take one per sample (a kernel and a copy each on a GPU). */
pd_status pd_state_sample_sqdiff_max_local(pd_ctx *ctx, const pd_state *a, const pd_state *b, double *out);

#ifdef __cplusplus
}
#endif
#endif
