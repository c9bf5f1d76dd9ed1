/* Noise schedules (ALGORITHMS.md §1.2-1.3): alpha_t, sigma_t, lambda_t for discrete DDPM schedules
 * (fractional training index), the continuous VP-linear schedule and EDM. */
#include <math.h>
#include <stdlib.h>

#include "core/psld.h"
#include "core/schedule_impl.h"

pd_schedule_params pd_schedule_defaults(pd_schedule_kind kind)
{
    return (pd_schedule_params){.kind = kind, .train_steps = 1000, .beta_start = 1e-4, .beta_end = 0.02,
                                .beta_min = 0.1, .beta_max = 20.0, .t_min = 1e-3, .t_max = 1.0,
                                .sigma_min = 0.002, .sigma_max = 80.0, .rho = 7.0, .psld_gamma = 0.01,
                                .psld_nu = 4.01, .psld_beta = 8.0, .psld_kappa = 0.04};
}

const char *pd_schedule_kind_name(pd_schedule_kind k)
{
    static const char *names[] = {"ddpm-linear", "ddpm-cosine", "vp-linear", "edm", "li", "psld"};
    return (unsigned)k < 6 ? names[k] : "?";
}

static double cosine_f(double u) /* Nichol-Dhariwal, s = 0.008 */
{
    double c = cos((u + 0.008) / 1.008 * 1.5707963267948966);
    return c * c;
}

/* The li schedule (Li, Wei, Chen, Chi 2023, reused by Li et al. 2024; docs/INTEGRATORS.md §1.6, [R]):
 * beta at index k = t - 1 of T = K steps: beta_1 = T^-c0, beta_{t+1} = r min(beta_1 (1 + r)^t, 1), r = c1 log T/T.
 * The power is taken in logs so that large t does not overflow before the min. */
static double li_beta(const pd_schedule_params *p, int k)
{
    const double T = p->train_steps, b1 = pow(T, -p->li_c0), r = p->li_c1 * log(T) / T;
    if (k == 0) return b1;
    const double lg = log(b1) + k * log1p(r);
    return r * (lg < 0.0 ? exp(lg) : 1.0);
}

/* log alpha_bar_k accumulated as a sum of log1p(-beta): no 1 - alpha_bar cancellation later. */
static void discrete_tables(pd_schedule *s)
{
    const pd_schedule_params *p = &s->p;
    int K = p->train_steps;
    double log_abar = 0.0;
    for (int k = 0; k < K; k++) {
        double beta;
        if (p->kind == PD_SCHEDULE_DDPM_LINEAR)
            beta = p->beta_start + (p->beta_end - p->beta_start) * k / (K - 1);
        else if (p->kind == PD_SCHEDULE_LI)
            beta = li_beta(p, k);
        else
            beta = fmin(1.0 - cosine_f((k + 1.0) / K) / cosine_f((double)k / K), 0.999);
        log_abar += log1p(-beta);
        s->alpha[k] = exp(0.5 * log_abar);
        s->sigma[k] = sqrt(-expm1(log_abar));
        s->log_sig_tilde[k] = log(s->sigma[k]) - 0.5 * log_abar;
    }
}

