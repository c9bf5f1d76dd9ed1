/* Parallel HDF5 result writer (DESIGN.md §3). */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/result.h"

struct pd_result {
    MPI_Comm comm;
    int rank;
    hid_t file;
    hid_t xfer;              /* collective transfer property list */
    char *path, *tmp;
    int64_t n_samples, dim;
    int ndim;
    int64_t shape[8];
    pd_dtype dtype;
    hid_t d_samples, d_traj, d_noise, d_bound;
    hid_t xfer_ind;          /* independent transfers (boundaries, written by their owner) */
    double *host;            /* this rank's slice as double, reused for every write */
    int64_t host_len;
};

#define PD_H5_CHECK(ctx, expr, ...)                                                                \
    do {                                                                                           \
        if ((expr) < 0) PD_FAIL(ctx, PD_ERR_H5, __VA_ARGS__);                                      \
    } while (0)

static hid_t file_type(pd_dtype t) { return t == PD_F64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE; }

/* mkdir of the file's directory (one level), so output.file: results/x.h5 just works */
static pd_status ensure_parent_dir(pd_ctx *ctx, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return PD_OK;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat sb;
    if (stat(dir, &sb) == 0) return S_ISDIR(sb.st_mode) ? PD_OK
        : pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__, "output.file: %s is not a directory", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        PD_FAIL(ctx, PD_ERR_INPUT, "output.file: cannot create directory %s: %s", dir, strerror(errno));
    return PD_OK;
}

