/* pd-mkdata: makes the data files pintdiff ships or benchmarks with (docs/DATA.md).
 *
 *   pd-mkdata digits IN.csv.gz OUT.h5   UCI digits (64 pixel values 0..16 then the label, one image a
 *                                       row) -> /data float32 [M, 1, 8, 8] with x = v/8 - 1,
 *                                       /labels int32 [M]
 *   pd-mkdata ring8 OUT.h5              8-component 2-D GMM: uniform weights, means on the circle of
 *                                       radius 4 at angles 2 pi k / 8, isotropic variance 0.3^2
 *   pd-mkdata gmm3072 OUT.h5            10-component diagonal GMM in 3072 dimensions (shape
 *                                       [3, 32, 32]), parameters from Philox4x32-10 with a fixed key
 *
 * Files are written to OUT.h5.tmp and renamed when complete. Exit status: 0 done, 2 bad input
 * (arguments, CSV content), 1 anything else. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>
#include <hdf5.h>
#include <zlib.h>

#define MK_PI 3.14159265358979323846
#define MK_GMM3072_SEED UINT64_C(20240611)
#define MK_GMM3072_K 10

static const char *mk_prog = "pd-mkdata";

static int mk_usage(void)
{
    fprintf(stderr,
            "usage: %s digits IN.csv.gz OUT.h5\n"
            "       %s ring8 OUT.h5\n"
            "       %s gmm3072 OUT.h5\n",
            mk_prog, mk_prog, mk_prog);
    return 2;
}

/* ----- HDF5 writing helpers: return 0 on success, print and return 1 on failure ----- */

static int mk_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t ty = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), at;
    int bad;
    H5Tset_size(ty, strlen(value) + 1);
    H5Tset_strpad(ty, H5T_STR_NULLTERM);
    H5Tset_cset(ty, H5T_CSET_UTF8);
    at = H5Acreate2(obj, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    bad = at < 0 || H5Awrite(at, ty, value) < 0;
    if (at >= 0) H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(ty);
    if (bad) fprintf(stderr, "%s: cannot write attribute %s\n", mk_prog, name);
    return bad;
}

static int mk_attr_num(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, int n, const void *value)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL), at;
    int bad;
    at = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    bad = at < 0 || H5Awrite(at, mem_type, value) < 0;
    if (at >= 0) H5Aclose(at);
    H5Sclose(sp);
    if (bad) fprintf(stderr, "%s: cannot write attribute %s\n", mk_prog, name);
    return bad;
}

/* Dataset `name` of the given rank, compressed (shuffle + deflate, one chunk) when compress != 0
 * and the deflate filter is there. */
static int mk_write(hid_t file, const char *name, hid_t file_type, hid_t mem_type, int rank,
                    const hsize_t *dims, const void *data, int compress)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), ds;
    int bad;
    H5Pset_obj_track_times(dcpl, 0); /* no time stamps: the same input gives the same bytes */
    if (compress && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
        H5Pset_chunk(dcpl, rank, dims);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 9);
    }
    ds = H5Dcreate2(file, name, file_type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    bad = ds < 0 || H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (bad) fprintf(stderr, "%s: cannot write dataset %s\n", mk_prog, name);
    return bad;
}

static hid_t mk_create(const char *tmp)
{
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) fprintf(stderr, "%s: cannot create %s\n", mk_prog, tmp);
    return f;
}

/* Close the file and move tmp to out (bad = 0), or remove tmp (bad != 0). Returns the exit code. */
static int mk_finish(hid_t f, const char *tmp, const char *out, int bad)
{
    if (f >= 0 && H5Fclose(f) < 0) bad = 1;
    if (!bad && rename(tmp, out) != 0) {
        fprintf(stderr, "%s: cannot rename %s to %s: %s\n", mk_prog, tmp, out, strerror(errno));
        bad = 1;
    }
    if (bad)
        remove(tmp);
    else
        printf("%s: wrote %s\n", mk_prog, out);
    return bad ? 1 : 0;
}

static int mk_gmm_common(hid_t f, int K, int64_t d, const double *w, const double *mu, const double *var,
                         int diag, int ndim, const int64_t *shape)
{
    hsize_t kd[2] = {(hsize_t)K, (hsize_t)d}, k1[1] = {(hsize_t)K};
    int bad = 0;
    bad |= mk_write(f, "/weights", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, k1, w, 0);
    bad |= mk_write(f, "/means", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, kd, mu, 0);
    bad |= mk_write(f, "/variances", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, diag ? 2 : 1, diag ? kd : k1, var, 0);
    bad |= mk_attr_num(f, "shape", H5T_STD_I64LE, H5T_NATIVE_INT64, ndim, shape);
    return bad;
}

/* ----- digits ----- */

