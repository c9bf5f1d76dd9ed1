/* Model files (src/io/model_file.c): GMM and data-set round trips through HDF5, the shipped
 * configs/data files, and bad files: each is PD_ERR_INPUT naming the file and the dataset. */
#include <hdf5.h>
#include <unistd.h>

#include "io/model_file.h"
#include "model_test.h"

static pd_ctx *ctx;

/* ----- writing test files ----- */

typedef struct {
    const char *name;
    int rank;
    hsize_t dims[5];
    const double *data;
    hid_t type;
} ds_spec;

static int write_file(const char *path, const ds_spec *ds, int n, const int64_t *shape_attr, int shape_n)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return 1;
    for (int i = 0; i < n; i++) {
        hid_t sp = H5Screate_simple(ds[i].rank, ds[i].dims, NULL);
        hid_t d = H5Dcreate2(f, ds[i].name, ds[i].type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds[i].data);
        H5Dclose(d);
        H5Sclose(sp);
    }
    if (shape_n) {
        hsize_t n1[1] = {(hsize_t)shape_n};
        hid_t sp = H5Screate_simple(1, n1, NULL);
        hid_t a = H5Acreate2(f, "shape", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT64, shape_attr);
        H5Aclose(a);
        H5Sclose(sp);
    }
    H5Fclose(f);
    return 0;
}

static const double w3[3] = {1, 2, 1};
static const double mu32[6] = {0, 1, 2, 3, -1, -2};
static const double v3[3] = {0.5, 0.25, 1.0};
static const double v32[6] = {0.5, 0.1, 0.25, 0.2, 1.0, 0.3};

/* ----- round trips ----- */