/* A contiguous dataset [lead, lead2, samples, *shape] of the run's dtype (lead, lead2 < 0: absent). */
static hid_t create_states2(hid_t file, const char *name, const pd_result *r, int lead, int lead2)
{
    hsize_t dims[10];
    int nd = 0;
    if (lead >= 0) dims[nd++] = (hsize_t)lead;
    if (lead2 >= 0) dims[nd++] = (hsize_t)lead2;
    dims[nd++] = (hsize_t)r->n_samples;
    for (int i = 0; i < r->ndim; i++) dims[nd++] = (hsize_t)r->shape[i];
    hid_t space = H5Screate_simple(nd, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(file, name, file_type(r->dtype), space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Sclose(space);
    return d;
}

static hid_t create_states(hid_t file, const char *name, const pd_result *r, int lead)
{
    return create_states2(file, name, r, lead, -1);
}

pd_status pd_result_open(pd_ctx *ctx, MPI_Comm comm, const pd_result_layout *lay, pd_result **out)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by us, with the file named */
    pd_result *r = calloc(1, sizeof *r);
    if (!r) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the result writer");
    r->comm = comm;
    MPI_Comm_rank(comm, &r->rank);
    r->file = r->xfer = r->xfer_ind = r->d_samples = r->d_traj = r->d_noise = r->d_bound = H5I_INVALID_HID;
    r->n_samples = lay->n_samples;
    r->ndim = lay->ndim;
    r->dim = 1;
    for (int i = 0; i < lay->ndim; i++) r->shape[i] = lay->shape[i], r->dim *= lay->shape[i];
    r->dtype = lay->dtype;
    size_t n = strlen(lay->path);
    r->path = malloc(n + 1);
    r->tmp = malloc(n + 5);
    if (!r->path || !r->tmp) {
        pd_result_abort(&r);
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate file names");
    }
    memcpy(r->path, lay->path, n + 1);
    snprintf(r->tmp, n + 5, "%s.tmp", lay->path);

    pd_status st = r->rank == 0 ? ensure_parent_dir(ctx, r->path) : PD_OK;
    int ok = st == PD_OK, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
    if (!all_ok) {
        pd_result_abort(&r);
        return st != PD_OK ? st : pd_error_set(ctx, PD_ERR_REMOTE, __FILE__, __LINE__, "rank 0 could not prepare %s", lay->path);
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    r->file = H5Fcreate(r->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (r->file < 0) {
        pd_result_abort(&r);
        PD_FAIL(ctx, PD_ERR_IO, "output.file: cannot create %s.tmp (parallel HDF5)", lay->path);
    }
    r->xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(r->xfer, H5FD_MPIO_COLLECTIVE);
    r->xfer_ind = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(r->xfer_ind, H5FD_MPIO_INDEPENDENT);
    if (lay->n_boundary_iters > 0)
        r->d_bound = create_states2(r->file, "convergence/boundaries", r, lay->n_boundary_iters, lay->n_boundaries);
    r->d_samples = create_states(r->file, "samples", r, -1);
    if (lay->n_traj_points > 0) r->d_traj = create_states(r->file, "trajectory/x", r, lay->n_traj_points);
    if (lay->n_noise_steps > 0) r->d_noise = create_states(r->file, "trajectory/noise", r, lay->n_noise_steps);
    if (r->d_samples < 0 || (lay->n_traj_points > 0 && r->d_traj < 0) || (lay->n_noise_steps > 0 && r->d_noise < 0) ||
        (lay->n_boundary_iters > 0 && r->d_bound < 0)) {
        pd_result_abort(&r);
        PD_FAIL(ctx, PD_ERR_H5, "%s: cannot create the datasets", lay->path);
    }
    *out = r;
    return PD_OK;
}

/* The host staging buffer holds at least len doubles. */
static pd_status grow_host(pd_ctx *ctx, pd_result *r, int64_t len)
{
    if (len <= r->host_len) return PD_OK;
    double *h = realloc(r->host, sizeof(double) * (size_t)len);
    if (!h) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate %lld doubles for writing", (long long)len);
    r->host = h;
    r->host_len = len;
    return PD_OK;
}

/* Write this rank's slice of x into dataset d at leading index lead (-1: no leading index). */
static pd_status write_slice(pd_ctx *ctx, pd_result *r, hid_t d, int lead, const pd_state *x)
{
    int64_t ns = pd_state_n_samples(x), len = ns * r->dim;
    pd_status st = grow_host(ctx, r, len);
    if (st == PD_OK && len > 0) st = pd_state_read_f64(ctx, x, r->host);
    int ok = st == PD_OK, all_ok = 0; /* every rank must reach the collective write, or none */
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, r->comm);
    if (!all_ok) return st != PD_OK ? st : pd_error_set(ctx, PD_ERR_REMOTE, __FILE__, __LINE__, "another rank failed to write");
    hid_t fspace = H5Dget_space(d);
    hsize_t start[10] = {0}, count[10];
    H5Sget_simple_extent_dims(fspace, count, NULL);
    int si = lead >= 0 ? 1 : 0; /* index of the sample dimension */
    if (lead >= 0) start[0] = (hsize_t)lead, count[0] = 1;
    start[si] = (hsize_t)pd_state_offset(x);
    count[si] = (hsize_t)ns;
    hid_t mspace;
    if (ns > 0) {
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        hsize_t m = (hsize_t)len;
        mspace = H5Screate_simple(1, &m, NULL);
    } else { /* ranks without samples still take part in the collective write */
        H5Sselect_none(fspace);
        mspace = H5Screate(H5S_NULL);
    }
    herr_t e = H5Dwrite(d, H5T_NATIVE_DOUBLE, mspace, fspace, r->xfer, r->host);
    H5Sclose(mspace);
    H5Sclose(fspace);
    PD_H5_CHECK(ctx, e, "%s: writing samples %lld..%lld of a state failed", r->tmp, (long long)pd_state_offset(x),
                (long long)(pd_state_offset(x) + ns));
    return PD_OK;
}

pd_status pd_result_write_traj(pd_ctx *ctx, pd_result *r, int i, const pd_state *x)
{
    return write_slice(ctx, r, r->d_traj, i, x);
}

pd_status pd_result_write_noise(pd_ctx *ctx, pd_result *r, int i, const pd_state *z)
{
    return write_slice(ctx, r, r->d_noise, i, z);
}

pd_status pd_result_write_samples(pd_ctx *ctx, pd_result *r, const pd_state *x)
{
    return write_slice(ctx, r, r->d_samples, -1, x);
}

/* A small [rows, cols] dataset (cols = 0: a vector of rows) written by rank 0 (the others select
 * nothing). */
static pd_status write_matrix(pd_ctx *ctx, pd_result *r, const char *name, hid_t ftype, hid_t mtype,
                              int rows, int cols, const void *data)
{
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    int nd = cols > 0 ? 2 : 1;
    hid_t space = H5Screate_simple(nd, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(r->file, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (d < 0) {
        H5Sclose(space);
        PD_FAIL(ctx, PD_ERR_H5, "%s: cannot create %s", r->tmp, name);
    }
    hid_t mspace = H5Screate_simple(nd, dims, NULL);
    if (r->rank != 0) {
        H5Sselect_none(space);
        H5Sselect_none(mspace);
    }
    herr_t e = H5Dwrite(d, mtype, mspace, space, r->xfer, data);
    H5Sclose(mspace);
    H5Sclose(space);
    H5Dclose(d);
    PD_H5_CHECK(ctx, e, "%s: writing %s failed", r->tmp, name);
    return PD_OK;
}

pd_status pd_result_write_times(pd_ctx *ctx, pd_result *r, int n, const double *t, const double *alpha,
                                const double *sigma, const int *step)
{
    PD_TRY(write_matrix(ctx, r, "trajectory/t", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, 0, t));
    PD_TRY(write_matrix(ctx, r, "trajectory/alpha", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, 0, alpha));
    PD_TRY(write_matrix(ctx, r, "trajectory/sigma", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, 0, sigma));
    return write_matrix(ctx, r, "trajectory/step", H5T_STD_I32LE, H5T_NATIVE_INT, n, 0, step);
}

pd_status pd_result_write_f64(pd_ctx *ctx, pd_result *r, const char *name, int rows, int cols, const double *v)
{
    return write_matrix(ctx, r, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rows, cols == 1 ? 0 : cols, v);
}

pd_status pd_result_write_i64(pd_ctx *ctx, pd_result *r, const char *name, int rows, int cols, const int64_t *v)
{
    return write_matrix(ctx, r, name, H5T_STD_I64LE, H5T_NATIVE_INT64, rows, cols == 1 ? 0 : cols, v);
}

pd_status pd_result_write_boundary(pd_ctx *ctx, pd_result *r, int iter, int b, const pd_state *x)
{
    int64_t len = pd_state_n_samples(x) * r->dim;
    PD_TRY(grow_host(ctx, r, len));
    PD_TRY(pd_state_read_f64(ctx, x, r->host));
    hid_t fspace = H5Dget_space(r->d_bound);
    hsize_t start[10] = {(hsize_t)iter, (hsize_t)b}, count[10];
    H5Sget_simple_extent_dims(fspace, count, NULL);
    count[0] = count[1] = 1;
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    hsize_t m = (hsize_t)len;
    hid_t mspace = H5Screate_simple(1, &m, NULL);
    herr_t e = H5Dwrite(r->d_bound, H5T_NATIVE_DOUBLE, mspace, fspace, r->xfer_ind, r->host);
    H5Sclose(mspace);
    H5Sclose(fspace);
    PD_H5_CHECK(ctx, e, "%s: writing boundary %d of iteration %d failed", r->tmp, b, iter);
    return PD_OK;
}

static pd_status write_attr(pd_ctx *ctx, pd_result *r, hid_t obj, const char *name, hid_t type, const void *v)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    PD_H5_CHECK(ctx, e, "%s: writing attribute %s failed", r->tmp, name);
    return PD_OK;
}

pd_status pd_result_attr_str(pd_ctx *ctx, pd_result *r, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1); /* variable-length UTF-8: h5py and xarray read it as str */
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    pd_status st = write_attr(ctx, r, r->file, name, t, &value);
    H5Tclose(t);
    return st;
}

pd_status pd_result_attr_i64(pd_ctx *ctx, pd_result *r, const char *name, int64_t value)
{
    return write_attr(ctx, r, r->file, name, H5T_NATIVE_INT64, &value);
}

pd_status pd_result_attr_u64(pd_ctx *ctx, pd_result *r, const char *name, uint64_t value)
{
    return write_attr(ctx, r, r->file, name, H5T_NATIVE_UINT64, &value);
}

pd_status pd_result_attr_f64(pd_ctx *ctx, pd_result *r, const char *name, double value)
{
    return write_attr(ctx, r, r->file, name, H5T_NATIVE_DOUBLE, &value);
}

pd_status pd_result_metric(pd_ctx *ctx, pd_result *r, const char *name, double value)
{
    char path[256];
    snprintf(path, sizeof path, "metrics/%s", name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(r->file, path, H5T_IEEE_F64LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    hid_t mspace = H5Screate(H5S_SCALAR);
    if (r->rank != 0) {
        H5Sselect_none(space);
        H5Sselect_none(mspace);
    }
    herr_t e = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_DOUBLE, mspace, space, r->xfer, &value);
    if (d >= 0) H5Dclose(d);
    H5Sclose(mspace);
    H5Sclose(space);
    PD_H5_CHECK(ctx, e, "%s: writing %s failed", r->tmp, path);
    return PD_OK;
}

static herr_t close_all(pd_result *r)
{
    herr_t e = 0;
    hid_t *ids[] = {&r->d_samples, &r->d_traj, &r->d_noise, &r->d_bound};
    for (int i = 0; i < 4; i++)
        if (*ids[i] >= 0) H5Dclose(*ids[i]), *ids[i] = H5I_INVALID_HID;
    if (r->xfer >= 0) H5Pclose(r->xfer), r->xfer = H5I_INVALID_HID;
    if (r->xfer_ind >= 0) H5Pclose(r->xfer_ind), r->xfer_ind = H5I_INVALID_HID;
    if (r->file >= 0) e = H5Fclose(r->file), r->file = H5I_INVALID_HID;
    return e;
}

static void free_result(pd_result **r)
{
    free((*r)->path);
    free((*r)->tmp);
    free((*r)->host);
    free(*r);
    *r = NULL;
}

pd_status pd_result_commit(pd_ctx *ctx, pd_result **rp)
{
    pd_result *r = *rp;
    herr_t e = close_all(r); /* collective: every rank's data is in the file after this */
    int closed = e >= 0, all_closed = 0;
    MPI_Allreduce(&closed, &all_closed, 1, MPI_INT, MPI_MIN, r->comm);
    int ok = all_closed, err = 0;
    if (ok && r->rank == 0 && rename(r->tmp, r->path) != 0) ok = 0, err = errno;
    MPI_Bcast(&ok, 1, MPI_INT, 0, r->comm);
    pd_status st = PD_OK;
    if (!ok) {
        if (r->rank == 0) unlink(r->tmp);
        st = pd_error_set(ctx, PD_ERR_IO, __FILE__, __LINE__, "cannot finish %s: %s", r->path,
                          !all_closed ? "HDF5 close failed" : err ? strerror(err) : "rename failed on rank 0");
    }
    free_result(rp);
    return st;
}

void pd_result_abort(pd_result **rp)
{
    if (!rp || !*rp) return;
    pd_result *r = *rp;
    close_all(r);
    if (r->rank == 0 && r->tmp) unlink(r->tmp);
    free_result(rp);
}
