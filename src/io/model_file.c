/* Model parameters from HDF5 files (model_file.h; layouts in docs/DATA.md). */
#include "io/model_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#define PD_MF_MAX_RANK 5 /* [M or K, up to 4 shape dimensions] */

/* An open file with HDF5's automatic error printing switched off until pd_mf_close. */
typedef struct pd_mf {
    const char *path;
    hid_t file;
    H5E_auto2_t old_func;
    void *old_data;
} pd_mf;

/* One dataset read as double. */
typedef struct pd_mf_array {
    int rank;
    hsize_t dims[PD_MF_MAX_RANK];
    int64_t count; /* product of dims */
    double *data;
} pd_mf_array;

/* "[8, 2]" into buf. */
static const char *pd_mf_dims_str(char *buf, size_t len, int rank, const hsize_t *dims)
{
    size_t at = 0;
    at += (size_t)snprintf(buf + at, len - at, "[");
    for (int i = 0; i < rank && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (at < len) snprintf(buf + at, len - at, "]");
    return buf;
}

static pd_status pd_mf_open(pd_ctx *ctx, const char *path, pd_mf *f)
{
    FILE *fp;
    htri_t is_h5;
    f->path = path;
    f->file = H5I_INVALID_HID;
    H5Eget_auto2(H5E_DEFAULT, &f->old_func, &f->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!path || !path[0]) PD_FAIL(ctx, PD_ERR_INPUT, "model file: no file name given");
    fp = fopen(path, "rb");
    if (!fp) PD_FAIL(ctx, PD_ERR_INPUT, "%s: cannot open the model file: %s", path, strerror(errno));
    fclose(fp);
    is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0) PD_FAIL(ctx, PD_ERR_INPUT, "%s: not an HDF5 file", path);
    f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->file < 0) PD_FAIL(ctx, PD_ERR_INPUT, "%s: HDF5 could not open the file", path);
    return PD_OK;
}

static void pd_mf_close(pd_mf *f)
{
    if (f->file >= 0) H5Fclose(f->file);
    f->file = H5I_INVALID_HID;
    H5Eset_auto2(H5E_DEFAULT, f->old_func, f->old_data);
}

/* Read dataset `name` as double. `expect` describes the layout for the message if it is missing. */
static pd_status pd_mf_read(pd_ctx *ctx, pd_mf *f, const char *name, const char *expect, pd_mf_array *a)
{
    pd_status st = PD_OK;
    hid_t ds = H5I_INVALID_HID, sp = H5I_INVALID_HID, ty = H5I_INVALID_HID;
    htri_t ex;
    int rank;
    char buf[128];

    memset(a, 0, sizeof *a);
    ex = H5Lexists(f->file, name, H5P_DEFAULT);
    if (ex <= 0) PD_FAIL(ctx, PD_ERR_INPUT, "%s: %s: missing (expected a dataset %s)", f->path, name, expect);
    ds = H5Dopen2(f->file, name, H5P_DEFAULT);
    if (ds < 0) PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: %s: not a dataset (expected %s)", f->path, name, expect);
    ty = H5Dget_type(ds);
    if (ty < 0 || H5Tget_class(ty) != H5T_FLOAT)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: %s: expected a floating-point dataset (float32 or float64)",
                     f->path, name);
    sp = H5Dget_space(ds);
    rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (rank < 1 || rank > PD_MF_MAX_RANK)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: %s: expected %s, got a dataset of rank %d", f->path, name,
                     expect, rank);
    a->rank = rank;
    H5Sget_simple_extent_dims(sp, a->dims, NULL);
    a->count = 1;
    for (int i = 0; i < rank; i++) {
        if (a->dims[i] == 0)
            PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: %s: expected %s, got the empty %s", f->path, name, expect,
                         pd_mf_dims_str(buf, sizeof buf, rank, a->dims));
        if ((uint64_t)a->count > (uint64_t)INT64_MAX / 8 / a->dims[i])
            PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: %s: %s is too large", f->path, name,
                         pd_mf_dims_str(buf, sizeof buf, rank, a->dims));
        a->count *= (int64_t)a->dims[i];
    }
    a->data = malloc((size_t)a->count * sizeof *a->data);
    if (!a->data)
        PD_FAIL_GOTO(ctx, PD_ERR_NOMEM, "%s: %s: out of memory for %lld values", f->path, name,
                     (long long)a->count);
    if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: %s: HDF5 could not read the values", f->path, name);
