/* vbt_diagnostics.h -- convergence diagnostics of MCMC draws as in Vehtari,
 * Gelman, Simpson, Carpenter & Buerkner (2021), "Rank-normalization,
 * folding, and localization: an improved R-hat for assessing convergence
 * of MCMC", Bayesian Analysis 16(2):667-718, computed the way the R package
 * `posterior` does: split chains, rank normalisation (Blom's offset 3/8),
 * R-hat = max(bulk, folded), bulk-ESS, tail-ESS (the smaller ESS of the
 * 5 % and 95 % quantile indicators), Geyer's initial monotone sequence on
 * the biased autocovariance, MCSE of the mean; plus the HMC checks
 * (E-BFMI, divergences, tree depth) and the detection of stuck chains.
 *
 * Draws are one parameter's values x[chain * n_draws + draw] unless said
 * otherwise.
 */
#ifndef VBT_DIAGNOSTICS_H
#define VBT_DIAGNOSTICS_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_diag_param {
    double mean, sd;            /* over all draws (sd with n - 1) */
    double q5, q50, q95;        /* quantiles (linear interpolation, R type 7) */
    double rhat;                /* max(bulk, folded) rank-normalised split R-hat */
    double rhat_bulk, rhat_tail;
    double ess_bulk, ess_tail;
    double ess_mean;            /* ESS of the split chains without rank normalisation */
    double mcse_mean;           /* sd / sqrt(ess_mean) */
} vbt_diag_param;

/* Every diagnostic of one parameter from n_chains x n_draws draws.  Needs
 * n_draws >= 4 (two halves of >= 2 draws); constant or non-finite draws
 * give NAN R-hat and ESS (the moments are still filled).  VBT_EINVAL for
 * too few draws, VBT_ENOMEM. */
int vbt_diag_param_compute(const double *x, size_t n_chains, size_t n_draws,
                           vbt_diag_param *out);

/* Basic R-hat (Gelman et al. BDA3 11.4, sqrt((B/W + N - 1)/N)) of m
 * chains of n draws, without splitting or ranking. */
double vbt_diag_rhat_basic(const double *x, size_t m, size_t n);

/* ESS of m chains of n draws (no splitting or ranking): Geyer's initial
 * monotone sequence on the autocorrelation averaged over chains, with
 * posterior's improvement (the last positive even lag) and the floor
 * tau >= 1 / log10(m n).  NAN for n < 3 or constant draws. */
double vbt_diag_ess_basic(const double *x, size_t m, size_t n);

/* Quantile p of n values (linear interpolation, R type 7); the values are
 * copied and sorted in `work` (n). */
double vbt_diag_quantile(const double *x, size_t n, double p, double *work);

/* E-BFMI of one chain's energies (Betancourt 2016):
 * sum (E_i - E_{i-1})^2 / sum (E_i - mean E)^2; below 0.3 is a warning. */
double vbt_diag_ebfmi(const double *energy, size_t n);

/* Stuck chains.  flags[c] |= VBT_DIAG_STUCK_LP when chain c's mean log
 * density is more than lp_gap (10 when <= 0) below the best chain's,
 * VBT_DIAG_STUCK_STEPSIZE when its step size is below stepsize_ratio (0.1
 * when <= 0) times the median of the chains' step sizes.  mean_lp and
 * stepsize are per chain (stepsize may be NULL).  Returns the number of
 * chains flagged. */
enum { VBT_DIAG_STUCK_LP = 1, VBT_DIAG_STUCK_STEPSIZE = 2 };
size_t vbt_diag_stuck_chains(const double *mean_lp, const double *stepsize, size_t n_chains,
                             double lp_gap, double stepsize_ratio, int *flags);

/* ---- simulation-based calibration (Talts, Betancourt, Simpson, Vehtari &
 * Gelman 2018, arXiv:1804.06788) ----------------------------------------
 *
 * Per replicate: theta ~ prior, y ~ p(y | theta), L roughly independent
 * posterior draws given y; the rank of theta among them is uniform on
 * {0, ..., L} when the sampler is right.  Ranks from many replicates,
 * binned into B bins with (L + 1) a multiple of B, are then uniform over the
 * bins, which vbt_chisq_uniform() tests. */

/* Rank of `truth` among L draws taken evenly from the n draws x (draw k =
 * x[floor(k n / L)], k = 0 .. L-1, so chains laid end to end are thinned
 * alike): the number of them strictly below truth, 0 .. L.  Returns
 * SIZE_MAX when x is NULL, L == 0 or L > n.  A NaN draw or truth never
 * compares below. */
size_t vbt_sbc_rank(const double *x, size_t n, size_t L, double truth);

/* Number L of thinned draws to rank against when the n draws have an
 * effective sample size ess: the largest L with L + 1 a multiple of n_bins,
 * L <= n, L <= max_L and L + 1 <= ess (so that the kept draws are roughly
 * independent and autocorrelation does not narrow the rank distribution);
 * never below n_bins - 1 (one rank per bin), which is also the answer for a
 * NaN ess (constant or non-finite draws); 0 when n_bins == 0 or n < n_bins - 1 or max_L < n_bins - 1. */
