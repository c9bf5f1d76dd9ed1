/* The result writer: every rank writes its slice of known values through parallel HDF5; the file
 * appears only at commit, holds exactly what was written (float32 and float64), its attributes and
 * metrics; an aborted file leaves nothing behind. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/result.h"
#include "pd_test.h"

static double value(int64_t s, int64_t e) { return 0.001 * (double)s - 0.37 * (double)e + 1.0 / 3.0; }

static int write_file(pd_ctx *ctx, const char *path, pd_dtype dt, int rank, int size, int commit)
{
    const int64_t S = 11, shape[2] = {3, 2}, D = 6;
    int64_t first = S * rank / size, count = S * (rank + 1) / size - first;
    pd_state *x = NULL;
    PD_TEST_CHECK(ctx, pd_state_create(ctx, dt, PD_DEVICE_CPU, count, D, first, &x));
    double *h = malloc(sizeof(double) * (size_t)(count * D + 1));
    for (int64_t s = 0; s < count; s++)
        for (int64_t e = 0; e < D; e++) h[s * D + e] = value(first + s, e);
    PD_TEST_CHECK(ctx, pd_state_write_f64(ctx, x, h));
    pd_result_layout lay = {.path = path, .n_samples = S, .ndim = 2, .shape = shape, .dtype = dt, .n_traj_points = 2};
    pd_result *r = NULL;
    PD_TEST_CHECK(ctx, pd_result_open(ctx, MPI_COMM_WORLD, &lay, &r));
    int fails = pd_expect_true(access(path, F_OK) != 0, "no file under the final name before commit");
    PD_TEST_CHECK(ctx, pd_result_write_samples(ctx, r, x));
    PD_TEST_CHECK(ctx, pd_result_write_traj(ctx, r, 1, x));
    PD_TEST_CHECK(ctx, pd_result_attr_str(ctx, r, "status", "complete"));
    PD_TEST_CHECK(ctx, pd_result_attr_i64(ctx, r, "n_ranks", size));
    PD_TEST_CHECK(ctx, pd_result_metric(ctx, r, "sw2", 0.125));
    if (commit) PD_TEST_CHECK(ctx, pd_result_commit(ctx, &r));
    else pd_result_abort(&r);
    pd_state_destroy(&x);
    free(h);
    return fails;
}

/* Read back with plain serial HDF5 on rank 0. */
static int check_file(const char *path, pd_dtype dt, int size)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return pd_expect_true(0, "committed file opens");
    double got[11 * 6], traj[2 * 11 * 6], m = 0;
    long long nr = 0;
    hid_t d = H5Dopen2(f, "samples", H5P_DEFAULT), t = H5Dget_type(d);
    int fails = pd_expect_true(H5Tget_size(t) == (dt == PD_F64 ? 8u : 4u), "stored dtype is the run's dtype");
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got);
    H5Tclose(t);
    H5Dclose(d);
    d = H5Dopen2(f, "trajectory/x", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, traj);
    H5Dclose(d);
    d = H5Dopen2(f, "metrics/sw2", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &m);
    H5Dclose(d);
    hid_t a = H5Aopen(f, "n_ranks", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_LLONG, &nr);
    H5Aclose(a);
    H5Fclose(f);
    int bad = 0;
    for (int s = 0; s < 11; s++)
        for (int e = 0; e < 6; e++) {
            double want = dt == PD_F64 ? value(s, e) : (double)(float)value(s, e);
            bad += got[s * 6 + e] != want || traj[66 + s * 6 + e] != want;
        }
    fails += pd_expect_true(bad == 0, "every sample of every rank round-trips exactly");
    fails += pd_expect_true(m == 0.125 && nr == size, "metric and attribute round-trip");
    return fails;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1, fails = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    pd_ctx *ctx = pd_ctx_create();
    char path[256];
    snprintf(path, sizeof path, "roundtrip_np%d.h5", size);
    pd_dtype dts[] = {PD_F32, PD_F64};
    for (int i = 0; i < 2; i++) {
        fails += write_file(ctx, path, dts[i], rank, size, 1);
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) fails += check_file(path, dts[i], size);
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) unlink(path);
    }
    fails += write_file(ctx, path, PD_F32, rank, size, 0);
    MPI_Barrier(MPI_COMM_WORLD);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (rank == 0) fails += pd_expect_true(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "abort leaves no file");
    int total = 0;
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s\n", total ? "test_result_roundtrip: FAILED" : "test_result_roundtrip: all passed");
    pd_ctx_destroy(&ctx);
    MPI_Finalize();
    return total != 0;
}
