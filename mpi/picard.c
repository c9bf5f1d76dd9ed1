/* Picard iterations over MPI ranks (ALGORITHMS.md §8.1-8.3): the ParaDiGMS sliding window and block-wise
 * Picard, one batched model call per rank per iteration, the affine maps of the steps composed along
 * the ranks.
 *
 * Distribution. The window [a, e] has w = e - a evaluation points a .. e-1; rank r evaluates the
 * contiguous range [a + w r / R, a + w (r + 1) / R) and holds those states; the last rank also holds the
 * end point e (updated, not evaluated). The ranges are recomputed whenever the window moves, so every
 * rank keeps about w / R points (one batched model call of that many groups) whatever the slide; the
 * states then move between ranks. Range starts never decrease when the window moves forward, so a state
 * only ever moves to a lower rank (or stays): each pair of ranks exchanges at most one message (a
 * contiguous run of points, one view of the buffer), all of them downwards, which cannot deadlock on
 * NCCL's in-order streams either.
 *
 * Scan. The steps are maps x -> cx_j x + b_j with b_j = cd_j D_j + cz_j z_j (ALGORITHMS.md §8.2; no
 * division, so a step into sigma = 0, cx = 0, is no special case). They are composed along the chain of
 * ranks: a rank receives the new state at its first point from the rank before it (a status header
 * first, so that a failed rank stops the others), applies its maps in order and sends its last state on
 * (§8.3's pass of block values, in the serial order). Each map is applied with the very operation the
 * serial step uses (pd_state_lincomb of x and D with the step's noise term), so: the samples do not
 * depend on the rank count (bitwise), a point whose inputs stopped changing stops changing bitwise (the
 * v_j = 0 rule can be met), and a converged run is the serial run's bits. The price is a pass over the
 * window's points in sequence (one vector update per point, no model call) instead of a log-depth scan.
 *
 * Iteration: evaluate (batched) -> chain (composition, residuals) -> one reduction of [status, clock,
 * converged flags, residuals] over all ranks -> every rank takes the same decision (slide, next block or
 * stop) -> the states move to the new window's layout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/picard.h"
#include "pintdiff/rng.h"

/* A range of grid points [lo, hi). */
typedef struct pd_range {
    int lo, hi;
} pd_range;

enum { V_X, V_D, V_OUT, V_OLD, V_EVAL_IN, V_EVAL_OUT, N_VIEWS };

struct pd_picard {
    pd_transport *tp;
    const pd_solver *fine;
    pd_model *m;
    const pd_grid *g;
    pd_picard_opts o;
    int rank, size, N;
    int p;     /* picard: the window (steps) */
    int B;     /* block-picard: blocks; picard: 1 */
    int width; /* the most points a window updates: p, or the longest block */
    int cap;   /* the most points a rank holds */
    int64_t S, dim, off;
    uint64_t seed;
    pd_state *x0;
    pd_state *cur;   /* [cap * S, dim]: the held points' states, iterate k (evaluated this iteration) */
    pd_state *nxt;   /* the same points, iterate k + 1 (made by the chain) */
    pd_state *d;     /* model outputs D_j of the evaluated points */
    pd_state *out;   /* the state at the next rank's first point (sent on) */
    pd_state *spare; /* the old end point on a rank that needs it only as a copy source */
    pd_state *result;
    pd_state *view[N_VIEWS];
    pd_grid_point *pts; /* [cap] evaluation points of one call */
    double *coef;       /* [N][3] cx, cd, cz of each step */
    double *var;        /* [N + 1] v_j: DDPM fixed_small variance of the step starting at point j */
    int *first_iter;    /* [N + 1] picard: iteration in which point j joined the window (0: not yet) */
    double *red;        /* [2 + 2 width]: status, clock, converged flags, residuals */
    int a, e;           /* the window: points a .. e, a fixed */
    int blk, blk_iters; /* block-picard: the current block and its iterations so far */
    int64_t clock, calls, points;
    double t_start;
    pd_picard_log log;
    int log_cap;
    pd_state **kept; /* [n_keep] */
    int *holder;     /* [n_keep] */
    int done;
};

/* ------------------------------------------------------------------ layout */

/* Evaluation points of rank r for the window [a, e]. */
static pd_range eval_range(int a, int e, int r, int R)
{
    int64_t w = e - a;
    return (pd_range){a + (int)(w * r / R), a + (int)(w * (r + 1) / R)};
}

/* Points whose states rank r holds: its evaluation points, and on the last rank the end point too. The
 * ranges of all ranks partition [a, e]. */
static pd_range held_range(int a, int e, int r, int R)
{
    pd_range h = eval_range(a, e, r, R);
    if (r == R - 1) h.hi = e + 1;
    return h;
}

static int range_len(pd_range x)
{
    return x.hi > x.lo ? x.hi - x.lo : 0;
}

static pd_range range_cut(pd_range x, pd_range y)
{
    return (pd_range){x.lo > y.lo ? x.lo : y.lo, x.hi < y.hi ? x.hi : y.hi};
}

