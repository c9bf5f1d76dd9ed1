/* The stage driver (one batched model evaluation per stage for every group still running, then the
 * per-group updates), the shared affine update, and the loops over steps with their NaN/Inf check. */
#include "solvers/solver_impl.h"

/* ---- argument checks ---- */

static pd_status check_state(pd_ctx *ctx, const pd_solver *s, const pd_model *m, const pd_grid *g, int n_groups,
                             const pd_state *x, const pd_solver_ws *ws)
{
    const char *name = s->entry->info.name;
    if (ws->entry != s->entry)
        PD_FAIL(ctx, PD_ERR_INPUT, "solver %s given a workspace made for solver %s", name, ws->entry->info.name);
    if (n_groups < 1 || n_groups > ws->n_groups)
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: %d groups for a workspace of %d", name, n_groups, ws->n_groups);
    const pd_state *like = ws->scratch[0];
    if (pd_state_n_samples(x) != n_groups * ws->rows || pd_state_dim(x) != pd_state_dim(like) ||
        pd_state_dtype(x) != pd_state_dtype(like) || pd_state_device(x) != pd_state_device(like))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: state [%lld, %lld] %s/%s does not match its workspace "
                "(%d x [%lld, %lld] %s/%s)", name, (long long)pd_state_n_samples(x),
                (long long)pd_state_dim(x), pd_dtype_name(pd_state_dtype(x)),
                pd_device_name(pd_state_device(x)), n_groups, (long long)ws->rows,
                (long long)pd_state_dim(like), pd_dtype_name(pd_state_dtype(like)),
                pd_device_name(pd_state_device(like)));
    /* augmented states (psld): the sampler, the model and the schedule agree, checked once here */
    if (pd_model_is_augmented(m) != s->entry->info.augmented ||
        pd_schedule_is_augmented(pd_grid_schedule(g)) != s->entry->info.augmented)
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: %s", name,
                s->entry->info.augmented ? "needs an augmented (psld) model and schedule.kind psld"
                                         : "cannot run on an augmented (psld) model or schedule: use a psld-* sampler");
    if (pd_model_dim(m) != pd_state_dim(x))
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: model %s has dim %lld, the state %lld", name,
                pd_model_name(m), (long long)pd_model_dim(m), (long long)pd_state_dim(x));
    return PD_OK;
}

static pd_status check_step(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, int n, int idle_ok)
{
    if ((idle_ok && n == -1) || (n >= 0 && n < pd_grid_steps(g))) return PD_OK;
    PD_FAIL(ctx, PD_ERR_INPUT, "%s: step %d outside the grid's steps 0 .. %d", s->entry->info.name, n,
            pd_grid_steps(g) - 1);
}

/* ---- the stage driver ---- */

/* Point the lanes of the first n_groups groups at their step and their rows of x (n[i] = -1: idle). */
static pd_status bind_lanes(pd_ctx *ctx, pd_solver_ws *ws, const pd_grid *g, int n_groups, const int *n, pd_state *x)
{
    for (int i = 0; i < n_groups; i++) {
        pd_lane *l = &ws->lane[i];
        PD_TRY(pd_state_view_set(ctx, l->x, x, i * ws->rows, ws->rows, pd_state_offset(x)));
        l->n = n[i];
        l->done = n[i] < 0;
        if (l->done) continue;
        l->p0 = pd_grid_at(g, n[i]);
        l->p1 = pd_grid_at(g, n[i] + 1);
        l->at = *l->p0;
    }
    return PD_OK;
}

/* One model call for the groups still running: over the contiguous range of groups from the first to the
 * last of them (a finished group inside the range is evaluated at a running group's point and its output
 * ignored: one wasted row block is cheaper than a second call). Returns *any = 0 when none runs. */
static pd_status eval_stage(pd_ctx *ctx, pd_model *m, pd_solver_ws *ws, int n_groups, pd_state *x,
                            const pd_stage *st, int *any)
{
    int lo = 0, hi = n_groups;
    while (lo < hi && ws->lane[lo].done) lo++;
    while (hi > lo && ws->lane[hi - 1].done) hi--;
    *any = hi > lo;
    if (!*any) return PD_OK;
    pd_state *in = st->in < 0 ? x : ws->scratch[st->in], *out = ws->scratch[st->out];
    const int64_t off = pd_state_offset(x), r = ws->rows;
    PD_TRY(pd_state_view_set(ctx, ws->eval_in, in, lo * r, (hi - lo) * r, off));
    PD_TRY(pd_state_view_set(ctx, ws->eval_out, out, lo * r, (hi - lo) * r, off));
    for (int i = lo; i < hi; i++) ws->at[i - lo] = ws->lane[i].done ? ws->lane[lo].at : ws->lane[i].at;
    return pd_model_eval_groups(ctx, m, ws->eval_in, hi - lo, ws->at, ws->eval_out);
}

