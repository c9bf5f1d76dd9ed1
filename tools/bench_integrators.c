/* pd-bench-integrators: observed orders and distribution errors of the integrators on a single Gaussian
 * N(0.7, 0.5^2) in d = 1, where everything is known in closed form (ALGORITHMS.md §2.1).
 *
 *   pd-bench-integrators [--n N1,N2,...] [SOLVER[:eta=E][:conj_lambda=L]]...   (no solver: the built-in list)
 *
 * Prints CSV rows  schedule,solver,N,nfe,metric,value,order  for every schedule of the table below, every
 * solver and N = 10, 20, 40, ..., 640 or the --n list (N <= train_steps on a discrete schedule with a fixed
 * K; order is then per step of the list). The model
 * is pd_model_gmm_create with one component (exact x0_hat), the states are float64, the start is the
 * exact marginal at the grid's first point (§2.4), so all error is the integrator's. Metrics:
 *   path_rms  deterministic solvers: RMS over SAMPLES trajectories of x_N minus the closed-form PF-ODE flow
 *             of the same start, x_N* = alpha_N mu + sqrt(v_N / v_0) (x_0 - alpha_0 mu),
 *             v = alpha^2 s^2 + sigma^2;
 *   tv, kl    every solver: total variation and KL(law || exact) between the law of x_N and the exact
 *             marginal N(alpha_N mu, v_N) at the last grid point, both Gaussian, the law exact (no Monte
 *             Carlo): a deterministic run is affine in its start, x_N = A x_0 + c (A, c fitted to the
 *             SAMPLES trajectories, residual checked), so m_N = A m_0 + c, V_N = A^2 V_0; a one-step
 *             stochastic step is affine in the state and its two Philox noise vectors,
 *             x' = A x + c + R1 z1 + R2 z2 (z1 = pd_rng_normal(seed, sample, step, PD_RNG_STEP, 0),
 *             z2 the same with PD_RNG_STEP2), read off one step of PROBES probe samples by least squares
 *             (residual checked), then m' = A m + c, V' = A^2 V + R1^2 + R2^2;
 *   var_rel   (V_N - v_N) / v_N, signed;  mean_err  m_N - alpha_N mu, signed.
 * order = log2(|value at N/2| / |value at N|), the observed order per doubling of N (of the metric: KL is
 * quadratic in the parameter errors, so its order is twice theirs); with --n, the slope in log N between
 * successive entries of the list.
 *
 * PSLD (schedule psld, uniform in t from 1 to 1e-3, Gamma 0.01, nu 4.01, beta 8, kappa 0.04: the defaults
 * of pd_schedule_defaults(PD_SCHEDULE_PSLD)): the psld-* samplers run on pd_model_psld_gmm_create of the same
 * one-component mixture, the state u = (x, m) (dim 2, x first), from the exact 2x2 marginal at t = 1
 * (ALGORITHMS.md §6.2: mean E_t (mu, 0), covariance Sigma_inf + E_t (diag(s^2, kappa M) - Sigma_inf) E_t^T,
 * from the library's core/psld.h, and checked against the grid's alpha and sigma of the x-marginal). Metrics on the x half, u_N = A u_0 + c and each stochastic step
 * u' = A u + c + R (z1x, z1m, z2x, z2m) fitted as above (2x2 A, R 2x4; z1 of PD_RNG_STEP, z2 of PD_RNG_STEP2,
 * elements 0 (x) and 1 (m)), the 2x2 law propagated, TV and KL of its x-marginal against the exact one;
 *   path_rms   deterministic: x_N minus the PF-ODE flow of the same start, the flow an affine map computed
 *              by RK4 on its 3x3 propagator with REF_STEPS uniform steps (checked against REF_STEPS / 2);
 *   path_rms_m the same for the momentum m (not a sample coordinate; the splitting schemes differ there).
 * The usual solvers skip the psld schedule and the psld-* samplers skip the others (no message).
 *
 * Checks before a row is printed (STYLE.md habit 14): the affine fits reproduce the solver's output to
 * 1e-9 (relative); a stochastic solver's law matches a full pd_solver_run of MC_SAMPLES samples from the
 * exact start (mean and variance of x within 5 standard errors). A failed check prints the reason on stderr,
 * drops the rows and makes the exit status 1. A solver that refuses a schedule (bad input) is skipped with a
 * message on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/psld.h"
#include "pintdiff/pintdiff.h"

enum { SAMPLES = 1000, PROBES = 8, PSLD_PROBES = 16, MC_SAMPLES = 4000, MAX_SOLVERS = 64, REF_STEPS = 200000 };
static const double MU = 0.7, SD = 0.5;
static const uint64_t SEED = 77;
enum { MAX_NS = 32 };
static int NS[MAX_NS] = {10, 20, 40, 80, 160, 320, 640};
static int N_NS = 7;

/* Schedules: kind, spacing, and for `li` the constants (our choice: the paper gives none) with T = N. */
typedef struct bench_schedule {
    const char *label;
    pd_schedule_kind kind;
    pd_spacing spacing;
    int t_is_n; /* li: train_steps = N, grid = the whole schedule (spacing leading, steps = T) */
    double c0, c1;
    int augmented; /* psld: the psld-* samplers only, on the psld-gmm model */
} bench_schedule;

