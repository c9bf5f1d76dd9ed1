/* Samplers of phase-space Langevin diffusion (PSLD; ALGORITHMS.md §6.4-6.5, docs/INTEGRATORS.md §3). The
 * state holds u = (x, m) per data element (dim = 2d, x first), the model returns the score s = (s_x, s_m) of
 * the noised marginal, and every sub-step is a 2x2 map per pair applied by pd_state_lincomb_pairs:
 * u <- C_u u + C_s s + L z. Reverse time, step h = t_n - t_{n+1} > 0, beta constant.
 *   reverse SDE   du = [-1/2 beta A u + beta D s] dtau + sqrt(beta D) dw
 *   PF-ODE        du/dtau = -1/2 beta A u + 1/2 beta D s
 *   F_x(x, m; s_x) = 1/2 beta (G x - m/M) + 1/2 beta G s_x,  F_m(x, m; s_m) = 1/2 beta (x + nu m) + 1/2 beta M nu s_m
 * The drivers check that sampler, model and schedule are all augmented (step.c).
 * Provenance: em and sscs [V: mandt-lab/PSLD samplers/sde.py]; the splitting schemes are pintdiff's
 * definitions [R]: the papers' sub-steps were not retrievable (docs/INTEGRATORS.md §3.5). */
#include <math.h>

#include "core/psld.h"
#include "solvers/solver_impl.h"

typedef struct psld_step {
    pd_psld p;
    double h, bh; /* h and beta h */
} psld_step;

static pd_mat2 m_add(pd_mat2 p, pd_mat2 q) { return (pd_mat2){p.a + q.a, p.b + q.b, p.c + q.c, p.d + q.d}; }

static psld_step step_of(const pd_grid *g, const pd_lane *l)
{
    const pd_schedule_params *q = pd_schedule_get_params(pd_grid_schedule(g));
    psld_step s = {.p = pd_psld_make(q->psld_gamma, q->psld_nu, q->psld_beta, q->psld_kappa),
                   .h = l->p0->t - l->p1->t};
    s.bh = s.p.beta * s.h;
    return s;
}

/* u <- sum_k C[k] v[k] + L z (z of PD_RNG_<purpose> at step n; L may be NULL) */
static pd_status pairs(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, int n, pd_state *out, int nt,
                       const pd_mat2 *C, const pd_state *const *v, const pd_mat2 *L, uint32_t purpose)
{
    double c[4][4];
    for (int k = 0; k < nt; k++) c[k][0] = C[k].a, c[k][1] = C[k].b, c[k][2] = C[k].c, c[k][3] = C[k].d;
    pd_pair_noise z = {.seed = s->params.seed, .step = (uint32_t)pd_grid_noise_step(g, n), .purpose = purpose};
    if (L) z.l[0] = L->a, z.l[1] = L->b, z.l[2] = L->c, z.l[3] = L->d;
    return pd_state_lincomb_pairs(ctx, out, nt, (const double(*)[4])c, v, L ? &z : NULL);
}

/* Euler maps of the drift: I - (bh/2) A on u, and the score's weight w beta h D (w = 1 SDE, 1/2 ODE). */
static pd_mat2 euler_u(const psld_step *st)
{
    const pd_psld *p = &st->p;
    return (pd_mat2){1.0 + 0.5 * st->bh * p->gamma, -0.5 * st->bh * p->minv, 0.5 * st->bh, 1.0 + 0.5 * st->bh * p->nu};
}
static pd_mat2 euler_s(const psld_step *st, double w)
{
    return (pd_mat2){w * st->bh * st->p.gamma, 0.0, 0.0, w * st->bh * st->p.m * st->p.nu};
}

/* psld-em: u' = u + h(-1/2 beta A u + beta D s) + sqrt(h beta D) z */
pd_status pd_psld_em_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    const pd_mat2 C[2] = {euler_u(&st), euler_s(&st, 1.0)};
    const pd_mat2 L = {sqrt(st.bh * st.p.gamma), 0.0, 0.0, sqrt(st.bh * st.p.m * st.p.nu)};
    const pd_state *v[2] = {l->x, l->s[0]};
    return pairs(ctx, s, g, l->n, l->x, 2, C, v, &L, PD_RNG_STEP);
}

/* psld-ode-euler: u' = u + h(-1/2 beta A u + 1/2 beta D s) */
pd_status pd_psld_ode_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    const pd_mat2 C[2] = {euler_u(&st), euler_s(&st, 0.5)};
    const pd_state *v[2] = {l->x, l->s[0]};
    return pairs(ctx, s, g, l->n, l->x, 2, C, v, NULL, 0);
}

/* SSCS: the exact OU part over h/2 (mean map Ebar, noise chol(Sigma_inf - Ebar Sigma_inf Ebar^T), jitter 1e-9
 * as the reference code), the score part Euler over h at the state after the first half. */
