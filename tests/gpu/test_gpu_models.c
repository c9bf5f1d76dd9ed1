/* The built-in models on CUDA states against their CPU path (the reference, covered by the unit tests):
 * gmm with each kernel layout (a thread per row for a 2-D ring, a warp for d = 100, a block for
 * d = 3072, diagonal and isotropic variances) and the dataset denoiser (cuBLAS + softmax kernel), in
 * float64 and float32, one group and three groups at different points, sigma from 0.002 to 5, in place
 * and not. Bounds, relative to max |x0_hat|: 1e-12 in float64 (the CPU adds a row's sums in the kernels'
 * order, models/team_sum.h: what is left are fused multiply-adds and the last bits of exp and log;
 * measured 2e-13 where a CPU emulation of the kernels contracted like nvcc), 1e-6 in float32 (one
 * rounding of nearly equal doubles). Also: mixed dtypes convert as on the CPU, mixed devices are
 * refused, the CPU-only entries run on staged copies. Skipped where no GPU is present. */
#include <stdlib.h>

#include "cuda/cuda_backend.h"
#include "unit/models/model_test.h"

static pd_ctx *ctx;

static const double sigmas[] = {0.002, 0.05, 0.3, 0.8, 0.999, 5.0};
#define N_SIGMAS ((int)(sizeof sigmas / sizeof *sigmas))

/* out: a state [n, d] of dtype dt on dev holding host (rounded to dt); NULL on failure. */
static pd_state *state_on(pd_device_kind dev, pd_dtype dt, int64_t n, int64_t d, const double *host)
{
    pd_state *s = NULL;
    if (pd_state_create(ctx, dt, dev, n, d, 0, &s) != PD_OK) return NULL;
    if (host && pd_state_write_f64(ctx, s, host) != PD_OK) pd_state_destroy(&s);
    return s;
}

/* *err = max |gpu - cpu| / max |cpu| of x0_hat for x [n, d] in G groups at points p; with in_place the
 * GPU evaluates into x's own buffer. */
static int gpu_vs_cpu(pd_model *m, pd_dtype dt, int64_t n, int64_t d, const double *x, int G,
                      const pd_grid_point *p, int in_place, double *err)
{
    int rc = 1;
    double num = 0, den = 0;
    double *yc = malloc(sizeof(double) * (size_t)(n * d)), *yg = malloc(sizeof(double) * (size_t)(n * d));
    pd_state *xc = state_on(PD_DEVICE_CPU, dt, n, d, x), *oc = state_on(PD_DEVICE_CPU, dt, n, d, NULL);
    pd_state *xg = state_on(PD_DEVICE_CUDA, dt, n, d, x),
             *og = in_place ? NULL : state_on(PD_DEVICE_CUDA, dt, n, d, NULL);
    if (!yc || !yg || !xc || !oc || !xg || (!in_place && !og)) {
        fprintf(stderr, "FAIL: setup: %s\n", pd_ctx_message(ctx));
        goto done;
    }
    if (pd_model_eval_groups(ctx, m, xc, G, p, oc) != PD_OK ||
        pd_model_eval_groups(ctx, m, xg, G, p, in_place ? xg : og) != PD_OK ||
        pd_state_read_f64(ctx, oc, yc) != PD_OK || pd_state_read_f64(ctx, in_place ? xg : og, yg) != PD_OK) {
        fprintf(stderr, "FAIL: eval: %s\n", pd_ctx_message(ctx));
        goto done;
    }
    for (int64_t i = 0; i < n * d; i++) {
        num = fmax(num, fabs(yg[i] - yc[i]));
        den = fmax(den, fabs(yc[i]));
        if (!isfinite(yg[i])) num = INFINITY;
    }
    *err = num / den;
    rc = 0;
done:
    pd_state_destroy(&xc);
    pd_state_destroy(&oc);
    pd_state_destroy(&xg);
    pd_state_destroy(&og);
    free(yc);
    free(yg);
    return rc;
}

/* A test batch: n rows in G groups at p; row s of group g near the noised mode centre(s) (from the
 * noised marginal: well conditioned), or, for anywhere != 0 and sigma >= 0.1, a standard normal times
 * `anywhere` (softmax weights can be mixed there). centre(s) = a row of `centres` [n_centres, d]. */
static void make_batch(int64_t n, int64_t d, int G, const pd_grid_point *p, const double *centres,
                       int64_t n_centres, double spread, double anywhere, uint32_t seed, double *x)
{
    const int64_t rows = n / G;
    for (int64_t s = 0; s < n; s++) {
        const pd_grid_point *q = &p[s / rows];
        const double *c = centres + ((s * 7) % n_centres) * d;
        const int far = anywhere != 0 && q->sigma >= 0.1 && s % 3 == 1;
        const double sd = sqrt(q->alpha * q->alpha * spread + q->sigma * q->sigma);
        for (int64_t i = 0; i < d; i++) {
            const double z = mt_normal(seed, (uint64_t)(s * d + i));
            x[s * d + i] = far ? anywhere * z : q->alpha * c[i] + sd * z;
        }
    }
}

