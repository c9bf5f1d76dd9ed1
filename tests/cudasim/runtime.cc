/* cudasim runtime: device memory, streams and events, copies, errors and devices (cuda_runtime.h).
 *
 * Device memory is mapped pages of its own, PROT_NONE except while device work runs (a kernel, a
 * copy, a cuBLAS call, a transfer), so host code that reads or writes device memory faults where it
 * does it; each allocation ends (8-byte aligned) against an unmapped guard page, so a kernel that runs
 * past its end faults too (a float array of odd length has 4 bytes of slack). Work queued on a stream runs only when something waits for it, so host code
 * that reads a pinned buffer before waiting for the copy into it reads stale data, as on a GPU.
 * PD_CUDASIM_DEVICES sets how many devices cudaGetDeviceCount reports (default 0: none, so that
 * device.kind auto keeps a SIM build's CPU tests on the CPU; the GPU tests set 2);
 * PD_CUDASIM_PROTECT=0 leaves device memory readable. */
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

namespace pdsim {

/* ------------------------------------------------------------------------------------------ errors */

static thread_local cudaError_t last_error = cudaSuccess;

cudaError_t set_error(cudaError_t e)
{
    if (e != cudaSuccess) last_error = e;
    return e;
}

static void vreport(const char *fmt, va_list ap)
{
    fprintf(stderr, "cudasim: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    fflush(stderr);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    abort();
}

cudaError_t fail(cudaError_t e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    return set_error(e);
}

/* ------------------------------------------------------------------------------------------ memory */

struct region {
    char *map;     /* the mapping: guard page, data pages, guard page */
    size_t map_len;
    char *data;    /* what cudaMalloc returned */
    size_t bytes;  /* what was asked for */
    char *pages;   /* first data page */
    size_t pages_len;
};

static std::map<uintptr_t, region> device_regions; /* by data address */
static std::map<uintptr_t, size_t> pinned_regions;
static int access_depth = 0;

static size_t page_size() { static const size_t p = (size_t)sysconf(_SC_PAGESIZE); return p; }

static bool protect_on()
{
    static const int on = [] {
        const char *e = getenv("PD_CUDASIM_PROTECT");
        return e && !strcmp(e, "0") ? 0 : 1;
    }();
    return on != 0;
}

static void set_protection(const region &r, bool open)
{
    if (!protect_on()) return;
    if (mprotect(r.pages, r.pages_len, open ? PROT_READ | PROT_WRITE : PROT_NONE) != 0)
        fatal("mprotect of device memory failed: %s", strerror(errno));
}

device_access::device_access()
{
    if (access_depth++ == 0)
        for (auto &kv : device_regions) set_protection(kv.second, true);
}

device_access::~device_access()
{
    if (--access_depth == 0)
        for (auto &kv : device_regions) set_protection(kv.second, false);
}

/* the device region holding address a (its guard pages included), or NULL: the last region whose data
 * starts at or before a (a is in its data or back guard), or the next one (a is in its front guard) */
static const region *region_of(uintptr_t a)
{
    auto in = [a](const region &r) { return a >= (uintptr_t)r.map && a < (uintptr_t)r.map + r.map_len; };
    auto it = device_regions.upper_bound(a);
    if (it != device_regions.begin() && in(std::prev(it)->second)) return &std::prev(it)->second;
    if (it != device_regions.end() && in(it->second)) return &it->second;
    return nullptr;
}

mem classify(const void *p, size_t bytes)
{
    const uintptr_t a = (uintptr_t)p;
    auto it = device_regions.upper_bound(a);
    if (it != device_regions.begin()) {
        const region &r = std::prev(it)->second;
        if (a >= (uintptr_t)r.data && a < (uintptr_t)r.data + (r.bytes ? r.bytes : 1))
            return a + bytes <= (uintptr_t)r.data + r.bytes ? mem::device : mem::bad_device;
    }
    auto pt = pinned_regions.upper_bound(a);
    if (pt != pinned_regions.begin()) {
        --pt;
        if (a >= pt->first && a + bytes <= pt->first + pt->second) return mem::pinned;
    }
    return mem::host;
}

const char *describe(const void *p)
{
    static char bufs[4][160]; /* a message may describe several pointers */
    static unsigned next = 0;
    char *buf = bufs[next++ % 4];
    const size_t len = sizeof bufs[0];
    const region *r = region_of((uintptr_t)p);
    if (!r)
        snprintf(buf, len, "%p (host memory)", p);
    else if ((uintptr_t)p < (uintptr_t)r->data)
        snprintf(buf, len, "%p (%td bytes before a device allocation of %zu bytes)", p,
                 r->data - (const char *)p, r->bytes);
    else
        snprintf(buf, len, "%p (offset %td of a device allocation of %zu bytes)", p,
                 (const char *)p - r->data, r->bytes);
    return buf;
}

/* A fault in device memory: say whose (host code touching device memory, or past an allocation). */
static void explain_fault(uintptr_t a)
{
    const region *r = region_of(a);
    if (!r) return;
    if (a >= (uintptr_t)r->pages && a < (uintptr_t)r->pages + r->pages_len && access_depth == 0)
        fprintf(stderr, "cudasim: host code touched device memory at %s\n", describe((void *)a));
    else
        fprintf(stderr, "cudasim: access outside a device allocation at %s\n", describe((void *)a));
}

/* Under ASan its own SEGV report (with the stack) comes instead unless ASAN_OPTIONS has handle_segv=0. */
static void on_segv(int sig, siginfo_t *si, void *)
{
    explain_fault((uintptr_t)si->si_addr);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_fault_report()
{
    static bool done = false;
    if (done) return;
    done = true;
    /* on a stack of its own: a kernel thread that overflows its stack faults on the guard page below it */
    static std::vector<char> alt(64 * 1024);
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, nullptr);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, nullptr);
}

/* ------------------------------------------------------------------------------------------ streams */

struct stream {
    std::deque<std::unique_ptr<item>> q;
    uint64_t queued = 0, finished = 0; /* items ever queued, ever finished */
    bool running = false;              /* inside progress_once: an item waiting on this stream re-enters */
};

static stream legacy;
static std::set<stream *> live_streams;
static std::vector<stream *> retired; /* destroyed with work left: it still runs, as on a GPU */

stream *resolve(cudaStream_t s)
{
    if (s == nullptr || s == cudaStreamLegacy) return &legacy;
    stream *p = reinterpret_cast<stream *>(s);
    return live_streams.count(p) ? p : nullptr;
}

void enqueue(stream *s, std::unique_ptr<item> it)
{
    s->q.push_back(std::move(it));
    s->queued++;
}

namespace {
struct fn_item : item {
    std::function<void()> fn;
    fn_item(const char *w, std::function<void()> f) : item(w), fn(std::move(f)) {}
    bool step() override
    {
        device_access open;
        fn();
        return true;
    }
};
} // namespace

void enqueue_fn(stream *s, const char *what, std::function<void()> fn)
{
    enqueue(s, std::make_unique<fn_item>(what, std::move(fn)));
}

void backoff(int *polls)
{
    if (++*polls < 200) return;
    if (*polls < 2000) {
        sched_yield();
        return;
    }
    struct timespec t = {0, 50000};
    nanosleep(&t, nullptr);
}

static bool progress_once(stream *s)
{
    if (s->running) return s->q.empty();
    s->running = true;
    while (!s->q.empty()) {
        if (!s->q.front()->step()) break;
        s->q.pop_front();
        s->finished++;
    }
    s->running = false;
    return s->q.empty();
}

void progress(stream *s, bool block)
{
    int polls = 0;
    while (!progress_once(s) && block) backoff(&polls);
}

static void progress_retired()
{
    for (size_t i = 0; i < retired.size();) {
        if (progress_once(retired[i])) {
            delete retired[i];
            retired.erase(retired.begin() + (long)i);
        } else {
            i++;
        }
    }
}

void progress_transfers()
{
    for (stream *s : live_streams) progress_once(s);
    progress_retired();
}

} // namespace pdsim

