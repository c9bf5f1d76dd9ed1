/* The accelerated samplers of Li, Huang, Efimov, Wei, Chi, Chen (ICML 2024, arXiv 2403.03852) and the
 * DDIM-/DDPM-type baselines their analysis starts from (ALGORITHMS.md §4, corrected by docs/INTEGRATORS.md §1
 * against the authors' code, TimofeyEfimov/AcceleratedDiffusionSamplers).
 *
 * Per step n, with a = alpha_n^2/alpha_{n+1}^2, b = sigma_n^2 - a sigma_{n+1}^2 (§1.1; 1 - a on VP) and the
 * score s(y) = (alpha_n x0_hat(y) - y)/sigma_n^2 at the step's start time:
 *   li-ddim    Y' = (Y + (b/2) s(Y)) / sqrt(a)                              (the theory's DDIM-type, R)
 *   li-ddpm    Y' = (Y + b s(Y) + sqrt(b) z) / sqrt(a)                      (DDPM-type, V)
 *   accel-ddpm Y+ = Y + sqrt(b/2) z;  Y' = (Y+ + b s(Y+)) / sqrt(a) + sqrt(b/2) z'   (V: code and README)
 *   accel-ddim DDIM + C_n (eps_{n-1} - eps_n), the previous step's eps_hat (V: code; 1 NFE, multistep)
 * No noise into sigma = 0 except accel-ddpm's first half (both of the authors' codes add it). */
#include <math.h>

#include "solvers/solver_impl.h"

static double step_a(const pd_grid_point *p0, const pd_grid_point *p1)
{
    double r = p0->alpha / p1->alpha;
    return r * r;
}

static double step_b(const pd_grid_point *p0, const pd_grid_point *p1)
{
    return p0->sigma * p0->sigma - step_a(p0, p1) * p1->sigma * p1->sigma;
}

/* (Y + w b s(Y) + e z)/sqrt(a) with s(Y) = (alpha_0 D - Y)/sigma_0^2: weight w of the score term */
static pd_affine_coef li_coef(const pd_grid_point *p0, const pd_grid_point *p1, double w, double noise)
{
    const double ra = p0->alpha / p1->alpha, b = step_b(p0, p1), q = w * b / (p0->sigma * p0->sigma);
    return (pd_affine_coef){.cx = (1.0 - q) / ra, .cd = q * p0->alpha / ra, .cz = noise / ra};
}

pd_affine_coef pd_li_ddim_affine(const pd_solver *s, const pd_grid *g, int n)
{
    (void)s;
    return li_coef(pd_grid_at(g, n), pd_grid_at(g, n + 1), 0.5, 0.0);
}

pd_affine_coef pd_li_ddpm_affine(const pd_solver *s, const pd_grid *g, int n)
{
    (void)s;
    const pd_grid_point *p0 = pd_grid_at(g, n), *p1 = pd_grid_at(g, n + 1);
    return li_coef(p0, p1, 1.0, p1->sigma == 0.0 ? 0.0 : sqrt(step_b(p0, p1)));
}

/* accel-ddpm before its model call: x <- Y+ = Y + sqrt(b/2) z_n (PD_RNG_STEP). */
pd_status pd_accel_ddpm_prepare(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    const double one = 1.0;
    const pd_state *v[1] = {l->x};
    pd_noise_term z = {.coef = sqrt(0.5 * step_b(l->p0, l->p1)), .seed = s->params.seed,
                       .step = (uint32_t)pd_grid_noise_step(g, l->n), .purpose = PD_RNG_STEP};
    return pd_state_lincomb(ctx, l->x, 1, &one, v, &z);
}

/* accel-ddpm after it: Y' = (Y+ + b s(Y+))/sqrt(a) + sqrt(b/2) z'_n (PD_RNG_STEP2; none into sigma = 0). */
pd_status pd_accel_ddpm_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    pd_affine_coef k = li_coef(l->p0, l->p1, 1.0, 0.0);
    const double c[2] = {k.cx, k.cd};
    const pd_state *v[2] = {l->x, l->s[0]};
    pd_noise_term z = {.coef = l->p1->sigma == 0.0 ? 0.0 : sqrt(0.5 * step_b(l->p0, l->p1)), .seed = s->params.seed,
                       .step = (uint32_t)pd_grid_noise_step(g, l->n), .purpose = PD_RNG_STEP2};
    return pd_state_lincomb(ctx, l->x, 2, c, v, z.coef != 0.0 ? &z : NULL);
}

/* C_n = alpha_{n+1}/(abar_n - abar_{n-1}) [abar_n (rho_{n+1} - rho_n) + asin alpha_{n+1} - asin alpha_n],
 * rho = sigma/alpha: the exact rho-integral of eps interpolated linearly in abar through the points n - 1
 * and n (int abar d rho = -asin sqrt(abar) on VP), docs/INTEGRATORS.md §1.4. */
static double accel_ddim_c(const pd_grid_point *pm, const pd_grid_point *p0, const pd_grid_point *p1)
{
    const double am = pm->alpha * pm->alpha, a0 = p0->alpha * p0->alpha;
    const double rho0 = p0->sigma / p0->alpha, rho1 = p1->sigma / p1->alpha;
    return p1->alpha / (a0 - am) * (a0 * (rho1 - rho0) + asin(fmin(p1->alpha, 1.0)) - asin(p0->alpha));
}

/* accel-ddim: Y' = DDIM(Y, D) + C (H - eps_n), H = eps_{n-1} (the history) when it is that of step n - 1, else
 * plain DDIM (the first step, or no history handed over); eps_n = (Y - alpha_n D)/sigma_n becomes the history.
 * VP only (the asin integral). */
pd_status pd_accel_ddim_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    if (!pd_schedule_is_vp(pd_grid_schedule(g)))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s needs a VP schedule (ddpm-linear, ddpm-cosine, vp-linear, li)",
                s->entry->info.name);
    const pd_grid_point *p0 = l->p0, *p1 = l->p1;
    pd_state *d = l->s[0], *eps = l->s[1];
    const double inv_s0 = 1.0 / p0->sigma;
    const double ce[2] = {inv_s0, -p0->alpha * inv_s0};
    const pd_state *ve[2] = {l->x, d};
    PD_TRY(pd_state_lincomb(ctx, eps, 2, ce, ve, NULL));
    pd_affine_coef k = pd_ddim_coef(p0, p1, 0.0);
    if (*l->hist_step >= 0 && *l->hist_step == l->n - 1) {
        const double C = accel_ddim_c(pd_grid_at(g, l->n - 1), p0, p1);
        const double c[4] = {k.cx, k.cd, C, -C};
        const pd_state *v[4] = {l->x, d, l->hist, eps};
        PD_TRY(pd_state_lincomb(ctx, l->x, 4, c, v, NULL));
    } else {
        PD_TRY(pd_solver_apply_affine(ctx, s, g, l->n, ws, k, l->x, l->x, d));
    }
    PD_TRY(pd_state_copy(ctx, l->hist, eps));
    *l->hist_step = l->n;
    *l->hist_lambda = p0->lambda;
    return PD_OK;
}