static const bench_schedule SCHEDULES[] = {
    {"vp-linear uniform", PD_SCHEDULE_VP_LINEAR, PD_SPACING_UNIFORM, 0, 0, 0, 0},
    {"vp-linear logsnr", PD_SCHEDULE_VP_LINEAR, PD_SPACING_LOGSNR, 0, 0, 0, 0},
    /* linspace, not leading: leading starts at (N - 1)(K / N), e.g. 639 for N = 640, so its interval
     * changes with N; linspace always runs 999 -> 0 -> clean */
    {"ddpm-linear linspace", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LINSPACE, 0, 0, 0, 0},
    {"li c0=2 c1=4 T=N", PD_SCHEDULE_LI, PD_SPACING_LEADING, 1, 2.0, 4.0, 0},
    /* PSLD: t from 1 to 1e-3 uniform (the reference code's `uniform` grid without its final denoising step) */
    {"psld uniform", PD_SCHEDULE_PSLD, PD_SPACING_UNIFORM, 0, 0, 0, 1},
};
#define N_SCHEDULES ((int)(sizeof SCHEDULES / sizeof SCHEDULES[0]))

/* A solver with its parameters; label = how it appears in the CSV. */
typedef struct bench_solver {
    char label[96];
    char name[48];
    double eta, lambda;
} bench_solver;

/* The default list: each integrator of issue 6 beside its baselines. Extend here or on the command line. */
static const char *DEFAULT_SOLVERS[] = {
    /* deterministic: baselines, references, the new ones */
    "ddim", "euler", "heun", "dpm-solver-2", "dpmpp-2m", "li-ddim", "accel-ddim",
    "conjugate-ddim:conj_lambda=-2", "conjugate-ddim:conj_lambda=-1", "conjugate-ddim:conj_lambda=-0.5",
    "conjugate-ddim:conj_lambda=0.5", "conjugate-ddim:conj_lambda=1",
    "conjugate-2", "conjugate-2:conj_lambda=-1", "conjugate-2:conj_lambda=-0.5", "conjugate-2:conj_lambda=0.5",
    /* stochastic */
    "ddpm", "ddim:eta=1", "li-ddpm", "accel-ddpm",
    /* PSLD (schedule psld only): baselines em, sscs, ode-euler; the splitting schemes */
    "psld-em", "psld-sscs", "psld-noba", "psld-roba", "psld-ode-euler", "psld-rvv", "psld-nvv",
};

static int parse_solver(const char *arg, bench_solver *b)
{
    memset(b, 0, sizeof *b);
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len == 0 || len >= sizeof b->name) return 1;
    memcpy(b->name, arg, len);
    snprintf(b->label, sizeof b->label, "%s", arg);
    while (colon) {
        const char *opt = colon + 1;
        char *end = NULL;
        if (!strncmp(opt, "eta=", 4)) b->eta = strtod(opt + 4, &end);
        else if (!strncmp(opt, "conj_lambda=", 12)) b->lambda = strtod(opt + 12, &end);
        else return 1;
        if (!end || (*end != '\0' && *end != ':')) return 1;
        colon = *end == ':' ? end : NULL;
    }
    return 0;
}

/* ----- closed forms ----- */

static double gauss_v(const pd_grid_point *p) { return p->alpha * p->alpha * SD * SD + p->sigma * p->sigma; }

static double phi_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* KL(N(m, v) || N(m0, v0)), with dv = v - v0 passed separately to keep its digits. */
static double kl_gauss(double dm, double dv, double v0)
{
    double r = dv / v0;
    return 0.5 * (r - log1p(r) + dm * dm / v0);
}

/* Total variation between N(m1, v1) and N(m2, v2) in one dimension (dm = m1 - m2, dv = v1 - v2): the
 * densities cross where a x^2 + b x + c = 0 (log p1 = log p2); TV = the sum over the regions where
 * p1 > p2 of P1 - P2. */
static double tv_gauss(double m1, double v1, double m2, double v2, double dv)
{
    double s1 = sqrt(v1), s2 = sqrt(v2);
    if (dv == 0.0) return 2.0 * phi_cdf(fabs(m1 - m2) / (2.0 * s1)) - 1.0;
    double a = dv / (2.0 * v1 * v2);              /* 1/(2 v2) - 1/(2 v1) */
    double b = m1 / v1 - m2 / v2;
    double c = m2 * m2 / (2.0 * v2) - m1 * m1 / (2.0 * v1) + 0.5 * log1p(-dv / v1); /* + 1/2 log(v2/v1) */
    double disc = b * b - 4.0 * a * c;
    if (disc < 0) disc = 0;
    double q = -0.5 * (b + copysign(sqrt(disc), b));
    double r1 = q / a, r2 = q != 0.0 ? c / q : -r1;
    if (r1 > r2) {
        double t = r1;
        r1 = r2;
        r2 = t;
    }
    /* P(X < r) of each law */
    double p1l = phi_cdf((r1 - m1) / s1), p2l = phi_cdf((r1 - m2) / s2);
    double p1h = phi_cdf(-(r2 - m1) / s1), p2h = phi_cdf(-(r2 - m2) / s2); /* P(X > r2) */
    double mid1 = 1.0 - p1l - p1h, mid2 = 1.0 - p2l - p2h;
    /* a > 0 (v1 > v2): p1 > p2 in the tails; else between the roots */
    return a > 0 ? (p1l - p2l) + (p1h - p2h) : mid1 - mid2;
}

/* ----- one (schedule, solver, N) ----- */

typedef struct result {
    int nfe;
    double path_rms; /* NAN for stochastic solvers */
    double path_rms_m; /* psld deterministic: the momentum's; NAN otherwise */
    double m, V;     /* law of x_N */
    double m_ex, V_ex;
    double dV;       /* V - V_ex as propagated (kept apart from V for its digits) */
} result;

