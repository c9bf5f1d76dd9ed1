/* The solver registry (STYLE.md habit 9) and solver objects. The numerics live in ddpm_ddim.c, edm.c
 * and dpm.c, the workspaces in workspace.c, the stage driver and the loops in step.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solvers/solver_impl.h"

/* Order and NFE per step are data the tests read (ALGORITHMS.md §11). */
static const pd_solver_entry pd_solvers[] = {
    /* {name           order nfe stoch multi  summary}, scratch states, eta_noise, n_stages, prepare,
     * stages {in, out, update}, coef (affine rows) */
    {{"ddpm",          1,    1,  1,    0,
      "DDPM ancestral (ALGORITHMS.md §3.1): posterior mean plus fixed_small (default) or fixed_large "
      "noise; no noise on a step into sigma = 0; weak order 1", 0},
     1, 0, 1, NULL, {{-1, 0, pd_affine_update}}, pd_ddpm_affine},
    {{"ddim",          1,    1,  0,    0,
      "DDIM (§3.2): eta = 0 deterministic (= DPM-Solver-1 = EDM Euler), eta = 1 = DDPM fixed_small", 0},
     1, 1, 1, NULL, {{-1, 0, pd_affine_update}}, pd_ddim_affine},
    {{"euler",         1,    1,  0,    0,
      "Euler on the EDM PF-ODE in x~ = x/alpha, sigma~ = sigma/alpha (§3.3, no churn)", 0},
     1, 0, 1, NULL, {{-1, 0, pd_affine_update}}, pd_euler_affine},
    {{"heun",          2,    2,  0,    0,
      "Heun on the EDM PF-ODE (§3.3, no churn); a step into sigma = 0 is one Euler step (1 NFE), "
      "so 2N - 1 NFE then", 0},
     3, 0, 2, NULL, {{-1, 0, pd_heun_stage1}, {1, 2, pd_heun_stage2}}, NULL},
    {{"dpm-solver-2",  2,    2,  0,    0,
      "DPM-Solver-2, single step, midpoint in lambda, noise prediction (§3.4); a step into "
      "sigma = 0 is one DDIM step (1 NFE)", 0},
     3, 0, 2, NULL, {{-1, 0, pd_dpm2_stage1}, {1, 2, pd_dpm2_stage2}}, NULL},
    {{"dpmpp-2m",      2,    1,  0,    1,
      "DPM-Solver++(2M), data prediction (§3.5): first step first order, x0_hat into sigma = 0, "
      "first-order last step when lower_order_final and the grid has < 15 steps", 0},
     1, 0, 1, NULL, {{-1, 0, pd_dpmpp2m_update}}, NULL},
    {{"conjugate-ddim", 1,   1,  0,    0,
      "lambda-DDIM, the conjugate integrator with B_t = lambda I on a VP schedule (§5.2; "
      "conj_lambda = 0 is DDIM)", 0},
     1, 0, 1, NULL, {{-1, 0, pd_conjugate_update}}, pd_conjugate_ddim_affine},
    {{"conjugate-2",   2,    2,  0,    0,
      "trapezoidal conjugate integrator (pintdiff's construction): lambda-DDIM predictor, trapezoid in the "
      "conjugate variable; conj_lambda = 0 is Heun in sigma/alpha; a step into sigma = 0 is the predictor (1 NFE)", 0},
     3, 0, 2, NULL, {{-1, 0, pd_conjugate2_stage1}, {1, 2, pd_conjugate2_stage2}}, NULL},
    {{"li-ddim",       1,    1,  0,    0,
      "the DDIM-type probability-flow sampler the accelerated analysis starts from (§4): "
      "(Y + (b/2) score)/sqrt(a); first order, much less accurate than ddim at few steps", 0},
     1, 0, 1, NULL, {{-1, 0, pd_affine_update}}, pd_li_ddim_affine},
    {{"li-ddpm",       1,    1,  1,    0,
      "the DDPM-type sampler of the accelerated analysis (§4): (Y + b score + sqrt(b) z)/sqrt(a)", 0},
     1, 0, 1, NULL, {{-1, 0, pd_affine_update}}, pd_li_ddpm_affine},
    {{"accel-ddim",    2,    1,  0,    1,
      "accelerated deterministic sampler (Li et al. 2024, authors' code): DDIM plus C_n (eps_{n-1} - eps_n), "
      "eps interpolated linearly in alpha_bar; first step DDIM; VP schedules", 0},
     2, 0, 1, NULL, {{-1, 0, pd_accel_ddim_update}}, NULL},
    {{"accel-ddpm",    1,    1,  1,    0,
      "accelerated stochastic sampler (Li et al. 2024): half the noise, score at the half-noised point, "
      "the other half after; two noise vectors per step", 0},
     1, 0, 1, pd_accel_ddpm_prepare, {{-1, 0, pd_accel_ddpm_update}}, NULL},
    /* PSLD (schedule.kind psld, augmented state (x, m), the model gives the score): §6.5 */
    {{"psld-em",       1,    1,  1,    0,
      "PSLD Euler-Maruyama on the reverse SDE (mandt-lab/PSLD em_sde; no final denoising step)", 1},
     1, 0, 1, NULL, {{-1, 0, pd_psld_em_update}}, NULL},
    {{"psld-ode-euler", 1,   1,  0,    0, "PSLD Euler on the probability-flow ODE", 1},
     1, 0, 1, NULL, {{-1, 0, pd_psld_ode_update}}, NULL},
    {{"psld-sscs",     1,    1,  1,    0,
      "PSLD symmetric splitting (mandt-lab/PSLD sscs_sde): exact OU over h/2, score Euler over h, OU h/2", 1},
     1, 0, 1, pd_psld_sscs_prepare, {{-1, 0, pd_psld_sscs_update}}, NULL},
    {{"psld-nvv",      1,    3,  0,    0,
      "PSLD naive velocity-Verlet on the PF-ODE, B(h/2) A(h) B(h/2), a score per sub-step (pintdiff's definition)", 1},
     3, 0, 3, NULL, {{-1, 0, pd_psld_nvv_stage1}, {1, 2, pd_psld_nvv_stage2}, {1, 0, pd_psld_nvv_stage3}}, NULL},
    {{"psld-rvv",      1,    1,  0,    0,
      "PSLD reduced velocity-Verlet: the naive scheme with one score per step (pintdiff's definition)", 1},
     1, 0, 1, NULL, {{-1, 0, pd_psld_rvv_update}}, NULL},
    {{"psld-noba",     1,    2,  1,    0,
      "PSLD naive OBA splitting of the reverse SDE, s_x re-evaluated after O and B (pintdiff's definition)", 1},
     3, 0, 2, NULL, {{-1, 0, pd_psld_noba_stage1}, {1, 2, pd_psld_noba_stage2}}, NULL},
    {{"psld-roba",     1,    1,  1,    0,
      "PSLD reduced OBA splitting: one score per step (pintdiff's definition)", 1},
     1, 0, 1, NULL, {{-1, 0, pd_psld_roba_update}}, NULL},
};

