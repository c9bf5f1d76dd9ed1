/* pintdiff info RESULT.h5 [--config]: what a result file holds (attributes, datasets, metrics,
 * and the convergence table of parallel runs). Plain serial HDF5 reads. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void print_attr(hid_t obj, const char *name, int show_config)
{
    if (!strcmp(name, "config") && !show_config) return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(t);
    if (cls == H5T_STRING && H5Tis_variable_str(t) > 0) {
        char *v = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t)); /* no conversion between ASCII and UTF-8 */
        if (H5Aread(a, mt, &v) >= 0 && v) {
            if (strchr(v, '\n')) printf("  %s:\n%s\n", name, v);
            else printf("  %-12s %s\n", name, v);
            H5free_memory(v);
        }
        H5Tclose(mt);
    } else if (cls == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE) {
        unsigned long long v = 0;
        H5Aread(a, H5T_NATIVE_ULLONG, &v);
        printf("  %-12s %llu\n", name, v);
    } else if (cls == H5T_INTEGER) {
        long long v = 0;
        H5Aread(a, H5T_NATIVE_LLONG, &v);
        printf("  %-12s %lld\n", name, v);
    } else if (cls == H5T_FLOAT) {
        double v = 0;
        H5Aread(a, H5T_NATIVE_DOUBLE, &v);
        printf("  %-12s %.6g\n", name, v);
    }
    H5Tclose(t);
    H5Aclose(a);
}

static herr_t attr_cb(hid_t obj, const char *name, const H5A_info_t *info, void *show)
{
    (void)info;
    print_attr(obj, name, *(int *)show);
    return 0;
}

static herr_t dataset_cb(hid_t obj, const char *name, const H5O_info_t *info, void *op)
{
    (void)op;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT), s = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[16];
    int nd = H5Sget_simple_extent_ndims(s);
    H5Sget_simple_extent_dims(s, dims, NULL);
    if (!strncmp(name, "metrics/", 8) && nd == 0) {
        double v = 0;
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        printf("  /%-30s %.6g\n", name, v);
    } else {
        printf("  /%-30s %s [", name, H5Tget_class(t) == H5T_FLOAT ? (H5Tget_size(t) == 8 ? "float64" : "float32") : "int");
        for (int i = 0; i < nd; i++) printf("%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
        printf("]\n");
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return 0;
}

/* An int64 vector dataset of n values (NULL when absent or of another length); the caller frees it. */
static long long *read_i64_vector(hid_t f, const char *name, hsize_t n)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), s = H5Dget_space(d);
    long long *v = H5Sget_simple_extent_npoints(s) == (hssize_t)n ? malloc(sizeof(long long) * (n + 1)) : NULL;
    if (v && H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        v = NULL;
    }
    H5Sclose(s);
    H5Dclose(d);
    return v;
}

/* /convergence/residual [iters, blocks or window points]: one line per iteration (Parareal and Picard
 * runs); Picard runs add the window [window_start, window_end] (and block-picard its block). */
static void print_convergence(hid_t f)
{
    if (H5Lexists(f, "convergence", H5P_DEFAULT) <= 0 || H5Lexists(f, "convergence/residual", H5P_DEFAULT) <= 0)
        return;
    hid_t d = H5Dopen2(f, "convergence/residual", H5P_DEFAULT), s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    if (H5Sget_simple_extent_ndims(s) == 2) H5Sget_simple_extent_dims(s, dims, NULL);
    double *r = malloc(sizeof(double) * (dims[0] * dims[1] + 1));
    long long *ws = read_i64_vector(f, "convergence/window_start", dims[0]);
    long long *we = read_i64_vector(f, "convergence/window_end", dims[0]);
    long long *blk = read_i64_vector(f, "convergence/block", dims[0]);
    if (r && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, r) >= 0) {
        if (ws && we)
            printf("convergence (max residual over the window's points per iteration):\n  iter  max residual  "
                   "window%s\n", blk ? "         block" : "");
        else
            printf("convergence (max residual over blocks per iteration):\n  iter  max residual\n");
        for (hsize_t k = 0; k < dims[0]; k++) {
            double m = 0; /* NaN (a point outside the window) never compares greater */
            for (hsize_t b = 0; b < dims[1]; b++) m = r[k * dims[1] + b] > m ? r[k * dims[1] + b] : m;
            printf("  %4llu  %.3e", (unsigned long long)k + 1, m);
            if (ws && we) printf("     [%lld, %lld]", ws[k], we[k]);
            if (ws && we && blk) printf("  %lld", blk[k]);
            printf("\n");
        }
    }
    free(r);
    free(ws);
    free(we);
    free(blk);
    H5Sclose(s);
    H5Dclose(d);
}

int pd_cli_info(int argc, char **argv)
{
    const char *path = NULL;
    int show_config = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: pintdiff info RESULT.h5 [--config]\n\n"
                   "Prints the run's provenance (method, solver, ranks, NFE, wall time, ...), its datasets\n"
                   "with shapes, the sample metrics, and for parallel runs the convergence table.\n"
                   "  --config   also print the resolved config stored in the file\n");
            return 0;
        }
        if (!strcmp(argv[i], "--config")) show_config = 1;
        else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "pintdiff info: unexpected argument '%s' (see pintdiff info --help)\n", argv[i]);
            return 2;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "pintdiff info: missing RESULT.h5\n");
        return 2;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "pintdiff info: cannot open %s as an HDF5 file\n", path);
        return 2;
    }
    if (H5Aexists(f, "status") <= 0) {
        fprintf(stderr, "pintdiff info: %s is not a pintdiff result (no 'status' attribute)\n", path);
        H5Fclose(f);
        return 2;
    }
    printf("%s\nrun:\n", path);
    hsize_t idx = 0;
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, attr_cb, &show_config);
    printf("datasets:\n");
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, dataset_cb, NULL, H5O_INFO_BASIC);
    print_convergence(f);
    H5Fclose(f);
    return 0;
}
