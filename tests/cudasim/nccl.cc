/* cudasim NCCL over MPI (nccl.h says what it keeps of NCCL's behaviour).
 *
 * A group's operations become one item of its stream's queue. When the item reaches the head of the
 * queue it posts them at once (sends from a copy of the device buffer taken then, receives into a host
 * buffer), and finishes when MPI has completed them all, copying what arrived into device memory; so
 * MPI never touches device memory, and everything queued behind a group on its stream waits for it,
 * as on NCCL's stream (a receive queued behind a send nobody takes waits too). The queue moves on
 * whenever the host calls cudasim or waits in MPI (mpi_progress.cc), as a GPU would by itself. A receive must match a send of exactly its size: anything else stops the
 * process. ncclCommAbort cancels what is posted and drops what is queued. */
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <mpi.h>
#include <unistd.h>

#include "nccl.h"
#include "sim.h"

struct pd_sim_nccl {
    MPI_Comm comm = MPI_COMM_NULL;
    int rank = 0, size = 1;
    bool blocking = true;
    bool aborted = false;
    bool finalizing = false;
    int queued = 0;                   /* its groups queued or in flight */
    ncclResult_t async = ncclSuccess; /* what ncclCommGetAsyncError reports next */
    std::string last;
};

namespace {

const int TAG = 0x5cc;

enum class op_kind { send, recv, allreduce };
struct op {
    op_kind kind;
    const void *src;
    void *dst;
    size_t count, bytes;
    ncclDataType_t type;
    ncclRedOp_t red;
    int peer;
    ncclComm_t comm;
    cudaStream_t stream;
};

int group_depth = 0;
std::vector<op> group_ops;
std::string global_last;

size_t type_size(ncclDataType_t t)
{
    switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    }
    return 0;
}