/* The ranks before and after r in the chain: the nearest ones holding points (-1: none). */
static int chain_prev(const pd_picard *p, int r)
{
    for (int s = r - 1; s >= 0; s--)
        if (range_len(held_range(p->a, p->e, s, p->size))) return s;
    return -1;
}

static int chain_next(const pd_picard *p, int r)
{
    for (int s = r + 1; s < p->size; s++)
        if (range_len(held_range(p->a, p->e, s, p->size))) return s;
    return -1;
}

/* Block b of block-picard: steps [n_b, n_{b+1}), n_b = floor(b N / B) (as Parareal's blocks). */
static int block_start(const pd_picard *p, int b)
{
    return (int)((int64_t)b * p->N / p->B);
}

/* *out = view v re-pointed at slots [first, first + count) of buf (slot i of a rank's buffers holds its
 * held point lo + i; all samples of the batch, numbered as the batch's). */
static pd_status slot_view(pd_ctx *ctx, pd_picard *p, int v, pd_state *buf, int first, int count,
                           pd_state **out)
{
    *out = p->view[v];
    return pd_state_view_set(ctx, p->view[v], buf, (int64_t)first * p->S, (int64_t)count * p->S, p->off);
}

/* ------------------------------------------------------------------ setup */

/* v_j = sigma_{j+1}^2 (1 - e^{-2 h_j}), DDPM's posterior (fixed_small) variance of step j in the general
 * form of ALGORITHMS.md §1.1 / §3.1, whatever the solver; 0 into sigma = 0 and at the last point. */
static double step_variance(const pd_grid *g, int j)
{
    if (j >= pd_grid_steps(g)) return 0.0;
    const pd_grid_point *p0 = pd_grid_at(g, j), *p1 = pd_grid_at(g, j + 1);
    if (p1->sigma == 0.0) return 0.0;
    return p1->sigma * p1->sigma * -expm1(-2.0 * (p1->lambda - p0->lambda));
}

static pd_status check_opts(pd_ctx *ctx, const pd_picard *p)
{
    const char *name = p->o.kind == PD_PICARD_BLOCKS ? "block-picard" : "picard";
    if (!pd_solver_is_affine(p->fine))
        PD_FAIL(ctx, PD_ERR_INPUT,
                "sampler.fine: %s needs a one-step affine solver (ddpm, ddim, euler, li-ddim, "
                "li-ddpm, conjugate-ddim), got %s",
                name, pd_solver_get_info(p->fine)->name);
    if (!(p->o.tol > 0))
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.tol: expected a positive number, got %g", p->o.tol);
    if (p->o.max_iters < 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.max_iters: expected >= 0, got %d", p->o.max_iters);
    if (p->o.kind == PD_PICARD_WINDOW && p->o.window < 0)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.window: expected >= 1 (or 0: the whole grid), got %d",
                p->o.window);
    if (p->o.kind == PD_PICARD_BLOCKS && (p->o.blocks < 1 || p->o.blocks > p->N))
        PD_FAIL(ctx, PD_ERR_INPUT,
                "sampler.blocks: block-picard needs 1 .. %d blocks (sampler.steps), got %d", p->N,
                p->o.blocks);
    return PD_OK;
}

/* Coefficients and variances of every step: known to every rank from the grid, so only states travel. */
static pd_status tables(pd_ctx *ctx, pd_picard *p)
{
    p->coef = malloc(sizeof(double) * 3 * (size_t)p->N);
    p->var = malloc(sizeof(double) * (size_t)(p->N + 1));
    p->first_iter = calloc((size_t)p->N + 1, sizeof *p->first_iter);
    p->pts = malloc(sizeof *p->pts * (size_t)p->cap);
    p->red = calloc(2 + 2 * (size_t)p->width, sizeof *p->red);
    if (!p->coef || !p->var || !p->first_iter || !p->pts || !p->red)
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the Picard tables for %d steps", p->N);
    for (int j = 0; j < p->N; j++)
        PD_TRY(pd_solver_affine_coef(ctx, p->fine, p->g, j, &p->coef[3 * j], &p->coef[3 * j + 1],
                                     &p->coef[3 * j + 2]));
    for (int j = 0; j <= p->N; j++)
        p->var[j] = step_variance(p->g, j);
    return PD_OK;
}

static pd_status buffers(pd_ctx *ctx, pd_picard *p, const pd_state *x0)
{
    pd_state **b[] = {&p->cur, &p->nxt, &p->d};
    for (int i = 0; i < 3; i++)
        PD_TRY(pd_state_create(ctx, pd_state_dtype(x0), pd_state_device(x0), (int64_t)p->cap * p->S, p->dim,
                               p->off, b[i]));
    PD_TRY(pd_state_create_like(ctx, x0, &p->x0));
    PD_TRY(pd_state_copy(ctx, p->x0, x0));
    PD_TRY(pd_state_create_like(ctx, x0, &p->out));
    PD_TRY(pd_state_create_like(ctx, x0, &p->spare));
    for (int v = 0; v < N_VIEWS; v++)
        PD_TRY(pd_state_view(ctx, p->cur, 0, 0, &p->view[v]));
    if (p->o.n_keep > 0) {
        p->kept = calloc((size_t)p->o.n_keep, sizeof *p->kept);
        p->holder = malloc(sizeof *p->holder * (size_t)p->o.n_keep);
        if (!p->kept || !p->holder) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the trajectory store");
        for (int i = 0; i < p->o.n_keep; i++)
            p->holder[i] = -1;
    }
    return pd_model_reserve(ctx, p->m, (int64_t)p->cap * p->S);
}

