/* The GMM's exact denoiser (ALGORITHMS.md §2.2): score and eps against central finite differences
 * of its own log density, the single-component closed form of §2.1, stability far from the data
 * and at tiny sigma, float32 states; groups at different points, zero weights and the isotropic
 * tables (the element math of models/gmm_elem.h, which the CUDA kernels share). */
#include "model_test.h"

static pd_ctx *ctx;

#define K 3
#define D 3

static const int64_t shape[1] = {D};
static const double weights[K] = {0.5, 0.3, 0.2};
static const double means[K * D] = {1.0, -0.5, 0.2, -1.5, 1.0, 0.0, 0.3, 0.8, -1.2};
static const double var_iso[K] = {0.09, 0.25, 0.04};
static const double var_diag[K * D] = {0.09, 0.2, 0.05, 0.25, 0.04, 0.3, 0.04, 0.1, 0.16};

static double log_density_at(pd_model *m, const pd_grid_point *p, const double *x)
{
    pd_state *s = mt_state(ctx, PD_F64, 1, D, x);
    double out = NAN;
    if (s && pd_model_log_density(ctx, m, s, p, &out) != PD_OK) out = NAN;
    pd_state_destroy(&s);
    return out;
}

/* Gradient of log p_t by central differences with one Richardson step (error O(h^4)). */
static void fd_score(pd_model *m, const pd_grid_point *p, const double *x, double h, double *g)
{
    double xp[D];
    for (int i = 0; i < D; i++) {
        double dd[2];
        for (int r = 0; r < 2; r++) {
            const double hh = r ? h / 2 : h;
            double fp, fm;
            memcpy(xp, x, sizeof xp);
            xp[i] = x[i] + hh;
            fp = log_density_at(m, p, xp);
            xp[i] = x[i] - hh;
            fm = log_density_at(m, p, xp);
            dd[r] = (fp - fm) / (2 * hh);
        }
        g[i] = (4 * dd[1] - dd[0]) / 3;
    }
}

static double rel_err(const double *a, const double *b, int n)
{
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

static int score_vs_fd(int diag)
{
    const double sigmas[] = {0.05, 0.2, 0.5, 0.8, 0.995, 3.0};
    enum { n_x = 6 };
    double worst_s = 0, worst_e = 0;
    int fails = 0;
    pd_model *m = NULL;
    PD_TEST_CHECK(ctx,
                  pd_model_gmm_create(ctx, K, 1, shape, weights, means, diag ? var_diag : var_iso, diag, &m));
    for (size_t a = 0; a < sizeof sigmas / sizeof *sigmas; a++) {
        const pd_grid_point p = mt_point(sigmas[a]);
        double cmin = INFINITY, x[n_x * D], x0[n_x * D];
        for (int k = 0; k < K; k++)
            for (int i = 0; i < D; i++) {
                double v = diag ? var_diag[k * D + i] : var_iso[k];
                cmin = fmin(cmin, p.alpha * p.alpha * v + p.sigma * p.sigma);
            }
        /* points from the noised marginal, some between the modes */
        for (int s = 0; s < n_x; s++)
            for (int i = 0; i < D; i++)
                x[s * D + i] = p.alpha * means[(s % K) * D + i] * (s < K ? 1.0 : 0.5) +
                               p.sigma * mt_normal((uint32_t)(a * 16 + (size_t)s), (uint64_t)i);
        pd_state *xs = mt_state(ctx, PD_F64, n_x, D, x), *os = mt_state(ctx, PD_F64, n_x, D, NULL);
        if (!xs || !os) return 1;
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, x0));
        for (int s = 0; s < n_x; s++) {
            double g[D], score[D], eps[D], eps_fd[D];
            fd_score(m, &p, x + s * D, 1e-2 * sqrt(cmin), g);
            for (int i = 0; i < D; i++) {
                score[i] = (p.alpha * x0[s * D + i] - x[s * D + i]) / (p.sigma * p.sigma);
                eps[i] = (x[s * D + i] - p.alpha * x0[s * D + i]) / p.sigma;
                eps_fd[i] = -p.sigma * g[i];
            }
            worst_s = fmax(worst_s, rel_err(score, g, D));
            worst_e = fmax(worst_e, rel_err(eps, eps_fd, D));
        }
        pd_state_destroy(&xs);
        pd_state_destroy(&os);
    }
    fails += pd_expect_le(worst_s, 1e-6,
                          diag ? "diagonal: score vs FD of log p_t, worst rel err"
                               : "isotropic: score vs FD of log p_t, worst rel err");
    fails += pd_expect_le(worst_e, 1e-6,
                          diag ? "diagonal: eps = -sigma grad log p_t, worst rel err"
                               : "isotropic: eps = -sigma grad log p_t, worst rel err");
    pd_model_destroy(&m);
    return fails;
}