done:
    if (st != PD_OK) {
        free(a->data);
        a->data = NULL;
    }
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    if (ds >= 0) H5Dclose(ds);
    return st;
}

/* PD_ERR_INPUT at the first non-finite value (checked after the layout, so that a layout error is
 * the one reported). */
static pd_status pd_mf_check_finite(pd_ctx *ctx, const pd_mf *f, const char *name, const pd_mf_array *a)
{
    for (int64_t j = 0; j < a->count; j++)
        if (!isfinite(a->data[j]))
            PD_FAIL(ctx, PD_ERR_INPUT, "%s: %s: value %lld is %g, expected finite numbers", f->path, name,
                    (long long)j, a->data[j]);
    return PD_OK;
}

/* The optional int64 attribute `shape` on /: *ndim = 0 when absent. */
static pd_status pd_mf_read_shape_attr(pd_ctx *ctx, pd_mf *f, int *ndim, int64_t *shape)
{
    pd_status st = PD_OK;
    hid_t at = H5I_INVALID_HID, sp = H5I_INVALID_HID, ty = H5I_INVALID_HID;
    hssize_t n;
    *ndim = 0;
    if (H5Aexists(f->file, "shape") <= 0) return PD_OK;
    at = H5Aopen(f->file, "shape", H5P_DEFAULT);
    if (at < 0) PD_FAIL(ctx, PD_ERR_INPUT, "%s: attribute shape on /: cannot be opened", f->path);
    ty = H5Aget_type(at);
    sp = H5Aget_space(at);
    n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    if (ty < 0 || H5Tget_class(ty) != H5T_INTEGER)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: attribute shape on /: expected a list of integers", f->path);
    if (n < 1 || n > 4)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: attribute shape on /: expected 1 to 4 integers, got %lld",
                     f->path, (long long)n);
    if (H5Aread(at, H5T_NATIVE_INT64, shape) < 0)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: attribute shape on /: cannot be read as int64", f->path);
    for (int i = 0; i < (int)n; i++)
        if (shape[i] < 1)
            PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: attribute shape on /: entry %d is %lld, expected >= 1",
                         f->path, i, (long long)shape[i]);
    *ndim = (int)n;
done:
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    if (at >= 0) H5Aclose(at);
    return st;
}