pd_status pd_picard_create(pd_ctx *ctx, pd_transport *tp, const pd_solver *fine, pd_model *m,
                           const pd_grid *g, const pd_picard_opts *o, const pd_state *x0, pd_picard **out)
{
    pd_picard *p = calloc(1, sizeof *p);
    if (!p) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the Picard driver");
    *p = (pd_picard){.tp = tp,
                     .fine = fine,
                     .m = m,
                     .g = g,
                     .o = *o,
                     .rank = pd_transport_rank(tp),
                     .size = pd_transport_size(tp),
                     .N = pd_grid_steps(g),
                     .S = pd_state_n_samples(x0),
                     .dim = pd_state_dim(x0),
                     .off = pd_state_offset(x0),
                     .seed = pd_solver_get_params(fine)->seed};
    pd_status st = check_opts(ctx, p);
    if (o->kind == PD_PICARD_WINDOW) {
        p->p = o->window > 0 && o->window < p->N ? o->window : p->N;
        p->B = 1;
        p->width = p->p;
    } else {
        p->B = o->blocks;
        for (int b = 0; st == PD_OK && b < p->B; b++) {
            int len = block_start(p, b + 1) - block_start(p, b);
            p->width = len > p->width ? len : p->width;
        }
    }
    p->cap = (p->width + p->size - 1) / p->size + 1; /* ceil(w / R) points, and the end point */
    if (st == PD_OK) st = tables(ctx, p);
    if (st == PD_OK) st = buffers(ctx, p, x0);
    if (st != PD_OK) {
        pd_picard_destroy(&p);
        return st;
    }
    *out = p;
    return PD_OK;
}

void pd_picard_destroy(pd_picard **pp)
{
    if (!pp || !*pp) return;
    pd_picard *p = *pp;
    for (int v = 0; v < N_VIEWS; v++)
        pd_state_destroy(&p->view[v]);
    pd_state **s[] = {&p->cur, &p->nxt, &p->d, &p->out, &p->spare, &p->x0, &p->result};
    for (int i = 0; i < 7; i++)
        pd_state_destroy(s[i]);
    for (int i = 0; p->kept && i < p->o.n_keep; i++)
        pd_state_destroy(&p->kept[i]);
    free(p->kept), free(p->holder);
    free(p->coef), free(p->var), free(p->first_iter), free(p->pts), free(p->red);
    pd_picard_log *l = &p->log;
    free(l->residual), free(l->converged), free(l->window_start), free(l->window_end), free(l->block);
    free(l->nfe), free(l->compute_s), free(l->wait_s), free(l->comm_s);
    free(p);
    *pp = NULL;
}

/* ------------------------------------------------------------------ the log */

static int grow(void **a, size_t n, size_t size)
{
    void *q = realloc(*a, n * size);
    if (!q) return 0;
    *a = q;
    return 1;
}

/* Room for one more iteration (the count is known only at the end: at most N for either variant). */
static pd_status log_reserve(pd_ctx *ctx, pd_picard *p)
{
    pd_picard_log *l = &p->log;
    if (l->iters < p->log_cap) return PD_OK;
    size_t k = p->log_cap ? 2 * (size_t)p->log_cap : 16, kw = k * (size_t)p->width, kr = k * (size_t)p->size;
    int ok = grow((void **)&l->residual, kw, sizeof *l->residual) &&
             grow((void **)&l->converged, kw, sizeof *l->converged) &&
             grow((void **)&l->window_start, k, sizeof *l->window_start) &&
             grow((void **)&l->window_end, k, sizeof *l->window_end) &&
             grow((void **)&l->block, k, sizeof *l->block) && grow((void **)&l->nfe, kr, sizeof *l->nfe) &&
             grow((void **)&l->compute_s, kr, sizeof *l->compute_s) &&
             grow((void **)&l->wait_s, kr, sizeof *l->wait_s) &&
             grow((void **)&l->comm_s, kr, sizeof *l->comm_s);
    if (!ok) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot grow the convergence log to %zu iterations", k);
    p->log_cap = (int)k;
    return PD_OK;
}

/* ------------------------------------------------------------------ one point */

/* x_{j+1} = cx_j x_j + cd_j D_j + cz_j z_j: the serial step's own operation (pd_solver_apply_affine), so
 * equal inputs give the serial bits. */
