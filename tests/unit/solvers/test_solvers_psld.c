/* PSLD (ALGORITHMS.md §6; docs/INTEGRATORS.md §3), float64, Gamma = 0.01, nu = 4.01, beta = 8, kappa = 0.04:
 * - the closed-form kernel: exp(J/2 A) against a Taylor/squaring matrix exponential (1e-13), Sigma_t against
 *   RK4 on the Lyapunov ODE dSigma/dt = beta/2 (A Sigma + Sigma A^T) + beta D (1e-10);
 * - the psld-gmm score (3 components, d = 2, diagonal variances) against central differences of its log
 *   density (2e-6 relative);
 * - pd_state_lincomb_pairs against the formula, its noise the numbers pd_state_fill_normal draws;
 * - the samplers on the Gaussian data N(0.7, 0.5^2), d = 1, from the exact marginal at t = 1 to t_min:
 *   deterministic ones (psld-ode-euler, psld-rvv, psld-nvv) against an RK4 reference of the PF-ODE (observed
 *   order 1 within 0.25 for ode-euler and rvv; nvv 1.6 within 0.3 at these N, pre-asymptotic: the scheme is
 *   first order, its half-kicks being explicit Euler in m; and nvv < rvv < ode-euler at N = 800); stochastic
 *   ones (em, sscs, noba,
 *   roba) by exact moment propagation (each step is affine in u and its noise vectors; the law is read off
 *   probe samples with known Philox noise): KL of the x-marginal falls with N and at N = 400 is below
 *   1e-3 for all, and the splitting schemes beat em (docs: ALGORITHMS.md §6.5's measured figures);
 * - a psld sampler refuses a non-augmented model, a usual solver refuses the psld model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/psld.h"
#include "gauss_model.h"
#include "pd_test.h"
#include "pintdiff/rng.h"
#include "pintdiff/solver.h"

enum { SEED = 21 };
static const double MU = 0.7, SD = 0.5;

static pd_psld defaults(void)
{
    pd_schedule_params q = pd_schedule_defaults(PD_SCHEDULE_PSLD);
    return pd_psld_make(q.psld_gamma, q.psld_nu, q.psld_beta, q.psld_kappa);
}

/* ---- kernel ---- */

static pd_mat2 expm_taylor(pd_mat2 X)
{
    int sq = 0;
    while (fabs(X.a) + fabs(X.b) + fabs(X.c) + fabs(X.d) > 0.01) {
        X = (pd_mat2){X.a / 2, X.b / 2, X.c / 2, X.d / 2};
        sq++;
    }
    pd_mat2 E = {1, 0, 0, 1}, term = {1, 0, 0, 1};
    for (int k = 1; k < 20; k++) {
        term = pd_mat2_mul(term, X);
        term = (pd_mat2){term.a / k, term.b / k, term.c / k, term.d / k};
        E = (pd_mat2){E.a + term.a, E.b + term.b, E.c + term.c, E.d + term.d};
    }
    for (int i = 0; i < sq; i++) E = pd_mat2_mul(E, E);
    return E;
}

static double mdiff(pd_mat2 p, pd_mat2 q)
{
    return fmax(fmax(fabs(p.a - q.a), fabs(p.b - q.b)), fmax(fabs(p.c - q.c), fabs(p.d - q.d)));
}

static pd_mat2 lyap_rhs(const pd_psld *p, pd_mat2 S)
{
    const pd_mat2 A = {-p->gamma, p->minv, -1.0, -p->nu};
    pd_mat2 AS = pd_mat2_mul(A, S), SA = pd_mat2_mul(S, pd_mat2_t(A));
    return (pd_mat2){0.5 * p->beta * (AS.a + SA.a) + p->beta * p->gamma, 0.5 * p->beta * (AS.b + SA.b),
                     0.5 * p->beta * (AS.c + SA.c), 0.5 * p->beta * (AS.d + SA.d) + p->beta * p->m * p->nu};
}

static pd_mat2 axpy(pd_mat2 y, double a, pd_mat2 x) { return (pd_mat2){y.a + a * x.a, y.b + a * x.b, y.c + a * x.c, y.d + a * x.d}; }