MPI_Datatype mpi_type(ncclDataType_t t)
{
    switch (t) {
    case ncclInt8: return MPI_INT8_T;
    case ncclUint8: return MPI_UINT8_T;
    case ncclInt32: return MPI_INT32_T;
    case ncclUint32: return MPI_UINT32_T;
    case ncclInt64: return MPI_INT64_T;
    case ncclUint64: return MPI_UINT64_T;
    case ncclFloat32: return MPI_FLOAT;
    case ncclFloat64: return MPI_DOUBLE;
    case ncclFloat16: break;
    }
    return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(ncclRedOp_t r)
{
    switch (r) {
    case ncclSum: return MPI_SUM;
    case ncclProd: return MPI_PROD;
    case ncclMax: return MPI_MAX;
    case ncclMin: return MPI_MIN;
    }
    return MPI_OP_NULL;
}

/* A call NCCL would refuse: the reason for ncclGetLastError and on stderr. */
__attribute__((format(printf, 2, 3))) ncclResult_t usage(ncclComm_t c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    (c ? c->last : global_last) = buf;
    fprintf(stderr, "cudasim: NCCL: %s\n", buf);
    return ncclInvalidUsage;
}

/* One group's operations on one stream. */
struct group_item : pdsim::item {
    std::vector<op> ops;
    std::vector<std::vector<char>> bufs;
    std::vector<MPI_Request> reqs;
    bool posted = false, counted = true;
    explicit group_item(std::vector<op> o) : item("NCCL group"), ops(std::move(o))
    {
        for (const op &x : ops) x.comm->queued++;
    }
    ~group_item() override { uncount(); }
    void uncount()
    {
        if (counted)
            for (const op &x : ops) x.comm->queued--;
        counted = false;
    }

    bool aborted() const
    {
        for (const op &o : ops)
            if (o.comm->aborted) return true;
        return false;
    }

    void post()
    {
        pdsim::device_access open;
        bufs.resize(ops.size());
        reqs.assign(ops.size(), MPI_REQUEST_NULL);
        for (size_t i = 0; i < ops.size(); i++) {
            const op &o = ops[i];
            std::vector<char> &b = bufs[i];
            b.resize(o.bytes ? o.bytes : 1);
            if (o.kind != op_kind::recv && o.bytes) memcpy(b.data(), o.src, o.bytes);
            int rc;
            if (o.kind == op_kind::send) /* synchronous: done when received, as an NCCL send */
                rc = PMPI_Issend(b.data(), (int)o.bytes, MPI_BYTE, o.peer, TAG, o.comm->comm, &reqs[i]);
            else if (o.kind == op_kind::recv)
                rc = PMPI_Irecv(b.data(), (int)o.bytes, MPI_BYTE, o.peer, TAG, o.comm->comm, &reqs[i]);
            else
                rc = PMPI_Iallreduce(MPI_IN_PLACE, b.data(), (int)o.count, mpi_type(o.type), mpi_op(o.red),
                                    o.comm->comm, &reqs[i]);
            if (rc != MPI_SUCCESS) pdsim::fatal("NCCL over MPI: posting an operation failed (MPI error %d)", rc);
        }
        posted = true;
    }

    /* Point-to-point requests are cancelled; a collective's cannot be (MPI forbids it): it stays
     * pending, with its buffer, for the life of the process. */
    void cancel()
    {
        for (size_t i = 0; i < reqs.size(); i++) {
            if (reqs[i] == MPI_REQUEST_NULL) continue;
            if (ops[i].kind == op_kind::allreduce) {
                abandoned().push_back(std::move(bufs[i]));
                continue;
            }
            PMPI_Cancel(&reqs[i]);
            PMPI_Request_free(&reqs[i]);
        }
    }
    static std::vector<std::vector<char>> &abandoned()
    {
        static std::vector<std::vector<char>> a;
        return a;
    }

    bool step() override
    {
        if (aborted()) {
            cancel();
            uncount();
            return true;
        }
        if (!posted) post();
        int done = 0;
        std::vector<MPI_Status> st(reqs.size());
        if (PMPI_Testall((int)reqs.size(), reqs.data(), &done, st.data()) != MPI_SUCCESS)
            pdsim::fatal("NCCL over MPI: a transfer failed (a receive larger than its send truncates)");
        if (!done) return false;
        pdsim::device_access open;
        for (size_t i = 0; i < ops.size(); i++) {
            const op &o = ops[i];
            if (o.kind == op_kind::send) {
                /* the buffer may change only once the send is complete (the caller waits for that) */
                if (o.bytes && memcmp(o.src, bufs[i].data(), o.bytes) != 0)
                    pdsim::fatal("NCCL: the buffer of an ncclSend to rank %d (%zu bytes) changed before the send "
                                 "completed", o.peer, o.bytes);
                continue;
            }
            if (o.kind == op_kind::recv) {
                int got = 0;
                PMPI_Get_count(&st[i], MPI_BYTE, &got);
                if ((size_t)got != o.bytes)
                    pdsim::fatal("NCCL: ncclRecv of %zu bytes from rank %d matched an ncclSend of %d bytes", o.bytes,
                                 o.peer, got);
            }
            if (o.bytes) memcpy(o.dst, bufs[i].data(), o.bytes);
        }
        uncount();
        return true;
    }
};

/* Queue the group's operations, one item per stream, in the order they were called. */
ncclResult_t flush_group()
{
    std::vector<op> ops;
    ops.swap(group_ops);
    bool in_progress = false;
    while (!ops.empty()) {
        cudaStream_t s = ops.front().stream;
        std::vector<op> mine, rest;
        for (op &o : ops) (o.stream == s ? mine : rest).push_back(o);
        pdsim::stream *ps = pdsim::resolve(s);
        if (!ps) return usage(mine.front().comm, "an operation on a stream that is not live");
        for (const op &o : mine) in_progress = in_progress || !o.comm->blocking;
        for (const op &o : mine)
            if (!o.comm->blocking) o.comm->async = ncclInProgress; /* until polled once */
        pdsim::enqueue(ps, std::make_unique<group_item>(std::move(mine)));
        pdsim::progress(ps, false); /* posted now unless earlier work on the stream is still queued */
        ops.swap(rest);
    }
    return in_progress ? ncclInProgress : ncclSuccess;
}

ncclResult_t add(const op &o)
{
    if (!o.comm) return usage(nullptr, "NULL communicator");
    if (o.comm->aborted) return usage(o.comm, "the communicator was aborted");
    if (o.kind != op_kind::allreduce && (o.peer < 0 || o.peer >= o.comm->size))
        return usage(o.comm, "peer %d out of range", o.peer);
    if (o.kind == op_kind::allreduce && (mpi_type(o.type) == MPI_DATATYPE_NULL || mpi_op(o.red) == MPI_OP_NULL))
        return usage(o.comm, "ncclAllReduce: unsupported type or operation");
    if (o.bytes > (size_t)0x7fffffff) return usage(o.comm, "a transfer of %zu bytes: over 2 GiB", o.bytes);
    const bool src_dev = o.kind == op_kind::recv || !o.bytes || pdsim::classify(o.src, o.bytes) == pdsim::mem::device;
    const bool dst_dev = o.kind == op_kind::send || !o.bytes || pdsim::classify(o.dst, o.bytes) == pdsim::mem::device;
    if (!src_dev) return usage(o.comm, "the send buffer is not a device range: %s", pdsim::describe(o.src));
    if (!dst_dev) return usage(o.comm, "the receive buffer is not a device range: %s", pdsim::describe(o.dst));
    group_ops.push_back(o);
    return group_depth > 0 ? ncclSuccess : flush_group();
}

/* The transfers progress while the host waits in MPI only if MPI_Recv is mpi_progress.c's wrapper. */
void check_progress_wrappers()
{
    Dl_info mine, recv;
    void *marker = dlsym(RTLD_DEFAULT, "pd_sim_mpi_progress_linked"), *f = dlsym(RTLD_DEFAULT, "MPI_Recv");
    if (!marker || !f || !dladdr(marker, &mine) || !dladdr(f, &recv) || mine.dli_fbase != recv.dli_fbase)
        pdsim::fatal("NCCL: MPI_Recv is not cudasim's wrapper (%s): link the program against pd_cudasim so that "
                     "mpi_progress.c is in it", f && dladdr(f, &recv) ? recv.dli_fname : "not found");
}

uint64_t id_hash(const ncclUniqueId &id)
{
    uint64_t h = 1469598103934665603ull;
    for (char c : id.internal) h = (h ^ (unsigned char)c) * 1099511628211ull;
    return h;
}

} // namespace