static pd_status step(pd_ctx *ctx, const pd_picard *p, int j, const pd_state *x, const pd_state *dj,
                      pd_state *xo)
{
    const double *k = &p->coef[3 * j];
    const double c[2] = {k[0], k[1]};
    const pd_state *v[2] = {x, dj};
    pd_noise_term z = {
        .coef = k[2], .seed = p->seed, .step = (uint32_t)pd_grid_noise_step(p->g, j), .purpose = PD_RNG_STEP};
    return pd_state_lincomb(ctx, xo, 2, c, v, k[2] != 0.0 ? &z : NULL);
}

/* Is every sample's |dx|^2 <= thr? The batch sum decides unless it lies between thr and S thr; then the
 * largest sample's does (one reduction, on a GPU too). */
static pd_status samples_within(pd_ctx *ctx, const pd_picard *p, const pd_state *xn, const pd_state *xo,
                                double sum, double thr, int *ok)
{
    *ok = sum <= thr;
    if (*ok || thr == 0.0 || !(sum <= (double)p->S * thr)) return PD_OK;
    double qmax = 0.0;
    PD_TRY(pd_state_sample_sqdiff_max_local(ctx, xn, xo, &qmax));
    *ok = qmax <= thr;
    return PD_OK;
}

/* Point j has its new state xn (old: xo): its RMS change and whether it converged, into the reduction
 * row (column j - a - 1). picard: every sample's |dx|^2 / dim <= tol^2 v_j (v_j = 0: no change at all);
 * block-picard: the RMS change over the batch <= tol. */
static pd_status judge(pd_ctx *ctx, pd_picard *p, int j, pd_state *xn, pd_state *xo)
{
    double sum = 0.0;
    PD_TRY(pd_state_sqdiff_local(ctx, xn, xo, &sum));
    double rms = sqrt(sum / ((double)p->S * (double)p->dim));
    int ok = 0;
    if (p->o.kind == PD_PICARD_BLOCKS)
        ok = rms <= p->o.tol;
    else
        PD_TRY(samples_within(ctx, p, xn, xo, sum, p->o.tol * p->o.tol * p->var[j] * (double)p->dim, &ok));
    int col = j - p->a - 1;
    p->red[2 + col] = ok;
    p->red[2 + p->width + col] = rms;
    return PD_OK;
}

/* ------------------------------------------------------------------ one iteration */

/* D_j = x0_hat(x_j^k) for the rank's evaluation points: one call, group i at point lo + i. */
static pd_status evaluate(pd_ctx *ctx, pd_picard *p)
{
    pd_range ev = eval_range(p->a, p->e, p->rank, p->size);
    int n = range_len(ev);
    if (n == 0) return PD_OK;
    for (int i = 0; i < n; i++)
        p->pts[i] = *pd_grid_at(p->g, ev.lo + i);
    pd_state *in, *dout;
    PD_TRY(slot_view(ctx, p, V_EVAL_IN, p->cur, 0, n, &in));
    PD_TRY(slot_view(ctx, p, V_EVAL_OUT, p->d, 0, n, &dout));
    PD_TRY(pd_model_eval_groups(ctx, p->m, in, n, p->pts, dout));
    p->clock++;
    p->calls++;
    p->points += n;
    return PD_OK;
}

/* The first NaN/Inf among the rank's new states names the point, sample and element. */
static pd_status check_finite(pd_ctx *ctx, pd_picard *p, pd_range h, int sent)
{
    int64_t bad = -1;
    pd_state *x;
    PD_TRY(slot_view(ctx, p, V_OLD, p->nxt, 0, range_len(h), &x));
    PD_TRY(pd_state_find_nonfinite(ctx, x, &bad));
    int j = h.lo + (int)(bad / (p->S * p->dim));
    if (bad < 0 && sent) {
        PD_TRY(pd_state_find_nonfinite(ctx, p->out, &bad));
        j = h.hi;
    }
    if (bad < 0) return PD_OK;
    int64_t in_pt = bad % (p->S * p->dim), smp = p->off + in_pt / p->dim, el = in_pt % p->dim;
    const char *name = p->o.kind == PD_PICARD_BLOCKS ? "block-picard" : "picard";
    if (j == p->a) /* not made by this iteration: the start state (or an accepted one) */
        PD_FAIL(ctx, PD_ERR_NUMERIC,
                "%s: NaN/Inf in the window's start state at grid point %d (t = %g), sample %lld, "
                "element %lld",
                name, j, pd_grid_at(p->g, j)->t, (long long)smp, (long long)el);
    PD_FAIL(ctx, PD_ERR_NUMERIC, "%s (%s) step %d (t = %g -> %g): NaN/Inf in sample %lld, element %lld", name,
            pd_solver_get_info(p->fine)->name, j - 1, pd_grid_at(p->g, j - 1)->t, pd_grid_at(p->g, j)->t,
            (long long)smp, (long long)el);
}

/* This rank's steps, in order: the state at its first point is in slot 0 of nxt (x_a copied, or the
 * previous rank's message, then judged); x_{j+1} goes to the next slot, or to `out` for the next rank. */
