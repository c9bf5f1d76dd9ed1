/* The pd_model wrapper: registration errors name the missing entry and release self, the NFE
 * counter, shape checks, NULL-safe destroy; argument checks of the built-in constructors. */
#include "model_test.h"

static pd_ctx *ctx;
static int destroyed; /* calls of fake_destroy */

static pd_status fake_eval(void *self, pd_ctx *c, const pd_state *x, int n_groups, const pd_grid_point *p,
                           pd_state *out)
{
    (void)self;
    (void)n_groups;
    (void)p;
    return pd_state_copy(c, out, x);
}
static void fake_destroy(void *self)
{
    destroyed++;
    free(self);
}

static int registration(void)
{
    int fails = 0;
    const int64_t shape[1] = {3};
    pd_model *m = NULL;
    struct {
        pd_model_ops ops;
        const char *missing;
    } cases[] = {
        {{.name = "fake", .destroy = fake_destroy}, "'eval'"},
        {{.name = "fake", .eval = fake_eval}, "'destroy'"},
        {{.name = NULL, .eval = fake_eval, .destroy = fake_destroy}, "'name'"},
        {{.name = "", .eval = fake_eval, .destroy = fake_destroy}, "'name'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        void *self = malloc(8);
        int before = destroyed;
        pd_status st = pd_model_create(ctx, &cases[i].ops, self, 1, shape, &m);
        fails += pd_expect_true(st == PD_ERR_INPUT && m == NULL, "incomplete ops table is PD_ERR_INPUT");
        fails += pd_expect_contains(pd_ctx_message(ctx), cases[i].missing, "message names the missing entry");
        if (cases[i].ops.destroy)
            fails += pd_expect_true(destroyed == before + 1, "self released on failure");
        else
            free(self); /* nobody can release it without destroy */
        pd_ctx_clear(ctx);
    }
    /* bad shapes: self is still released */
    pd_model_ops ok = {.name = "fake", .eval = fake_eval, .destroy = fake_destroy};
    const int64_t zero[2] = {2, 0};
    int before = destroyed;
    fails += pd_expect_true(pd_model_create(ctx, &ok, malloc(8), 2, zero, &m) == PD_ERR_INPUT,
                            "shape entry 0 rejected");
    fails += pd_expect_contains(pd_ctx_message(ctx), "shape entry 1", "message names the entry");
    pd_ctx_clear(ctx);
    fails += pd_expect_true(pd_model_create(ctx, &ok, malloc(8), 5, shape, &m) == PD_ERR_INPUT,
                            "5-D shape rejected");
    pd_ctx_clear(ctx);
    fails += pd_expect_true(destroyed == before + 2, "self released on shape errors");
    return fails;
}

static int counting(void)
{
    int fails = 0;
    const int64_t shape[2] = {2, 3};
    pd_model *m = NULL;
    pd_model_ops ok = {.name = "fake", .eval = fake_eval, .destroy = fake_destroy};
    pd_state *x = NULL, *y = NULL, *wrong = NULL, *short_out = NULL;
    pd_grid_point p = mt_point(0.5);
    int before = destroyed;
    PD_TEST_CHECK(ctx, pd_model_create(ctx, &ok, malloc(8), 2, shape, &m));
    fails += pd_expect_true(pd_model_dim(m) == 6 && pd_model_ndim(m) == 2 && pd_model_shape(m)[1] == 3,
                            "dim 6 from shape [2, 3]");
    fails += pd_expect_true(!strcmp(pd_model_name(m), "fake"), "name");
    fails += pd_expect_true(!pd_model_has_exact(m) && !pd_model_has_log_density(m), "no optional entries");
    x = mt_state(ctx, PD_F64, 4, 6, NULL);
    y = mt_state(ctx, PD_F32, 4, 6, NULL);
    wrong = mt_state(ctx, PD_F64, 4, 5, NULL);
    short_out = mt_state(ctx, PD_F64, 3, 6, NULL);
    if (!x || !y || !wrong || !short_out) return 1;
    for (int i = 0; i < 3; i++)
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, x, &p, y));
    fails += pd_expect_true(pd_model_nfe(m) == 3, "3 calls = 3 NFE, whatever the batch");
    PD_TEST_CHECK(ctx, pd_model_reserve(ctx, m, 100)); /* no reserve entry: fine */
    fails += pd_expect_true(pd_model_eval(ctx, m, wrong, &p, wrong) == PD_ERR_INPUT, "wrong dim rejected");
    fails += pd_expect_contains(pd_ctx_message(ctx), "5 elements per sample", "message gives the sizes");
    pd_ctx_clear(ctx);
    fails += pd_expect_true(pd_model_eval(ctx, m, x, &p, short_out) == PD_ERR_INPUT, "short output rejected");
    pd_ctx_clear(ctx);
    fails += pd_expect_true(pd_model_nfe(m) == 3, "rejected calls are not counted");
    fails += pd_expect_true(pd_model_sample_exact(ctx, m, 1, x) == PD_ERR_INPUT, "no exact samples");
    fails += pd_expect_contains(pd_ctx_message(ctx), "no exact samples", "message says so");
    pd_ctx_clear(ctx);
    double ld[4];
    fails += pd_expect_true(pd_model_log_density(ctx, m, x, &p, ld) == PD_ERR_INPUT, "no log density");
    pd_ctx_clear(ctx);
    double mean[6];
    fails += pd_expect_true(pd_model_gmm_moments(ctx, m, mean, NULL) == PD_ERR_INPUT, "moments of a non-gmm");
    pd_ctx_clear(ctx);
    pd_model_reset_nfe(m);
    fails += pd_expect_true(pd_model_nfe(m) == 0, "reset");
    pd_model_destroy(&m);
    fails += pd_expect_true(m == NULL && destroyed == before + 1, "destroy releases self once, leaves NULL");
    pd_model_destroy(&m);
    pd_model_destroy(NULL);
    pd_state_destroy(&x);
    pd_state_destroy(&y);
    pd_state_destroy(&wrong);
    pd_state_destroy(&short_out);
    return fails;
}