extern "C" {

const char *ncclGetErrorString(ncclResult_t r)
{
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    }
    return "unknown result code";
}

const char *ncclGetLastError(ncclComm_t comm) { return comm ? comm->last.c_str() : global_last.c_str(); }

ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
    static unsigned counter = 0;
    if (!id) return ncclInvalidArgument;
    memset(id, 0, sizeof *id);
    int world = 0;
    PMPI_Comm_rank(MPI_COMM_WORLD, &world);
    snprintf(id->internal, sizeof id->internal, "cudasim:%ld:%d:%u", (long)getpid(), world, ++counter);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *cfg)
{
    int world = 0, init = 0;
    PMPI_Initialized(&init);
    if (!comm || !init) return usage(nullptr, "ncclCommInitRank before MPI_Init or without a result pointer");
    PMPI_Comm_size(MPI_COMM_WORLD, &world);
    if (nranks != world)
        return usage(nullptr, "%d ranks: cudasim's communicators span MPI_COMM_WORLD (%d)", nranks, world);
    if (rank < 0 || rank >= nranks) return usage(nullptr, "rank %d out of range", rank);
    check_progress_wrappers();
    pd_sim_nccl *c = new pd_sim_nccl;
    c->blocking = !cfg || cfg->blocking != 0;
    PMPI_Comm_split(MPI_COMM_WORLD, 0, rank, &c->comm);
    PMPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN); /* cudasim's messages, not MPI's abort */
    PMPI_Comm_rank(c->comm, &c->rank);
    PMPI_Comm_size(c->comm, &c->size);
    /* every rank must bring the same id and its own rank */
    unsigned long long h = id_hash(id), lo = 0, hi = 0;
    PMPI_Allreduce(&h, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, c->comm);
    PMPI_Allreduce(&h, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, c->comm);
    if (lo != hi || c->rank != rank) {
        PMPI_Comm_free(&c->comm);
        delete c;
        return usage(nullptr, "%s", lo != hi ? "the ranks brought different unique ids" : "two ranks gave the same rank");
    }
    *comm = c;
    if (c->blocking) return ncclSuccess;
    c->async = ncclInProgress; /* as NCCL's non-blocking init: done once polled */
    return ncclInProgress;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
    return ncclCommInitRankConfig(comm, nranks, id, rank, nullptr);
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *state)
{
    if (!comm || !state) return ncclInvalidArgument;
    if (comm->finalizing) { /* in progress until the communicator's transfers are done */
        pdsim::progress_transfers();
        *state = comm->queued > 0 ? ncclInProgress : ncclSuccess;
        return ncclSuccess;
    }
    *state = comm->async;
    if (comm->async == ncclInProgress) comm->async = ncclSuccess;
    return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t comm)
{
    if (!comm) return ncclInvalidArgument;
    if (comm->aborted) return usage(comm, "ncclCommFinalize after ncclCommAbort");
    comm->finalizing = true;
    pdsim::progress_transfers();
    if (comm->blocking) {
        for (int polls = 0; comm->queued > 0; pdsim::backoff(&polls)) pdsim::progress_transfers();
        return ncclSuccess;
    }
    return comm->queued > 0 ? ncclInProgress : ncclSuccess;
}

