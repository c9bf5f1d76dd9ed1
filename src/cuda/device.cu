/* Device-level helpers (cuda_device.h): binding, identification, pinned memory, synchronisation. */
#include <cuda_runtime.h>

#include "cuda/cuda_device.h"

#define PD_CUDA_TRY(ctx, call)                                                                     \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            (void)cudaGetLastError(); /* not sticky: the next call should not see it */            \
            PD_FAIL(ctx, PD_ERR_CUDA, "%s: %s", #call, cudaGetErrorString(e_));                    \
        }                                                                                          \
    } while (0)

extern "C" pd_status pd_cuda_set_device(pd_ctx *ctx, int dev)
{
    PD_CUDA_TRY(ctx, cudaSetDevice(dev));
    return PD_OK;
}

extern "C" pd_status pd_cuda_device_bus_id(pd_ctx *ctx, int dev, char *buf, int len)
{
    PD_CUDA_TRY(ctx, cudaDeviceGetPCIBusId(buf, len, dev));
    return PD_OK;
}

extern "C" pd_status pd_cuda_host_alloc(pd_ctx *ctx, size_t bytes, void **out)
{
    PD_CUDA_TRY(ctx, cudaMallocHost(out, bytes > 0 ? bytes : 1));
    return PD_OK;
}

extern "C" void pd_cuda_host_free(void *p)
{
    if (p) cudaFreeHost(p);
}

extern "C" pd_status pd_cuda_synchronize(pd_ctx *ctx)
{
    PD_CUDA_TRY(ctx, cudaDeviceSynchronize());
    return PD_OK;
}
