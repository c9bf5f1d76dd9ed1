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

#endif
