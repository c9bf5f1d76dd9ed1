/* The data-set denoiser (ALGORITHMS.md §2.3, two dgemm calls) against a direct double loop without
 * BLAS at several sigma down to 1e-3, the nearest row at tiny sigma, float32 and float64 states,
 * batches beyond the reserved size, groups at different points in one call, its log density, and exact
 * samples (uniform rows). */
#include "model_test.h"

static pd_ctx *ctx;

#define M 40
#define D 7

static const int64_t shape[2] = {1, D};
static double rows[M * D];

/* x0_hat by the definition: w_i = softmax(-|x - alpha r_i|^2 / (2 sigma^2)), differences formed
 * directly, no BLAS. */
static void direct(const double *x, double alpha, double sigma, double *x0)
{
    double l[M], lmax = -INFINITY, sum = 0;
    for (int i = 0; i < M; i++) {
        double q = 0;
        for (int j = 0; j < D; j++)
            q += (x[j] - alpha * rows[i * D + j]) * (x[j] - alpha * rows[i * D + j]);
        l[i] = -q / (2 * sigma * sigma);
        lmax = fmax(lmax, l[i]);
    }
    for (int i = 0; i < M; i++)
        sum += (l[i] = exp(l[i] - lmax));
    for (int j = 0; j < D; j++)
        x0[j] = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < D; j++)
            x0[j] += l[i] / sum * rows[i * D + j];
}

static int nearest(const double *x, double alpha)
{
    int best = 0;
    double bq = INFINITY;
    for (int i = 0; i < M; i++) {
        double q = 0;
        for (int j = 0; j < D; j++)
            q += (x[j] - alpha * rows[i * D + j]) * (x[j] - alpha * rows[i * D + j]);
        if (q < bq) bq = q, best = i;
    }
    return best;
}

static int vs_direct(pd_model *m, pd_dtype dt)
{
    const double sig[] = {5.0, 1.0, 0.5, 0.1, 0.03, 0.01, 1e-3};
    const int n = 24;
    int fails = 0;
    for (size_t a = 0; a < sizeof sig / sizeof *sig; a++) {
        const pd_grid_point p = mt_point(sig[a]);
        double x[24 * D], xin[24 * D], y[24 * D], worst = 0;
        /* a third of the points near a noised row, a third anywhere, a third halfway between two
         * rows (two weights near 1/2: there x0_hat moves by |r1 - r2| times a logit's rounding
         * error, ~eps |x|^2 / (2 sigma^2) in either method, hence the tolerance 1e-14 (1 + 1/sigma^2)) */
        for (int s = 0; s < n; s++)
            for (int j = 0; j < D; j++) {
                const double z = mt_normal((uint32_t)(100 + a), (uint64_t)(s * D + j));
                const double *r1 = rows + (s * 7 % M) * D, *r2 = rows + ((s * 7 + 3) % M) * D;
                x[s * D + j] = s % 3 == 0   ? p.alpha * r1[j] + p.sigma * z
                               : s % 3 == 1 ? z
                                            : 0.5 * p.alpha * (r1[j] + r2[j]) + 1e-3 * p.sigma * p.sigma * z;
            }
        /* the reference gets exactly the input the model sees */
        for (int i = 0; i < n * D; i++)
            xin[i] = dt == PD_F32 ? (double)(float)x[i] : x[i];
        pd_state *xs = mt_state(ctx, dt, n, D, x), *os = mt_state(ctx, dt, n, D, NULL);
        if (!xs || !os) return 1;
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, y));
        for (int s = 0; s < n; s++) {
            double want[D];
            direct(xin + s * D, p.alpha, p.sigma, want);
            for (int j = 0; j < D; j++) {
                const double w = dt == PD_F32 ? (double)(float)want[j] : want[j];
                worst = fmax(worst, fabs(y[s * D + j] - w));
            }
        }
        char what[128];
        snprintf(what, sizeof what, "%s, sigma = %g: max |x0_hat - direct loop|", pd_dtype_name(dt), sig[a]);
        /* float32: rounding of the output, plus a flip of the last bit where the double result lies
         * on a rounding boundary */
        fails += pd_expect_le(worst, dt == PD_F32 ? 2.4e-7 : 1e-14 * (1 + 1 / (sig[a] * sig[a])), what);
        pd_state_destroy(&xs);
        pd_state_destroy(&os);
    }
    return fails;
}