static int gmm_round_trip(void)
{
    int fails = 0;
    const char *path = "test_model_file_gmm.h5";
    const int64_t shp[1] = {2}, shp22[2] = {2, 2};
    pd_model *a = NULL, *b = NULL;
    /* [K, d] means with a shape attribute, diagonal variances */
    ds_spec ds[3] = {{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
                     {"/means", 2, {3, 2}, mu32, H5T_IEEE_F32LE},
                     {"/variances", 2, {3, 2}, v32, H5T_IEEE_F64LE}};
    if (write_file(path, ds, 3, shp, 1)) return pd_expect_true(0, "write test file");
    PD_TEST_CHECK(ctx, pd_model_load_gmm_file(ctx, path, &a));
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 3, 1, shp, w3, mu32, v32, 1, &b));
    fails += pd_expect_true(pd_model_dim(a) == 2 && pd_model_ndim(a) == 1, "gmm file: d = 2, shape [2]");
    /* the two models agree exactly (means stored as float32 hold these values exactly) */
    const pd_grid_point p = mt_point(0.4);
    double x[8], ya[8], yb[8], la[4], lb[4], worst = 0;
    for (int i = 0; i < 8; i++)
        x[i] = mt_normal(3, (uint64_t)i);
    pd_state *xs = mt_state(ctx, PD_F64, 4, 2, x), *oa = mt_state(ctx, PD_F64, 4, 2, NULL),
             *ob = mt_state(ctx, PD_F64, 4, 2, NULL);
    if (!xs || !oa || !ob) return 1;
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, a, xs, &p, oa));
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, b, xs, &p, ob));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, oa, ya));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, ob, yb));
    PD_TEST_CHECK(ctx, pd_model_log_density(ctx, a, xs, &p, la));
    PD_TEST_CHECK(ctx, pd_model_log_density(ctx, b, xs, &p, lb));
    for (int i = 0; i < 8; i++)
        worst = fmax(worst, fabs(ya[i] - yb[i]));
    for (int i = 0; i < 4; i++)
        worst = fmax(worst, fabs(la[i] - lb[i]));
    fails += pd_expect_le(worst, 0.0, "gmm file round trip: x0_hat and log density identical");
    pd_model_destroy(&a);

    /* [K, *shape] means and variances, no attribute: shape [2, 2] from the dataset */
    double mu34[12], v34[12];
    for (int i = 0; i < 12; i++)
        mu34[i] = i * 0.5 - 3, v34[i] = 0.1 + 0.05 * i;
    ds_spec ds2[3] = {{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
                      {"/means", 3, {3, 2, 2}, mu34, H5T_IEEE_F64LE},
                      {"/variances", 3, {3, 2, 2}, v34, H5T_IEEE_F64LE}};
    if (write_file(path, ds2, 3, NULL, 0)) return 1;
    PD_TEST_CHECK(ctx, pd_model_load_gmm_file(ctx, path, &a));
    fails += pd_expect_true(pd_model_ndim(a) == 2 && pd_model_shape(a)[0] == 2 && pd_model_shape(a)[1] == 2,
                            "gmm file: shape [2, 2] from /means [3, 2, 2]");
    double mean[4], mean_b[4];
    PD_TEST_CHECK(ctx, pd_model_gmm_moments(ctx, a, mean, NULL));
    pd_model_destroy(&b);
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 3, 2, shp22, w3, mu34, v34, 1, &b));
    PD_TEST_CHECK(ctx, pd_model_gmm_moments(ctx, b, mean_b, NULL));
    fails += pd_expect_true(!memcmp(mean, mean_b, sizeof mean), "gmm file [K, *shape]: same moments");
    pd_model_destroy(&a);

    /* isotropic /variances [K] */
    ds_spec ds3[3] = {{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
                      {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE},
                      {"/variances", 1, {3}, v3, H5T_IEEE_F64LE}};
    if (write_file(path, ds3, 3, NULL, 0)) return 1;
    PD_TEST_CHECK(ctx, pd_model_load_gmm_file(ctx, path, &a));
    pd_model_destroy(&b);
    PD_TEST_CHECK(ctx, pd_model_gmm_create(ctx, 3, 1, shp, w3, mu32, v3, 0, &b));
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, a, xs, &p, oa));
    PD_TEST_CHECK(ctx, pd_model_eval(ctx, b, xs, &p, ob));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, oa, ya));
    PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, ob, yb));
    fails += pd_expect_true(!memcmp(ya, yb, sizeof ya), "gmm file, isotropic variances: identical x0_hat");
    pd_model_destroy(&a);
    pd_model_destroy(&b);
    pd_state_destroy(&xs);
    pd_state_destroy(&oa);
    pd_state_destroy(&ob);
    unlink(path);
    return fails;
}

static int dataset_round_trip(void)
{
    int fails = 0;
    const char *path = "test_model_file_data.h5";
    double rows[5 * 6];
    for (int i = 0; i < 30; i++)
        rows[i] = (i % 7) * 0.25 - 0.5; /* exact in float32 */
    for (int t = 0; t < 2; t++) {
        ds_spec ds[1] = {{"/data", 4, {5, 1, 2, 3}, rows, t ? H5T_IEEE_F32LE : H5T_IEEE_F64LE}};
        pd_model *m = NULL;
        if (write_file(path, ds, 1, NULL, 0)) return 1;
        PD_TEST_CHECK(ctx, pd_model_load_dataset_file(ctx, path, &m));
        fails += pd_expect_true(pd_model_ndim(m) == 3 && pd_model_dim(m) == 6 && pd_model_shape(m)[2] == 3,
                                t ? "float32 /data [5, 1, 2, 3]: shape [1, 2, 3]"
                                  : "float64 /data [5, 1, 2, 3]: shape [1, 2, 3]");
        /* at tiny sigma, a row maps to itself */
        const pd_grid_point p = {.t = 0, .alpha = 1, .sigma = 1e-3, .lambda = log(1e3)};
        pd_state *xs = mt_state(ctx, PD_F64, 5, 6, rows), *os = mt_state(ctx, PD_F64, 5, 6, NULL);
        double y[30];
        if (!xs || !os) return 1;
        PD_TEST_CHECK(ctx, pd_model_eval(ctx, m, xs, &p, os));
        PD_TEST_CHECK(ctx, pd_state_read_f64(ctx, os, y));
        double worst = 0;
        for (int i = 0; i < 30; i++)
            worst = fmax(worst, fabs(y[i] - rows[i]));
        fails += pd_expect_le(worst, 1e-12, "data file rows come back as the denoised rows");
        pd_state_destroy(&xs);
        pd_state_destroy(&os);
        pd_model_destroy(&m);
    }
    unlink(path);
    return fails;
}