pd_status pd_model_load_gmm_file(pd_ctx *ctx, const char *path, pd_model **out)
{
    pd_status st = PD_OK;
    pd_mf f;
    pd_mf_array w = {0}, mu = {0}, var = {0};
    int ndim = 0, attr_ndim = 0, diag = 0;
    int64_t shape[4] = {0}, attr_shape[4] = {0}, K, d = 1, attr_d = 1;
    double wsum = 0;
    char b1[128], b2[128];

    if (!out) return pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__, "model file: out is NULL");
    *out = NULL;
    PD_TRY_GOTO(pd_mf_open(ctx, path, &f));
    PD_TRY_GOTO(pd_mf_read(ctx, &f, "/weights", "[K]", &w));
    if (w.rank != 1)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: /weights: expected 1 dimension [K], got %s", path,
                     pd_mf_dims_str(b1, sizeof b1, w.rank, w.dims));
    PD_TRY_GOTO(pd_mf_check_finite(ctx, &f, "/weights", &w));
    K = (int64_t)w.dims[0];
    if (K > 1000000)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: /weights: %lld components, expected at most 1000000", path,
                     (long long)K);
    for (int64_t k = 0; k < K; k++) {
        if (w.data[k] < 0)
            PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: /weights: weight %lld is %g, expected >= 0", path,
                         (long long)k, w.data[k]);
        wsum += w.data[k];
    }
    if (!(wsum > 0))
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: /weights: the weights sum to 0, expected a positive sum", path);

    PD_TRY_GOTO(pd_mf_read(ctx, &f, "/means", "[K, d] or [K, *shape]", &mu));
    if (mu.rank < 2 || mu.dims[0] != (hsize_t)K)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT,
                     "%s: /means: expected %s dimensions [K, d] with K = %lld (from "
                     "/weights), got %s",
                     path, mu.rank < 2 ? "2" : "at least 2", (long long)K,
                     pd_mf_dims_str(b1, sizeof b1, mu.rank, mu.dims));
    PD_TRY_GOTO(pd_mf_check_finite(ctx, &f, "/means", &mu));
    for (int i = 1; i < mu.rank; i++)
        d *= (int64_t)mu.dims[i];
    PD_TRY_GOTO(pd_mf_read_shape_attr(ctx, &f, &attr_ndim, attr_shape));
    for (int i = 0; i < attr_ndim; i++)
        attr_d *= attr_shape[i];
    if (mu.rank > 2) { /* the shape is /means' trailing dimensions; the attribute, if any, agrees */
        ndim = mu.rank - 1;
        for (int i = 0; i < ndim; i++)
            shape[i] = (int64_t)mu.dims[i + 1];
        if (attr_ndim && (attr_ndim != ndim || memcmp(attr_shape, shape, (size_t)ndim * sizeof *shape)))
            PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: attribute shape on / disagrees with /means %s", path,
                         pd_mf_dims_str(b1, sizeof b1, mu.rank, mu.dims));
    } else if (attr_ndim) {
        if (attr_d != d)
            PD_FAIL_GOTO(ctx, PD_ERR_INPUT,
                         "%s: attribute shape on /: its product %lld differs from "
                         "d = %lld of /means %s",
                         path, (long long)attr_d, (long long)d,
                         pd_mf_dims_str(b1, sizeof b1, mu.rank, mu.dims));
        ndim = attr_ndim;
        memcpy(shape, attr_shape, sizeof shape);
    } else {
        ndim = 1;
        shape[0] = d;
    }

    PD_TRY_GOTO(pd_mf_read(ctx, &f, "/variances", "[K] or [K, d]", &var));
    if (var.rank == 1 && var.dims[0] == (hsize_t)K) {
        diag = 0;
    } else if (var.dims[0] == (hsize_t)K && var.count == K * d &&
               (var.rank == 2 ||
                (var.rank == mu.rank && !memcmp(var.dims, mu.dims, (size_t)mu.rank * sizeof *var.dims)))) {
        diag = 1;
    } else {
        hsize_t kd[2] = {(hsize_t)K, (hsize_t)d};
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT,
                     "%s: /variances: expected [K] = [%lld] (isotropic) or [K, d] = "
                     "%s (diagonal), got %s",
                     path, (long long)K, pd_mf_dims_str(b1, sizeof b1, 2, kd),
                     pd_mf_dims_str(b2, sizeof b2, var.rank, var.dims));
    }
    PD_TRY_GOTO(pd_mf_check_finite(ctx, &f, "/variances", &var));
    for (int64_t j = 0; j < var.count; j++)
        if (var.data[j] < 0)
            PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: /variances: value %lld is %g, expected >= 0", path,
                         (long long)j, var.data[j]);
    /* everything pd_model_gmm_create checks was checked above with the file named */
    st = pd_model_gmm_create(ctx, (int)K, ndim, shape, w.data, mu.data, var.data, diag, out);
done:
    free(w.data);
    free(mu.data);
    free(var.data);
    pd_mf_close(&f);
    return st;
}

pd_status pd_model_load_dataset_file(pd_ctx *ctx, const char *path, pd_model **out)
{
    pd_status st = PD_OK;
    pd_mf f;
    pd_mf_array a = {0};
    int64_t shape[4];
    char b1[128];

    if (!out) return pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__, "model file: out is NULL");
    *out = NULL;
    PD_TRY_GOTO(pd_mf_open(ctx, path, &f));
    PD_TRY_GOTO(pd_mf_read(ctx, &f, "/data", "[M, *shape] (M rows, a shape of 1 to 4 dimensions)", &a));
    if (a.rank < 2)
        PD_FAIL_GOTO(ctx, PD_ERR_INPUT, "%s: /data: expected at least 2 dimensions [M, *shape], got %s", path,
                     pd_mf_dims_str(b1, sizeof b1, a.rank, a.dims));
    PD_TRY_GOTO(pd_mf_check_finite(ctx, &f, "/data", &a));
    for (int i = 1; i < a.rank; i++)
        shape[i - 1] = (int64_t)a.dims[i];
    st = pd_model_dataset_create(ctx, (int64_t)a.dims[0], a.rank - 1, shape, a.data, out);
done:
    free(a.data);
    pd_mf_close(&f);
    return st;
}
