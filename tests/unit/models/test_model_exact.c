/* Exact GMM samples (ALGORITHMS.md §2.4): the Philox contract (component by the inverse CDF of
 * u(seed, sample, 0, EXACT_K, 0), then mu + sd z(seed, sample, 0, EXACT, element)), independence
 * of the buffer split, sample moments against pd_model_gmm_moments with tolerances from the sample
 * size, and the component occupancy against the weights. */
#include "core/metrics.h"
#include "model_test.h"

static pd_ctx *ctx;

#define K 3
#define D 2
#define N 20000

static const int64_t shape[1] = {D};
static const double weights[K] = {0.5, 0.3, 0.2};
static const double means[K * D] = {4.0, 0.0, -2.0, 3.0, -2.0, -3.0};
static const double var[K * D] = {0.25, 0.09, 0.16, 0.36, 0.49, 0.04};

int main(void)
{
    int fails = 0;
    pd_model *m = NULL;
    pd_state *s = NULL, *part = NULL;
    ctx = pd_ctx_create();
    if (!ctx) return 1;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, weights, means, var, 1, &m));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, N, D, 0, &s));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, PD_DEVICE_CPU, 7, D, 9000, &part));
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, 2024, s));
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, 2024, part));
    const double *x = pd_state_cdata(s);

    /* 1. the documented Philox recipe, bit for bit */
    int recipe_bad = 0;
    for (uint32_t g = 0; g < 100; g++) {
        const double u = pd_rng_uniform(2024, g, 0, PD_RNG_EXACT_K, 0);
        int k = u < 0.5 ? 0 : (u < 0.8 ? 1 : 2);
        for (int i = 0; i < D; i++) {
            const double want = means[k * D + i] +
                                sqrt(var[k * D + i]) * pd_rng_normal(2024, g, 0, PD_RNG_EXACT, (uint64_t)i);
            recipe_bad += x[g * D + i] != want;
        }
    }
    fails += pd_expect_true(recipe_bad == 0, "samples follow the documented Philox recipe exactly");
    int slice_bad = 0;
    const float *pv = pd_state_cdata(part);
    for (int i = 0; i < 7 * D; i++)
        slice_bad += pv[i] != (float)x[9000 * D + i];
    fails += pd_expect_true(slice_bad == 0, "a buffer at offset 9000 (float32) holds the same samples");

    /* 2. moments: tolerance 5 standard errors, estimated from the samples themselves */
    double mean[D], cov[D * D], sm[D] = {0}, sc[D * D] = {0};
    PD_TEST_CHECK(ctx, pd_model_gmm_moments(ctx, m, mean, cov));
    PD_TEST_CHECK(ctx, pd_metrics_moments(ctx, x, N, D, sm, sc));
    for (int i = 0; i < D; i++) {
        char what[96];
        snprintf(what, sizeof what, "sample mean[%d] vs exact (5 standard errors)", i);
        fails += pd_expect_near(sm[i], mean[i], 5 * sqrt(cov[i * D + i] / N), what);
    }
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++) {
            double v = 0; /* variance of the products (x_i - m_i)(x_j - m_j) */
            for (int r = 0; r < N; r++) {
                const double q = (x[r * D + i] - sm[i]) * (x[r * D + j] - sm[j]) - sc[i * D + j];
                v += q * q;
            }
            char what[96];
            snprintf(what, sizeof what, "sample cov[%d][%d] vs exact (5 standard errors)", i, j);
            fails += pd_expect_near(sc[i * D + j], cov[i * D + j], 5 * sqrt(v / N / N), what);
        }

    /* 3. occupancy: the modes are far apart, so argmax assignment recovers the component */
    double occ[K], tv;
    PD_TEST_CHECK(ctx, pd_metrics_gmm_occupancy(ctx, x, N, D, K, weights, means, var, 1, &tv, occ));
    for (int k = 0; k < K; k++) {
        char what[96];
        snprintf(what, sizeof what, "occupancy of component %d vs weight (5 standard errors)", k);
        fails += pd_expect_near(occ[k], weights[k], 5 * sqrt(weights[k] * (1 - weights[k]) / N), what);
    }
    fails += pd_expect_le(tv, 0.02, "occupancy TV distance to the weights");

    /* 4. a zero weight is never drawn */
    const double w0[K] = {0.5, 0.0, 0.5};
    pd_model *m0 = NULL;
    double occ0[K];
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, K, 1, shape, w0, means, var, 1, &m0));
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m0, 7, s));
    PD_TEST_CHECK(ctx, pd_metrics_gmm_occupancy(ctx, x, N, D, K, weights, means, var, 1, &tv, occ0));
    fails += pd_expect_true(occ0[1] == 0.0, "a zero-weight component gets no samples");

    pd_model_destroy(&m0);
    pd_model_destroy(&m);
    pd_state_destroy(&s);
    pd_state_destroy(&part);
    pd_ctx_destroy(&ctx);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "passed", fails);
    return fails != 0;
}