size_t vbt_sbc_thin(double ess, size_t n, size_t n_bins, size_t max_L);

/* Bin of a rank in 0 .. L among n_bins bins: floor(rank n_bins / (L + 1))
 * (uniform when (L + 1) is a multiple of n_bins). */
size_t vbt_sbc_bin(size_t rank, size_t L, size_t n_bins);

/* Pearson chi-square test that the n_bins counts are equally likely:
 * *stat = sum_b (c_b - E)^2 / E with E = total / n_bins, n_bins - 1 degrees
 * of freedom, *p = P(chi2 > stat) (gsl_cdf_chisq_Q).  stat and p may be
 * NULL.  VBT_EINVAL for counts NULL, n_bins < 2 or no counts. */
int vbt_chisq_uniform(const size_t *counts, size_t n_bins, double *stat, double *p);


/* ---- the verdict: one machine-readable judgement of a fit ----------------
 *
 * A list of named checks, each with the value measured, the threshold it is
 * held to, whether it passed and one sentence saying why (the verdict table
 * of docs/pipeline.md, "results.json").  A fit is trustworthy when every
 * check passed.  Fixed size: copy it by value. */

#define VBT_VERDICT_MAX_CHECKS 32

typedef struct vbt_check {
    char name[32];       /* "rhat", "ess_bulk", "ess_tail", "divergences", "treedepth",
                            "ebfmi", "stuck_chains", "multimodal_regions", "psis_khat",
                            "advi_converged", "smc_accept", "smc_logz_sd", "map_converged",
                            "map_modes", "ppc_coverage", "ppc_coverage_sensor",
                            "prior_data_conflict", "point_estimate" */
    double value;        /* what was measured (NAN: could not be measured) */
    double threshold;    /* the bound it is held to (see each check) */
    int passed;          /* 1 or 0 */
    char reason[400];    /* one sentence, passed or not */
} vbt_check;

typedef struct vbt_verdict {
    int trustworthy;     /* 1 when every check passed (and there is at least one) */
    int point_estimate;  /* 1: a MAP-only fit: no posterior, no probabilities */
    size_t n_checks;
    vbt_check checks[VBT_VERDICT_MAX_CHECKS];
} vbt_verdict;

/* An empty verdict (trustworthy 0 until a check is added). */
void vbt_verdict_init(vbt_verdict *v);

/* Append a check (reason printf-style; cut to fit) and update
 * trustworthy.  VBT_ERANGE when the verdict is full. */
int vbt_verdict_add(vbt_verdict *v, const char *name, double value, double threshold,
                    int passed, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* The check named `name`, or NULL. */
const vbt_check *vbt_verdict_find(const vbt_verdict *v, const char *name);

/* Number of failed checks, and the i-th failed check (NULL out of range). */
size_t vbt_verdict_n_failed(const vbt_verdict *v);
const vbt_check *vbt_verdict_failed(const vbt_verdict *v, size_t i);

/* The verdict as JSON text: {"trustworthy": bool, "point_estimate": bool,
 * "checks": [{"name", "value", "threshold", "passed", "reason"}],
 * "reasons": [the failed checks' reasons]}; a non-finite value or threshold
 * is null.  malloc'd (free()), NULL when out of memory. */
char *vbt_verdict_json(const vbt_verdict *v);

/* Read back the object vbt_verdict_json() writes (JSON text); VBT_EFORMAT
 * when it is not one (msg says why). */
int vbt_verdict_parse(vbt_verdict *v, const char *json, vbt_msg *msg);

/* Posterior-predictive coverage: the fraction of the observed points
 * y[t * S + s] inside [lo, hi] (the 5 % and 95 % bands of the predictive,
 * same layout), per sensor (per_sensor[S], may be NULL) and over all points
 * (returned).  A non-finite band or observation counts as outside.  NAN
 * when T or S is 0. */
double vbt_ppc_coverage(const double *y, const double *lo, const double *hi, size_t T,
                        size_t S, double *per_sensor);

/* Agreement of a multi-start MAP's modes.  lp[k] (n starts; -inf or NaN: a
 * failed start) and x0[k * n_regions + r] the regions' x0 at start k's
 * optimum.  Two modes agree when they give the same regions x0 >= ez_x0
 * (the EZ set) and no region's x0 differs by more than x0_tol.  Returns the
 * log-posterior gap between the best start and the best start that does
 * not agree with it (INFINITY when every finite start agrees; NAN when none
 * is finite); *disagree (may be NULL) gets that start's index (SIZE_MAX
 * when none).  A gap of g means the disagreeing mode's density is e^-g of
 * the best's. */
double vbt_map_mode_gap(const double *lp, const double *x0, size_t n, size_t n_regions,
                        double ez_x0, double x0_tol, size_t *disagree);

#ifdef __cplusplus
}
#endif
#endif
