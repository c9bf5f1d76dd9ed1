/* Arguments of run and check: CONFIG [--set key=value]... [--quiet] */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

void pd_cli_usage_job(const char *cmd)
{
    printf("usage: pintdiff %s CONFIG [--set section.key=value]...%s\n\n", cmd,
           strcmp(cmd, "run") ? "" : " [--quiet]");
    printf("  CONFIG               a YAML job file (configs/default.yaml is the embedded default)\n"
           "  --set key=value      override one config key; the value is YAML (1e-3, true, [1, 2])\n");
    if (!strcmp(cmd, "run"))
        printf("  --quiet              no progress or summary lines\n\n"
               "Under mpirun every rank runs the job; rank 0 reports. Result: output.file (HDF5)\n"
               "and, for image-shaped data, a PNG grid beside it.\n");
    else
        printf("\nPrints the fully resolved config (every key) as YAML on success; exit 2 on bad input.\n");
}

int pd_cli_parse_job_args(const char *cmd, int argc, char **argv, pd_cli_job_args *out, int *help)
{
    memset(out, 0, sizeof *out);
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = 1;
            return 0;
        } else if (!strcmp(a, "--set") || !strncmp(a, "--set=", 6)) {
            const char *v = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "pintdiff %s: --set needs key=value\n", cmd);
                return 2;
            }
            if (out->n_sets == (int)(sizeof out->sets / sizeof out->sets[0])) {
                fprintf(stderr, "pintdiff %s: too many --set options\n", cmd);
                return 2;
            }
            out->sets[out->n_sets++] = v;
        } else if (!strcmp(a, "--quiet") && !strcmp(cmd, "run")) {
            out->quiet = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "pintdiff %s: unknown option '%s' (see pintdiff %s --help)\n", cmd, a, cmd);
            return 2;
        } else if (!out->config) {
            out->config = a;
        } else {
            fprintf(stderr, "pintdiff %s: one CONFIG only (got '%s' and '%s')\n", cmd, out->config, a);
            return 2;
        }
    }
    if (!out->config) {
        fprintf(stderr, "pintdiff %s: missing CONFIG (see pintdiff %s --help)\n", cmd, cmd);
        return 2;
    }
    return 0;
}
