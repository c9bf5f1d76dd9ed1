/* cudasim kernels: launch checks and the block scheduler (cudasim_kernel.h says what it guarantees).
 *
 * A block's threads are fibers on this one OS thread (made once, reused by every block and launch). The scheduler resumes every runnable
 * thread in turn until it finishes or stops at a barrier; when none can run, it releases a warp whose
 * lanes all wait at a warp barrier, or the block when every thread waits at the same __syncthreads
 * (a thread that finished without reaching it skipped it), and otherwise reports the threads'
 * disagreement and stops. Each stack has a guard page. */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "cudasim_kernel.h"
#include "sim.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

enum class state { run, at_block, at_warp, done };

/* ------------------------------------------------------------------------ context switches */
#if defined(__x86_64__)
/* Save the callee-saved registers and the FPU control words on this stack, store the stack pointer in
 * *save, continue on stack `to` (a stack saved the same way). No system call: swapcontext's signal-mask
 * calls made the switches at barriers the simulation's main cost. */
extern "C" void pd_sim_switch(void **save, void *to);
asm(R"(
    .pushsection .text
    .globl pd_sim_switch
    .type pd_sim_switch, @function
pd_sim_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size pd_sim_switch, .-pd_sim_switch
    .popsection
)");

struct context {
    void *sp = nullptr;
};
void thread_entry();
extern "C" void pd_sim_thread_start() { thread_entry(); }

/* A stack that pd_sim_switch "returns" into pd_sim_thread_start on, as if called (rsp = 8 mod 16). */
void make_context(context *c, char *stack, size_t bytes)
{
    uint64_t *sp = (uint64_t *)(((uintptr_t)(stack + bytes) & ~(uintptr_t)15) - 16);
    *--sp = 0;                                    /* no caller: ends a backtrace */
    *--sp = (uint64_t)(uintptr_t)pd_sim_thread_start; /* where ret goes; at 0 mod 16 */
    for (int r = 0; r < 6; r++) *--sp = 0;        /* rbp rbx r12 r13 r14 r15 */
    uint32_t fpu[2];
    asm volatile("stmxcsr %0" : "=m"(fpu[0]));
    asm volatile("fnstcw %0" : "=m"(fpu[1]));
    *--sp = (uint64_t)fpu[0] | (uint64_t)(fpu[1] & 0xffff) << 32;
    c->sp = sp;
}
void switch_context(context *from, context *to) { pd_sim_switch(&from->sp, to->sp); }
#else
struct context {
    ucontext_t uc;
};
void thread_entry();
void make_context(context *c, char *stack, size_t bytes)
{
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = bytes;
    c->uc.uc_link = nullptr;
    makecontext(&c->uc, thread_entry, 0);
}
void switch_context(context *from, context *to) { swapcontext(&from->uc, &to->uc); }
#endif

struct fiber {
    context ctx;
    char *stack = nullptr;
    state st = state::done;
    unsigned barriers = 0;      /* __syncthreads reached in this block */
    const char *file = nullptr; /* where it waits at __syncthreads */
    int line = 0;
    void *fake_stack = nullptr; /* ASan's, while suspended */
};

#if defined(__SANITIZE_ADDRESS__)
const size_t STACK_BYTES = 512 * 1024; /* ASan's frames are larger */
#else
const size_t STACK_BYTES = 128 * 1024;
#endif

/* Threads are made once and reused: a thread that finishes its block's work waits (state done) until
 * the scheduler starts it on the next block or launch. */
struct scheduler {
    context main_ctx;
    const void *main_bottom = nullptr; /* ASan: the scheduler's stack */
    size_t main_size = 0;
    std::vector<fiber> f;
    unsigned n = 0;   /* threads per block */
    unsigned cur = 0; /* the running thread */
    const std::function<void()> *body = nullptr;
    const char *kernel = "";
    std::vector<uint64_t> slots; /* shuffle exchange, one per thread */
    char *shared_begin = nullptr, *shared_end = nullptr;
    unsigned rounds = 0; /* decides the order of the block's next round of threads (odd: in reverse) */
};
scheduler S;
bool in_kernel = false;

void ensure_threads(unsigned n)
{
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    S.f.reserve(1024);
    while (S.f.size() < n) {
        void *m = mmap(nullptr, STACK_BYTES + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) pdsim::fatal("kernel %s: cannot map a thread stack", S.kernel);
        mprotect(m, pg, PROT_NONE); /* overflow guard */
        S.f.emplace_back();
        fiber &fb = S.f.back();
        fb.stack = (char *)m + pg;
        make_context(&fb.ctx, fb.stack, STACK_BYTES);
    }
}

