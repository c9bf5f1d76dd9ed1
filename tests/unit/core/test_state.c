/* State buffers: lincomb arithmetic, noise keyed by the global sample index, views, copies. */
#include <stdlib.h>

#include "pd_test.h"
#include "pintdiff/rng.h"
#include "pintdiff/state.h"

static pd_ctx *ctx;

static int lincomb_values(pd_dtype dt)
{
    pd_state *a = NULL, *b = NULL, *o = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CPU, 3, 5, 0, &a));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, a, &b));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, a, &o));
    double ha[15], hb[15], ho[15];
    for (int i = 0; i < 15; i++) ha[i] = i * 0.25, hb[i] = 1.0 - i;
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, a, ha));
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, b, hb));
    const pd_state *v[] = {a, b};
    double c[] = {2.0, -0.5};
    pd_noise_term z = {.coef = 0.1, .seed = 9, .step = 4, .purpose = PD_RNG_STEP};
    PD_TEST_CHECK(ctx, pd_state_lincomb(ctx, o, 2, c, v, &z));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, o, ho));
    double err = 0;
    for (int i = 0; i < 15; i++) {
        double want = 2.0 * ha[i] - 0.5 * hb[i] + 0.1 * pd_rng_normal(9, (uint32_t)(i / 5), 4, PD_RNG_STEP, (uint64_t)(i % 5));
        err = fmax(err, fabs(ho[i] - want));
    }
    int fails = pd_expect_le(err, dt == PD_F64 ? 1e-15 : 1e-6, "lincomb = 2a - b/2 + 0.1 z");
    /* aliasing: out may be one of the inputs */
    PD_TEST_CHECK(ctx, pd_state_lincomb(ctx, a, 2, c, v, NULL));
    double sq = 0;
    PD_TEST_CHECK(ctx, pd_state_sqdiff_local(ctx, a, o, &sq));
    fails += pd_expect_near(sq, 15 * 0.0, 15 * 0.1 * 0.1 * 25, "sqdiff of a noise term is bounded");
    int64_t bad = 0;
    PD_TEST_CHECK(ctx, pd_state_find_nonfinite(ctx, o, &bad));
    fails += pd_expect_true(bad == -1, "finite state has no bad element");
    ho[7] = NAN;
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, o, ho));
    PD_TEST_CHECK(ctx, pd_state_find_nonfinite(ctx, o, &bad));
    fails += pd_expect_true(bad == 7, "NaN found at element 7");
    pd_state_destroy(&a);
    pd_state_destroy(&b);
    pd_state_destroy(&o);
    fails += pd_expect_true(a == NULL, "destroy leaves NULL");
    pd_state_destroy(&a); /* NULL is accepted */
    return fails;
}

/* The noise of global sample s does not depend on how samples are split into buffers (ranks). */
static int noise_slices(void)
{
    const int S = 10, D = 7;
    pd_state *whole = NULL, *part = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, PD_DEVICE_CPU, S, D, 0, &whole));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, PD_DEVICE_CPU, 3, D, 4, &part));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, whole, 123, 17, PD_RNG_STEP));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, part, 123, 17, PD_RNG_STEP));
    const float *w = pd_state_cdata(whole), *p = pd_state_cdata(part);
    int fails = pd_expect_true(memcmp(w + 4 * D, p, sizeof(float) * 3 * D) == 0,
                               "samples 4..6 drawn alone equal the same samples of the whole batch (bitwise)");
    pd_state *view = NULL;
    PD_TEST_CHECK(ctx, pd_state_view(ctx, whole, 4, 3, &view));
    fails += pd_expect_true(pd_state_offset(view) == 4 && pd_state_n_samples(view) == 3, "view offset and size");
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, view, 5, 0, PD_RNG_START));
    fails += pd_expect_true(memcmp(w + 4 * D, p, sizeof(float) * 3 * D) != 0, "a view writes into its parent");
    fails += pd_expect_true(pd_state_view(ctx, whole, 8, 3, &part) == PD_ERR_INPUT, "view out of range refused");
    pd_ctx_clear(ctx);
    pd_state_destroy(&view);
    pd_state_destroy(&whole);
    pd_state_destroy(&part);
    return fails;
}

static int copies(void)
{
    pd_state *f = NULL, *d = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, PD_DEVICE_CPU, 2, 3, 0, &f));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 2, 3, 0, &d));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, d, 1, 2, 3));
    PD_TEST_CHECK(ctx, pd_state_copy(ctx, f, d));
    double hf[6], hd[6];
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, f, hf));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, d, hd));
    int fails = 0;
    for (int i = 0; i < 6; i++) fails += hf[i] != (double)(float)hd[i];
    fails = pd_expect_true(fails == 0, "float64 -> float32 copy rounds each element once");
    pd_state *g = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F32, PD_DEVICE_CPU, 3, 3, 0, &g));
    fails += pd_expect_true(pd_state_copy(ctx, g, f) == PD_ERR_INPUT, "copy between shapes refused");
    fails += pd_expect_contains(pd_ctx_message(ctx), "shapes differ", "message names the problem");
    pd_ctx_clear(ctx);
    pd_state_destroy(&f);
    pd_state_destroy(&d);
    pd_state_destroy(&g);
    return fails;
}

/* The largest per-sample squared difference against a loop over the samples, and NaN winning. */
static int sample_max(pd_dtype dt)
{
    enum { S = 5, D = 3 };
    double x[S * D], y[S * D], want = 0.0;
    for (int i = 0; i < S * D; i++) x[i] = y[i] = 0.25 * i;
    y[1] += 1.0, y[6] += 1.5, y[8] += 1.5, y[13] -= 2.0; /* sample 2 changes most: 4.5 */
    for (int s = 0; s < S; s++) {
        double q = 0.0;
        for (int i = 0; i < D; i++) q += (x[s * D + i] - y[s * D + i]) * (x[s * D + i] - y[s * D + i]);
        want = q > want ? q : want;
    }
    pd_state *a = NULL, *b = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CPU, S, D, 0, &a));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CPU, S, D, 0, &b));
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, a, x));
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, b, y));
    double got = -1.0;
    PD_TEST_CHECK(ctx, pd_state_sample_sqdiff_max_local(ctx, a, b, &got));
    int fails = pd_expect_near(got, want, 0.0, "largest per-sample sqdiff");
    fails += pd_expect_true(want == 4.5, "the test's own loop finds sample 2");
    x[1] = NAN; /* sample 0: a NaN must not be skipped by the max */
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, a, x));
    PD_TEST_CHECK(ctx, pd_state_sample_sqdiff_max_local(ctx, a, b, &got));
    fails += pd_expect_true(isnan(got), "a NaN sample makes the largest per-sample sqdiff NaN");
    pd_state_destroy(&a);
    pd_state_destroy(&b);
    return fails;
}

int main(void)
{
    ctx = pd_ctx_create();
    int fails = lincomb_values(PD_F32) + lincomb_values(PD_F64) + noise_slices() + copies() + sample_max(PD_F32) +
                sample_max(PD_F64);
    pd_ctx_destroy(&ctx);
    printf("%s\n", fails ? "test_state: FAILED" : "test_state: all passed");
    return fails != 0;
}