/* ----- the shipped files ----- */

static int shipped(void)
{
    int fails = 0;
    const char *dir = getenv("PD_TEST_DATA");
    char path[4096];
    pd_model *m = NULL;
    if (!dir) return pd_expect_true(0, "PD_TEST_DATA is set (by pd_add_test)");
    snprintf(path, sizeof path, "%s/ring8.h5", dir);
    PD_TEST_CHECK(ctx, pd_model_load_gmm_file(ctx, path, &m));
    double mean[2], cov[4];
    PD_TEST_CHECK(ctx, pd_model_gmm_moments(ctx, m, mean, cov));
    fails += pd_expect_true(pd_model_dim(m) == 2, "ring8: d = 2");
    fails += pd_expect_le(fabs(mean[0]) + fabs(mean[1]), 1e-15, "ring8: mean 0");
    /* cov = 0.09 I + (1/8) sum 16 (cos, sin)(cos, sin)^T = (0.09 + 8) I */
    fails += pd_expect_near(cov[0], 8.09, 1e-13, "ring8: variance 0.3^2 + 4^2 / 2");
    fails += pd_expect_near(cov[1], 0.0, 1e-13, "ring8: no correlation");
    pd_model_destroy(&m);

    snprintf(path, sizeof path, "%s/digits.h5", dir);
    PD_TEST_CHECK(ctx, pd_model_load_dataset_file(ctx, path, &m));
    fails += pd_expect_true(pd_model_ndim(m) == 3 && pd_model_shape(m)[0] == 1 && pd_model_shape(m)[1] == 8 &&
                                pd_model_shape(m)[2] == 8,
                            "digits: shape [1, 8, 8]");
    pd_state *s = mt_state(ctx, PD_F64, 1797, 64, NULL);
    if (!s) return 1;
    /* 1797 draws cover the rows; values are v/8 - 1 for v in 0..16 */
    PD_TEST_CHECK(ctx, pd_model_sample_exact(ctx, m, 1, s));
    const double *v = pd_state_cdata(s);
    int bad = 0;
    for (int i = 0; i < 1797 * 64; i++) {
        const double q = (v[i] + 1) * 8;
        bad += !(q >= 0 && q <= 16 && q == floor(q));
    }
    fails += pd_expect_true(bad == 0, "digits: every value is v/8 - 1 with v in 0..16");
    pd_state_destroy(&s);
    pd_model_destroy(&m);

    /* the benchmark mixture, when shipped: its parameters follow the recipe of docs/DATA.md */
    snprintf(path, sizeof path, "%s/gmm3072.h5", dir);
    if (access(path, R_OK) != 0) {
        printf("info: %s not present, not checked\n", path);
        return fails;
    }
    PD_TEST_CHECK(ctx, pd_model_load_gmm_file(ctx, path, &m));
    int K, diag;
    const double *w, *mu, *var;
    PD_TEST_CHECK(ctx, pd_model_gmm_params(m, &K, &w, &mu, &var, &diag));
    fails += pd_expect_true(K == 10 && pd_model_dim(m) == 3072 && pd_model_ndim(m) == 3 &&
                                pd_model_shape(m)[0] == 3 && pd_model_shape(m)[2] == 32,
                            "gmm3072: K = 10, shape [3, 32, 32]");
    double worst = 0, wsum = 0;
    for (int k = 0; k < K; k++)
        wsum += 0.5 + pd_rng_uniform(20240611, (uint32_t)k, 0, 2, 0);
    for (int k = 0; k < K; k++) {
        worst = fmax(worst, fabs(w[k] - (0.5 + pd_rng_uniform(20240611, (uint32_t)k, 0, 2, 0)) / wsum));
        for (int i = 0; i < 3072; i += 101) {
            const double sd = 0.05 + 0.25 * pd_rng_uniform(20240611, (uint32_t)k, 0, 1, (uint64_t)i);
            worst = fmax(worst, fabs(mu[k * 3072 + i] - (-0.8 + 1.6 * pd_rng_uniform(20240611, (uint32_t)k, 0,
                                                                                     0, (uint64_t)i))));
            worst = fmax(worst, fabs(var[k * 3072 + i] - sd * sd));
        }
    }
    fails += pd_expect_le(worst, 1e-15, "gmm3072: parameters = the Philox recipe of docs/DATA.md");
    pd_model_destroy(&m);
    return fails;
}