/* NCCL wants ncclCommFinalize first; a destroy with transfers in flight waits for them. */
ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    if (!comm) return ncclInvalidArgument;
    for (int polls = 0; comm->queued > 0; pdsim::backoff(&polls)) pdsim::progress_transfers();
    PMPI_Comm_free(&comm->comm);
    delete comm;
    return ncclSuccess;
}

/* The communicator stays allocated (queued items may still name it); its MPI communicator is kept:
 * freeing it with cancelled requests outstanding is not allowed. */
ncclResult_t ncclCommAbort(ncclComm_t comm)
{
    if (!comm) return ncclInvalidArgument;
    comm->aborted = true;
    pdsim::progress_all(false); /* queued items of this communicator cancel themselves */
    return ncclSuccess;
}

ncclResult_t ncclGroupStart(void)
{
    group_depth++;
    return ncclSuccess;
}

ncclResult_t ncclGroupEnd(void)
{
    if (group_depth == 0) return usage(nullptr, "ncclGroupEnd without ncclGroupStart");
    return --group_depth > 0 ? ncclSuccess : flush_group();
}

ncclResult_t ncclSend(const void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t stream)
{
    return add(op{op_kind::send, buf, nullptr, count, count * type_size(type), type, ncclSum, peer, comm, stream});
}

ncclResult_t ncclRecv(void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t stream)
{
    return add(op{op_kind::recv, nullptr, buf, count, count * type_size(type), type, ncclSum, peer, comm, stream});
}

ncclResult_t ncclAllReduce(const void *sendbuf, void *recvbuf, size_t count, ncclDataType_t type, ncclRedOp_t red,
                           ncclComm_t comm, cudaStream_t stream)
{
    return add(op{op_kind::allreduce, sendbuf, recvbuf, count, count * type_size(type), type, red, -1, comm, stream});
}

} /* extern "C" */