/* Every sigma alone (1 group), then two batches of 3 groups at different points, float64 and float32,
 * the first float64 batch also in place. */
static int sweep(pd_model *m, const char *name, int64_t rows_per_group, int64_t d, const double *centres,
                 int64_t n_centres, double spread, double anywhere)
{
    const double tol[2] = {1e-6, 1e-12}; /* [PD_F32], [PD_F64]: relative to max |x0_hat| */
    const int triples[2][3] = {{0, 2, 5}, {1, 3, 4}};
    double *x = malloc(sizeof(double) * (size_t)(3 * rows_per_group * d));
    double worst[2] = {0, 0}, worst_g[2] = {0, 0}, worst_ip = 0;
    int fails = 0;
    char what[160];
    if (!x) return 1;
    for (int dt = 0; dt < 2; dt++) {
        for (int a = 0; a < N_SIGMAS; a++) {
            const pd_grid_point p = mt_point(sigmas[a]);
            double e = 0;
            make_batch(rows_per_group, d, 1, &p, centres, n_centres, spread, anywhere, (uint32_t)(10 + a), x);
            if (gpu_vs_cpu(m, (pd_dtype)dt, rows_per_group, d, x, 1, &p, 0, &e)) goto broken;
            if (!(e <= tol[dt]))
                fprintf(stderr, "  %s %s sigma = %g: rel err %.3g\n", name, pd_dtype_name((pd_dtype)dt),
                        sigmas[a], e);
            worst[dt] = fmax(worst[dt], e);
        }
        for (int t = 0; t < 2; t++) {
            pd_grid_point p[3];
            double e = 0;
            for (int g = 0; g < 3; g++)
                p[g] = mt_point(sigmas[triples[t][g]]);
            make_batch(3 * rows_per_group, d, 3, p, centres, n_centres, spread, anywhere, (uint32_t)(20 + t),
                       x);
            if (gpu_vs_cpu(m, (pd_dtype)dt, 3 * rows_per_group, d, x, 3, p, 0, &e)) goto broken;
            worst_g[dt] = fmax(worst_g[dt], e);
            if (dt == PD_F64 && t == 0) {
                if (gpu_vs_cpu(m, PD_F64, 3 * rows_per_group, d, x, 3, p, 1, &e)) goto broken;
                worst_ip = e;
            }
        }
        snprintf(what, sizeof what, "%s, %s, 1 group, 6 sigmas: GPU vs CPU", name,
                 pd_dtype_name((pd_dtype)dt));
        fails += pd_expect_le(worst[dt], tol[dt], what);
        snprintf(what, sizeof what, "%s, %s, 3 groups at different points: GPU vs CPU", name,
                 pd_dtype_name((pd_dtype)dt));
        fails += pd_expect_le(worst_g[dt], tol[dt], what);
    }
    snprintf(what, sizeof what, "%s, float64, 3 groups, in place (out = x): GPU vs CPU", name);
    fails += pd_expect_le(worst_ip, tol[PD_F64], what);
    free(x);
    return fails;
broken:
    free(x);
    return fails + 1;
}

/* A mixture of K components in d dimensions: means scale * N(0, 1), diagonal variances in
 * [0.05, 0.5] (or one per component), weights 1 .. 2 (and a zero weight for component 1 when asked:
 * its logit is -inf on both sides). */
static int gmm_case(const char *name, int K, int64_t d, int diag, double scale, int zero_weight,
                    int64_t rows_per_group)
{
    double *w = malloc(sizeof(double) * (size_t)K), *mu = malloc(sizeof(double) * (size_t)(K * d));
    double *var = malloc(sizeof(double) * (size_t)(diag ? K * d : K));
    pd_model *m = NULL;
    int fails = 0;
    const int64_t shape[1] = {d};
    if (!w || !mu || !var) return 1;
    for (int k = 0; k < K; k++)
        w[k] = 1.0 + mt_uniform(31, (uint64_t)k);
    if (zero_weight) w[1] = 0;
    for (int64_t j = 0; j < K * d; j++)
        mu[j] = scale * mt_normal(32, (uint64_t)j);
    for (int64_t j = 0; j < (diag ? K * d : K); j++)
        var[j] = 0.05 + 0.45 * mt_uniform(33, (uint64_t)j);
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, w, mu, var, diag, &m));
    PD_TEST_CHECK(ctx, pd_model_reserve(ctx, m, 3 * rows_per_group));
    fails += sweep(m, name, rows_per_group, d, mu, K, 0.25, 0);
    pd_model_destroy(&m);
    free(w);
    free(mu);
    free(var);
    return fails;
}