/* One component N(mu, s^2 I): x0_hat = mu + (alpha s^2 / v)(x - alpha mu), v = alpha^2 s^2 + sigma^2. */
static int single_gaussian(void)
{
    const double w = 2.0, s2 = 0.49, mu[D] = {0.7, -0.3, 1.1};
    const double sig[] = {1e-3, 0.1, 0.6, 0.999, 10.0};
    double worst = 0, worst_ld = 0;
    pd_model *m = NULL;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 1, 1, shape, &w, mu, &s2, 0, &m));
    for (size_t a = 0; a < sizeof sig / sizeof *sig; a++) {
        const pd_grid_point p = mt_point(sig[a]);
        const double v = p.alpha * p.alpha * s2 + p.sigma * p.sigma;
        double x[2 * D], x0[2 * D], ld[2];
        for (int i = 0; i < 2 * D; i++)
            x[i] = 2.0 * mt_normal(99, (uint64_t)(a * 8 + (size_t)i));
        pd_state *xs = mt_state(ctx, PD_F64, 2, D, x), *os = mt_state(ctx, PD_F64, 2, D, NULL);
        if (!xs || !os) return 1;
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, x0));
        PD_TEST_CHECK(ctx, pd_model_log_density(ctx, m, xs, &p, ld));
        for (int s = 0; s < 2; s++) {
            double q = 0;
            for (int i = 0; i < D; i++) {
                const double want = mu[i] + p.alpha * s2 / v * (x[s * D + i] - p.alpha * mu[i]);
                worst = fmax(worst, fabs(x0[s * D + i] - want) / fmax(1.0, fabs(want)));
                q += (x[s * D + i] - p.alpha * mu[i]) * (x[s * D + i] - p.alpha * mu[i]);
            }
            const double want_ld = -0.5 * q / v - 0.5 * D * log(2 * 3.14159265358979323846 * v);
            worst_ld = fmax(worst_ld, fabs(ld[s] - want_ld) / fmax(1.0, fabs(want_ld)));
        }
        pd_state_destroy(&xs);
        pd_state_destroy(&os);
    }
    pd_model_destroy(&m);
    int fails = pd_expect_le(worst, 1e-14, "single component: x0_hat vs the closed form of §2.1");
    fails += pd_expect_le(worst_ld, 1e-14, "single component: log density vs N(alpha mu, v I)");
    return fails;
}

/* Far from every mode (|x| = 1e3) and at sigma = 1e-4: finite, and equal to the nearest component's
 * own formula (the other responsibilities underflow to 0 through log-sum-exp, not to 0/0). */
