/* One job on all ranks: setup, integration with optional trajectory output, metrics, result file.
 * Every phase ends with pd_comm_agree, so that a failure anywhere stops all ranks together. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "io/model_file.h"
#include "io/result.h"
#include "mpi/comm.h"
#include "mpi/device.h"
#include "mpi/parareal.h"
#include "mpi/picard.h"
#include "mpi/run.h"
#include "pintdiff/pintdiff.h"

typedef struct pd_job {
    const pd_config *cfg;
    MPI_Comm comm;
    int rank, size;
    pd_device_plan dev;    /* where the states live, which transport (pd_device_setup) */
    pd_schedule *sched;
    pd_grid *grid;
    pd_model *model;       /* the sampler's model */
    pd_model *data;        /* psld: the data mixture behind the augmented model (NULL otherwise) */
    pd_solver *solver;     /* serial: the integrator; parareal: the fine propagator; picard: the step */
    pd_solver *coarse;     /* parareal: the coarse propagator */
    pd_solver_ws *ws;
    pd_transport *tp;      /* time-parallel methods */
    pd_parareal *par;
    pd_picard *pic;
    int parareal, picard;  /* the method: parareal; picard or block-picard */
    int timepar;           /* a time-parallel method: every rank holds the whole batch, the root the result */
    int root;              /* the rank that holds all samples at the end (metrics, PNG) */
    pd_state *x;           /* serial: this rank's slice [count, dim]; time-parallel: the whole batch */
    pd_state *z;           /* scratch for output.noise */
    pd_state *host;        /* GPU runs: x's shape in host memory, where states are drawn and written */
    int64_t first, count;  /* this rank's global sample range */
    int *points;           /* grid indices of stored trajectory points */
    int n_points;
    pd_result *res;
    double *shown;         /* root: the first samples as double, for metrics and the picture */
    int quiet;             /* no progress output */
} pd_job;

static pd_status parareal_provenance(pd_ctx *ctx, pd_job *j);
static pd_status picard_provenance(pd_ctx *ctx, pd_job *j);
static pd_status agree(pd_ctx *ctx, pd_job *j, pd_status local);

/* Fail now, not after the run, when the result cannot be written: a directory, an unwritable one. */
static pd_status check_output_target(pd_ctx *ctx, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        PD_FAIL(ctx, PD_ERR_INPUT, "output.file: %s is a directory", path);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &sb) == 0 && access(dir, W_OK) != 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "output.file: cannot write into %s: %s", dir, strerror(errno));
    return PD_OK;
}

/* ---------------------------------------------------------------- setup */

static void slice(int64_t total, int rank, int size, int64_t *first, int64_t *count)
{
    int64_t a = total * rank / size, b = total * (rank + 1) / size;
    *first = a;
    *count = b - a;
}

static pd_status model_inline_gmm(pd_ctx *ctx, const pd_config *cfg, pd_model **out)
{
    const pd_cfg_array *w = &cfg->model.weights, *mu = &cfg->model.means, *v = &cfg->model.variances;
    int64_t d = mu->cols, shape[4] = {d};
    int ndim = 1;
    if (cfg->model.shape.data) {
        ndim = cfg->model.shape.rows * cfg->model.shape.cols;
        for (int i = 0; i < ndim && i < 4; i++) shape[i] = (int64_t)cfg->model.shape.data[i];
    }
    return pd_model_gmm_create(ctx, w->rows * w->cols, ndim, shape, w->data, mu->data, v->data,
                               v->cols > 1, out);
}

static pd_status data_model_create(pd_ctx *ctx, const pd_config *cfg, pd_model **out)
{
    int inline_gmm = cfg->model.kind == PD_MODEL_GMM && cfg->model.weights.data;
    if (!inline_gmm && access(cfg->model.file, R_OK) != 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "model.file: cannot read %s: %s (a relative path is taken from the "
                "directory pintdiff runs in)", cfg->model.file, strerror(errno));
    if (cfg->model.kind == PD_MODEL_DATASET) return pd_model_load_dataset_file(ctx, cfg->model.file, out);
    if (cfg->model.file && cfg->model.file[0] && !cfg->model.weights.data)
        return pd_model_load_gmm_file(ctx, cfg->model.file, out);
    return model_inline_gmm(ctx, cfg, out);
}

/* The sampler's model: the data model itself, or on an augmented schedule (psld) the exact PSLD score
 * of the data mixture, with the data model kept in j->data for metrics and pictures. */
static pd_status model_create(pd_ctx *ctx, pd_job *j)
{
    const pd_config *cfg = j->cfg;
    if (!pd_schedule_is_augmented(j->sched)) return data_model_create(ctx, cfg, &j->model);
    PD_TRY(data_model_create(ctx, cfg, &j->data));
    int K, diag;
    const double *w, *mu, *var;
    if (pd_model_gmm_params(j->data, &K, &w, &mu, &var, &diag) != PD_OK)
        PD_FAIL(ctx, PD_ERR_INPUT, "schedule.kind: psld needs a gmm model (its exact score is known for "
                "mixtures), got model.kind %s", pd_model_name(j->data));
    if (cfg->sampler.start == PD_START_EXACT)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.start: exact is not offered with schedule.kind psld (use prior)");
    const pd_schedule_params *q = pd_schedule_get_params(j->sched);
    return pd_model_psld_gmm_create(ctx, j->data, q->psld_gamma, q->psld_nu, q->psld_beta, q->psld_kappa, &j->model);
}

/* A psld schedule takes the psld-* samplers, every other schedule the others: refused before any work,
 * naming the key (run and check alike). */
static pd_status check_solver_state(pd_ctx *ctx, const pd_job *j, const char *key, const char *name)
{
    const pd_solver_info *in = pd_solver_find(name);
    int aug = pd_schedule_is_augmented(j->sched);
    if (in && in->augmented != aug)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.%s: %s %s", key, name,
                aug ? "cannot run on schedule.kind psld (an augmented state): use a psld-* sampler"
                    : "needs schedule.kind psld (an augmented state)");
    return PD_OK;
}