/* The 2-D toy: 8 components on a circle of radius 2 (variance 0.01), plus one of weight 0. Points
 * anywhere (|x| ~ 2.5) where sigma >= 0.1: with two terms per sum both sides add in the same order. */
static int gmm_ring(void)
{
    enum { K = 9 };
    double w[K], mu[2 * K], var[K];
    const int64_t shape[1] = {2};
    pd_model *m = NULL;
    int fails = 0;
    for (int k = 0; k < K; k++) {
        w[k] = k == 8 ? 0.0 : 1.0 + 0.1 * k;
        mu[2 * k] = 2.0 * cos(2 * 3.14159265358979323846 * k / 8);
        mu[2 * k + 1] = 2.0 * sin(2 * 3.14159265358979323846 * k / 8);
        var[k] = 0.01;
    }
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, w, mu, var, 0, &m));
    /* 300 rows per group: more than one block of 256 one-thread rows, and a partial block */
    fails += sweep(m, "gmm ring (d = 2)", 300, 2, mu, 8, 0.01, 2.5);
    pd_model_destroy(&m);
    return fails;
}

static int dataset_case(void)
{
    enum { M = 500, D = 64 };
    const int64_t shape[1] = {D};
    double *rows = malloc(sizeof(double) * M * D);
    pd_model *m = NULL;
    int fails = 0;
    if (!rows) return 1;
    for (int i = 0; i < M * D; i++)
        rows[i] = 2.0 * mt_uniform(40, (uint64_t)i) - 1.0;
    PD_TEST_CHECK(ctx, pd_model_dataset_create(ctx, M, 1, shape, rows, &m));
    PD_TEST_CHECK(ctx, pd_model_reserve(ctx, m, 4)); /* the batches below grow it */
    fails += sweep(m, "dataset (500 x 64)", 40, D, rows, M, 0.0, 1.0);
    pd_model_destroy(&m);
    free(rows);
    return fails;
}

/* Input and output of different dtypes (float32 in, float64 out and the reverse), both models: the GPU
 * converts as the CPU does. */
static int mixed_dtypes(void)
{
    enum { M = 50, D = 20, N = 12, K = 5 };
    const int64_t shape[1] = {D};
    const pd_grid_point p[2] = {mt_point(0.6), mt_point(0.95)};
    double rows[M * D], x[N * D], yc[N * D], yg[N * D], w[K], var[K], worst = 0;
    pd_model *m[2] = {NULL, NULL};
    for (int i = 0; i < M * D; i++)
        rows[i] = mt_normal(60, (uint64_t)i);
    for (int i = 0; i < N * D; i++)
        x[i] = mt_normal(61, (uint64_t)i);
    for (int k = 0; k < K; k++)
        w[k] = 1.0, var[k] = 0.3;
    PD_TEST_CHECK(ctx, pd_model_dataset_create(ctx, M, 1, shape, rows, &m[0]));
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, w, rows, var, 0, &m[1]));
    for (int which = 0; which < 2; which++)
        for (int xt = 0; xt < 2; xt++) {
            const pd_dtype dx = (pd_dtype)xt, dout = (pd_dtype)!xt;
            pd_state *xc = state_on(PD_DEVICE_CPU, dx, N, D, x),
                     *oc = state_on(PD_DEVICE_CPU, dout, N, D, NULL);
            pd_state *xg = state_on(PD_DEVICE_CUDA, dx, N, D, x),
                     *og = state_on(PD_DEVICE_CUDA, dout, N, D, NULL);
            if (!xc || !oc || !xg || !og) return 1;
            PD_TEST_CHECK(ctx, pd_model_eval_groups(ctx, m[which], xc, 2, p, oc));
            PD_TEST_CHECK(ctx, pd_model_eval_groups(ctx, m[which], xg, 2, p, og));
            PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, oc, yc));
            PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, og, yg));
            for (int i = 0; i < N * D; i++)
                worst = fmax(worst, fabs(yg[i] - yc[i]) / (1.0 + fabs(yc[i])));
            pd_state_destroy(&xc);
            pd_state_destroy(&oc);
            pd_state_destroy(&xg);
            pd_state_destroy(&og);
        }
    pd_model_destroy(&m[0]);
    pd_model_destroy(&m[1]);
    /* a float32 output rounds once: equal unless the two doubles straddle a rounding boundary */
    return pd_expect_le(worst, 1e-6, "float32 in / float64 out and the reverse, both models: GPU vs CPU");
}

/* Mixed devices are refused; log density and exact samples of CUDA states (staged through the host)
 * equal the CPU's bit for bit. */
