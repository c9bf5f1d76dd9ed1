/* Sample-quality metrics on host arrays (metrics.h; ALGORITHMS.md §2.4). Dense products go through
 * cblas_dgemm / cblas_dsyrk in double, in row blocks so that scratch stays bounded. */
#include "core/metrics.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "pintdiff/rng.h"

#define PD_METRICS_BLOCK 256             /* rows per dgemm block */
#define PD_METRICS_SW2_SCRATCH (8 << 20) /* doubles of projections held at once (64 MiB) */

static pd_status pd_metrics_check(pd_ctx *ctx, const char *what, const double *a, int64_t n, int64_t min_n,
                                  int64_t d)
{
    if (!a && n > 0) PD_FAIL(ctx, PD_ERR_INPUT, "%s: NULL point set", what);
    if (n < min_n)
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: %lld points, need at least %lld", what, (long long)n,
                (long long)min_n);
    if (d < 1 || d > INT_MAX || n > INT_MAX)
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: %lld points of dimension %lld: outside 1 .. 2^31 - 1", what,
                (long long)n, (long long)d);
    return PD_OK;
}

static int pd_metrics_cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pd_metrics_sqnorm(const double *a, int64_t d)
{
    double s = 0;
    for (int64_t i = 0; i < d; i++)
        s += a[i] * a[i];
    return s;
}

/* ---------------------------------------------------------------------------------------------- */
/* sliced Wasserstein-2                                                                           */

/* Integral over (0, 1) of (Fx^-1(q) - Fy^-1(q))^2 for sorted px [n], py [m]: both quantile functions
 * are piecewise constant with breaks at i/n and j/m, walked in units of 1/(n m) (exact integers). */
static double pd_metrics_quantile_sqdist(const double *px, int64_t n, const double *py, int64_t m)
{
    int64_t i = 0, j = 0, cur = 0;
    double sum = 0;
    while (i < n && j < m) {
        const int64_t ex = (i + 1) * m, ey = (j + 1) * n, e = ex < ey ? ex : ey;
        const double diff = px[i] - py[j];
        sum += (double)(e - cur) * diff * diff;
        cur = e;
        if (ex == e) i++;
        if (ey == e) j++;
    }
    return sum / ((double)n * (double)m);
}

pd_status pd_metrics_sw2(pd_ctx *ctx, const double *x, int64_t n, const double *y, int64_t m, int64_t d,
                         int n_dirs, uint64_t seed, double *out)
{
    pd_status st = PD_OK;
    double *theta = NULL, *px = NULL, *py = NULL, total = 0;
    int64_t lb;
    PD_TRY(pd_metrics_check(ctx, "sliced W2, first set", x, n, 1, d));
    PD_TRY(pd_metrics_check(ctx, "sliced W2, second set", y, m, 1, d));
    if (n_dirs < 1) PD_FAIL(ctx, PD_ERR_INPUT, "sliced W2: %d directions, need >= 1", n_dirs);
    if (n > INT64_MAX / m) PD_FAIL(ctx, PD_ERR_INPUT, "sliced W2: n * m overflows");
    /* directions per block: projections of both sets for lb directions in PD_METRICS_SW2_SCRATCH */
    lb = PD_METRICS_SW2_SCRATCH / (n + m);
    if (lb < 1) lb = 1;
    if (lb > n_dirs) lb = n_dirs;
    theta = malloc((size_t)(lb * d) * sizeof *theta);
    px = malloc((size_t)(lb * n) * sizeof *px);
    py = malloc((size_t)(lb * m) * sizeof *py);
    if (!theta || !px || !py) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "sliced W2: out of memory");
    for (int64_t l0 = 0; l0 < n_dirs; l0 += lb) {
        const int64_t nl = n_dirs - l0 < lb ? n_dirs - l0 : lb;
        for (int64_t l = 0; l < nl; l++) {
            double *th = theta + l * d, nrm;
            for (int64_t j = 0; j < d; j++)
                th[j] = pd_rng_normal(seed, (uint32_t)(l0 + l), 0, PD_RNG_METRIC, (uint64_t)j);
            nrm = sqrt(pd_metrics_sqnorm(th, d));
            for (int64_t j = 0; j < d; j++)
                th[j] /= nrm;
        }
        /* px = theta X^T [nl, n], py = theta Y^T [nl, m] */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nl, (int)n, (int)d, 1.0, theta, (int)d, x,
                    (int)d, 0.0, px, (int)n);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nl, (int)m, (int)d, 1.0, theta, (int)d, y,
                    (int)d, 0.0, py, (int)m);
        for (int64_t l = 0; l < nl; l++) {
            qsort(px + l * n, (size_t)n, sizeof *px, pd_metrics_cmp);
            qsort(py + l * m, (size_t)m, sizeof *py, pd_metrics_cmp);
            total += pd_metrics_quantile_sqdist(px + l * n, n, py + l * m, m);
        }
    }
    *out = sqrt(total / n_dirs);