/* At sigma = 1e-3 the posterior sits on the nearest row: x0_hat = that row. */
static int tiny_sigma(pd_model *m)
{
    const pd_grid_point p = mt_point(1e-3);
    const int n = 32;
    double x[32 * D], y[32 * D], worst = 0;
    int wrong = 0;
    for (int s = 0; s < n; s++)
        for (int j = 0; j < D; j++)
            x[s * D + j] = p.alpha * rows[(s % M) * D + j] + 0.05 * mt_normal(300, (uint64_t)(s * D + j));
    pd_state *xs = mt_state(ctx, PD_F64, n, D, x), *os = mt_state(ctx, PD_F64, n, D, NULL);
    if (!xs || !os) return 1;
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, y));
    for (int s = 0; s < n; s++) {
        const int r = nearest(x + s * D, p.alpha);
        for (int j = 0; j < D; j++)
            worst = fmax(worst, fabs(y[s * D + j] - rows[r * D + j]));
        wrong += r != s % M; /* perturbation 0.05 may move a point nearer another row: fine */
    }
    printf("info: %d of %d perturbed points are nearer another row\n", wrong, n);
    pd_state_destroy(&xs);
    pd_state_destroy(&os);
    return pd_expect_le(worst, 1e-12, "sigma = 1e-3: x0_hat = the nearest row");
}

/* Batches beyond the reserved size grow the workspace once; chunks and in-place calls agree. */
static int batches(pd_model *m)
{
    const pd_grid_point p = mt_point(0.2);
    const int n = 37;
    double x[37 * D], y1[37 * D], y2[37 * D], worst = 0, worst_ip = 0;
    for (int i = 0; i < n * D; i++)
        x[i] = mt_normal(400, (uint64_t)i);
    PD_TEST_CHECK(ctx, pd_model_reserve(ctx, m, 4));
    pd_state *xs = mt_state(ctx, PD_F64, n, D, x), *os = mt_state(ctx, PD_F64, n, D, NULL);
    pd_state *one = mt_state(ctx, PD_F64, 1, D, NULL), *o1 = mt_state(ctx, PD_F64, 1, D, NULL);
    if (!xs || !os || !one || !o1) return 1;
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, y1));
    for (int s = 0; s < n; s++) {
        PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, one, x + s * D));
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, one, &p, o1));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, o1, y2 + s * D));
    }
    for (int i = 0; i < n * D; i++)
        worst = fmax(worst, fabs(y1[i] - y2[i]));
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, xs)); /* in place */
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, xs, y2));
    for (int i = 0; i < n * D; i++)
        worst_ip = fmax(worst_ip, fabs(y1[i] - y2[i]));
    pd_state_destroy(&xs);
    pd_state_destroy(&os);
    pd_state_destroy(&one);
    pd_state_destroy(&o1);
    int fails = pd_expect_le(worst, 1e-14, "batch of 37 (4 reserved) = 37 single evaluations");
    fails += pd_expect_le(worst_ip, 0.0, "in-place eval (out = x) gives the same result");
    return fails;
}

/* Three groups at different points in one call = each group alone: the logits (models/dataset_elem.h)
 * take each row's own point; the shared X R^T product may round differently with the batch size. */
static int groups(pd_model *m)
{
    enum { R = 6, G = 3 };
    const double sig[G] = {0.03, 0.3, 2.0};
    pd_grid_point p[G];
    double x[G * R * D], y[G * R * D], y1[R * D], worst = 0;
    for (int g = 0; g < G; g++)
        p[g] = mt_point(sig[g]);
    for (int s = 0; s < G * R; s++)
        for (int j = 0; j < D; j++)
            x[s * D + j] = p[s / R].alpha * rows[(s * 5 % M) * D + j] +
                           p[s / R].sigma * mt_normal(450, (uint64_t)(s * D + j));
    pd_state *xs = mt_state(ctx, PD_F64, G * R, D, x), *os = mt_state(ctx, PD_F64, G * R, D, NULL);
    pd_state *x1 = mt_state(ctx, PD_F64, R, D, NULL), *o1 = mt_state(ctx, PD_F64, R, D, NULL);
    if (!xs || !os || !x1 || !o1) return 1;
    PD_TEST_CHECK(ctx, pd_model_eval_groups(ctx, m, xs, G, p, os));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, y));
    for (int g = 0; g < G; g++) {
        PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x1, x + g * R * D));
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, x1, &p[g], o1));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, o1, y1));
        for (int i = 0; i < R * D; i++)
            worst = fmax(worst, fabs(y1[i] - y[g * R * D + i]));
    }
    pd_state_destroy(&xs);
    pd_state_destroy(&os);
    pd_state_destroy(&x1);
    pd_state_destroy(&o1);
    return pd_expect_le(worst, 1e-14, "3 groups at sigma 0.03, 0.3, 2 in one call = each group alone");
}

