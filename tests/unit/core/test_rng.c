/* Philox4x32-10 against Random123's published known-answer vectors (kat_vectors), and the
 * properties the runs rely on: noise keyed by (seed, sample, step, purpose, element) only. */
#include <stdint.h>

#include "pd_test.h"
#include "pintdiff/rng.h"

static int kat(void)
{
    static const uint32_t v[3][10] = {
        /* ctr[4], key[2], expected[4] */
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    int fails = 0;
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        pd_rng_philox4x32_10(v[i], v[i] + 4, out);
        for (int j = 0; j < 4; j++) {
            char what[64];
            snprintf(what, sizeof what, "KAT %d word %d = %08x", i, j, v[i][6 + j]);
            fails += pd_expect_true(out[j] == v[i][6 + j], what);
        }
    }
    return fails;
}

/* The counter layout: {element/4, sample, step, purpose}, key = seed. */
static int layout(void)
{
    uint64_t seed = 0x299f31d0a4093822ull;
    uint32_t ctr[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, key[2] = {0xa4093822, 0x299f31d0};
    uint32_t out[4];
    pd_rng_philox4x32_10(ctr, key, out);
    int fails = 0;
    for (uint32_t lane = 0; lane < 4; lane++) {
        uint64_t element = 4ull * ctr[0] + lane;
        fails += pd_expect_true(pd_rng_u32(seed, ctr[1], ctr[2], ctr[3], element) == out[lane],
                                "pd_rng_u32 reads word element%4 of block {element/4, sample, step, purpose}");
    }
    return fails;
}

/* Moments of the normals over many (sample, element) keys: mean 0, variance 1, kurtosis 3. */
static int normal_moments(void)
{
    const int n = 400000;
    double m1 = 0, m2 = 0, m4 = 0;
    for (int i = 0; i < n; i++) {
        double z = pd_rng_normal(42, (uint32_t)(i / 100), 7, 1, (uint64_t)(i % 100));
        m1 += z;
        m2 += z * z;
        m4 += z * z * z * z;
    }
    m1 /= n;
    m2 /= n;
    m4 /= n;
    int fails = 0;
    fails += pd_expect_near(m1, 0.0, 5.0 / sqrt(n), "normal mean (5 standard errors)");
    fails += pd_expect_near(m2, 1.0, 5.0 * sqrt(2.0 / n), "normal variance");
    fails += pd_expect_near(m4, 3.0, 5.0 * sqrt(96.0 / n), "normal 4th moment");
    /* streams differ: another step, purpose, sample or seed gives another number */
    double z = pd_rng_normal(42, 3, 7, 1, 5);
    fails += pd_expect_true(z != pd_rng_normal(42, 3, 8, 1, 5), "step changes the draw");
    fails += pd_expect_true(z != pd_rng_normal(42, 3, 7, 2, 5), "purpose changes the draw");
    fails += pd_expect_true(z != pd_rng_normal(42, 4, 7, 1, 5), "sample changes the draw");
    fails += pd_expect_true(z != pd_rng_normal(43, 3, 7, 1, 5), "seed changes the draw");
    fails += pd_expect_true(z == pd_rng_normal(42, 3, 7, 1, 5), "same key, same draw");
    double u = pd_rng_uniform(1, 2, 3, 4, 5);
    fails += pd_expect_true(u > 0.0 && u < 1.0, "uniform in (0, 1)");
    return fails;
}

int main(void)
{
    int fails = kat() + layout() + normal_moments();
    printf("%s\n", fails ? "test_rng: FAILED" : "test_rng: all passed");
    return fails != 0;
}