void set_coords(unsigned t)
{
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

/* from a thread back to the scheduler */
void yield_to_main()
{
    fiber &me = S.f[S.cur];
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(&me.fake_stack, S.main_bottom, S.main_size);
#endif
    switch_context(&me.ctx, &S.main_ctx);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(me.fake_stack, &S.main_bottom, &S.main_size);
#endif
}

void thread_entry()
{
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(nullptr, &S.main_bottom, &S.main_size);
#endif
    for (;;) {
        (*S.body)();
        S.f[S.cur].st = state::done;
        yield_to_main();
    }
}

void resume(unsigned t)
{
    S.cur = t;
    set_coords(t);
    fiber &fb = S.f[t];
    void *fake = nullptr;
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(&fake, fb.stack, STACK_BYTES);
#endif
    switch_context(&S.main_ctx, &fb.ctx);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    (void)fake;
}

unsigned warp_size(unsigned w) { return S.n - w * 32 < 32 ? S.n - w * 32 : 32; }

/* Release what can go on after every thread has stopped; false when nothing can (a deadlock). */
bool release()
{
    bool any = false;
    const unsigned warps = (S.n + 31) / 32;
    for (unsigned w = 0; w < warps; w++) {
        unsigned waiting = 0, dead = 0, m = warp_size(w);
        for (unsigned l = 0; l < m; l++) {
            state s = S.f[w * 32 + l].st;
            waiting += s == state::at_warp;
            dead += s == state::done;
        }
        if (waiting == 0) continue;
        if (waiting + dead < m) continue; /* other lanes at __syncthreads: reported below */
        if (dead)
            pdsim::fatal("kernel %s, block (%u,%u,%u), warp %u: %u lanes wait at a warp barrier or shuffle that "
                         "%u finished lanes never reached (full-warp mask)",
                         S.kernel, blockIdx.x, blockIdx.y, blockIdx.z, w, waiting, dead);
        for (unsigned l = 0; l < m; l++) S.f[w * 32 + l].st = state::run;
        any = true;
    }
    if (any) return true;
    unsigned at_block = 0, live = 0;
    for (unsigned t = 0; t < S.n; t++) {
        at_block += S.f[t].st == state::at_block;
        live += S.f[t].st != state::done;
    }
    if (live == 0) return true;
    if (at_block == live) {
        /* a thread that finished without reaching this barrier skipped it: undefined on a GPU */
        unsigned k = 0;
        const fiber *w = nullptr;
        for (unsigned t = 0; t < S.n; t++)
            if (S.f[t].st == state::at_block) k = S.f[t].barriers, w = &S.f[t];
        for (unsigned t = 0; t < S.n; t++) {
            const fiber &f = S.f[t];
            if (f.st == state::done && f.barriers < k) return false;
            if (f.st == state::at_block && (f.line != w->line || strcmp(f.file, w->file) != 0))
                return false; /* two different __syncthreads */
        }
        for (unsigned t = 0; t < S.n; t++)
            if (S.f[t].st == state::at_block) S.f[t].st = state::run;
        return true;
    }
    return false;
}

[[noreturn]] void report_deadlock()
{
    std::string who;
    for (unsigned t = 0; t < S.n && who.size() < 300; t++) {
        const state s = S.f[t].st;
        char where[64] = "";
        if (s == state::at_block) {
            const char *base = strrchr(S.f[t].file, '/');
            snprintf(where, sizeof where, "@%s:%d", base ? base + 1 : S.f[t].file, S.f[t].line);
        }
        who += " " + std::to_string(t) + (s == state::at_block ? ":syncthreads" : s == state::at_warp ? ":warp" : ":done") + where;
    }
    pdsim::fatal("kernel %s, block (%u,%u,%u): threads wait at different barriers (a divergent __syncthreads "
                 "or warp barrier):%s", S.kernel, blockIdx.x, blockIdx.y, blockIdx.z, who.c_str());
}

/* Run warp w's lanes (in order or reversed) until none can go on by itself: a warp whose lanes all reach
 * a warp barrier or shuffle goes through it at once, as a warp does on a GPU, and so runs ahead of the
 * other warps up to the next __syncthreads. True when a lane ran. */
bool run_warp(unsigned w, bool reverse)
{
    const unsigned m = warp_size(w);
    bool ran = false;
    for (;;) {
        for (unsigned i = 0; i < m; i++) {
            const unsigned t = w * 32 + (reverse ? m - 1 - i : i);
            if (S.f[t].st == state::run) {
                resume(t);
                ran = true;
            }
        }
        bool all_at_warp = true;
        for (unsigned l = 0; l < m; l++) all_at_warp = all_at_warp && S.f[w * 32 + l].st == state::at_warp;
        if (!all_at_warp) return ran;
        for (unsigned l = 0; l < m; l++) S.f[w * 32 + l].st = state::run;
    }
}

/* Warps run one after another, each up to its next __syncthreads, forwards and backwards in turn (and the
 * other way round in the next block); so do the lanes within a warp between warp barriers. A missing
 * barrier then shows whichever way round the race goes: a read before the write it needs, or a write
 * over a value another thread has not read yet. */
void run_block()
{
    for (unsigned t = 0; t < S.n; t++) S.f[t].st = state::run, S.f[t].barriers = 0;
    if (S.shared_end > S.shared_begin) memset(S.shared_begin, 0xff, (size_t)(S.shared_end - S.shared_begin));
    S.rounds = blockIdx.x + blockIdx.y + blockIdx.z; /* neighbouring blocks start in opposite orders */
    const unsigned warps = (S.n + 31) / 32;
    for (;;) {
        bool ran = false, all_done = true;
        const bool reverse = S.rounds % 2 == 1;
        for (unsigned i = 0; i < warps; i++) ran = run_warp(reverse ? warps - 1 - i : i, reverse) || ran;
        for (unsigned t = 0; t < S.n; t++) all_done = all_done && S.f[t].st == state::done;
        S.rounds += ran;
        if (all_done) return;
        if (!ran && !release()) report_deadlock();
    }
}

void run_kernel(const char *kernel, dim3 grid, dim3 block, const std::function<void()> &body, char *sb, char *se)
{
    pdsim::device_access open;
    S.kernel = kernel;
    S.shared_begin = sb, S.shared_end = se;
    S.body = &body;
    S.n = block.x * block.y * block.z;
    ensure_threads(S.n);
    S.slots.assign(S.n, 0);
    gridDim = grid;
    blockDim = block;
    in_kernel = true;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx.x = x, blockIdx.y = y, blockIdx.z = z;
                run_block();
            }
    in_kernel = false;
}

