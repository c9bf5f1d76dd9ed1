/* pintdiff: the job configuration (DESIGN.md §2).
 *
 * One schema table (config_schema.c) lists every key with its type, default, allowed range or values
 * and a line of documentation; the YAML loader, `--set` overrides, `pintdiff check` (which prints the
 * resolved config) and the generated docs/CONFIG.md all read that table. YAML is parsed by libyaml;
 * every error names the file, the line and the key and says what was expected. */
#ifndef PD_IO_CONFIG_H
#define PD_IO_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "pintdiff/schedule.h"
#include "pintdiff/state.h"
#include "pintdiff/status.h"

typedef enum { PD_MODEL_GMM = 0, PD_MODEL_DATASET } pd_model_kind;
typedef enum { PD_METHOD_SERIAL = 0, PD_METHOD_PARAREAL, PD_METHOD_PICARD, PD_METHOD_BLOCK_PICARD } pd_method;
#define PD_TRAJ_BOUNDARIES (-1) /* output.trajectory: boundaries (Parareal boundary states per iteration) */
typedef enum { PD_START_PRIOR = 0, PD_START_EXACT } pd_start_kind;
typedef enum { PD_COARSE_NOISE_START = 0, PD_COARSE_NOISE_AGGREGATE } pd_coarse_noise;
typedef enum { PD_DEVKIND_AUTO = 0, PD_DEVKIND_CPU, PD_DEVKIND_CUDA } pd_device_choice;
typedef enum { PD_COMM_AUTO = 0, PD_COMM_MPI, PD_COMM_NCCL } pd_comm_choice;
typedef enum { PD_CUDA_AWARE_AUTO = 0, PD_CUDA_AWARE_YES, PD_CUDA_AWARE_NO } pd_cuda_aware_choice;
typedef enum { PD_FINAL_ALPHA_ONE = 0, PD_FINAL_ALPHA0 } pd_final_kind;
typedef enum { PD_VARIANCE_SMALL = 0, PD_VARIANCE_LARGE } pd_variance_kind;

/* A list of numbers from the YAML (inline GMM parameters). rows = number of items of the outer
 * list; cols = items per row (1 for a flat list of scalars); data = rows*cols values. */
typedef struct pd_cfg_array {
    int rows, cols;
    double *data; /* NULL when not given */
} pd_cfg_array;

#define PD_CONFIG_MAX_KEYS 64 /* >= rows of the schema (checked at compile time) */
#define PD_CFG_FROM_SET (-1)

typedef struct pd_config {
    struct {
        pd_model_kind kind;
        char *file;             /* HDF5 with GMM parameters or a data set; "" = none */
        pd_cfg_array weights;   /* inline GMM: [K] */
        pd_cfg_array means;     /* inline GMM: [K][d] */
        pd_cfg_array variances; /* inline GMM: [K] isotropic or [K][d] diagonal */
        pd_cfg_array shape;     /* data shape of one sample (inline GMM), default [d] */
    } model;
    struct {
        pd_schedule_kind kind;
        int train_steps;
        double beta_start, beta_end, beta_min, beta_max, t_min, t_max, sigma_min, sigma_max, rho;
        double li_c0, li_c1;
        double psld_gamma, psld_nu, psld_beta, psld_kappa;
        pd_final_kind final;
    } schedule;
    struct {
        pd_method method;
        char *solver; /* serial integrator (registry name) */
        int steps;
        pd_spacing spacing;
        double eta;
        double conj_lambda;
        pd_variance_kind variance;
        int lower_order_final;
        pd_start_kind start;
        /* parallel methods (Parareal, Picard): read by those drivers */
        char *fine;
        char *coarse;
        int coarse_steps;
        pd_coarse_noise coarse_noise;
        int blocks; /* 0 = one per rank */
        int window;
        double tol;
        int max_iters;
        int pipeline;
    } sampler;
    struct {
        int64_t samples;
        uint64_t seed;
        pd_dtype dtype;
    } batch;
    struct {
        pd_device_choice kind;
        pd_comm_choice comm;
        int gpu;        /* -1: by node-local rank; k: GPU k of those each rank sees */
        double timeout; /* seconds a rank waits on NCCL before it gives up */
        pd_cuda_aware_choice cuda_aware_mpi; /* mpi transport, GPU states: device memory to MPI, or staged */
    } device;
    struct {
        char *file;
        char *trajectory;     /* "none", "all" or "every:K" */
        int trajectory_every; /* parsed from trajectory: 0 none, K >= 1 every K-th point */
        int noise;
        int png;
        int metrics;
        int log_iterations;
    } output;
    char *source; /* file name the config came from ("<default>" for defaults) */
    /* Where each key's value came from, per schema row (same index as pd_config_schema()): a line
     * (>= 1) of `source`, PD_CFG_FROM_SET for --set, 0 for the default. Used by messages only. */
    int origin[PD_CONFIG_MAX_KEYS];
} pd_config;

