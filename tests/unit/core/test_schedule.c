/* Schedules and grids against the reference figures of ALGORITHMS.md §1.2-1.6 (diffusers,
 * k-diffusion, DPM-Solver conventions). */
#include <math.h>

#include "pd_test.h"
#include "pintdiff/schedule.h"

static pd_ctx *ctx;

static int timesteps_equal(const pd_schedule *s, pd_spacing sp, int N, const int *want, const char *what)
{
    pd_grid *g = NULL;
    if (pd_grid_create(ctx, s, sp, N, 0, &g) != PD_OK) {
        fprintf(stderr, "FAIL: %s: %s\n", what, pd_ctx_message(ctx));
        return 1;
    }
    int bad = 0;
    for (int i = 0; i <= N; i++)
        if (pd_grid_at(g, i)->t != want[i]) bad = 1;
    if (bad) {
        fprintf(stderr, "FAIL: %s: got", what);
        for (int i = 0; i <= N; i++) fprintf(stderr, " %g", pd_grid_at(g, i)->t);
        fprintf(stderr, "\n");
    } else {
        printf("ok: %s\n", what);
    }
    pd_grid_destroy(&g);
    return bad;
}

static int discrete(void)
{
    int fails = 0;
    pd_schedule_params p = pd_schedule_defaults(PD_SCHEDULE_DDPM_LINEAR);
    pd_schedule *s = NULL;
    PD_TEST_CHECK(ctx, pd_schedule_create(ctx, &p, &s));
    double a0 = pd_schedule_alpha(s, 0), a999 = pd_schedule_alpha(s, 999);
    fails += pd_expect_near(a0 * a0, 0.9999, 1e-12, "ddpm-linear alpha_bar_0");
    fails += pd_expect_near(a999 * a999, 4.036e-5, 0.001e-5, "ddpm-linear alpha_bar_999");
    fails += pd_expect_near(pd_schedule_lambda(s, 0), 4.61, 0.01, "lambda at k = 0");
    fails += pd_expect_near(pd_schedule_lambda(s, 999), -5.06, 0.01, "lambda at k = 999");
    fails += pd_expect_near(pd_schedule_alpha(s, -1), 1.0, 0, "timestep -1 is alpha = 1");
    fails += pd_expect_near(pd_schedule_sigma(s, -1), 0.0, 0, "timestep -1 is sigma = 0");
    /* fractional index: log sigma~ linear in the index; t_of_lambda inverts lambda */
    double lm = 0.5 * (pd_schedule_lambda(s, 500) + pd_schedule_lambda(s, 501));
    fails += pd_expect_near(pd_schedule_lambda(s, 500.5), lm, 1e-12, "lambda interpolated at 500.5");
    fails += pd_expect_near(pd_schedule_t_of_lambda(s, pd_schedule_lambda(s, 321.25)), 321.25, 1e-9,
                            "t_of_lambda inverts lambda (discrete)");
    double al = pd_schedule_alpha(s, 500.5), sg = pd_schedule_sigma(s, 500.5);
    fails += pd_expect_near(al * al + sg * sg, 1.0, 1e-14, "VP identity at a fractional index");

    int leading[] = {900, 800, 700, 600, 500, 400, 300, 200, 100, 0, -1};
    int trailing[] = {999, 899, 799, 699, 599, 499, 399, 299, 199, 99, -1};
    int linspace[] = {999, 888, 777, 666, 555, 444, 333, 222, 111, 0, -1};
    int lin_dpm[] = {999, 899, 799, 699, 599, 500, 400, 300, 200, 100, -1};
    fails += timesteps_equal(s, PD_SPACING_LEADING, 10, leading, "leading N=10 (diffusers)");
    fails += timesteps_equal(s, PD_SPACING_UNIFORM, 10, leading, "uniform = leading on discrete");
    fails += timesteps_equal(s, PD_SPACING_TRAILING, 10, trailing, "trailing N=10");
    fails += timesteps_equal(s, PD_SPACING_LINSPACE, 10, linspace, "linspace N=10");
    fails += timesteps_equal(s, PD_SPACING_LINSPACE_DPM, 10, lin_dpm, "linspace-dpm N=10");

    /* numpy's rounding (linspace: step first, last point pinned), vectors from numpy 1.26:
     * round(linspace(0, 999, N))[::-1], round(linspace(0, 999, N+1))[::-1][:-1],
     * int(linspace(0, sqrt(800), N)**2)[::-1], round(arange(1000, 0, -1000/N)) - 1 */
    int lin16[] = {999, 932, 866, 799, 733, 666, 599, 533, 466, 400, 333, 266, 200, 133, 67, 0, -1};
    int dpm30[] = {999, 966, 932, 899, 866, 832, 799, 766, 733, 699, 666, 633, 599, 566, 533, 499,
                   466, 433, 400, 366, 333, 300, 266, 233, 200, 166, 133, 100, 67, 33, -1};
    int quad16[] = {800, 696, 600, 511, 430, 355, 287, 227, 174, 127, 88, 56, 31, 14, 3, 0, -1};
    int quad27[] = {800, 739, 681, 626, 572, 521, 473, 427, 383, 342, 302, 266, 231, 200, 170, 143,
                    118, 95, 75, 57, 42, 29, 18, 10, 4, 1, 0, -1};
    int trail27[] = {999, 962, 925, 888, 851, 814, 777, 740, 703, 666, 629, 592, 555, 518, 480, 443,
                     406, 369, 332, 295, 258, 221, 184, 147, 110, 73, 36, -1};
    fails += timesteps_equal(s, PD_SPACING_LINSPACE, 16, lin16, "linspace N=16 (numpy)");
    fails += timesteps_equal(s, PD_SPACING_LINSPACE_DPM, 30, dpm30, "linspace-dpm N=30 (numpy)");
    fails += timesteps_equal(s, PD_SPACING_QUADRATIC, 16, quad16, "quadratic N=16 (numpy, DDIM repo)");
    fails += timesteps_equal(s, PD_SPACING_QUADRATIC, 27, quad27, "quadratic N=27 (numpy, DDIM repo)");
    fails += timesteps_equal(s, PD_SPACING_TRAILING, 27, trail27, "trailing N=27 (numpy)");

    pd_grid *g = NULL;
    PD_TEST_CHECK(ctx, pd_grid_create(ctx, s, PD_SPACING_LEADING, 1000, 0, &g));
    fails += pd_expect_true(pd_grid_at(g, 0)->t == 999 && pd_grid_at(g, 999)->t == 0 && pd_grid_at(g, 1000)->t == -1,
                            "full grid 999 .. 0, -1");
    pd_grid_destroy(&g);
    fails += pd_expect_true(pd_grid_create(ctx, s, PD_SPACING_LEADING, 10, 1, &g) == PD_ERR_INPUT,
                            "alpha0 final point refused when the spacing ends at 0");
    pd_ctx_clear(ctx);
    PD_TEST_CHECK(ctx, pd_grid_create(ctx, s, PD_SPACING_TRAILING, 10, 1, &g));
    fails += pd_expect_true(pd_grid_at(g, 10)->t == 0, "alpha0 final point is timestep 0");
    pd_grid_destroy(&g);
    fails += pd_expect_true(pd_grid_create(ctx, s, PD_SPACING_KARRAS, 10, 0, &g) == PD_ERR_INPUT,
                            "karras refused on a discrete schedule");
    pd_ctx_clear(ctx);
    pd_schedule_destroy(&s);

    p = pd_schedule_defaults(PD_SCHEDULE_DDPM_COSINE);
    PD_TEST_CHECK(ctx, pd_schedule_create(ctx, &p, &s));
    double c999 = pd_schedule_alpha(s, 999);
    fails += pd_expect_near(c999 * c999 / 2.4e-9, 1.0, 0.05, "ddpm-cosine alpha_bar_999 ~ 2.4e-9");
    fails += pd_expect_near(pd_schedule_lambda(s, 999), -9.9, 0.05, "ddpm-cosine lambda_999");
    pd_schedule_destroy(&s);
    return fails;
}

