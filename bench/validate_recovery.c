/* validate_recovery.c -- recovery of a synthetic virtual patient at the
 * BVEP scale (issue: "recovery on synthetic patients made by vbt's own
 * simulator, on the 84-region Desikan connectome with 2 EZ and 3 PZ
 * regions: every region classified correctly, posterior z-scores below 2
 * and shrinkage above 0.9 for the EZ and PZ regions").
 *
 *   validate_recovery [--threads N] [--chains C] [--warmup W] [--draws D] [--adapt-delta A]
 *                     [--starts S] [--seed S] [--metric diag|dense|laplace]
 *                     [--contacts TSV] [--connectome ZIP] [--offsets marginal|sample]
 *                     [--x0-sd SD] [--x0-nu NU]
 *                     [--method nuts|smc] [--particles P] [--smc-moves M] [--leapfrog L]
 *                     [--jumps N] [--export DIR]
 *
 * The patient: the Desikan-Killiany connectome of data-samples/ (max-
 * normalised, EZ -> PZ weights raised to 1.5 as BVEP's synthetic patients
 * do), the 124 real SEEG contacts of the BIDS ieeg_epilepsy example with
 * the region-centre inverse-square gain squared into a power gain and row-
 * normalised (vbt fit --gain-norm power), EZ = left superior temporal gyrus
 * and banks of the STS (x0 = -1.6), PZ = left middle temporal, transverse
 * temporal and insula (x0 = -2.5, the middle of BVEP's PZ band), every other
 * region x0 = -3.5; K = 1, tau0 = 10, amp = 1, offsets 0, eps = 0.1; 100
 * samples, dt 0.1, Euler, linear observation; the trajectory starts at the
 * healthy (x, z) = (-2, 4), which the fit holds fixed (BVEP 2022).
 *
 * Fit: the offsets integrated out (--offsets marginal, vbt fit's default; the
 * data come from the joint model either way), the sparse prior x0 = -3.5 +
 * SD t_NU for every region (no hypothesis; --x0-sd 0.3, --x0-nu 3; --x0-nu 0
 * makes it N(-3.5, SD); BVEP 2022's benchmark used N(-3.5, 0.1)), then
 * either MAP from S starts with Newton polish and C NUTS chains from the
 * jittered mode with the Laplace covariance as initial metric, or (--method
 * smc) likelihood-tempered SMC from the prior.  Printed: per region the
 * posterior mean, sd, P(EZ), P(PZ), P(HZ) (BVEP thresholds), class of the
 * posterior mean (as vbt fit's regions.csv and BVEP) against truth; z-score
 * |mean - truth| / sd and shrinkage 1 - var_post / var_prior (the prior's
 * variance: SD^2 NU / (NU - 2) for a t) for the EZ and PZ regions; R-hat, ESS
 * (NUTS), wall time; PASS/FAIL per criterion.
 * Exit 0 when every criterion passes.  Set OPENBLAS_NUM_THREADS=1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vbt_connectome_build.h"
#include "vbt_contacts.h"
#include "vbt_diagnostics.h"
#include "vbt_gain.h"
#include "vbt_io.h"
#include "vbt_nuts.h"
#include "vbt_rng.h"
#include "vbt_vep.h"

#define NT 100

static const size_t EZ[] = {28, 0};          /* ctx-lh-superiortemporal, ctx-lh-bankssts */
static const size_t PZ[] = {13, 32, 33};     /* middletemporal, transversetemporal, insula */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int in(const size_t *set, size_t n, size_t i)
{
    for (size_t k = 0; k < n; k++)
        if (set[k] == i)
            return 1;
    return 0;
}

/* 2 EZ, 1 PZ, 0 HZ */
static int truth_class(size_t i)
{
    return in(EZ, 2, i) ? VBT_VEP_EZ : in(PZ, 3, i) ? VBT_VEP_PZ : VBT_VEP_HZ;
}
static double truth_x0(size_t i) { return (double[]){-3.5, -2.5, -1.6}[truth_class(i)]; }