extern "C" void pd_sim_progress_transfers(void) { pdsim::progress_transfers(); }
extern "C" void pd_sim_backoff(int *polls) { pdsim::backoff(polls); }

namespace pdsim {

void progress_all(bool block)
{
    int polls = 0;
    for (;;) {
        bool done = progress_once(&legacy);
        for (stream *s : live_streams) done = progress_once(s) && done;
        progress_retired();
        done = done && retired.empty();
        if (done || !block) return;
        backoff(&polls);
    }
}

} // namespace pdsim

using namespace pdsim;

struct pd_sim_event {
    stream *s = nullptr; /* where it was last recorded (NULL: never: complete) */
    uint64_t target = 0; /* complete once s->finished reaches it */
};
static std::set<pd_sim_event *> live_events;

static bool event_done(pd_sim_event *e) { return !e->s || e->s->finished >= e->target; }

/* ------------------------------------------------------------------------------------------ the API */

extern "C" {

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unknown error";
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

/* ---------------------------------------------------------------- devices */

static int n_devices()
{
    const char *e = getenv("PD_CUDASIM_DEVICES");
    return e ? atoi(e) : 0;
}

static int current_device = 0;

cudaError_t cudaGetDeviceCount(int *n)
{
    if (!n) return set_error(cudaErrorInvalidValue);
    if (n_devices() < 1) return set_error(cudaErrorNoDevice);
    *n = n_devices();
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev)
{
    if (dev < 0 || dev >= n_devices()) return set_error(cudaErrorInvalidDevice);
    current_device = dev;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *dev)
{
    if (!dev) return set_error(cudaErrorInvalidValue);
    *dev = current_device;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetPCIBusId(char *buf, int len, int dev)
{
    if (dev < 0 || dev >= n_devices()) return set_error(cudaErrorInvalidDevice);
    if (!buf || len < 13) return set_error(cudaErrorInvalidValue);
    snprintf(buf, (size_t)len, "0000:%02x:00.0", 0x10 + dev);
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
    progress_all(true);
    return cudaSuccess;
}

/* ---------------------------------------------------------------- memory */

cudaError_t cudaMalloc(void **p, size_t bytes)
{
    if (!p) return set_error(cudaErrorInvalidValue);
    if (n_devices() < 1) return set_error(cudaErrorNoDevice);
    install_fault_report();
    const size_t pg = page_size(), used = (bytes + 7) / 8 * 8, pages_len = (used + pg - 1) / pg * pg;
    const size_t map_len = pages_len + 2 * pg;
    if (pages_len < used || map_len < pages_len) return set_error(cudaErrorMemoryAllocation);
    void *m = mmap(nullptr, map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return set_error(cudaErrorMemoryAllocation);
    region r;
    r.map = (char *)m;
    r.map_len = map_len;
    r.pages = r.map + pg;
    r.pages_len = pages_len;
    r.data = r.pages + pages_len - used; /* against the back guard page, 8-byte aligned */
    r.bytes = bytes;
    /* device memory holds garbage until written: fill it with a NaN pattern rather than zeros */
    if (mprotect(r.pages, pages_len, PROT_READ | PROT_WRITE) != 0) {
        munmap(m, map_len);
        return set_error(cudaErrorMemoryAllocation);
    }
    memset(r.pages, 0xff, pages_len);
    device_regions[(uintptr_t)r.data] = r;
    if (access_depth == 0) set_protection(r, false);
    *p = r.data;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    if (!p) return cudaSuccess;
    progress_all(true); /* cudaFree waits for the device */
    auto it = device_regions.find((uintptr_t)p);
    if (it == device_regions.end())
        return fail(cudaErrorInvalidValue, "cudaFree(%s): not the start of a live device allocation", describe(p));
    munmap(it->second.map, it->second.map_len);
    device_regions.erase(it);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t bytes)
{
    if (!p) return set_error(cudaErrorInvalidValue);
    if (n_devices() < 1) return set_error(cudaErrorNoDevice);
    void *m = malloc(bytes ? bytes : 1);
    if (!m) return set_error(cudaErrorMemoryAllocation);
    memset(m, 0xff, bytes);
    pinned_regions[(uintptr_t)m] = bytes ? bytes : 1;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p)
{
    if (!p) return cudaSuccess;
    progress_all(true);
    auto it = pinned_regions.find((uintptr_t)p);
    if (it == pinned_regions.end())
        return fail(cudaErrorInvalidValue, "cudaFreeHost(%p): not memory from cudaMallocHost", p);
    pinned_regions.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t bytes)
{
    if (bytes == 0) return cudaSuccess;
    if (classify(p, bytes) != mem::device)
        return fail(cudaErrorInvalidValue, "cudaMemset(%s, %zu bytes): not a device range", describe(p), bytes);
    enqueue_fn(&legacy, "cudaMemset", [=] { memset(p, value, bytes); });
    return cudaSuccess;
}

static const char *kind_name(cudaMemcpyKind k)
{
    static const char *names[] = {"HostToHost", "HostToDevice", "DeviceToHost", "DeviceToDevice", "Default"};
    return (unsigned)k < 5 ? names[k] : "?";
}

/* The copy's direction checked against where the pointers are (cudaMemcpyDefault: inferred). */
static cudaError_t check_copy(const char *call, void *dst, const void *src, size_t bytes, cudaMemcpyKind *kind)
{
    const mem d = classify(dst, bytes), s = classify(src, bytes);
    if (d == mem::bad_device || s == mem::bad_device)
        return fail(cudaErrorInvalidValue, "%s of %zu bytes: runs past the end of a device allocation (dst %s)",
                    call, bytes, describe(d == mem::bad_device ? dst : src));
    const bool dd = d == mem::device, sd = s == mem::device;
    if (*kind == cudaMemcpyDefault)
        *kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                   : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    const bool want_dd = *kind == cudaMemcpyHostToDevice || *kind == cudaMemcpyDeviceToDevice;
    const bool want_sd = *kind == cudaMemcpyDeviceToHost || *kind == cudaMemcpyDeviceToDevice;
    if ((unsigned)*kind > cudaMemcpyDeviceToDevice)
        return fail(cudaErrorInvalidMemcpyDirection, "%s: invalid kind %d", call, (int)*kind);
    if (want_dd != dd || want_sd != sd)
        return fail(cudaErrorInvalidValue, "%s(kind %s): destination %s, source %s", call, kind_name(*kind),
                    describe(dst), describe(src));
    return cudaSuccess;
}

/* Queue the copy on s; the source is read when the copy runs, except pageable host memory, which the
 * runtime stages at the call (the caller may reuse it at once). */
static void queue_copy(stream *s, void *dst, const void *src, size_t bytes)
{
    if (classify(src, bytes) == mem::host) {
        auto staged = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + bytes);
        enqueue_fn(s, "cudaMemcpy", [=] { memcpy(dst, staged->data(), bytes); });
    } else {
        enqueue_fn(s, "cudaMemcpy", [=] { memcpy(dst, src, bytes); });
    }
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    if (bytes == 0) return cudaSuccess;
    cudaError_t e = check_copy("cudaMemcpy", dst, src, bytes, &kind);
    if (e != cudaSuccess) return e;
    queue_copy(&legacy, dst, src, bytes);
    /* synchronous for the host except device to device */
    if (kind != cudaMemcpyDeviceToDevice) progress(&legacy, true);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t on)
{
    stream *s = resolve(on);
    if (!s) return fail(cudaErrorInvalidResourceHandle, "cudaMemcpyAsync: not a live stream");
    if (bytes == 0) return cudaSuccess;
    cudaError_t e = check_copy("cudaMemcpyAsync", dst, src, bytes, &kind);
    if (e != cudaSuccess) return e;
    queue_copy(s, dst, src, bytes);
    /* into pageable host memory the copy is synchronous */
    if (kind == cudaMemcpyDeviceToHost && classify(dst, bytes) == mem::host) progress(s, true);
    return cudaSuccess;
}

/* ---------------------------------------------------------------- streams and events */

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
    if (!s || flags > cudaStreamNonBlocking) return set_error(cudaErrorInvalidValue);
    if (n_devices() < 1) return set_error(cudaErrorNoDevice);
    stream *p = new stream;
    live_streams.insert(p);
    *s = reinterpret_cast<cudaStream_t>(p);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    stream *p = resolve(s);
    if (!p || p == &legacy) return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: not a live stream");
    live_streams.erase(p);
    for (pd_sim_event *e : live_events)
        if (e->s == p && !event_done(e)) progress(p, true); /* an event still waits for it */
    if (progress_once(p)) delete p;
    else retired.push_back(p);
    for (pd_sim_event *e : live_events)
        if (e->s == p) e->s = nullptr;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    stream *p = resolve(s);
    if (!p) return fail(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: not a live stream");
    progress(p, true);
    return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned flags)
{
    if (!ev || (flags & ~3u)) return set_error(cudaErrorInvalidValue);
    pd_sim_event *e = new pd_sim_event;
    live_events.insert(e);
    *ev = e;
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t ev)
{
    if (!live_events.erase(ev)) return fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: not a live event");
    delete ev;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t s)
{
    stream *p = resolve(s);
    if (!live_events.count(ev) || !p) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: bad event or stream");
    ev->s = p;
    ev->target = p->queued;
    return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t ev)
{
    if (!live_events.count(ev)) return fail(cudaErrorInvalidResourceHandle, "cudaEventQuery: not a live event");
    if (ev->s) progress(ev->s, false);
    return event_done(ev) ? cudaSuccess : set_error(cudaErrorNotReady);
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev)
{
    if (!live_events.count(ev)) return fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: not a live event");
    int polls = 0;
    while (ev->s && !event_done(ev)) {
        progress(ev->s, false);
        backoff(&polls);
    }
    return cudaSuccess;
}

} /* extern "C" */

namespace {
/* A stream's wait for an event: later work on the stream runs after the event's work. */
struct wait_item : item {
    stream *s;
    uint64_t target;
    wait_item(stream *on, uint64_t t) : item("cudaStreamWaitEvent"), s(on), target(t) {}
    bool step() override
    {
        if (s->finished >= target) return true;
        if (!live_streams.count(s) && s != &legacy) return true; /* destroyed: its work was waited for */
        progress(s, false); /* a stream already running (one that waits on itself) returns at once */
        return s->finished >= target;
    }
};
} // namespace

extern "C" cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t ev, unsigned flags)
{
    stream *p = resolve(s);
    if (!p || !live_events.count(ev) || flags) return fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: bad arguments");
    if (!event_done(ev)) enqueue(p, std::make_unique<wait_item>(ev->s, ev->target));
    return cudaSuccess;
}
