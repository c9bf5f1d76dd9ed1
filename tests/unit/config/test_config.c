/* The config module: defaults, a full file, --set on every type, write -> load round trip, the
 * schema's own consistency, and bad input of many kinds, each checked for its exact message
 * (file, 1-based line, key, what was expected) and status PD_ERR_INPUT.
 *
 * argv[1]: folder of the example bad configs (tests/cli/bad). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "pd_test.h"
#include "pintdiff/schedule.h"
#include "pintdiff/solver.h"
#include "pintdiff/state.h"

static pd_ctx *ctx;

/* st is PD_ERR_INPUT and the message is exactly want; clears the context. */
static int expect_error(pd_status st, const char *want, const char *what)
{
    int bad = 0;
    if (st != PD_ERR_INPUT) {
        fprintf(stderr, "FAIL: %s: status %s, want bad input (message \"%s\")\n", what, pd_status_name(st),
                pd_ctx_message(ctx));
        bad = 1;
    } else if (strcmp(pd_ctx_message(ctx), want) != 0) {
        fprintf(stderr, "FAIL: %s:\n  got  \"%s\"\n  want \"%s\"\n", what, pd_ctx_message(ctx), want);
        bad = 1;
    }
    pd_ctx_clear(ctx);
    return bad;
}

/* Loading yaml (named name) fails with exactly want. */
static int bad_text(const char *name, const char *yaml, const char *want)
{
    pd_config cfg;
    if (pd_config_init(ctx, &cfg) != PD_OK) return 1;
    int bad = expect_error(pd_config_load_text(ctx, &cfg, yaml, name), want, yaml);
    pd_config_free(&cfg);
    return bad;
}

/* Loading yaml (named name) fails with a message that starts with want_start and contains part. */
static int bad_text_parts(const char *name, const char *yaml, const char *want_start, const char *part)
{
    pd_config cfg;
    if (pd_config_init(ctx, &cfg) != PD_OK) return 1;
    pd_status st = pd_config_load_text(ctx, &cfg, yaml, name);
    const char *msg = pd_ctx_message(ctx);
    int bad = pd_expect_true(st == PD_ERR_INPUT, yaml) ||
              pd_expect_true(strncmp(msg, want_start, strlen(want_start)) == 0, want_start) ||
              pd_expect_contains(msg, part, yaml);
    if (bad) fprintf(stderr, "  message: \"%s\"\n", msg);
    pd_ctx_clear(ctx);
    pd_config_free(&cfg);
    return bad;
}

/* --set assignment fails with exactly want. */
static int bad_set(const char *assignment, const char *want)
{
    pd_config cfg;
    if (pd_config_init(ctx, &cfg) != PD_OK) return 1;
    int bad = expect_error(pd_config_set(ctx, &cfg, assignment), want, assignment);
    pd_config_free(&cfg);
    return bad;
}

/* yaml loads (then the --set assignment set, if any), and validation fails with exactly want. */
static int bad_valid(const char *yaml, const char *set, const char *want)
{
    pd_config cfg;
    int bad = 0;
    if (pd_config_init(ctx, &cfg) != PD_OK) return 1;
    if (pd_config_load_text(ctx, &cfg, yaml, "x.yaml") != PD_OK ||
        (set && pd_config_set(ctx, &cfg, set) != PD_OK)) {
        fprintf(stderr, "FAIL: %s: does not load: %s\n", yaml, pd_ctx_message(ctx));
        bad = 1;
        pd_ctx_clear(ctx);
    } else
        bad = expect_error(pd_config_validate(ctx, &cfg), want, yaml);
    pd_config_free(&cfg);
    return bad;
}

/* ----- defaults ----- */