static int vep_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

/* --export DIR: the synthetic patient as vbt fit's inputs, so that the CLI
 * can be run on it (README): connectome.zip (the weights as modified
 * above: fit with --normalize none), gain.npy (the power gain, --gain-norm
 * none), data.npy [sample, sensor], prior.json (the fit's priors, in vbt
 * fit's prior file format) and truth.csv (region, label, x0, class). */
static int export_patient(const char *dir, vbt_connectome *cn, const double *W, const double *G,
                          size_t ns, const double *Y, const vbt_vep_priors *pri, vbt_msg *msg)
{
    size_t n = cn->n;
    char path[4096];
    memcpy(cn->weights, W, n * n * sizeof *W);
    snprintf(path, sizeof path, "%s/connectome.zip", dir);
    int st = vbt_connectome_save(cn, path, 1, msg);
    size_t gshape[2] = {ns, n}, yshape[2] = {NT, ns};
    snprintf(path, sizeof path, "%s/gain.npy", dir);
    if (!st)
        st = vbt_npy_write(path, G, 2, gshape, 1, msg);
    snprintf(path, sizeof path, "%s/data.npy", dir);
    if (!st)
        st = vbt_npy_write(path, Y, 2, yshape, 1, msg);
    if (st)
        return st;
    /* the text files through the library's atomic writer, as the others */
    char *pj = vbt_vep_priors_json(pri);
    size_t cap = 64 + n * (VBT_LABEL_MAX + 48), len = 0;
    char *csv = malloc(cap);
    if (!pj || !csv) {
        free(pj);
        free(csv);
        snprintf(msg->text, sizeof msg->text, "out of memory");
        return VBT_ENOMEM;
    }
    len += (size_t)snprintf(csv, cap, "region,label,x0,class\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(csv + len, cap - len, "%zu,%s,%.2f,%s\n", i, cn->labels[i],
                                truth_x0(i), vbt_vep_class_name((vbt_vep_class)truth_class(i)));
    snprintf(path, sizeof path, "%s/prior.json", dir);
    st = vbt_file_write_atomic(path, pj, strlen(pj), 1, msg);
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    if (!st)
        st = vbt_file_write_atomic(path, csv, len, 1, msg);
    free(pj);
    free(csv);
    return st;
}

