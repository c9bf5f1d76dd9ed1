/* Phase-space Langevin diffusion (PSLD; Pandey & Mandt; ALGORITHMS.md §6, docs/INTEGRATORS.md §3): the
 * 2x2 algebra shared by the schedule, the exact mixture score and the samplers, per data dimension on the
 * pair u = (x, m), as PD_HD functions for CPU loops and kernels alike.
 *
 * Forward: du = 1/2 beta A u dt + sqrt(beta D) dw, A = [[-G, 1/M], [-1, -nu]], D = diag(G, M nu), critically
 * damped: 1/M = (G - nu)^2 / 4, so A has the double eigenvalue -(G + nu)/2 and exp is in closed form. */
#ifndef PD_CORE_PSLD_H
#define PD_CORE_PSLD_H

#include <math.h>

#include "core/hd.h"

typedef struct pd_psld {
    double gamma, nu, beta, kappa; /* Gamma, nu, beta (constant), kappa (m_0 ~ N(0, kappa M)) */
    double minv, m;                /* 1/M = (Gamma - nu)^2 / 4 and M */
} pd_psld;

typedef struct pd_mat2 {
    double a, b, c, d; /* [[a, b], [c, d]] */
} pd_mat2;

static inline PD_HD pd_psld pd_psld_make(double gamma, double nu, double beta, double kappa)
{
    const double minv = 0.25 * (gamma - nu) * (gamma - nu);
    return (pd_psld){.gamma = gamma, .nu = nu, .beta = beta, .kappa = kappa, .minv = minv, .m = 1.0 / minv};
}

static inline PD_HD pd_mat2 pd_mat2_mul(pd_mat2 p, pd_mat2 q)
{
    return (pd_mat2){p.a * q.a + p.b * q.c, p.a * q.b + p.b * q.d, p.c * q.a + p.d * q.c, p.c * q.b + p.d * q.d};
}

static inline PD_HD pd_mat2 pd_mat2_t(pd_mat2 p) { return (pd_mat2){p.a, p.c, p.b, p.d}; }

/* exp(J/2 A) for the integrated beta J: the forward mean map over an interval with int beta = J. */
static inline PD_HD pd_mat2 pd_psld_fwd(const pd_psld *p, double J)
{
    const double e = exp(-0.25 * (p->gamma + p->nu) * J);
    return (pd_mat2){e * (1.0 + 0.25 * (p->nu - p->gamma) * J), e * 0.5 * p->minv * J, -e * 0.5 * J,
                     e * (1.0 + 0.25 * (p->gamma - p->nu) * J)};
}

/* Sigma_t = Sigma_inf + E (Sigma_0 - Sigma_inf) E^T with Sigma_inf = diag(1, M), Sigma_0 = diag(s0sq, kappa M)
 * (a data coordinate of variance s0sq, HSM momentum), E = pd_psld_fwd(J). Symmetric: c = b. */
static inline PD_HD pd_mat2 pd_psld_cov(const pd_psld *p, double J, double s0sq)
{
    const pd_mat2 E = pd_psld_fwd(p, J), D0 = {s0sq - 1.0, 0.0, 0.0, (p->kappa - 1.0) * p->m};
    const pd_mat2 S = pd_mat2_mul(pd_mat2_mul(E, D0), pd_mat2_t(E));
    return (pd_mat2){1.0 + S.a, 0.5 * (S.b + S.c), 0.5 * (S.b + S.c), p->m + S.d};
}

/* The exact OU part of SSCS over integrated beta J (ALGORITHMS.md §6.5): mean map exp(J/2 Abar),
 * Abar = -A - 2 D Sigma_inf^-1 = [[-G, -1/M], [1, -nu]], whose stationary covariance is Sigma_inf too. */
static inline PD_HD pd_mat2 pd_psld_ou(const pd_psld *p, double J)
{
    const double e = exp(-0.25 * (p->gamma + p->nu) * J);
    return (pd_mat2){e * (1.0 + 0.25 * (p->nu - p->gamma) * J), -e * 0.5 * p->minv * J, e * 0.5 * J,
                     e * (1.0 + 0.25 * (p->gamma - p->nu) * J)};
}

/* Lower Cholesky factor of a symmetric positive 2x2 (b = c), with `jitter` added to the diagonal. */
static inline PD_HD pd_mat2 pd_mat2_chol(pd_mat2 s, double jitter)
{
    const double l11 = sqrt(s.a + jitter), l21 = s.c / l11;
    const double r = s.d + jitter - l21 * l21;
    return (pd_mat2){l11, 0.0, l21, sqrt(r > 0.0 ? r : 0.0)};
}

/* Inverse of a 2x2 and its log-determinant (for the mixture score). */
static inline PD_HD pd_mat2 pd_mat2_inv(pd_mat2 s, double *logdet)
{
    const double det = s.a * s.d - s.b * s.c;
    if (logdet) *logdet = log(det);
    return (pd_mat2){s.d / det, -s.b / det, -s.c / det, s.a / det};
}

/* The mixture score's per-pair pieces (psld-gmm, CPU loop and kernel alike): for the residual r = (rx, rm)
 * of one data element under a component with inverse covariance ci, its term r^T ci r of the logit, and
 * its weighted contribution -w ci r to the score (accumulated into sx, sm). */
static inline PD_HD double pd_psld_quad(double rx, double rm, pd_mat2 ci)
{
    return rx * (ci.a * rx + ci.b * rm) + rm * (ci.c * rx + ci.d * rm);
}

static inline PD_HD void pd_psld_score_add(double rx, double rm, pd_mat2 ci, double w, double *sx, double *sm)
{
    *sx -= w * (ci.a * rx + ci.b * rm);
    *sm -= w * (ci.c * rx + ci.d * rm);
}

#endif