static pd_status compose(pd_ctx *ctx, pd_picard *p, pd_range h, pd_range ev, int sent)
{
    pd_state *x, *dj, *xo, *old;
    PD_TRY(slot_view(ctx, p, V_X, p->nxt, 0, 1, &x));
    PD_TRY(slot_view(ctx, p, V_OLD, p->cur, 0, 1, &old));
    if (h.lo == p->a)
        PD_TRY(pd_state_copy(ctx, x, old)); /* x_a stays */
    else
        PD_TRY(judge(ctx, p, h.lo, x, old));
    for (int j = ev.lo; j < ev.hi; j++) {
        int i = j - h.lo, to_next = sent && j + 1 == h.hi;
        PD_TRY(slot_view(ctx, p, V_X, p->nxt, i, 1, &x));
        PD_TRY(slot_view(ctx, p, V_D, p->d, i, 1, &dj));
        if (to_next)
            xo = p->out;
        else
            PD_TRY(slot_view(ctx, p, V_OUT, p->nxt, i + 1, 1, &xo));
        PD_TRY(step(ctx, p, j, x, dj, xo));
        if (to_next) continue;
        PD_TRY(slot_view(ctx, p, V_OLD, p->cur, i + 1, 1, &old));
        PD_TRY(judge(ctx, p, j + 1, xo, old));
    }
    return check_finite(ctx, p, h, sent);
}

/* This rank's part of the composition along the chain of ranks: receive the new state at its first point
 * from the rank before (unless it holds x_a), compose, send the state at the next rank's first point on.
 * A rank that has failed, or hears of a failure, computes nothing but still receives and sends, with the
 * status, so that no rank waits for ever. Returns only transport errors; *st: this rank's status. */
static pd_status chain(pd_ctx *ctx, pd_picard *p, pd_status *st)
{
    pd_range h = held_range(p->a, p->e, p->rank, p->size), ev = eval_range(p->a, p->e, p->rank, p->size);
    if (!range_len(h)) return PD_OK;
    int prev = chain_prev(p, p->rank), next = chain_next(p, p->rank);
    pd_status remote = PD_OK;
    if (h.lo != p->a) {
        pd_msg_header hd;
        pd_state *first;
        PD_TRY(slot_view(ctx, p, V_X, p->nxt, 0, 1, &first));
        PD_TRY(pd_transport_recv(ctx, p->tp, prev, 0, &hd, first, NULL));
        remote = (pd_status)hd.status;
    }
    if (*st == PD_OK && remote == PD_OK) *st = compose(ctx, p, h, ev, next >= 0);
    pd_status worst = *st != PD_OK ? *st : remote;
    if (*st == PD_OK && remote != PD_OK) *st = PD_ERR_REMOTE;
    if (next < 0) return PD_OK;
    pd_msg_header hd = {.status = worst,
                        .iter = p->log.iters + 1,
                        .flags = worst == PD_OK ? PD_MSG_PAYLOAD : 0,
                        .hist_step = -1,
                        .clock = p->clock};
    return pd_transport_send(ctx, p->tp, next, 0, &hd, p->out, NULL);
}

/* ------------------------------------------------------------------ moving the window */

/* The old points rank r needs for the new window [a2, e2]: its new held points that existed in [a, e],
 * and the old end point e when it has new points beyond e (they start as copies of it). Contiguous. */
static pd_range needed(const pd_picard *p, int a2, int e2, int r)
{
    pd_range n = held_range(a2, e2, r, p->size);
    if (!range_len(n)) return (pd_range){0, 0};
    if (n.lo > p->e) return (pd_range){p->e, p->e + 1};
    return (pd_range){n.lo, n.hi < p->e + 1 ? n.hi : p->e + 1};
}

/* Where the needed points u land on this rank (new held range n): their new slots, or `spare` for the old
 * end point alone when all of n lies beyond it. */
static pd_status landing(pd_ctx *ctx, pd_picard *p, pd_range n, pd_range u, pd_state **out)
{
    *out = p->spare;
    if (u.lo < n.lo) return PD_OK; /* u = {e} */
    return slot_view(ctx, p, V_OUT, p->cur, u.lo - n.lo, range_len(u), out);
}

/* The new points beyond the old end e start as copies of x_e (ALGORITHMS.md §8.1; block-picard: of the
 * block's start state). */
static pd_status fill_new(pd_ctx *ctx, pd_picard *p, pd_range n)
{
    if (n.hi <= p->e + 1) return PD_OK;
    pd_state *end = p->spare, *x;
    if (n.lo <= p->e) PD_TRY(slot_view(ctx, p, V_X, p->cur, p->e - n.lo, 1, &end));
    for (int j = n.lo > p->e + 1 ? n.lo : p->e + 1; j < n.hi; j++) {
        PD_TRY(slot_view(ctx, p, V_OUT, p->cur, j - n.lo, 1, &x));
        PD_TRY(pd_state_copy(ctx, x, end));
    }
    return PD_OK;
}

