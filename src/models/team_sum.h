/* The order in which the CUDA kernels add a row's terms (cuda/team_reduce.cuh), for the CPU loops that
 * mirror it: where a sum has thousands of terms, adding them in another order moves it by ~1e-11 (a
 * logit of a 3072-element Gaussian), more than the GPU and CPU results may differ; in the same order
 * they differ only by the contractions into fused multiply-adds and the last bit of exp and log.
 *
 * A team of T threads (1, 32, or a multiple of 32) sums terms 0 .. d-1: thread t adds terms t, t + T,
 * t + 2T, ... in order into its partial sum; each warp of 32 combines its partial sums by a butterfly
 * (offsets 16, 8, 4, 2, 1, own value first); the warps' sums are added in warp order. Change both files
 * together. */
#ifndef PD_MODELS_TEAM_SUM_H
#define PD_MODELS_TEAM_SUM_H

/* The team's sum of the partial sums part[0 .. T) (overwritten), as every thread of the team gets it. */
static inline double pd_team_sum(double *part, int T)
{
    double r;
    if (T == 1) return part[0];
    for (int w = 0; w < T; w += 32)
        for (int o = 16; o > 0; o >>= 1)
            for (int l = 0; l < o; l++) /* lane l after this step: own + lane l ^ o (= l + o) */
                part[w + l] = part[w + l] + part[w + l + o];
    r = part[0];
    for (int w = 32; w < T; w += 32)
        r = r + part[w];
    return r;
}

#endif