pd_status pd_schedule_create(pd_ctx *ctx, const pd_schedule_params *p, pd_schedule **out)
{
    int discrete = p->kind == PD_SCHEDULE_DDPM_LINEAR || p->kind == PD_SCHEDULE_DDPM_COSINE || p->kind == PD_SCHEDULE_LI;
    if ((unsigned)p->kind > PD_SCHEDULE_PSLD) PD_FAIL(ctx, PD_ERR_INPUT, "unknown schedule kind %d", (int)p->kind);
    if (p->kind == PD_SCHEDULE_PSLD &&
        !(p->psld_gamma > 0 && p->psld_nu > 0 && p->psld_beta > 0 && p->psld_kappa > 0 && p->psld_gamma != p->psld_nu))
        PD_FAIL(ctx, PD_ERR_INPUT, "schedule psld: gamma, nu, beta, kappa must be > 0 and gamma != nu "
                "(got %g, %g, %g, %g)", p->psld_gamma, p->psld_nu, p->psld_beta, p->psld_kappa);
    if (p->kind == PD_SCHEDULE_LI) {
        if (!(p->li_c0 > 0) || !(p->li_c1 > 0))
            PD_FAIL(ctx, PD_ERR_INPUT, "schedule li: li_c0 and li_c1 must be set > 0 (no defaults), got %g and %g",
                    p->li_c0, p->li_c1);
        if (!(p->li_c1 * log((double)p->train_steps) < p->train_steps))
            PD_FAIL(ctx, PD_ERR_INPUT, "schedule li: li_c1 log T / T = %g must be < 1 (a beta of 1 or more), "
                    "T = train_steps = %d", p->li_c1 * log((double)p->train_steps) / p->train_steps, p->train_steps);
    }
    if (discrete && p->train_steps < 2)
        PD_FAIL(ctx, PD_ERR_INPUT, "schedule.train_steps: expected >= 2, got %d", p->train_steps);
    pd_schedule *s = calloc(1, sizeof *s);
    if (!s) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a schedule");
    s->p = *p;
    s->discrete = discrete;
    if (discrete) {
        int K = p->train_steps;
        s->alpha = malloc(sizeof(double) * (size_t)K);
        s->sigma = malloc(sizeof(double) * (size_t)K);
        s->log_sig_tilde = malloc(sizeof(double) * (size_t)K);
        if (!s->alpha || !s->sigma || !s->log_sig_tilde) {
            pd_schedule_destroy(&s);
            PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate schedule tables");
        }
        discrete_tables(s);
    }
    *out = s;
    return PD_OK;
}

void pd_schedule_destroy(pd_schedule **s)
{
    if (!s || !*s) return;
    free((*s)->alpha);
    free((*s)->sigma);
    free((*s)->log_sig_tilde);
    free(*s);
    *s = NULL;
}

const pd_schedule_params *pd_schedule_get_params(const pd_schedule *s) { return &s->p; }
int pd_schedule_is_discrete(const pd_schedule *s) { return s->discrete; }
int pd_schedule_is_vp(const pd_schedule *s) { return s->p.kind != PD_SCHEDULE_EDM && s->p.kind != PD_SCHEDULE_PSLD; }
int pd_schedule_is_augmented(const pd_schedule *s) { return s->p.kind == PD_SCHEDULE_PSLD; }

/* psld: the x-marginal given x_0 (point mass, HSM momentum): alpha = E_t[0][0], sigma^2 = Sigma_t[x][x]. */
static double psld_alpha(const pd_schedule_params *q, double t)
{
    pd_psld p = pd_psld_make(q->psld_gamma, q->psld_nu, q->psld_beta, q->psld_kappa);
    return pd_psld_fwd(&p, q->psld_beta * t).a;
}

static double psld_sigma(const pd_schedule_params *q, double t)
{
    pd_psld p = pd_psld_make(q->psld_gamma, q->psld_nu, q->psld_beta, q->psld_kappa);
    double v = pd_psld_cov(&p, q->psld_beta * t, 0.0).a;
    return sqrt(v > 0.0 ? v : 0.0);
}

