/* pintdiff (internal): sample-quality metrics on host arrays (ALGORITHMS.md §2.4).
 *
 * All point sets are row-major double arrays [n, d] in host memory, one sample a row. The metrics
 * are local (one process); a distributed run gathers its samples first. Every function returns
 * PD_ERR_INPUT for sizes it cannot use and PD_ERR_NOMEM when scratch cannot be had. */
#ifndef PD_CORE_METRICS_H
#define PD_CORE_METRICS_H

#include <stdint.h>

#include "pintdiff/status.h"

#define PD_METRICS_SW2_DIRS 128                  /* L, the number of projection directions */
#define PD_METRICS_SEED UINT64_C(0x5057324d4d44) /* fixed seed of the directions ("PW2MMD") */
#define PD_METRICS_MMD_MAX_POINTS 2000           /* X and Y are cut to their first 2000 rows */

/* Sliced Wasserstein-2 between x [n, d] and y [m, d]: L directions theta_l = normalised
 * (z(seed, l, 0, PD_RNG_METRIC, j))_j; per direction the integral over (0, 1) of the squared
 * difference of the two empirical quantile functions of the projections (= (1/n) sum_i
 * (sort(Xθ)_i - sort(Yθ)_i)^2 when n = m); out = sqrt(mean over l). n, m >= 1; L >= 1. */
pd_status pd_metrics_sw2(pd_ctx *ctx, const double *x, int64_t n, const double *y, int64_t m, int64_t d,
                         int n_dirs, uint64_t seed, double *out);

/* Unbiased MMD^2 with the Gaussian kernel exp(-|a - b|^2 / (2 l^2)), l^2 = the median of the squared
 * distances over distinct pairs of the pooled sample (median heuristic), x and y cut to their first
 * PD_METRICS_MMD_MAX_POINTS rows (at least 2 each). out = MMD^2 (may be < 0); bandwidth2 = l^2
 * (NULL: not returned). */
pd_status pd_metrics_mmd2(pd_ctx *ctx, const double *x, int64_t n, const double *y, int64_t m, int64_t d,
                          double *out, double *bandwidth2);

/* mean [d] and biased (1/n) covariance cov [d, d] of x [n, d] (cov may be NULL). n >= 1. */
pd_status pd_metrics_moments(pd_ctx *ctx, const double *x, int64_t n, int64_t d, double *mean, double *cov);

/* |mean(x) - mean_ref|_2 and |cov(x) - cov_ref|_F (biased sample covariance); cov_ref NULL skips
 * the covariance (cov_err untouched, may be NULL). */
pd_status pd_metrics_moment_errors(pd_ctx *ctx, const double *x, int64_t n, int64_t d, const double *mean_ref,
                                   const double *cov_ref, double *mean_err, double *cov_err);

/* GMM occupancy: each row of x goes to argmax_k [log w_k + log N(x; mu_k, diag(var_k))] (weights
 * [K] normalised here, means [K, d], var [K] (diag = 0) or [K, d] (diag = 1), all variances > 0);
 * tv = 1/2 sum_k |occ_k - w_k|; occ [K] (may be NULL) receives the fractions. */
pd_status pd_metrics_gmm_occupancy(pd_ctx *ctx, const double *x, int64_t n, int64_t d, int n_comp,
                                   const double *weights, const double *means, const double *var, int diag,
                                   double *tv, double *occ);

/* Mean over the rows of x of the Euclidean distance to the nearest row of rows [m, d] (the
 * memorisation check of the dataset model); the nearest row's distance is computed from the
 * difference, so an exact copy gives 0. max_dist (may be NULL) receives the largest such distance. */
pd_status pd_metrics_nearest_row(pd_ctx *ctx, const double *x, int64_t n, const double *rows, int64_t m,
                                 int64_t d, double *mean_dist, double *max_dist);

#endif
