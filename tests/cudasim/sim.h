/* cudasim internals shared by runtime.cc, blas.cc and nccl.cc (C++17). */
#ifndef PD_CUDASIM_SIM_H
#define PD_CUDASIM_SIM_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "cuda_runtime.h"

namespace pdsim {

/* What a pointer range is: inside one live device allocation, inside pinned host memory, or neither. */
enum class mem { device, pinned, host, bad_device };
/* bad_device: starts in a device allocation but runs past its end. */
mem classify(const void *p, size_t bytes);
const char *describe(const void *p); /* "device allocation of N bytes at +OFF" or "host memory" */

/* Print "cudasim: ..." with the call that broke a rule and stop the process, as a GPU's illegal address
 * stops the context. */
[[noreturn]] void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A rule broken at an API call: tell why on stderr and return e (also the last error). */
cudaError_t fail(cudaError_t e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
cudaError_t set_error(cudaError_t e);

/* While one of these lives, device memory is readable and writable (the device is "running"). Between
 * them it is PROT_NONE, so host code that touches device memory faults at the access. */
struct device_access {
    device_access();
    ~device_access();
    device_access(const device_access &) = delete;
    device_access &operator=(const device_access &) = delete;
};

/* Work on a stream runs in order, when something waits for it (a synchronous copy, a synchronisation,
 * an event query): not at the call, as on a GPU. step() does what it can; true when finished. */
struct item {
    const char *what;
    explicit item(const char *w) : what(w) {}
    virtual ~item() = default;
    virtual bool step() = 0;
};
/* stream 0 and cudaStreamLegacy are the legacy default stream; NULL when s is not a live stream */
struct stream;
stream *resolve(cudaStream_t s);
void enqueue(stream *s, std::unique_ptr<item> it);
void enqueue_fn(stream *s, const char *what, std::function<void()> fn); /* a step that always finishes */
/* Run queued work: all of it (waiting for transfers) or, with block = false, what can finish now. */
void progress(stream *s, bool block);
void progress_all(bool block);
/* What the device would do by itself meanwhile: steps on every stream but the legacy default one (called
 * while the host waits in MPI: mpi_progress.cc). */
void progress_transfers();
/* Between polls of a wait: spin, then yield the core (ranks may share few cores). */
void backoff(int *polls);

} // namespace pdsim

#endif