/* x = alpha_0 mu + sqrt(v_0) z(SEED, sample, 0, PD_RNG_START) */
static pd_status start_exact(pd_ctx *ctx, pd_state *x, const pd_grid *g, double *host)
{
    const pd_grid_point *p0 = pd_grid_at(g, 0);
    int64_t n = pd_state_n_samples(x);
    PD_TRY(pd_state_fill_normal(ctx, x, SEED, 0, PD_RNG_START));
    PD_TRY(pd_state_read_f64(ctx, x, host));
    for (int64_t i = 0; i < n; i++) host[i] = p0->alpha * MU + sqrt(gauss_v(p0)) * host[i];
    return pd_state_write_f64(ctx, x, host);
}

/* Least squares for k <= 8 unknowns: minimise |M u - y|, M [n, k] row-major; returns the max residual. */
static double lstsq(int n, int k, const double *M, const double *y, double *u)
{
    double G[8][9] = {{0}};
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            for (int r = 0; r < n; r++) G[i][j] += M[r * k + i] * M[r * k + j];
        for (int r = 0; r < n; r++) G[i][k] += M[r * k + i] * y[r];
    }
    for (int c = 0; c < k; c++) { /* Gauss-Jordan with partial pivoting */
        int p = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(G[r][c]) > fabs(G[p][c])) p = r;
        for (int j = 0; j <= k; j++) {
            double t = G[c][j];
            G[c][j] = G[p][j];
            G[p][j] = t;
        }
        for (int r = 0; r < k; r++) {
            if (r == c || G[c][c] == 0.0) continue;
            double f = G[r][c] / G[c][c];
            for (int j = c; j <= k; j++) G[r][j] -= f * G[c][j];
        }
    }
    for (int i = 0; i < k; i++) u[i] = G[i][i] != 0.0 ? G[i][k] / G[i][i] : 0.0;
    double worst = 0;
    for (int r = 0; r < n; r++) {
        double e = y[r];
        for (int i = 0; i < k; i++) e -= M[r * k + i] * u[i];
        worst = fmax(worst, fabs(e));
    }
    return worst;
}

/* Deterministic: one run of SAMPLES trajectories; path error against the flow; x_N = A x_0 + c fitted. */
static pd_status run_deterministic(pd_ctx *ctx, const pd_solver *sv, pd_model *m, const pd_grid *g, result *r)
{
    pd_status st = PD_OK;
    pd_state *x = NULL;
    pd_solver_ws *ws = NULL;
    int N = pd_grid_steps(g);
    const pd_grid_point *p0 = pd_grid_at(g, 0), *pN = pd_grid_at(g, N);
    double *x0 = malloc(SAMPLES * sizeof *x0), *x1 = malloc(SAMPLES * sizeof *x1);
    double *M = malloc(2 * SAMPLES * sizeof *M);
    if (!x0 || !x1 || !M) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "bench: scratch");
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, SAMPLES, 1, 0, &x));
    PD_TRY_GOTO(start_exact(ctx, x, g, x0));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, x, &ws));
    pd_model_reset_nfe(m);
    PD_TRY_GOTO(pd_solver_run(ctx, sv, m, g, 0, N, x, ws));
    r->nfe = (int)pd_model_nfe(m);
    PD_TRY_GOTO(pd_state_read_f64(ctx, x, x1));
    double sum = 0, scale = 0, u[2];
    for (int i = 0; i < SAMPLES; i++) {
        double ex = pN->alpha * MU + sqrt(gauss_v(pN) / gauss_v(p0)) * (x0[i] - p0->alpha * MU);
        sum += (x1[i] - ex) * (x1[i] - ex);
        M[2 * i] = x0[i] - p0->alpha * MU; /* centred start: A and c = the mean of x_N */
        M[2 * i + 1] = 1.0;
        scale = fmax(scale, fabs(x1[i]));
    }
    r->path_rms = sqrt(sum / SAMPLES);
    double res = lstsq(SAMPLES, 2, M, x1, u);
    if (!(res <= 1e-9 * scale))
        PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC, "%s: x_N is not affine in x_0 (residual %.3e): law not exact",
                     pd_solver_get_info(sv)->name, res);
    r->m = u[1];
    r->V = u[0] * u[0] * gauss_v(p0);
    /* dV from A^2 v_0 - v_N with v_N = v_0 A*^2: (A - A*)(A + A*) v_0 */
    double Aex = sqrt(gauss_v(pN) / gauss_v(p0));
    r->dV = (u[0] - Aex) * (u[0] + Aex) * gauss_v(p0);
done:
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&x);
    free(x0);
    free(x1);
    free(M);
    return st;
}

/* The Monte-Carlo check: mean and variance of x (every stride-th value of h, MC_SAMPLES of them) within 5
 * standard errors of the propagated law r. */
static pd_status mc_agrees(pd_ctx *ctx, const char *name, const double *h, int stride, const result *r)
{
    double sm = 0, sv2 = 0;
    for (int i = 0; i < MC_SAMPLES; i++) sm += h[stride * i];
    sm /= MC_SAMPLES;
    for (int i = 0; i < MC_SAMPLES; i++) sv2 += (h[stride * i] - sm) * (h[stride * i] - sm);
    sv2 /= MC_SAMPLES - 1;
    double zm = (sm - r->m) / sqrt(r->V / MC_SAMPLES);
    double zv = (sv2 - r->V) / (r->V * sqrt(2.0 / (MC_SAMPLES - 1)));
    if (!(fabs(zm) < 5.0 && fabs(zv) < 5.0))
        PD_FAIL(ctx, PD_ERR_NUMERIC, "%s: Monte-Carlo run disagrees with the propagated law (x mean %.5f vs %.5f, "
                "var %.5f vs %.5f)", name, sm, r->m, sv2, r->V);
    return PD_OK;
}

