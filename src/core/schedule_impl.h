/* Schedule and grid bodies (private). */
#ifndef PD_CORE_SCHEDULE_IMPL_H
#define PD_CORE_SCHEDULE_IMPL_H

#include "pintdiff/schedule.h"

struct pd_schedule {
    pd_schedule_params p;
    int discrete;
    /* discrete schedules: per training index k = 0 .. K-1 */
    double *alpha, *sigma, *log_sig_tilde;
};

struct pd_grid {
    const pd_schedule *sched;
    int steps;
    pd_grid_point *pts; /* steps + 1 points, noisiest first */
    int *noise_step;    /* global step id keying the noise of step n (NULL: n itself) */
    int total_steps;    /* steps of the whole run this grid belongs to (sub-grids: the parent's) */
};

double pd_vp_alpha_of_lambda(double lambda);
double pd_vp_sigma_of_lambda(double lambda);

#endif