static int mk_digits(const char *in, const char *out, const char *tmp)
{
    gzFile gz = gzopen(in, "rb");
    char line[4096];
    size_t cap = 2048, m = 0;
    float *x = NULL;
    int32_t *lab = NULL;
    int rc = 2, lineno = 0;
    hid_t f = H5I_INVALID_HID;

    if (!gz) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", mk_prog, in, strerror(errno));
        return 2;
    }
    x = malloc(cap * 64 * sizeof *x);
    lab = malloc(cap * sizeof *lab);
    if (!x || !lab) {
        fprintf(stderr, "%s: out of memory\n", mk_prog);
        rc = 1;
        goto done;
    }
    while (gzgets(gz, line, sizeof line)) {
        const char *p = line;
        long v[65];
        int n = 0;
        lineno++;
        if (line[0] == '\n' || line[0] == '\0') continue;
        while (n < 65) {
            char *end;
            errno = 0;
            v[n] = strtol(p, &end, 10);
            if (end == p || errno) break;
            n++;
            p = end;
            while (*p == ' ')
                p++;
            if (*p == ',') p++;
        }
        while (*p == ' ' || *p == '\r' || *p == '\n')
            p++;
        if (n != 65 || *p) {
            fprintf(stderr, "%s: %s:%d: expected 64 pixel values and a label, separated by commas\n", mk_prog,
                    in, lineno);
            goto done;
        }
        for (int j = 0; j < 64; j++)
            if (v[j] < 0 || v[j] > 16) {
                fprintf(stderr, "%s: %s:%d: pixel %d is %ld, expected 0..16\n", mk_prog, in, lineno, j, v[j]);
                goto done;
            }
        if (v[64] < 0 || v[64] > 9) {
            fprintf(stderr, "%s: %s:%d: label is %ld, expected 0..9\n", mk_prog, in, lineno, v[64]);
            goto done;
        }
        if (m == cap) {
            float *x2;
            int32_t *l2;
            cap *= 2;
            x2 = realloc(x, cap * 64 * sizeof *x);
            if (x2) x = x2;
            l2 = realloc(lab, cap * sizeof *lab);
            if (l2) lab = l2;
            if (!x2 || !l2) {
                fprintf(stderr, "%s: out of memory\n", mk_prog);
                rc = 1;
                goto done;
            }
        }
        for (int j = 0; j < 64; j++)
            x[m * 64 + (size_t)j] = (float)((double)v[j] / 8.0 - 1.0);
        lab[m] = (int32_t)v[64];
        m++;
    }
    if (!gzeof(gz)) {
        int e;
        fprintf(stderr, "%s: %s: read error: %s\n", mk_prog, in, gzerror(gz, &e));
        goto done;
    }
    if (m == 0) {
        fprintf(stderr, "%s: %s: no rows\n", mk_prog, in);
        goto done;
    }
    {
        hsize_t dims[4] = {(hsize_t)m, 1, 8, 8}, ldims[1] = {(hsize_t)m};
        const int64_t shape[3] = {1, 8, 8};
        int bad = 0;
        f = mk_create(tmp);
        if (f < 0) {
            rc = 1;
            goto done;
        }
        bad |= mk_write(f, "/data", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, dims, x, 1);
        bad |= mk_write(f, "/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, ldims, lab, 1);
        bad |= mk_attr_str(f, "description",
                           "Hand-written digits, 8x8 pixels, one channel: the data set of the exact "
                           "dataset denoiser (ALGORITHMS.md 2.3). /data [M, 1, 8, 8] float32 with "
                           "x = v/8 - 1 for pixel value v in 0..16 (so x in [-1, 1]); /labels [M] int32 "
                           "class 0..9.");
        bad |= mk_attr_str(f, "source",
                           "UCI Optical Recognition of Handwritten Digits, test set (E. Alpaydin, "
                           "C. Kaynak, 1998; CC BY 4.0), as shipped in Debian's python3-sklearn "
                           "(digits.csv.gz); converted by pd-mkdata digits");
        bad |= mk_attr_str(f, "transform", "x = v / 8 - 1");
        bad |= mk_attr_num(f, "shape", H5T_STD_I64LE, H5T_NATIVE_INT64, 3, shape);
        rc = mk_finish(f, tmp, out, bad);
        f = H5I_INVALID_HID;
    }
done:
    gzclose(gz);
    free(x);
    free(lab);
    return rc;
}

/* ----- ring8 ----- */

