/* pintdiff: counter-based random numbers (Philox4x32-10, Random123).
 *
 * Noise depends on where it is used, not on the draws before it (STYLE.md habit 10):
 * key = the 64-bit seed (low word, high word); counter = {element / 4, global sample, global step,
 * purpose}. Word element % 4 of the block is that element's number. Normals come from Box-Muller on
 * the block's two pairs of uniforms, in double. The same integers on any device and any rank count. */
#ifndef PINTDIFF_RNG_H
#define PINTDIFF_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Streams ("purpose" counter word): one per use of noise, so that uses never share numbers. */
typedef enum {
    PD_RNG_START = 0,   /* the starting state x_{t_0} */
    PD_RNG_STEP = 1,    /* the noise z_n of step n */
    PD_RNG_STEP2 = 2,   /* a second noise vector of the same step */
    PD_RNG_EXACT = 3,   /* exact samples of the target (metrics, exact start) */
    PD_RNG_EXACT_K = 4, /* the component / row index of an exact sample */
    PD_RNG_METRIC = 5   /* random directions of the sliced Wasserstein distance */
} pd_rng_purpose;

/* The raw generator: out = philox4x32_10(ctr, key). */
void pd_rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* The 32-bit integer used for (seed, sample, step, purpose, element). */
uint32_t pd_rng_u32(uint64_t seed, uint32_t sample, uint32_t step, uint32_t purpose, uint64_t element);
/* A uniform number in (0, 1): (u32 + 0.5) / 2^32. */
double pd_rng_uniform(uint64_t seed, uint32_t sample, uint32_t step, uint32_t purpose, uint64_t element);
/* A standard normal number (Box-Muller in double). */
double pd_rng_normal(uint64_t seed, uint32_t sample, uint32_t step, uint32_t purpose, uint64_t element);

#ifdef __cplusplus
}
#endif
#endif