/* Stochastic one-step solvers: the law step by step from probes, then a Monte-Carlo check. */
static pd_status run_stochastic(pd_ctx *ctx, const pd_solver *sv, pd_model *m, const pd_grid *g, result *r)
{
    pd_status st = PD_OK;
    pd_state *x = NULL, *xm = NULL;
    pd_solver_ws *ws = NULL, *wsm = NULL;
    double *h = NULL;
    int N = pd_grid_steps(g);
    const char *name = pd_solver_get_info(sv)->name;
    if (pd_solver_get_info(sv)->multistep)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: stochastic multistep solver: the per-step law does not apply",
                     name);
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, PROBES, 1, 0, &x));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, x, &ws));
    double mean = pd_grid_at(g, 0)->alpha * MU, V = gauss_v(pd_grid_at(g, 0));
    for (int n = 0; n < N; n++) {
        double in[PROBES], out[PROBES], M[PROBES * 4], u[4], scale = 1e-300;
        uint32_t step = (uint32_t)pd_grid_noise_step(g, n);
        for (int k = 0; k < PROBES; k++) {
            in[k] = -2.0 + 0.55 * k;
            M[4 * k] = in[k];
            M[4 * k + 1] = 1.0;
            M[4 * k + 2] = pd_rng_normal(pd_solver_get_params(sv)->seed, (uint32_t)k, step, PD_RNG_STEP, 0);
            M[4 * k + 3] = pd_rng_normal(pd_solver_get_params(sv)->seed, (uint32_t)k, step, PD_RNG_STEP2, 0);
        }
        PD_TRY_GOTO(pd_state_write_f64(ctx, x, in));
        pd_solver_ws_reset(ws);
        PD_TRY_GOTO(pd_solver_step(ctx, sv, m, g, n, x, ws));
        PD_TRY_GOTO(pd_state_read_f64(ctx, x, out));
        for (int k = 0; k < PROBES; k++) scale = fmax(scale, fabs(out[k]));
        double res = lstsq(PROBES, 4, M, out, u);
        if (!(res <= 1e-9 * scale))
            PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC, "%s step %d: not affine in (x, z1, z2), residual %.3e", name, n,
                         res);
        mean = u[0] * mean + u[1];
        V = u[0] * u[0] * V + u[2] * u[2] + u[3] * u[3];
    }
    const pd_grid_point *pN = pd_grid_at(g, N);
    r->m = mean;
    r->V = V;
    r->dV = V - gauss_v(pN);
    r->path_rms = NAN;
    /* Monte-Carlo check: a full run of MC_SAMPLES samples from the exact start */
    h = malloc(MC_SAMPLES * sizeof *h);
    if (!h) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "bench: scratch");
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, MC_SAMPLES, 1, 0, &xm));
    PD_TRY_GOTO(start_exact(ctx, xm, g, h));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, xm, &wsm));
    pd_model_reset_nfe(m);
    PD_TRY_GOTO(pd_solver_run(ctx, sv, m, g, 0, N, xm, wsm));
    r->nfe = (int)pd_model_nfe(m);
    PD_TRY_GOTO(pd_state_read_f64(ctx, xm, h));
    PD_TRY_GOTO(mc_agrees(ctx, name, h, 1, r));
done:
    free(h);
    pd_solver_ws_destroy(&wsm);
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&xm);
    pd_state_destroy(&x);
    return st;
}

/* ----- PSLD: the law of u = (x, m) in closed form, from the library's 2x2 algebra (core/psld.h, itself
 * checked in test_solvers_psld against a matrix exponential and the Lyapunov equation) ----- */

/* E_t = exp(1/2 beta t A) and the covariance of u_t for x_0 ~ N(MU, SD^2), m_0 ~ N(0, kappa M); the mean
 * of u_t is E_t (MU, 0). */
static pd_mat2 psld_E(const pd_psld *p, double t) { return pd_psld_fwd(p, p->beta * t); }
static pd_mat2 psld_S(const pd_psld *p, double t) { return pd_psld_cov(p, p->beta * t, SD * SD); }

/* The PF-ODE in reverse time, du/dtau = -1/2 beta A u + 1/2 beta D s, s = -Sigma_t^-1 (u - mean_t),
 * D = diag(Gamma, M nu), is affine: d[u; 1]/dtau = G(t) [u; 1]. */
static void psld_G(const pd_psld *p, double t, double G[3][3])
{
    pd_mat2 E = psld_E(p, t), Si = pd_mat2_inv(psld_S(p, t), NULL);
    double b2 = 0.5 * p->beta, dx = p->gamma, dm = p->m * p->nu;
    double mx = E.a * MU, mm = E.c * MU;
    /* K = -1/2 beta A - 1/2 beta D Sigma^-1,  k = 1/2 beta D Sigma^-1 mean */
    G[0][0] = b2 * p->gamma - b2 * dx * Si.a;
    G[0][1] = -b2 * p->minv - b2 * dx * Si.b;
    G[1][0] = b2 - b2 * dm * Si.c;
    G[1][1] = b2 * p->nu - b2 * dm * Si.d;
    G[0][2] = b2 * dx * (Si.a * mx + Si.b * mm);
    G[1][2] = b2 * dm * (Si.c * mx + Si.d * mm);
    G[2][0] = G[2][1] = G[2][2] = 0.0;
}

static void mat3_mul(double A[3][3], double B[3][3], double C[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) C[i][j] = A[i][0] * B[0][j] + A[i][1] * B[1][j] + A[i][2] * B[2][j];
}