static pd_mat2 sscs_ou_noise(const psld_step *st, pd_mat2 Eb)
{
    const pd_mat2 Sinf = {1.0, 0.0, 0.0, st->p.m};
    const pd_mat2 T = pd_mat2_mul(pd_mat2_mul(Eb, Sinf), pd_mat2_t(Eb));
    const pd_mat2 cov = {Sinf.a - T.a, -0.5 * (T.b + T.c), -0.5 * (T.b + T.c), Sinf.d - T.d};
    return pd_mat2_chol(cov, 1e-9);
}

pd_status pd_psld_sscs_prepare(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    const pd_mat2 Eb = pd_psld_ou(&st.p, 0.5 * st.bh), L = sscs_ou_noise(&st, Eb);
    const pd_state *v[1] = {l->x};
    return pairs(ctx, s, g, l->n, l->x, 1, &Eb, v, &L, PD_RNG_STEP);
}

/* after the evaluation at the half-OU state: u <- Ebar [(I + bh D Sigma_inf^-1) u + bh D s] + L z2 */
pd_status pd_psld_sscs_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    const pd_mat2 Eb = pd_psld_ou(&st.p, 0.5 * st.bh), L = sscs_ou_noise(&st, Eb);
    const pd_mat2 Cu = {1.0 + st.bh * st.p.gamma, 0.0, 0.0, 1.0 + st.bh * st.p.nu}; /* D Sigma_inf^-1 = diag(G, nu) */
    const pd_mat2 C[2] = {pd_mat2_mul(Eb, Cu), pd_mat2_mul(Eb, euler_s(&st, 1.0))};
    const pd_state *v[2] = {l->x, l->s[0]};
    return pairs(ctx, s, g, l->n, l->x, 2, C, v, &L, PD_RNG_STEP2);
}

/* ---- splitting integrators (pintdiff's definitions, ALGORITHMS.md §6.5 [R]) ----
 * Velocity-Verlet type on the PF-ODE, B(h/2) A(h) B(h/2):
 *   Bm(k): m <- m + k F_m(x, m; s_m) = m + k/2 beta (x + nu m) + k/2 beta M nu s_m      (x unchanged)
 *   Ax(h): x <- x + h F_x(x, m; s_x) = x + h/2 beta (G x - m/M) + h/2 beta G s_x        (m unchanged) */
static void vv_b(const psld_step *st, double k, pd_mat2 *Cu, pd_mat2 *Cs)
{
    const double bk = st->p.beta * k;
    *Cu = (pd_mat2){1.0, 0.0, 0.5 * bk, 1.0 + 0.5 * bk * st->p.nu};
    *Cs = (pd_mat2){0.0, 0.0, 0.0, 0.5 * bk * st->p.m * st->p.nu};
}
static void vv_a(const psld_step *st, double k, pd_mat2 *Cu, pd_mat2 *Cs)
{
    const double bk = st->p.beta * k;
    *Cu = (pd_mat2){1.0 + 0.5 * bk * st->p.gamma, -0.5 * bk * st->p.minv, 0.0, 1.0};
    *Cs = (pd_mat2){0.5 * bk * st->p.gamma, 0.0, 0.0, 0.0};
}

/* psld-rvv (reduced, 1 NFE): the three sub-steps with the one score s(u_n, t_n), composed into one map:
 * u' = B A B u + (B A Sb + B Sa + Sb) s. */
pd_status pd_psld_rvv_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    pd_mat2 Bu, Bs, Au, As;
    vv_b(&st, 0.5 * st.h, &Bu, &Bs);
    vv_a(&st, st.h, &Au, &As);
    const pd_mat2 BA = pd_mat2_mul(Bu, Au);
    const pd_mat2 C[2] = {pd_mat2_mul(BA, Bu), m_add(m_add(pd_mat2_mul(BA, Bs), pd_mat2_mul(Bu, As)), Bs)};
    const pd_state *v[2] = {l->x, l->s[0]};
    return pairs(ctx, s, g, l->n, l->x, 2, C, v, NULL, 0);
}

/* psld-nvv (naive, 3 NFE): each sub-step with its own score: B at (u_n, t_n), A at (x_n, m', t_n - h/2),
 * B at (x_{n+1}, m', t_{n+1}). Scratch: s0 score, s1 the intermediate state, s2 score. */
static pd_grid_point psld_point(const pd_grid *g, double t)
{
    const pd_schedule *sc = pd_grid_schedule(g);
    return (pd_grid_point){.t = t, .alpha = pd_schedule_alpha(sc, t), .sigma = pd_schedule_sigma(sc, t),
                           .lambda = pd_schedule_lambda(sc, t)};
}

