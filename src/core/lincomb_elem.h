/* Per-element math of the vector operations, shared by the CPU loops (state.c) and the CUDA kernels
 * (src/cuda/state_ops.cu). */
#ifndef PD_CORE_LINCOMB_ELEM_H
#define PD_CORE_LINCOMB_ELEM_H

#include <stdint.h>

#include "core/hd.h"
#include "core/rng_impl.h"
#include "pintdiff/state.h"

#define PD_LINCOMB_MAX_TERMS PD_LINCOMB_MAX /* one limit, from state.h */

/* Coefficients of one lincomb call, passed by value to kernels. */
typedef struct pd_lincomb_args {
    int n;
    double c[PD_LINCOMB_MAX_TERMS];
    double noise_coef;  /* 0: no noise */
    uint64_t seed;
    uint32_t step, purpose;
    int64_t dim, offset; /* element i belongs to global sample offset + i / dim */
} pd_lincomb_args;

/* The noise term of element i of the buffer. */
static inline PD_HD double pd_lincomb_noise(const pd_lincomb_args *a, int64_t i)
{
    if (a->noise_coef == 0.0) return 0.0;
    int64_t s = i / a->dim, e = i - s * a->dim;
    return a->noise_coef *
           pd_rng_normal_elem(a->seed, (uint32_t)(a->offset + s), a->step, a->purpose, (uint64_t)e);
}

/* Coefficients of one pair-lincomb call (pd_state_lincomb_pairs), by value to kernels. */
typedef struct pd_pairs_args {
    int n;
    double c[PD_LINCOMB_MAX_TERMS][4];
    double l[4];         /* noise mixing; all 0: no noise */
    int noisy;
    uint64_t seed;
    uint32_t step, purpose;
    int64_t half, offset; /* d (pairs per sample), global sample of row 0 */
} pd_pairs_args;

/* The pair (x, m) = (element i, element i + d) of sample s: out[0], out[1] from the inputs (each input
 * read before either output is written, so out may alias an input). */
#define PD_PAIR_APPLY(T, a, v, s, i, ox, om)                                                             \
    do {                                                                                                 \
        const int64_t bx_ = (s) * 2 * (a)->half + (i), bm_ = bx_ + (a)->half;                            \
        double x_ = 0.0, m_ = 0.0;                                                                       \
        for (int k_ = 0; k_ < (a)->n; k_++) {                                                            \
            const double vx_ = (double)(v)[k_][bx_], vm_ = (double)(v)[k_][bm_];                         \
            x_ += (a)->c[k_][0] * vx_ + (a)->c[k_][1] * vm_;                                             \
            m_ += (a)->c[k_][2] * vx_ + (a)->c[k_][3] * vm_;                                             \
        }                                                                                                \
        if ((a)->noisy) {                                                                                \
            const uint32_t smp_ = (uint32_t)((a)->offset + (s));                                         \
            const double zx_ = pd_rng_normal_elem((a)->seed, smp_, (a)->step, (a)->purpose, (uint64_t)(i)); \
            const double zm_ =                                                                           \
                pd_rng_normal_elem((a)->seed, smp_, (a)->step, (a)->purpose, (uint64_t)((i) + (a)->half)); \
            x_ += (a)->l[0] * zx_ + (a)->l[1] * zm_;                                                     \
            m_ += (a)->l[2] * zx_ + (a)->l[3] * zm_;                                                     \
        }                                                                                                \
        ox = x_;                                                                                         \
        om = m_;                                                                                         \
    } while (0)

/* Running maximum for the reductions in which a NaN must win (fmax would drop it: a NaN sample must fail
 * a caller's test q <= threshold). */
static inline PD_HD double pd_max_nan(double m, double q) { return q > m || q != q ? q : m; }

#endif
