/* Uses the installed public API: a 1-D Gaussian mixture sampled with DDIM; checks the sample mean. */
#include <math.h>
#include <stdio.h>

#include <pintdiff/pintdiff.h>

int main(void)
{
    pd_ctx *ctx = pd_ctx_create();
    double w[] = {1.0}, mu[] = {0.7}, var[] = {0.25};
    int64_t shape[] = {1};
    pd_model *m = NULL;
    pd_schedule *s = NULL;
    pd_grid *g = NULL;
    pd_solver *sol = NULL;
    pd_solver_ws *ws = NULL;
    pd_state *x = NULL;
    pd_schedule_params sp = pd_schedule_defaults(PD_SCHEDULE_VP_LINEAR);
    pd_solver_params p = pd_solver_default_params();
    double h[4000], mean = 0.0;
    pd_status st = pd_model_gmm_create(ctx, 1, 1, shape, w, mu, var, 0, &m);
    if (!st) st = pd_schedule_create(ctx, &sp, &s);
    if (!st) st = pd_grid_create(ctx, s, PD_SPACING_LOGSNR, 50, 0, &g);
    if (!st) st = pd_solver_create(ctx, "ddim", &p, &sol);
    if (!st) st = pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, 4000, 1, 0, &x);
    if (!st) st = pd_state_fill_normal(ctx, x, 3, 0, PD_RNG_START);
    if (!st) st = pd_solver_ws_create(ctx, sol, x, &ws);
    if (!st) st = pd_solver_run(ctx, sol, m, g, 0, 50, x, ws);
    if (!st) st = pd_state_read_f64(ctx, x, h);
    for (int i = 0; !st && i < 4000; i++) mean += h[i] / 4000;
    printf("pintdiff %s: sample mean %.4f (target 0.7)\n", PINTDIFF_VERSION, mean);
    if (st) fprintf(stderr, "error: %s\n", pd_ctx_message(ctx));
    pd_solver_ws_destroy(&ws), pd_state_destroy(&x), pd_solver_destroy(&sol), pd_grid_destroy(&g);
    pd_schedule_destroy(&s), pd_model_destroy(&m), pd_ctx_destroy(&ctx);
    return st != PD_OK || fabs(mean - 0.7) > 0.05;
}
