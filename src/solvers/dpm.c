/* DPM-Solver-2 (ALGORITHMS.md §3.4) and DPM-Solver++(2M) (§3.5), exponential integrators in
 * lambda = log(alpha/sigma), h = lambda_{n+1} - lambda_n; all exp(+-h) - 1 terms through expm1. */
#include "solvers/solver_impl.h"

#include <math.h>

/* DPM-Solver-2, r1 = 1/2, noise prediction eps_hat = (x - alpha x0_hat)/sigma:
 *   u   = (alpha_s/alpha_0) x_0 - sigma_s expm1(h/2) eps_hat(x_0, t_0),  lambda_s = lambda_0 + h/2
 *   x_1 = (alpha_1/alpha_0) x_0 - sigma_1 expm1(h)   eps_hat(u, s)
 * (alpha_s, sigma_s from lambda_s alone, pd_grid_point_at_lambda). Scratch: x0_hat(x_0), u, x0_hat(u).
 * Stage 1: u, to be evaluated at s; into sigma = 0 one DDIM step is the result (1 NFE). */
pd_status pd_dpm2_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    const pd_grid_point *p0 = l->p0, *p1 = l->p1;
    if (p1->sigma == 0.0) {
        l->done = 1;
        return pd_solver_apply_affine(ctx, s, g, l->n, ws, pd_ddim_coef(p0, p1, 0.0), l->x, l->x, l->s[0]);
    }
    double h = p1->lambda - p0->lambda, e_half = expm1(0.5 * h);
    pd_grid_point ps = pd_grid_point_at_lambda(g, p0->lambda + 0.5 * h);
    pd_affine_coef ku = {.cx = ps.alpha / p0->alpha - ps.sigma * e_half / p0->sigma,
                         .cd = ps.sigma * e_half * p0->alpha / p0->sigma, .cz = 0.0};
    l->at = ps;
    return pd_solver_apply_affine(ctx, s, g, l->n, ws, ku, l->s[1], l->x, l->s[0]);
}

/* Stage 2 (x0_hat(u) at s = l->at given): the full step. */
pd_status pd_dpm2_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)s, (void)g, (void)ws;
    const pd_grid_point *p0 = l->p0, *p1 = l->p1, *ps = &l->at;
    double e_full = expm1(p1->lambda - p0->lambda);
    const double c[3] = {p1->alpha / p0->alpha, -p1->sigma * e_full / ps->sigma,
                         p1->sigma * e_full * ps->alpha / ps->sigma};
    const pd_state *v[3] = {l->x, l->s[1], l->s[2]};
    return pd_state_lincomb(ctx, l->x, 3, c, v, NULL);
}

/* Is step n of this grid taken first order (§3.5, §7.2a)? Without history of step n - 1 (the grid's
 * first step, or a workspace reset), and on the grid's last step when lower_order_final is set and the
 * whole grid has fewer than 15 steps. */
static int dpmpp2m_first_order(const pd_solver *s, const pd_grid *g, const pd_lane *l)
{
    if (*l->hist_step < 0 || *l->hist_step != l->n - 1) return 1;
    return s->params.lower_order_final && pd_grid_run_steps(g) < 15 && l->n == pd_grid_steps(g) - 1;
}

/* DPM-Solver++(2M), data prediction D_n = x0_hat(x_n, t_n) (scratch 0), r = h_{n-1}/h_n:
 *   first order: x_1 = (sigma_1/sigma_0) x_0 - alpha_1 expm1(-h) D_n   (= DDIM; = D_n into sigma = 0)
 *   otherwise:   x_1 = (sigma_1/sigma_0) x_0 - alpha_1 expm1(-h) [(1 + 1/(2r)) D_n - 1/(2r) D_{n-1}]
 * Afterwards D_n becomes the group's history (a copy: the groups share the history buffer). */
pd_status pd_dpmpp2m_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    const pd_grid_point *p0 = l->p0, *p1 = l->p1;
    pd_state *d = l->s[0];
    if (p1->sigma == 0.0 || dpmpp2m_first_order(s, g, l)) {
        PD_TRY(pd_solver_apply_affine(ctx, s, g, l->n, ws, pd_ddim_coef(p0, p1, 0.0), l->x, l->x, d));
    } else {
        double h = p1->lambda - p0->lambda, r = (p0->lambda - *l->hist_lambda) / h;
        double w = 0.5 / r, b = -p1->alpha * expm1(-h);
        const double c[3] = {p1->sigma / p0->sigma, b * (1.0 + w), -b * w};
        const pd_state *v[3] = {l->x, d, l->hist};
        PD_TRY(pd_state_lincomb(ctx, l->x, 3, c, v, NULL));
    }
    PD_TRY(pd_state_copy(ctx, l->hist, d));
    *l->hist_step = l->n;
    *l->hist_lambda = p0->lambda;
    return PD_OK;
}