/* Score from x0_hat against central differences of the log density (§1.4). */
static int score_vs_fd(pd_model *m)
{
    const double sig[] = {0.7, 0.3, 0.1};
    double worst = 0;
    for (size_t a = 0; a < sizeof sig / sizeof *sig; a++) {
        const pd_grid_point p = mt_point(sig[a]);
        double x[D], x0[D], g[D], sc[D], num = 0, den = 0;
        for (int j = 0; j < D; j++)
            x[j] = p.alpha * rows[3 * D + j] + p.sigma * mt_normal(500, (uint64_t)j);
        pd_state *xs = mt_state(ctx, PD_F64, 5, D, NULL), *os = mt_state(ctx, PD_F64, 1, D, NULL);
        pd_state *x1 = mt_state(ctx, PD_F64, 1, D, x);
        if (!xs || !os || !x1) return 1;
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, x1, &p, os));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, x0));
        for (int j = 0; j < D; j++) {
            const double h = 1e-2 * p.sigma;
            double pts[4 * D], ld[4];
            const double off[4] = {h, -h, h / 2, -h / 2};
            for (int r = 0; r < 4; r++) {
                memcpy(pts + r * D, x, sizeof x);
                pts[r * D + j] += off[r];
            }
            pd_state *ps = mt_state(ctx, PD_F64, 4, D, pts);
            if (!ps) return 1;
            PD_TEST_CHECK(ctx, pd_model_log_density(ctx, m, ps, &p, ld));
            g[j] = (4 * (ld[2] - ld[3]) / h - (ld[0] - ld[1]) / (2 * h)) / 3;
            sc[j] = (p.alpha * x0[j] - x[j]) / (p.sigma * p.sigma);
            pd_state_destroy(&ps);
        }
        for (int j = 0; j < D; j++)
            num += (sc[j] - g[j]) * (sc[j] - g[j]), den += g[j] * g[j];
        worst = fmax(worst, sqrt(num / den));
        pd_state_destroy(&xs);
        pd_state_destroy(&os);
        pd_state_destroy(&x1);
    }
    return pd_expect_le(worst, 1e-6, "dataset: score vs FD of log p_t, worst rel err");
}

/* Exact samples are rows, chosen uniformly, keyed by the global sample index. */
static int exact_samples(pd_model *m)
{
    const int n = 20000;
    int fails = 0, not_row = 0, cnt[M] = {0};
    double chi2 = 0;
    pd_state *s = NULL, *part = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, n, D, 0, &s));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, PD_DEVICE_CPU, 5, D, 1234, &part));
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, 42, s));
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, 42, part));
    const double *v = pd_state_cdata(s);
    const float *pv = pd_state_cdata(part);
    for (int i = 0; i < n; i++) {
        const int r = nearest(v + i * D, 1.0);
        not_row += memcmp(v + i * D, rows + r * D, sizeof(double) * D) != 0;
        cnt[r]++;
    }
    for (int r = 0; r < M; r++)
        chi2 += (cnt[r] - n / (double)M) * (cnt[r] - n / (double)M) / (n / (double)M);
    int slice_bad = 0;
    for (int i = 0; i < 5 * D; i++)
        slice_bad += pv[i] != (float)v[1234 * D + i];
    fails += pd_expect_true(not_row == 0, "every exact sample is a data row, bit for bit");
    /* chi^2 with 39 degrees of freedom: P(> 80) < 1e-4 */
    fails += pd_expect_le(chi2, 80.0, "row counts of 20000 draws: chi^2 (39 dof)");
    fails +=
        pd_expect_true(slice_bad == 0, "samples 1234..1238 alone (float32) = the same rows of the full set");
    pd_state_destroy(&s);
    pd_state_destroy(&part);
    return fails;
}

int main(void)
{
    int fails = 0;
    pd_model *m = NULL;
    ctx = pd_ctx_create();
    if (!ctx) return 1;
    for (int i = 0; i < M * D; i++)
        rows[i] = 2.0 * mt_uniform(1, (uint64_t)i) - 1.0;
    PD_TEST_CHECK(ctx, pd_model_dataset_create(ctx, M, 2, shape, rows, &m));
    fails += vs_direct(m, PD_F64);
    fails += vs_direct(m, PD_F32);
    fails += tiny_sigma(m);
    fails += batches(m);
    fails += groups(m);
    fails += score_vs_fd(m);
    fails += exact_samples(m);
    pd_model_destroy(&m);
    pd_ctx_destroy(&ctx);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "passed", fails);
    return fails != 0;
}
