/* DDPM ancestral (ALGORITHMS.md §3.1) and DDIM (§3.2), as x_{n+1} = cx x_n + cd x0_hat + cz z_n.
 *
 * With h = lambda_{n+1} - lambda_n and q = b_n / sigma_n^2 = 1 - e^{-2h} = -expm1(-2h) (the general
 * a_n, b_n of §1.1, so VE schedules are covered too):
 *   DDPM mean     = (sigma_1/sigma_0) e^{-h} x + alpha_1 q x0_hat,
 *        variance = sigma_1^2 q (fixed_small) or sigma_0^2 q = b_n (fixed_large);
 *   DDIM          = (sigma_1/sigma_0) r x - alpha_1 expm1(-h + log r) x0_hat + eta sigma_1 sqrt(q) z,
 *                   r = sqrt(1 - eta^2 q) = sqrt(sigma_1^2 - sigma_eta^2) / sigma_1,
 * which is §3.2's alpha_1 x0_hat + sqrt(sigma_1^2 - sigma_eta^2) eps_hat + sigma_eta z with eps_hat
 * = (x - alpha_0 x0_hat)/sigma_0 substituted; eta = 0 gives the exponential-integrator form
 * (sigma_1/sigma_0) x - alpha_1 expm1(-h) x0_hat exactly (r = 1). */
#include <math.h>

#include "solvers/solver_impl.h"

static pd_affine_coef into_clean(const pd_grid_point *p1)
{
    /* a step into sigma = 0: x_{n+1} = alpha_1 x0_hat, no noise (§1.6) */
    return (pd_affine_coef){.cx = 0.0, .cd = p1->alpha, .cz = 0.0};
}

/* log r = 1/2 log(1 - eta^2 q) without cancellation: log1p while eta^2 q is small, else the sum of two
 * non-negative terms (1 - eta^2) + eta^2 e^{-2h} (q -> 1 on long steps, e.g. the first step of
 * ddpm-cosine where alpha_0 ~ 5e-5). */
static double ddim_log_r(double eta, double h, double q)
{
    double e2q = eta * eta * q;
    if (e2q < 0.5) return 0.5 * log1p(-e2q);
    return 0.5 * log((1.0 - eta) * (1.0 + eta) + eta * eta * exp(-2.0 * h));
}

pd_affine_coef pd_ddim_coef(const pd_grid_point *p0, const pd_grid_point *p1, double eta)
{
    if (p1->sigma == 0.0) return into_clean(p1);
    double h = p1->lambda - p0->lambda;
    double q = -expm1(-2.0 * h), log_r = ddim_log_r(eta, h, q);
    return (pd_affine_coef){.cx = p1->sigma / p0->sigma * exp(log_r),
                            .cd = -p1->alpha * expm1(-h + log_r),
                            .cz = eta * p1->sigma * sqrt(q)};
}

pd_affine_coef pd_ddpm_coef(const pd_grid_point *p0, const pd_grid_point *p1, int large)
{
    if (p1->sigma == 0.0) return into_clean(p1);
    double h = p1->lambda - p0->lambda;
    double q = -expm1(-2.0 * h);
    return (pd_affine_coef){.cx = p1->sigma / p0->sigma * exp(-h),
                            .cd = p1->alpha * q,
                            .cz = (large ? p0->sigma : p1->sigma) * sqrt(q)};
}

pd_affine_coef pd_ddpm_affine(const pd_solver *s, const pd_grid *g, int n)
{
    return pd_ddpm_coef(pd_grid_at(g, n), pd_grid_at(g, n + 1), s->params.variance_large);
}

pd_affine_coef pd_ddim_affine(const pd_solver *s, const pd_grid *g, int n)
{
    return pd_ddim_coef(pd_grid_at(g, n), pd_grid_at(g, n + 1), s->params.eta);
}

/* One-step affine solvers (ddpm, ddim, euler, conjugate-ddim): after the stage's evaluation (x0_hat in scratch 0),
 * x <- cx x + cd x0_hat + cz z with the coefficients of the registry row (entry->coef). */
pd_status pd_affine_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    return pd_solver_apply_affine(ctx, s, g, l->n, ws, s->entry->coef(s, g, l->n), l->x, l->x, l->s[0]);
}