static int test_defaults(void)
{
    pd_config c, e;
    int f = 0;
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    PD_TEST_CHECK(ctx, pd_config_validate(ctx, &c));
    f += pd_expect_true(c.model.kind == PD_MODEL_DATASET && !strcmp(c.model.file, "configs/data/digits.h5"),
                        "model");
    f += pd_expect_true(!c.model.weights.data && !c.model.means.data && !c.model.variances.data &&
                            !c.model.shape.data && c.model.weights.rows == 0,
                        "no inline GMM");
    f += pd_expect_true(c.schedule.kind == PD_SCHEDULE_DDPM_LINEAR && c.schedule.train_steps == 1000 &&
                            c.schedule.beta_start == 1e-4 && c.schedule.beta_end == 0.02 &&
                            c.schedule.beta_min == 0.1 && c.schedule.beta_max == 20 &&
                            c.schedule.t_min == 1e-3 && c.schedule.t_max == 1 &&
                            c.schedule.sigma_min == 0.002 && c.schedule.sigma_max == 80 &&
                            c.schedule.rho == 7 && c.schedule.final == PD_FINAL_ALPHA_ONE,
                        "schedule");
    f += pd_expect_true(c.sampler.method == PD_METHOD_SERIAL && !strcmp(c.sampler.solver, "ddim") &&
                            c.sampler.steps == 50 && c.sampler.spacing == PD_SPACING_UNIFORM &&
                            c.sampler.eta == 0 && c.sampler.variance == PD_VARIANCE_SMALL &&
                            c.sampler.lower_order_final == 1 && c.sampler.start == PD_START_PRIOR,
                        "sampler (serial)");
    f += pd_expect_true(!strcmp(c.sampler.fine, "ddim") && !strcmp(c.sampler.coarse, "ddim") &&
                            c.sampler.coarse_steps == 1 && c.sampler.blocks == 0 && c.sampler.window == 0 &&
                            c.sampler.tol == 1e-3 && c.sampler.max_iters == 0 && c.sampler.pipeline == 0,
                        "sampler (parallel)");
    f += pd_expect_true(c.batch.samples == 64 && c.batch.seed == 0 && c.batch.dtype == PD_F32, "batch");
    f += pd_expect_true(c.device.kind == PD_DEVKIND_AUTO && c.device.comm == PD_COMM_AUTO, "device");
    f += pd_expect_true(!strcmp(c.output.file, "pintdiff.h5") && !strcmp(c.output.trajectory, "none") &&
                            c.output.trajectory_every == 0 && c.output.noise == 0 && c.output.png == 1 &&
                            c.output.metrics == 1 && c.output.log_iterations == 1,
                        "output");
    f += pd_expect_true(!strcmp(c.source, "<default>"), "source");
    for (int i = 0; i < PD_CONFIG_MAX_KEYS; i++)
        f += pd_expect_true(c.origin[i] == 0, "origin of a default");

    /* the schema's schedule defaults are the core's */
    pd_schedule_params p = pd_config_schedule_params(&c), q = pd_schedule_defaults(PD_SCHEDULE_DDPM_LINEAR);
    f += pd_expect_true(p.kind == q.kind && p.train_steps == q.train_steps && p.beta_start == q.beta_start &&
                            p.beta_end == q.beta_end && p.beta_min == q.beta_min &&
                            p.beta_max == q.beta_max && p.t_min == q.t_min && p.t_max == q.t_max &&
                            p.sigma_min == q.sigma_min && p.sigma_max == q.sigma_max && p.rho == q.rho,
                        "schedule defaults = pd_schedule_defaults");

    /* an empty file, a comment, empty sections: all defaults */
    const char *empties[] = {"", "# nothing\n", "sampler:\nbatch: ~\n", "---\n...\n"};
    for (int i = 0; i < 4; i++) {
        PD_TEST_CHECK(ctx, pd_config_init(ctx, &e));
        PD_TEST_CHECK(ctx, pd_config_load_text(ctx, &e, empties[i], "empty.yaml"));
        f += pd_expect_true(pd_config_equal(&c, &e), empties[i]);
        pd_config_free(&e);
    }
    pd_config_free(&c);
    pd_config_free(&c); /* twice is safe */
    return f;
}

/* ----- the schema itself ----- */

static int test_schema(void)
{
    int n, f = 0;
    const pd_cfg_key *s = pd_config_schema(&n);
    f += pd_expect_true(n > 0 && n <= PD_CONFIG_MAX_KEYS, "schema size");
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            /* sections contiguous; keys unique */
            if (!strcmp(s[i].section, s[j].section) && strcmp(s[i - 1].section, s[i].section))
                f += pd_expect_true(0, s[i].section);
            if (!strcmp(s[i].section, s[j].section) && !strcmp(s[i].key, s[j].key))
                f += pd_expect_true(0, s[i].key);
        }
        f += pd_expect_true(s[i].doc && s[i].doc[0] && s[i].def, s[i].key);
        f += pd_expect_true(pd_config_schema_find(s[i].section, s[i].key) == &s[i], "find");
        f += pd_expect_true((s[i].type == PD_CFG_ENUM) == (s[i].values != NULL), "enum values");
    }
    f += pd_expect_true(pd_config_schema_find("sampler", "bogus") == NULL, "find unknown");

    /* enum names agree with the core's names of the same C enums */
    const pd_cfg_key *sp = pd_config_schema_find("sampler", "spacing");
    const pd_cfg_key *sk = pd_config_schema_find("schedule", "kind");
    const pd_cfg_key *dt = pd_config_schema_find("batch", "dtype");
    for (int i = 0; sp->values[i]; i++)
        f += pd_expect_true(!strcmp(sp->values[i], pd_spacing_name((pd_spacing)i)), sp->values[i]);
    for (int i = 0; sk->values[i]; i++)
        f +=
            pd_expect_true(!strcmp(sk->values[i], pd_schedule_kind_name((pd_schedule_kind)i)), sk->values[i]);
    f += pd_expect_true(!strcmp(dt->values[PD_F32], "float32") && !strcmp(dt->values[PD_F64], "float64"),
                        "dtype");

    /* spacing table (DESIGN.md §2) */
    f += pd_expect_true(pd_config_spacing_allowed(PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LINSPACE_DPM) &&
                            !pd_config_spacing_allowed(PD_SCHEDULE_DDPM_COSINE, PD_SPACING_KARRAS) &&
                            !pd_config_spacing_allowed(PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LOGSNR) &&
                            pd_config_spacing_allowed(PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR) &&
                            !pd_config_spacing_allowed(PD_SCHEDULE_VP_LINEAR, PD_SPACING_LEADING) &&
                            pd_config_spacing_allowed(PD_SCHEDULE_EDM, PD_SPACING_KARRAS) &&
                            !pd_config_spacing_allowed(PD_SCHEDULE_EDM, PD_SPACING_UNIFORM),
                        "spacing table");
    return f;
}

/* ----- a full valid file ----- */

