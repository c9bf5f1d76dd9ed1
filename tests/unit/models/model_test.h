/* Helpers shared by the model tests: states from host arrays, grid points from sigma. */
#ifndef PD_MODEL_TEST_H
#define PD_MODEL_TEST_H

#include <math.h>
#include <stdlib.h>

#include "pd_test.h"
#include "pintdiff/model.h"
#include "pintdiff/rng.h"

/* A VP point (alpha^2 + sigma^2 = 1) for sigma < 1, an EDM/VE point (alpha = 1) for sigma >= 1. */
static inline pd_grid_point mt_point(double sigma)
{
    pd_grid_point p;
    p.t = 0;
    p.sigma = sigma;
    p.alpha = sigma < 1 ? sqrt((1.0 - sigma) * (1.0 + sigma)) : 1.0;
    p.lambda = log(p.alpha / sigma);
    return p;
}

/* out: a CPU state [n, d] of dtype dt holding host (rounded to dt). NULL on failure (message set). */
static inline pd_state *mt_state(pd_ctx *ctx, pd_dtype dt, int64_t n, int64_t d, const double *host)
{
    pd_state *s = NULL;
    if (pd_state_create(ctx, dt, PD_DEVICE_CPU, n, d, 0, &s) != PD_OK) return NULL;
    if (host && pd_state_write_f64(ctx, s, host) != PD_OK) pd_state_destroy(&s);
    return s;
}

/* A standard normal test number (its own seed; independent of the models' streams). */
static inline double mt_normal(uint32_t a, uint64_t b)
{
    return pd_rng_normal(777, a, 0, PD_RNG_START, b);
}
static inline double mt_uniform(uint32_t a, uint64_t b)
{
    return pd_rng_uniform(777, a, 1, PD_RNG_START, b);
}

#endif