static int kernel_checks(int *fails)
{
    pd_psld p = defaults();
    const pd_mat2 A = {-p.gamma, p.minv, -1.0, -p.nu};
    double worst_e = 0, worst_s = 0;
    for (double t = 0.01; t <= 1.0; t *= 3.0) {
        const double J = p.beta * t;
        worst_e = fmax(worst_e, mdiff(pd_psld_fwd(&p, J), expm_taylor((pd_mat2){0.5 * J * A.a, 0.5 * J * A.b, 0.5 * J * A.c, 0.5 * J * A.d})));
        pd_mat2 S = {SD * SD, 0, 0, p.kappa * p.m};
        const int n = 20000;
        const double dt = t / n;
        for (int i = 0; i < n; i++) {
            pd_mat2 k1 = lyap_rhs(&p, S), k2 = lyap_rhs(&p, axpy(S, 0.5 * dt, k1)), k3 = lyap_rhs(&p, axpy(S, 0.5 * dt, k2)),
                    k4 = lyap_rhs(&p, axpy(S, dt, k3));
            S = axpy(S, dt / 6, (pd_mat2){k1.a + 2 * k2.a + 2 * k3.a + k4.a, k1.b + 2 * k2.b + 2 * k3.b + k4.b,
                                          k1.c + 2 * k2.c + 2 * k3.c + k4.c, k1.d + 2 * k2.d + 2 * k3.d + k4.d});
        }
        worst_s = fmax(worst_s, mdiff(S, pd_psld_cov(&p, J, SD * SD)));
    }
    printf("kernel: exp(J/2 A) closed form vs matrix exponential %.2e; Sigma_t vs Lyapunov RK4 %.2e\n", worst_e, worst_s);
    *fails += pd_expect_le(worst_e, 1e-13, "closed-form exp(J/2 A)");
    *fails += pd_expect_le(worst_s, 1e-10, "closed-form Sigma_t");
    /* the OU part of SSCS keeps Sigma_inf: Ebar Sigma_inf Ebar^T + cov = Sigma_inf by construction; check
     * Ebar = exp(J/2 Abar) */
    const pd_mat2 Ab = {-p.gamma, -p.minv, 1.0, -p.nu};
    double we = mdiff(pd_psld_ou(&p, 0.7), expm_taylor((pd_mat2){0.35 * Ab.a, 0.35 * Ab.b, 0.35 * Ab.c, 0.35 * Ab.d}));
    *fails += pd_expect_le(we, 1e-13, "closed-form exp(J/2 Abar) of SSCS");
    return 0;
}

/* ---- score ---- */

static int score_checks(pd_ctx *ctx, int *fails)
{
    const int64_t shape[1] = {2};
    const double w[3] = {0.2, 0.5, 0.3}, mu[6] = {1.0, -0.5, -1.2, 0.3, 0.4, 2.0}, var[6] = {0.3, 0.1, 0.05, 0.4, 0.2, 0.2};
    pd_model *g = NULL, *m = NULL;
    pd_state *u = NULL, *s = NULL, *v = NULL;
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 3, 1, shape, w, mu, var, 1, &g));
    pd_psld p = defaults();
    PD_TEST_CHECK(ctx, pd_model_psld_gmm_create(ctx, g, p.gamma, p.nu, p.beta, p.kappa, &m));
    *fails += pd_expect_true(pd_model_is_augmented(m) && pd_model_dim(m) == 4, "psld-gmm: augmented, dim 2d");
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 5, 4, 0, &u));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, u, &s));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 1, 4, 0, &v));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, u, 3, 0, PD_RNG_START));
    double worst = 0;
    for (double t = 0.02; t <= 1.0; t *= 4.0) {
        pd_grid_point pt = {.t = t, .alpha = 1, .sigma = 1, .lambda = 0};
        double uh[20], sh[20];
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, u, &pt, s));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, u, uh));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, s, sh));
        for (int smp = 0; smp < 5; smp++)
            for (int e = 0; e < 4; e++) {
                double probe[4], lp, lm, h = 1e-5;
                memcpy(probe, uh + 4 * smp, sizeof probe);
                probe[e] += h;
                PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, v, probe));
                PD_TEST_CHECK(ctx, pd_model_log_density(ctx, m, v, &pt, &lp));
                probe[e] -= 2 * h;
                PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, v, probe));
                PD_TEST_CHECK(ctx, pd_model_log_density(ctx, m, v, &pt, &lm));
                double fd = (lp - lm) / (2 * h), an = sh[4 * smp + e];
                worst = fmax(worst, fabs(fd - an) / fmax(1.0, fabs(an)));
            }
    }
    printf("psld-gmm score vs central differences of log p_t: %.2e\n", worst);
    *fails += pd_expect_le(worst, 2e-6, "psld-gmm score = grad log p_t");
    pd_state_destroy(&u), pd_state_destroy(&s), pd_state_destroy(&v);
    pd_model_destroy(&m), pd_model_destroy(&g);
    return 0;
}

