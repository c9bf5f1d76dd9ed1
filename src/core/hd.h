/* Host/device qualifiers so that per-element math is written once (STYLE.md habit 8):
 * CPU loops and CUDA kernels call the same static inline functions. */
#ifndef PD_CORE_HD_H
#define PD_CORE_HD_H

#ifdef __CUDACC__
#define PD_HD __host__ __device__
#define PD_RESTRICT __restrict__
#else
#define PD_HD
#define PD_RESTRICT restrict
#endif

#endif
