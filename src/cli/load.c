#include <string.h>

#include "cli/load.h"

pd_status pd_cli_load_config(pd_ctx *ctx, const pd_cli_job_args *args, pd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    PD_TRY(pd_config_init(ctx, cfg));
    PD_TRY(pd_config_load_file(ctx, cfg, args->config));
    for (int i = 0; i < args->n_sets; i++) PD_TRY(pd_config_set(ctx, cfg, args->sets[i]));
    return pd_config_validate(ctx, cfg);
}
