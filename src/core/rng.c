/* Public wrappers of the per-element Philox functions (rng_impl.h). */
#include "pintdiff/rng.h"

#include "core/rng_impl.h"

void pd_rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    philox4x32_ctr_t c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
    philox4x32_key_t k = {{key[0], key[1]}};
    philox4x32_ctr_t r = philox4x32_R(10, c, k);
    for (int i = 0; i < 4; i++) out[i] = r.v[i];
}

uint32_t pd_rng_u32(uint64_t seed, uint32_t sample, uint32_t step, uint32_t purpose, uint64_t element)
{
    return pd_rng_block(seed, sample, step, purpose, element).v[element & 3u];
}

double pd_rng_uniform(uint64_t seed, uint32_t sample, uint32_t step, uint32_t purpose, uint64_t element)
{
    return pd_rng_u01(pd_rng_u32(seed, sample, step, purpose, element));
}

double pd_rng_normal(uint64_t seed, uint32_t sample, uint32_t step, uint32_t purpose, uint64_t element)
{
    return pd_rng_normal_elem(seed, sample, step, purpose, element);
}
