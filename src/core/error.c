/* The run's error context: first error wins, with where it was raised. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pintdiff/status.h"

struct pd_ctx {
    pd_status status;
    int rank, n_ranks;
    char host[64];
    char message[1024];
    char where[256];
};

pd_ctx *pd_ctx_create(void)
{
    pd_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->rank = -1;
    if (gethostname(c->host, sizeof c->host - 1) != 0) strcpy(c->host, "?");
    return c;
}

void pd_ctx_destroy(pd_ctx **ctx)
{
    if (!ctx || !*ctx) return;
    free(*ctx);
    *ctx = NULL;
}

void pd_ctx_set_rank(pd_ctx *ctx, int rank, int n_ranks)
{
    ctx->rank = rank;
    ctx->n_ranks = n_ranks;
}

int pd_ctx_rank(const pd_ctx *ctx) { return ctx ? ctx->rank : -1; }

pd_status pd_error_set(pd_ctx *ctx, pd_status code, const char *file, int line, const char *fmt, ...)
{
    if (!ctx || ctx->status != PD_OK) return code; /* keep the first error: later ones are echoes */
    ctx->status = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    snprintf(ctx->where, sizeof ctx->where, "%s:%d on rank %d (%s)", base ? base + 1 : file, line,
             ctx->rank, ctx->host);
    return code;
}

const char *pd_ctx_message(const pd_ctx *ctx) { return ctx ? ctx->message : ""; }
pd_status pd_ctx_status(const pd_ctx *ctx) { return ctx ? ctx->status : PD_OK; }
const char *pd_ctx_where(const pd_ctx *ctx) { return ctx ? ctx->where : ""; }

void pd_ctx_clear(pd_ctx *ctx)
{
    ctx->status = PD_OK;
    ctx->message[0] = '\0';
    ctx->where[0] = '\0';
}

const char *pd_status_name(pd_status st)
{
    static const char *names[] = {"ok",         "bad input", "out of memory",
                                  "numerical",  "CUDA",      "MPI",
                                  "NCCL",       "HDF5",      "I/O",
                                  "remote rank failed"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown";
}

int pd_status_exit_code(pd_status st)
{
    if (st == PD_OK) return 0;
    return st == PD_ERR_INPUT ? 2 : 1;
}