static int constructor_checks(void)
{
    int fails = 0;
    pd_model *m = NULL;
    const int64_t shape[1] = {2};
    const double mu[4] = {0, 0, 1, 1}, v[2] = {1, 1}, vneg[2] = {1, -1};
    const double w_neg[2] = {1, -0.5}, w_zero[2] = {0, 0}, w_ok[2] = {1, 3}, w_nan[2] = {NAN, 1};
    struct {
        const double *w, *v;
        const char *needle;
    } bad[] = {
        {w_neg, v, "weight 1"}, {w_zero, v, "sum"}, {w_nan, v, "weight 0"}, {w_ok, vneg, "variance 1"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fails += pd_expect_true(
            pd_model_gmm_create(ctx, 2, 1, shape, bad[i].w, mu, bad[i].v, 0, &m) == PD_ERR_INPUT && m == NULL,
            "bad gmm parameters rejected");
        fails += pd_expect_contains(pd_ctx_message(ctx), bad[i].needle, "message names the parameter");
        pd_ctx_clear(ctx);
    }
    fails += pd_expect_true(pd_model_gmm_create(ctx, 0, 1, shape, w_ok, mu, v, 0, &m) == PD_ERR_INPUT,
                            "0 components rejected");
    pd_ctx_clear(ctx);
    fails += pd_expect_true(pd_model_dataset_create(ctx, 0, 1, shape, mu, &m) == PD_ERR_INPUT,
                            "empty data set rejected");
    pd_ctx_clear(ctx);
    const double rows_nan[4] = {0, 1, INFINITY, 2};
    fails += pd_expect_true(pd_model_dataset_create(ctx, 2, 1, shape, rows_nan, &m) == PD_ERR_INPUT,
                            "non-finite data rejected");
    fails += pd_expect_contains(pd_ctx_message(ctx), "row 1 element 0", "message names the element");
    pd_ctx_clear(ctx);
    /* a gmm is a gmm: moments of weights 1:3 */
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 2, 1, shape, w_ok, mu, v, 0, &m));
    double mean[2], cov[4];
    PD_TEST_CHECK(ctx, pd_model_gmm_moments(ctx, m, mean, cov));
    fails += pd_expect_near(mean[0], 0.75, 1e-15, "gmm mean = sum w mu");
    /* cov = I + sum w (mu - m)(mu - m)^T = I + 0.1875 [[1, 1], [1, 1]] */
    fails += pd_expect_near(cov[0], 1.1875, 1e-15, "gmm cov diagonal");
    fails += pd_expect_near(cov[1], 0.1875, 1e-15, "gmm cov off-diagonal");
    fails += pd_expect_true(pd_model_has_exact(m) && pd_model_has_log_density(m), "gmm has ground truth");
    /* sigma = 0 is fine for positive variances, not for a point mass */
    pd_grid_point p0 = {.t = -1, .alpha = 1, .sigma = 0, .lambda = INFINITY};
    pd_state *x = mt_state(ctx, PD_F64, 1, 2, mu + 2), *o = mt_state(ctx, PD_F64, 1, 2, NULL);
    if (!x || !o) return 1;
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, x, &p0, o));
    fails += pd_expect_near(((const double *)pd_state_cdata(o))[0], 1.0, 1e-15, "x0_hat = x at sigma 0");
    pd_model_destroy(&m);
    const double v0[2] = {0, 1};
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 2, 1, shape, w_ok, mu, v0, 0, &m));
    fails +=
        pd_expect_true(pd_model_eval(ctx, m, x, &p0, o) == PD_ERR_INPUT, "point mass at sigma 0 rejected");
    fails += pd_expect_contains(pd_ctx_message(ctx), "sigma = 0", "message says why");
    pd_ctx_clear(ctx);
    pd_model_destroy(&m);
    PD_TEST_CHECK(ctx, pd_model_dataset_create(ctx, 2, 1, shape, mu, &m));
    fails += pd_expect_true(pd_model_eval(ctx, m, x, &p0, o) == PD_ERR_INPUT, "dataset at sigma 0 rejected");
    pd_ctx_clear(ctx);
    pd_model_destroy(&m);
    pd_state_destroy(&x);
    pd_state_destroy(&o);
    return fails;
}

int main(void)
{
    int fails = 0;
    ctx = pd_ctx_create();
    if (!ctx) return 1;
    fails += registration();
    fails += counting();
    fails += constructor_checks();
    pd_ctx_destroy(&ctx);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "passed", fails);
    return fails != 0;
}