/* ---- the pair lincomb ---- */

static int pairs_checks(pd_ctx *ctx, int *fails)
{
    pd_state *a = NULL, *b = NULL, *o = NULL, *z = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 3, 6, 4, &a));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, a, &b));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, a, &o));
    PD_TEST_CHECK(ctx, pd_state_create_like(ctx, a, &z));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, a, 1, 0, PD_RNG_START));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, b, 2, 0, PD_RNG_START));
    PD_TEST_CHECK(ctx, pd_state_fill_normal(ctx, z, 9, 5, PD_RNG_STEP));
    const double c[2][4] = {{1, 2, 3, 4}, {-1, 0.5, 0.25, 2}};
    const pd_state *v[2] = {a, b};
    pd_pair_noise nz = {.l = {0.1, 0.2, 0.3, 0.4}, .seed = 9, .step = 5, .purpose = PD_RNG_STEP};
    PD_TEST_CHECK(ctx, pd_state_lincomb_pairs(ctx, o, 2, c, v, &nz));
    double ah[18], bh[18], oh[18], zh[18], worst = 0;
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, a, ah));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, b, bh));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, o, oh));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, z, zh));
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 3; i++) {
            int x = 6 * s + i, m = x + 3;
            double wx = c[0][0] * ah[x] + c[0][1] * ah[m] + c[1][0] * bh[x] + c[1][1] * bh[m] + 0.1 * zh[x] + 0.2 * zh[m];
            double wm = c[0][2] * ah[x] + c[0][3] * ah[m] + c[1][2] * bh[x] + c[1][3] * bh[m] + 0.3 * zh[x] + 0.4 * zh[m];
            worst = fmax(worst, fmax(fabs(oh[x] - wx), fabs(oh[m] - wm)));
        }
    *fails += pd_expect_le(worst, 1e-14, "pd_state_lincomb_pairs = the 2x2 formula with fill_normal's noise");
    PD_TEST_CHECK(ctx, pd_state_lincomb_pairs(ctx, a, 2, c, v, &nz)); /* in place: out aliases v[0] */
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, a, ah));
    *fails += pd_expect_true(memcmp(ah, oh, sizeof ah) == 0, "pairs in place == out of place");
    pd_state_destroy(&a), pd_state_destroy(&b), pd_state_destroy(&o), pd_state_destroy(&z);
    return 0;
}

/* ---- samplers on the Gaussian case ---- */

typedef struct psld_case {
    pd_schedule *sch;
    pd_grid *g;
    pd_model *gmm, *m;
} psld_case;

static int case_make(pd_ctx *ctx, int N, psld_case *c)
{
    const int64_t shape[1] = {1};
    const double w = 1.0, mu = MU, var = SD * SD;
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_PSLD, PD_SPACING_UNIFORM, N, &c->sch, &c->g));
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 1, 1, shape, &w, &mu, &var, 0, &c->gmm));
    pd_psld p = defaults();
    PD_TEST_CHECK(ctx, pd_model_psld_gmm_create(ctx, c->gmm, p.gamma, p.nu, p.beta, p.kappa, &c->m));
    return 0;
}

static void case_free(psld_case *c)
{
    pd_model_destroy(&c->m), pd_model_destroy(&c->gmm);
    pd_grid_destroy(&c->g), pd_schedule_destroy(&c->sch);
}

/* PF-ODE right-hand side in reverse time for the Gaussian case: du/dtau = -1/2 beta A u + 1/2 beta D s(u, t),
 * s = -Sigma_t^-1 (u - mean_t) */
