/* pintdiff check CONFIG [--set ...]: validate and print the resolved config. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/load.h"
#include "mpi/run.h"

int pd_cli_check(int argc, char **argv)
{
    pd_cli_job_args args;
    int help = 0, rc = pd_cli_parse_job_args("check", argc, argv, &args, &help);
    if (help) pd_cli_usage_job("check");
    if (help || rc) return rc;
    pd_ctx *ctx = pd_ctx_create();
    pd_config cfg;
    pd_status st = pd_cli_load_config(ctx, &args, &cfg);
    if (st == PD_OK) st = pd_run_dry(ctx, &cfg); /* what run would refuse, check refuses too */
    if (st == PD_OK) st = pd_config_write_yaml(ctx, &cfg, stdout);
    if (st != PD_OK) fprintf(stderr, "pintdiff: error: %s\n", pd_ctx_message(ctx));
    pd_config_free(&cfg);
    pd_ctx_destroy(&ctx);
    return pd_status_exit_code(st);
}

int pd_cli_config_doc(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        printf("usage: pintdiff config-doc\n\nPrints the config schema as Markdown (docs/CONFIG.md).\n");
        return 0;
    }
    pd_ctx *ctx = pd_ctx_create();
    pd_status st = pd_config_write_doc(ctx, stdout);
    if (st != PD_OK) fprintf(stderr, "pintdiff: error: %s\n", pd_ctx_message(ctx));
    pd_ctx_destroy(&ctx);
    return pd_status_exit_code(st);
}
