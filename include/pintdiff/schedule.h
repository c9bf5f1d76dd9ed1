/* pintdiff: noise schedules and time grids (ALGORITHMS.md §1.2-1.6).
 *
 * A schedule gives alpha_t, sigma_t and lambda_t = log(alpha_t / sigma_t). Discrete schedules
 * (ddpm-linear, ddpm-cosine) take a fractional training index t in [0, K-1] (log sigma~ linear in
 * the index between integers) and t = -1 for the clean point alpha = 1, sigma = 0. */
#ifndef PINTDIFF_SCHEDULE_H
#define PINTDIFF_SCHEDULE_H

#include "pintdiff/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PD_SCHEDULE_DDPM_LINEAR = 0,
    PD_SCHEDULE_DDPM_COSINE,
    PD_SCHEDULE_VP_LINEAR,
    PD_SCHEDULE_EDM,
    PD_SCHEDULE_LI,     /* discrete, the schedule of Li et al.'s accelerated-sampler proofs (li_c0, li_c1) */
    PD_SCHEDULE_PSLD    /* continuous, phase-space Langevin (augmented state (x, m)); t in [t_min, t_max] */
} pd_schedule_kind;

typedef struct pd_schedule_params {
    pd_schedule_kind kind;
    int train_steps;         /* K, discrete schedules (1000) */
    double beta_start;       /* ddpm-linear: 1e-4 */
    double beta_end;         /* ddpm-linear: 0.02 */
    double beta_min;         /* vp-linear: 0.1 */
    double beta_max;         /* vp-linear: 20 */
    double t_min;            /* vp-linear: 1e-3 (the run ends there) */
    double t_max;            /* vp-linear: 1 */
    double sigma_min;        /* edm: 0.002 */
    double sigma_max;        /* edm: 80 */
    double rho;              /* karras spacing exponent: 7 */
    double li_c0, li_c1;     /* li: beta_1 = T^-c0, beta_{t+1} = (c1 log T/T) min(beta_1 (1 + c1 log T/T)^t, 1);
                                no defaults (the paper gives none) */
    double psld_gamma, psld_nu, psld_beta, psld_kappa; /* psld: Gamma 0.01, nu 4.01, beta 8, kappa 0.04 */
} pd_schedule_params;

typedef struct pd_schedule pd_schedule;

/* The defaults of a kind (the values named above). */
pd_schedule_params pd_schedule_defaults(pd_schedule_kind kind);
pd_status pd_schedule_create(pd_ctx *ctx, const pd_schedule_params *p, pd_schedule **out);
void pd_schedule_destroy(pd_schedule **s);
const pd_schedule_params *pd_schedule_get_params(const pd_schedule *s);
int pd_schedule_is_discrete(const pd_schedule *s);
int pd_schedule_is_vp(const pd_schedule *s); /* alpha^2 + sigma^2 = 1 */
/* An augmented diffusion (psld): states hold (x, m), dim = 2 x the data's; its grid points carry the
 * x-marginal's alpha (mean coefficient) and sigma (std of x given x_0). */
int pd_schedule_is_augmented(const pd_schedule *s);

double pd_schedule_alpha(const pd_schedule *s, double t);
double pd_schedule_sigma(const pd_schedule *s, double t);
double pd_schedule_lambda(const pd_schedule *s, double t);
/* The time whose lambda is `lambda` (inverse of pd_schedule_lambda; fractional index if discrete). */
double pd_schedule_t_of_lambda(const pd_schedule *s, double lambda);
/* Standard deviation of the prior the run starts from: 1 on VP schedules, sigma_max on EDM (psld: of x;
 * the momentum's is sqrt(M)). */
double pd_schedule_prior_std(const pd_schedule *s);

/* ----- grids ----- */

typedef enum {
    PD_SPACING_UNIFORM = 0, /* discrete: = leading */
    PD_SPACING_LEADING,
    PD_SPACING_TRAILING,
    PD_SPACING_LINSPACE,
    PD_SPACING_LINSPACE_DPM,
    PD_SPACING_QUADRATIC,
    PD_SPACING_LOGSNR,      /* uniform in lambda */
    PD_SPACING_KARRAS
} pd_spacing;

/* One point of a grid; analytic models depend only on alpha and sigma. */
typedef struct pd_grid_point {
    double t;      /* time, or fractional training index (-1: the clean point) */
    double alpha;
    double sigma;
    double lambda; /* log(alpha/sigma); +inf where sigma = 0 */
} pd_grid_point;

typedef struct pd_grid pd_grid;

/* N steps = N + 1 points, noisiest first (ALGORITHMS.md §1.6). final_alpha0: on a discrete schedule
 * end at alpha_bar_0 (timestep 0) instead of alpha = 1 (timestep -1). */
pd_status pd_grid_create(pd_ctx *ctx, const pd_schedule *s, pd_spacing spacing, int steps,
                         int final_alpha0, pd_grid **out);
void pd_grid_destroy(pd_grid **g);
int pd_grid_steps(const pd_grid *g);
const pd_grid_point *pd_grid_at(const pd_grid *g, int n); /* n = 0 .. steps */
const pd_schedule *pd_grid_schedule(const pd_grid *g);
/* A coarse grid made of points idx[0] < idx[1] < ... < idx[n] of g (n steps). Its step j draws the
 * noise of g's step idx[j] (a stochastic coarse step uses the fine draw where it starts) and counts
 * g's steps as the run's length. */
pd_status pd_grid_create_sub(pd_ctx *ctx, const pd_grid *g, const int *idx, int n, pd_grid **out);
/* The global step id that keys the noise of step n (n itself on a grid made by pd_grid_create). */
int pd_grid_noise_step(const pd_grid *g, int n);
/* Steps of the whole run (= pd_grid_steps except on sub-grids): for whole-run rules such as
 * lower_order_final. */
int pd_grid_run_steps(const pd_grid *g);

/* A point between grid points, from lambda alone (DPM-Solver-2's midpoint; §1.6). */
pd_grid_point pd_grid_point_at_lambda(const pd_grid *g, double lambda);

const char *pd_schedule_kind_name(pd_schedule_kind k);
const char *pd_spacing_name(pd_spacing sp);

#ifdef __cplusplus
}
#endif
#endif