static int interface(void)
{
    const double w[2] = {1, 3}, mu[4] = {0, 0, 1, 1}, v[2] = {0.5, 0.2};
    const int64_t shape[1] = {2};
    const pd_grid_point p = mt_point(0.4);
    double x[8], ldc[4], ldg[4], sc[8], sg[8];
    pd_model *m = NULL;
    int fails = 0;
    for (int i = 0; i < 8; i++)
        x[i] = mt_normal(50, (uint64_t)i);
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 2, 1, shape, w, mu, v, 0, &m));
    pd_state *xc = state_on(PD_DEVICE_CPU, PD_F32, 4, 2, x), *xg = state_on(PD_DEVICE_CUDA, PD_F32, 4, 2, x);
    pd_state *ec = NULL, *eg = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 4, 2, 77, &ec));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CUDA, 4, 2, 77, &eg));
    if (!xc || !xg) return 1;
    fails +=
        pd_expect_true(pd_model_eval(ctx, m, xg, &p, xc) == PD_ERR_INPUT, "GPU input, CPU output refused");
    fails += pd_expect_contains(pd_ctx_message(ctx), "one device", "message says why");
    pd_ctx_clear(ctx);
    PD_TEST_CHECK(ctx, pd_model_log_density(ctx, m, xc, &p, ldc));
    PD_TEST_CHECK(ctx, pd_model_log_density(ctx, m, xg, &p, ldg));
    fails += pd_expect_true(memcmp(ldc, ldg, sizeof ldc) == 0, "log density of a GPU state = CPU, bitwise");
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, 9, ec));
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, 9, eg));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, ec, sc));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, eg, sg));
    fails += pd_expect_true(memcmp(sc, sg, sizeof sc) == 0, "exact samples into a GPU state = CPU, bitwise");
    pd_state_destroy(&xc);
    pd_state_destroy(&xg);
    pd_state_destroy(&ec);
    pd_state_destroy(&eg);
    pd_model_destroy(&m);
    return fails;
}

/* psld-gmm (an augmented model: states [n, 2d] hold x then m, eval gives the score): GPU vs CPU, 3 groups at
 * different times, float64 (1e-12) and float32 (1e-5), in place too. */
static int psld_case(void)
{
    const int64_t shape[1] = {3}, d = 3, G = 3, rows = 40, n = G * rows;
    const double w[2] = {0.4, 0.6}, mu[6] = {1.0, -0.5, 0.2, -1.0, 0.7, 0.0}, var[6] = {0.2, 0.1, 0.3, 0.05, 0.4, 0.2};
    pd_model *gm = NULL, *m = NULL;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 2, 1, shape, w, mu, var, 1, &gm));
    PD_TEST_CHECK(ctx, pd_model_psld_gmm_create(ctx, gm, 0.01, 4.01, 8.0, 0.04, &m));
    pd_grid_point p[3] = {{.t = 0.002, .alpha = 1, .sigma = 1}, {.t = 0.1, .alpha = 1, .sigma = 1},
                          {.t = 0.9, .alpha = 1, .sigma = 1}};
    double *x = malloc(sizeof(double) * (size_t)(n * 2 * d));
    if (!x) return 1;
    for (int64_t i = 0; i < n * 2 * d; i++) x[i] = sin(0.37 * (double)i) * 1.5;
    int fails = 0;
    for (int dt = 0; dt < 2; dt++)
        for (int in_place = 0; in_place < 2; in_place++) {
            double err = INFINITY;
            if (gpu_vs_cpu(m, dt ? PD_F64 : PD_F32, n, 2 * d, x, (int)G, p, in_place, &err)) fails++;
            char what[160];
            snprintf(what, sizeof what, "psld-gmm GPU vs CPU, %s%s", dt ? "float64" : "float32", in_place ? ", in place" : "");
            fails += pd_expect_le(err, dt ? 1e-12 : 1e-5, what);
        }
    free(x);
    pd_model_destroy(&m);
    pd_model_destroy(&gm);
    return fails;
}

int main(void)
{
    int fails = 0;
    if (pd_cuda_device_count() < 1) {
        printf("no GPU: skipped\n");
        return PD_SKIP;
    }
    ctx = pd_ctx_create();
    if (!ctx) return 1;
    fails += gmm_ring();
    fails += gmm_case("gmm d = 100, K = 37, diagonal (warp per row)", 37, 100, 1, 0.3, 1, 50);
    fails += gmm_case("gmm d = 3072, K = 10, diagonal (block per row)", 10, 3072, 1, 0.3, 0, 8);
    fails += gmm_case("gmm d = 3072, K = 100, isotropic (block per row)", 100, 3072, 0, 0.3, 0, 8);
    fails += dataset_case();
    fails += mixed_dtypes();
    fails += interface();
    fails += psld_case();
    pd_ctx_destroy(&ctx);
    printf("%s\n", fails ? "test_gpu_models: FAILED" : "test_gpu_models: all passed");
    return fails != 0;
}
