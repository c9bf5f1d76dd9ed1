/* pintdiff run CONFIG [--set ...]: the job, on every rank of MPI_COMM_WORLD. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/load.h"
#include "mpi/comm.h"
#include "mpi/run.h"

/* Load on every rank (each reads the file: the same error everywhere), then agree. */
static pd_status load_everywhere(pd_ctx *ctx, const pd_cli_job_args *args, pd_config *cfg, char **text)
{
    pd_status st = pd_cli_load_config(ctx, args, cfg);
    if (st == PD_OK) st = pd_config_to_yaml(ctx, cfg, text);
    pd_agreement a;
    PD_TRY(pd_comm_agree(ctx, MPI_COMM_WORLD, st, &a));
    pd_comm_report(ctx, MPI_COMM_WORLD, &a);
    return a.status;
}

static void print_summary(const pd_config *cfg, const pd_run_summary *s)
{
    if (s->iterations > 0)
        fprintf(stderr, "pintdiff: wrote %s (%lld samples, %d steps, %s: %d iterations, %lld NFE on the "
                "critical path, %.2f s)\n", cfg->output.file, (long long)s->n_samples, cfg->sampler.steps,
                s->method, s->iterations, (long long)s->nfe, s->wall_s);
    else
        fprintf(stderr, "pintdiff: wrote %s (%lld samples, %d steps, %lld NFE, %.2f s)\n", cfg->output.file,
                (long long)s->n_samples, cfg->sampler.steps, (long long)s->nfe, s->wall_s);
    if (s->png[0]) fprintf(stderr, "pintdiff: picture %s\n", s->png);
}

int pd_cli_run(int argc, char **argv)
{
    pd_cli_job_args args;
    int help = 0, rc = pd_cli_parse_job_args("run", argc, argv, &args, &help);
    if (help) pd_cli_usage_job("run");
    if (help || rc) return rc;
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "pintdiff: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); /* MPI errors become pd_status */
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    pd_ctx *ctx = pd_ctx_create();
    pd_ctx_set_rank(ctx, rank, size);
    pd_config cfg;
    char *text = NULL;
    pd_status st = load_everywhere(ctx, &args, &cfg, &text);
    if (st == PD_OK) {
        pd_run_summary sum;
        st = pd_run_job(ctx, MPI_COMM_WORLD, &cfg, text, args.quiet, &sum);
        pd_agreement a = {.status = st, .failing_rank = st != PD_OK && st != PD_ERR_REMOTE ? rank : -1};
        if (st != PD_OK) pd_comm_agree(ctx, MPI_COMM_WORLD, st == PD_ERR_REMOTE ? PD_OK : st, &a);
        pd_comm_report(ctx, MPI_COMM_WORLD, &a);
        st = a.status;
        if (st == PD_OK && rank == 0 && !args.quiet) print_summary(&cfg, &sum);
    }
    free(text);
    pd_config_free(&cfg);
    pd_ctx_destroy(&ctx);
    MPI_Finalize();
    return pd_status_exit_code(st);
}