/* ----- bad files ----- */

static int expect_bad(pd_status st, const char *path, const char *needle1, const char *needle2,
                      const char *what)
{
    int fails = pd_expect_true(st == PD_ERR_INPUT, what);
    fails += pd_expect_contains(pd_ctx_message(ctx), path, what);
    fails += pd_expect_contains(pd_ctx_message(ctx), needle1, what);
    if (needle2) fails += pd_expect_contains(pd_ctx_message(ctx), needle2, what);
    if (!fails) printf("ok: %s: \"%s\"\n", what, pd_ctx_message(ctx));
    pd_ctx_clear(ctx);
    return fails;
}

static int bad_files(void)
{
    int fails = 0;
    const char *path = "test_model_file_bad.h5";
    pd_model *m = NULL;
    const double mu42[8] = {0, 1, 2, 3, 4, 5, 6, 7}, wneg[3] = {1, -1, 1}, vneg[3] = {1, -1, 1};
    const double nanrow[6] = {0, 1, NAN, 3, 4, 5};

    fails += expect_bad(pd_model_load_gmm_file(ctx, "no/such/file.h5", &m), "no/such/file.h5", "No such file",
                        NULL, "non-existent path");
    {
        FILE *t = fopen(path, "w");
        if (!t) return 1;
        fputs("not hdf5\n", t);
        fclose(t);
    }
    fails +=
        expect_bad(pd_model_load_dataset_file(ctx, path, &m), path, "not an HDF5 file", NULL, "a text file");
    struct {
        ds_spec ds[3];
        int n;
        const char *n1, *n2, *what;
    } cases[] = {
        {{{"/weights", 1, {3}, w3, H5T_IEEE_F64LE}, {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE}},
         2,
         "/variances",
         "missing",
         "missing /variances"},
        {{{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
          {"/means", 1, {3}, mu32, H5T_IEEE_F64LE},
          {"/variances", 1, {3}, v3, H5T_IEEE_F64LE}},
         3,
         "/means: expected 2 dimensions [K, d] with K = 3 (from /weights), got [3]",
         NULL,
         "/means of rank 1"},
        {{{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
          {"/means", 2, {4, 2}, mu42, H5T_IEEE_F64LE},
          {"/variances", 1, {3}, v3, H5T_IEEE_F64LE}},
         3,
         "/means",
         "K = 3 (from /weights), got [4, 2]",
         "K mismatch of /means"},
        {{{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
          {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE},
          {"/variances", 1, {4}, mu42, H5T_IEEE_F64LE}},
         3,
         "/variances",
         "[K] = [3]",
         "K mismatch of /variances"},
        {{{"/weights", 2, {3, 1}, w3, H5T_IEEE_F64LE},
          {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE},
          {"/variances", 1, {3}, v3, H5T_IEEE_F64LE}},
         3,
         "/weights",
         "expected 1 dimension [K]",
         "/weights of rank 2"},
        {{{"/weights", 1, {3}, wneg, H5T_IEEE_F64LE},
          {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE},
          {"/variances", 1, {3}, v3, H5T_IEEE_F64LE}},
         3,
         "/weights",
         "weight 1 is -1",
         "negative weight"},
        {{{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
          {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE},
          {"/variances", 1, {3}, vneg, H5T_IEEE_F64LE}},
         3,
         "/variances",
         "expected >= 0",
         "negative variance"},
        {{{"/weights", 1, {3}, w3, H5T_STD_I32LE},
          {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE},
          {"/variances", 1, {3}, v3, H5T_IEEE_F64LE}},
         3,
         "/weights",
         "floating-point",
         "integer /weights"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (write_file(path, cases[i].ds, cases[i].n, NULL, 0)) return 1;
        fails +=
            expect_bad(pd_model_load_gmm_file(ctx, path, &m), path, cases[i].n1, cases[i].n2, cases[i].what);
    }
    /* the shape attribute must match d */
    {
        const int64_t shp[2] = {3, 1};
        ds_spec ds[3] = {{"/weights", 1, {3}, w3, H5T_IEEE_F64LE},
                         {"/means", 2, {3, 2}, mu32, H5T_IEEE_F64LE},
                         {"/variances", 1, {3}, v3, H5T_IEEE_F64LE}};
        if (write_file(path, ds, 3, shp, 2)) return 1;
        fails += expect_bad(pd_model_load_gmm_file(ctx, path, &m), path, "attribute shape", "d = 2",
                            "shape attribute with the wrong product");
    }
    /* data files */
    {
        ds_spec r1[1] = {{"/data", 1, {6}, nanrow, H5T_IEEE_F64LE}};
        if (write_file(path, r1, 1, NULL, 0)) return 1;
        fails += expect_bad(pd_model_load_dataset_file(ctx, path, &m), path, "/data", "[M, *shape]",
                            "/data of rank 1");
        ds_spec r2[1] = {{"/data", 2, {3, 2}, nanrow, H5T_IEEE_F64LE}};
        if (write_file(path, r2, 1, NULL, 0)) return 1;
        fails +=
            expect_bad(pd_model_load_dataset_file(ctx, path, &m), path, "/data", "finite", "NaN in /data");
        ds_spec r3[1] = {{"/rows", 2, {3, 2}, mu32, H5T_IEEE_F64LE}};
        if (write_file(path, r3, 1, NULL, 0)) return 1;
        fails +=
            expect_bad(pd_model_load_dataset_file(ctx, path, &m), path, "/data: missing", NULL, "no /data");
        ds_spec r4[1] = {{"/data", 2, {3, 2}, mu32, H5T_STD_U8LE}};
        if (write_file(path, r4, 1, NULL, 0)) return 1;
        fails += expect_bad(pd_model_load_dataset_file(ctx, path, &m), path, "/data", "floating-point",
                            "uint8 /data");
    }
    fails += pd_expect_true(m == NULL, "no model comes out of a bad file");
    unlink(path);
    return fails;
}

int main(void)
{
    int fails = 0;
    H5E_auto2_t f0, f1;
    void *d0, *d1;
    ctx = pd_ctx_create();
    if (!ctx) return 1;
    H5open();
    H5Eget_auto2(H5E_DEFAULT, &f0, &d0);
    fails += gmm_round_trip();
    fails += dataset_round_trip();
    fails += shipped();
    fails += bad_files();
    H5Eget_auto2(H5E_DEFAULT, &f1, &d1);
    fails += pd_expect_true(f0 != NULL && f1 == f0 && d1 == d0,
                            "HDF5's error printing is restored after every read");
    pd_ctx_destroy(&ctx);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "passed", fails);
    return fails != 0;
}