static void pf_rhs(const pd_psld *p, double t, const double u[2], double out[2])
{
    const double J = p->beta * t;
    pd_mat2 E = pd_psld_fwd(p, J), Ci = pd_mat2_inv(pd_psld_cov(p, J, SD * SD), NULL);
    double rx = u[0] - E.a * MU, rm = u[1] - E.c * MU, sx = -(Ci.a * rx + Ci.b * rm), sm = -(Ci.c * rx + Ci.d * rm);
    out[0] = -0.5 * p->beta * (-p->gamma * u[0] + p->minv * u[1]) + 0.5 * p->beta * p->gamma * sx;
    out[1] = -0.5 * p->beta * (-u[0] - p->nu * u[1]) + 0.5 * p->beta * p->m * p->nu * sm;
}

static void pf_reference(const pd_psld *p, double t0, double t1, double u[2])
{
    const int n = 200000;
    const double h = (t0 - t1) / n;
    for (int i = 0; i < n; i++) {
        double t = t0 - i * h, k1[2], k2[2], k3[2], k4[2], v[2];
        pf_rhs(p, t, u, k1);
        for (int j = 0; j < 2; j++) v[j] = u[j] + 0.5 * h * k1[j];
        pf_rhs(p, t - 0.5 * h, v, k2);
        for (int j = 0; j < 2; j++) v[j] = u[j] + 0.5 * h * k2[j];
        pf_rhs(p, t - 0.5 * h, v, k3);
        for (int j = 0; j < 2; j++) v[j] = u[j] + h * k3[j];
        pf_rhs(p, t - h, v, k4);
        for (int j = 0; j < 2; j++) u[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    }
}

/* Pathwise error of a deterministic sampler from u = (1.1, -0.4) at t = 1 (max over x and m). */
static int ode_error(pd_ctx *ctx, const char *name, int N, const double ref[2], double *err)
{
    psld_case c = {0};
    pd_solver *sv = NULL;
    pd_state *x = NULL;
    pd_solver_ws *ws = NULL;
    double u[2] = {1.1, -0.4};
    if (case_make(ctx, N, &c)) return 1;
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, name, NULL, &sv));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 1, 2, 0, &x));
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x, u));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, sv, x, &ws));
    PD_TEST_CHECK(ctx, pd_solver_run(ctx, sv, c.m, c.g, 0, N, x, ws));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, u));
    *err = fmax(fabs(u[0] - ref[0]), fabs(u[1] - ref[1]));
    pd_solver_ws_destroy(&ws), pd_state_destroy(&x), pd_solver_destroy(&sv);
    case_free(&c);
    return 0;
}

static int deterministic_checks(pd_ctx *ctx, int *fails)
{
    pd_psld p = defaults();
    pd_schedule_params q = pd_schedule_defaults(PD_SCHEDULE_PSLD);
    double ref[2] = {1.1, -0.4};
    pf_reference(&p, q.t_max, q.t_min, ref);
    /* nvv: 1.6 then 1.5 here, falling to 1 with more steps (results/integrators: 1.01 at N = 10240): its
     * half-kicks are explicit Euler steps of a field that depends on m itself (friction, the m-score), so
     * the scheme is first order; the registry says 1 */
    static const struct { const char *name; double order, tol; } sv[] = {
        {"psld-ode-euler", 1.0, 0.25}, {"psld-rvv", 1.0, 0.25}, {"psld-nvv", 1.6, 0.3}};
    double last[3];
    for (int k = 0; k < 3; k++) {
        double e[3];
        static const int Ns[3] = {200, 400, 800};
        for (int i = 0; i < 3; i++)
            if (ode_error(ctx, sv[k].name, Ns[i], ref, &e[i])) return 1;
        double qo = log2(e[1] / e[2]);
        char what[200];
        snprintf(what, sizeof what, "%s: errors %.2e %.2e %.2e at N = 200, 400, 800, order %.2f (want %.1f +- %.2f)",
                 sv[k].name, e[0], e[1], e[2], qo, sv[k].order, sv[k].tol);
        printf("%s\n", what);
        *fails += pd_expect_true(fabs(qo - sv[k].order) <= sv[k].tol, what);
        last[k] = e[2];
    }
    *fails += pd_expect_true(last[2] < last[1] && last[1] < last[0], "at N = 800: nvv < rvv < ode-euler");
    return 0;
}

