/* pintdiff: THE config schema (DESIGN.md §2). One row per key: its type, where it lives in pd_config,
 * its default (YAML text, parsed by the same code as a file or --set value, so defaults cannot
 * drift), its allowed range or values and one line of documentation. The loader, the YAML writer,
 * `pintdiff check` and docs/CONFIG.md all read this table; a new key is a new row here plus its
 * field in pd_config (config.h). */
#include <stddef.h>
#include <string.h>

#include "io/config.h"

/* Enum keys store an int through their offset: the C enums must be int-sized. */
_Static_assert(sizeof(pd_model_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(pd_schedule_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(pd_spacing) == sizeof(int), "enum size");
_Static_assert(sizeof(pd_dtype) == sizeof(int), "enum size");
_Static_assert(sizeof(pd_method) == sizeof(int), "enum size");

/* Names of enum values, index = C enum value (config.h, schedule.h, state.h). */
static const char *const model_kinds[] = {"gmm", "dataset", NULL};
static const char *const schedule_kinds[] = {"ddpm-linear", "ddpm-cosine", "vp-linear", "edm", "li", "psld", NULL};
static const char *const finals[] = {"alpha-one", "alpha0", NULL};
static const char *const methods[] = {"serial", "parareal", "picard", "block-picard", NULL};
static const char *const spacings[] = {"uniform",   "leading", "trailing", "linspace", "linspace-dpm",
                                       "quadratic", "logsnr",  "karras",   NULL};
static const char *const variances[] = {"small", "large", NULL};
static const char *const starts[] = {"prior", "exact", NULL};
static const char *const coarse_noises[] = {"start", "aggregate", NULL};
static const char *const dtypes[] = {"float32", "float64", NULL};
static const char *const device_kinds[] = {"auto", "cpu", "cuda", NULL};
static const char *const comms[] = {"auto", "mpi", "nccl", NULL};
static const char *const cuda_aware[] = {"auto", "yes", "no", NULL};

/* A row for pd_config field sec.name, of type ty, default def_; the rest as designated initializers. */
#define KEY(sec, name, ty, def_, ...)                                                                        \
    {                                                                                                        \
        .section = #sec, .key = #name, .type = PD_CFG_##ty, .offset = offsetof(pd_config, sec.name),         \
        .def = def_, __VA_ARGS__                                                                             \
    }

#define SOLVER "a solver name (below)"

static const pd_cfg_key schema[] = {
    /* ----- model ----- */
    KEY(model, kind, ENUM, "dataset", .values = model_kinds,
        .doc = "`gmm`: analytic Gaussian mixture; `dataset`: exact denoiser of a data set"),
    KEY(model, file, STRING, "configs/data/digits.h5", .allowed = "a file name, or `\"\"`",
        .doc = "HDF5 file: the data set (`dataset`) or GMM parameters (`gmm`, unless given inline); "
               "\"\" = none"),
    KEY(model, weights, LIST, "[]", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "inline GMM: K positive component weights (relative); take precedence over `file`"),
    KEY(model, means, MATRIX, "[]", .doc = "inline GMM: K rows of d numbers (a flat list = K rows of 1)"),
    KEY(model, variances, MATRIX, "[]", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "inline GMM: K variances (isotropic) or K rows of d (diagonal)"),
    KEY(model, shape, INT_LIST, "[]", .bounds = PD_CFG_GE, .lo = 1,
        .doc = "inline GMM: shape of one sample, product = d; [] = [d]"),

    /* ----- schedule ----- */
    KEY(schedule, kind, ENUM, "ddpm-linear", .values = schedule_kinds,
        .doc = "noise schedule; decides which spacings are allowed (table below)"),
    KEY(schedule, train_steps, INT, "1000", .bounds = PD_CFG_CLOSED, .lo = 2, .hi = 100000,
        .doc = "ddpm-*: number of training timesteps K"),
    KEY(schedule, beta_start, DOUBLE, "1e-4", .bounds = PD_CFG_OPEN, .lo = 0, .hi = 1,
        .doc = "ddpm-linear: first beta; < `beta_end`"),
    KEY(schedule, beta_end, DOUBLE, "0.02", .bounds = PD_CFG_OPEN, .lo = 0, .hi = 1,
        .doc = "ddpm-linear: last beta"),
    KEY(schedule, beta_min, DOUBLE, "0.1", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "vp-linear: beta(t) at t = 0"),
    KEY(schedule, beta_max, DOUBLE, "20", .bounds = PD_CFG_GT, .lo = 0, .doc = "vp-linear: beta(t) at t = 1"),
    KEY(schedule, t_min, DOUBLE, "1e-3", .bounds = PD_CFG_OPEN_CLOSED, .lo = 0, .hi = 1,
        .doc = "vp-linear, psld: the run ends at t_min; < `t_max`"),
    KEY(schedule, t_max, DOUBLE, "1", .bounds = PD_CFG_OPEN_CLOSED, .lo = 0, .hi = 1,
        .doc = "vp-linear, psld: the run starts at t_max"),
    KEY(schedule, sigma_min, DOUBLE, "0.002", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "edm: smallest sigma; < `sigma_max`"),
    KEY(schedule, sigma_max, DOUBLE, "80", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "edm: largest sigma (prior standard deviation)"),
    KEY(schedule, rho, DOUBLE, "7", .bounds = PD_CFG_GT, .lo = 0, .doc = "karras spacing exponent"),
    KEY(schedule, li_c0, DOUBLE, "0", .bounds = PD_CFG_GE, .lo = 0,
        .doc = "li: beta_1 = T^-c0 with T = `train_steps` (required > 0 for li; the paper gives no value)"),
    KEY(schedule, li_c1, DOUBLE, "0", .bounds = PD_CFG_GE, .lo = 0,
        .doc = "li: beta_{t+1} = (c1 log T/T) min(beta_1 (1 + c1 log T/T)^t, 1) (required > 0 for li)"),
    KEY(schedule, psld_gamma, DOUBLE, "0.01", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "psld: Gamma (critically damped: 1/M = (Gamma - nu)^2 / 4)"),
    KEY(schedule, psld_nu, DOUBLE, "4.01", .bounds = PD_CFG_GT, .lo = 0, .doc = "psld: nu (!= `psld_gamma`)"),
    KEY(schedule, psld_beta, DOUBLE, "8", .bounds = PD_CFG_GT, .lo = 0, .doc = "psld: beta (constant in t)"),
    KEY(schedule, psld_kappa, DOUBLE, "0.04", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "psld: m_0 ~ N(0, kappa M) (HSM); the prior is x ~ N(0, 1), m ~ N(0, M)"),
    KEY(schedule, final, ENUM, "alpha-one", .values = finals,
        .doc = "last grid point: `alpha-one` (clean, alpha = 1) or `alpha0` (timestep 0; ddpm-* only)"),

    /* ----- sampler ----- */
    KEY(sampler, method, ENUM, "serial", .values = methods,
        .doc = "`serial` (sample slices across ranks), `parareal` (time blocks across ranks), `picard` (ParaDiGMS "
               "sliding window, §8.1) or `block-picard` (blocks of Picard iterations, §8.2): the window's time "
               "points across ranks"),
    KEY(sampler, solver, STRING, "ddim", .allowed = SOLVER,
        .doc = "integrator of a serial run (a registered solver)"),
    KEY(sampler, steps, INT, "50", .bounds = PD_CFG_CLOSED, .lo = 1, .hi = 100000,
        .doc = "number of sampling steps (grid points - 1)"),
    KEY(sampler, spacing, ENUM, "uniform", .values = spacings,
        .doc = "timestep spacing; `logsnr` = uniform in lambda (allowed per schedule: table below)"),
    KEY(sampler, eta, DOUBLE, "0", .bounds = PD_CFG_CLOSED, .lo = 0, .hi = 1,
        .doc = "ddim: 0 deterministic .. 1 = ddpm with small variance"),
    KEY(sampler, variance, ENUM, "small", .values = variances,
        .doc = "ddpm: `small` = posterior variance, `large` = beta"),
    KEY(sampler, conj_lambda, DOUBLE, "0",
        .doc = "conjugate-ddim: lambda of B_t = lambda I (0 = DDIM; tuned per step count)"),
    KEY(sampler, lower_order_final, BOOL, "true",
        .doc = "multistep solvers: first-order last step on short runs (< 15 steps)"),
    KEY(sampler, start, ENUM, "prior", .values = starts,
        .doc = "start state: `prior` noise, or `exact` (alpha_0 x_0 + sigma_0 z with x_0 an exact data sample: gmm and dataset models)"),
    KEY(sampler, fine, STRING, "ddim", .allowed = SOLVER,
        .doc = "parallel methods: integrator whose serial result is reproduced (a registered solver; picard, "
               "block-picard: a one-step affine one: ddpm, ddim, euler, li-ddim, li-ddpm, conjugate-ddim)"),
    KEY(sampler, coarse, STRING, "ddim", .allowed = SOLVER,
        .doc = "parareal: coarse integrator (a registered solver)"),
    KEY(sampler, coarse_steps, INT, "1", .bounds = PD_CFG_GE, .lo = 1,
        .doc = "parareal: coarse steps per block"),
    KEY(sampler, coarse_noise, ENUM, "start", .values = coarse_noises,
        .doc = "parareal, stochastic coarse solver: its step's noise is the fine draw where the step starts "
               "(`start`) or the normalised sum of the fine steps' noise it spans (`aggregate`, §7.2)"),
    KEY(sampler, blocks, INT, "0", .bounds = PD_CFG_GE, .lo = 0,
        .doc = "parareal: number of time blocks, 0 = one per rank; block-picard: number of blocks solved one "
               "after another (required, 1 .. `steps`)"),
    KEY(sampler, window, INT, "0", .bounds = PD_CFG_GE, .lo = 0,
        .doc = "picard: sliding window in steps (time points evaluated per iteration); 0 or more than `steps` = "
               "the whole grid"),
    KEY(sampler, tol, DOUBLE, "1e-3", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "parallel methods: convergence tolerance; parareal, block-picard: on the RMS change of a block end "
               "or point; picard: per point and sample, |dx|^2 / dim <= tol^2 v_j (v_j the step's DDPM variance)"),
    KEY(sampler, max_iters, INT, "0", .bounds = PD_CFG_GE, .lo = 0,
        .doc = "parareal: iteration limit, 0 = the number of blocks; block-picard: iterations per block, 0 = its "
               "length (exact); picard: updates of one point before it counts as converged, 0 = no limit"),
    KEY(sampler, pipeline, BOOL, "false", .doc = "parareal: pipelined (asynchronous) iterations"),

    /* ----- batch ----- */
    KEY(batch, samples, INT64, "64", .bounds = PD_CFG_CLOSED, .lo = 1, .hi = 1e8,
        .doc = "number of samples (split over the ranks)"),
    KEY(batch, seed, UINT64, "0", .doc = "keys all noise (with the global sample and step index)"),
    KEY(batch, dtype, ENUM, "float32", .values = dtypes, .doc = "precision of the states"),

    /* ----- device ----- */
    KEY(device, kind, ENUM, "auto", .values = device_kinds,
        .doc = "where states and models live; `auto` = cuda when the build has CUDA and every rank sees a GPU, "
               "else cpu"),
    KEY(device, comm, ENUM, "auto", .values = comms,
        .doc = "transport between ranks; `auto` = nccl when states are on GPUs and no two ranks share a GPU, "
               "else mpi (`mpi` may share GPUs; `nccl` needs one GPU per rank)"),
    KEY(device, gpu, INT, "-1", .bounds = PD_CFG_GE, .lo = -1,
        .doc = "cuda: GPU of each rank among those it sees; -1 = node-local rank modulo that number (with "
               "one GPU per task from the launcher, e.g. CUDA_VISIBLE_DEVICES per rank, that one GPU)"),
    KEY(device, timeout, DOUBLE, "600", .bounds = PD_CFG_GT, .lo = 0,
        .doc = "nccl: seconds a rank waits on NCCL before it aborts the communicator and the run; a wait "
               "can last as long as a neighbour's iteration, so keep it above that"),
    KEY(device, cuda_aware_mpi, ENUM, "auto", .values = cuda_aware,
        .doc = "mpi transport with GPU states: `yes` hands MPI device memory, `no` stages it through pinned "
               "host memory, `auto` = yes when the MPI library reports CUDA support (MPIX_Query_cuda_support); "
               "say `no` where it reports support it lacks (e.g. a UCX build without CUDA), or the run "
               "fails in MPI"),

    /* ----- output ----- */
    KEY(output, file, STRING, "pintdiff.h5", .allowed = "a file name ending in `.h5`",
        .doc = "result file (HDF5); must end in `.h5`"),
    {.section = "output",
     .key = "trajectory",
     .type = PD_CFG_TRAJECTORY,
     .offset = offsetof(pd_config, output.trajectory),
     .offset2 = offsetof(pd_config, output.trajectory_every),
     .def = "none",
     .doc = "serial, picard, block-picard: states stored in /trajectory/x (`none`, `all` grid points, `every:K`-th; "
            "picard: the final states); parareal: `none` or `boundaries` (/convergence/boundaries per iteration)"},
    KEY(output, noise, BOOL, "false", .doc = "store the step noise (/trajectory/noise)"),
    KEY(output, png, BOOL, "true", .doc = "write a PNG grid of image-shaped samples beside the file"),
    KEY(output, metrics, BOOL, "true", .doc = "compute sample metrics when the model has ground truth"),
    KEY(output, log_iterations, BOOL, "true",
        .doc = "one progress line per parallel iteration on stderr (rank 0)"),
};

#define N_KEYS ((int)(sizeof schema / sizeof schema[0]))
_Static_assert(sizeof schema / sizeof schema[0] <= PD_CONFIG_MAX_KEYS, "raise PD_CONFIG_MAX_KEYS");

const pd_cfg_key *pd_config_schema(int *n)
{
    *n = N_KEYS;
    return schema;
}

const pd_cfg_key *pd_config_schema_find(const char *section, const char *key)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(schema[i].section, section) && !strcmp(schema[i].key, key)) return &schema[i];
    return NULL;
}

