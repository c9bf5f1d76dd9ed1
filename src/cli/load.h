/* Config loading shared by run and check: defaults, file, --set in order, then validation. */
#ifndef PD_CLI_LOAD_H
#define PD_CLI_LOAD_H

#include "cli/cli.h"
#include "io/config.h"

/* cfg is initialised whatever the outcome (pd_config_free it). */
pd_status pd_cli_load_config(pd_ctx *ctx, const pd_cli_job_args *args, pd_config *cfg);

#endif
