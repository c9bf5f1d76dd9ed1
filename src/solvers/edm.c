/* Euler and Heun on the EDM PF-ODE (ALGORITHMS.md §3.3, Karras Alg. 1/2 without churn).
 *
 * The method works in x~ = x/alpha and sigma~ = sigma/alpha with d(x~, sigma~) = (x~ - D)/sigma~,
 * D = x0_hat(alpha x~, t). The state stays in x: each EDM update is multiplied by alpha_{n+1} and
 * written as a lincomb of x_n, the x0_hat's and Heun's intermediate state u = alpha_{n+1} x~'. */
#include "solvers/solver_impl.h"

static double sigma_tilde(const pd_grid_point *p) { return p->sigma / p->alpha; }

/* Euler, x~_1 = x~_0 + (sigma~_1 - sigma~_0) d(x~_0, sigma~_0), times alpha_1. Into sigma~ = 0 the
 * coefficient of x is exactly 0 (1 + dt/sigma~_0 = 0) and x_1 = alpha_1 x0_hat. */
static pd_affine_coef euler_coef(const pd_grid_point *p0, const pd_grid_point *p1)
{
    double s0 = sigma_tilde(p0), dt = sigma_tilde(p1) - s0;
    return (pd_affine_coef){.cx = p1->alpha / p0->alpha * (1.0 + dt / s0),
                            .cd = -p1->alpha * dt / s0, .cz = 0.0};
}

pd_affine_coef pd_euler_affine(const pd_solver *s, const pd_grid *g, int n)
{
    (void)s;
    return euler_coef(pd_grid_at(g, n), pd_grid_at(g, n + 1));
}

/* Heun: x~' = Euler; x~_1 = x~_0 + dt/2 (d(x~_0, sigma~_0) + d(x~', sigma~_1)); times alpha_1:
 *   x_1 = (alpha_1/alpha_0)(1 + dt/(2 s0)) x_0 - alpha_1 dt/(2 s0) D_0 + dt/(2 s1) u - alpha_1 dt/(2 s1) D_1
 * with u = alpha_1 x~' and D_1 = x0_hat(u, t_1). Scratch: D_0, u, D_1.
 * Stage 1 (D_0 = x0_hat(x_0) given): u, to be evaluated at t_1; into sigma~ = 0 the Euler step is the
 * result (1 NFE). */
pd_status pd_heun_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    pd_affine_coef k = euler_coef(l->p0, l->p1);
    if (l->p1->sigma == 0.0) {
        l->done = 1;
        return pd_solver_apply_affine(ctx, s, g, l->n, ws, k, l->x, l->x, l->s[0]);
    }
    l->at = *l->p1;
    return pd_solver_apply_affine(ctx, s, g, l->n, ws, k, l->s[1], l->x, l->s[0]);
}

/* Stage 2 (D_1 = x0_hat(u, t_1) given): the trapezoidal combination. */
pd_status pd_heun_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)s, (void)g, (void)ws;
    const pd_grid_point *p0 = l->p0, *p1 = l->p1;
    double s0 = sigma_tilde(p0), s1 = sigma_tilde(p1), dt = s1 - s0, a1 = p1->alpha;
    const double c[4] = {a1 / p0->alpha * (1.0 + 0.5 * dt / s0), -a1 * 0.5 * dt / s0,
                         0.5 * dt / s1, -a1 * 0.5 * dt / s1};
    const pd_state *v[4] = {l->x, l->s[0], l->s[1], l->s[2]};
    return pd_state_lincomb(ctx, l->x, 4, c, v, NULL);
}
