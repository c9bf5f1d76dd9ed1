/* The body of pd_state (private): the drivers see states only through state.h. */
#ifndef PD_CORE_STATE_IMPL_H
#define PD_CORE_STATE_IMPL_H

#include "pintdiff/state.h"

struct pd_state {
    pd_dtype dtype;
    pd_device_kind device;
    int64_t n_samples;
    int64_t dim;
    int64_t offset;   /* global index of sample 0 (keys the noise) */
    void *data;       /* n_samples * dim elements of dtype, in device memory */
    int owns_data;    /* 0 for views */
    void *scratch;    /* CUDA states: device scratch for reductions (owned by the owning state) */
};

static inline int64_t pd_state_len(const pd_state *x) { return x->n_samples * x->dim; }

#endif