static int continuous(void)
{
    int fails = 0;
    pd_schedule_params p = pd_schedule_defaults(PD_SCHEDULE_VP_LINEAR);
    pd_schedule *s = NULL;
    PD_TEST_CHECK(ctx, pd_schedule_create(ctx, &p, &s));
    fails += pd_expect_near(pd_schedule_sigma(s, 1e-3) / pd_schedule_alpha(s, 1e-3), 0.0105, 0.0001,
                            "vp-linear sigma~ at t_min = 1e-3");
    for (double t = 0.01; t < 1.0; t += 0.17)
        fails += pd_expect_near(pd_schedule_t_of_lambda(s, pd_schedule_lambda(s, t)), t, 1e-10,
                                "vp-linear t(lambda(t)) = t");
    pd_spacing sps[] = {PD_SPACING_UNIFORM, PD_SPACING_QUADRATIC, PD_SPACING_LOGSNR, PD_SPACING_KARRAS};
    for (int i = 0; i < 4; i++) {
        pd_grid *g = NULL;
        PD_TEST_CHECK(ctx, pd_grid_create(ctx, s, sps[i], 25, 0, &g));
        int mono = 1;
        for (int n = 0; n < 25; n++) mono &= pd_grid_at(g, n + 1)->lambda > pd_grid_at(g, n)->lambda;
        fails += pd_expect_true(mono && pd_grid_at(g, 0)->t == 1.0 && pd_grid_at(g, 25)->t == 1e-3,
                                "vp-linear grid from t_max to t_min, lambda increasing");
        if (sps[i] == PD_SPACING_LOGSNR) {
            double h0 = pd_grid_at(g, 1)->lambda - pd_grid_at(g, 0)->lambda;
            double h1 = pd_grid_at(g, 25)->lambda - pd_grid_at(g, 24)->lambda;
            fails += pd_expect_near(h1, h0, 1e-9, "logsnr: equal steps in lambda");
        }
        pd_grid_destroy(&g);
    }
    pd_schedule_destroy(&s);

    p = pd_schedule_defaults(PD_SCHEDULE_EDM);
    PD_TEST_CHECK(ctx, pd_schedule_create(ctx, &p, &s));
    pd_grid *g = NULL;
    PD_TEST_CHECK(ctx, pd_grid_create(ctx, s, PD_SPACING_KARRAS, 18, 0, &g));
    /* k-diffusion get_sigmas_karras(18, 0.002, 80): 80, 57.59, 40.79, 28.37, ..., 0.0229, 0.0075, 0.002, 0 */
    double want[] = {80, 57.59, 40.79, 28.37};
    for (int i = 0; i < 4; i++) fails += pd_expect_near(pd_grid_at(g, i)->sigma, want[i], 0.006, "karras sigma");
    fails += pd_expect_near(pd_grid_at(g, 15)->sigma, 0.0229, 0.00006, "karras sigma_15");
    fails += pd_expect_near(pd_grid_at(g, 16)->sigma, 0.0075, 0.00006, "karras sigma_16");
    fails += pd_expect_near(pd_grid_at(g, 17)->sigma, 0.002, 1e-15, "karras sigma_min");
    fails += pd_expect_true(pd_grid_at(g, 18)->sigma == 0.0 && isinf(pd_grid_at(g, 18)->lambda), "final sigma 0");
    pd_grid_point mid = pd_grid_point_at_lambda(g, 0.5 * (pd_grid_at(g, 3)->lambda + pd_grid_at(g, 4)->lambda));
    fails += pd_expect_near(mid.sigma, sqrt(pd_grid_at(g, 3)->sigma * pd_grid_at(g, 4)->sigma), 1e-12,
                            "EDM lambda midpoint = geometric mean of sigmas");
    pd_grid_destroy(&g);
    pd_schedule_destroy(&s);
    return fails;
}