static const char full_yaml[] = "# every key, none at its default\n"
                                "model:\n"
                                "  kind: gmm\n" /* 3 */
                                "  file: \"\"\n"
                                "  weights: [0.25, 0.75]\n" /* 5 */
                                "  means:\n"
                                "    - [-1.5, 0, 2]\n"
                                "    - [1, 1e-3, -2]\n"
                                "  variances: [0.5, 0.25]\n" /* 9 */
                                "  shape: [3, 1]\n"
                                "schedule:\n"
                                "  kind: vp-linear\n" /* 12 */
                                "  train_steps: 500\n"
                                "  beta_start: 2e-4\n"
                                "  beta_end: 0.03\n"
                                "  beta_min: 0.2\n"
                                "  beta_max: 19.5\n"
                                "  t_min: 0.002\n"
                                "  t_max: 0.999\n"
                                "  sigma_min: 0.01\n"
                                "  sigma_max: 60\n"
                                "  rho: 5.5\n"
                                "  final: alpha-one\n"
                                "sampler:\n"
                                "  method: serial\n"
                                "  solver: dpmpp-2m\n" /* 26 */
                                "  steps: 20\n"
                                "  spacing: logsnr\n"
                                "  eta: 0.5\n"
                                "  variance: large\n"
                                "  lower_order_final: false\n"
                                "  start: exact\n"
                                "  fine: ddpm\n"
                                "  coarse: ddim\n"
                                "  coarse_steps: 2\n"
                                "  blocks: 4\n"
                                "  window: 8\n"
                                "  tol: 1.0e-5\n"
                                "  max_iters: 3\n"
                                "  pipeline: true\n"
                                "batch:\n"
                                "  samples: 12345678\n"
                                "  seed: 18446744073709551615\n"
                                "  dtype: float64\n"
                                "device:\n"
                                "  kind: cpu\n"
                                "  comm: mpi\n"
                                "output:\n"
                                "  file: 'results/run 1.h5'\n"
                                "  trajectory: every:4\n" /* 50 */
                                "  noise: true\n"
                                "  png: false\n"
                                "  metrics: false\n"
                                "  log_iterations: false\n";

static int check_full(const pd_config *c)
{
    int f = 0;
    f += pd_expect_true(c->model.kind == PD_MODEL_GMM && !strcmp(c->model.file, ""), "model.kind, file");
    f += pd_expect_true(c->model.weights.rows == 2 && c->model.weights.cols == 1 &&
                            c->model.weights.data[1] == 0.75,
                        "model.weights");
    f += pd_expect_true(c->model.means.rows == 2 && c->model.means.cols == 3 &&
                            c->model.means.data[0] == -1.5 && c->model.means.data[4] == 1e-3 &&
                            c->model.means.data[5] == -2,
                        "model.means");
    f += pd_expect_true(c->model.variances.rows == 2 && c->model.variances.cols == 1, "model.variances");
    f += pd_expect_true(c->model.shape.rows == 2 && c->model.shape.data[0] == 3, "model.shape");
    f += pd_expect_true(
        c->schedule.kind == PD_SCHEDULE_VP_LINEAR && c->schedule.train_steps == 500 &&
            c->schedule.beta_start == 2e-4 && c->schedule.beta_end == 0.03 && c->schedule.beta_min == 0.2 &&
            c->schedule.beta_max == 19.5 && c->schedule.t_min == 0.002 && c->schedule.t_max == 0.999 &&
            c->schedule.sigma_min == 0.01 && c->schedule.sigma_max == 60 && c->schedule.rho == 5.5,
        "schedule");
    f += pd_expect_true(!strcmp(c->sampler.solver, "dpmpp-2m") && c->sampler.steps == 20 &&
                            c->sampler.spacing == PD_SPACING_LOGSNR && c->sampler.eta == 0.5 &&
                            c->sampler.variance == PD_VARIANCE_LARGE && c->sampler.lower_order_final == 0 &&
                            c->sampler.start == PD_START_EXACT,
                        "sampler (serial)");
    f +=
        pd_expect_true(!strcmp(c->sampler.fine, "ddpm") && !strcmp(c->sampler.coarse, "ddim") &&
                           c->sampler.coarse_steps == 2 && c->sampler.blocks == 4 && c->sampler.window == 8 &&
                           c->sampler.tol == 1e-5 && c->sampler.max_iters == 3 && c->sampler.pipeline == 1,
                       "sampler (parallel)");
    f += pd_expect_true(
        c->batch.samples == 12345678 && c->batch.seed == UINT64_MAX && c->batch.dtype == PD_F64, "batch");
    f += pd_expect_true(c->device.kind == PD_DEVKIND_CPU && c->device.comm == PD_COMM_MPI, "device");
    f += pd_expect_true(!strcmp(c->output.file, "results/run 1.h5") &&
                            !strcmp(c->output.trajectory, "every:4") && c->output.trajectory_every == 4 &&
                            c->output.noise == 1 && c->output.png == 0 && c->output.metrics == 0 &&
                            c->output.log_iterations == 0,
                        "output");
    return f;
}

static int origin_of(const pd_config *c, const char *sec, const char *key)
{
    int n;
    return c->origin[pd_config_schema_find(sec, key) - pd_config_schema(&n)];
}

