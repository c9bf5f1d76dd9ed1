/* pintdiff: status codes and the error context.
 *
 * Every fallible function returns a pd_status; the first error's message, file:line, rank and host
 * go into the pd_ctx passed down the call chain (STYLE.md habit 1). There is no global error state. */
#ifndef PINTDIFF_STATUS_H
#define PINTDIFF_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PD_OK = 0,
    PD_ERR_INPUT,   /* bad config, option, file content: exit code 2 */
    PD_ERR_NOMEM,
    PD_ERR_NUMERIC, /* NaN/Inf in a state, divergence */
    PD_ERR_CUDA,
    PD_ERR_MPI,
    PD_ERR_NCCL,
    PD_ERR_H5,
    PD_ERR_IO,      /* file system (open, rename, write) */
    PD_ERR_REMOTE   /* another rank failed; its message is on its own stderr */
} pd_status;

/* The run's error context: holds the first error and who raised it. */
typedef struct pd_ctx pd_ctx;

/* out: a new context (rank -1 until set). Returns NULL only when out of memory. */
pd_ctx *pd_ctx_create(void);
void pd_ctx_destroy(pd_ctx **ctx);
/* Set the rank and rank count shown in messages (the host is read once, at creation). */
void pd_ctx_set_rank(pd_ctx *ctx, int rank, int n_ranks);
int pd_ctx_rank(const pd_ctx *ctx);

/* Record an error (only the first one is kept; later calls keep the first message) and return code.
 * Use through PD_FAIL so that file and line are filled in. */
pd_status pd_error_set(pd_ctx *ctx, pd_status code, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* The first error's message ("" when none), its code, and where it was raised. */
const char *pd_ctx_message(const pd_ctx *ctx);
pd_status pd_ctx_status(const pd_ctx *ctx);
const char *pd_ctx_where(const pd_ctx *ctx); /* "file:line on rank R (host)" */
/* Forget the recorded error (tests that provoke errors on purpose). */
void pd_ctx_clear(pd_ctx *ctx);

const char *pd_status_name(pd_status st);
/* Process exit status for a run that ended with st: 0 ok, 2 bad input, 1 anything else. */
int pd_status_exit_code(pd_status st);

#define PD_TRY(e)                                                                                  \
    do {                                                                                           \
        pd_status s_ = (e);                                                                        \
        if (s_ != PD_OK) return s_;                                                                \
    } while (0)
#define PD_TRY_GOTO(e)                                                                             \
    do {                                                                                           \
        st = (e);                                                                                  \
        if (st != PD_OK) goto done;                                                                \
    } while (0)
#define PD_FAIL(ctx, code, ...) return pd_error_set((ctx), (code), __FILE__, __LINE__, __VA_ARGS__)
/* As PD_FAIL, but sets st and jumps to the function's cleanup label. */
#define PD_FAIL_GOTO(ctx, code, ...)                                                               \
    do {                                                                                           \
        st = pd_error_set((ctx), (code), __FILE__, __LINE__, __VA_ARGS__);                         \
        goto done;                                                                                 \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