/* The flow map of the PF-ODE from t0 down to t1 as a 3x3 propagator P ([u_1; 1] = P [u_0; 1]): RK4 with n
 * uniform steps on dP/dtau = G P. */
static void psld_flow(const pd_psld *p, double t0, double t1, int n, double P[3][3])
{
    const double h = (t0 - t1) / n;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) P[i][j] = i == j;
    for (int s = 0; s < n; s++) {
        double t = t0 - s * h, G[3][3], k[4][3][3], Y[3][3];
        const double dt[4] = {0.0, 0.5 * h, 0.5 * h, h};
        for (int st = 0; st < 4; st++) {
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) Y[i][j] = P[i][j] + (st ? dt[st] * k[st - 1][i][j] : 0.0);
            psld_G(p, t - dt[st], G);
            mat3_mul(G, Y, k[st]);
        }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) P[i][j] += h / 6.0 * (k[0][i][j] + 2 * k[1][i][j] + 2 * k[2][i][j] + k[3][i][j]);
    }
}

/* The exact law at the grid's ends, checked against the alpha and sigma of the x-marginal the grid carries
 * (v = alpha^2 s^2 + sigma^2). */
static pd_status psld_ends(pd_ctx *ctx, const pd_psld *p, const pd_grid *g, double mean0[2], pd_mat2 *S0, result *r)
{
    int N = pd_grid_steps(g);
    const pd_grid_point *p0 = pd_grid_at(g, 0), *pN = pd_grid_at(g, N);
    pd_mat2 E0 = psld_E(p, p0->t), EN = psld_E(p, pN->t);
    *S0 = psld_S(p, p0->t);
    mean0[0] = E0.a * MU;
    mean0[1] = E0.c * MU;
    r->m_ex = EN.a * MU;
    r->V_ex = psld_S(p, pN->t).a;
    double e = fmax(fabs(E0.a - p0->alpha) / E0.a, fabs(EN.a - pN->alpha) / EN.a);
    e = fmax(e, fmax(fabs(S0->a - gauss_v(p0)) / S0->a, fabs(r->V_ex - gauss_v(pN)) / r->V_ex));
    if (!(e < 1e-12))
        PD_FAIL(ctx, PD_ERR_NUMERIC, "psld: the grid's x-marginal (alpha, sigma) disagrees with the 2x2 law by %.2e",
                e);
    return PD_OK;
}

/* u_0 = mean_0 + chol(Sigma_0) z, z of (SEED, sample, 0, PD_RNG_START) at elements 0 (x) and 1 (m) */
static pd_status psld_start(pd_ctx *ctx, pd_state *x, const double mean0[2], pd_mat2 S0, double *host)
{
    int64_t n = pd_state_n_samples(x);
    double l11 = sqrt(S0.a), l21 = S0.c / l11, l22 = sqrt(S0.d - l21 * l21);
    PD_TRY(pd_state_fill_normal(ctx, x, SEED, 0, PD_RNG_START));
    PD_TRY(pd_state_read_f64(ctx, x, host));
    for (int64_t i = 0; i < n; i++) {
        double zx = host[2 * i], zm = host[2 * i + 1];
        host[2 * i] = mean0[0] + l11 * zx;
        host[2 * i + 1] = mean0[1] + l21 * zx + l22 * zm;
    }
    return pd_state_write_f64(ctx, x, host);
}

/* Deterministic psld-*: SAMPLES trajectories, path error of x and m against the RK4 flow of the same start;
 * u_N = A u_0 + c fitted, the x-marginal of its law. */
static pd_status run_psld_deterministic(pd_ctx *ctx, const pd_solver *sv, pd_model *m, const pd_grid *g,
                                        const pd_psld *par, result *r)
{
    pd_status st = PD_OK;
    pd_state *x = NULL;
    pd_solver_ws *ws = NULL;
    int N = pd_grid_steps(g);
    double mean0[2], P[3][3], P2[3][3];
    pd_mat2 S0;
    double *u0 = malloc(2 * SAMPLES * sizeof *u0), *u1 = malloc(2 * SAMPLES * sizeof *u1);
    double *M = malloc(3 * SAMPLES * sizeof *M), *y = malloc(SAMPLES * sizeof *y);
    if (!u0 || !u1 || !M || !y) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "bench: scratch");
    PD_TRY_GOTO(psld_ends(ctx, par, g, mean0, &S0, r));
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, SAMPLES, 2, 0, &x));
    PD_TRY_GOTO(psld_start(ctx, x, mean0, S0, u0));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, x, &ws));
    pd_model_reset_nfe(m);
    PD_TRY_GOTO(pd_solver_run(ctx, sv, m, g, 0, N, x, ws));
    r->nfe = (int)pd_model_nfe(m);
    PD_TRY_GOTO(pd_state_read_f64(ctx, x, u1));
    /* the reference flow, and its own error from half the steps (RK4: 16x the error at REF_STEPS) */
    const double t0 = pd_grid_at(g, 0)->t, t1 = pd_grid_at(g, N)->t;
    psld_flow(par, t0, t1, REF_STEPS, P);
    psld_flow(par, t0, t1, REF_STEPS / 2, P2);
    double ref_err = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) ref_err = fmax(ref_err, fabs(P[i][j] - P2[i][j]));
    if (!(ref_err < 1e-10))
        PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC, "psld: RK4 reference flow not converged (%.2e between %d and %d steps)",
                     ref_err, REF_STEPS / 2, REF_STEPS);
    double sx = 0, sm = 0, scale = 0, u[3];
    for (int i = 0; i < SAMPLES; i++) {
        const double *a = u0 + 2 * i, *b = u1 + 2 * i;
        double ex = P[0][0] * a[0] + P[0][1] * a[1] + P[0][2], em = P[1][0] * a[0] + P[1][1] * a[1] + P[1][2];
        sx += (b[0] - ex) * (b[0] - ex);
        sm += (b[1] - em) * (b[1] - em);
        M[3 * i] = a[0] - mean0[0]; /* centred start: c = the mean of u_N */
        M[3 * i + 1] = a[1] - mean0[1];
        M[3 * i + 2] = 1.0;
        scale = fmax(scale, fmax(fabs(b[0]), fabs(b[1])));
    }
    r->path_rms = sqrt(sx / SAMPLES);
    r->path_rms_m = sqrt(sm / SAMPLES);
    pd_mat2 A = {0, 0, 0, 0};
    double c[2];
    for (int row = 0; row < 2; row++) {
        for (int i = 0; i < SAMPLES; i++) y[i] = u1[2 * i + row];
        double res = lstsq(SAMPLES, 3, M, y, u);
        if (!(res <= 1e-9 * scale))
            PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC, "%s: u_N is not affine in u_0 (residual %.3e): law not exact",
                         pd_solver_get_info(sv)->name, res);
        if (row == 0) A.a = u[0], A.b = u[1];
        else A.c = u[0], A.d = u[1];
        c[row] = u[2];
    }
    r->m = c[0];
    r->V = pd_mat2_mul(pd_mat2_mul(A, S0), pd_mat2_t(A)).a;
    r->dV = r->V - r->V_ex;