static int test_full_file(void)
{
    const char *path = "test_config_full.yaml";
    FILE *fp = fopen(path, "w");
    if (!fp || fputs(full_yaml, fp) < 0 || fclose(fp) != 0)
        return pd_expect_true(0, "write test_config_full.yaml");
    pd_config c;
    int f = 0;
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    PD_TEST_CHECK(ctx, pd_config_load_file(ctx, &c, path));
    PD_TEST_CHECK(ctx, pd_config_validate(ctx, &c));
    f += check_full(&c);
    f += pd_expect_true(!strcmp(c.source, path), "source");
    f += pd_expect_true(origin_of(&c, "model", "kind") == 3 && origin_of(&c, "model", "variances") == 9 &&
                            origin_of(&c, "schedule", "kind") == 12 &&
                            origin_of(&c, "sampler", "solver") == 26 &&
                            origin_of(&c, "output", "trajectory") == 50,
                        "origin lines");
    pd_config_free(&c);
    remove(path);
    return f;
}

/* ----- --set, every type ----- */

static int test_set(void)
{
    pd_config c;
    int f = 0;
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    const char *sets[] = {
        "sampler.steps=20",
        "batch.samples=100000000",
        "batch.seed=18446744073709551615",
        "sampler.tol=1e-4",
        "output.png=false",
        "output.file=out dir/x.h5",
        "sampler.solver=\"heun\"",
        "schedule.kind=edm",
        "sampler.spacing=karras",
        "model.kind=gmm",
        "model.weights=[0.5,0.5]",
        "model.means=[[0, 1], [2, 3]]",
        "model.variances=[[1, 2], [3, 4]]",
        "model.shape=[2]",
        "output.trajectory=every:5",
        "sampler.eta= 0.25",
        "schedule.rho=3",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, sets[i]));
    PD_TEST_CHECK(ctx, pd_config_validate(ctx, &c));
    f += pd_expect_true(c.sampler.steps == 20, "int");
    f += pd_expect_true(c.batch.samples == 100000000, "int64");
    f += pd_expect_true(c.batch.seed == UINT64_MAX, "uint64");
    f += pd_expect_true(c.sampler.tol == 1e-4 && c.sampler.eta == 0.25 && c.schedule.rho == 3, "double");
    f += pd_expect_true(c.output.png == 0, "bool");
    f +=
        pd_expect_true(!strcmp(c.output.file, "out dir/x.h5") && !strcmp(c.sampler.solver, "heun"), "string");
    f += pd_expect_true(c.schedule.kind == PD_SCHEDULE_EDM && c.sampler.spacing == PD_SPACING_KARRAS, "enum");
    f += pd_expect_true(
        c.model.weights.rows == 2 && c.model.weights.cols == 1 && c.model.weights.data[0] == 0.5, "list");
    f += pd_expect_true(c.model.means.rows == 2 && c.model.means.cols == 2 && c.model.means.data[3] == 3,
                        "matrix");
    f += pd_expect_true(c.model.shape.rows == 1 && c.model.shape.data[0] == 2, "integer list");
    f += pd_expect_true(!strcmp(c.output.trajectory, "every:5") && c.output.trajectory_every == 5,
                        "trajectory");
    f += pd_expect_true(origin_of(&c, "sampler", "tol") == PD_CFG_FROM_SET, "origin of --set");

    /* all / none, and back to absent lists and an empty string */
    PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, "output.trajectory=all"));
    f += pd_expect_true(!strcmp(c.output.trajectory, "all") && c.output.trajectory_every == 1,
                        "trajectory all");
    PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, "output.trajectory=none"));
    f += pd_expect_true(!strcmp(c.output.trajectory, "none") && c.output.trajectory_every == 0,
                        "trajectory none");
    PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, "model.shape=[]"));
    PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, "model.weights="));
    f += pd_expect_true(!c.model.shape.data && c.model.shape.rows == 0 && !c.model.weights.data,
                        "absent lists");
    PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, "model.file="));
    f += pd_expect_true(!strcmp(c.model.file, ""), "empty string");

    /* --set over a file */
    PD_TEST_CHECK(ctx, pd_config_load_text(ctx, &c, "sampler:\n  tol: 0.5\n", "a.yaml"));
    f += pd_expect_true(c.sampler.tol == 0.5 && origin_of(&c, "sampler", "tol") == 2, "file over --set");
    PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, "sampler.tol=0.25"));
    f += pd_expect_true(c.sampler.tol == 0.25 && origin_of(&c, "sampler", "tol") == PD_CFG_FROM_SET,
                        "--set over file");
    pd_config_free(&c);
    return f;
}

/* ----- round trip ----- */

static int round_trip(const pd_config *a, const char *what)
{
    pd_config b;
    char *y1 = NULL, *y2 = NULL;
    int f = 0;
    PD_TEST_CHECK(ctx, pd_config_to_yaml(ctx, a, &y1));
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &b));
    PD_TEST_CHECK(ctx, pd_config_load_text(ctx, &b, y1, "resolved.yaml"));
    PD_TEST_CHECK(ctx, pd_config_to_yaml(ctx, &b, &y2));
    f += pd_expect_true(pd_config_equal(a, &b), what);
    f += pd_expect_true(!strcmp(y1, y2), "written twice, same text");
    if (f) fprintf(stderr, "%s\n---\n%s\n", y1, y2);
    free(y1);
    free(y2);
    pd_config_free(&b);
    return f;
}

