/* cudasim: the device's work goes on while the host waits in MPI (C, compiled into every program that
 * links pintdiff in a SIM build: pd_cudasim's INTERFACE_SOURCES).
 *
 * A GPU runs its streams by itself; cudasim runs them only when the process calls into it. A host
 * that waits in MPI for a peer, while its own queued transfer is what the peer needs, would hang
 * here and not on a GPU. So the blocking MPI calls pintdiff makes (and MPI_Iprobe, which it spins
 * on) are wrapped through MPI's profiling interface: they become their non-blocking forms, and while
 * they wait, the streams other than the legacy default one take steps (transfers, and the default-
 * stream work a transfer was ordered after). Other legacy-stream work still runs only when the host
 * waits for it, so the stale-read checks keep their teeth. cudasim's own MPI calls use the PMPI_
 * names. The wrappers must be found before libmpi's: so they are in the executable itself, which
 * symbol lookup searches first (nccl.cc checks that MPI_Recv is one of them). */
#include <mpi.h>

void pd_sim_progress_transfers(void);
void pd_sim_backoff(int *polls);

/* Wait for r, letting the device's transfers progress meanwhile. */
static int wait_progressing(MPI_Request *r, MPI_Status *st)
{
    int done = 0, polls = 0;
    for (;;) {
        int rc = PMPI_Test(r, &done, st);
        if (rc != MPI_SUCCESS || done) return rc;
        pd_sim_progress_transfers();
        pd_sim_backoff(&polls);
    }
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm, MPI_Status *st)
{
    MPI_Request r;
    int rc = PMPI_Irecv(buf, count, type, src, tag, comm, &r);
    return rc == MPI_SUCCESS ? wait_progressing(&r, st) : rc;
}

int MPI_Wait(MPI_Request *r, MPI_Status *st) { return wait_progressing(r, st); }

int MPI_Waitall(int n, MPI_Request *rs, MPI_Status *sts)
{
    int done = 0, polls = 0;
    for (;;) {
        int rc = PMPI_Testall(n, rs, &done, sts);
        if (rc != MPI_SUCCESS || done) return rc;
        pd_sim_progress_transfers();
        pd_sim_backoff(&polls);
    }
}

int MPI_Probe(int src, int tag, MPI_Comm comm, MPI_Status *st)
{
    int flag = 0, polls = 0;
    for (;;) {
        int rc = PMPI_Iprobe(src, tag, comm, &flag, st);
        if (rc != MPI_SUCCESS || flag) return rc;
        pd_sim_progress_transfers();
        pd_sim_backoff(&polls);
    }
}

int MPI_Iprobe(int src, int tag, MPI_Comm comm, int *flag, MPI_Status *st)
{
    pd_sim_progress_transfers();
    return PMPI_Iprobe(src, tag, comm, flag, st);
}

int MPI_Allreduce(const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm)
{
    MPI_Request r;
    int rc = PMPI_Iallreduce(sb, rb, count, type, op, comm, &r);
    return rc == MPI_SUCCESS ? wait_progressing(&r, MPI_STATUS_IGNORE) : rc;
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    MPI_Request r;
    int rc = PMPI_Ibcast(buf, count, type, root, comm, &r);
    return rc == MPI_SUCCESS ? wait_progressing(&r, MPI_STATUS_IGNORE) : rc;
}

int MPI_Barrier(MPI_Comm comm)
{
    MPI_Request r;
    int rc = PMPI_Ibarrier(comm, &r);
    return rc == MPI_SUCCESS ? wait_progressing(&r, MPI_STATUS_IGNORE) : rc;
}

/* Present in the program: cudasim checks for it (dlsym) before it relies on the wrappers. */
int pd_sim_mpi_progress_linked(void);
int pd_sim_mpi_progress_linked(void) { return 1; }