/* Solve the n x n system M y = r in place (Gaussian elimination with partial pivoting). */
static void solve(int n, double *M, double *r)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(M[i * n + c]) > fabs(M[piv * n + c])) piv = i;
        for (int j = 0; j < n; j++) {
            double t = M[c * n + j];
            M[c * n + j] = M[piv * n + j];
            M[piv * n + j] = t;
        }
        double t = r[c];
        r[c] = r[piv];
        r[piv] = t;
        for (int i = c + 1; i < n; i++) {
            double f = M[i * n + c] / M[c * n + c];
            for (int j = c; j < n; j++) M[i * n + j] -= f * M[c * n + j];
            r[i] -= f * r[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int j = c + 1; j < n; j++) r[c] -= M[c * n + j] * r[j];
        r[c] /= M[c * n + c];
    }
}

/* Step n of a stochastic psld sampler is u' = A u + c + R z, z = (zx1, zm1, zx2, zm2) of PD_RNG_STEP and
 * PD_RNG_STEP2 at elements 0 and 1. Probe: samples 0..7 start at 0 (c, R by least squares), 8 at (1, 0),
 * 9 at (0, 1) (A). */
enum { NP = 10 };
static int step_law(pd_ctx *ctx, const pd_solver *sv, pd_model *m, const pd_grid *g, int n, pd_mat2 *A, double c[2],
                    double R[2][4])
{
    pd_state *x = NULL;
    pd_solver_ws *ws = NULL;
    double in[2 * NP] = {0}, o[2 * NP], z[NP][4];
    in[16] = 1.0;
    in[19] = 1.0;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, NP, 2, 0, &x));
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x, in));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, sv, x, &ws));
    PD_TEST_CHECK(ctx, pd_solver_step(ctx, sv, m, g, n, x, ws));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, o));
    for (int k = 0; k < NP; k++)
        for (int j = 0; j < 4; j++)
            z[k][j] = pd_rng_normal(SEED, (uint32_t)k, (uint32_t)n, j < 2 ? PD_RNG_STEP : PD_RNG_STEP2, (uint64_t)(j & 1));
    for (int row = 0; row < 2; row++) { /* normal equations over samples 0..7 for (c, R1..R4) */
        double M[25] = {0}, r[5] = {0};
        for (int k = 0; k < 8; k++) {
            double f[5] = {1, z[k][0], z[k][1], z[k][2], z[k][3]};
            for (int i = 0; i < 5; i++) {
                r[i] += f[i] * o[2 * k + row];
                for (int j = 0; j < 5; j++) M[i * 5 + j] += f[i] * f[j];
            }
        }
        /* a column of R that is exactly 0 (noise not drawn) makes M singular: regularise lightly */
        for (int i = 1; i < 5; i++) M[i * 5 + i] += 1e-300;
        solve(5, M, r);
        c[row] = r[0];
        for (int j = 0; j < 4; j++) R[row][j] = r[1 + j];
    }
    double a8[2], a9[2];
    for (int row = 0; row < 2; row++) {
        a8[row] = o[16 + row] - c[row];
        a9[row] = o[18 + row] - c[row];
        for (int j = 0; j < 4; j++) a8[row] -= R[row][j] * z[8][j], a9[row] -= R[row][j] * z[9][j];
    }
    *A = (pd_mat2){a8[0], a9[0], a8[1], a9[1]};
    pd_solver_ws_destroy(&ws), pd_state_destroy(&x);
    return 0;
}

/* KL(N(mx, vx) || exact x-marginal) after N steps from the exact marginal at t = 1. */
static int sde_kl(pd_ctx *ctx, const char *name, int N, double *kl)
{
    psld_case c = {0};
    pd_solver *sv = NULL;
    pd_solver_params prm = pd_solver_default_params();
    prm.seed = SEED;
    if (case_make(ctx, N, &c)) return 1;
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, name, &prm, &sv));
    pd_psld p = defaults();
    const double J0 = p.beta * pd_grid_at(c.g, 0)->t, J1 = p.beta * pd_grid_at(c.g, N)->t;
    pd_mat2 E0 = pd_psld_fwd(&p, J0), S = pd_psld_cov(&p, J0, SD * SD);
    double mu[2] = {E0.a * MU, E0.c * MU};
    for (int n = 0; n < N; n++) {
        pd_mat2 A;
        double cc[2], R[2][4];
        if (step_law(ctx, sv, c.m, c.g, n, &A, cc, R)) return 1;
        double m0 = A.a * mu[0] + A.b * mu[1] + cc[0], m1 = A.c * mu[0] + A.d * mu[1] + cc[1];
        mu[0] = m0, mu[1] = m1;
        pd_mat2 T = pd_mat2_mul(pd_mat2_mul(A, S), pd_mat2_t(A));
        double rr[2][2] = {{0, 0}, {0, 0}};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 4; k++) rr[i][j] += R[i][k] * R[j][k];
        S = (pd_mat2){T.a + rr[0][0], T.b + rr[0][1], T.c + rr[1][0], T.d + rr[1][1]};
    }
    pd_mat2 E1 = pd_psld_fwd(&p, J1), S1 = pd_psld_cov(&p, J1, SD * SD);
    double me = E1.a * MU, ve = S1.a, v = S.a;
    *kl = 0.5 * (v / ve + (mu[0] - me) * (mu[0] - me) / ve - 1.0 + log(ve / v));
    pd_solver_destroy(&sv);
    case_free(&c);
    return 0;
}

