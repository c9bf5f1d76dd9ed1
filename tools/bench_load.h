/* The shared setup of the timing tools (pd-bench-serial, pd-bench-device): a model file of a given kind and
 * a ddpm-linear grid of `steps` steps, linspace-dpm spacing (every solver can run on it). */
#ifndef PD_TOOLS_BENCH_LOAD_H
#define PD_TOOLS_BENCH_LOAD_H

#include <string.h>

#include "io/model_file.h"
#include "pintdiff/pintdiff.h"

static inline pd_status bench_load(pd_ctx *ctx, const char *path, const char *kind, int steps, pd_model **m,
                                   pd_schedule **sc, pd_grid **g)
{
    pd_schedule_params sp = pd_schedule_defaults(PD_SCHEDULE_DDPM_LINEAR);
    PD_TRY(!strcmp(kind, "dataset") ? pd_model_load_dataset_file(ctx, path, m) : pd_model_load_gmm_file(ctx, path, m));
    PD_TRY(pd_schedule_create(ctx, &sp, sc));
    return pd_grid_create(ctx, *sc, PD_SPACING_LINSPACE_DPM, steps, 0, g);
}

#endif
