/* Philox4x32-10 noise, per element, for CPU loops and CUDA kernels alike (rng.h has the contract).
 * Random123 supplies the generator; this file fixes the counter layout and the normal transform. */
#ifndef PD_CORE_RNG_IMPL_H
#define PD_CORE_RNG_IMPL_H

#include <math.h>
#include <stdint.h>

#include <Random123/philox.h>

#include "core/hd.h"

/* The 4 words of the Philox block holding `element`. */
static inline PD_HD philox4x32_ctr_t pd_rng_block(uint64_t seed, uint32_t sample, uint32_t step,
                                                  uint32_t purpose, uint64_t element)
{
    philox4x32_ctr_t ctr = {{(uint32_t)(element >> 2), sample, step, purpose}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    return philox4x32_R(10, ctr, key);
}

/* 32 random bits -> (0, 1), never 0 or 1: the log in Box-Muller stays finite. */
static inline PD_HD double pd_rng_u01(uint32_t u) { return ((double)u + 0.5) * 2.3283064365386963e-10; }

/* Box-Muller in double on the block's two pairs of words: word 2j gives the radius, word 2j+1 the
 * angle; lane 2j takes the cosine, lane 2j+1 the sine. out[lane] is the normal of element
 * 4 * (element / 4) + lane. The single-element form below goes through this one, so a CPU loop over
 * whole blocks and a per-element kernel compute each number the same way. */
static inline PD_HD void pd_rng_normal4(uint64_t seed, uint32_t sample, uint32_t step, uint32_t purpose,
                                        uint64_t element, double out[4])
{
    philox4x32_ctr_t r = pd_rng_block(seed, sample, step, purpose, element);
    for (int pair = 0; pair < 2; pair++) {
        double rad = sqrt(-2.0 * log(pd_rng_u01(r.v[2 * pair])));
        double ang = 6.283185307179586476925 * pd_rng_u01(r.v[2 * pair + 1]);
        out[2 * pair] = rad * cos(ang);
        out[2 * pair + 1] = rad * sin(ang);
    }
}

static inline PD_HD double pd_rng_normal_elem(uint64_t seed, uint32_t sample, uint32_t step,
                                              uint32_t purpose, uint64_t element)
{
    double z[4];
    pd_rng_normal4(seed, sample, step, purpose, element, z);
    return z[element & 3u];
}

#endif