int main(int argc, char **argv)
{
    size_t threads = (size_t)atol(arg(argc, argv, "--threads", "2"));
    size_t chains = (size_t)atol(arg(argc, argv, "--chains", "4"));
    size_t warmup = (size_t)atol(arg(argc, argv, "--warmup", "500"));
    size_t draws = (size_t)atol(arg(argc, argv, "--draws", "1000"));
    size_t starts = (size_t)atol(arg(argc, argv, "--starts", "8"));
    uint64_t seed = (uint64_t)atoll(arg(argc, argv, "--seed", "1"));
    const char *cpath = arg(argc, argv, "--contacts",
                            "data-samples/ieeg_epilepsy/"
                            "sub-01_ses-postimp_space-IXI549Space_electrodes.tsv");
    const char *wpath = arg(argc, argv, "--connectome", "data-samples/connectivity_84_desikan.zip");
    vbt_msg msg;
    vbt_connectome *cn = NULL;
    vbt_contacts *ct = NULL;
    if (vbt_connectome_load(&cn, wpath, &msg) || vbt_contacts_load(&ct, cpath, &msg)) {
        fprintf(stderr, "validate_recovery: %s (run from the source root)\n", msg.text);
        return 1;
    }
    size_t n = cn->n, ns = ct->n;
    if (n != 84) {
        fprintf(stderr, "validate_recovery: '%s' has %zu regions, expected 84\n", wpath, n);
        return 1;
    }
    /* weights: zero diagonal, max-normalised, EZ -> PZ raised to 1.5 (row = target) */
    double *W = malloc(n * n * sizeof *W), mx = 0;
    for (size_t k = 0; k < n * n; k++)
        mx = fmax(mx, k / n == k % n ? 0 : cn->weights[k]);
    for (size_t k = 0; k < n * n; k++)
        W[k] = k / n == k % n ? 0.0 : cn->weights[k] / mx;
    for (size_t p = 0; p < 3; p++)
        for (size_t e = 0; e < 2; e++)
            W[PZ[p] * n + EZ[e]] = fmax(W[PZ[p] * n + EZ[e]], 1.5);
    /* power gain, rows summing to 1 */
    double *G = malloc(ns * n * sizeof *G);
    if (vbt_gain_centre(ct->pos, ns, cn->centres, n, 1.0, G, &msg)) {
        fprintf(stderr, "validate_recovery: %s\n", msg.text);
        return 1;
    }
    for (size_t s = 0; s < ns; s++) {
        double sum = 0;
        for (size_t j = 0; j < n; j++)
            sum += G[s * n + j] * G[s * n + j];
        for (size_t j = 0; j < n; j++)
            G[s * n + j] = G[s * n + j] * G[s * n + j] / sum;
    }

    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = n;
    sp.n_sensors = ns;
    sp.n_samples = NT;
    sp.weights = W;
    sp.normalize = VBT_NORMALIZE_NONE;
    sp.gain = G;
    sp.priors.x0.mu = -3.5;
    sp.priors.x0.sd = atof(arg(argc, argv, "--x0-sd", "0.3"));
    sp.priors.x0.nu = atof(arg(argc, argv, "--x0-nu", "3"));
    if (!(sp.priors.x0.sd > 0 && isfinite(sp.priors.x0.sd)) ||
        !(sp.priors.x0.nu >= 0 && isfinite(sp.priors.x0.nu))) {
        fprintf(stderr, "validate_recovery: --x0-sd must be positive, --x0-nu 0 or positive\n");
        return 2;
    }
    sp.priors.x_init = (vbt_vep_group_prior){.mu = -2.0, .sd = 1.0, .fixed = 1};
    sp.priors.z_init = (vbt_vep_group_prior){.mu = 4.0, .sd = 1.0, .fixed = 1};
    vbt_vep *m = NULL;
    if (vbt_vep_alloc(&m, &sp, &msg)) {
        fprintf(stderr, "validate_recovery: %s\n", msg.text);
        return 1;
    }
    size_t np = vbt_vep_n_params(m);
    double *nat = calloc(np, sizeof *nat), *th = calloc(np, sizeof *th);
    double *Y = malloc(NT * ns * sizeof *Y), *X = malloc(NT * n * sizeof *X);
    for (size_t i = 0; i < n; i++)
        nat[i] = truth_x0(i);
    nat[vbt_vep_param_index(m, "K")] = 1.0;
    nat[vbt_vep_param_index(m, "amp")] = 1.0;
    nat[vbt_vep_param_index(m, "eps")] = 0.1;
    vbt_vep_unconstrain(m, nat, th);
    vbt_vep_simulate(m, th, X, Y);
    vbt_rng r;
    vbt_rng_init(&r, seed, 1000);
    double *e = malloc(NT * ns * sizeof *e);
    vbt_rng_normal(&r, e, NT * ns);
    for (size_t k = 0; k < NT * ns; k++)
        Y[k] += 0.1 * e[k];
    size_t seized = 0;
    for (size_t i = 0; i < n; i++) {
        int s = 0;
        for (size_t t = 0; t < NT; t++)
            s |= X[t * n + i] > 0.0;
        seized += (size_t)s;
        if (s != (truth_class(i) > 0))
            printf("note: region %zu (%s) %s in the simulated seizure\n", i, cn->labels[i],
                   s ? "seizes" : "does not seize");
    }
    printf("synthetic patient: 84 regions, %zu sensors, %d samples, %zu parameters, %zu regions "
           "seize\n", ns, NT, np, seized);
    vbt_vep_free(m);
    sp.data = Y;
    const char *offs = arg(argc, argv, "--offsets", "marginal");
    if (strcmp(offs, "marginal") && strcmp(offs, "sample")) {
        fprintf(stderr, "validate_recovery: --offsets marginal|sample\n");
        return 2;
    }
    sp.priors.off_marginal = !strcmp(offs, "marginal");
    if (sp.priors.x0.nu > 0)
        printf("prior x0 ~ %.2f + %.2f t_%g, offsets %s\n", sp.priors.x0.mu, sp.priors.x0.sd,
               sp.priors.x0.nu, offs);
    else
        printf("prior x0 ~ N(%.2f, %.2f), offsets %s\n", sp.priors.x0.mu, sp.priors.x0.sd, offs);
    vbt_vep_alloc(&m, &sp, &msg);
    const char *exp_dir = arg(argc, argv, "--export", NULL);
    if (exp_dir && export_patient(exp_dir, cn, W, G, ns, Y, &sp.priors, &msg)) {
        fprintf(stderr, "validate_recovery: --export: %s\n", msg.text);
        return 1;
    }

    const char *method = arg(argc, argv, "--method", "nuts");
    int smc = !strcmp(method, "smc");
    if (!smc && strcmp(method, "nuts")) {
        fprintf(stderr, "validate_recovery: --method nuts|smc\n");
        return 2;
    }
    double t0 = now(), tmap = 0, tn = 0;
    size_t div = 0;
    double *map = NULL, *cov = NULL, *dr = NULL, *x = NULL, *inits = NULL;
    vbt_vep **ms = NULL;
    void **ctx = NULL;
    vbt_nuts_stats *st = NULL;
    vbt_nuts_chain_info *info = NULL;
    size_t nd;
    if (smc) {
        /* likelihood-tempered SMC from the prior: no MAP, no chains; every
         * particle is an equally weighted posterior draw */
        vbt_smc_opts so;
        vbt_smc_opts_default(&so);
        so.n_particles = (size_t)atol(arg(argc, argv, "--particles", "256"));
        so.n_moves = (size_t)atol(arg(argc, argv, "--smc-moves", "10"));
        so.n_leapfrog = (size_t)atol(arg(argc, argv, "--leapfrog", "10"));
        so.n_threads = threads;
        so.seed = seed;
        chains = 1;
        draws = so.n_particles;
        nd = draws;
        dr = malloc(nd * np * sizeof *dr);
        x = malloc(nd * sizeof *x);
        vbt_smc_result sr;
        if (!dr || !x || vbt_vep_smc(m, &so, dr, &sr, &msg)) {
            fprintf(stderr, "validate_recovery: %s\n", dr && x ? msg.text : "out of memory");
            return 1;
        }
        tn = now() - t0;
        div = sr.n_divergent;
        size_t distinct = 0; /* resampling duplicates; the moves should have separated them */
        for (size_t k = 0; k < nd; k++) {
            size_t j = 0;
            while (j < k && memcmp(dr + j * np, dr + k * np, np * sizeof *dr))
                j++;
            distinct += j == k;
        }
        printf("SMC: %zu particles x %zu moves (%zu leapfrog), %zu threads: %.1f s, %zu steps, "
               "log evidence %.2f, mean acceptance %.2f, %zu distinct particles, %zu divergent "
               "moves\n", so.n_particles, so.n_moves, so.n_leapfrog, threads, tn, sr.n_steps,
               sr.log_evidence, sr.mean_accept, distinct, div);
    } else {
        vbt_vep_map_opts mo;
        vbt_vep_map_opts_default(&mo);
        mo.n_starts = starts;
        mo.n_threads = threads;
        mo.seed = seed;
        map = malloc(np * sizeof *map);
        cov = malloc(np * np * sizeof *cov);
        vbt_vep_map_result mr;
        if (vbt_vep_map(m, &mo, map, &mr, NULL, NULL, &msg)) {
            fprintf(stderr, "validate_recovery: %s\n", msg.text);
            return 1;
        }
        int lap_ok = vbt_nuts_laplace_cov(vep_cb, m, np, map, 0, cov, &msg) == VBT_OK;
        tmap = now() - t0;
        printf("MAP: %zu starts, best lp %.2f, %zu at it, %zu converged; Laplace metric %s; %.1f s\n",
               starts, mr.best_lp, mr.n_best, mr.n_converged, lap_ok ? "ok" : msg.text, tmap);

        ms = calloc(chains, sizeof *ms);
        ctx = calloc(chains, sizeof *ctx);
        inits = malloc(chains * np * sizeof *inits);
        for (size_t c = 0; c < chains; c++) {
            vbt_vep_alloc(&ms[c], &sp, &msg);
            ctx[c] = ms[c];
            vbt_nuts_jitter(map, lap_ok ? cov : NULL, np, seed, c, inits + c * np);
        }
        vbt_nuts_opts o;
        vbt_nuts_opts_default(&o);
        o.warmup = warmup;
        o.draws = draws;
        o.adapt_delta = atof(arg(argc, argv, "--adapt-delta", "0.8"));
        if (!(o.adapt_delta > 0 && o.adapt_delta < 1)) {
            fprintf(stderr, "validate_recovery: --adapt-delta must be in (0, 1)\n");
            return 2;
        }
        const char *met = arg(argc, argv, "--metric", "diag");
        o.metric = strcmp(met, "diag") ? VBT_NUTS_DENSE : VBT_NUTS_DIAG;
        o.adapt_metric = strcmp(met, "laplace") != 0; /* laplace: keep the dense Laplace metric */
        /* --jumps N: vbt fit's mode jumps, every x0 by 1 to 2.5 */
        size_t jc[84];
        double js[84];
        o.jump_n = (size_t)atol(arg(argc, argv, "--jumps", "0"));
        for (size_t i = 0; i < n; i++) {
            jc[i] = i; /* x0 comes first in theta */
            js[i] = 1.0 / vbt_vep_param_scale(m, i);
        }
        o.jump_coords = jc;
        o.jump_scale = js;
        o.jump_n_coords = n;
        o.jump_lo = 1.0;
        o.jump_hi = 2.5;
        vbt_nuts_run run = {.logp = vep_cb, .ctx = ctx, .n_params = np, .n_chains = chains,
                            .n_threads = threads, .seed = seed, .inits = inits,
                            .inv_metric = lap_ok ? cov : NULL, .inv_metric_full = 1};
        nd = chains * draws;
        dr = malloc(nd * np * sizeof *dr);
        x = malloc(nd * sizeof *x);
        st = malloc(nd * sizeof *st);
        info = calloc(chains, sizeof *info);
        t0 = now();
        if (vbt_nuts_sample(&run, &o, dr, st, info, &msg)) {
            fprintf(stderr, "validate_recovery: %s\n", msg.text);
            return 1;
        }
        tn = now() - t0;
        size_t jumped = 0;
        for (size_t c = 0; c < chains; c++) {
            div += info[c].divergences;
            jumped += info[c].jumps_accepted;
        }
        printf("NUTS: %zu chains x (%zu + %zu), %zu threads: %.1f s, %zu divergences, %zu of %zu "
               "mode jumps accepted\n", chains, warmup, draws, threads, tn, div, jumped,
               chains * draws * o.jump_n);
    }

    /* natural draws, region by region */
    double *natd = malloc(nd * np * sizeof *natd);
    for (size_t k = 0; k < nd; k++)
        vbt_vep_constrain(m, dr + k * np, natd + k * np);
    size_t misclass = 0, bad_z = 0, bad_shrink = 0, bad_conf = 0;
    double max_rhat = 0, min_ess = INFINITY, max_hz_pez = 0;
    size_t worst = 0;
    printf("\nregion label                          truth    mean      sd  P(EZ)  P(PZ)  P(HZ) "
           "class   z   shrink\n");
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < nd; k++)
            x[k] = natd[k * np + i];
        vbt_diag_param p;
        vbt_diag_param_compute(x, chains, draws, &p);
        if (p.rhat > max_rhat) {
            max_rhat = p.rhat;
            worst = i;
        }
        min_ess = fmin(min_ess, p.ess_bulk);
        if (i >= n)
            continue;
        double pc[3] = {0, 0, 0};
        for (size_t k = 0; k < nd; k++)
            pc[vbt_vep_x0_class(x[k])] += 1.0 / (double)nd;
        /* the class vbt fit reports (regions.csv) and BVEP used: that of
         * the posterior mean */
        int cls = (int)vbt_vep_x0_class(p.mean);
        int tc = truth_class(i);
        misclass += cls != tc;
        if (tc == 0)
            max_hz_pez = fmax(max_hz_pez, pc[2]);
        double z = fabs(p.mean - truth_x0(i)) / p.sd;
        double psd = vbt_vep_param_prior_sd(m, i); /* infinite for nu <= 2: shrinkage 1 */
        double shrink = 1.0 - p.sd * p.sd / (psd * psd);
        if (tc > 0) {
            bad_z += z >= 2.0;
            bad_shrink += shrink <= 0.9;
            bad_conf += pc[tc] <= 0.9;
        }
        if (tc > 0 || cls != tc || pc[2] > 0.05)
            printf("%-6zu %-30s %6.2f %7.3f %7.3f %6.3f %6.3f %6.3f %-5s %5.2f %6.3f%s\n", i,
                   cn->labels[i], truth_x0(i), p.mean, p.sd, pc[2], pc[1], pc[0],
                   vbt_vep_class_name((vbt_vep_class)cls), z, shrink,
                   cls != tc ? "  <- misclassified" : "");
    }
    printf("(other regions: classified HZ, P(EZ) <= 0.05)\n\n");
    int ok = 1;