static int far_and_tiny(int diag)
{
    const double sig[] = {1e-4, 0.3, 0.9};
    const double *var = diag ? var_diag : var_iso;
    int fails = 0;
    pd_model *m = NULL;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, weights, means, var, diag, &m));
    for (size_t a = 0; a < sizeof sig / sizeof *sig; a++) {
        const pd_grid_point p = mt_point(sig[a]);
        for (int k = 0; k < K; k++) {
            /* x = 1e3 * (direction of mu_k), far away on component k's side */
            double x[D], x0[D], nrm = 0, worst = 0, ld;
            for (int i = 0; i < D; i++)
                nrm += means[k * D + i] * means[k * D + i];
            for (int i = 0; i < D; i++)
                x[i] = 1e3 * means[k * D + i] / sqrt(nrm);
            pd_state *xs = mt_state(ctx, PD_F64, 1, D, x), *os = mt_state(ctx, PD_F64, 1, D, NULL);
            if (!xs || !os) return 1;
            PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
            PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, x0));
            PD_TEST_CHECK(ctx, pd_model_log_density(ctx, m, xs, &p, &ld));
            /* the component with the largest logit, computed here */
            int kb = 0;
            double lb = -INFINITY;
            for (int j = 0; j < K; j++) {
                double l = log(weights[j]);
                for (int i = 0; i < D; i++) {
                    const double c = p.alpha * p.alpha * (diag ? var[j * D + i] : var[j]) + p.sigma * p.sigma;
                    const double r = x[i] - p.alpha * means[j * D + i];
                    l -= 0.5 * (r * r / c + log(c));
                }
                if (l > lb) lb = l, kb = j;
            }
            for (int i = 0; i < D; i++) {
                const double vv = diag ? var[kb * D + i] : var[kb];
                const double c = p.alpha * p.alpha * vv + p.sigma * p.sigma;
                const double want =
                    means[kb * D + i] + p.alpha * vv / c * (x[i] - p.alpha * means[kb * D + i]);
                fails += pd_expect_true(isfinite(x0[i]), "x0_hat finite at |x| = 1e3");
                worst = fmax(worst, fabs(x0[i] - want) / fmax(1.0, fabs(want)));
            }
            fails += pd_expect_true(isfinite(ld), "log density finite at |x| = 1e3");
            if (worst > 1e-12) {
                fprintf(stderr, "FAIL: far x (sigma %g, side %d): x0_hat off the dominant component by %g\n",
                        sig[a], k, worst);
                fails++;
            }
            pd_state_destroy(&xs);
            pd_state_destroy(&os);
        }
    }
    /* sigma = 1e-4 on top of a mode: x0_hat ~ x / alpha within sigma^2 / s^2 */
    {
        const pd_grid_point p = mt_point(1e-4);
        double x[D], x0[D];
        for (int i = 0; i < D; i++)
            x[i] = p.alpha * means[i] + 0.01;
        pd_state *xs = mt_state(ctx, PD_F64, 1, D, x), *os = mt_state(ctx, PD_F64, 1, D, NULL);
        if (!xs || !os) return 1;
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, x0));
        double worst = 0;
        for (int i = 0; i < D; i++)
            worst = fmax(worst, fabs(x0[i] - x[i] / p.alpha));
        fails += pd_expect_le(worst, 1e-6, "sigma = 1e-4 at a mode: x0_hat = x / alpha");
        pd_state_destroy(&xs);
        pd_state_destroy(&os);
    }
    pd_model_destroy(&m);
    printf("ok: far x and sigma = 1e-4 (%s): finite, dominant component exact\n",
           diag ? "diagonal" : "isotropic");
    return fails;
}

/* float32 states give the float64 answer of the float32 input, rounded once. */
static int float32_states(void)
{
    const pd_grid_point p = mt_point(0.3);
    const int n = 16;
    double x[16 * D], x32[16 * D], y64[16 * D], y32[16 * D], worst = 0;
    pd_model *m = NULL;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, weights, means, var_diag, 1, &m));
    for (int i = 0; i < n * D; i++)
        x[i] = 1.5 * mt_normal(5, (uint64_t)i);
    for (int i = 0; i < n * D; i++)
        x32[i] = (double)(float)x[i];
    pd_state *a = mt_state(ctx, PD_F64, n, D, x32), *b = mt_state(ctx, PD_F32, n, D, x),
             *oa = mt_state(ctx, PD_F64, n, D, NULL), *ob = mt_state(ctx, PD_F32, n, D, NULL);
    if (!a || !b || !oa || !ob) return 1;
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, a, &p, oa));
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, b, &p, ob));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, oa, y64));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, ob, y32));
    for (int i = 0; i < n * D; i++)
        worst = fmax(worst, fabs(y32[i] - (double)(float)y64[i]));
    /* in-place: out = x */
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, a, &p, a));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, a, x32));
    double inplace = 0;
    for (int i = 0; i < n * D; i++)
        inplace = fmax(inplace, fabs(x32[i] - y64[i]));
    pd_state_destroy(&a);
    pd_state_destroy(&b);
    pd_state_destroy(&oa);
    pd_state_destroy(&ob);
    pd_model_destroy(&m);
    int fails = pd_expect_le(worst, 0.0, "float32 state = float64 result rounded once");
    fails += pd_expect_le(inplace, 0.0, "in-place eval (out = x) gives the same result");
    return fails;
}