#define PD_N_SOLVERS ((int)(sizeof pd_solvers / sizeof pd_solvers[0]))

/* Kept equal to the table by test_solvers_registry (it compares it with the rows). */
static const char pd_solver_name_list[] = "ddpm, ddim, euler, heun, dpm-solver-2, dpmpp-2m, conjugate-ddim, conjugate-2, li-ddim, li-ddpm, accel-ddim, accel-ddpm, "
                                          "psld-em, psld-ode-euler, psld-sscs, psld-nvv, psld-rvv, psld-noba, psld-roba";

int pd_solver_count(void) { return PD_N_SOLVERS; }

const pd_solver_info *pd_solver_info_at(int i)
{
    return (i >= 0 && i < PD_N_SOLVERS) ? &pd_solvers[i].info : NULL;
}

static const pd_solver_entry *find_entry(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < PD_N_SOLVERS; i++)
        if (strcmp(pd_solvers[i].info.name, name) == 0) return &pd_solvers[i];
    return NULL;
}

const pd_solver_info *pd_solver_find(const char *name)
{
    const pd_solver_entry *e = find_entry(name);
    return e ? &e->info : NULL;
}

const char *pd_solver_names(void) { return pd_solver_name_list; }

pd_solver_params pd_solver_default_params(void)
{
    return (pd_solver_params){.eta = 0.0, .variance_large = 0, .lower_order_final = 1, .conj_lambda = 0.0,
                              .seed = 0};
}