done:
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&x);
    free(u0);
    free(u1);
    free(M);
    free(y);
    return st;
}

/* Stochastic psld-*: each step u' = A u + c + R z, z = (z1x, z1m, z2x, z2m), read off PSLD_PROBES probes,
 * the 2x2 law propagated; then a Monte-Carlo run checks the x-marginal. */
static pd_status run_psld_stochastic(pd_ctx *ctx, const pd_solver *sv, pd_model *m, const pd_grid *g,
                                     const pd_psld *par, result *r)
{
    enum { K = 7 };
    pd_status st = PD_OK;
    pd_state *x = NULL, *xm = NULL;
    pd_solver_ws *ws = NULL, *wsm = NULL;
    double *h = NULL;
    int N = pd_grid_steps(g);
    const char *name = pd_solver_get_info(sv)->name;
    uint64_t seed = pd_solver_get_params(sv)->seed;
    double mean[2];
    pd_mat2 S;
    PD_TRY_GOTO(psld_ends(ctx, par, g, mean, &S, r));
    if (pd_solver_get_info(sv)->multistep)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: stochastic multistep solver: the per-step law does not apply", name);
    PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, PSLD_PROBES, 2, 0, &x));
    PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, x, &ws));
    for (int n = 0; n < N; n++) {
        double in[2 * PSLD_PROBES], out[2 * PSLD_PROBES], M[PSLD_PROBES * K], y[PSLD_PROBES], u[K], scale = 1e-300;
        uint32_t step = (uint32_t)pd_grid_noise_step(g, n);
        for (int k = 0; k < PSLD_PROBES; k++) {
            in[2 * k] = -2.0 + 0.27 * k;
            in[2 * k + 1] = 0.5 * cos(1.3 * k);
            double *row = M + K * k;
            row[0] = in[2 * k];
            row[1] = in[2 * k + 1];
            row[2] = 1.0;
            for (int j = 0; j < 4; j++)
                row[3 + j] = pd_rng_normal(seed, (uint32_t)k, step, j < 2 ? PD_RNG_STEP : PD_RNG_STEP2, (uint64_t)(j & 1));
        }
        PD_TRY_GOTO(pd_state_write_f64(ctx, x, in));
        pd_solver_ws_reset(ws);
        PD_TRY_GOTO(pd_solver_step(ctx, sv, m, g, n, x, ws));
        PD_TRY_GOTO(pd_state_read_f64(ctx, x, out));
        for (int k = 0; k < 2 * PSLD_PROBES; k++) scale = fmax(scale, fabs(out[k]));
        pd_mat2 A = {0, 0, 0, 0};
        double c[2], R[2][4];
        for (int rw = 0; rw < 2; rw++) {
            for (int k = 0; k < PSLD_PROBES; k++) y[k] = out[2 * k + rw];
            double res = lstsq(PSLD_PROBES, K, M, y, u);
            if (!(res <= 1e-9 * scale))
                PD_FAIL_GOTO(ctx, PD_ERR_NUMERIC, "%s step %d: not affine in (u, z1, z2), residual %.3e", name, n,
                             res);
            if (rw == 0) A.a = u[0], A.b = u[1];
            else A.c = u[0], A.d = u[1];
            c[rw] = u[2];
            for (int j = 0; j < 4; j++) R[rw][j] = u[3 + j];
        }
        double m0 = A.a * mean[0] + A.b * mean[1] + c[0], m1 = A.c * mean[0] + A.d * mean[1] + c[1];
        mean[0] = m0;
        mean[1] = m1;
        pd_mat2 T = pd_mat2_mul(pd_mat2_mul(A, S), pd_mat2_t(A));
        double rr[2][2] = {{0, 0}, {0, 0}};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 4; k++) rr[i][j] += R[i][k] * R[j][k];
        S = (pd_mat2){T.a + rr[0][0], 0.5 * (T.b + T.c) + rr[0][1], 0.5 * (T.b + T.c) + rr[1][0], T.d + rr[1][1]};
    }
    r->m = mean[0];
    r->V = S.a;
    r->dV = S.a - r->V_ex;
    r->path_rms = r->path_rms_m = NAN;
    /* Monte-Carlo check: a full run of MC_SAMPLES samples from the exact start */
    {
        double mean0[2];
        pd_mat2 S0;
        result dummy = {0};
        PD_TRY_GOTO(psld_ends(ctx, par, g, mean0, &S0, &dummy));
        h = malloc(2 * MC_SAMPLES * sizeof *h);
        if (!h) PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "bench: scratch");
        PD_TRY_GOTO(pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, MC_SAMPLES, 2, 0, &xm));
        PD_TRY_GOTO(psld_start(ctx, xm, mean0, S0, h));
        PD_TRY_GOTO(pd_solver_ws_create(ctx, sv, xm, &wsm));
        pd_model_reset_nfe(m);
        PD_TRY_GOTO(pd_solver_run(ctx, sv, m, g, 0, N, xm, wsm));
        r->nfe = (int)pd_model_nfe(m);
        PD_TRY_GOTO(pd_state_read_f64(ctx, xm, h));
        PD_TRY_GOTO(mc_agrees(ctx, name, h, 2, r));
    }
