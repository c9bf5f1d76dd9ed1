/* The integrators of issue 6 against the closed-form PF-ODE flow of a single Gaussian N(0.7, 0.5^2)
 * (ALGORITHMS.md §2.1), float64, started from the exact marginal (64 samples x 2 dims):
 * - conjugate-ddim (lambda-DDIM, §5.2): conj_lambda = 0 is DDIM bit for bit; for lambda in {-2, 1, 2}
 *   the observed order between N = 64, 128, 256, 512 is 1 within 0.2, on a continuous (vp-linear,
 *   uniform in t) and a discrete grid (ddpm-linear linspace, into sigma = 0). lambda = -1 sits near
 *   the lambda where the leading error term of this target changes sign: its error is 6-9x below
 *   DDIM's and its observed order is still pre-asymptotic (0.67-0.94 over this range; asserted: the
 *   error falls with N and stays below DDIM's). A non-VP schedule is refused with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gauss_model.h"
#include "pd_test.h"
#include "pintdiff/solver.h"

enum { S = 64, DIM = 2 };
static const double MU = 0.7, SD = 0.5;

typedef struct grid_case {
    const char *label;
    pd_schedule_kind kind;
    pd_spacing sp;
} grid_case;

/* RMS error at the grid's last point against the exact flow from point 0; *x_out (optional) gets x */
static int flow_error(pd_ctx *ctx, const char *name, const pd_solver_params *p, const grid_case *gc, int steps,
                      double *err, double *x_out)
{
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL;
    pd_state *x = NULL;
    double x0[S * DIM], x1[S * DIM];
    PD_TEST_CHECK(ctx, test_grid(ctx, gc->kind, gc->sp, steps, &sch, &g));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, DIM, gauss_plain(MU, SD), &m));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, DIM, 0, &x));
    PD_TEST_CHECK(ctx, test_start_exact(ctx, x, g, MU, SD, 5));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, x0));
    PD_TEST_CHECK(ctx, test_run(ctx, name, p, m, g, 0, steps, x));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, x, x1));
    double sum = 0;
    for (int i = 0; i < S * DIM; i++) {
        double d = x1[i] - gauss_flow(MU, SD, pd_grid_at(g, 0), pd_grid_at(g, steps), x0[i]);
        sum += d * d;
    }
    *err = sqrt(sum / (S * DIM));
    if (x_out) memcpy(x_out, x1, sizeof x1);
    pd_state_destroy(&x);
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    return 0;
}

/* Observed orders log2(e_N / e_2N) over N = 64 .. 512 must lie in [order - tol, order + tol]. */
static int check_order(pd_ctx *ctx, const char *name, const pd_solver_params *p, const grid_case *gc, double order,
                       double tol, int *fails)
{
    static const int Ns[] = {64, 128, 256, 512};
    double e[4];
    for (int i = 0; i < 4; i++)
        if (flow_error(ctx, name, p, gc, Ns[i], &e[i], NULL)) return 1;
    for (int i = 0; i + 1 < 4; i++) {
        double q = log2(e[i] / e[i + 1]);
        char what[200];
        snprintf(what, sizeof what, "%s (conj_lambda %g) on %s: order %.3f between N = %d and %d (errors %.3e, %.3e)",
                 name, p->conj_lambda, gc->label, q, Ns[i], Ns[i + 1], e[i], e[i + 1]);
        *fails += pd_expect_true(fabs(q - order) <= tol, what);
        printf("%s\n", what);
    }
    return 0;
}

static int conjugate_checks(pd_ctx *ctx, int *fails)
{
    static const grid_case grids[] = {
        {"vp-linear uniform", PD_SCHEDULE_VP_LINEAR, PD_SPACING_UNIFORM},
        {"ddpm-linear linspace", PD_SCHEDULE_DDPM_LINEAR, PD_SPACING_LINSPACE},
    };
    static const double lams[] = {-2.0, 1.0, 2.0};
    pd_solver_params p = pd_solver_default_params();
    for (size_t gi = 0; gi < 2; gi++) {
        double a[S * DIM], b[S * DIM], ea, eb;
        if (flow_error(ctx, "ddim", &p, &grids[gi], 20, &ea, a) ||
            flow_error(ctx, "conjugate-ddim", &p, &grids[gi], 20, &eb, b))
            return 1;
        char what[160];
        snprintf(what, sizeof what, "conjugate-ddim with conj_lambda = 0 == ddim bitwise (%s)", grids[gi].label);
        *fails += pd_expect_true(memcmp(a, b, sizeof a) == 0, what);
        for (size_t li = 0; li < sizeof lams / sizeof lams[0]; li++) {
            p.conj_lambda = lams[li];
            if (check_order(ctx, "conjugate-ddim", &p, &grids[gi], 1.0, 0.2, fails)) return 1;
        }
        p.conj_lambda = 0.0;
        for (int N = 64; N <= 256; N *= 2) {
            double e_ddim, e_m1, e_m1_next;
            pd_solver_params q = pd_solver_default_params();
            if (flow_error(ctx, "ddim", &q, &grids[gi], N, &e_ddim, NULL)) return 1;
            q.conj_lambda = -1.0;
            if (flow_error(ctx, "conjugate-ddim", &q, &grids[gi], N, &e_m1, NULL) ||
                flow_error(ctx, "conjugate-ddim", &q, &grids[gi], 2 * N, &e_m1_next, NULL))
                return 1;
            snprintf(what, sizeof what, "%s N = %d: conj_lambda -1 error %.3e < ddim %.3e, falls to %.3e at 2N",
                     grids[gi].label, N, e_m1, e_ddim, e_m1_next);
            printf("%s\n", what);
            *fails += pd_expect_true(e_m1 < e_ddim && e_m1_next < e_m1, what);
        }
    }
    /* EDM is not VP: refused with the schedule's name */
    pd_schedule *sch = NULL;
    pd_grid *g = NULL;
    pd_model *m = NULL;
    pd_state *x = NULL;
    PD_TEST_CHECK(ctx, test_grid(ctx, PD_SCHEDULE_EDM, PD_SPACING_KARRAS, 10, &sch, &g));
    PD_TEST_CHECK(ctx, gauss_model_create(ctx, DIM, gauss_plain(MU, SD), &m));
    PD_TEST_CHECK(ctx, pd_state_create(ctx, PD_F64, PD_DEVICE_CPU, S, DIM, 0, &x));
    p.conj_lambda = 1.0;
    pd_status st = test_run(ctx, "conjugate-ddim", &p, m, g, 0, 10, x);
    *fails += pd_expect_true(st == PD_ERR_INPUT, "conjugate-ddim on edm refused");
    *fails += pd_expect_contains(pd_ctx_message(ctx), "needs a VP schedule", "message names the requirement");
    pd_state_destroy(&x);
    pd_model_destroy(&m);
    pd_grid_destroy(&g);
    pd_schedule_destroy(&sch);
    return 0;
}

int main(void)
{
    pd_ctx *ctx = pd_ctx_create();
    int fails = 0;
    if (conjugate_checks(ctx, &fails)) return 1;
    pd_ctx_destroy(&ctx);
    if (fails) fprintf(stderr, "%d check(s) failed\n", fails);
    return fails ? 1 : 0;
}