/* The part of the move that stays on this rank. */
static pd_status move_local(pd_ctx *ctx, pd_picard *p, pd_range h, pd_range n, pd_range mine)
{
    pd_state *src, *dst;
    PD_TRY(slot_view(ctx, p, V_X, p->nxt, mine.lo - h.lo, range_len(mine), &src));
    PD_TRY(landing(ctx, p, n, mine, &dst));
    return pd_state_copy(ctx, dst, src);
}

/* Move iterate k + 1 (nxt, layout of [a, e]) into cur in the layout of [a2, e2]: sends (to lower ranks)
 * first, then the local part, then receives (from higher ranks), then the new points; then every send is
 * completed, so that nxt and out may be written again. Only transport errors return early; *st: local. */
static pd_status redistribute(pd_ctx *ctx, pd_picard *p, int a2, int e2, pd_status *st)
{
    pd_range h = held_range(p->a, p->e, p->rank, p->size), n = held_range(a2, e2, p->rank, p->size);
    pd_msg_header hd = {
        .status = *st, .iter = p->log.iters, .flags = PD_MSG_PAYLOAD, .hist_step = -1, .clock = p->clock};
    for (int r = 0; r < p->size; r++) {
        pd_range u = range_cut(needed(p, a2, e2, r), h);
        if (r == p->rank || !range_len(u)) continue;
        pd_state *v;
        PD_TRY(slot_view(ctx, p, V_X, p->nxt, u.lo - h.lo, range_len(u), &v));
        PD_TRY(pd_transport_send(ctx, p->tp, r, 0, &hd, v, NULL));
    }
    pd_range mine = range_cut(needed(p, a2, e2, p->rank), h);
    if (range_len(mine) && *st == PD_OK) *st = move_local(ctx, p, h, n, mine);
    for (int s = 0; s < p->size; s++) {
        pd_range u = range_cut(needed(p, a2, e2, p->rank), held_range(p->a, p->e, s, p->size));
        if (s == p->rank || !range_len(u)) continue;
        pd_state *dst;
        PD_TRY(landing(ctx, p, n, u, &dst));
        PD_TRY(pd_transport_recv(ctx, p->tp, s, 0, &hd, dst, NULL));
    }
    if (*st == PD_OK) *st = fill_new(ctx, p, n);
    return pd_transport_flush(ctx, p->tp);
}

/* Keep the final states of the trajectory points that became final: (a, last]. */
static pd_status keep_final(pd_ctx *ctx, pd_picard *p, int last)
{
    pd_range h = held_range(p->a, p->e, p->rank, p->size);
    for (int i = 0; i < p->o.n_keep; i++) {
        int j = p->o.keep[i];
        if (j <= p->a || j > last) continue;
        p->holder[i] = j >= h.lo && j < h.hi ? p->rank : p->holder[i];
        if (p->holder[i] != p->rank) continue;
        pd_state *x;
        PD_TRY(slot_view(ctx, p, V_X, p->nxt, j - h.lo, 1, &x));
        if (!p->kept[i]) PD_TRY(pd_state_create_like(ctx, p->x0, &p->kept[i]));
        PD_TRY(pd_state_copy(ctx, p->kept[i], x));
    }
    return PD_OK;
}

/* ------------------------------------------------------------------ decisions */

/* Next window after iteration k (the flags and residuals of the reduction are the same on every rank). */
static void decide(pd_picard *p, int k, int *a2, int *e2, int *block_done)
{
    int w = p->e - p->a;
    const double *conv = p->red + 2, *res = p->red + 2 + p->width;
    *block_done = 0;
    if (p->o.kind == PD_PICARD_WINDOW) {
        int ind = w;
        for (int i = 0; i < w && ind == w; i++) {
            int forced = p->o.max_iters > 0 && k - p->first_iter[p->a + 1 + i] + 1 >= p->o.max_iters;
            if (!(conv[i] > 0) && !forced) ind = i;
        }
        *a2 = p->a + (ind + 1 < p->p ? ind + 1 : p->p); /* ParaDiGMS: slide past the converged prefix */
        *e2 = *a2 + p->p < p->N ? *a2 + p->p : p->N;
        return;
    }
    double mx = 0.0;
    for (int i = 0; i < w; i++)
        mx = res[i] > mx ? res[i] : mx;
    int len = p->e - p->a, kmax = p->o.max_iters > 0 && p->o.max_iters < len ? p->o.max_iters : len;
    *block_done = mx <= p->o.tol || p->blk_iters >= kmax;
    *a2 = *block_done ? p->e : p->a;
    *e2 = *block_done ? (p->blk + 1 < p->B ? block_start(p, p->blk + 2) : p->N) : p->e;
}

