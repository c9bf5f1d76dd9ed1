/* Solver workspaces: scratch and multistep history for n_groups groups of trajectories stacked in one
 * batch, with a lane (views into the group's rows) per group, all made once so that a step allocates
 * nothing. */
#include <math.h>
#include <stdlib.h>

#include "solvers/solver_impl.h"

/* The lane views of group i over the workspace's buffers; x is re-pointed by every step. */
static pd_status lane_create(pd_ctx *ctx, pd_solver_ws *ws, int i)
{
    pd_lane *l = &ws->lane[i];
    pd_state *any = ws->scratch[0];
    const int64_t first = i * ws->rows, off = pd_state_offset(any);
    PD_TRY(pd_state_view(ctx, any, first, ws->rows, &l->x));
    for (int k = 0; k < ws->entry->n_scratch; k++) {
        PD_TRY(pd_state_view(ctx, ws->scratch[k], first, ws->rows, &l->s[k]));
        PD_TRY(pd_state_view_set(ctx, l->s[k], ws->scratch[k], first, ws->rows, off));
    }
    if (ws->hist) {
        PD_TRY(pd_state_view(ctx, ws->hist, first, ws->rows, &l->hist));
        PD_TRY(pd_state_view_set(ctx, l->hist, ws->hist, first, ws->rows, off));
    }
    l->hist_step = &ws->hist_step[i];
    l->hist_lambda = &ws->hist_lambda[i];
    return PD_OK;
}

pd_status pd_solver_ws_create_groups(pd_ctx *ctx, const pd_solver *s, const pd_state *like, int n_groups,
                                     pd_solver_ws **out)
{
    const char *name = s->entry->info.name;
    if (n_groups < 1) PD_FAIL(ctx, PD_ERR_INPUT, "solver %s: a workspace for %d groups", name, n_groups);
    pd_solver_ws *ws = calloc(1, sizeof *ws);
    if (!ws) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a workspace for solver %s", name);
    ws->entry = s->entry;
    ws->n_groups = n_groups;
    ws->rows = pd_state_n_samples(like);
    pd_status st = PD_OK;
    ws->hist_step = malloc(sizeof *ws->hist_step * (size_t)n_groups);
    ws->hist_lambda = malloc(sizeof *ws->hist_lambda * (size_t)n_groups);
    ws->lane = calloc((size_t)n_groups, sizeof *ws->lane);
    ws->at = calloc((size_t)n_groups, sizeof *ws->at);
    ws->steps = calloc((size_t)n_groups, sizeof *ws->steps);
    if (!ws->hist_step || !ws->hist_lambda || !ws->lane || !ws->at || !ws->steps)
        PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "cannot allocate a workspace for solver %s", name);
    pd_solver_ws_reset(ws);
    const int64_t total = (int64_t)n_groups * ws->rows;
    /* at least one scratch state, which the lanes' x views start on */
    for (int i = 0; i < (s->entry->n_scratch > 0 ? s->entry->n_scratch : 1); i++)
        PD_TRY_GOTO(pd_state_create(ctx, pd_state_dtype(like), pd_state_device(like), total, pd_state_dim(like),
                                    pd_state_offset(like), &ws->scratch[i]));
    if (s->entry->info.multistep)
        PD_TRY_GOTO(pd_state_create(ctx, pd_state_dtype(like), pd_state_device(like), total, pd_state_dim(like),
                                    pd_state_offset(like), &ws->hist));
    PD_TRY_GOTO(pd_state_view(ctx, ws->scratch[0], 0, 0, &ws->eval_in));
    PD_TRY_GOTO(pd_state_view(ctx, ws->scratch[0], 0, 0, &ws->eval_out));
    for (int i = 0; i < n_groups; i++) PD_TRY_GOTO(lane_create(ctx, ws, i));
    *out = ws;
    return PD_OK;
done:
    pd_solver_ws_destroy(&ws);
    return st;
}

pd_status pd_solver_ws_create(pd_ctx *ctx, const pd_solver *s, const pd_state *like, pd_solver_ws **out)
{
    return pd_solver_ws_create_groups(ctx, s, like, 1, out);
}

void pd_solver_ws_destroy(pd_solver_ws **wsp)
{
    if (!wsp || !*wsp) return;
    pd_solver_ws *ws = *wsp;
    for (int i = 0; ws->lane && i < ws->n_groups; i++) {
        pd_state_destroy(&ws->lane[i].x);
        for (int k = 0; k < PD_SOLVER_MAX_SCRATCH; k++) pd_state_destroy(&ws->lane[i].s[k]);
        pd_state_destroy(&ws->lane[i].hist);
    }
    pd_state_destroy(&ws->eval_in);
    pd_state_destroy(&ws->eval_out);
    for (int i = 0; i < PD_SOLVER_MAX_SCRATCH; i++) pd_state_destroy(&ws->scratch[i]);
    pd_state_destroy(&ws->hist);
    free(ws->hist_step), free(ws->hist_lambda), free(ws->lane), free(ws->at), free(ws->steps);
    free(ws);
    *wsp = NULL;
}

void pd_solver_ws_reset(pd_solver_ws *ws)
{
    if (!ws) return;
    for (int i = 0; i < ws->n_groups; i++) {
        ws->hist_step[i] = -1;
        ws->hist_lambda[i] = NAN;
    }
}

pd_state *pd_solver_ws_group_history(pd_solver_ws *ws, int group, int *step, double *lambda)
{
    int ok = ws->hist && group >= 0 && group < ws->n_groups;
    if (step) *step = ok ? ws->hist_step[group] : -1;
    if (lambda) *lambda = ok ? ws->hist_lambda[group] : NAN;
    return ok ? ws->lane[group].hist : NULL;
}

pd_state *pd_solver_ws_history(pd_solver_ws *ws, int *step, double *lambda)
{
    return pd_solver_ws_group_history(ws, 0, step, lambda);
}

pd_status pd_solver_ws_set_group_history(pd_ctx *ctx, pd_solver_ws *ws, const pd_grid *g, int group, int step)
{
    if (!ws->hist) PD_FAIL(ctx, PD_ERR_INPUT, "solver %s keeps no history", ws->entry->info.name);
    if (group < 0 || group >= ws->n_groups)
        PD_FAIL(ctx, PD_ERR_INPUT, "history of group %d, the workspace has %d", group, ws->n_groups);
    if (step != -1 && (step < 0 || step >= pd_grid_steps(g)))
        PD_FAIL(ctx, PD_ERR_INPUT, "history step %d outside the grid's steps 0 .. %d", step,
                pd_grid_steps(g) - 1);
    ws->hist_step[group] = step;
    ws->hist_lambda[group] = step == -1 ? NAN : pd_grid_at(g, step)->lambda;
    return PD_OK;
}

pd_status pd_solver_ws_set_history(pd_ctx *ctx, pd_solver_ws *ws, const pd_grid *g, int step)
{
    return pd_solver_ws_set_group_history(ctx, ws, g, 0, step);
}

void pd_solver_ws_set_noise(pd_solver_ws *ws, const pd_state *const *z, int n)
{
    ws->noise = z;
    ws->n_noise = z ? n : 0;
}
