/* Per-element arithmetic of the data-set denoiser (ALGORITHMS.md §2.3), shared by the CPU loops
 * (models/dataset.c) and the CUDA kernel (cuda/dataset.cu) that turns X R^T into softmax weights
 * (STYLE.md habit 8). The two matrix products around it are BLAS / cuBLAS calls. All in double. */
#ifndef PD_MODELS_DATASET_ELEM_H
#define PD_MODELS_DATASET_ELEM_H

#include <math.h>

#include "core/hd.h"

/* 1 / (2 sigma^2), the scale of every logit at a point. */
static inline PD_HD double pd_dataset_inv2s2(double sigma)
{
    return 0.5 / (sigma * sigma);
}

/* Logit of data row r for a sample x: -|x - alpha r|^2 / (2 sigma^2), the squared distance expanded as
 * |x|^2 - 2 alpha <x, r> + alpha^2 |r|^2 and clamped at 0 (rounding can take it below).
 * xn2 = |x|^2, xr = <x, r>, rn2 = |r|^2. */
static inline PD_HD double pd_dataset_logit(double xn2, double xr, double rn2, double alpha, double inv2s2)
{
    const double d2 = xn2 - 2.0 * alpha * xr + alpha * alpha * rn2;
    return -(d2 > 0 ? d2 : 0) * inv2s2;
}

/* Unnormalised softmax weight, at most 1 (lmax: the largest logit of the sample). */
static inline PD_HD double pd_dataset_resp(double l, double lmax)
{
    return exp(l - lmax);
}

#endif