static void log_row(pd_picard *p, int k)
{
    pd_picard_log *l = &p->log;
    int w = p->e - p->a;
    for (int i = 0; i < p->width; i++) {
        size_t c = (size_t)(k - 1) * p->width + i;
        int in = i < w;
        int forced = in && p->o.kind == PD_PICARD_WINDOW && p->o.max_iters > 0 &&
                     k - p->first_iter[p->a + 1 + i] + 1 >= p->o.max_iters;
        l->residual[c] = in ? p->red[2 + p->width + i] : NAN;
        l->converged[c] = in && (p->red[2 + i] > 0 || forced);
    }
    l->window_start[k - 1] = p->a;
    l->window_end[k - 1] = p->e;
    l->block[k - 1] = p->o.kind == PD_PICARD_BLOCKS ? p->blk : 0;
}

static void progress_line(const pd_picard *p, int k, int a2)
{
    if (!p->o.progress || p->rank != 0) return;
    const pd_picard_log *l = &p->log;
    int w = p->e - p->a, n_conv = 0;
    double mx = 0.0;
    for (int i = 0; i < w; i++) {
        double r = l->residual[(size_t)(k - 1) * p->width + i];
        mx = r > mx ? r : mx;
        n_conv += l->converged[(size_t)(k - 1) * p->width + i];
    }
    if (p->o.kind == PD_PICARD_WINDOW)
        fprintf(stderr,
                "picard: iteration %3d  window [%d, %d]  max residual %.3e  converged %d/%d  slide %d  "
                "critical-path NFE %lld  %.2f s\n",
                k, p->a, p->e, mx, n_conv, w, a2 - p->a, (long long)p->clock, MPI_Wtime() - p->t_start);
    else
        fprintf(stderr,
                "block-picard: block %d/%d [%d, %d]  iteration %2d  max residual %.3e  converged %d/%d  "
                "critical-path NFE %lld  %.2f s\n",
                p->blk + 1, p->B, p->a, p->e, p->blk_iters, mx, n_conv, w, (long long)p->clock,
                MPI_Wtime() - p->t_start);
}

/* Per-rank timings of iteration k (1-based) from the transport's counters. */
static void account(pd_picard *p, int k, double t0, pd_transport_times before, int64_t points0)
{
    pd_transport_times now = pd_transport_get_times(p->tp);
    size_t i = (size_t)(k - 1) * p->size + p->rank;
    double wait = now.wait_s - before.wait_s, comm = now.comm_s - before.comm_s;
    p->log.wait_s[i] = wait;
    p->log.comm_s[i] = comm;
    p->log.compute_s[i] = MPI_Wtime() - t0 - wait - comm;
    p->log.nfe[i] = p->points - points0;
}

/* ------------------------------------------------------------------ the run */

static pd_status keep_result(pd_ctx *ctx, pd_picard *p);

/* The first window [0, e0]: every point starts as x_{t_0} (every rank has it). */
static pd_status start(pd_ctx *ctx, pd_picard *p)
{
    p->a = 0;
    p->e = p->o.kind == PD_PICARD_WINDOW ? p->p : block_start(p, 1);
    pd_range h = held_range(p->a, p->e, p->rank, p->size);
    pd_state *x;
    for (int j = h.lo; j < h.hi; j++) {
        PD_TRY(slot_view(ctx, p, V_X, p->cur, j - h.lo, 1, &x));
        PD_TRY(pd_state_copy(ctx, x, p->x0));
    }
    for (int i = 0; i < p->o.n_keep; i++) {
        if (p->o.keep[i] != 0) continue;
        p->holder[i] = h.lo == 0 && range_len(h) ? p->rank : -1;
        if (p->holder[i] != p->rank) continue;
        PD_TRY(pd_state_create_like(ctx, p->x0, &p->kept[i]));
        PD_TRY(pd_state_copy(ctx, p->kept[i], p->x0));
    }
    return PD_OK;
}

/* Iteration k: evaluate, compose, reduce; then every rank applies the same decision. Returns transport
 * errors; *st carries the run's status (the same on every rank after the reduction). */
static pd_status iterate(pd_ctx *ctx, pd_picard *p, int k, pd_status *st)
{
    double t0 = MPI_Wtime();
    pd_transport_times before = pd_transport_get_times(p->tp);
    int64_t points0 = p->points;
    PD_TRY(log_reserve(ctx, p));
    for (int j = p->a + 1; j <= p->e; j++)
        if (!p->first_iter[j]) p->first_iter[j] = k;
    memset(p->red, 0, sizeof(double) * (2 + 2 * (size_t)p->width));
    p->blk_iters++;
    if (*st == PD_OK) *st = evaluate(ctx, p);
    PD_TRY(chain(ctx, p, st));
    p->red[0] = *st;
    p->red[1] = (double)p->clock;
    PD_TRY(pd_transport_allreduce_max(ctx, p->tp, p->red, 2 + 2 * p->width));
    p->clock = (int64_t)p->red[1];
    account(p, k, t0, before, points0);
    p->log.iters = k;
    log_row(p, k);
    if (p->red[0] != PD_OK) {
        if (*st == PD_OK) *st = pd_error_set(ctx, PD_ERR_REMOTE, __FILE__, __LINE__, "another rank failed");
        return pd_transport_flush(ctx, p->tp);
    }
    int a2, e2, block_done;
    decide(p, k, &a2, &e2, &block_done);
    progress_line(p, k, a2);
    if (*st == PD_OK) *st = keep_final(ctx, p, a2 < p->e ? a2 : p->e);
    if (a2 >= p->N) { /* e = N: the last rank holds x_N */
        p->done = 1;
        if (*st == PD_OK) *st = keep_result(ctx, p);
        return pd_transport_flush(ctx, p->tp);
    }
    if (a2 == p->a && e2 == p->e) { /* block-picard inside a block: same layout, iterate k + 1 becomes k */
        pd_state *t = p->cur;
        p->cur = p->nxt;
        p->nxt = t;
        return pd_transport_flush(ctx, p->tp);
    }
    PD_TRY(redistribute(ctx, p, a2, e2, st));
    p->a = a2;
    p->e = e2;
    if (block_done) p->blk++, p->blk_iters = 0;
    return PD_OK;
}

