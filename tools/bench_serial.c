/* pd-bench-serial: time per step and per sample of every solver on a model file.
 *   pd-bench-serial MODEL.h5 KIND(gmm|dataset) SAMPLES STEPS [REPEATS] [dtype]
 * Prints one CSV row per solver: model, dim, solver, samples, steps, nfe, seconds per step,
 * microseconds per sample-step, best of REPEATS runs (setup excluded: only the step loop is timed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bench_load.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int bench_solver(pd_ctx *ctx, pd_model *m, const pd_grid *g, const char *name, int64_t S,
                        int repeats, pd_dtype dt, const char *label)
{
    pd_solver_params p = pd_solver_default_params();
    p.seed = 1;
    pd_solver *s = NULL;
    pd_state *x = NULL;
    pd_solver_ws *ws = NULL;
    if (pd_solver_create(ctx, name, &p, &s) || pd_state_create(ctx, dt, PD_DEVICE_CPU, S, pd_model_dim(m), 0, &x) ||
        pd_solver_ws_create(ctx, s, x, &ws) || pd_model_reserve(ctx, m, S))
        return 1;
    int N = pd_grid_steps(g);
    double best = 1e300;
    int64_t nfe = 0;
    for (int r = 0; r < repeats; r++) {
        pd_state_fill_normal(ctx, x, 1, 0, PD_RNG_START);
        pd_solver_ws_reset(ws);
        pd_model_reset_nfe(m);
        double t0 = now();
        if (pd_solver_run(ctx, s, m, g, 0, N, x, ws) != PD_OK) return 1;
        double t = now() - t0;
        best = t < best ? t : best;
        nfe = pd_model_nfe(m);
    }
    printf("%s,%lld,%s,%s,%lld,%d,%lld,%.6e,%.4f\n", label, (long long)pd_model_dim(m), name, pd_dtype_name(dt),
           (long long)S, N, (long long)nfe, best / N, 1e6 * best / N / S);
    fflush(stdout);
    pd_solver_ws_destroy(&ws);
    pd_state_destroy(&x);
    pd_solver_destroy(&s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: pd-bench-serial MODEL.h5 gmm|dataset SAMPLES STEPS [REPEATS] [float32|float64]\n");
        return 2;
    }
    const char *path = argv[1], *kind = argv[2];
    int64_t S = atoll(argv[3]);
    int N = atoi(argv[4]), repeats = argc > 5 ? atoi(argv[5]) : 3;
    pd_dtype dt = argc > 6 && !strcmp(argv[6], "float64") ? PD_F64 : PD_F32;
    pd_ctx *ctx = pd_ctx_create();
    pd_model *m = NULL;
    pd_schedule *sc = NULL;
    pd_grid *g = NULL;
    if (bench_load(ctx, path, kind, N, &m, &sc, &g) != PD_OK) {
        fprintf(stderr, "pd-bench-serial: %s\n", pd_ctx_message(ctx));
        return 2;
    }
    const char *label = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int fails = 0;
    for (int i = 0; i < pd_solver_count(); i++)
        if (!pd_solver_info_at(i)->augmented && bench_solver(ctx, m, g, pd_solver_info_at(i)->name, S, repeats, dt, label)) {
            fprintf(stderr, "pd-bench-serial: %s: %s\n", pd_solver_info_at(i)->name, pd_ctx_message(ctx));
            fails++;
            pd_ctx_clear(ctx);
        }
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sc);
    pd_model_destroy(&m);
    pd_ctx_destroy(&ctx);
    return fails != 0;
}
