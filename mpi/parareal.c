/* Parareal over MPI ranks (ALGORITHMS.md §7.1-7.3): blocks, the fine/coarse correction evaluated so
 * that converged blocks stay bitwise exact, the converged prefix skipped, history of multistep fine
 * solvers carried with the boundary state (§7.2a), and the pipelined variant.
 *
 * Protocol between ranks (one block chain, rank r -> r + 1, channel 0): the initial coarse sweep
 * (iteration 0) and every iteration's sweep send the rank's last boundary state with a header. Without
 * pipelining all ranks meet in one reduction per iteration (status, critical-path clock, residuals)
 * and stop together. With pipelining nobody waits for a reduction: the last rank decides when to stop
 * from the running maximum residual that travels with the boundaries, tells rank 0 (channel 1), and a
 * STOP message runs down the chain; every rank receives from its predecessor until STOP, so no message
 * is left unreceived. Boundary messages carry the sender's status, so a failure anywhere stops all
 * ranks instead of leaving one waiting. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/parareal.h"
#include "pintdiff/rng.h"

/* One block: fine steps [n0, n1) of the grid, its coarse sub-grid, its states. */
typedef struct pd_block {
    int b, n0, n1;
    pd_grid *coarse;
    pd_state *u;        /* U_b: the start state of the current iterate */
    pd_state *y;        /* F(U_b) (fresh when fine_fresh): a view of the rank's fine batch */
    pd_state *g;        /* G(U_b) */
    pd_state *out;      /* U_{b+1} of the current iterate */
    pd_state *tmp_g, *tmp_out;
    int fine_fresh;
    /* multistep history (x0_hat at the step before): of u, of y (after F), of out */
    pd_state *u_h, *y_h, *out_h, *tmp_h;
    int u_hs, y_hs, out_hs;
    double u_hl, y_hl, out_hl;
    pd_state **kept;    /* [kmax + 1] out after each iteration (store_boundaries) */
    pd_state **znoise;  /* [c] aggregated fine noise of each coarse step (§7.2), or NULL */
    int n_coarse;
} pd_block;

/* A boundary state in flight: x plus optional history. */
typedef struct pd_bstate {
    const pd_state *x, *h;
    int hs;
    double hl;
} pd_bstate;

struct pd_parareal {
    pd_transport *tp;
    const pd_solver *fine, *coarse;
    pd_model *m;
    const pd_grid *g;
    pd_parareal_opts o;
    int rank, size, N, B, kmax, multistep;
    int nb;
    pd_block *blk;
    pd_solver_ws *ws_f, *ws_c;  /* ws_f: one group per block of this rank */
    pd_state *fine_batch;       /* [nb * S, dim]: the blocks' y stacked, advanced by one batched run */
    pd_state *fine_view;        /* the blocks of one run */
    int *fine_n0, *fine_n1;     /* [nb] their step ranges */
    pd_state *x0, *in, *in_h, *kept0;
    double *red;        /* reduction buffer, made at create: no allocation between collectives */
    size_t n_red;
    int64_t clock, nfe_mark;
    double t_start;
    pd_parareal_log log;
    int done;           /* iterations finished by the whole run (K) */
};

/* ------------------------------------------------------------------ setup */

static pd_status block_states(pd_ctx *ctx, pd_parareal *p, pd_block *k, int i)
{
    pd_state **s[] = {&k->u, &k->g, &k->out, &k->tmp_g, &k->tmp_out};
    for (int j = 0; j < 5; j++) PD_TRY(pd_state_create_like(ctx, p->x0, s[j]));
    const int64_t S = pd_state_n_samples(p->x0);
    PD_TRY(pd_state_view(ctx, p->fine_batch, 0, 0, &k->y));
    PD_TRY(pd_state_view_set(ctx, k->y, p->fine_batch, i * S, S, pd_state_offset(p->x0)));
    if (p->multistep) {
        pd_state **h[] = {&k->u_h, &k->y_h, &k->out_h, &k->tmp_h};
        for (int j = 0; j < 4; j++) PD_TRY(pd_state_create_like(ctx, p->x0, h[j]));
    }
    k->u_hs = k->y_hs = k->out_hs = -1;
    if (p->o.store_boundaries) {
        k->kept = calloc((size_t)p->kmax + 1, sizeof *k->kept);
        if (!k->kept) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate boundary storage");
    }
    return PD_OK;
}

/* §7.2: the coarse step over fine steps m = i .. j-1 is driven by z = sum_m w_m z_m / sqrt(sum_m w_m^2),
 * w_m = the fine solver's noise std at step m, z_m its draw. The noise does not depend on the
 * iteration, so it is made once per block. */