static pd_status check_solvers(pd_ctx *ctx, const pd_job *j)
{
    const pd_config *cfg = j->cfg;
    if (cfg->sampler.method == PD_METHOD_SERIAL) return check_solver_state(ctx, j, "solver", cfg->sampler.solver);
    PD_TRY(check_solver_state(ctx, j, "fine", cfg->sampler.fine));
    if (cfg->sampler.method != PD_METHOD_PARAREAL) return PD_OK; /* picard: no coarse solver */
    return check_solver_state(ctx, j, "coarse", cfg->sampler.coarse);
}

/* The model of the data (not the augmented one): metrics, exact samples, pictures. */
static pd_model *data_of(const pd_job *j) { return j->data ? j->data : j->model; }

/* Stored trajectory points: every K-th grid point and always the last one. */
static pd_status plan_points(pd_ctx *ctx, pd_job *j)
{
    int N = pd_grid_steps(j->grid), K = j->cfg->output.trajectory_every;
    if (K <= 0) return PD_OK;
    j->points = malloc(sizeof(int) * (size_t)(N / K + 2));
    if (!j->points) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the trajectory plan");
    for (int n = 0; n <= N; n += K) j->points[j->n_points++] = n;
    if (j->points[j->n_points - 1] != N) j->points[j->n_points++] = N;
    return PD_OK;
}

/* Local: everything but the transport. The states go where pd_device_setup placed this rank. */
static pd_status job_setup(pd_ctx *ctx, pd_job *j)
{
    const pd_config *cfg = j->cfg;
    if (j->rank == 0) PD_TRY(check_output_target(ctx, cfg->output.file));
    pd_schedule_params sp = pd_config_schedule_params(cfg);
    PD_TRY(pd_schedule_create(ctx, &sp, &j->sched));
    PD_TRY(pd_grid_create(ctx, j->sched, cfg->sampler.spacing, cfg->sampler.steps,
                          cfg->schedule.final == PD_FINAL_ALPHA0, &j->grid));
    PD_TRY(check_solvers(ctx, j));
    PD_TRY(model_create(ctx, j));
    if (cfg->sampler.start == PD_START_EXACT && !pd_model_has_exact(j->model))
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.start: exact needs a model with exact samples (%s has none)",
                pd_model_name(j->model));
    pd_solver_params p = pd_solver_default_params();
    p.eta = cfg->sampler.eta;
    p.conj_lambda = cfg->sampler.conj_lambda;
    p.variance_large = cfg->sampler.variance == PD_VARIANCE_LARGE;
    p.lower_order_final = cfg->sampler.lower_order_final;
    p.seed = cfg->batch.seed;
    j->parareal = cfg->sampler.method == PD_METHOD_PARAREAL;
    j->picard = cfg->sampler.method == PD_METHOD_PICARD || cfg->sampler.method == PD_METHOD_BLOCK_PICARD;
    j->timepar = j->parareal || j->picard;
    PD_TRY(pd_solver_create(ctx, j->timepar ? cfg->sampler.fine : cfg->sampler.solver, &p, &j->solver));
    if (j->parareal) PD_TRY(pd_solver_create(ctx, cfg->sampler.coarse, &p, &j->coarse));
    if (j->timepar) { /* time across ranks: every rank holds the whole batch */
        j->first = 0;
        j->count = cfg->batch.samples;
        j->root = j->size - 1;
    } else {
        slice(cfg->batch.samples, j->rank, j->size, &j->first, &j->count);
    }
    PD_TRY(pd_state_create(ctx, cfg->batch.dtype, j->dev.kind, j->count, pd_model_dim(j->model), j->first, &j->x));
    if (j->dev.kind != PD_DEVICE_CPU)
        PD_TRY(pd_state_create(ctx, cfg->batch.dtype, PD_DEVICE_CPU, j->count, pd_model_dim(j->model), j->first,
                               &j->host));
    if (cfg->output.noise) PD_TRY(pd_state_create_like(ctx, j->x, &j->z));
    PD_TRY(pd_solver_ws_create(ctx, j->solver, j->x, &j->ws));
    PD_TRY(pd_model_reserve(ctx, j->model, j->count));
    return plan_points(ctx, j);
}

/* device.cuda_aware_mpi: the user's word, or what the MPI library reports */
static int mpi_cuda_aware(const pd_config *cfg)
{
    return cfg->device.cuda_aware_mpi == PD_CUDA_AWARE_AUTO ? pd_transport_mpi_cuda_aware()
                                                            : cfg->device.cuda_aware_mpi == PD_CUDA_AWARE_YES;
}

/* Collective, after the ranks agreed on the setup (NCCL's creation waits for every rank): the
 * transport of a time-parallel run. */
static pd_status transport_setup(pd_ctx *ctx, pd_job *j)
{
    if (!j->timepar) return PD_OK;
    if (j->dev.comm == PD_COMM_NCCL) return pd_transport_create_nccl(ctx, j->comm, j->cfg->device.timeout, &j->tp);
    return pd_transport_create_mpi(ctx, j->comm, mpi_cuda_aware(j->cfg), &j->tp);
}

static void job_destroy(pd_job *j)
{
    pd_result_abort(&j->res);
    pd_parareal_destroy(&j->par);
    pd_picard_destroy(&j->pic);
    pd_transport_destroy(&j->tp);
    pd_solver_destroy(&j->coarse);
    pd_solver_ws_destroy(&j->ws);
    pd_state_destroy(&j->x);
    pd_state_destroy(&j->z);
    pd_state_destroy(&j->host);
    pd_solver_destroy(&j->solver);
    pd_model_destroy(&j->model);
    pd_model_destroy(&j->data);
    pd_grid_destroy(&j->grid);
    pd_schedule_destroy(&j->sched);
    free(j->points);
    free(j->shown);
}

/* ---------------------------------------------------------------- integration */

/* x_{t_0} into x: the prior (prior_std * z), or the exact marginal alpha_0 x_0 + sigma_0 z (ALGORITHMS
 * §2.4). */