done:
    free(theta);
    free(px);
    free(py);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* MMD^2                                                                                          */

static void pd_metrics_swap(double *a, int64_t i, int64_t j)
{
    const double t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* The k-th smallest of a[0 .. n) (0-based), reordering a: quickselect with a median-of-3 pivot. */
static double pd_metrics_select(double *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        const int64_t mid = lo + (hi - lo) / 2;
        double p;
        int64_t i = lo, j = hi;
        /* median of a[lo], a[mid], a[hi] as the pivot value */
        if (a[mid] < a[lo]) pd_metrics_swap(a, mid, lo);
        if (a[hi] < a[lo]) pd_metrics_swap(a, hi, lo);
        if (a[hi] < a[mid]) pd_metrics_swap(a, hi, mid);
        p = a[mid];
        while (i <= j) { /* Hoare partition: a[lo..j] <= p <= a[i..hi] */
            while (a[i] < p)
                i++;
            while (a[j] > p)
                j--;
            if (i <= j) pd_metrics_swap(a, i++, j--);
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

/* Squared distances between rows of a [na, d] and b [nb, d] via a block Gram product, appended to
 * *dst: all pairs (i, j) when same = 0, pairs i < j when a == b (same = 1). */
static void pd_metrics_pair_sqdist(const double *a, int64_t na, const double *an2, const double *b,
                                   int64_t nb, const double *bn2, int64_t d, int same, double *tmp,
                                   double **dst)
{
    double *o = *dst;
    for (int64_t i0 = 0; i0 < na; i0 += PD_METRICS_BLOCK) {
        const int64_t ni = na - i0 < PD_METRICS_BLOCK ? na - i0 : PD_METRICS_BLOCK;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ni, (int)nb, (int)d, 1.0, a + i0 * d,
                    (int)d, b, (int)d, 0.0, tmp, (int)nb);
        for (int64_t i = 0; i < ni; i++)
            for (int64_t j = same ? i0 + i + 1 : 0; j < nb; j++) {
                const double q = an2[i0 + i] + bn2[j] - 2.0 * tmp[i * nb + j];
                *o++ = q > 0 ? q : 0;
            }
    }
    *dst = o;
}

pd_status pd_metrics_mmd2(pd_ctx *ctx, const double *x, int64_t n, const double *y, int64_t m, int64_t d,
                          double *out, double *bandwidth2)
{
    pd_status st = PD_OK;
    const int64_t nx = n < PD_METRICS_MMD_MAX_POINTS ? n : PD_METRICS_MMD_MAX_POINTS;
    const int64_t ny = m < PD_METRICS_MMD_MAX_POINTS ? m : PD_METRICS_MMD_MAX_POINTS;
    const int64_t pxx = nx * (nx - 1) / 2, pyy = ny * (ny - 1) / 2, pxy = nx * ny;
    const int64_t np = pxx + pyy + pxy;
    double *dist = NULL, *sel = NULL, *xn2 = NULL, *yn2 = NULL, *tmp = NULL, *o;
    double l2, sxx = 0, syy = 0, sxy = 0;
    PD_TRY(pd_metrics_check(ctx, "MMD, first set", x, n, 2, d));
    PD_TRY(pd_metrics_check(ctx, "MMD, second set", y, m, 2, d));
    dist = malloc((size_t)np * sizeof *dist);
    sel = malloc((size_t)np * sizeof *sel);
    xn2 = malloc((size_t)nx * sizeof *xn2);
    yn2 = malloc((size_t)ny * sizeof *yn2);
    tmp = malloc((size_t)(PD_METRICS_BLOCK * (nx > ny ? nx : ny)) * sizeof *tmp);
    if (!dist || !sel || !xn2 || !yn2 || !tmp) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "MMD: out of memory");
    for (int64_t i = 0; i < nx; i++)
        xn2[i] = pd_metrics_sqnorm(x + i * d, d);
    for (int64_t i = 0; i < ny; i++)
        yn2[i] = pd_metrics_sqnorm(y + i * d, d);
    /* dist = [X pairs i < j | Y pairs i < j | all X-Y pairs] */
    o = dist;
    pd_metrics_pair_sqdist(x, nx, xn2, x, nx, xn2, d, 1, tmp, &o);
    pd_metrics_pair_sqdist(y, ny, yn2, y, ny, yn2, d, 1, tmp, &o);
    pd_metrics_pair_sqdist(x, nx, xn2, y, ny, yn2, d, 0, tmp, &o);
    /* median of the distinct pairs of the pooled sample (numpy convention for an even count) */
    memcpy(sel, dist, (size_t)np * sizeof *sel);
    l2 = pd_metrics_select(sel, np, np / 2);
    if (np % 2 == 0) {
        double lower = sel[0];
        for (int64_t i = 1; i < np / 2; i++)
            if (sel[i] > lower) lower = sel[i];
        l2 = 0.5 * (l2 + lower);
    }
    if (!(l2 > 0)) { /* more than half the pairs coincide: the mean squared distance instead */
        double s = 0;
        for (int64_t i = 0; i < np; i++)
            s += dist[i];
        l2 = s / (double)np;
    }
    if (l2 > 0) {
        const double c = -0.5 / l2;
        for (int64_t i = 0; i < pxx; i++)
            sxx += exp(c * dist[i]);
        for (int64_t i = 0; i < pyy; i++)
            syy += exp(c * dist[pxx + i]);
        for (int64_t i = 0; i < pxy; i++)
            sxy += exp(c * dist[pxx + pyy + i]);
        *out = sxx / (double)pxx + syy / (double)pyy - 2.0 * sxy / (double)pxy;
    } else {
        *out = 0; /* every point is the same point */
    }
    if (bandwidth2) *bandwidth2 = l2;
done:
    free(dist);
    free(sel);
    free(xn2);
    free(yn2);
    free(tmp);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* moments                                                                                        */

pd_status pd_metrics_moments(pd_ctx *ctx, const double *x, int64_t n, int64_t d, double *mean, double *cov)
{
    double *c = NULL;
    PD_TRY(pd_metrics_check(ctx, "moments", x, n, 1, d));
    for (int64_t j = 0; j < d; j++)
        mean[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            mean[j] += x[i * d + j];
    for (int64_t j = 0; j < d; j++)
        mean[j] /= (double)n;
    if (!cov) return PD_OK;
    /* cov = (1/n) sum_i (x_i - mean)(x_i - mean)^T, centred blocks through dsyrk (upper), mirrored */
    c = malloc((size_t)(PD_METRICS_BLOCK * d) * sizeof *c);
    if (!c) PD_FAIL(ctx, PD_ERR_NOMEM, "moments: out of memory");
    memset(cov, 0, (size_t)(d * d) * sizeof *cov);
    for (int64_t i0 = 0; i0 < n; i0 += PD_METRICS_BLOCK) {
        const int64_t ni = n - i0 < PD_METRICS_BLOCK ? n - i0 : PD_METRICS_BLOCK;
        for (int64_t i = 0; i < ni; i++)
            for (int64_t j = 0; j < d; j++)
                c[i * d + j] = x[(i0 + i) * d + j] - mean[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)ni, 1.0, c, (int)d, 1.0, cov, (int)d);
    }
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) {
            cov[i * d + j] /= (double)n;
            cov[j * d + i] = cov[i * d + j];
        }
    free(c);
    return PD_OK;
}

pd_status pd_metrics_moment_errors(pd_ctx *ctx, const double *x, int64_t n, int64_t d, const double *mean_ref,
                                   const double *cov_ref, double *mean_err, double *cov_err)
{
    pd_status st = PD_OK;
    double *mean = malloc((size_t)d * sizeof *mean), *cov = NULL, s = 0;
    if (!mean) PD_FAIL(ctx, PD_ERR_NOMEM, "moment errors: out of memory");
    if (cov_ref) {
        cov = malloc((size_t)(d * d) * sizeof *cov);
        if (!cov)
            PD_FAIL_GOTO(ctx, PD_ERR_NOMEM,
                         "moment errors: out of memory for a %lld^2 "
                         "covariance",
                         (long long)d);
    }
    PD_TRY_GOTO(pd_metrics_moments(ctx, x, n, d, mean, cov));
    for (int64_t j = 0; j < d; j++)
        s += (mean[j] - mean_ref[j]) * (mean[j] - mean_ref[j]);
    *mean_err = sqrt(s);
    if (cov_ref) {
        s = 0;
        for (int64_t j = 0; j < d * d; j++)
            s += (cov[j] - cov_ref[j]) * (cov[j] - cov_ref[j]);
        *cov_err = sqrt(s);
    }
done:
    free(mean);
    free(cov);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* GMM occupancy                                                                                  */

pd_status pd_metrics_gmm_occupancy(pd_ctx *ctx, const double *x, int64_t n, int64_t d, int n_comp,
                                   const double *weights, const double *means, const double *var, int diag,
                                   double *tv, double *occ)
{
    pd_status st = PD_OK;
    double *logw = NULL, *hld = NULL, *cnt = NULL, wsum = 0, t = 0;
    PD_TRY(pd_metrics_check(ctx, "GMM occupancy", x, n, 1, d));
    if (n_comp < 1) PD_FAIL(ctx, PD_ERR_INPUT, "GMM occupancy: %d components", n_comp);
    for (int k = 0; k < n_comp; k++) {
        if (!(weights[k] >= 0)) PD_FAIL(ctx, PD_ERR_INPUT, "GMM occupancy: weight %d is %g", k, weights[k]);
        wsum += weights[k];
    }
    if (!(wsum > 0)) PD_FAIL(ctx, PD_ERR_INPUT, "GMM occupancy: the weights sum to %g", wsum);
    for (int64_t j = 0; j < (diag ? n_comp * d : n_comp); j++)
        if (!(var[j] > 0))
            PD_FAIL(ctx, PD_ERR_INPUT, "GMM occupancy: variance %lld is %g, need > 0", (long long)j, var[j]);
    logw = malloc((size_t)n_comp * sizeof *logw);
    hld = malloc((size_t)n_comp * sizeof *hld);
    cnt = calloc((size_t)n_comp, sizeof *cnt);
    if (!logw || !hld || !cnt) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "GMM occupancy: out of memory");
    for (int k = 0; k < n_comp; k++) {
        logw[k] = weights[k] > 0 ? log(weights[k] / wsum) : -INFINITY;
        hld[k] = 0;
        for (int64_t j = 0; j < d; j++)
            hld[k] += 0.5 * log(diag ? var[k * d + j] : var[k]);
    }
    for (int64_t i = 0; i < n; i++) {
        const double *xi = x + i * d;
        double best = -INFINITY;
        int kbest = 0;
        for (int k = 0; k < n_comp; k++) {
            double q = 0, l;
            for (int64_t j = 0; j < d; j++) {
                const double r = xi[j] - means[k * d + j];
                q += r * r / (diag ? var[k * d + j] : var[k]);
            }
            l = logw[k] - 0.5 * q - hld[k];
            if (l > best) {
                best = l;
                kbest = k;
            }
        }
        cnt[kbest] += 1;
    }
    for (int k = 0; k < n_comp; k++) {
        cnt[k] /= (double)n;
        t += fabs(cnt[k] - weights[k] / wsum);
        if (occ) occ[k] = cnt[k];
    }
    *tv = 0.5 * t;
done:
    free(logw);
    free(hld);
    free(cnt);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* nearest data row                                                                               */

pd_status pd_metrics_nearest_row(pd_ctx *ctx, const double *x, int64_t n, const double *rows, int64_t m,
                                 int64_t d, double *mean_dist, double *max_dist)
{
    pd_status st = PD_OK;
    double *rn2 = NULL, *g = NULL, sum = 0, mx = 0;
    PD_TRY(pd_metrics_check(ctx, "nearest row, samples", x, n, 1, d));
    PD_TRY(pd_metrics_check(ctx, "nearest row, data rows", rows, m, 1, d));
    rn2 = malloc((size_t)m * sizeof *rn2);
    g = malloc((size_t)(PD_METRICS_BLOCK * m) * sizeof *g);
    if (!rn2 || !g) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "nearest row: out of memory");
    for (int64_t r = 0; r < m; r++)
        rn2[r] = pd_metrics_sqnorm(rows + r * d, d);
    for (int64_t i0 = 0; i0 < n; i0 += PD_METRICS_BLOCK) {
        const int64_t ni = n - i0 < PD_METRICS_BLOCK ? n - i0 : PD_METRICS_BLOCK;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ni, (int)m, (int)d, 1.0, x + i0 * d, (int)d,
                    rows, (int)d, 0.0, g, (int)m);
        for (int64_t i = 0; i < ni; i++) {
            const double *xi = x + (i0 + i) * d, *r;
            double best = INFINITY, q = 0;
            int64_t rbest = 0;
            for (int64_t k = 0; k < m; k++) { /* |x - r|^2 - |x|^2 = |r|^2 - 2 x.r picks the row */
                const double v = rn2[k] - 2.0 * g[i * m + k];
                if (v < best) {
                    best = v;
                    rbest = k;
                }
            }
            r = rows + rbest * d;
            for (int64_t j = 0; j < d; j++)
                q += (xi[j] - r[j]) * (xi[j] - r[j]);
            q = sqrt(q);
            sum += q;
            if (q > mx) mx = q;
        }
    }
    *mean_dist = sum / (double)n;
    if (max_dist) *max_dist = mx;
done:
    free(rn2);
    free(g);
    return st;
}
