/* cudasim: what a .cu file of src/cuda needs to compile as C++ and run on the CPU. rewrite.cmake puts
 * `#include "cudasim_kernel.h"` first and turns every launch `k<<<grid, block>>>(args)` into
 * `pd_sim_launch("k", pd_sim_config(grid, block), [](auto... a_) { k(a_...); }, args)`.
 *
 * A launch is queued on its stream and runs when something waits for it. Each block runs by itself;
 * its threads are fibers that switch only at barriers (__syncthreads, __syncwarp, shuffles), so
 * `__shared__` (a static here, refilled with NaN bytes per block) is the block's, and a plain
 * read-modify-write is atomic. Threads that meet different barriers (a divergent __syncthreads, a
 * warp barrier some lanes skip) stop the process with the kernel's name, where a GPU would hang or
 * compute garbage; so does a pointer argument into host memory. */
#ifndef PD_CUDASIM_KERNEL_H
#define PD_CUDASIM_KERNEL_H

#ifndef __cplusplus
#error "cudasim_kernel.h is for the C++ translation of .cu files"
#endif

#include <cstdint>
#include <cstring>
#include <functional>
#include <math.h>
#include <type_traits>

#include "cuda_runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
/* A block's shared memory: statics in one section per module, refilled with NaN bytes before each block
 * (a block must not read what another left there) */
#define __shared__ static __attribute__((section("pd_sim_shared")))
#define __launch_bounds__(...)
#define restrict __restrict__

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
typedef dim3 uint3;

/* The running thread's coordinates: set by the scheduler before it resumes a thread. */
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

void pd_sim_syncthreads(const char *file, int line);
void pd_sim_syncwarp(unsigned mask);
uint64_t pd_sim_shfl_xor(unsigned mask, uint64_t bits, int lane_mask, int width);
void pd_sim_check_kernel_pointer(const char *kernel, int arg, const void *p);
void pd_sim_launch_kernel(const char *kernel, dim3 grid, dim3 block, size_t shmem, cudaStream_t stream,
                          std::function<void()> body, char *shared_begin, char *shared_end);
/* this module's shared-memory section (the linker defines the bounds; weak: a module may have none) */
extern "C" char __start_pd_sim_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_pd_sim_shared[] __attribute__((weak, visibility("hidden")));

/* a macro, so that the barrier knows its source line (threads must meet at the same one; a return
 * address would not do: a C++ compiler may duplicate the call into both arms of a branch, nvcc may not) */
#define __syncthreads() pd_sim_syncthreads(__FILE__, __LINE__)
static inline void __syncwarp(unsigned mask = 0xffffffffu) { pd_sim_syncwarp(mask); }

template <typename T> static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32)
{
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    bits = pd_sim_shfl_xor(mask, bits, lane_mask, width);
    T out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

/* Threads switch only at barriers: a read-modify-write cannot be interleaved. */
template <typename T> static inline T atomicMin(T *a, T v)
{
    const T old = *a;
    if (v < old) *a = v;
    return old;
}
template <typename T> static inline T atomicMax(T *a, T v)
{
    const T old = *a;
    if (v > old) *a = v;
    return old;
}
template <typename T> static inline T atomicAdd(T *a, T v)
{
    const T old = *a;
    *a = old + v;
    return old;
}

struct pd_sim_cfg {
    dim3 grid, block;
    size_t shmem;
    cudaStream_t stream;
};
static inline pd_sim_cfg pd_sim_config(dim3 grid, dim3 block, size_t shmem = 0, cudaStream_t stream = 0)
{
    return pd_sim_cfg{grid, block, shmem, stream};
}

/* A pointer argument must be device memory. Pointers inside a struct passed by value are not checked:
 * a struct's words cannot be told from its padding and from numbers that look like addresses. */
template <typename T> static inline void pd_sim_check_arg(const char *kernel, int i, const T &v)
{
    if constexpr (std::is_pointer_v<T>) pd_sim_check_kernel_pointer(kernel, i, (const void *)v);
    else (void)kernel, (void)i, (void)v;
}

/* Arguments are copied at the launch, as CUDA copies them into the launch's parameter buffer. */
template <typename F, typename... A>
static inline void pd_sim_launch(const char *kernel, pd_sim_cfg c, F k, A... args)
{
    int i = 0;
    (pd_sim_check_arg(kernel, i++, args), ...);
    (void)i;
    pd_sim_launch_kernel(kernel, c.grid, c.block, c.shmem, c.stream, [=]() { k(args...); }, __start_pd_sim_shared,
                         __stop_pd_sim_shared);
}

#endif
