/* The solver registry (STYLE.md habit 9), solver objects, workspaces, and the checked step entry.
 * The numerics live in ddpm_ddim.c, edm.c and dpm.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solvers/solver_impl.h"

/* Order and NFE per step are data the tests read (ALGORITHMS.md §11). */
static const pd_solver_entry pd_solvers[] = {
    /* {name           order nfe stoch multi  summary}, scratch states, eta_noise, step, coef */
    {{"ddpm",          1,    1,  1,    0,
      "DDPM ancestral (ALGORITHMS.md §3.1): posterior mean plus fixed_small (default) or fixed_large "
      "noise; no noise on a step into sigma = 0; weak order 1"},
     1, 0, pd_affine_step, pd_ddpm_affine},
    {{"ddim",          1,    1,  0,    0,
      "DDIM (§3.2): eta = 0 deterministic (= DPM-Solver-1 = EDM Euler), eta = 1 = DDPM fixed_small"},
     1, 1, pd_affine_step, pd_ddim_affine},
    {{"euler",         1,    1,  0,    0,
      "Euler on the EDM PF-ODE in x~ = x/alpha, sigma~ = sigma/alpha (§3.3, no churn)"},
     1, 0, pd_euler_step, NULL},
    {{"heun",          2,    2,  0,    0,
      "Heun on the EDM PF-ODE (§3.3, no churn); a step into sigma = 0 is one Euler step (1 NFE), "
      "so 2N - 1 NFE then"},
     3, 0, pd_heun_step, NULL},
    {{"dpm-solver-2",  2,    2,  0,    0,
      "DPM-Solver-2, single step, midpoint in lambda, noise prediction (§3.4); a step into "
      "sigma = 0 is one DDIM step (1 NFE)"},
     3, 0, pd_dpm2_step, NULL},
    {{"dpmpp-2m",      2,    1,  0,    1,
      "DPM-Solver++(2M), data prediction (§3.5): first step first order, x0_hat into sigma = 0, "
      "first-order last step when lower_order_final and the grid has < 15 steps"},
     1, 0, pd_dpmpp2m_step, NULL},
};

#define PD_N_SOLVERS ((int)(sizeof pd_solvers / sizeof pd_solvers[0]))

/* Kept equal to the table by test_solvers_registry (it compares it with the rows). */
static const char pd_solver_name_list[] = "ddpm, ddim, euler, heun, dpm-solver-2, dpmpp-2m";

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
    return (pd_solver_params){.eta = 0.0, .variance_large = 0, .lower_order_final = 1, .seed = 0};
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

int pd_solver_is_stochastic(const pd_solver *s)
{
    if (s->entry->eta_noise) return s->params.eta > 0.0;
    return s->entry->info.stochastic;
}

/* ---- workspaces ---- */

pd_status pd_solver_ws_create(pd_ctx *ctx, const pd_solver *s, const pd_state *like,
                              pd_solver_ws **out)
{
    pd_solver_ws *ws = calloc(1, sizeof *ws);
    if (!ws) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a workspace for solver %s",
                     s->entry->info.name);
    ws->entry = s->entry;
    ws->hist_step = -1;
    ws->hist_lambda = NAN;
    pd_status st = PD_OK;
    for (int i = 0; i < s->entry->n_scratch; i++)
        PD_TRY_GOTO(pd_state_create_like(ctx, like, &ws->scratch[i]));
    if (s->entry->info.multistep) PD_TRY_GOTO(pd_state_create_like(ctx, like, &ws->hist));
    *out = ws;
    return PD_OK;
done:
    pd_solver_ws_destroy(&ws);
    return st;
}

void pd_solver_ws_destroy(pd_solver_ws **ws)
{
    if (!ws || !*ws) return;
    for (int i = 0; i < PD_SOLVER_MAX_SCRATCH; i++) pd_state_destroy(&(*ws)->scratch[i]);
    pd_state_destroy(&(*ws)->hist);
    free(*ws);
    *ws = NULL;
}

void pd_solver_ws_reset(pd_solver_ws *ws)
{
    if (!ws) return;
    ws->hist_step = -1;
    ws->hist_lambda = NAN;
}