/* lambda decreases with t (alpha falls, sigma grows): bisection on [0, t_max]. */
static double psld_t_of_lambda(const pd_schedule *s, double lambda)
{
    double lo = 0.0, hi = s->p.t_max;
    for (int i = 0; i < 200 && hi - lo > 1e-15 * s->p.t_max; i++) {
        double mid = 0.5 * (lo + hi);
        if (pd_schedule_lambda(s, mid) > lambda) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* VP identities from lambda alone (§1.6): alpha^2 = sigmoid(2 lambda), sigma^2 = sigmoid(-2 lambda). */
double pd_vp_alpha_of_lambda(double lambda) { return sqrt(1.0 / (1.0 + exp(-2.0 * lambda))); }
double pd_vp_sigma_of_lambda(double lambda) { return sqrt(1.0 / (1.0 + exp(2.0 * lambda))); }

/* log sigma~ at a fractional index (linear between integer indices, §1.2). */
static double discrete_log_sig_tilde(const pd_schedule *s, double t)
{
    int K = s->p.train_steps;
    if (t <= 0.0) return s->log_sig_tilde[0];
    if (t >= K - 1) return s->log_sig_tilde[K - 1];
    int k = (int)floor(t);
    double w = t - k;
    return (1.0 - w) * s->log_sig_tilde[k] + w * s->log_sig_tilde[k + 1];
}

static int is_integer_index(const pd_schedule *s, double t)
{
    return t >= 0.0 && t <= s->p.train_steps - 1 && t == floor(t);
}

static double vp_linear_log_alpha(const pd_schedule_params *p, double t)
{
    return -0.25 * t * t * (p->beta_max - p->beta_min) - 0.5 * t * p->beta_min;
}

double pd_schedule_alpha(const pd_schedule *s, double t)
{
    switch (s->p.kind) {
    case PD_SCHEDULE_VP_LINEAR: return exp(vp_linear_log_alpha(&s->p, t));
    case PD_SCHEDULE_EDM: return 1.0;
    case PD_SCHEDULE_PSLD: return psld_alpha(&s->p, t);
    default:
        if (t < 0.0) return 1.0; /* timestep -1: the clean point */
        if (is_integer_index(s, t)) return s->alpha[(int)t];
        return pd_vp_alpha_of_lambda(-discrete_log_sig_tilde(s, t));
    }
}

double pd_schedule_sigma(const pd_schedule *s, double t)
{
    switch (s->p.kind) {
    case PD_SCHEDULE_VP_LINEAR: return sqrt(-expm1(2.0 * vp_linear_log_alpha(&s->p, t)));
    case PD_SCHEDULE_EDM: return t;
    case PD_SCHEDULE_PSLD: return psld_sigma(&s->p, t);
    default:
        if (t < 0.0) return 0.0;
        if (is_integer_index(s, t)) return s->sigma[(int)t];
        return pd_vp_sigma_of_lambda(-discrete_log_sig_tilde(s, t));
    }
}

double pd_schedule_lambda(const pd_schedule *s, double t)
{
    switch (s->p.kind) {
    case PD_SCHEDULE_VP_LINEAR: {
        double la = vp_linear_log_alpha(&s->p, t);
        return la - 0.5 * log(-expm1(2.0 * la));
    }
    case PD_SCHEDULE_EDM: return t > 0.0 ? -log(t) : INFINITY;
    case PD_SCHEDULE_PSLD: return t > 0.0 ? log(psld_alpha(&s->p, t) / psld_sigma(&s->p, t)) : INFINITY;
    default: return t < 0.0 ? INFINITY : -discrete_log_sig_tilde(s, t);
    }
}

double pd_schedule_t_of_lambda(const pd_schedule *s, double lambda)
{
    const pd_schedule_params *p = &s->p;
    switch (p->kind) {
    case PD_SCHEDULE_VP_LINEAR: { /* DPM-Solver inverse_lambda */
        double L = lambda > 0 ? log1p(exp(-2.0 * lambda)) : -2.0 * lambda + log1p(exp(2.0 * lambda));
        double db = p->beta_max - p->beta_min;
        return 2.0 * L / (p->beta_min + sqrt(p->beta_min * p->beta_min + 2.0 * db * L));
    }
    case PD_SCHEDULE_EDM: return exp(-lambda);
    case PD_SCHEDULE_PSLD: return psld_t_of_lambda(s, lambda);
    default: {
        if (isinf(lambda) && lambda > 0) return -1.0;
        double target = -lambda;
        int K = p->train_steps;
        if (target <= s->log_sig_tilde[0]) return 0.0;
        if (target >= s->log_sig_tilde[K - 1]) return K - 1;
        int lo = 0, hi = K - 1; /* log_sig_tilde increases with k */
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (s->log_sig_tilde[mid] <= target) lo = mid;
            else hi = mid;
        }
        return lo + (target - s->log_sig_tilde[lo]) / (s->log_sig_tilde[hi] - s->log_sig_tilde[lo]);
    }
    }
}

double pd_schedule_prior_std(const pd_schedule *s)
{
    return s->p.kind == PD_SCHEDULE_EDM ? s->p.sigma_max : 1.0;
}