static int test_round_trip(void)
{
    pd_config c;
    int f = 0;
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    f += round_trip(&c, "defaults");
    PD_TEST_CHECK(ctx, pd_config_load_text(ctx, &c, full_yaml, "full.yaml"));
    f += round_trip(&c, "full file");
    /* numbers that need 17 digits, odd strings, a 1-column matrix, a K x d variance */
    const char *sets[] = {"sampler.tol=0.1",
                          "schedule.beta_start=0.000123456789012345678",
                          "schedule.rho=3.0000000000000004",
                          "output.file=\"we\\\"ird\\\\ name\\t\\n.h5\"",
                          "model.means=[[1], [2]]",
                          "model.variances=[[0.5, 0.25, 0.125], [1, 2, 3]]",
                          "sampler.solver=ünïcode",
                          "batch.samples=1",
                          "sampler.eta=1e-300"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, sets[i]));
    f += round_trip(&c, "odd values");
    f += pd_expect_true(c.model.means.cols == 1 && c.model.means.rows == 2, "flat matrix");
    PD_TEST_CHECK(ctx, pd_config_set(ctx, &c, "output.trajectory=all"));
    f += round_trip(&c, "trajectory all");

    /* the written text itself: sections, flow lists, quoted strings */
    char *y = NULL;
    pd_config_free(&c);
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    PD_TEST_CHECK(ctx, pd_config_load_text(ctx, &c, full_yaml, "full.yaml"));
    PD_TEST_CHECK(ctx, pd_config_to_yaml(ctx, &c, &y));
    f += pd_expect_contains(y, "model:\n  kind: gmm\n  file: \"\"\n  weights: [0.25, 0.75]\n", "yaml text");
    f += pd_expect_contains(y, "  means: [[-1.5, 0, 2], [1, 0.001, -2]]\n", "yaml matrix");
    f += pd_expect_contains(y, "  seed: 18446744073709551615\n", "yaml uint64");
    f += pd_expect_contains(y, "output:\n  file: \"results/run 1.h5\"\n  trajectory: every:4\n",
                            "yaml output");
    free(y);
    pd_config_free(&c);
    return f;
}

/* ----- bad input: loading ----- */