done:
    free(h);
    pd_solver_ws_destroy(&wsm);
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&xm);
    pd_state_destroy(&x);
    return st;
}

/* ----- the table ----- */

typedef struct prev_values {
    double v[6];
    int N; /* the previous N of the list (0: none) */
} prev_values;

/* order against the previous N: log2 of the ratio on a doubling, else the slope in log N */
static void print_row(const char *sched, const char *solver, int N, int nfe, const char *metric, double value,
                      double *prev, int N_prev)
{
    printf("%s,%s,%d,%d,%s,%.6e,", sched, solver, N, nfe, metric, value);
    if (isfinite(*prev) && *prev != 0.0 && value != 0.0) {
        double r = fabs(*prev) / fabs(value);
        printf("%.3f", N == 2 * N_prev ? log2(r) : log(r) / log((double)N / N_prev));
    }
    printf("\n");
    *prev = value;
}

static pd_status make_grid(pd_ctx *ctx, const bench_schedule *bs, int N, pd_schedule **sch, pd_grid **g)
{
    pd_schedule_params sp = pd_schedule_defaults(bs->kind);
    if (bs->t_is_n) {
        sp.train_steps = N;
        sp.li_c0 = bs->c0;
        sp.li_c1 = bs->c1;
    }
    PD_TRY(pd_schedule_create(ctx, &sp, sch));
    return pd_grid_create(ctx, *sch, bs->spacing, N, 0, g);
}

/* All N of one (schedule, solver). Returns the number of failed checks (the rows of a failed N and of the
 * larger N are not printed); a solver that refuses the schedule (bad input) is skipped with a message, a
 * psld-* sampler off the psld schedule and a usual solver on it silently. m: the plain mixture, pm: its
 * psld-gmm model. */
static int bench_one(pd_ctx *ctx, pd_model *m, pd_model *pm, const bench_schedule *bs, const bench_solver *b)
{
    pd_solver_params p = pd_solver_default_params();
    p.seed = SEED;
    p.eta = b->eta;
    p.conj_lambda = b->lambda;
    pd_solver *sv = NULL;
    if (pd_solver_create(ctx, b->name, &p, &sv) != PD_OK) {
        fprintf(stderr, "pd-bench-integrators: %s: %s\n", b->label, pd_ctx_message(ctx));
        pd_ctx_clear(ctx);
        return 1;
    }
    if (pd_solver_get_info(sv)->augmented != bs->augmented) {
        pd_solver_destroy(&sv);
        return 0;
    }
    int stoch = pd_solver_is_stochastic(sv), fails = 0;
    pd_model *mm = bs->augmented ? pm : m;
    pd_schedule_params sp = pd_schedule_defaults(bs->kind);
    pd_psld par = pd_psld_make(sp.psld_gamma, sp.psld_nu, sp.psld_beta, sp.psld_kappa);
    prev_values prev = {{NAN, NAN, NAN, NAN, NAN, NAN}, 0};
    for (int i = 0; i < N_NS; i++) {
        int N = NS[i];
        int K = sp.train_steps;
        int continuous = bs->kind == PD_SCHEDULE_VP_LINEAR || bs->kind == PD_SCHEDULE_PSLD;
        if (!bs->t_is_n && !continuous && N > K) /* cap at T = K */
            break;
        pd_schedule *sch = NULL;
        pd_grid *g = NULL;
        result r = {0};
        pd_status st = make_grid(ctx, bs, N, &sch, &g);
        if (st == PD_OK && bs->augmented)
            st = stoch ? run_psld_stochastic(ctx, sv, mm, g, &par, &r)
                       : run_psld_deterministic(ctx, sv, mm, g, &par, &r);
        else if (st == PD_OK)
            st = stoch ? run_stochastic(ctx, sv, mm, g, &r) : run_deterministic(ctx, sv, mm, g, &r);
        if (st == PD_OK) {
            const pd_grid_point *pN = pd_grid_at(g, N);
            if (!bs->augmented) { /* psld: set by the run from the 2x2 law */
                r.m_ex = pN->alpha * MU;
                r.V_ex = gauss_v(pN);
            }
            double dm = r.m - r.m_ex;
            if (!stoch) print_row(bs->label, b->label, N, r.nfe, "path_rms", r.path_rms, &prev.v[0], prev.N);
            if (!stoch && bs->augmented)
                print_row(bs->label, b->label, N, r.nfe, "path_rms_m", r.path_rms_m, &prev.v[5], prev.N);
            double tv = tv_gauss(r.m, r.V, r.m_ex, r.V_ex, r.dV);
            print_row(bs->label, b->label, N, r.nfe, "tv", tv, &prev.v[1], prev.N);
            print_row(bs->label, b->label, N, r.nfe, "kl", kl_gauss(dm, r.dV, r.V_ex), &prev.v[2], prev.N);
            print_row(bs->label, b->label, N, r.nfe, "var_rel", r.dV / r.V_ex, &prev.v[3], prev.N);
            print_row(bs->label, b->label, N, r.nfe, "mean_err", dm, &prev.v[4], prev.N);
            prev.N = N;
            fflush(stdout);
        }
        pd_grid_destroy(&g);
        pd_schedule_destroy(&sch);
        if (st != PD_OK) {
            int refused = st == PD_ERR_INPUT;
            fprintf(stderr, "pd-bench-integrators: %s on %s, N = %d: %s%s\n", b->label, bs->label, N,
                    pd_ctx_message(ctx), refused ? " (skipped)" : "");
            pd_ctx_clear(ctx);
            fails += !refused;
            break;
        }
    }
    pd_solver_destroy(&sv);
    return fails;
}

