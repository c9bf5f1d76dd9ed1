/* DPM-Solver-2 (ALGORITHMS.md §3.4) and DPM-Solver++(2M) (§3.5), exponential integrators in
 * lambda = log(alpha/sigma), h = lambda_{n+1} - lambda_n; all exp(+-h) - 1 terms through expm1. */
#include "solvers/solver_impl.h"

#include <math.h>

/* DPM-Solver-2, r1 = 1/2, noise prediction eps_hat = (x - alpha x0_hat)/sigma:
 *   u   = (alpha_s/alpha_0) x_0 - sigma_s expm1(h/2) eps_hat(x_0, t_0),  lambda_s = lambda_0 + h/2
 *   x_1 = (alpha_1/alpha_0) x_0 - sigma_1 expm1(h)   eps_hat(u, s)
 * (alpha_s, sigma_s from lambda_s alone, pd_grid_point_at_lambda). Into sigma = 0 one DDIM step. */
pd_status pd_dpm2_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                       pd_state *x, pd_solver_ws *ws)
{
    const pd_grid_point *p0 = pd_grid_at(g, n), *p1 = pd_grid_at(g, n + 1);
    pd_state *d0 = ws->scratch[0], *u = ws->scratch[1], *ds = ws->scratch[2];
    PD_TRY(pd_model_eval(ctx, m, x, p0, d0));
    if (p1->sigma == 0.0) return pd_solver_apply_affine(ctx, s, g, n, ws, pd_ddim_coef(p0, p1, 0.0), x, x, d0);

    double h = p1->lambda - p0->lambda;
    pd_grid_point ps = pd_grid_point_at_lambda(g, p0->lambda + 0.5 * h);
    double e_half = expm1(0.5 * h), e_full = expm1(h);
    pd_affine_coef ku = {.cx = ps.alpha / p0->alpha - ps.sigma * e_half / p0->sigma,
                         .cd = ps.sigma * e_half * p0->alpha / p0->sigma, .cz = 0.0};
    PD_TRY(pd_solver_apply_affine(ctx, s, g, n, ws, ku, u, x, d0));
    PD_TRY(pd_model_eval(ctx, m, u, &ps, ds));
    const double c[3] = {p1->alpha / p0->alpha, -p1->sigma * e_full / ps.sigma,
                         p1->sigma * e_full * ps.alpha / ps.sigma};
    const pd_state *v[3] = {x, u, ds};
    return pd_state_lincomb(ctx, x, 3, c, v, NULL);
}

/* Is step n of this grid taken first order (§3.5, §7.2a)? Without history of step n - 1 (the grid's
 * first step, or a workspace reset), and on the grid's last step when lower_order_final is set and the
 * whole grid has fewer than 15 steps. */
static int dpmpp2m_first_order(const pd_solver *s, const pd_grid *g, int n, const pd_solver_ws *ws)
{
    if (ws->hist_step < 0 || ws->hist_step != n - 1) return 1;
    return s->params.lower_order_final && pd_grid_run_steps(g) < 15 && n == pd_grid_steps(g) - 1;
}

/* DPM-Solver++(2M), data prediction D_n = x0_hat(x_n, t_n), r = h_{n-1}/h_n:
 *   first order: x_1 = (sigma_1/sigma_0) x_0 - alpha_1 expm1(-h) D_n   (= DDIM; = D_n into sigma = 0)
 *   otherwise:   x_1 = (sigma_1/sigma_0) x_0 - alpha_1 expm1(-h) [(1 + 1/(2r)) D_n - 1/(2r) D_{n-1}]
 * Afterwards D_n becomes the history (the scratch and history buffers swap: no copy). */
pd_status pd_dpmpp2m_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                          pd_state *x, pd_solver_ws *ws)
{
    const pd_grid_point *p0 = pd_grid_at(g, n), *p1 = pd_grid_at(g, n + 1);
    pd_state *d = ws->scratch[0];
    PD_TRY(pd_model_eval(ctx, m, x, p0, d));
    if (p1->sigma == 0.0 || dpmpp2m_first_order(s, g, n, ws)) {
        PD_TRY(pd_solver_apply_affine(ctx, s, g, n, ws, pd_ddim_coef(p0, p1, 0.0), x, x, d));
    } else {
        double h = p1->lambda - p0->lambda, r = (p0->lambda - ws->hist_lambda) / h;
        double w = 0.5 / r, b = -p1->alpha * expm1(-h);
        const double c[3] = {p1->sigma / p0->sigma, b * (1.0 + w), -b * w};
        const pd_state *v[3] = {x, d, ws->hist};
        PD_TRY(pd_state_lincomb(ctx, x, 3, c, v, NULL));
    }
    ws->scratch[0] = ws->hist;
    ws->hist = d;
    ws->hist_step = n;
    ws->hist_lambda = p0->lambda;
    return PD_OK;
}