static int test_bad_load(void)
{
    int f = 0;
    f += bad_text(
        "x.yaml", "sampler:\n  steps: 10\n  bogus: 1\n",
        "x.yaml:3: sampler.bogus: unknown key (known in sampler: method, solver, steps, spacing, eta, "
        "variance, conj_lambda, lower_order_final, start, fine, coarse, coarse_steps, coarse_noise, blocks, window, tol, max_iters, "
        "pipeline)");
    f +=
        bad_text("x.yaml", "batch:\n  seed: 1\nbogus:\n  a: 1\n",
                 "x.yaml:3: bogus: unknown section (known: model, schedule, sampler, batch, device, output)");
    f += bad_text("x.yaml", "sampler: 5\n", "x.yaml:1: sampler: expected a mapping of keys, got \"5\"");
    f += bad_text("x.yaml", "sampler:\n  - steps\n",
                  "x.yaml:2: sampler: expected a mapping of keys, got a list");
    f += bad_text("x.yaml", "- a\n- b\n",
                  "x.yaml:1: expected a mapping of sections (model, schedule, ...), got a list");
    f += bad_text("x.yaml", "sampler:\n  steps: 10\n  tol: 1e-3\n  steps: 20\n",
                  "x.yaml:4: sampler.steps: duplicate key (first on line 2)");
    f += bad_text("x.yaml", "batch:\n  seed: 1\nbatch:\n  seed: 2\n",
                  "x.yaml:3: batch: duplicate section (first on line 1)");
    f += bad_text("x.yaml", "sampler:\n  [steps]: 1\n", "x.yaml:2: sampler: expected a key name, got a list");
    f += bad_text("x.yaml", "batch:\n  seed: 1\n---\nbatch:\n  seed: 2\n",
                  "x.yaml:4: expected one YAML document, found a second");
    /* YAML syntax: libyaml's text and line */
    f += bad_text_parts("x.yaml", "sampler:\n  steps: 10\n tol: 1\n",
                        "x.yaml:3: invalid YAML: ", "did not find expected key");
    f += bad_text_parts("x.yaml", "model:\n  weights: [0.5, 0.5\nbatch:\n  seed: 1\n",
                        "x.yaml:", "invalid YAML: ");
    f +=
        bad_text_parts("x.yaml", "sampler:\n  solver: \"ddim\n", "x.yaml:", "found unexpected end of stream");
    f += bad_text_parts("x.yaml", "sampler:\n  tol: 1\n\tsteps: 2\n", "x.yaml:3: invalid YAML: ", "tab");

    /* the value of each type */
    f += bad_text("configs/x.yaml", "# a\n# b\n# c\n# d\n# e\n# f\n# g\n# h\n# i\n# j\nsampler:\n  tol: -1\n",
                  "configs/x.yaml:12: sampler.tol: expected a positive number, got \"-1\"");
    f += bad_text("x.yaml", "sampler:\n  eta: abc\n",
                  "x.yaml:2: sampler.eta: expected a number in [0, 1], got \"abc\"");
    f += bad_text("x.yaml", "sampler:\n  eta: 1.5\n",
                  "x.yaml:2: sampler.eta: expected a number in [0, 1], got \"1.5\"");
    f += bad_text("x.yaml", "schedule:\n  beta_end: 1\n",
                  "x.yaml:2: schedule.beta_end: expected a number in (0, 1), got \"1\"");
    f += bad_text("x.yaml", "schedule:\n  t_min: 0\n",
                  "x.yaml:2: schedule.t_min: expected a number in (0, 1], got \"0\"");
    f += bad_text("x.yaml", "schedule:\n  rho: .nan\n",
                  "x.yaml:2: schedule.rho: expected a positive number, got \".nan\"");
    f += bad_text("x.yaml", "schedule:\n  rho: 1e999\n",
                  "x.yaml:2: schedule.rho: expected a positive number, got \"1e999\"");
    f += bad_text("x.yaml", "schedule:\n  sigma_max:\n",
                  "x.yaml:2: schedule.sigma_max: expected a positive number, got \"\"");
    f += bad_text(
        "x.yaml", "\nschedule:\n  kind: linear\n",
        "x.yaml:3: schedule.kind: expected one of ddpm-linear, ddpm-cosine, vp-linear, edm, li, psld, got \"linear\"");
    f += bad_text("x.yaml", "batch:\n  dtype: Float32\n",
                  "x.yaml:2: batch.dtype: expected one of float32, float64, got \"Float32\"");
    f += bad_text(
        "x.yaml", "batch:\n  samples: 99999999999999999999\n",
        "x.yaml:2: batch.samples: expected an integer in [1, 100000000], got \"99999999999999999999\"");
    f += bad_text("x.yaml", "batch:\n  samples: 100000001\n",
                  "x.yaml:2: batch.samples: expected an integer in [1, 100000000], got \"100000001\"");
    f += bad_text("x.yaml", "sampler:\n  steps: fifty\n",
                  "x.yaml:2: sampler.steps: expected an integer in [1, 100000], got \"fifty\"");
    f += bad_text("x.yaml", "sampler:\n  steps: 1.5\n",
                  "x.yaml:2: sampler.steps: expected an integer in [1, 100000], got \"1.5\"");
    f += bad_text("x.yaml", "sampler:\n  blocks: 3000000000\n",
                  "x.yaml:2: sampler.blocks: expected a non-negative integer, got \"3000000000\"");
    f += bad_text("x.yaml", "sampler:\n  coarse_steps: 0\n",
                  "x.yaml:2: sampler.coarse_steps: expected an integer >= 1, got \"0\"");
    f += bad_text("x.yaml", "batch:\n  seed: -1\n",
                  "x.yaml:2: batch.seed: expected a non-negative integer, got \"-1\"");
    f += bad_text("x.yaml", "batch:\n  seed: 18446744073709551616\n",
                  "x.yaml:2: batch.seed: expected a non-negative integer, got \"18446744073709551616\"");
    f += bad_text("x.yaml", "output:\n  png: maybe\n",
                  "x.yaml:2: output.png: expected true or false, got \"maybe\"");
    f += bad_text("x.yaml", "output:\n  noise: [true]\n",
                  "x.yaml:2: output.noise: expected true or false, got a list");
    f += bad_text("x.yaml", "sampler:\n  solver: {a: 1}\n",
                  "x.yaml:2: sampler.solver: expected a string, got a mapping");
    f += bad_text("x.yaml", "output:\n  trajectory: every:0\n",
                  "x.yaml:2: output.trajectory: expected none, all, every:K with K >= 1, or boundaries, got \"every:0\"");
    f += bad_text(
        "x.yaml", "output:\n  trajectory: bounds\n",
        "x.yaml:2: output.trajectory: expected none, all, every:K with K >= 1, or boundaries, got \"bounds\"");

    /* lists */
    f += bad_text("x.yaml", "model:\n  weights: [0.5, -0.5]\n",
                  "x.yaml:2: model.weights[1]: expected a positive number, got \"-0.5\"");
    f += bad_text("x.yaml", "model:\n  weights:\n    - 0.5\n    - x\n",
                  "x.yaml:4: model.weights[1]: expected a positive number, got \"x\"");
    f += bad_text("x.yaml", "model:\n  weights: 0.5\n",
                  "x.yaml:2: model.weights: expected a list of numbers, got \"0.5\"");
    f += bad_text("x.yaml", "model:\n  weights: [[1]]\n",
                  "x.yaml:2: model.weights: expected a list of numbers, got nested lists");
    f += bad_text("x.yaml", "model:\n  means: [[0, 0], [1]]\n",
                  "x.yaml:2: model.means: expected rows of equal, non-zero length, row 0 has 2 numbers and "
                  "row 1 has 1");
    f += bad_text("x.yaml", "model:\n  means: [[0, 0], 1]\n",
                  "x.yaml:2: model.means: expected a list of numbers or a list of equal-length lists of "
                  "numbers, got nested lists");
    f += bad_text("x.yaml", "model:\n  means:\n    - [0, 0]\n    - [1, {a: 1}]\n",
                  "x.yaml:4: model.means[1][1]: expected a number, got a mapping");
    f += bad_text("x.yaml", "model:\n  variances: [[1, 0]]\n",
                  "x.yaml:2: model.variances[0][1]: expected a positive number, got \"0\"");
    f += bad_text("x.yaml", "model:\n  shape: [2, 1.5]\n",
                  "x.yaml:2: model.shape[1]: expected an integer >= 1, got \"1.5\"");

    /* files */
    pd_config c;
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    f += expect_error(pd_config_load_file(ctx, &c, "/nonexistent/dir/x.yaml"),
                      "cannot open /nonexistent/dir/x.yaml: No such file or directory", "missing file");
    f += expect_error(pd_config_load_file(ctx, &c, "."), "cannot read .: Is a directory", "a directory");
    pd_config_free(&c);
    return f;
}