static pd_status step_stages(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n_groups,
                             pd_state *x, pd_solver_ws *ws)
{
    const pd_solver_entry *e = s->entry;
    for (int i = 0; e->prepare && i < n_groups; i++)
        if (!ws->lane[i].done) PD_TRY(e->prepare(ctx, s, g, &ws->lane[i], ws));
    for (int k = 0; k < e->n_stages; k++) {
        int any = 0;
        PD_TRY(eval_stage(ctx, m, ws, n_groups, x, &e->stage[k], &any));
        if (!any) break;
        for (int i = 0; i < n_groups; i++)
            if (!ws->lane[i].done) PD_TRY(e->stage[k].update(ctx, s, g, &ws->lane[i], ws));
    }
    return PD_OK;
}

pd_status pd_solver_step_groups(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n_groups,
                                const int *n, pd_state *x, pd_solver_ws *ws)
{
    PD_TRY(check_state(ctx, s, m, g, n_groups, x, ws));
    for (int i = 0; i < n_groups; i++) PD_TRY(check_step(ctx, s, g, n[i], 1));
    PD_TRY(bind_lanes(ctx, ws, g, n_groups, n, x));
    return step_stages(ctx, s, m, g, n_groups, x, ws);
}

pd_status pd_solver_step(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n, pd_state *x,
                         pd_solver_ws *ws)
{
    PD_TRY(check_step(ctx, s, g, n, 0));
    return pd_solver_step_groups(ctx, s, m, g, 1, &n, x, ws);
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

/* ---- the loops ---- */

/* After a step: the first NaN/Inf of x names the solver, its group's step and t, the global sample and
 * element (one scan of the whole batch). */
static pd_status check_finite(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, const pd_solver_ws *ws,
                              const int *n, const pd_state *x)
{
    int64_t bad = -1;
    PD_TRY(pd_state_find_nonfinite(ctx, x, &bad));
    if (bad < 0) return PD_OK;
    const int64_t dim = pd_state_dim(x), row = bad / dim;
    const int step = n[row / ws->rows];
    if (step < 0) /* an idle group: its state came in that way */
        PD_FAIL(ctx, PD_ERR_NUMERIC, "%s: NaN/Inf in an input state, sample %lld, element %lld", s->entry->info.name,
                (long long)(pd_state_offset(x) + row % ws->rows), (long long)(bad % dim));
    PD_FAIL(ctx, PD_ERR_NUMERIC, "%s step %d (t = %g -> %g): NaN/Inf in sample %lld, element %lld",
            s->entry->info.name, step, pd_grid_at(g, step)->t, pd_grid_at(g, step + 1)->t,
            (long long)(pd_state_offset(x) + row % ws->rows), (long long)(bad % dim));
}

pd_status pd_solver_run_groups(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n_groups,
                               const int *n_begin, const int *n_end, pd_state *x, pd_solver_ws *ws)
{
    PD_TRY(check_state(ctx, s, m, g, n_groups, x, ws));
    int len = 0;
    for (int i = 0; i < n_groups; i++) {
        if (n_begin[i] < 0 || n_end[i] > pd_grid_steps(g) || n_begin[i] > n_end[i])
            PD_FAIL(ctx, PD_ERR_INPUT, "%s: steps [%d, %d) outside the grid's 0 .. %d", s->entry->info.name,
                    n_begin[i], n_end[i], pd_grid_steps(g));
        if (n_end[i] - n_begin[i] > len) len = n_end[i] - n_begin[i];
    }
    int *n = ws->steps;
    for (int j = 0; j < len; j++) {
        for (int i = 0; i < n_groups; i++) n[i] = n_begin[i] + j < n_end[i] ? n_begin[i] + j : -1;
        PD_TRY(bind_lanes(ctx, ws, g, n_groups, n, x));
        PD_TRY(step_stages(ctx, s, m, g, n_groups, x, ws));
        PD_TRY(check_finite(ctx, s, g, ws, n, x));
    }
    return PD_OK;
}

pd_status pd_solver_run(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g, int n_begin, int n_end,
                        pd_state *x, pd_solver_ws *ws)
{
    return pd_solver_run_groups(ctx, s, m, g, 1, &n_begin, &n_end, x, ws);
}