static pd_status aggregate_noise(pd_ctx *ctx, pd_parareal *p, pd_block *k, const int *idx)
{
    k->znoise = calloc((size_t)k->n_coarse, sizeof *k->znoise);
    if (!k->znoise) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the aggregated noise");
    uint64_t seed = pd_solver_get_params(p->fine)->seed;
    for (int j = 0; j < k->n_coarse; j++) {
        PD_TRY(pd_state_create_like(ctx, p->x0, &k->znoise[j]));
        double w2 = 0.0;
        for (int m = idx[j]; m < idx[j + 1]; m++) {
            double w = pd_solver_noise_std(p->fine, p->g, m);
            if (w == 0.0) continue;
            const pd_state *v[] = {k->znoise[j]};
            const double one[] = {1.0};
            pd_noise_term z = {.coef = w, .seed = seed, .step = (uint32_t)pd_grid_noise_step(p->g, m),
                               .purpose = PD_RNG_STEP};
            PD_TRY(pd_state_lincomb(ctx, k->znoise[j], 1, one, v, &z));
            w2 += w * w;
        }
        if (w2 > 0.0) {
            const pd_state *v[] = {k->znoise[j]};
            const double c[] = {1.0 / sqrt(w2)};
            PD_TRY(pd_state_lincomb(ctx, k->znoise[j], 1, c, v, NULL));
        }
    }
    return PD_OK;
}

/* Coarse points of block b: n_b + floor(j f_b / c'), j = 0..c', c' = min(c, f_b) (§7.1). */
static pd_status block_setup(pd_ctx *ctx, pd_parareal *p, pd_block *k, int i, int b)
{
    k->b = b;
    k->n0 = (int)((int64_t)b * p->N / p->B);
    k->n1 = (int)((int64_t)(b + 1) * p->N / p->B);
    int f = k->n1 - k->n0, c = p->o.coarse_steps < f ? p->o.coarse_steps : f;
    int *idx = malloc(sizeof(int) * (size_t)(c + 1));
    if (!idx) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate coarse points");
    for (int j = 0; j <= c; j++) idx[j] = k->n0 + (int)((int64_t)j * f / c);
    pd_status st = pd_grid_create_sub(ctx, p->g, idx, c, &k->coarse);
    k->n_coarse = c;
    if (st == PD_OK) st = block_states(ctx, p, k, i);
    if (st == PD_OK && p->o.coarse_noise_aggregate && pd_solver_is_stochastic(p->coarse))
        st = aggregate_noise(ctx, p, k, idx);
    free(idx);
    return st;
}

/* The rank's blocks advance their fine solves together (one model call per stage for all of them):
 * their F(U_b) live stacked in one batch, every block's rows numbered as the run's samples. */
static pd_status fine_batch_create(pd_ctx *ctx, pd_parareal *p)
{
    const pd_state *x = p->x0;
    PD_TRY(pd_state_create(ctx, pd_state_dtype(x), pd_state_device(x), p->nb * pd_state_n_samples(x),
                           pd_state_dim(x), pd_state_offset(x), &p->fine_batch));
    PD_TRY(pd_state_view(ctx, p->fine_batch, 0, 0, &p->fine_view));
    p->fine_n0 = calloc((size_t)p->nb, sizeof *p->fine_n0);
    p->fine_n1 = calloc((size_t)p->nb, sizeof *p->fine_n1);
    if (!p->fine_n0 || !p->fine_n1) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the fine batch");
    return PD_OK;
}

static pd_status check_opts(pd_ctx *ctx, const pd_parareal *p)
{
    if (p->B < 1 || p->B > p->N)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.blocks: %d blocks for %d fine steps; expected 1 .. %d", p->B, p->N, p->N);
    if (p->B < p->size)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.blocks: %d blocks for %d ranks; each rank needs at least one block",
                p->B, p->size);
    if (p->o.coarse_steps < 1)
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.coarse_steps: expected >= 1, got %d", p->o.coarse_steps);
    if (!(p->o.tol > 0)) PD_FAIL(ctx, PD_ERR_INPUT, "sampler.tol: expected a positive number, got %g", p->o.tol);
    if (p->o.coarse_noise_aggregate && pd_solver_is_stochastic(p->coarse) &&
        !(pd_solver_is_affine(p->fine) && pd_solver_is_affine(p->coarse)))
        PD_FAIL(ctx, PD_ERR_INPUT, "sampler.coarse_noise: aggregate needs one-step affine fine and coarse solvers "
                "(ddpm, ddim, li-ddpm, ...): %s / %s draw their noise otherwise",
                pd_solver_get_info(p->fine)->name, pd_solver_get_info(p->coarse)->name);
    return PD_OK;
}

static pd_status log_alloc(pd_ctx *ctx, pd_parareal *p)
{
    pd_parareal_log *l = &p->log;
    size_t kb = (size_t)p->kmax * (size_t)p->B, kr = (size_t)p->kmax * (size_t)p->size;
    l->n_blocks = p->B;
    l->n_ranks = p->size;
    l->residual = calloc(kb, sizeof *l->residual);
    l->converged = calloc(kb, sizeof *l->converged);
    l->nfe = calloc(kr, sizeof *l->nfe);
    l->compute_s = calloc(kr, sizeof *l->compute_s);
    l->wait_s = calloc(kr, sizeof *l->wait_s);
    l->comm_s = calloc(kr, sizeof *l->comm_s);
    p->n_red = kb + 4 * kr + (size_t)p->B + 4;
    p->red = calloc(p->n_red, sizeof *p->red);
    if (!l->residual || !l->converged || !l->nfe || !l->compute_s || !l->wait_s || !l->comm_s || !p->red)
        PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the convergence log");
    return PD_OK;
}