pd_state *pd_solver_ws_history(pd_solver_ws *ws, int *step, double *lambda)
{
    if (step) *step = ws->hist ? ws->hist_step : -1;
    if (lambda) *lambda = ws->hist ? ws->hist_lambda : NAN;
    return ws->hist;
}

pd_status pd_solver_ws_set_history(pd_ctx *ctx, pd_solver_ws *ws, const pd_grid *g, int step)
{
    if (!ws->hist)
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s keeps no history", ws->entry->info.name);
    if (step == -1) {
        pd_solver_ws_reset(ws);
        return PD_OK;
    }
    if (step < 0 || step >= pd_grid_steps(g))
        PD_FAIL(ctx, PD_ERR_INPUT, "history step %d outside the grid's steps 0 .. %d", step,
                pd_grid_steps(g) - 1);
    ws->hist_step = step;
    ws->hist_lambda = pd_grid_at(g, step)->lambda;
    return PD_OK;
}

/* ---- the step ---- */

static pd_status check_step_args(pd_ctx *ctx, const pd_solver *s, const pd_model *m,
                                 const pd_grid *g, int n, const pd_state *x,
                                 const pd_solver_ws *ws)
{
    const char *name = s->entry->info.name;
    if (ws->entry != s->entry)
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s given a workspace made for solver %s", name,
                ws->entry->info.name);
    if (n < 0 || n >= pd_grid_steps(g))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: step %d outside the grid's steps 0 .. %d", name, n,
                pd_grid_steps(g) - 1);
    const pd_state *like = ws->scratch[0];
    if (pd_state_n_samples(x) != pd_state_n_samples(like) || pd_state_dim(x) != pd_state_dim(like) ||
        pd_state_dtype(x) != pd_state_dtype(like) || pd_state_device(x) != pd_state_device(like))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: state [%lld, %lld] %s/%s does not match its workspace "
                "[%lld, %lld] %s/%s", name, (long long)pd_state_n_samples(x),
                (long long)pd_state_dim(x), pd_dtype_name(pd_state_dtype(x)),
                pd_device_name(pd_state_device(x)), (long long)pd_state_n_samples(like),
                (long long)pd_state_dim(like), pd_dtype_name(pd_state_dtype(like)),
                pd_device_name(pd_state_device(like)));
    if (pd_model_dim(m) != pd_state_dim(x))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: model %s has dim %lld, the state %lld", name,
                pd_model_name(m), (long long)pd_model_dim(m), (long long)pd_state_dim(x));
    return PD_OK;
}

pd_status pd_solver_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n,
                         pd_state *x, pd_solver_ws *ws)
{
    PD_TRY(check_step_args(ctx, s, m, g, n, x, ws));
    return s->entry->step(ctx, s, m, g, n, x, ws);
}

/* ---- shared update ---- */

pd_status pd_solver_apply_affine(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, int n, const pd_solver_ws *ws,
                                 pd_affine_coef k, pd_state *x_out, const pd_state *x, const pd_state *d)
{
    const double c[3] = {k.cx, k.cd, k.cz};
    const pd_state *v[3] = {x, d, NULL};
    if (k.cz != 0.0 && ws && n < ws->n_noise && ws->noise[n]) { /* given noise (Parareal's coarse, §7.2) */
        v[2] = ws->noise[n];
        return pd_state_lincomb(ctx, x_out, 3, c, v, NULL);
    }
    pd_noise_term z = {.coef = k.cz, .seed = s->params.seed, .step = (uint32_t)pd_grid_noise_step(g, n),
                       .purpose = PD_RNG_STEP};
    return pd_state_lincomb(ctx, x_out, 2, c, v, k.cz != 0.0 ? &z : NULL);
}

const pd_solver_params *pd_solver_get_params(const pd_solver *s) { return &s->params; }

void pd_solver_ws_set_noise(pd_solver_ws *ws, const pd_state *const *z, int n)
{
    ws->noise = z;
    ws->n_noise = z ? n : 0;
}

double pd_solver_noise_std(const pd_solver *s, const pd_grid *g, int n)
{
    if (!s->entry->coef || !pd_solver_is_stochastic(s)) return 0.0;
    return s->entry->coef(s, pd_grid_at(g, n), pd_grid_at(g, n + 1)).cz;
}
