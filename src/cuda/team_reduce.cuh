/* Reductions over the threads that share one row ("a team") for the model kernels of src/cuda.
 *
 * A team is 1 thread, one warp (32) or a whole block: the kernels pick the team size from the row
 * length, so a 2-D sample gets one thread and a 3072-element image a block. Every thread of the team
 * gets the result, bitwise the same in all of them (the butterfly combines the same pairs in every
 * lane, and addition and fmax commute), so each can use it without a broadcast. The order of the
 * additions is mirrored on the CPU by models/team_sum.h: change both together. CUDA C only. */
#ifndef PD_CUDA_TEAM_REDUCE_CUH
#define PD_CUDA_TEAM_REDUCE_CUH

struct pd_op_sum {
    __device__ double operator()(double a, double b) const { return a + b; }
};
/* fmax ignores a NaN operand, as the CPU loops' `if (l > lmax)` does */
struct pd_op_max {
    __device__ double operator()(double a, double b) const { return fmax(a, b); }
};

/* The thread's index within its team of TEAM threads. */
template <int TEAM> static __device__ __forceinline__ int pd_team_lane()
{
    if constexpr (TEAM == 1)
        return 0;
    else
        return (int)(threadIdx.x % TEAM);
}

/* Barrier and memory fence among the team's threads (global and shared memory). */
template <int TEAM> static __device__ __forceinline__ void pd_team_sync()
{
    if constexpr (TEAM > 32)
        __syncthreads();
    else if constexpr (TEAM == 32)
        __syncwarp();
}

/* v[j] = op over the team of v[j], for j < N, in every thread of the team. TEAM is 1, 32 or the block
 * size (a multiple of 32, at most 1024); sh: __shared__ double[N * 32], used when TEAM > 32. Every
 * thread of the team must call it (the kernels keep their loops team-uniform). */
template <int TEAM, int N, typename Op>
static __device__ __forceinline__ void pd_team_reduce(double (&v)[N], double *sh, Op op)
{
    static_assert(TEAM == 1 || TEAM == 32 || (TEAM % 32 == 0 && TEAM <= 1024), "team: 1, 32 or a block");
    if constexpr (TEAM > 1) {
        for (int o = 16; o > 0; o >>= 1)
            for (int j = 0; j < N; j++)
                v[j] = op(v[j], __shfl_xor_sync(0xffffffffu, v[j], o));
    }
    if constexpr (TEAM > 32) {
        const int warp = (int)(threadIdx.x >> 5), lane = (int)(threadIdx.x & 31);
        __syncthreads(); /* sh may still be read by the team's previous reduction */
        if (lane == 0)
            for (int j = 0; j < N; j++)
                sh[j * 32 + warp] = v[j];
        __syncthreads();
        for (int j = 0; j < N; j++) {
            double r = sh[j * 32];
            for (int w = 1; w < TEAM / 32; w++)
                r = op(r, sh[j * 32 + w]);
            v[j] = r;
        }
    }
}

#endif
