/* The serial loop: steps n_begin .. n_end - 1 of one solver, each checked for NaN/Inf. */
#include "solvers/solver_impl.h"

static pd_status check_finite(pd_ctx *ctx, const pd_solver *s, const pd_grid *g, int n,
                              const pd_state *x)
{
    int64_t bad = -1;
    PD_TRY(pd_state_find_nonfinite(ctx, x, &bad));
    if (bad < 0) return PD_OK;
    int64_t dim = pd_state_dim(x);
    PD_FAIL(ctx, PD_ERR_NUMERIC, "%s step %d (t = %g -> %g): NaN/Inf in sample %lld, element %lld",
            s->entry->info.name, n, pd_grid_at(g, n)->t, pd_grid_at(g, n + 1)->t,
            (long long)(pd_state_offset(x) + bad / dim), (long long)(bad % dim));
}

pd_status pd_solver_run(pd_ctx *ctx, const pd_solver *s, pd_model *m, const pd_grid *g,
                        int n_begin, int n_end, pd_state *x, pd_solver_ws *ws)
{
    if (n_begin < 0 || n_end > pd_grid_steps(g) || n_begin > n_end)
        PD_FAIL(ctx, PD_ERR_INPUT, "%s: steps [%d, %d) outside the grid's 0 .. %d",
                s->entry->info.name, n_begin, n_end, pd_grid_steps(g));
    for (int n = n_begin; n < n_end; n++) {
        PD_TRY(pd_solver_step(ctx, s, m, g, n, x, ws));
        PD_TRY(check_finite(ctx, s, g, n, x));
    }
    return PD_OK;
}
