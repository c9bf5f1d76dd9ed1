/* pintdiff: sample diffusion models fast, sequentially and parallel in time. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "pintdiff/version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pintdiff COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  run CONFIG [--set key=value]...   run the job of a YAML config (under mpirun: all ranks)\n"
            "  check CONFIG [--set key=value]... validate a config and print it fully resolved\n"
            "  info RESULT.h5 [--config]         summarise a result file\n"
            "  config-doc                        print the config schema as Markdown (docs/CONFIG.md)\n"
            "\n"
            "options:\n"
            "  -h, --help      this help; 'pintdiff COMMAND --help' for a command's options\n"
            "  -V, --version   version and git commit\n"
            "\n"
            "exit status: 0 success, 2 bad input (config, file, option), 1 runtime failure\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("pintdiff %s (git %s)\n", PINTDIFF_VERSION, PINTDIFF_GIT_COMMIT);
        return 0;
    }
    if (!strcmp(cmd, "run")) return pd_cli_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "check")) return pd_cli_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return pd_cli_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "config-doc")) return pd_cli_config_doc(argc - 1, argv + 1);
    fprintf(stderr, "pintdiff: unknown command '%s' (run, check, info, config-doc; see pintdiff --help)\n", cmd);
    return 2;
}