static pd_status draw_start(pd_ctx *ctx, pd_job *j, pd_state *x)
{
    const pd_grid_point *p0 = pd_grid_at(j->grid, 0);
    uint64_t seed = j->cfg->batch.seed;
    if (j->cfg->sampler.start == PD_START_PRIOR && pd_schedule_is_augmented(j->sched)) {
        /* psld prior: x ~ N(0, 1), m ~ N(0, M), M = 4 / (Gamma - nu)^2 */
        const pd_schedule_params *q = pd_schedule_get_params(j->sched);
        pd_pair_noise z = {.l = {1.0, 0.0, 0.0, 2.0 / fabs(q->psld_gamma - q->psld_nu)}, .seed = seed,
                           .purpose = PD_RNG_START};
        return pd_state_lincomb_pairs(ctx, x, 0, NULL, NULL, &z);
    }
    if (j->cfg->sampler.start == PD_START_PRIOR) {
        pd_noise_term z = {.coef = pd_schedule_prior_std(j->sched), .seed = seed, .purpose = PD_RNG_START};
        return pd_state_lincomb(ctx, x, 0, NULL, NULL, &z);
    }
    PD_TRY(pd_model_sample_exact(ctx, j->model, seed, x));
    pd_noise_term z = {.coef = p0->sigma, .seed = seed, .purpose = PD_RNG_START};
    const pd_state *v[] = {x};
    double c[] = {p0->alpha};
    return pd_state_lincomb(ctx, x, 1, c, v, &z);
}

/* The start is drawn on the CPU, then copied to the GPU: the same bits on either device (the exact
 * samples of the models are CPU code). */
static pd_status init_state(pd_ctx *ctx, pd_job *j)
{
    if (!j->host) return draw_start(ctx, j, j->x);
    PD_TRY(draw_start(ctx, j, j->host));
    return pd_state_copy(ctx, j->x, j->host);
}

/* s readable by the writers: s itself when in host memory, else its copy in j->host (states of a
 * GPU run leave the device only here, to be written). */
static pd_status on_host(pd_ctx *ctx, pd_job *j, const pd_state *s, const pd_state **out)
{
    *out = s;
    if (pd_state_device(s) == PD_DEVICE_CPU) return PD_OK;
    PD_TRY(pd_state_copy(ctx, j->host, s));
    *out = j->host;
    return PD_OK;
}

static int is_tty_rank0(const pd_job *j) { return j->rank == 0 && !j->quiet && isatty(STDERR_FILENO); }

static void progress(const pd_job *j, int n, int N)
{
    if (!is_tty_rank0(j)) return;
    int w = 40, done = (int)((int64_t)w * n / N);
    fprintf(stderr, "\r[%.*s%*s] step %d/%d", done, "########################################", w - done, "", n, N);
    if (n == N) fputc('\n', stderr);
}

/* Collective: agree on the local status (and the copy to the host), then write trajectory point i. */
static pd_status store_point(pd_ctx *ctx, pd_job *j, int i, pd_status local)
{
    const pd_state *h = j->x;
    if (local == PD_OK) local = on_host(ctx, j, j->x, &h);
    pd_agreement a;
    PD_TRY(pd_comm_agree(ctx, j->comm, local, &a));
    if (a.status != PD_OK) return local != PD_OK ? local : PD_ERR_REMOTE;
    return pd_result_write_traj(ctx, j->res, i, h);
}

/* The step noise, drawn on the run's device (the draws the solver makes) and written from the host. */
static pd_status write_noise(pd_ctx *ctx, pd_job *j)
{
    /* the noise of step n is a function of (seed, global sample, n): no need to run the sampler. In a
     * time-parallel run every rank holds the whole batch; the root writes it, the others nothing */
    const int writer = !j->timepar || j->rank == j->root;
    pd_state *none = NULL;
    pd_status st = writer ? PD_OK : pd_state_view(ctx, j->host ? j->host : j->z, 0, 0, &none);
    for (int n = 0; n < pd_grid_steps(j->grid); n++) {
        const pd_state *h = writer ? j->z : none;
        if (writer && st == PD_OK) st = pd_state_fill_normal(ctx, j->z, j->cfg->batch.seed, (uint32_t)n, PD_RNG_STEP);
        if (writer && st == PD_OK) st = on_host(ctx, j, j->z, &h);
        st = agree(ctx, j, st); /* nobody enters the collective write alone */
        if (st == PD_OK) st = pd_result_write_noise(ctx, j->res, n, h);
        if (st != PD_OK) break;
    }
    pd_state_destroy(&none);
    return st;
}

/* Integrate the slice from grid point 0 to N, stopping at each stored point to write it. A chunk
 * of steps runs without communication; ranks meet only where they write. */
static pd_status integrate(pd_ctx *ctx, pd_job *j)
{
    int N = pd_grid_steps(j->grid);
    pd_status st = init_state(ctx, j);
    int n = 0, next = 0;
    if (j->n_points > 0) {
        PD_TRY(store_point(ctx, j, 0, st));
        next = 1;
    }
    int chunk = N >= 100 ? N / 100 : 1; /* progress granularity */
    while (n < N) {
        int stop = next < j->n_points ? j->points[next] : N;
        if (stop > n + chunk && is_tty_rank0(j)) stop = n + chunk;
        if (st == PD_OK) st = pd_solver_run(ctx, j->solver, j->model, j->grid, n, stop, j->x, j->ws);
        n = stop;
        progress(j, n, N);
        if (next < j->n_points && n == j->points[next]) PD_TRY(store_point(ctx, j, next++, st));
    }
    return st;
}

/* ---------------------------------------------------------------- metrics */

/* Samples used by metrics and the picture: the first PD_METRIC_SAMPLES (metrics cost grows with n;
 * the picture shows 64). */
#define PD_METRIC_SAMPLES 20000

static int64_t shown_samples(const pd_job *j)
{
    return j->cfg->batch.samples < PD_METRIC_SAMPLES ? j->cfg->batch.samples : PD_METRIC_SAMPLES;
}

/* The first shown_samples() samples on the root rank as double [n, dim] (*out NULL elsewhere; psld: their
 * x half, [n, data dim]).
 * Collective; every rank learns whether the root could allocate before anyone enters the gather. */
