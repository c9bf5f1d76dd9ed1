/* Conjugate integrators (ALGORITHMS.md §5; Pandey, Rudolph, Mandt, arXiv 2310.07894) on VP schedules.
 *
 * With B_t = lambda I the transformed state z^ = A_t x, A_t = e^{lambda tau}/alpha_t, obeys
 * dz^/dtau = lambda z^ + Phi'(tau) eps_hat, Phi(tau) = int_0^tau e^{lambda r} d rho_r, rho = sigma/alpha;
 * lambda-DDIM is Euler in z^ (§5.2):
 *   x_{n+1} = alpha_{n+1} e^{-lambda tau_{n+1}} [e^{lambda tau_n} (1 + lambda dtau) x_n / alpha_n + dPhi eps_hat_n],
 * eps_hat = (x - alpha x0_hat)/sigma, dtau = tau_{n+1} - tau_n < 0, dPhi = Phi_{n+1} - Phi_n. lambda = 0 gives
 * dPhi = rho_{n+1} - rho_n and DDIM exactly. tau in [0, 1] is the schedule's time: (k + 1)/K for a discrete
 * schedule at fractional index k (DPM-Solver's convention; the clean point k = -1 is tau = 0), t on
 * vp-linear. */
#include <math.h>

#include "solvers/solver_impl.h"

/* tau of a schedule time (fractional index on discrete schedules) */
static double conj_tau(const pd_schedule *sc, double t)
{
    if (pd_schedule_is_discrete(sc)) return (t + 1.0) / pd_schedule_get_params(sc)->train_steps;
    return t;
}

/* dPhi = int_{rho0}^{rho1} e^{lambda tau(rho)} d rho, tau(rho) from the schedule's inverse of lambda_t =
 * -log rho: composite 8-point Gauss-Legendre on 16 panels (the integrand is bounded and piecewise smooth;
 * at lambda = 0 the caller does not integrate). */
static double conj_dphi(const pd_schedule *sc, double lam, double rho0, double rho1)
{
    static const double x[4] = {0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363};
    static const double w[4] = {0.3626837833783620, 0.3137066278712335, 0.2223810344533745, 0.1012285362903763};
    const int panels = 16;
    const double hp = (rho1 - rho0) / panels;
    double sum = 0.0;
    for (int p = 0; p < panels; p++) {
        double mid = rho0 + (p + 0.5) * hp, half = 0.5 * hp;
        for (int i = 0; i < 4; i++)
            for (int sgn = -1; sgn <= 1; sgn += 2) {
                double rho = mid + sgn * half * x[i];
                double lambda_t = rho > 0.0 ? -log(rho) : INFINITY;
                sum += half * w[i] * exp(lam * conj_tau(sc, pd_schedule_t_of_lambda(sc, lambda_t)));
            }
    }
    return sum;
}

pd_affine_coef pd_conjugate_ddim_affine(const pd_solver *s, const pd_grid *g, int n)
{
    const pd_schedule *sc = pd_grid_schedule(g);
    const pd_grid_point *p0 = pd_grid_at(g, n), *p1 = pd_grid_at(g, n + 1);
    const double lam = s->params.conj_lambda;
    if (lam == 0.0) return pd_ddim_coef(p0, p1, 0.0); /* dPhi = d rho: DDIM, written without cancellation */
    const double rho0 = p0->sigma / p0->alpha, rho1 = p1->sigma / p1->alpha;
    const double tau0 = conj_tau(sc, p0->t), tau1 = conj_tau(sc, p1->t);
    const double dphi = conj_dphi(sc, lam, rho0, rho1);
    const double back = p1->alpha * exp(-lam * tau1); /* A_{n+1}^{-1} */
    return (pd_affine_coef){.cx = back * (exp(lam * tau0) * (1.0 + lam * (tau1 - tau0)) / p0->alpha + dphi / p0->sigma),
                            .cd = -back * dphi * p0->alpha / p0->sigma,
                            .cz = 0.0};
}

/* conjugate-2: the trapezoidal rule in the conjugate variable (pintdiff's construction, [D]; docs/INTEGRATORS.md
 * §2.3): predictor z* = lambda-DDIM, corrector
 *   z^_{n+1} = z^_n + lambda dtau/2 (z^_n + z^*) + dPhi/2 (eps_hat_n + eps_hat(x*, t_{n+1})),
 * second order in both the B-term (trapezoid in tau) and the eps-term (trapezoid in Phi); lambda = 0 is Heun in
 * rho = sigma/alpha (EDM Heun). 2 NFE per step, 1 on a step into sigma = 0 (the predictor is the result). A
 * 1-NFE two-step version (ALGORITHMS.md §5.3) needs both z^_{n-1} and eps_{n-1} as history; the drivers carry
 * one history state, so the two-stage form is the one offered. Scratch: x0_hat(x_n), x*, x0_hat(x*). */
pd_status pd_conjugate2_stage1(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    if (!pd_schedule_is_vp(pd_grid_schedule(g)))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s needs a VP schedule (ddpm-linear, ddpm-cosine, vp-linear, li), not %s",
                s->entry->info.name, pd_schedule_kind_name(pd_schedule_get_params(pd_grid_schedule(g))->kind));
    pd_affine_coef k = pd_conjugate_ddim_affine(s, g, l->n);
    if (l->p1->sigma == 0.0) {
        l->done = 1;
        return pd_solver_apply_affine(ctx, s, g, l->n, ws, k, l->x, l->x, l->s[0]);
    }
    l->at = *l->p1;
    return pd_solver_apply_affine(ctx, s, g, l->n, ws, k, l->s[1], l->x, l->s[0]);
}

pd_status pd_conjugate2_stage2(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    (void)ws;
    const pd_schedule *sc = pd_grid_schedule(g);
    const pd_grid_point *p0 = l->p0, *p1 = l->p1;
    const double lam = s->params.conj_lambda, tau0 = conj_tau(sc, p0->t), tau1 = conj_tau(sc, p1->t);
    const double rho0 = p0->sigma / p0->alpha, rho1 = p1->sigma / p1->alpha;
    const double dphi = lam == 0.0 ? rho1 - rho0 : conj_dphi(sc, lam, rho0, rho1), half_bt = 0.5 * lam * (tau1 - tau0);
    const double back = p1->alpha * exp(-lam * tau1), a0 = exp(lam * tau0) / p0->alpha, a1 = exp(lam * tau1) / p1->alpha;
    const double c[4] = {back * ((1.0 + half_bt) * a0 + 0.5 * dphi / p0->sigma), -back * 0.5 * dphi * p0->alpha / p0->sigma,
                         back * (half_bt * a1 + 0.5 * dphi / p1->sigma), -back * 0.5 * dphi * p1->alpha / p1->sigma};
    const pd_state *v[4] = {l->x, l->s[0], l->s[1], l->s[2]};
    return pd_state_lincomb(ctx, l->x, 4, c, v, NULL);
}

pd_status pd_conjugate_update(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, pd_lane *l, const pd_solver_ws *ws)
{
    if (!pd_schedule_is_vp(pd_grid_schedule(g)))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s needs a VP schedule (ddpm-linear, ddpm-cosine, vp-linear), not %s",
                s->entry->info.name, pd_schedule_kind_name(pd_schedule_get_params(pd_grid_schedule(g))->kind));
    return pd_affine_update(ctx, s, g, l, ws);
}