#define CHECK(cond, ...)                                                                        \
    do {                                                                                       \
        int c_ = (cond);                                                                       \
        ok &= c_;                                                                              \
        printf("%s  ", c_ ? "PASS" : "FAIL");                                                  \
        printf(__VA_ARGS__);                                                                   \
        printf("\n");                                                                          \
    } while (0)
    CHECK(misclass == 0, "every region classified correctly (%zu misclassified)", misclass);
    CHECK(bad_conf == 0, "EZ and PZ regions at posterior probability > 0.9 of their class "
                         "(%zu below)", bad_conf);
    CHECK(max_hz_pez <= 0.1, "no healthy region with P(EZ) > 0.1 (largest %.3f)", max_hz_pez);
    CHECK(bad_z == 0, "posterior z-scores < 2 for the EZ and PZ regions (%zu above)", bad_z);
    CHECK(bad_shrink == 0, "shrinkage > 0.9 for the EZ and PZ regions (%zu below)", bad_shrink);
    if (smc) {
        /* R-hat and ESS need chains: SMC's particles are one weighted population */
        printf("SMC: %.1f s\n", tn);
    } else {
        CHECK(max_rhat < 1.01, "R-hat < 1.01 for every parameter (max %.4f, %s)", max_rhat,
              vbt_vep_param_name(m, worst));
        printf("min bulk ESS %.0f, divergences %zu, MAP %.1f s + NUTS %.1f s = %.1f s\n",
               min_ess, div, tmap, tn, tmap + tn);
    }
    for (size_t c = 0; ms && c < chains; c++)
        vbt_vep_free(ms[c]);
    vbt_vep_free(m);
    vbt_connectome_free(cn);
    vbt_contacts_free(ct);
    free(ms);
    free(ctx);
    free(inits);
    free(dr);
    free(x);
    free(st);
    free(info);
    free(natd);
    free(map);
    free(cov);
    free(nat);
    free(th);
    free(Y);
    free(X);
    free(e);
    free(W);
    free(G);
    return ok ? 0 : 1;
}