/* The li schedule (docs/INTEGRATORS.md §1.6): the betas recovered from alpha_bar follow the formula, and
 * parameters without a value are refused. */
static int li(void)
{
    int fails = 0;
    pd_schedule_params p = pd_schedule_defaults(PD_SCHEDULE_LI);
    p.train_steps = 200;
    p.li_c0 = 2.0;
    p.li_c1 = 4.0;
    pd_schedule *s = NULL;
    if (pd_schedule_create(ctx, &p, &s) != PD_OK) return 1;
    const double T = 200, r = 4.0 * log(T) / T, b1 = 1.0 / (T * T);
    double abar_prev = 1.0, worst = 0.0;
    for (int k = 0; k < 200; k++) {
        double abar = pow(pd_schedule_alpha(s, k), 2), beta = 1.0 - abar / abar_prev;
        double want = k == 0 ? b1 : r * fmin(b1 * pow(1.0 + r, k), 1.0);
        worst = fmax(worst, fabs(beta - want) / want);
        abar_prev = abar;
    }
    fails += pd_expect_le(worst, 1e-9, "li betas follow beta_1 = T^-c0, beta_{t+1} = r min(beta_1 (1 + r)^t, 1)");
    fails += pd_expect_true(pd_schedule_is_discrete(s) && pd_schedule_is_vp(s), "li is discrete and VP");
    pd_schedule_destroy(&s);
    p.li_c0 = 0.0;
    fails += pd_expect_true(pd_schedule_create(ctx, &p, &s) == PD_ERR_INPUT, "li without c0 refused");
    p.li_c0 = 2.0;
    p.li_c1 = 100.0;
    fails += pd_expect_true(pd_schedule_create(ctx, &p, &s) == PD_ERR_INPUT, "li with c1 log T >= T refused");
    return fails;
}

int main(void)
{
    ctx = pd_ctx_create();
    int fails = discrete() + continuous() + li();
    pd_ctx_destroy(&ctx);
    printf("%s\n", fails ? "test_schedule: FAILED" : "test_schedule: all passed");
    return fails != 0;
}