/* ----- spacings allowed per schedule (sampler.spacing x schedule.kind) ----- */

#define SP(x) (1u << PD_SPACING_##x)
#define SP_DISCRETE                                                                                          \
    (SP(UNIFORM) | SP(LEADING) | SP(TRAILING) | SP(LINSPACE) | SP(LINSPACE_DPM) | SP(QUADRATIC))
static const unsigned spacing_allowed[] = {
    [PD_SCHEDULE_DDPM_LINEAR] = SP_DISCRETE,
    [PD_SCHEDULE_DDPM_COSINE] = SP_DISCRETE,
    [PD_SCHEDULE_VP_LINEAR] = SP(UNIFORM) | SP(QUADRATIC) | SP(LOGSNR) | SP(KARRAS),
    [PD_SCHEDULE_EDM] = SP(KARRAS),
    [PD_SCHEDULE_LI] = SP_DISCRETE,
    [PD_SCHEDULE_PSLD] = SP(UNIFORM) | SP(QUADRATIC) | SP(LOGSNR),
};

int pd_config_spacing_allowed(pd_schedule_kind k, pd_spacing sp)
{
    if ((unsigned)k >= sizeof spacing_allowed / sizeof spacing_allowed[0]) return 0;
    if ((unsigned)sp >= 32u) return 0;
    return (spacing_allowed[k] >> sp) & 1u;
}

int pd_config_schedule_discrete(pd_schedule_kind k)
{
    return k == PD_SCHEDULE_DDPM_LINEAR || k == PD_SCHEDULE_DDPM_COSINE || k == PD_SCHEDULE_LI;
}