/* The final sample, on the last rank (it holds the end point N of the last window). */
static pd_status keep_result(pd_ctx *ctx, pd_picard *p)
{
    if (p->rank != p->size - 1) return PD_OK;
    pd_range h = held_range(p->a, p->e, p->rank, p->size);
    pd_state *x;
    PD_TRY(slot_view(ctx, p, V_X, p->nxt, p->N - h.lo, 1, &x));
    PD_TRY(pd_state_create_like(ctx, p->x0, &p->result));
    return pd_state_copy(ctx, p->result, x);
}

/* Make the per-rank rows [iters, R] the same on every rank (each rank filled its column), learn the
 * holders of the kept trajectory points, the work and the wall time. */
static pd_status gather_log(pd_ctx *ctx, pd_picard *p)
{
    pd_picard_log *l = &p->log;
    int K = l->iters, R = p->size;
    size_t kr = (size_t)K * R, n = 4 * kr + 2 + (size_t)p->o.n_keep;
    double *buf = calloc(n, sizeof *buf);
    if (!buf) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the log gather");
    for (int k = 0; k < K; k++) {
        size_t i = (size_t)k * R + p->rank;
        buf[i] = (double)l->nfe[i];
        buf[kr + i] = l->compute_s[i];
        buf[2 * kr + i] = l->wait_s[i];
        buf[3 * kr + i] = l->comm_s[i];
    }
    buf[4 * kr] = (double)p->calls;
    buf[4 * kr + 1] = (double)p->points;
    for (int i = 0; i < p->o.n_keep; i++)
        buf[4 * kr + 2 + i] = p->holder[i] == p->rank ? p->rank + 1 : 0;
    pd_status st = pd_transport_allreduce_sum(ctx, p->tp, buf, (int)n);
    if (st == PD_OK) {
        for (size_t i = 0; i < kr; i++) {
            l->nfe[i] = (int64_t)buf[i];
            l->compute_s[i] = buf[kr + i];
            l->wait_s[i] = buf[2 * kr + i];
            l->comm_s[i] = buf[3 * kr + i];
        }
        l->model_calls = (int64_t)buf[4 * kr];
        l->total_nfe = (int64_t)buf[4 * kr + 1];
        for (int i = 0; i < p->o.n_keep; i++)
            p->holder[i] = (int)buf[4 * kr + 2 + i] - 1;
    }
    free(buf);
    return st;
}

pd_status pd_picard_run(pd_ctx *ctx, pd_picard *p)
{
    pd_picard_log *l = &p->log;
    l->width = p->width;
    l->n_ranks = p->size;
    l->window = p->width;
    l->n_blocks = p->B;
    p->t_start = MPI_Wtime();
    pd_status st = start(ctx, p);
    for (int k = 1; !p->done; k++) {
        PD_TRY(iterate(ctx, p, k, &st)); /* the transport broke: the caller aborts */
        if (st != PD_OK) break;
    }
    double worst = st; /* a failure after the last reduction (keeping the result) */
    PD_TRY(pd_transport_allreduce_max(ctx, p->tp, &worst, 1));
    if (worst != PD_OK)
        return st != PD_OK ? st : pd_error_set(ctx, PD_ERR_REMOTE, __FILE__, __LINE__, "another rank failed");
    PD_TRY(gather_log(ctx, p));
    l->critical_nfe = p->clock;
    double w = MPI_Wtime() - p->t_start;
    PD_TRY(pd_transport_allreduce_max(ctx, p->tp, &w, 1));
    l->wall_s = w;
    return PD_OK;
}

const pd_state *pd_picard_result(const pd_picard *p)
{
    return p->result;
}

const pd_picard_log *pd_picard_get_log(const pd_picard *p)
{
    return &p->log;
}

const pd_state *pd_picard_kept(const pd_picard *p, int i, int *holder)
{
    if (i < 0 || i >= p->o.n_keep) {
        if (holder) *holder = -1;
        return NULL;
    }
    if (holder) *holder = p->holder[i];
    return p->holder[i] == p->rank ? p->kept[i] : NULL;
}
