/* pintdiff command: one function per subcommand; each returns the process exit status
 * (0 success, 2 bad input, 1 runtime failure; DESIGN.md §1). */
#ifndef PD_CLI_H
#define PD_CLI_H

int pd_cli_run(int argc, char **argv);
int pd_cli_check(int argc, char **argv);
int pd_cli_info(int argc, char **argv);
int pd_cli_config_doc(int argc, char **argv);

/* Options shared by run and check: CONFIG [--set key=value]... */
typedef struct pd_cli_job_args {
    const char *config;
    const char *sets[256];
    int n_sets;
    int quiet;
} pd_cli_job_args;

/* 0 on success; prints the problem and returns 2 otherwise. help: 1 when --help was given. */
int pd_cli_parse_job_args(const char *cmd, int argc, char **argv, pd_cli_job_args *out, int *help);
void pd_cli_usage_job(const char *cmd);

#endif