/* ----- bad input: --set ----- */

static int test_bad_set(void)
{
    int f = 0;
    f += bad_set("sampler.tol", "--set sampler.tol: expected section.key=value");
    f += bad_set("steps=5", "--set steps: expected section.key=value");
    f += bad_set("sampler.bogus=1",
                 "--set sampler.bogus: unknown key (known in sampler: method, solver, steps, spacing, "
                 "eta, variance, conj_lambda, lower_order_final, start, fine, coarse, coarse_steps, coarse_noise, blocks, window, tol, "
                 "max_iters, "
                 "pipeline)");
    f += bad_set("bogus.x=1",
                 "--set bogus.x: unknown section (known: model, schedule, sampler, batch, device, output)");
    f += bad_set("sampler.tol=-1", "--set sampler.tol: expected a positive number, got \"-1\"");
    f += bad_set("sampler.tol=", "--set sampler.tol: expected a positive number, got \"\"");
    f += bad_set("sampler.steps=1e3", "--set sampler.steps: expected an integer in [1, 100000], got \"1e3\"");
    f += bad_set(
        "schedule.kind=linear",
        "--set schedule.kind: expected one of ddpm-linear, ddpm-cosine, vp-linear, edm, li, psld, got \"linear\"");
    f += bad_set("model.weights=[0.5, x]", "--set model.weights[1]: expected a positive number, got \"x\"");
    f += bad_set("sampler.tol=a: b", "--set sampler.tol: expected a positive number, got a mapping");
    pd_config c;
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    pd_status st = pd_config_set(ctx, &c, "model.weights=[0.5,");
    f += pd_expect_true(st == PD_ERR_INPUT, "--set syntax status");
    f += pd_expect_contains(pd_ctx_message(ctx), "--set model.weights: invalid YAML: ", "--set syntax");
    pd_ctx_clear(ctx);
    pd_config_free(&c);
    return f;
}

/* ----- bad input: checks across keys ----- */