pd_status pd_psld_nvv_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    pd_mat2 C[2];
    vv_b(&st, 0.5 * st.h, &C[0], &C[1]);
    const pd_state *v[2] = {l->x, l->s[0]};
    l->at = psld_point(g, l->p0->t - 0.5 * st.h);
    return pairs(ctx, s, g, l->n, l->s[1], 2, C, v, NULL, 0);
}

pd_status pd_psld_nvv_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    pd_mat2 C[2];
    vv_a(&st, st.h, &C[0], &C[1]);
    const pd_state *v[2] = {l->s[1], l->s[2]};
    l->at = *l->p1;
    return pairs(ctx, s, g, l->n, l->s[1], 2, C, v, NULL, 0);
}

pd_status pd_psld_nvv_stage3(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    pd_mat2 C[2];
    vv_b(&st, 0.5 * st.h, &C[0], &C[1]);
    const pd_state *v[2] = {l->s[1], l->s[0]};
    return pairs(ctx, s, g, l->n, l->x, 2, C, v, NULL, 0);
}

/* OBA on the reverse SDE (ALGORITHMS.md §6.5), noise z = (z_x, z_m) of PD_RNG_STEP:
 *   O: m <- m + h(1/2 beta nu m + beta M nu s_m) + sqrt(bh M nu) z_m
 *   B: m <- m + h/2 beta x
 *   A: x <- x + h/2 beta (G x - m/M) + bh G s_x + sqrt(bh G) z_x
 * roba (reduced, 1 NFE): s_x from the O-step's evaluation; noba (naive, 2 NFE): s_x at (x_n, m_{n+1}, t_{n+1}). */
static void oba_maps(const psld_step *st, pd_mat2 *Ou, pd_mat2 *Os, pd_mat2 *Bu, pd_mat2 *Au, pd_mat2 *As)
{
    const pd_psld *p = &st->p;
    *Ou = (pd_mat2){1.0, 0.0, 0.0, 1.0 + 0.5 * st->bh * p->nu};
    *Os = (pd_mat2){0.0, 0.0, 0.0, st->bh * p->m * p->nu};
    *Bu = (pd_mat2){1.0, 0.0, 0.5 * st->bh, 1.0};
    *Au = (pd_mat2){1.0 + 0.5 * st->bh * p->gamma, -0.5 * st->bh * p->minv, 0.0, 1.0};
    *As = (pd_mat2){st->bh * p->gamma, 0.0, 0.0, 0.0};
}

pd_status pd_psld_roba_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    pd_mat2 Ou, Os, Bu, Au, As;
    oba_maps(&st, &Ou, &Os, &Bu, &Au, &As);
    const pd_mat2 AB = pd_mat2_mul(Au, Bu);
    const pd_mat2 Nm = {0.0, 0.0, 0.0, sqrt(st.bh * st.p.m * st.p.nu)}, Nx = {sqrt(st.bh * st.p.gamma), 0.0, 0.0, 0.0};
    const pd_mat2 C[2] = {pd_mat2_mul(AB, Ou), m_add(pd_mat2_mul(AB, Os), As)};
    const pd_mat2 L = m_add(pd_mat2_mul(AB, Nm), Nx);
    const pd_state *v[2] = {l->x, l->s[0]};
    return pairs(ctx, s, g, l->n, l->x, 2, C, v, &L, PD_RNG_STEP);
}

/* noba stage 1: s1 = B O u (with z_m), to be evaluated at t_{n+1} */
pd_status pd_psld_noba_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    pd_mat2 Ou, Os, Bu, Au, As;
    oba_maps(&st, &Ou, &Os, &Bu, &Au, &As);
    const pd_mat2 Nm = {0.0, 0.0, 0.0, sqrt(st.bh * st.p.m * st.p.nu)};
    const pd_mat2 C[2] = {pd_mat2_mul(Bu, Ou), pd_mat2_mul(Bu, Os)}, L = pd_mat2_mul(Bu, Nm);
    const pd_state *v[2] = {l->x, l->s[0]};
    l->at = *l->p1;
    /* z_x is not drawn here (L's first column is 0): the same z as roba's, element for element */
    return pairs(ctx, s, g, l->n, l->s[1], 2, C, v, &L, PD_RNG_STEP);
}

/* noba stage 2: x_{n+1} = A on s1 with s_x of the second evaluation and z_x */
pd_status pd_psld_noba_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    psld_step st = step_of(g, l);
    pd_mat2 Ou, Os, Bu, Au, As;
    oba_maps(&st, &Ou, &Os, &Bu, &Au, &As);
    const pd_mat2 Nx = {sqrt(st.bh * st.p.gamma), 0.0, 0.0, 0.0};
    const pd_mat2 C[2] = {Au, As};
    const pd_state *v[2] = {l->s[1], l->s[2]};
    return pairs(ctx, s, g, l->n, l->x, 2, C, v, &Nx, PD_RNG_STEP);
}
