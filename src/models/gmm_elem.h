/* Per-element arithmetic of the Gaussian-mixture denoiser (ALGORITHMS.md §2.2), shared by the CPU loops
 * (models/gmm.c) and the CUDA kernels (cuda/gmm.cu), so that the CPU tests cover the GPU's math and
 * the kernels add only the launch layout (STYLE.md habit 8). All in double.
 *
 * At a point (alpha a, sigma s) component k has per-element variance c_{k,i} = a^2 v_{k,i} + s^2, and
 *   l_k    = log pi_k - 1/2 sum_i (x_i - a mu_{k,i})^2 / c_{k,i} - 1/2 sum_i log c_{k,i}
 *   x0_hat = sum_k w_k [mu_k + gain_k (x - a mu_k)],  gain_{k,i} = a v_{k,i} / c_{k,i},
 *   w = softmax(l) by log-sum-exp.
 *
 * Table layout (both sides): the per-point factors inv_c and gain of component k, element i are at
 * [k * kst + i * ist]: kst = d, ist = 1 for diagonal variances, kst = 1, ist = 0 for isotropic ones
 * (one value per component, no [K, d] copy of a constant). */
#ifndef PD_MODELS_GMM_ELEM_H
#define PD_MODELS_GMM_ELEM_H

#include <math.h>
#include <stdint.h>

#include "core/hd.h"

/* Threads per block of the CUDA kernels; the tables kernel sums a diagonal log det with all of them. */
#define PD_GMM_BLOCK 256

/* Threads that share one sample row in the CUDA denoise kernel: one for short rows, a warp for medium
 * ones, a block for images (3072 elements: 12 per thread per component). The CPU adds a row's
 * Mahalanobis sums in the order of that team (models/team_sum.h), so both sides round alike. */
static inline PD_HD int pd_gmm_team(int64_t d)
{
    return d <= 16 ? 1 : d <= 1024 ? 32 : PD_GMM_BLOCK;
}

/* Strides of the per-point tables (see above). */
typedef struct pd_gmm_strides {
    int64_t kst, ist;
} pd_gmm_strides;

static inline PD_HD pd_gmm_strides pd_gmm_table_strides(int diag, int64_t d)
{
    pd_gmm_strides s;
    s.kst = diag ? d : 1;
    s.ist = diag ? 1 : 0;
    return s;
}

/* c = a^2 v + s^2 of one element; inv_c = 1 / c and gain = a v / c go into the tables. */
static inline PD_HD double pd_gmm_elem_c(double a, double s2, double v)
{
    return a * a * v + s2;
}
static inline PD_HD double pd_gmm_elem_gain(double a, double v, double c)
{
    return a * v / c;
}

/* 1/2 sum_i log c over d equal elements (isotropic component). */
static inline PD_HD double pd_gmm_half_logdet_iso(int64_t d, double c)
{
    return 0.5 * ((double)d * log(c));
}

/* One term of the Mahalanobis sum: (x - a mu)^2 / c. */
static inline PD_HD double pd_gmm_elem_quad(double x, double a, double mu, double inv_c)
{
    const double r = x - a * mu;
    return r * r * inv_c;
}

/* l_k from its Mahalanobis sum q; a zero-weight component stays at -inf whatever q is (the CPU skips
 * its sum, the kernels compute it: both get -inf, never NaN). */
static inline PD_HD double pd_gmm_logit(double log_w, double q, double half_logdet)
{
    return log_w == -INFINITY ? -INFINITY : log_w - 0.5 * q - half_logdet;
}

/* Unnormalised responsibility, at most 1 (log-sum-exp: lmax is the largest logit of the sample). */
static inline PD_HD double pd_gmm_resp(double l, double lmax)
{
    return exp(l - lmax);
}

/* Component k's share of element i of x0_hat, w the normalised responsibility: w (mu + gain (x - a mu)). */
static inline PD_HD double pd_gmm_elem_x0(double w, double x, double a, double mu, double gain)
{
    return w * (mu + gain * (x - a * mu));
}

#endif