static int test_bad_validate(void)
{
    int f = 0;
    char want[1024];
    f += bad_valid("output:\n  trajectory: boundaries\n", NULL,
                   "x.yaml:2: output.trajectory: boundaries are stored by sampler.method: parareal only "
                   "(serial: none, all or every:K)");
    f += bad_valid("sampler:\n  method: parareal\noutput:\n  trajectory: every:3\n", NULL,
                   "x.yaml:4: output.trajectory: expected none or boundaries with sampler.method: parareal, "
                   "got \"every:3\"");
    f += bad_valid(
        "schedule:\n  kind: edm\nsampler:\n  spacing: uniform\n", NULL,
        "x.yaml:4: sampler.spacing: uniform is not allowed with schedule.kind edm (allowed: karras)");
    f += bad_valid(
        "schedule:\n  kind: edm\n", NULL,
        "x.yaml:2: schedule.kind: edm does not allow sampler.spacing uniform (the default; allowed: karras)");
    f += bad_valid(
        "schedule:\n  kind: vp-linear\n", "sampler.spacing=leading",
        "--set sampler.spacing: leading is not allowed with schedule.kind vp-linear (allowed: uniform, "
        "quadratic, logsnr, karras)");
    f += bad_valid(
        "sampler:\n  spacing: karras\n", NULL,
        "x.yaml:2: sampler.spacing: karras is not allowed with schedule.kind ddpm-linear (allowed: uniform, "
        "leading, trailing, linspace, linspace-dpm, quadratic)");
    snprintf(want, sizeof want, "x.yaml:2: sampler.solver: unknown solver \"rk4\" (known: %s)",
             pd_solver_names());
    f += bad_valid("sampler:\n  solver: rk4\n", NULL, want);
    snprintf(want, sizeof want, "--set sampler.coarse: unknown solver \"DDIM\" (known: %s)",
             pd_solver_names());
    f += bad_valid("", "sampler.coarse=DDIM", want);
    snprintf(want, sizeof want, "x.yaml:3: sampler.fine: unknown solver \"\" (known: %s)", pd_solver_names());
    f += bad_valid("sampler:\n\n  fine:\n", NULL, want);
    f += bad_valid(
        "model:\n  kind: gmm\n  file: \"\"\n", NULL,
        "x.yaml:3: model.file: model.kind gmm needs model.file or inline model.weights, model.means and "
        "model.variances");
    f += bad_valid(
        "model:\n  kind: gmm\n  weights: [1]\n  means: [[0, 0]]\n", NULL,
        "x.yaml: model.variances: missing (inline GMM parameters need model.weights, model.means and "
        "model.variances)");
    f += bad_valid("model:\n  kind: gmm\n  weights: [0.5, 0.5]\n  means: [[0, 0]]\n  variances: [1, 1]\n",
                   NULL, "x.yaml:4: model.means: expected 2 rows (one per weight), got 1");
    f +=
        bad_valid("model:\n  kind: gmm\n  weights: [0.5, 0.5]\n  means: [[0, 0], [1, 1]]\n  variances: [1]\n",
                  NULL, "x.yaml:5: model.variances: expected 2 values or rows (one per weight), got 1");
    f += bad_valid("model:\n  kind: gmm\n  weights: [1]\n  means: [[0, 0, 0]]\n  variances: [[1, 2]]\n", NULL,
                   "x.yaml:5: model.variances: expected rows of 1 or 3 numbers (as model.means), got 2");
    f += bad_valid(
        "model:\n  kind: gmm\n  weights: [1]\n  means: [[0, 0, 0, 0]]\n  variances: [1]\n  shape: [3]\n",
        NULL, "x.yaml:6: model.shape: expected a product of 4 (the length of a mean), got 3");
    f += bad_valid("model:\n  kind: gmm\n  file: g.h5\n  shape: [2]\n", NULL,
                   "x.yaml:4: model.shape: only used with inline GMM parameters");
    f += bad_valid("model:\n  file: \"\"\n", NULL,
                   "x.yaml:2: model.file: model.kind dataset needs a data file");
    f += bad_valid("model:\n  weights: [1]\n", NULL,
                   "x.yaml:2: model.weights: inline GMM parameters need model.kind gmm");
    f += bad_valid(
        "schedule:\n  kind: edm\n  final: alpha0\nsampler:\n  spacing: karras\n", NULL,
        "x.yaml:3: schedule.final: alpha0 needs a discrete schedule (ddpm-linear, ddpm-cosine, li), got "
        "schedule.kind edm");
    f += bad_valid("schedule:\n  kind: li\n  li_c1: 4\n", NULL,
                   "x.yaml: schedule.li_c0: the li schedule needs li_c0 > 0 (no default), got 0");
    f += bad_valid("schedule:\n  kind: li\n  li_c0: 2\n  li_c1: 200\n", NULL,
                   "x.yaml:4: schedule.li_c1: li_c1 log T / T = 1.38155 with T = train_steps = 1000: expected < 1");
    f += bad_valid("schedule:\n  beta_start: 0.5\n", NULL,
                   "x.yaml:2: schedule.beta_start: expected less than schedule.beta_end (0.02), got 0.5");
    f += bad_valid("schedule:\n  sigma_max: 0.001\n", "schedule.sigma_min=0.01",
                   "--set schedule.sigma_min: expected less than schedule.sigma_max (0.001), got 0.01");
    f += bad_valid("schedule:\n  t_max: 0.5\n  t_min: 0.5\n", NULL,
                   "x.yaml:3: schedule.t_min: expected less than schedule.t_max (0.5), got 0.5");
    f += bad_valid(
        "schedule:\n  train_steps: 10\n", NULL,
        "x.yaml: sampler.steps: expected at most schedule.train_steps (10) on the discrete schedule "
        "ddpm-linear, got 50"); /* the default steps: no line */
    f += bad_valid("output:\n  file: out.txt\n", NULL,
                   "x.yaml:2: output.file: expected a file name ending in .h5, got \"out.txt\"");
    f += bad_valid("", "output.file=", "--set output.file: expected a file name ending in .h5, got \"\"");
    f += bad_valid("", "output.file=.h5",
                   "--set output.file: expected a file name ending in .h5, got \".h5\"");

    /* gmm, valid: 1-D means as a flat list; K x d variances; shape */
    pd_config c;
    PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
    PD_TEST_CHECK(ctx, pd_config_load_text(ctx, &c,
                                           "model:\n  kind: gmm\n  weights: [1, 2]\n  means: [-1, 1]\n"
                                           "  variances: [[0.5], [0.5]]\n  shape: [1, 1]\n",
                                           "g.yaml"));
    PD_TEST_CHECK(ctx, pd_config_validate(ctx, &c));
    pd_config_free(&c);
    return f;
}

/* ----- the example bad configs for the command-line tests ----- */

static int test_bad_files(const char *dir)
{
    static const struct {
        const char *file;
        const char *want;
    } cases[] = {
        {"unknown_key.yaml", ":6: sampler.bogus: unknown key (known in sampler: method, solver,"},
        {"bad_type.yaml", ":5: sampler.steps: expected an integer in [1, 100000], got \"fifty\""},
        {"out_of_range.yaml", ":7: sampler.tol: expected a positive number, got \"-1\""},
        {"bad_enum.yaml",
         ":3: schedule.kind: expected one of ddpm-linear, ddpm-cosine, vp-linear, edm, li, psld, got \"linear\""},
    };
    int f = 0;
    char path[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pd_config c;
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        PD_TEST_CHECK(ctx, pd_config_init(ctx, &c));
        pd_status st = pd_config_load_file(ctx, &c, path);
        f += pd_expect_true(st == PD_ERR_INPUT, path);
        f +=
            pd_expect_true(!strncmp(pd_ctx_message(ctx), path, strlen(path)), "message starts with the path");
        f += pd_expect_contains(pd_ctx_message(ctx), cases[i].want, path);
        pd_ctx_clear(ctx);
        pd_config_free(&c);
    }
    return f;
}

int main(int argc, char **argv)
{
    ctx = pd_ctx_create();
    if (!ctx) return 1;
    int f = 0;
    f += test_schema();
    f += test_defaults();
    f += test_full_file();
    f += test_set();
    f += test_round_trip();
    f += test_bad_load();
    f += test_bad_set();
    f += test_bad_validate();
    if (argc > 1)
        f += test_bad_files(argv[1]);
    else
        f += pd_expect_true(0, "usage: test_config DIR-OF-BAD-CONFIGS");
    pd_ctx_destroy(&ctx);
    printf("%s: %d failure(s)\n", argv[0], f);
    return f ? 1 : 0;
}