static pd_status gather_samples(pd_ctx *ctx, pd_job *j, double **out)
{
    int64_t dim = pd_model_dim(j->model), n = shown_samples(j);
    *out = NULL;
    if (n * dim > 0x7fffffff)
        PD_FAIL(ctx, PD_ERR_INPUT, "output.metrics/png: %lld values are too many to gather; set "
                "output.metrics: false and output.png: false", (long long)(n * dim));
    int64_t mine_n = j->timepar ? 0 : (j->first >= n ? 0 : (j->first + j->count > n ? n - j->first : j->count));
    double *all = j->rank == j->root ? malloc(sizeof(double) * (size_t)(n * dim)) : NULL;
    double *mine = j->timepar ? NULL : malloc(sizeof(double) * (size_t)(j->count * dim + 1));
    int *counts = malloc(sizeof(int) * (size_t)j->size * 2);
    pd_status st = (!counts || (j->rank == j->root && !all) || (!j->timepar && !mine))
                       ? pd_error_set(ctx, PD_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate the sample gather")
                       : PD_OK;
    const pd_state *h = j->x;
    if (st == PD_OK && (!j->timepar || j->rank == j->root)) st = on_host(ctx, j, j->x, &h);
    if (st == PD_OK && j->timepar && j->rank == j->root) { /* the root holds the whole batch */
        double *whole = malloc(sizeof(double) * (size_t)(j->count * dim));
        st = whole ? pd_state_read_f64(ctx, h, whole)
                   : pd_error_set(ctx, PD_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate the samples");
        if (st == PD_OK) memcpy(all, whole, sizeof(double) * (size_t)(n * dim));
        free(whole);
    } else if (st == PD_OK && !j->timepar) {
        st = pd_state_read_f64(ctx, h, mine);
    }
    pd_agreement a;
    pd_status e = pd_comm_agree(ctx, j->comm, st, &a);
    if (e == PD_OK && a.status == PD_OK && !j->timepar) {
        for (int r = 0; r < j->size; r++) {
            int64_t f, c;
            slice(j->cfg->batch.samples, r, j->size, &f, &c);
            int64_t cn = f >= n ? 0 : (f + c > n ? n - f : c);
            counts[r] = (int)(cn * dim);
            counts[j->size + r] = (int)((f < n ? f : n) * dim);
        }
        if (MPI_Gatherv(mine, (int)(mine_n * dim), MPI_DOUBLE, all, counts, counts + j->size, MPI_DOUBLE,
                        j->root, j->comm) != MPI_SUCCESS)
            e = pd_error_set(ctx, PD_ERR_MPI, __FILE__, __LINE__, "gathering the samples failed");
    }
    free(mine);
    free(counts);
    if (e == PD_OK && a.status != PD_OK) e = st != PD_OK ? st : PD_ERR_REMOTE;
    if (e != PD_OK) free(all);
    else *out = all;
    if (e == PD_OK && all && j->data) { /* psld: keep x, the first half of each (x, m) row */
        const int64_t d = pd_model_dim(j->data);
        for (int64_t i = 0; i < n; i++) memmove(all + i * d, all + i * dim, sizeof(double) * (size_t)d);
    }
    return e;
}

/* Plain data, so that rank 0 can broadcast it as bytes. */
typedef struct metric_list {
    int n;
    char name[16][32];
    double value[16];
} metric_list;

static void metric_add(metric_list *m, const char *name, double v)
{
    if (m->n >= 16) return;
    snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
    m->value[m->n++] = v;
}

/* Reference sets: n exact draws with a seed apart from the run's, so they are independent of it. */
static pd_status exact_set(pd_ctx *ctx, pd_job *j, int64_t n, uint64_t seed, double *out)
{
    pd_state *s = NULL;
    PD_TRY(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, n, pd_model_dim(data_of(j)), 0, &s));
    pd_status st = pd_model_sample_exact(ctx, data_of(j), seed, s);
    if (st == PD_OK) st = pd_state_read_f64(ctx, s, out);
    pd_state_destroy(&s);
    return st;
}

/* Metrics that need the model's parameters: moment errors against the exact moments and the
 * occupancy of the components (gmm), the distance to the nearest training row (dataset). */
static pd_status model_metrics(pd_ctx *ctx, pd_job *j, const double *x, metric_list *ml)
{
    int64_t n = shown_samples(j), d = pd_model_dim(data_of(j));
    const double *w, *mu, *var, *rows;
    int K, diag;
    int64_t n_rows;
    if (pd_model_gmm_params(data_of(j), &K, &w, &mu, &var, &diag) == PD_OK) {
        double *mean = malloc(sizeof(double) * (size_t)d), *cov = d <= 512 ? malloc(sizeof(double) * (size_t)(d * d)) : NULL;
        double me = 0, ce = 0, tv = 0;
        pd_status st = !mean ? pd_error_set(ctx, PD_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate moments")
                             : pd_model_gmm_moments(ctx, data_of(j), mean, cov);
        if (st == PD_OK) st = pd_metrics_moment_errors(ctx, x, n, d, mean, cov, &me, &ce);
        if (st == PD_OK) st = pd_metrics_gmm_occupancy(ctx, x, n, d, K, w, mu, var, diag, &tv, NULL);
        if (st == PD_OK) {
            metric_add(ml, "mean_err", me);
            if (cov) metric_add(ml, "cov_err", ce);
            metric_add(ml, "occupancy_tv", tv);
        }
        free(mean);
        free(cov);
        return st;
    }
    if (pd_model_dataset_rows(data_of(j), &n_rows, &rows) == PD_OK) {
        double mean_d = 0, max_d = 0;
        PD_TRY(pd_metrics_nearest_row(ctx, x, n, rows, n_rows, d, &mean_d, &max_d));
        metric_add(ml, "nearest_row_mean", mean_d);
        metric_add(ml, "nearest_row_max", max_d);
    }
    return PD_OK;
}

/* Distribution metrics of x [n, d] against the model's ground truth (rank 0 only). */
static pd_status compute_metrics(pd_ctx *ctx, pd_job *j, const double *x, metric_list *ml)
{
    int64_t n = shown_samples(j), d = pd_model_dim(data_of(j));
    int64_t n_ref = 20000; /* ALGORITHMS §2.4: 20 000 exact draws, fewer when that would pass 128 MB */
    if (n_ref * d > (int64_t)1 << 24) n_ref = ((int64_t)1 << 24) / d;
    uint64_t s_ref = j->cfg->batch.seed ^ 0x9e3779b97f4a7c15ull, s_floor = j->cfg->batch.seed ^ 0xc2b2ae3d27d4eb4full;
    double *ref = malloc(sizeof(double) * (size_t)(n_ref * d)), *flo = malloc(sizeof(double) * (size_t)(n * d));
    pd_status st = !ref || !flo ? pd_error_set(ctx, PD_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate reference samples")
                                : exact_set(ctx, j, n_ref, s_ref, ref);
    if (st == PD_OK) st = exact_set(ctx, j, n, s_floor, flo);
    double v = 0, bw = 0;
    if (st == PD_OK) st = pd_metrics_sw2(ctx, x, n, ref, n_ref, d, PD_METRICS_SW2_DIRS, PD_METRICS_SEED, &v);
    if (st == PD_OK) metric_add(ml, "sw2", v);
    if (st == PD_OK) st = pd_metrics_sw2(ctx, flo, n, ref, n_ref, d, PD_METRICS_SW2_DIRS, PD_METRICS_SEED, &v);
    if (st == PD_OK) metric_add(ml, "sw2_floor", v);
    if (st == PD_OK && n >= 2) st = pd_metrics_mmd2(ctx, x, n, ref, n_ref, d, &v, &bw);
    if (st == PD_OK && n >= 2) metric_add(ml, "mmd2", v);
    if (st == PD_OK && n >= 2) st = pd_metrics_mmd2(ctx, flo, n, ref, n_ref, d, &v, &bw);
    if (st == PD_OK && n >= 2) metric_add(ml, "mmd2_floor", v);
    if (st == PD_OK) st = model_metrics(ctx, j, x, ml);
    free(ref);
    free(flo);
    return st;
}

/* Collective: gather, compute the metrics on rank 0, broadcast, write; and the PNG on rank 0. */
static pd_status finish_outputs(pd_ctx *ctx, pd_job *j, pd_run_summary *sum)
{
    const pd_config *cfg = j->cfg;
    int want_metrics = cfg->output.metrics && pd_model_has_exact(data_of(j));
    int want_png = cfg->output.png && pd_png_can_show(pd_model_ndim(data_of(j)), pd_model_shape(data_of(j)));
    if (!want_metrics && !want_png) return PD_OK;
    PD_TRY(gather_samples(ctx, j, &j->shown));
    metric_list ml = {0};
    pd_status st = PD_OK;
    if (j->rank == j->root && want_metrics) st = compute_metrics(ctx, j, j->shown, &ml);
    if (want_png) snprintf(sum->png, sizeof sum->png, "%.*s.png", (int)(strlen(cfg->output.file) - 3), cfg->output.file);
    pd_agreement a;
    PD_TRY(pd_comm_agree(ctx, j->comm, st, &a));
    if (a.status != PD_OK) return st != PD_OK ? st : PD_ERR_REMOTE;
    MPI_Bcast(&ml, (int)sizeof ml, MPI_BYTE, j->root, j->comm);
    for (int i = 0; i < ml.n; i++) PD_TRY(pd_result_metric(ctx, j->res, ml.name[i], ml.value[i]));
    return PD_OK;
}

/* The picture, once the result file is complete (a failed run leaves neither). */
static pd_status write_png(pd_ctx *ctx, pd_job *j, const pd_run_summary *sum)
{
    pd_status st = PD_OK;
    if (sum->png[0] && j->rank == j->root && j->shown)
        st = pd_png_write_grid(ctx, sum->png, j->shown, shown_samples(j), pd_model_ndim(data_of(j)),
                               pd_model_shape(data_of(j)), -1.0, 1.0, 64);
    pd_agreement a;
    PD_TRY(pd_comm_agree(ctx, j->comm, st, &a));
    return a.status == PD_OK ? PD_OK : st != PD_OK ? st : PD_ERR_REMOTE;
}

static void iso_time(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static pd_status write_provenance(pd_ctx *ctx, pd_job *j, const char *config_text, time_t t0, double wall,
                                  int64_t nfe)
{
    pd_result *r = j->res;
    char times[2][32]; /* attribute values must be the same on every rank: rank 0's clock */
    iso_time(t0, times[0], sizeof times[0]);
    iso_time(time(NULL), times[1], sizeof times[1]);
    MPI_Bcast(times, (int)sizeof times, MPI_CHAR, 0, j->comm);
    const char *start = times[0], *end = times[1];
    PD_TRY(pd_result_attr_str(ctx, r, "config", config_text));
    PD_TRY(pd_result_attr_str(ctx, r, "version", PINTDIFF_VERSION));
    PD_TRY(pd_result_attr_str(ctx, r, "git_commit", PINTDIFF_GIT_COMMIT));
    PD_TRY(pd_result_attr_u64(ctx, r, "seed", j->cfg->batch.seed));
    PD_TRY(pd_result_attr_i64(ctx, r, "n_ranks", j->size));
    PD_TRY(pd_result_attr_str(ctx, r, "device", pd_device_name(j->dev.kind)));
    PD_TRY(pd_result_attr_str(ctx, r, "comm", j->tp ? pd_transport_name(j->tp) : "mpi")); /* the one used */
    if (j->tp && j->dev.kind == PD_DEVICE_CUDA && j->dev.comm != PD_COMM_NCCL) /* how GPU states went over MPI */
        PD_TRY(pd_result_attr_str(ctx, r, "mpi_gpu_states", mpi_cuda_aware(j->cfg) ? "device memory" : "staged"));
    const char *method = pd_config_schema_find("sampler", "method")->values[j->cfg->sampler.method];
    PD_TRY(pd_result_attr_str(ctx, r, "method", method));
    PD_TRY(pd_result_attr_str(ctx, r, "solver", pd_solver_get_info(j->solver)->name));
    if (j->parareal) PD_TRY(parareal_provenance(ctx, j));
    if (j->picard) PD_TRY(picard_provenance(ctx, j));
    PD_TRY(pd_result_attr_str(ctx, r, "model", pd_model_name(j->model)));
    PD_TRY(pd_result_attr_i64(ctx, r, "steps", pd_grid_steps(j->grid)));
    PD_TRY(pd_result_attr_i64(ctx, r, "nfe", nfe));
    PD_TRY(pd_result_attr_str(ctx, r, "start_time", start));
    PD_TRY(pd_result_attr_str(ctx, r, "end_time", end));
    PD_TRY(pd_result_attr_f64(ctx, r, "wall_s", wall));
    return pd_result_attr_str(ctx, r, "status", "complete");
}

/* ---------------------------------------------------------------- parareal */

static pd_status integrate_parareal(pd_ctx *ctx, pd_job *j)
{
    const pd_config *cfg = j->cfg;
    pd_parareal_opts o = {.blocks = cfg->sampler.blocks, .coarse_steps = cfg->sampler.coarse_steps,
                          .coarse_noise_aggregate = cfg->sampler.coarse_noise == PD_COARSE_NOISE_AGGREGATE,
                          .tol = cfg->sampler.tol, .max_iters = cfg->sampler.max_iters,
                          .pipeline = cfg->sampler.pipeline,
                          .store_boundaries = cfg->output.trajectory_every == PD_TRAJ_BOUNDARIES,
                          .progress = cfg->output.log_iterations && !j->quiet};
    PD_TRY(init_state(ctx, j)); /* every rank draws the same x_{t_0} (Philox) */
    PD_TRY(pd_parareal_create(ctx, j->tp, j->solver, j->coarse, j->model, j->grid, &o, j->x, &j->par));
    PD_TRY(pd_parareal_run(ctx, j->par));
    const pd_state *res = pd_parareal_result(j->par);
    return res ? pd_state_copy(ctx, j->x, res) : PD_OK;
}

/* The convergence group: residual and converged [iters, B], nfe and timings [iters, R], boundaries. */
static pd_status write_convergence(pd_ctx *ctx, pd_job *j)
{
    const pd_parareal_log *l = pd_parareal_get_log(j->par);
    int K = l->iters, B = l->n_blocks, R = l->n_ranks;
    int64_t *conv = malloc(sizeof(int64_t) * (size_t)(K * B + 1));
    if (!conv) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the convergence flags");
    for (int i = 0; i < K * B; i++) conv[i] = l->converged[i];
    pd_status st = pd_result_write_f64(ctx, j->res, "convergence/residual", K, B, l->residual);
    if (st == PD_OK) st = pd_result_write_i64(ctx, j->res, "convergence/converged", K, B, conv);
    if (st == PD_OK) st = pd_result_write_i64(ctx, j->res, "convergence/nfe", K, R, l->nfe);
    if (st == PD_OK) st = pd_result_write_f64(ctx, j->res, "convergence/compute_s", K, R, l->compute_s);
    if (st == PD_OK) st = pd_result_write_f64(ctx, j->res, "convergence/wait_s", K, R, l->wait_s);
    if (st == PD_OK) st = pd_result_write_f64(ctx, j->res, "convergence/comm_s", K, R, l->comm_s);
    free(conv);
    for (int k = 0; st == PD_OK && k <= K && j->cfg->output.trajectory_every == PD_TRAJ_BOUNDARIES; k++)
        for (int b = 0; st == PD_OK && b <= B; b++) {
            const pd_state *x = pd_parareal_boundary(j->par, k, b), *h = x;
            if (x) st = on_host(ctx, j, x, &h); /* written by its owner alone: no collective to miss */
            if (x && st == PD_OK) st = pd_result_write_boundary(ctx, j->res, k, b, h);
        }
    return st;
}

static pd_status parareal_provenance(pd_ctx *ctx, pd_job *j)
{
    const pd_parareal_log *l = pd_parareal_get_log(j->par);
    pd_result *r = j->res;
    PD_TRY(pd_result_attr_str(ctx, r, "fine", pd_solver_get_info(j->solver)->name));
    PD_TRY(pd_result_attr_str(ctx, r, "coarse", pd_solver_get_info(j->coarse)->name));
    PD_TRY(pd_result_attr_i64(ctx, r, "blocks", l->n_blocks));
    PD_TRY(pd_result_attr_i64(ctx, r, "coarse_steps", j->cfg->sampler.coarse_steps));
    PD_TRY(pd_result_attr_str(ctx, r, "coarse_noise",
                              j->cfg->sampler.coarse_noise == PD_COARSE_NOISE_AGGREGATE ? "aggregate" : "start"));
    PD_TRY(pd_result_attr_f64(ctx, r, "tol", j->cfg->sampler.tol));
    PD_TRY(pd_result_attr_i64(ctx, r, "pipeline", j->cfg->sampler.pipeline));
    PD_TRY(pd_result_attr_i64(ctx, r, "iterations", l->iters));
    PD_TRY(pd_result_attr_i64(ctx, r, "init_nfe", l->init_nfe));
    PD_TRY(pd_result_attr_i64(ctx, r, "critical_path_nfe", l->critical_nfe));
    return pd_result_attr_i64(ctx, r, "total_nfe", l->total_nfe);
}

/* ---------------------------------------------------------------- picard, block-picard */

static pd_status integrate_picard(pd_ctx *ctx, pd_job *j)
{
    const pd_config *cfg = j->cfg;
    pd_picard_opts o = {.kind = cfg->sampler.method == PD_METHOD_BLOCK_PICARD ? PD_PICARD_BLOCKS
                                                                               : PD_PICARD_WINDOW,
                        .window = cfg->sampler.window, .blocks = cfg->sampler.blocks, .tol = cfg->sampler.tol,
                        .max_iters = cfg->sampler.max_iters,
                        .progress = cfg->output.log_iterations && !j->quiet, .keep = j->points,
                        .n_keep = j->n_points};
    PD_TRY(init_state(ctx, j)); /* every rank draws the same x_{t_0} (Philox) */
    PD_TRY(pd_picard_create(ctx, j->tp, j->solver, j->model, j->grid, &o, j->x, &j->pic));
    PD_TRY(pd_picard_run(ctx, j->pic));
    const pd_state *res = pd_picard_result(j->pic);
    return res ? pd_state_copy(ctx, j->x, res) : PD_OK;
}

/* The convergence group of a Picard run: per point of the window [iters, width] (column i: grid point
 * window_start + 1 + i), the window [iters], per rank [iters, R]. */
static pd_status write_picard_log(pd_ctx *ctx, pd_job *j)
{
    const pd_picard_log *l = pd_picard_get_log(j->pic);
    int K = l->iters, W = l->width, R = l->n_ranks;
    int64_t *conv = malloc(sizeof(int64_t) * ((size_t)K * W + 1));
    if (!conv) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the convergence flags");
    for (size_t i = 0; i < (size_t)K * W; i++) conv[i] = l->converged[i];
    pd_result *r = j->res;
    pd_status st = pd_result_write_f64(ctx, r, "convergence/residual", K, W, l->residual);
    if (st == PD_OK) st = pd_result_write_i64(ctx, r, "convergence/converged", K, W, conv);
    if (st == PD_OK) st = pd_result_write_i64(ctx, r, "convergence/window_start", K, 1, l->window_start);
    if (st == PD_OK) st = pd_result_write_i64(ctx, r, "convergence/window_end", K, 1, l->window_end);
    if (st == PD_OK && j->cfg->sampler.method == PD_METHOD_BLOCK_PICARD)
        st = pd_result_write_i64(ctx, r, "convergence/block", K, 1, l->block);
    if (st == PD_OK) st = pd_result_write_i64(ctx, r, "convergence/nfe", K, R, l->nfe);
    if (st == PD_OK) st = pd_result_write_f64(ctx, r, "convergence/compute_s", K, R, l->compute_s);
    if (st == PD_OK) st = pd_result_write_f64(ctx, r, "convergence/wait_s", K, R, l->wait_s);
    if (st == PD_OK) st = pd_result_write_f64(ctx, r, "convergence/comm_s", K, R, l->comm_s);
    free(conv);
    return st;
}

/* /trajectory/x: each stored point's final state, written by the rank that kept it (the others an empty
 * view). Collective, one point after another. */
static pd_status write_picard_trajectory(pd_ctx *ctx, pd_job *j)
{
    for (int i = 0; i < j->n_points; i++) {
        int holder = -1;
        const pd_state *x = pd_picard_kept(j->pic, i, &holder), *h = x;
        pd_state *none = NULL;
        pd_status st = PD_OK;
        if (holder < 0) /* cannot happen after a complete run: every point becomes final once */
            st = pd_error_set(ctx, PD_ERR_NUMERIC, __FILE__, __LINE__,
                              "picard: trajectory point %d (grid point %d) was never final", i, j->points[i]);
        if (st == PD_OK && x) {
            st = on_host(ctx, j, x, &h);
        } else if (st == PD_OK) {
            st = pd_state_view(ctx, j->host ? j->host : j->x, 0, 0, &none);
            h = none;
        }
        st = agree(ctx, j, st); /* nobody enters the collective write alone */
        if (st == PD_OK) st = pd_result_write_traj(ctx, j->res, i, h);
        pd_state_destroy(&none);
        PD_TRY(st);
    }
    return PD_OK;
}

static pd_status picard_provenance(pd_ctx *ctx, pd_job *j)
{
    const pd_picard_log *l = pd_picard_get_log(j->pic);
    pd_result *r = j->res;
    PD_TRY(pd_result_attr_str(ctx, r, "fine", pd_solver_get_info(j->solver)->name));
    if (j->cfg->sampler.method == PD_METHOD_PICARD) PD_TRY(pd_result_attr_i64(ctx, r, "window", l->window));
    else PD_TRY(pd_result_attr_i64(ctx, r, "blocks", l->n_blocks));
    PD_TRY(pd_result_attr_f64(ctx, r, "tol", j->cfg->sampler.tol));
    PD_TRY(pd_result_attr_i64(ctx, r, "max_iters", j->cfg->sampler.max_iters));
    PD_TRY(pd_result_attr_i64(ctx, r, "iterations", l->iters));
    PD_TRY(pd_result_attr_i64(ctx, r, "critical_path_nfe", l->critical_nfe));
    PD_TRY(pd_result_attr_i64(ctx, r, "total_nfe", l->total_nfe));
    return pd_result_attr_i64(ctx, r, "model_calls", l->model_calls);
}

/* /samples: serial: every rank its slice; time-parallel methods: the last rank all of them (the others an
 * empty view). Collective. */
static pd_status write_samples(pd_ctx *ctx, pd_job *j)
{
    const pd_state *h = j->x;
    pd_state *none = NULL;
    pd_status st = PD_OK;
    if (!j->timepar || j->rank == j->root) st = on_host(ctx, j, j->x, &h);
    else if ((st = pd_state_view(ctx, j->host ? j->host : j->x, 0, 0, &none)) == PD_OK) h = none;
    st = agree(ctx, j, st); /* nobody enters the collective write alone */
    if (st == PD_OK) st = pd_result_write_samples(ctx, j->res, h);
    pd_state_destroy(&none);
    return st;
}

static pd_status open_result(pd_ctx *ctx, pd_job *j)
{
    const pd_parareal_log *pl = j->par ? pd_parareal_get_log(j->par) : NULL;
    int bounds = pl && j->cfg->output.trajectory_every == PD_TRAJ_BOUNDARIES;
    pd_result_layout lay = {.path = j->cfg->output.file, .n_samples = j->cfg->batch.samples,
                            .ndim = pd_model_ndim(j->model), .shape = pd_model_shape(j->model),
                            .dtype = j->cfg->batch.dtype, .n_traj_points = j->n_points,
                            .n_noise_steps = j->cfg->output.noise ? pd_grid_steps(j->grid) : 0,
                            .n_boundary_iters = bounds ? pl->iters + 1 : 0, .n_boundaries = bounds ? pl->n_blocks + 1 : 0};
    PD_TRY(pd_result_open(ctx, j->comm, &lay, &j->res));
    if (j->n_points == 0) return PD_OK;
    double *t = malloc(sizeof(double) * 3 * (size_t)j->n_points);
    if (!t) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate trajectory times");
    for (int i = 0; i < j->n_points; i++) {
        const pd_grid_point *p = pd_grid_at(j->grid, j->points[i]);
        t[i] = p->t, t[j->n_points + i] = p->alpha, t[2 * j->n_points + i] = p->sigma;
    }
    pd_status st = pd_result_write_times(ctx, j->res, j->n_points, t, t + j->n_points, t + 2 * j->n_points, j->points);
    free(t);
    return st;
}

/* Run a phase's outcome through agreement: returns the common status (PD_ERR_REMOTE on the ranks
 * that did not fail themselves). */
static pd_status agree(pd_ctx *ctx, pd_job *j, pd_status local)
{
    if (local == PD_ERR_MPI || local == PD_ERR_NCCL || local == PD_ERR_CUDA) {
        /* the transport itself broke: ranks cannot agree any more (STYLE habit 3); after NCCL's abort a
         * peer could still wait on this rank in MPI. A CUDA error leaves the device unusable and may have
         * struck between a message's header and its payload (a staged copy): abort too */
        fprintf(stderr, "pintdiff: fatal communication error (%s): %s\n", pd_ctx_where(ctx), pd_ctx_message(ctx));
        MPI_Abort(j->comm, 1);
    }
    pd_agreement a;
    PD_TRY(pd_comm_agree(ctx, j->comm, local, &a));
    if (a.status == PD_OK) return PD_OK;
    return local != PD_OK ? local : pd_error_set(ctx, PD_ERR_REMOTE, __FILE__, __LINE__,
                                                 "rank %d failed", a.failing_rank);
}

pd_status pd_run_dry(pd_ctx *ctx, const pd_config *cfg)
{
    pd_job j = {.cfg = cfg, .comm = MPI_COMM_NULL, .size = 1};
    pd_status st = pd_device_check_local(ctx, cfg, &j.dev);
    if (st == PD_OK) st = check_output_target(ctx, cfg->output.file);
    pd_schedule_params sp = pd_config_schedule_params(cfg);
    if (st == PD_OK) st = pd_schedule_create(ctx, &sp, &j.sched);
    if (st == PD_OK)
        st = pd_grid_create(ctx, j.sched, cfg->sampler.spacing, cfg->sampler.steps,
                            cfg->schedule.final == PD_FINAL_ALPHA0, &j.grid);
    if (st == PD_OK) st = check_solvers(ctx, &j);
    if (st == PD_OK) st = model_create(ctx, &j);
    if (st == PD_OK && cfg->sampler.start == PD_START_EXACT && !pd_model_has_exact(j.model))
        st = pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__, "sampler.start: exact needs a model with exact samples");
    job_destroy(&j);
    return st;
}

pd_status pd_run_job(pd_ctx *ctx, MPI_Comm comm, const pd_config *cfg, const char *config_text, int quiet,
                     pd_run_summary *sum)
{
    pd_job j = {.cfg = cfg, .comm = comm, .quiet = quiet};
    MPI_Comm_rank(comm, &j.rank);
    MPI_Comm_size(comm, &j.size);
    memset(sum, 0, sizeof *sum);
    time_t t0 = time(NULL);
    double w0 = MPI_Wtime();
    pd_status st = agree(ctx, &j, pd_device_setup(ctx, comm, cfg, &j.dev)); /* before any GPU allocation */
    if (st == PD_OK) st = agree(ctx, &j, job_setup(ctx, &j));
    if (st == PD_OK) st = agree(ctx, &j, transport_setup(ctx, &j));
    if (j.parareal) { /* the iterations decide the file's layout: run first */
        if (st == PD_OK) st = agree(ctx, &j, integrate_parareal(ctx, &j));
        if (st == PD_OK) st = agree(ctx, &j, open_result(ctx, &j));
        if (st == PD_OK && cfg->output.noise) st = write_noise(ctx, &j);
        if (st == PD_OK) st = agree(ctx, &j, write_convergence(ctx, &j));
    } else if (j.picard) {
        if (st == PD_OK) st = agree(ctx, &j, integrate_picard(ctx, &j));
        if (st == PD_OK) st = agree(ctx, &j, open_result(ctx, &j));
        if (st == PD_OK && cfg->output.noise) st = write_noise(ctx, &j);
        if (st == PD_OK) st = agree(ctx, &j, write_picard_log(ctx, &j));
        if (st == PD_OK) st = write_picard_trajectory(ctx, &j);
    } else {
        if (st == PD_OK) st = agree(ctx, &j, open_result(ctx, &j));
        if (st == PD_OK && cfg->output.noise) st = write_noise(ctx, &j);
        if (st == PD_OK) st = agree(ctx, &j, integrate(ctx, &j));
    }
    if (st == PD_OK) st = write_samples(ctx, &j);
    if (st == PD_OK) st = finish_outputs(ctx, &j, sum);
    int64_t nfe = j.par   ? pd_parareal_get_log(j.par)->critical_nfe
                : j.pic ? pd_picard_get_log(j.pic)->critical_nfe
                : j.model ? pd_model_nfe(j.model) : 0;
    double wall = MPI_Wtime() - w0, wall_max = wall;
    MPI_Allreduce(&wall, &wall_max, 1, MPI_DOUBLE, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, &nfe, 1, MPI_INT64_T, MPI_MAX, comm);
    if (st == PD_OK) st = write_provenance(ctx, &j, config_text, t0, wall_max, nfe);
    if (st == PD_OK) st = pd_result_commit(ctx, &j.res);
    if (st == PD_OK) st = write_png(ctx, &j, sum);
    sum->wall_s = wall_max;
    sum->nfe = nfe;
    sum->iterations = j.par ? pd_parareal_get_log(j.par)->iters : j.pic ? pd_picard_get_log(j.pic)->iters : 0;
    snprintf(sum->method, sizeof sum->method, "%s",
             pd_config_schema_find("sampler", "method")->values[cfg->sampler.method]);
    sum->n_samples = cfg->batch.samples;
    job_destroy(&j);
    return st;
}