static int mk_ring8(const char *out, const char *tmp)
{
    enum { K = 8 };
    double w[K], mu[K * 2], var[K], radius = 4.0, sd = 0.3;
    const int64_t shape[1] = {2};
    int bad = 0;
    hid_t f;
    for (int k = 0; k < K; k++) {
        double ang = 2.0 * MK_PI * k / K;
        w[k] = 1.0 / K;
        mu[2 * k] = radius * cos(ang);
        mu[2 * k + 1] = radius * sin(ang);
        var[k] = sd * sd;
    }
    f = mk_create(tmp);
    if (f < 0) return 1;
    bad |= mk_gmm_common(f, K, 2, w, mu, var, 0, 1, shape);
    bad |= mk_attr_str(f, "description",
                       "2-D toy Gaussian mixture: 8 components with weights 1/8, means "
                       "4 (cos(2 pi k/8), sin(2 pi k/8)), k = 0..7, isotropic variance 0.3^2 = 0.09");
    bad |= mk_attr_str(f, "source", "synthetic; made by pd-mkdata ring8");
    bad |= mk_attr_num(f, "radius", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &radius);
    bad |= mk_attr_num(f, "std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &sd);
    return mk_finish(f, tmp, out, bad);
}

/* ----- gmm3072 ----- */

/* (w + 0.5) / 2^32, w = word (i % 4) of philox4x32_10(ctr = {i / 4, k, 0, purpose}, key = seed). */
static double mk_uniform(uint64_t seed, uint32_t k, uint32_t purpose, uint64_t i)
{
    philox4x32_ctr_t c = {{(uint32_t)(i >> 2), k, 0, purpose}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32_R(10, c, key);
    return ((double)r.v[i & 3u] + 0.5) * 2.3283064365386963e-10;
}

static int mk_gmm3072(const char *out, const char *tmp)
{
    enum { K = MK_GMM3072_K };
    const int64_t shape[3] = {3, 32, 32}, d = 3 * 32 * 32;
    const uint64_t seed = MK_GMM3072_SEED;
    double w[K], wsum = 0, *mu = malloc((size_t)(K * d) * sizeof *mu),
                 *var = malloc((size_t)(K * d) * sizeof *var);
    long long seed_attr = (long long)seed;
    int bad = 0, rc;
    hid_t f;
    if (!mu || !var) {
        free(mu);
        free(var);
        fprintf(stderr, "%s: out of memory\n", mk_prog);
        return 1;
    }
    for (int k = 0; k < K; k++) {
        w[k] = 0.5 + mk_uniform(seed, (uint32_t)k, 2, 0);
        wsum += w[k];
        for (int64_t i = 0; i < d; i++) {
            double sd = 0.05 + 0.25 * mk_uniform(seed, (uint32_t)k, 1, (uint64_t)i);
            mu[k * d + i] = -0.8 + 1.6 * mk_uniform(seed, (uint32_t)k, 0, (uint64_t)i);
            var[k * d + i] = sd * sd;
        }
    }
    for (int k = 0; k < K; k++)
        w[k] /= wsum;
    f = mk_create(tmp);
    if (f < 0) {
        free(mu);
        free(var);
        return 1;
    }
    bad |= mk_gmm_common(f, K, d, w, mu, var, 1, 3, shape);
    bad |= mk_attr_str(f, "description",
                       "Benchmark Gaussian mixture: 10 components, diagonal covariances, 3072 "
                       "dimensions (shape [3, 32, 32], CIFAR-sized). With u_p(k, i) = (w + 0.5) / 2^32, "
                       "w = word i % 4 of Philox4x32-10(counter {i / 4, k, 0, p}, key {seed low, seed "
                       "high}): mean = -0.8 + 1.6 u_0(k, i), std = 0.05 + 0.25 u_1(k, i), weight "
                       "proportional to 0.5 + u_2(k, 0)");
    bad |= mk_attr_str(f, "source", "synthetic; made by pd-mkdata gmm3072");
    bad |= mk_attr_num(f, "seed", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &seed_attr);
    rc = mk_finish(f, tmp, out, bad);
    free(mu);
    free(var);
    return rc;
}

int main(int argc, char **argv)
{
    char *tmp;
    const char *out;
    int rc;
    if (argc < 2) return mk_usage();
    if (!strcmp(argv[1], "digits") && argc == 4)
        out = argv[3];
    else if ((!strcmp(argv[1], "ring8") || !strcmp(argv[1], "gmm3072")) && argc == 3)
        out = argv[2];
    else
        return mk_usage();
    tmp = malloc(strlen(out) + 5);
    if (!tmp) return 1;
    sprintf(tmp, "%s.tmp", out);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by the helpers, once each */
    if (!strcmp(argv[1], "digits"))
        rc = mk_digits(argv[2], out, tmp);
    else if (!strcmp(argv[1], "ring8"))
        rc = mk_ring8(out, tmp);
    else
        rc = mk_gmm3072(out, tmp);
    free(tmp);
    return rc;
}