static int stochastic_checks(pd_ctx *ctx, int *fails)
{
    static const char *const names[] = {"psld-em", "psld-sscs", "psld-noba", "psld-roba"};
    double kl50[4], kl400[4];
    for (int k = 0; k < 4; k++) {
        if (sde_kl(ctx, names[k], 50, &kl50[k]) || sde_kl(ctx, names[k], 400, &kl400[k])) return 1;
        char what[200];
        snprintf(what, sizeof what, "%s: KL of the x-marginal %.2e at N = 50, %.2e at N = 400 (falls, < 1e-3)", names[k],
                 kl50[k], kl400[k]);
        printf("%s\n", what);
        *fails += pd_expect_true(kl400[k] < kl50[k] && kl400[k] < 1e-3, what);
    }
    char what[200];
    snprintf(what, sizeof what, "splitting beats em at N = 50: noba %.2e, roba %.2e < em %.2e", kl50[2], kl50[3], kl50[0]);
    printf("%s\n", what);
    *fails += pd_expect_true(kl50[2] < kl50[0] && kl50[3] < kl50[0], what);
    return 0;
}

static int refusal_checks(pd_ctx *ctx, int *fails)
{
    psld_case c = {0};
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *gm = NULL;
    pd_solver *em = NULL, *ddim = NULL;
    pd_state *x2 = NULL, *x1 = NULL;
    pd_solver_ws *w2 = NULL, *w1 = NULL;
    if (case_make(ctx, 10, &c)) return 1;
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_VP_LINEAR, PD_SPACING_UNIFORM, 10, &sch, &g));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, 2, gauss_plain(MU, SD), &gm));
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "psld-em", NULL, &em));
    PD_TEST_CHECK(ctx, pd_solver_create(ctx, "ddim", NULL, &ddim));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 2, 2, 0, &x2));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, em, x2, &w2));
    PD_TEST_CHECK(ctx, pd_solver_ws_create(ctx, ddim, x2, &w1));
    *fails += pd_expect_true(pd_solver_step(ctx, em, gm, g, 0, x2, w2) == PD_ERR_INPUT, "psld-em refuses an x0 model");
    *fails += pd_expect_contains(pd_ctx_message(ctx), "augmented", "the message says why");
    pd_ctx_clear(ctx);
    *fails += pd_expect_true(pd_solver_step(ctx, ddim, c.m, c.g, 0, x2, w1) == PD_ERR_INPUT, "ddim refuses the psld model");
    *fails += pd_expect_contains(pd_ctx_message(ctx), "psld-* sampler", "the message names the way out");
    (void)x1;
    pd_solver_ws_destroy(&w2), pd_solver_ws_destroy(&w1), pd_state_destroy(&x2);
    pd_solver_destroy(&em), pd_solver_destroy(&ddim), pd_model_destroy(&gm);
    pd_grid_destroy(&g), pd_schedule_destroy(&sch);
    case_free(&c);
    return 0;
}

int main(void)
{
    pd_ctx *ctx = pd_ctx_create();
    int fails = 0;
    if (kernel_checks(&fails) || score_checks(ctx, &fails) || pairs_checks(ctx, &fails) ||
        deterministic_checks(ctx, &fails) || stochastic_checks(ctx, &fails) || refusal_checks(ctx, &fails))
        return 1;
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "%d check(s) failed\n", fails);
    return fails ? 1 : 0;
}
