/* Device-level CUDA helpers for the distributed side (mpi/): which GPU a rank uses, which physical
 * GPU that is, pinned host buffers for staging transfers, and waiting for the device. C linkage;
 * implemented in device.cu, compiled only when the CUDA backend is built (PD_HAVE_CUDA). */
#ifndef PD_CUDA_DEVICE_H
#define PD_CUDA_DEVICE_H

#include <stddef.h>

#include "pintdiff/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Make GPU dev (an index among the visible ones) this process's device. Call it before any CUDA
 * allocation: memory and streams belong to the device current when they are made. */
pd_status pd_cuda_set_device(pd_ctx *ctx, int dev);
/* The PCI bus id of visible GPU dev ("0000:3b:00.0"): the same string in every process that sees
 * that GPU, whatever CUDA_VISIBLE_DEVICES renumbered it to. */
pd_status pd_cuda_device_bus_id(pd_ctx *ctx, int dev, char *buf, int len);
/* Page-locked host memory (fast, asynchronous copies to and from the GPU). */
pd_status pd_cuda_host_alloc(pd_ctx *ctx, size_t bytes, void **out);
void pd_cuda_host_free(void *p);
/* Wait for all work queued on the current device (before a library outside CUDA reads device memory). */
pd_status pd_cuda_synchronize(pd_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