struct kernel_item : pdsim::item {
    dim3 grid, block;
    std::function<void()> body;
    char *shared_begin, *shared_end;
    kernel_item(const char *k, dim3 g, dim3 b, std::function<void()> f, char *sb, char *se)
        : item(k), grid(g), block(b), body(std::move(f)), shared_begin(sb), shared_end(se) {}
    bool step() override
    {
        run_kernel(what, grid, block, body, shared_begin, shared_end);
        return true;
    }
};

void wait_at(state s)
{
    if (!in_kernel) pdsim::fatal("a barrier outside a kernel");
    S.f[S.cur].st = s;
    yield_to_main();
}

unsigned linear_tid() { return S.cur; }

} // namespace

void pd_sim_syncthreads(const char *file, int line)
{
    S.f[S.cur].barriers++;
    S.f[S.cur].file = file;
    S.f[S.cur].line = line;
    wait_at(state::at_block);
}

void pd_sim_syncwarp(unsigned mask)
{
    const unsigned w = linear_tid() / 32, m = warp_size(w);
    const unsigned full = m == 32 ? 0xffffffffu : (1u << m) - 1u;
    if ((mask & full) != full)
        pdsim::fatal("kernel %s: __syncwarp with mask %#x (cudasim simulates full-warp masks only)", S.kernel, mask);
    wait_at(state::at_warp);
}

uint64_t pd_sim_shfl_xor(unsigned mask, uint64_t bits, int lane_mask, int width)
{
    const unsigned t = linear_tid(), w = t / 32, lane = t % 32;
    if (width != 32) pdsim::fatal("kernel %s: shuffle width %d (cudasim simulates 32 only)", S.kernel, width);
    S.slots[t] = bits;
    pd_sim_syncwarp(mask); /* every lane has written */
    unsigned src = lane ^ (unsigned)lane_mask;
    const uint64_t r = src < warp_size(w) ? S.slots[w * 32 + src] : bits;
    pd_sim_syncwarp(mask); /* every lane has read before the slots are reused */
    return r;
}

void pd_sim_check_kernel_pointer(const char *kernel, int arg, const void *p)
{
    const pdsim::mem m = pdsim::classify(p, 1);
    if (p && m != pdsim::mem::device && m != pdsim::mem::pinned) /* pinned memory is mapped for the device */
        pdsim::fatal("kernel %s: argument %d is not device memory: %s", kernel, arg, pdsim::describe(p));
}

void pd_sim_launch_kernel(const char *kernel, dim3 grid, dim3 block, size_t shmem, cudaStream_t stream,
                          std::function<void()> body, char *shared_begin, char *shared_end)
{
    const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (shmem) pdsim::fatal("kernel %s: dynamic shared memory is not simulated", kernel);
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
        pdsim::fail(cudaErrorInvalidConfiguration, "kernel %s: launch of grid (%u,%u,%u) x block (%u,%u,%u)",
                    kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z);
        return;
    }
    pdsim::stream *s = pdsim::resolve(stream);
    if (!s) {
        pdsim::fail(cudaErrorInvalidResourceHandle, "kernel %s: launched on a stream that is not live", kernel);
        return;
    }
    pdsim::enqueue(s, std::make_unique<kernel_item>(kernel, grid, block, std::move(body), shared_begin, shared_end));
}