/* cfg = all defaults. On error cfg holds nothing to free. Every other function takes a cfg set up by
 * pd_config_init; on error a cfg may hold some of the new values but stays valid for pd_config_free. */
pd_status pd_config_init(pd_ctx *ctx, pd_config *cfg);
/* Load path over the defaults (unknown keys, wrong types, out-of-range values: PD_ERR_INPUT with
 * "path:line: section.key: expected ..., got ..."). */
pd_status pd_config_load_file(pd_ctx *ctx, pd_config *cfg, const char *path);
/* Same, from text (name is used in messages in place of a file name). */
pd_status pd_config_load_text(pd_ctx *ctx, pd_config *cfg, const char *text, const char *name);
/* Apply "section.key=value" (value parsed as YAML: 1e-3, true, [1, 2], "text"). Errors name
 * "--set section.key". */
pd_status pd_config_set(pd_ctx *ctx, pd_config *cfg, const char *assignment);
/* Checks that involve several keys (spacing allowed for the schedule, solver name known, model
 * parameters present and consistent). Run after loading and --set. */
pd_status pd_config_validate(pd_ctx *ctx, const pd_config *cfg);
/* Write the resolved config as YAML (every key, in schema order). */
pd_status pd_config_write_yaml(pd_ctx *ctx, const pd_config *cfg, FILE *f);
/* Same into a malloc'ed string (*out, caller frees). */
pd_status pd_config_to_yaml(pd_ctx *ctx, const pd_config *cfg, char **out);
/* Write the schema as a Markdown table (docs/CONFIG.md). */
pd_status pd_config_write_doc(pd_ctx *ctx, FILE *f);
/* Frees the strings and lists and zeroes cfg (safe to call twice, and on a zeroed cfg). */
void pd_config_free(pd_config *cfg);
/* 1 when every schema key of a and b holds the same value (source and origin are not compared). */
int pd_config_equal(const pd_config *a, const pd_config *b);

/* Schedule parameters from the config. */
pd_schedule_params pd_config_schedule_params(const pd_config *cfg);

/* ----- the schema (config_schema.c): one row per key; everything above reads it ----- */

typedef enum {
    PD_CFG_INT = 0,   /* int */
    PD_CFG_INT64,     /* int64_t */
    PD_CFG_UINT64,    /* uint64_t */
    PD_CFG_DOUBLE,    /* double, finite */
    PD_CFG_BOOL,      /* int 0/1; YAML true/false */
    PD_CFG_STRING,    /* char *, malloc'ed; null or empty = "" */
    PD_CFG_ENUM,      /* int-sized C enum; value = index into `values` */
    PD_CFG_LIST,      /* pd_cfg_array, flat list of numbers: [rows] x 1; [] = absent */
    PD_CFG_INT_LIST,  /* pd_cfg_array, flat list of integers */
    PD_CFG_MATRIX,    /* pd_cfg_array, flat list ([rows] x 1) or list of equal-length lists */
    PD_CFG_TRAJECTORY /* char * "none" | "all" | "every:K", and int K at offset2 */
} pd_cfg_type;

/* Allowed range of a number (of every element, for lists). */
typedef enum {
    PD_CFG_ANY = 0,
    PD_CFG_GE,         /* x >= lo */
    PD_CFG_GT,         /* x > lo */
    PD_CFG_CLOSED,     /* lo <= x <= hi */
    PD_CFG_OPEN,       /* lo < x < hi */
    PD_CFG_OPEN_CLOSED /* lo < x <= hi */
} pd_cfg_bounds;

typedef struct pd_cfg_key {
    const char *section;
    const char *key;
    pd_cfg_type type;
    size_t offset;             /* offsetof(pd_config, section.key) */
    size_t offset2;            /* PD_CFG_TRAJECTORY: offsetof the parsed K */
    const char *def;           /* default, as YAML text (parsed like a --set value) */
    const char *const *values; /* PD_CFG_ENUM: names, NULL-terminated, index = C enum value */
    pd_cfg_bounds bounds;
    double lo, hi;
    const char *allowed; /* docs: the "allowed" column where type and bounds do not say it */
    const char *doc;     /* one line (Markdown) */
} pd_cfg_key;

/* The table, in schema order (sections contiguous); *n = its rows. */
const pd_cfg_key *pd_config_schema(int *n);
/* The row of section.key, or NULL. */
const pd_cfg_key *pd_config_schema_find(const char *section, const char *key);
/* Is spacing sp allowed with schedule kind k (DESIGN.md §2; the table is in config_schema.c)? */
int pd_config_spacing_allowed(pd_schedule_kind k, pd_spacing sp);
/* Is the schedule kind discrete (ddpm-*)? */
int pd_config_schedule_discrete(pd_schedule_kind k);

#endif
