/* GPU state operations against the CPU reference: lincomb with Philox noise (same integers, normals
 * equal to rounding), conversions, reductions. Skipped where no GPU is present. */
#include <stdlib.h>

#include "cuda/cuda_backend.h"
#include "pd_test.h"
#include "pintdiff/state.h"

static int compare(pd_ctx *ctx, pd_dtype dt)
{
    const int S = 37, D = 129; /* not multiples of the block size or of 4 */
    pd_state *c[3] = {0}, *g[3] = {0};
    double *h = malloc(sizeof(double) * S * D), *hc = malloc(sizeof(double) * S * D), *hg = malloc(sizeof(double) * S * D);
    for (int k = 0; k < 3; k++) {
        PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CPU, S, D, 1000, &c[k]));
        PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CUDA, S, D, 1000, &g[k]));
        for (int i = 0; i < S * D; i++) h[i] = sin(0.37 * i + k);
        PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, c[k], h));
        PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, g[k], h));
    }
    double coef[] = {0.3, -1.7};
    pd_noise_term z = {.coef = 0.25, .seed = 77, .step = 12, .purpose = 1};
    const pd_state *vc[] = {c[1], c[2]}, *vg[] = {g[1], g[2]};
    PD_TEST_CHECK(ctx, pd_state_lincomb(ctx, c[0], 2, coef, vc, &z));
    PD_TEST_CHECK(ctx, pd_state_lincomb(ctx, g[0], 2, coef, vg, &z));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, c[0], hc));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, g[0], hg));
    double err = 0;
    for (int i = 0; i < S * D; i++) err = fmax(err, fabs(hc[i] - hg[i]) / (1.0 + fabs(hc[i])));
    int fails = pd_expect_le(err, dt == PD_F64 ? 1e-14 : 2e-7, "GPU lincomb + noise == CPU (relative)");
    double sc = 0, sg = 0;
    PD_TEST_CHECK(ctx, pd_state_sqdiff_local(ctx, c[0], c[1], &sc));
    PD_TEST_CHECK(ctx, pd_state_sqdiff_local(ctx, g[0], g[1], &sg));
    fails += pd_expect_near(sg, sc, 1e-9 * sc, "GPU sqdiff == CPU");
    PD_TEST_CHECK(ctx, pd_state_sample_sqdiff_max_local(ctx, c[0], c[1], &sc));
    PD_TEST_CHECK(ctx, pd_state_sample_sqdiff_max_local(ctx, g[0], g[1], &sg));
    fails += pd_expect_near(sg, sc, 1e-12 * sc, "GPU largest per-sample sqdiff == CPU");
    int64_t bad = 0;
    hg[S * D - 3] = NAN;
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, g[0], hg));
    PD_TEST_CHECK(ctx, pd_state_find_nonfinite(ctx, g[0], &bad));
    fails += pd_expect_true(bad == S * D - 3, "GPU finds the NaN");
    PD_TEST_CHECK(ctx, pd_state_sample_sqdiff_max_local(ctx, g[0], g[1], &sg));
    fails += pd_expect_true(isnan(sg), "a NaN in the last sample makes the GPU's largest per-sample sqdiff NaN");
    for (int k = 0; k < 3; k++) pd_state_destroy(&c[k]), pd_state_destroy(&g[k]);
    free(h), free(hc), free(hg);
    return fails;
}

int main(void)
{
    if (pd_cuda_device_count() < 1) {
        printf("no GPU: skipped\n");
        return PD_SKIP;
    }
    pd_ctx *ctx = pd_ctx_create();
    int fails = compare(ctx, PD_F32) + compare(ctx, PD_F64);
    pd_ctx_destroy(&ctx);
    printf("%s\n", fails ? "test_gpu_state: FAILED" : "test_gpu_state: all passed");
    return fails != 0;
}
