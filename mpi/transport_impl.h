/* The body of pd_transport (private to mpi/transport*.c): what every implementation shares (the
 * header protocol over MPI, one outstanding send per destination and channel, the timings) and the
 * ops table of what differs between them: how the states after a header move, and how numbers are
 * reduced (STYLE.md habit 6). transport.c runs the protocol and calls the table. */
#ifndef PD_MPI_TRANSPORT_IMPL_H
#define PD_MPI_TRANSPORT_IMPL_H

#include "mpi/transport.h"

#define PD_TP_MAX_STATES 2 /* x, hist */
#define PD_TP_TAG(channel) (100 + (channel))

typedef struct pd_tp_slot {
    MPI_Request req[1 + PD_TP_MAX_STATES]; /* the header, and the states when they go over MPI */
    int n_req;
    pd_msg_header header; /* must outlive the send */
} pd_tp_slot;

typedef enum { PD_REDUCE_MAX, PD_REDUCE_SUM } pd_reduce_op;

typedef struct pd_transport_ops {
    const char *name;
    /* Post the sends of states x[0 .. n) to dst, after their header (slot's header request is posted).
     * MPI requests go into the slot (s->req, s->n_req); any other completion the implementation keeps
     * and finishes in wait_slot. */
    pd_status (*send_states)(pd_ctx *ctx, pd_transport *tp, int slot, int dst, int channel,
                             const pd_state *const *x, int n);
    /* After the slot's MPI requests completed: finish what else is in flight for it (may be NULL). */
    pd_status (*wait_slot)(pd_ctx *ctx, pd_transport *tp, int slot);
    /* Blocking receive of states x[0 .. n) from src, whose header has arrived. */
    pd_status (*recv_states)(pd_ctx *ctx, pd_transport *tp, int src, int channel, pd_state *const *x, int n);
    pd_status (*allreduce)(pd_ctx *ctx, pd_transport *tp, double *vals, int n, pd_reduce_op op);
    void (*destroy)(void *impl); /* the implementation's part (may be NULL) */
} pd_transport_ops;

struct pd_transport {
    const pd_transport_ops *ops;
    void *impl;            /* the implementation's state, owned */
    MPI_Comm comm;
    int rank, size;
    pd_tp_slot *slots;     /* [2 * dst + channel] */
    pd_transport_times times;
};

/* The common part: *out with ops and impl (owned from here on, also on failure). Not collective. */
pd_status pd_transport_init(pd_ctx *ctx, MPI_Comm comm, const pd_transport_ops *ops, void *impl,
                            pd_transport **out);
/* Bytes of a state's elements. */
size_t pd_transport_state_bytes(const pd_state *x);
/* Host reductions over MPI (the MPI transport's, and where NCCL has nothing to add). */
pd_status pd_transport_mpi_allreduce(pd_ctx *ctx, pd_transport *tp, double *vals, int n, pd_reduce_op op);

#endif