pd_status pd_parareal_create(pd_ctx *ctx, pd_transport *tp, const pd_solver *fine, const pd_solver *coarse,
                             pd_model *m, const pd_grid *g, const pd_parareal_opts *o, const pd_state *x0,
                             pd_parareal **out)
{
    pd_parareal *p = calloc(1, sizeof *p);
    if (!p) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate the Parareal driver");
    *p = (pd_parareal){.tp = tp, .fine = fine, .coarse = coarse, .m = m, .g = g, .o = *o,
                       .rank = pd_transport_rank(tp), .size = pd_transport_size(tp), .N = pd_grid_steps(g)};
    p->B = o->blocks > 0 ? o->blocks : p->size;
    p->kmax = o->max_iters > 0 && o->max_iters < p->B ? o->max_iters : p->B;
    p->multistep = pd_solver_get_info(fine)->multistep;
    pd_status st = check_opts(ctx, p);
    int b0 = (int)((int64_t)p->rank * p->B / p->size), b1 = (int)((int64_t)(p->rank + 1) * p->B / p->size);
    p->nb = b1 - b0;
    if (st == PD_OK && p->nb < 1) /* check_opts failed already when B < ranks */
        st = pd_error_set(ctx, PD_ERR_INPUT, __FILE__, __LINE__, "rank %d owns no block", p->rank);
    if (st == PD_OK) st = pd_state_create_like(ctx, x0, &p->x0);
    if (st == PD_OK) st = pd_state_copy(ctx, p->x0, x0);
    if (st == PD_OK) st = pd_state_create_like(ctx, x0, &p->in);
    if (st == PD_OK && p->multistep) st = pd_state_create_like(ctx, x0, &p->in_h);
    if (st == PD_OK) st = fine_batch_create(ctx, p);
    if (st == PD_OK) st = pd_solver_ws_create_groups(ctx, fine, x0, p->nb, &p->ws_f);
    if (st == PD_OK) st = pd_solver_ws_create(ctx, coarse, x0, &p->ws_c);
    if (st == PD_OK) st = log_alloc(ctx, p);
    if (st == PD_OK && !(p->blk = calloc((size_t)p->nb, sizeof *p->blk)))
        st = pd_error_set(ctx, PD_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate %d blocks", p->nb);
    for (int i = 0; st == PD_OK && i < p->nb; i++) st = block_setup(ctx, p, &p->blk[i], i, b0 + i);
    if (st != PD_OK) {
        pd_parareal_destroy(&p);
        return st;
    }
    *out = p;
    return PD_OK;
}

static void block_destroy(pd_block *k, int kmax)
{
    pd_state **s[] = {&k->u, &k->y, &k->g, &k->out, &k->tmp_g, &k->tmp_out, &k->u_h, &k->y_h, &k->out_h, &k->tmp_h};
    for (int i = 0; i < 10; i++) pd_state_destroy(s[i]);
    for (int i = 0; k->kept && i <= kmax; i++) pd_state_destroy(&k->kept[i]);
    free(k->kept);
    for (int j = 0; k->znoise && j < k->n_coarse; j++) pd_state_destroy(&k->znoise[j]);
    free(k->znoise);
    pd_grid_destroy(&k->coarse);
}

void pd_parareal_destroy(pd_parareal **pp)
{
    if (!pp || !*pp) return;
    pd_parareal *p = *pp;
    for (int i = 0; p->blk && i < p->nb; i++) block_destroy(&p->blk[i], p->kmax);
    free(p->blk);
    pd_solver_ws_destroy(&p->ws_f);
    pd_solver_ws_destroy(&p->ws_c);
    pd_state_destroy(&p->fine_view);
    pd_state_destroy(&p->fine_batch);
    free(p->fine_n0), free(p->fine_n1);
    pd_state_destroy(&p->x0);
    pd_state_destroy(&p->in);
    pd_state_destroy(&p->in_h);
    pd_state_destroy(&p->kept0);
    pd_parareal_log *l = &p->log;
    free(l->residual), free(l->converged), free(l->nfe), free(l->compute_s), free(l->wait_s), free(l->comm_s);
    free(p->red);
    free(p);
    *pp = NULL;
}

/* ------------------------------------------------------------------ propagators */

/* Model evaluations since the last call: they advance this rank's critical-path clock. */
static int64_t take_nfe(pd_parareal *p)
{
    int64_t now = pd_model_nfe(p->m), d = now - p->nfe_mark;
    p->nfe_mark = now;
    p->clock += d;
    return d;
}

/* dst = G_b(src): c coarse steps on the block's sub-grid, no history (a fresh trajectory). */
static pd_status coarse(pd_ctx *ctx, pd_parareal *p, pd_block *k, const pd_state *src, pd_state *dst)
{
    PD_TRY(pd_state_copy(ctx, dst, src));
    pd_solver_ws_reset(p->ws_c);
    pd_solver_ws_set_noise(p->ws_c, (const pd_state *const *)k->znoise, k->znoise ? k->n_coarse : 0);
    return pd_solver_run(ctx, p->coarse, p->m, k->coarse, 0, pd_grid_steps(k->coarse), dst, p->ws_c);
}

/* y_b = F_b(u_b) for this rank's blocks lo .. hi - 1 at once (pd_solver_run_groups: one model call per
 * stage for all of them), each starting from its u's history (if any) and leaving its history in y_h. */
static pd_status fine_blocks(pd_ctx *ctx, pd_parareal *p, int lo, int hi)
{
    const int64_t S = pd_state_n_samples(p->x0);
    pd_solver_ws_reset(p->ws_f);
    for (int i = lo; i < hi; i++) {
        pd_block *k = &p->blk[i];
        PD_TRY(pd_state_copy(ctx, k->y, k->u));
        p->fine_n0[i - lo] = k->n0;
        p->fine_n1[i - lo] = k->n1;
        if (p->multistep && k->u_hs >= 0) {
            PD_TRY(pd_state_copy(ctx, pd_solver_ws_group_history(p->ws_f, i - lo, NULL, NULL), k->u_h));
            PD_TRY(pd_solver_ws_set_group_history(ctx, p->ws_f, p->g, i - lo, k->u_hs));
        }
    }
    PD_TRY(pd_state_view_set(ctx, p->fine_view, p->fine_batch, lo * S, (hi - lo) * S, pd_state_offset(p->x0)));
    PD_TRY(pd_solver_run_groups(ctx, p->fine, p->m, p->g, hi - lo, p->fine_n0, p->fine_n1, p->fine_view, p->ws_f));
    for (int i = lo; i < hi; i++) {
        pd_block *k = &p->blk[i];
        if (p->multistep) {
            pd_state *h = pd_solver_ws_group_history(p->ws_f, i - lo, &k->y_hs, &k->y_hl);
            if (k->y_hs >= 0) PD_TRY(pd_state_copy(ctx, k->y_h, h));
        }
        k->fine_fresh = 1;
    }
    return PD_OK;
}

/* ------------------------------------------------------------------ one block of a sweep */

static void swap(pd_state **a, pd_state **b)
{
    pd_state *t = *a;
    *a = *b;
    *b = t;
}

/* Is the incoming start state bitwise the block's current one (history included)? */
static pd_status same_start(pd_ctx *ctx, pd_parareal *p, pd_block *k, const pd_bstate *in, int *eq)
{
    PD_TRY(pd_state_equal(ctx, in->x, k->u, eq));
    if (*eq && p->multistep) {
        if (in->hs != k->u_hs) *eq = 0;
        else if (in->hs >= 0) PD_TRY(pd_state_equal(ctx, in->h, k->u_h, eq));
    }
    return PD_OK;
}

static pd_status take_start(pd_ctx *ctx, pd_parareal *p, pd_block *k, const pd_bstate *in)
{
    PD_TRY(pd_state_copy(ctx, k->u, in->x));
    if (p->multistep) {
        k->u_hs = in->hs;
        k->u_hl = in->hl;
        if (in->hs >= 0) PD_TRY(pd_state_copy(ctx, k->u_h, in->h));
    }
    return PD_OK;
}

/* RMS over samples x elements of the change of the end state (history included). */
static pd_status residual(pd_ctx *ctx, pd_parareal *p, pd_block *k, double *r)
{
    double sq = 0.0, sh = 0.0;
    PD_TRY(pd_state_sqdiff_local(ctx, k->tmp_out, k->out, &sq));
    /* the history counts once both iterates have one (the coarse pass leaves none) */
    if (p->multistep && k->y_hs >= 0 && k->out_hs >= 0) {
        if (k->y_hs == k->out_hs) PD_TRY(pd_state_sqdiff_local(ctx, k->y_h, k->out_h, &sh));
        else sh = INFINITY; /* the history moved to another step: not converged */
    }
    double n = (double)pd_state_n_samples(k->out) * (double)pd_state_dim(k->out);
    *r = sqrt((sq + sh) / n);
    return PD_OK;
}

/* Iteration k >= 1 for block k_: U'_{b+1} = y + (G(U'_b) - G(U_b)), skipped to y when U'_b = U_b. */
static pd_status sweep_block(pd_ctx *ctx, pd_parareal *p, pd_block *k, const pd_bstate *in, double *r)
{
    int eq = 0;
    PD_TRY(same_start(ctx, p, k, in, &eq));
    if (eq) {
        PD_TRY(pd_state_copy(ctx, k->tmp_out, k->y)); /* the bracket is exactly 0 */
    } else {
        PD_TRY(coarse(ctx, p, k, in->x, k->tmp_g));
        const pd_state *v[] = {k->tmp_g, k->g, k->y}; /* (g' - g) first: 0 exactly when g' = g */
        const double c[] = {1.0, -1.0, 1.0};
        PD_TRY(pd_state_lincomb(ctx, k->tmp_out, 3, c, v, NULL));
    }
    PD_TRY(residual(ctx, p, k, r));
    if (!eq) {
        PD_TRY(take_start(ctx, p, k, in));
        swap(&k->g, &k->tmp_g);
        k->fine_fresh = 0;
    }
    swap(&k->out, &k->tmp_out);
    if (p->multistep) { /* out_h may still be in flight to the next rank: fill the spare, then swap */
        if (k->y_hs >= 0) {
            PD_TRY(pd_state_copy(ctx, k->tmp_h, k->y_h));
            swap(&k->out_h, &k->tmp_h);
        }
        k->out_hs = k->y_hs;
        k->out_hl = k->y_hl;
    }
    return PD_OK;
}

/* Iteration 0: U_{b+1} = G(U_b). */
static pd_status init_block(pd_ctx *ctx, pd_parareal *p, pd_block *k, const pd_bstate *in)
{
    PD_TRY(take_start(ctx, p, k, in));
    PD_TRY(coarse(ctx, p, k, k->u, k->g));
    PD_TRY(pd_state_copy(ctx, k->out, k->g));
    k->out_hs = -1;
    k->fine_fresh = 0;
    return PD_OK;
}

static pd_status keep(pd_ctx *ctx, pd_block *k, int iter)
{
    if (!k->kept) return PD_OK;
    if (!k->kept[iter]) PD_TRY(pd_state_create_like(ctx, k->out, &k->kept[iter]));
    return pd_state_copy(ctx, k->kept[iter], k->out);
}

/* ------------------------------------------------------------------ the chain of ranks */

typedef struct sweep_result {
    pd_status remote;    /* status that came with the incoming boundary */
    int stop;            /* a STOP arrived instead of a boundary */
    int stop_iter;
    double max_res;      /* running max including this rank's blocks */
    int n_conv;
} sweep_result;

/* The incoming start state of this rank's first block for iteration `iter`: x_{t_0} on the owner of
 * block 0, else the predecessor's message. */
static pd_status receive_start(pd_ctx *ctx, pd_parareal *p, pd_bstate *in, pd_msg_header *h)
{
    memset(h, 0, sizeof *h);
    h->hist_step = -1;
    if (p->rank == 0) {
        *in = (pd_bstate){.x = p->x0, .h = NULL, .hs = -1};
        return PD_OK;
    }
    PD_TRY(pd_transport_recv(ctx, p->tp, p->rank - 1, 0, h, p->in, p->in_h));
    if (h->clock > p->clock) p->clock = h->clock;
    *in = (pd_bstate){.x = p->in, .h = p->in_h, .hs = (h->flags & PD_MSG_HIST) ? h->hist_step : -1,
                      .hl = h->hist_lambda};
    return PD_OK;
}

static pd_status send_end(pd_ctx *ctx, pd_parareal *p, int iter, pd_status st, const sweep_result *sr)
{
    if (p->rank == p->size - 1) return PD_OK;
    pd_block *last = &p->blk[p->nb - 1];
    pd_msg_header h = {.status = st != PD_OK ? st : sr->remote, .iter = iter, .flags = PD_MSG_PAYLOAD,
                       .hist_step = -1, .max_residual = sr->max_res, .n_converged = sr->n_conv, .clock = p->clock};
    if (p->multistep && last->out_hs >= 0) {
        h.flags |= PD_MSG_HIST;
        h.hist_step = last->out_hs;
        h.hist_lambda = last->out_hl;
    }
    return pd_transport_send(ctx, p->tp, p->rank + 1, 0, &h, last->out, last->out_h);
}

static pd_status send_stop(pd_ctx *ctx, pd_parareal *p, int channel, int dst, int iter, pd_status st)
{
    pd_msg_header h = {.status = st, .iter = iter, .flags = PD_MSG_STOP, .hist_step = -1, .clock = p->clock};
    return pd_transport_send(ctx, p->tp, dst, channel, &h, NULL, NULL);
}

/* The sweep of iteration `iter` (0: the initial coarse sweep) over this rank's blocks. A rank that
 * has failed (st) still passes messages on, with its status, and computes nothing. */
static pd_status sweep(pd_ctx *ctx, pd_parareal *p, int iter, pd_status *st, sweep_result *sr)
{
    pd_msg_header h;
    pd_bstate in;
    PD_TRY(receive_start(ctx, p, &in, &h));
    *sr = (sweep_result){.remote = (pd_status)h.status, .max_res = h.max_residual, .n_conv = h.n_converged};
    if (h.flags & PD_MSG_STOP) {
        sr->stop = 1;
        sr->stop_iter = h.iter;
        return PD_OK;
    }
    if (iter == 0 && p->o.store_boundaries && p->rank == 0 && *st == PD_OK) { /* boundary 0 never changes */
        *st = pd_state_create_like(ctx, p->x0, &p->kept0);
        if (*st == PD_OK) *st = pd_state_copy(ctx, p->kept0, p->x0);
    }
    for (int i = 0; i < p->nb && *st == PD_OK && sr->remote == PD_OK; i++) {
        pd_block *k = &p->blk[i];
        double r = 0.0;
        *st = iter == 0 ? init_block(ctx, p, k, &in) : sweep_block(ctx, p, k, &in, &r);
        if (*st == PD_OK) *st = keep(ctx, k, iter);
        if (iter > 0) {
            p->log.residual[(size_t)(iter - 1) * p->B + k->b] = r;
            sr->max_res = r > sr->max_res ? r : sr->max_res;
            sr->n_conv += r < p->o.tol;
        }
        in = (pd_bstate){.x = k->out, .h = k->out_h, .hs = k->out_hs, .hl = k->out_hl};
    }
    take_nfe(p);
    return send_end(ctx, p, iter, *st, sr);
}

/* ------------------------------------------------------------------ iterations */

/* The fine solves of the iteration: every block whose start state changed since its last F. They are
 * (nearly always) a suffix of the rank's blocks — the converged prefix keeps its y; a fresh block
 * between stale ones is recomputed with them (F is deterministic: the same y). */
static pd_status fine_all(pd_ctx *ctx, pd_parareal *p, pd_status st)
{
    int lo = 0, hi = p->nb;
    while (lo < hi && p->blk[lo].fine_fresh) lo++;
    while (hi > lo && p->blk[hi - 1].fine_fresh) hi--;
    if (st == PD_OK && lo < hi) st = fine_blocks(ctx, p, lo, hi);
    take_nfe(p);
    return st;
}

static void progress_line(const pd_parareal *p, int iter, double max_res, int n_conv)
{
    if (!p->o.progress || p->rank != 0) return;
    fprintf(stderr, "parareal: iteration %2d  max residual %.3e  converged %d/%d  critical-path NFE %lld  %.2f s\n",
            iter, max_res, n_conv, p->B, (long long)p->clock, MPI_Wtime() - p->t_start);
}

/* Per-rank timings of iteration iter (1-based) from the transport's counters. */
static void account(pd_parareal *p, int iter, double t0, pd_transport_times before, int64_t nfe0)
{
    pd_transport_times now = pd_transport_get_times(p->tp);
    size_t i = (size_t)(iter - 1) * p->size + p->rank;
    double wait = now.wait_s - before.wait_s, comm = now.comm_s - before.comm_s;
    p->log.wait_s[i] = wait;
    p->log.comm_s[i] = comm;
    p->log.compute_s[i] = MPI_Wtime() - t0 - wait - comm;
    p->log.nfe[i] = pd_model_nfe(p->m) - nfe0;
}

/* Lock-step iterations: all ranks reduce [status, clock, residuals] once per iteration. */
static pd_status run_lockstep(pd_ctx *ctx, pd_parareal *p, pd_status *st)
{
    double *red = p->red;
    pd_status e = PD_OK;
    for (int k = 1; k <= p->kmax && e == PD_OK; k++) {
        double t0 = MPI_Wtime();
        pd_transport_times before = pd_transport_get_times(p->tp);
        int64_t nfe0 = pd_model_nfe(p->m);
        sweep_result sr;
        *st = fine_all(ctx, p, *st);
        e = sweep(ctx, p, k, st, &sr);
        if (e != PD_OK) break;
        red[0] = *st != PD_OK ? *st : sr.remote;
        red[1] = (double)p->clock;
        for (int b = 0; b < p->B; b++) red[2 + b] = p->log.residual[(size_t)(k - 1) * p->B + b];
        e = pd_transport_allreduce_max(ctx, p->tp, red, p->B + 2);
        if (e != PD_OK) break;
        account(p, k, t0, before, nfe0);
        p->clock = (int64_t)red[1];
        double max_res = 0.0;
        int n_conv = 0;
        for (int b = 0; b < p->B; b++) {
            p->log.residual[(size_t)(k - 1) * p->B + b] = red[2 + b];
            max_res = red[2 + b] > max_res ? red[2 + b] : max_res;
            n_conv += red[2 + b] < p->o.tol;
        }
        p->done = k;
        progress_line(p, k, max_res, n_conv);
        if (red[0] != PD_OK) {
            if (*st == PD_OK) *st = PD_ERR_REMOTE;
            break;
        }
        if (max_res < p->o.tol) break;
    }
    return e;
}

/* Receive from the predecessor until its STOP (messages it sent ahead are read and dropped); the
 * STOP says at which iteration the run stopped, and with which status. */
static pd_status drain(pd_ctx *ctx, pd_parareal *p, int *stop_iter, pd_status *remote)
{
    pd_msg_header h;
    do {
        PD_TRY(pd_transport_recv(ctx, p->tp, p->rank - 1, 0, &h, p->in, p->in_h));
    } while (!(h.flags & PD_MSG_STOP));
    if (h.status != PD_OK && *remote == PD_OK) *remote = (pd_status)h.status;
    if (!*stop_iter) *stop_iter = h.iter; /* the last rank knows it already */
    return PD_OK;
}

/* Ranks other than the last: read the last rank's control messages that have arrived (rank 0 also
 * gets one per iteration for its progress line; everyone gets the STOP). blocking: wait for the STOP.
 * *stop_iter is set once the STOP came. */
static pd_status read_control(pd_ctx *ctx, pd_parareal *p, int blocking, int *stop_iter, pd_status *remote)
{
    int last = p->size - 1;
    while (!*stop_iter) {
        int ready = blocking;
        if (!blocking) ready = pd_transport_probe(p->tp, last, 1);
        if (!ready) return PD_OK;
        pd_msg_header h;
        PD_TRY(pd_transport_recv(ctx, p->tp, last, 1, &h, NULL, NULL));
        if (h.status != PD_OK && *remote == PD_OK) *remote = (pd_status)h.status;
        if (!(h.flags & PD_MSG_STOP) || p->rank == 0) progress_line(p, h.iter, h.max_residual, h.n_converged);
        if (h.flags & PD_MSG_STOP) *stop_iter = h.iter;
    }
    return PD_OK;
}

/* Last rank: after its sweep of iteration k, decide. Rank 0 gets a progress message per iteration;
 * the STOP goes to every rank, so that ranks running ahead stop computing at their next iteration. */
static pd_status decide(pd_ctx *ctx, pd_parareal *p, int k, pd_status st, const sweep_result *sr, int *stop)
{
    pd_status worst = st != PD_OK ? st : sr->remote;
    *stop = worst != PD_OK || sr->max_res < p->o.tol || k == p->kmax;
    if (p->rank == 0) {
        progress_line(p, k, sr->max_res, sr->n_conv);
        return PD_OK;
    }
    pd_msg_header h = {.status = worst, .iter = k, .flags = *stop ? PD_MSG_STOP : 0, .hist_step = -1,
                       .max_residual = sr->max_res, .n_converged = sr->n_conv, .clock = p->clock};
    for (int r = 0; r < (*stop ? p->size - 1 : 1); r++) PD_TRY(pd_transport_send(ctx, p->tp, r, 1, &h, NULL, NULL));
    return PD_OK;
}

/* Pipelined iterations: a rank starts F(U_b^k) as soon as its sweep k is done; the last rank decides
 * and sends STOP to every rank on the control channel (a rank checks for it before each iteration);
 * STOP also runs down the boundary chain, so that each rank reads everything its predecessor sent. */
static pd_status run_pipelined(pd_ctx *ctx, pd_parareal *p, pd_status *st)
{
    int last = p->rank == p->size - 1, ctrl_stop = 0, chain_stop = 0, decided = 0;
    pd_status remote = PD_OK;
    for (int k = 1; k <= p->kmax; k++) {
        double t0 = MPI_Wtime();
        pd_transport_times before = pd_transport_get_times(p->tp);
        int64_t nfe0 = pd_model_nfe(p->m);
        if (!last) PD_TRY(read_control(ctx, p, 0, &ctrl_stop, &remote));
        if (ctrl_stop) break;
        sweep_result sr;
        *st = fine_all(ctx, p, *st);
        PD_TRY(sweep(ctx, p, k, st, &sr));
        if (sr.remote != PD_OK && remote == PD_OK) remote = sr.remote;
        if (sr.stop) { /* the predecessor stopped: this iteration does not count */
            chain_stop = 1;
            break;
        }
        account(p, k, t0, before, nfe0);
        if (last) {
            int stop = 0;
            PD_TRY(decide(ctx, p, k, *st, &sr, &stop));
            if (stop) {
                decided = k;
                break;
            }
        }
    }
    if (!last) PD_TRY(read_control(ctx, p, 1, &ctrl_stop, &remote)); /* the STOP, if not read yet */
    if (p->rank != 0 && !chain_stop) {
        int it = 0;
        PD_TRY(drain(ctx, p, &it, &remote));
    }
    int K = last ? decided : ctrl_stop;
    if (!last) PD_TRY(send_stop(ctx, p, 0, p->rank + 1, K, *st != PD_OK ? *st : remote));
    if (*st == PD_OK && remote != PD_OK) *st = PD_ERR_REMOTE;
    p->done = K;
    return PD_OK;
}

/* ------------------------------------------------------------------ the run */

/* Make the log the same on every rank: residuals [K, B] (each block's owner filled its column) and
 * the per-rank rows [K, R]. */
static pd_status gather_log(pd_ctx *ctx, pd_parareal *p)
{
    pd_parareal_log *l = &p->log;
    int K = p->done, B = p->B, R = p->size;
    l->iters = K;
    size_t kb = (size_t)K * B, kr = (size_t)K * R;
    double *buf = p->red; /* K <= kmax: it fits */
    memset(buf, 0, sizeof(double) * (kb + 4 * kr + 1));
    for (int i = 0; i < p->nb; i++)
        for (int k = 0; k < K; k++) buf[(size_t)k * B + p->blk[i].b] = l->residual[(size_t)k * B + p->blk[i].b];
    for (int k = 0; k < K; k++) {
        size_t i = (size_t)k * R + p->rank;
        buf[kb + i] = (double)l->nfe[i];
        buf[kb + kr + i] = l->compute_s[i];
        buf[kb + 2 * kr + i] = l->wait_s[i];
        buf[kb + 3 * kr + i] = l->comm_s[i];
    }
    buf[kb + 4 * kr] = (double)(pd_model_nfe(p->m));
    pd_status st = pd_transport_allreduce_sum(ctx, p->tp, buf, (int)(kb + 4 * kr + 1));
    if (st == PD_OK) {
        for (size_t i = 0; i < kb; i++) {
            l->residual[i] = buf[i];
            l->converged[i] = buf[i] < p->o.tol;
        }
        for (size_t i = 0; i < kr; i++) {
            l->nfe[i] = (int64_t)buf[kb + i];
            l->compute_s[i] = buf[kb + kr + i];
            l->wait_s[i] = buf[kb + 2 * kr + i];
            l->comm_s[i] = buf[kb + 3 * kr + i];
        }
        l->total_nfe = (int64_t)buf[kb + 4 * kr];
    }
    return st;
}

/* The critical path of the whole run is the last rank's clock; everyone learns it. */
static pd_status finish_clock(pd_ctx *ctx, pd_parareal *p)
{
    int64_t c[2] = {p->clock, p->log.init_nfe};
    PD_TRY(pd_transport_bcast(ctx, p->tp, c, (int)sizeof c, p->size - 1));
    p->log.critical_nfe = c[0];
    p->log.init_nfe = c[1];
    double w = MPI_Wtime() - p->t_start;
    PD_TRY(pd_transport_allreduce_max(ctx, p->tp, &w, 1));
    p->log.wall_s = w;
    return PD_OK;
}

pd_status pd_parareal_run(pd_ctx *ctx, pd_parareal *p)
{
    pd_status st = PD_OK;
    p->t_start = MPI_Wtime();
    p->nfe_mark = pd_model_nfe(p->m);
    p->clock = 0;
    sweep_result sr;
    pd_status e = sweep(ctx, p, 0, &st, &sr);   /* iteration 0: the coarse sweep */
    p->log.init_nfe = p->clock;                  /* the last rank's value is the one reported */
    if (e == PD_OK && p->o.pipeline) {
        /* no meeting: block b starts its first fine solve once its own coarse state exists; a failed
         * rank goes on passing messages with its status (run_pipelined computes nothing then) */
        if (st == PD_OK && sr.remote != PD_OK) st = PD_ERR_REMOTE;
        e = run_pipelined(ctx, p, &st);
    } else if (e == PD_OK) {
        double red[2] = {st != PD_OK ? st : sr.remote, (double)p->clock};
        e = pd_transport_allreduce_max(ctx, p->tp, red, 2);  /* the initial sweep ends together */
        p->clock = (int64_t)red[1];
        if (e == PD_OK && red[0] != PD_OK && st == PD_OK) st = PD_ERR_REMOTE;
        if (e == PD_OK && st == PD_OK) e = run_lockstep(ctx, p, &st);
    }
    if (e == PD_OK) e = pd_transport_flush(ctx, p->tp);
    if (e != PD_OK) return e; /* the transport broke: the caller aborts */
    double worst = st;
    PD_TRY(pd_transport_allreduce_max(ctx, p->tp, &worst, 1));
    if (worst != PD_OK) return st != PD_OK ? st : pd_error_set(ctx, PD_ERR_REMOTE, __FILE__, __LINE__, "another rank failed");
    PD_TRY(gather_log(ctx, p));
    return finish_clock(ctx, p);
}

const pd_state *pd_parareal_result(const pd_parareal *p)
{
    return p->rank == p->size - 1 ? p->blk[p->nb - 1].out : NULL;
}

const pd_parareal_log *pd_parareal_get_log(const pd_parareal *p) { return &p->log; }

const pd_state *pd_parareal_boundary(const pd_parareal *p, int iter, int boundary)
{
    if (!p->o.store_boundaries || iter < 0 || iter > p->done) return NULL;
    if (boundary == 0) return p->kept0;
    for (int i = 0; i < p->nb; i++)
        if (p->blk[i].b + 1 == boundary) return p->blk[i].kept ? p->blk[i].kept[iter] : NULL;
    return NULL;
}