pd_status pd_solver_create(pd_ctx *ctx, const char *name, const pd_solver_params *p,
                           pd_solver **out)
{
    const pd_solver_entry *e = find_entry(name);
    if (!e)
        PD_FAIL(ctx, PD_ERR_INPUT, "unknown solver '%s' (known: %s)", name ? name : "(null)",
                pd_solver_name_list);
    pd_solver_params prm = p ? *p : pd_solver_default_params();
    if (!(prm.eta >= 0.0 && prm.eta <= 1.0))
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s: eta = %g, expected 0 <= eta <= 1", e->info.name,
                prm.eta);
    if (prm.variance_large != 0 && prm.variance_large != 1)
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s: variance_large = %d, expected 0 (fixed_small) or 1 "
                "(fixed_large)", e->info.name, prm.variance_large);
    if (prm.lower_order_final != 0 && prm.lower_order_final != 1)
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s: lower_order_final = %d, expected 0 or 1",
                e->info.name, prm.lower_order_final);
    if (!isfinite(prm.conj_lambda))
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s: conj_lambda = %g, expected a finite number", e->info.name,
                prm.conj_lambda);
    pd_solver *s = calloc(1, sizeof *s);
    if (!s) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate solver %s", e->info.name);
    s->entry = e;
    s->params = prm;
    *out = s;
    return PD_OK;
}

void pd_solver_destroy(pd_solver **s)
{
    if (!s || !*s) return;
    free(*s);
    *s = NULL;
}

const pd_solver_info *pd_solver_get_info(const pd_solver *s) { return &s->entry->info; }

int pd_solver_is_affine(const pd_solver *s) { return s->entry->coef != NULL; }

pd_status pd_solver_affine_coef(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, int n, double *cx, double *cd,
                                double *cz)
{
    if (!s->entry->coef)
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s is not a one-step affine update (ddpm, ddim, euler, li-ddim, li-ddpm, "
                "conjugate-ddim are)", s->entry->info.name);
    if (n < 0 || n >= pd_grid_steps(g))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: step %d outside the grid's steps 0 .. %d", s->entry->info.name, n,
                pd_grid_steps(g) - 1);
    if (s->entry->stage[0].update == pd_conjugate_update && !pd_schedule_is_vp(pd_grid_schedule(g)))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s needs a VP schedule", s->entry->info.name);
    pd_affine_coef k = s->entry->coef(s, g, n);
    if (!pd_solver_is_stochastic(s)) k.cz = 0.0;
    *cx = k.cx, *cd = k.cd, *cz = k.cz;
    return PD_OK;
}

int pd_solver_is_stochastic(const pd_solver *s)
{
    if (s->entry->eta_noise) return s->params.eta > 0.0;
    return s->entry->info.stochastic;
}

const pd_solver_params *pd_solver_get_params(const pd_solver *s) { return &s->params; }

double pd_solver_noise_std(const pd_solver *s, const pd_grid *g, int n)
{
    if (!s->entry->coef || !pd_solver_is_stochastic(s)) return 0.0;
    return s->entry->coef(s, g, n).cz;
}