int main(int argc, char **argv)
{
    bench_solver solvers[MAX_SOLVERS];
    int n_solvers = 0, first = 1;
    if (argc > 2 && !strcmp(argv[1], "--n")) { /* the step counts: a comma list of N >= 1, increasing */
        char *end = argv[2];
        N_NS = 0;
        while (*end && N_NS < MAX_NS) {
            long v = strtol(end, &end, 10);
            if (v < 1 || v > 1000000 || (N_NS && v <= NS[N_NS - 1]) || (*end && *end != ',')) {
                N_NS = 0;
                break;
            }
            NS[N_NS++] = (int)v;
            if (*end == ',') end++;
        }
        if (N_NS == 0 || *end) {
            fprintf(stderr, "pd-bench-integrators: --n wants increasing step counts N1,N2,... (at most %d)\n", MAX_NS);
            return 2;
        }
        first = 3;
    }
    int n_args = argc > first ? argc - first : (int)(sizeof DEFAULT_SOLVERS / sizeof DEFAULT_SOLVERS[0]);
    if (n_args > MAX_SOLVERS) {
        fprintf(stderr, "pd-bench-integrators: at most %d solvers\n", MAX_SOLVERS);
        return 2;
    }
    for (int i = 0; i < n_args; i++) {
        const char *a = argc > first ? argv[i + first] : DEFAULT_SOLVERS[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || parse_solver(a, &solvers[n_solvers])) {
            fprintf(stderr, "usage: pd-bench-integrators [--n N1,N2,...] [SOLVER[:eta=E][:conj_lambda=L]]...\n"
                            "  (solvers: %s; default list: the issue-6 set; default N: 10,20,...,640)\n",
                    pd_solver_names());
            return 2;
        }
        n_solvers++;
    }
    pd_ctx *ctx = pd_ctx_create();
    pd_model *m = NULL, *pm = NULL;
    const int64_t shape[1] = {1};
    const double w[1] = {1.0}, mu[1] = {MU}, var[1] = {SD * SD};
    for (int k = 0; ctx && k < n_solvers; k++) { /* bad names and parameters are usage errors */
        pd_solver_params p = pd_solver_default_params();
        pd_solver *sv = NULL;
        p.eta = solvers[k].eta;
        p.conj_lambda = solvers[k].lambda;
        if (pd_solver_create(ctx, solvers[k].name, &p, &sv) != PD_OK) {
            fprintf(stderr, "pd-bench-integrators: %s: %s\n", solvers[k].label, pd_ctx_message(ctx));
            pd_ctx_destroy(&ctx);
            return 2;
        }
        pd_solver_destroy(&sv);
    }
    const pd_schedule_params q = pd_schedule_defaults(PD_SCHEDULE_PSLD);
    if (!ctx || pd_model_gmm_create(ctx, 1, 1, shape, w, mu, var, 0, &m) != PD_OK ||
        pd_model_reserve(ctx, m, MC_SAMPLES) != PD_OK ||
        pd_model_psld_gmm_create(ctx, m, q.psld_gamma, q.psld_nu, q.psld_beta, q.psld_kappa, &pm) != PD_OK ||
        pd_model_reserve(ctx, pm, MC_SAMPLES) != PD_OK) {
        fprintf(stderr, "pd-bench-integrators: %s\n", ctx ? pd_ctx_message(ctx) : "out of memory");
        return 1;
    }
    printf("# pd-bench-integrators: N(%g, %g^2), d = 1, float64, exact start; %d trajectories (path_rms), "
           "law exact (tv, kl, var_rel, mean_err); seed %llu; psld: Gamma %g nu %g beta %g kappa %g, "
           "t %g -> %g, RK4 reference %d steps\n",
           MU, SD, SAMPLES, (unsigned long long)SEED, q.psld_gamma, q.psld_nu, q.psld_beta, q.psld_kappa, q.t_max,
           q.t_min, REF_STEPS);
    printf("schedule,solver,N,nfe,metric,value,order\n");
    int fails = 0;
    for (int s = 0; s < N_SCHEDULES; s++)
        for (int k = 0; k < n_solvers; k++) fails += bench_one(ctx, m, pm, &SCHEDULES[s], &solvers[k]);
    pd_model_destroy(&pm);
    pd_model_destroy(&m);
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "pd-bench-integrators: %d failed check(s)\n", fails);
    return fails != 0;
}