/* x0_hat of x [n, D] (dtype dt) in G groups at p into y; 0 on success. */
static int eval_into(pd_model *m, pd_dtype dt, int n, const double *x, int G, const pd_grid_point *p,
                     double *y)
{
    pd_state *xs = mt_state(ctx, dt, n, D, x), *os = mt_state(ctx, dt, n, D, NULL);
    int bad = !xs || !os || pd_model_eval_groups(ctx, m, xs, G, p, os) != PD_OK ||
              pd_state_read_f64(ctx, os, y) != PD_OK;
    if (bad) fprintf(stderr, "FAIL: eval: %s\n", pd_ctx_message(ctx));
    pd_state_destroy(&xs);
    pd_state_destroy(&os);
    return bad;
}

/* Three groups at different points in one call = three single-group calls, bit for bit (the tables are
 * rebuilt for each group's point, rows keep their group); an extra zero-weight component changes
 * nothing, bit for bit (its logit is -inf, its responsibility 0); isotropic variances (one table entry
 * per component) = the same variances given per element (a [K, d] table). */
static int groups_and_tables(int diag, pd_dtype dt)
{
    enum { R = 5, G = 3 };
    const double sig[G] = {0.05, 0.5, 3.0};
    const double w0[K + 1] = {0.5, 0.3, 0.2, 0.0},
                        mu0[(K + 1) * D] = {1.0, -0.5, 0.2, -1.5, 1.0, 0.0, 0.3, 0.8, -1.2, 0.1, 0.1, 0.1};
    double v0[(K + 1) * D], vexp[K * D], x[G * R * D], y[G * R * D], y1[R * D], yz[G * R * D];
    pd_grid_point p[G];
    pd_model *m = NULL, *mz = NULL, *me = NULL;
    int fails = 0, split_bad = 0;
    const double *var = diag ? var_diag : var_iso;
    for (int g = 0; g < G; g++)
        p[g] = mt_point(sig[g]);
    for (int i = 0; i < G * R * D; i++)
        x[i] = 1.5 * mt_normal(7, (uint64_t)i);
    for (int j = 0; j < (K + 1) * D; j++)
        v0[j] = j < (diag ? K * D : K) ? var[j] : 0.3;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, weights, means, var, diag, &m));
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K + 1, 1, shape, w0, mu0, v0, diag, &mz));
    if (eval_into(m, dt, G * R, x, G, p, y)) return 1;
    for (int g = 0; g < G; g++) {
        if (eval_into(m, dt, R, x + g * R * D, 1, &p[g], y1)) return 1;
        split_bad += memcmp(y1, y + g * R * D, sizeof y1) != 0;
    }
    if (eval_into(mz, dt, G * R, x, G, p, yz)) return 1;
    char what[128];
    snprintf(what, sizeof what, "%s, %s: 3 groups in one call = 3 single calls, bitwise",
             diag ? "diagonal" : "isotropic", pd_dtype_name(dt));
    fails += pd_expect_true(split_bad == 0, what);
    snprintf(what, sizeof what, "%s, %s: a zero-weight component changes nothing, bitwise",
             diag ? "diagonal" : "isotropic", pd_dtype_name(dt));
    fails += pd_expect_true(memcmp(y, yz, sizeof y) == 0, what);
    if (!diag && dt == PD_F64) {
        double worst = 0;
        for (int j = 0; j < K * D; j++)
            vexp[j] = var_iso[j / D];
        PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, weights, means, vexp, 1, &me));
        if (eval_into(me, dt, G * R, x, G, p, yz)) return 1;
        for (int i = 0; i < G * R * D; i++)
            worst = fmax(worst, fabs(yz[i] - y[i]) / fmax(1.0, fabs(y[i])));
        /* not bitwise: d log c against a sum of d logs */
        fails +=
            pd_expect_le(worst, 1e-14, "isotropic [K] tables = diagonal [K, d] tables with equal entries");
        pd_model_destroy(&me);
    }
    pd_model_destroy(&m);
    pd_model_destroy(&mz);
    return fails;
}

int main(void)
{
    int fails = 0;
    ctx = pd_ctx_create();
    if (!ctx) return 1;
    fails += score_vs_fd(0);
    fails += score_vs_fd(1);
    fails += single_gaussian();
    fails += far_and_tiny(0);
    fails += far_and_tiny(1);
    fails += float32_states();
    fails += groups_and_tables(0, PD_F64);
    fails += groups_and_tables(1, PD_F64);
    fails += groups_and_tables(0, PD_F32);
    fails += groups_and_tables(1, PD_F32);
    pd_ctx_destroy(&ctx);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "passed", fails);
    return fails != 0;
}
