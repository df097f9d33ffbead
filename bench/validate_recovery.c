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
 * smc) likelihood-tempered SMC from the prior: vbt fit's procedure, run by
 * the fit object (fitting/vbt_fit.h) with MAP starts from prior draws,
 * every start polished.  Printed: per region the
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

#include "vbt_connectome_build.h"
#include "vbt_contacts.h"
#include "vbt_diagnostics.h"
#include "vbt_fit.h"
#include "vbt_gain.h"
#include "vbt_io.h"
#include "vbt_nuts.h"
#include "vbt_rng.h"
#include "vbt_vep.h"

#define NT 100

static const size_t EZ[] = {28, 0};          /* ctx-lh-superiortemporal, ctx-lh-bankssts */
static const size_t PZ[] = {13, 32, 33};     /* middletemporal, transversetemporal, insula */

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

/* The synthetic patient and the fit's inputs. */
typedef struct patient {
    vbt_connectome *cn;
    vbt_contacts *ct;
    vbt_connectome conn;       /* cn with the modified weights W */
    size_t n, ns;
    double *W, *G, *Y;
    vbt_vep_priors priors;
} patient;

static void patient_free(patient *pt)
{
    vbt_connectome_free(pt->cn);
    vbt_contacts_free(pt->ct);
    free(pt->W);
    free(pt->G);
    free(pt->Y);
}

/* Weights: zero diagonal, max-normalised, EZ -> PZ raised to 1.5 (row =
 * target); the power gain, rows summing to 1. */
static int patient_network(patient *pt, vbt_msg *msg)
{
    const size_t n = pt->n, ns = pt->ns;
    const vbt_connectome *cn = pt->cn;
    double mx = 0;
    pt->W = malloc(n * n * sizeof *pt->W);
    pt->G = malloc(ns * n * sizeof *pt->G);
    if (!pt->W || !pt->G) {
        snprintf(msg->text, sizeof msg->text, "out of memory");
        return 1;
    }
    double *W = pt->W, *G = pt->G;
    for (size_t k = 0; k < n * n; k++)
        mx = fmax(mx, k / n == k % n ? 0 : cn->weights[k]);
    for (size_t k = 0; k < n * n; k++)
        W[k] = k / n == k % n ? 0.0 : cn->weights[k] / mx;
    for (size_t p = 0; p < 3; p++)
        for (size_t e = 0; e < 2; e++)
            W[PZ[p] * n + EZ[e]] = fmax(W[PZ[p] * n + EZ[e]], 1.5);
    if (vbt_gain_centre(pt->ct->pos, ns, cn->centres, n, 1.0, G, msg))
        return 1;
    for (size_t s = 0; s < ns; s++) {
        double sum = 0;
        for (size_t j = 0; j < n; j++)
            sum += G[s * n + j] * G[s * n + j];
        for (size_t j = 0; j < n; j++)
            G[s * n + j] = G[s * n + j] * G[s * n + j] / sum;
    }
    pt->conn = *cn;
    pt->conn.weights = W;
    return 0;
}

/* The data: the truth simulated, plus N(0, 0.1^2) noise of stream (seed,
 * 1000); which regions seize. */
static int patient_data(patient *pt, const vbt_vep_spec *sp, uint64_t seed, vbt_msg *msg)
{
    const size_t n = pt->n, ns = pt->ns;
    vbt_vep *m = NULL;
    if (vbt_vep_alloc(&m, sp, msg))
        return 1;
    size_t np = vbt_vep_n_params(m), seized = 0;
    double *nat = calloc(np, sizeof *nat), *th = calloc(np, sizeof *th);
    double *X = malloc(NT * n * sizeof *X), *e = malloc(NT * ns * sizeof *e);
    pt->Y = malloc(NT * ns * sizeof *pt->Y);
    for (size_t i = 0; i < n; i++)
        nat[i] = truth_x0(i);
    nat[vbt_vep_param_index(m, "K")] = 1.0;
    nat[vbt_vep_param_index(m, "amp")] = 1.0;
    nat[vbt_vep_param_index(m, "eps")] = 0.1;
    vbt_vep_unconstrain(m, nat, th);
    vbt_vep_simulate(m, th, X, pt->Y);
    vbt_rng r;
    vbt_rng_init(&r, seed, 1000);
    vbt_rng_normal(&r, e, NT * ns);
    for (size_t k = 0; k < NT * ns; k++)
        pt->Y[k] += 0.1 * e[k];
    for (size_t i = 0; i < n; i++) {
        int s = 0;
        for (size_t t = 0; t < NT; t++)
            s |= X[t * n + i] > 0.0;
        seized += (size_t)s;
        if (s != (truth_class(i) > 0))
            printf("note: region %zu (%s) %s in the simulated seizure\n", i, pt->cn->labels[i],
                   s ? "seizes" : "does not seize");
    }
    printf("synthetic patient: 84 regions, %zu sensors, %d samples, %zu parameters, %zu regions "
           "seize\n", ns, NT, np, seized);
    vbt_vep_free(m);
    free(nat);
    free(th);
    free(X);
    free(e);
    return 0;
}

/* Load, build and simulate the patient; its priors from the options.
 * 0, 1 (error, message printed) or 2 (usage). */
static int patient_make(int argc, char **argv, uint64_t seed, patient *pt)
{
    const char *cpath = arg(argc, argv, "--contacts",
                            "data-samples/ieeg_epilepsy/"
                            "sub-01_ses-postimp_space-IXI549Space_electrodes.tsv");
    const char *wpath = arg(argc, argv, "--connectome", "data-samples/connectivity_84_desikan.zip");
    vbt_msg msg;
    if (vbt_connectome_load(&pt->cn, wpath, &msg) || vbt_contacts_load(&pt->ct, cpath, &msg)) {
        fprintf(stderr, "validate_recovery: %s (run from the source root)\n", msg.text);
        return 1;
    }
    pt->n = pt->cn->n;
    pt->ns = pt->ct->n;
    if (pt->n != 84) {
        fprintf(stderr, "validate_recovery: '%s' has %zu regions, expected 84\n", wpath, pt->n);
        return 1;
    }
    if (patient_network(pt, &msg)) {
        fprintf(stderr, "validate_recovery: %s\n", msg.text);
        return 1;
    }
    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = pt->n;
    sp.n_sensors = pt->ns;
    sp.n_samples = NT;
    sp.weights = pt->W;
    sp.normalize = VBT_NORMALIZE_NONE;
    sp.gain = pt->G;
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
    if (patient_data(pt, &sp, seed, &msg)) {
        fprintf(stderr, "validate_recovery: %s\n", msg.text);
        return 1;
    }
    const char *offs = arg(argc, argv, "--offsets", "marginal");
    if (strcmp(offs, "marginal") && strcmp(offs, "sample")) {
        fprintf(stderr, "validate_recovery: --offsets marginal|sample\n");
        return 2;
    }
    sp.priors.off_marginal = !strcmp(offs, "marginal");
    pt->priors = sp.priors;
    if (sp.priors.x0.nu > 0)
        printf("prior x0 ~ %.2f + %.2f t_%g, offsets %s\n", sp.priors.x0.mu, sp.priors.x0.sd,
               sp.priors.x0.nu, offs);
    else
        printf("prior x0 ~ N(%.2f, %.2f), offsets %s\n", sp.priors.x0.mu, sp.priors.x0.sd, offs);
    const char *exp_dir = arg(argc, argv, "--export", NULL);
    if (exp_dir && export_patient(exp_dir, pt->cn, pt->W, pt->G, pt->ns, pt->Y, &pt->priors,
                                  &msg)) {
        fprintf(stderr, "validate_recovery: --export: %s\n", msg.text);
        return 1;
    }
    return 0;
}

/* The fit options: vbt fit's procedure with MAP starts from prior draws,
 * every start polished.  0, or 2 (usage, printed). */
static int fit_opts(int argc, char **argv, vbt_fit_opts *o)
{
    vbt_fit_opts_default(o);
    o->threads = (size_t)atol(arg(argc, argv, "--threads", "2"));
    o->chains = (size_t)atol(arg(argc, argv, "--chains", "4"));
    o->warmup = (size_t)atol(arg(argc, argv, "--warmup", "500"));
    o->draws = (size_t)atol(arg(argc, argv, "--draws", "1000"));
    o->starts = (size_t)atol(arg(argc, argv, "--starts", "8"));
    o->seed = (uint64_t)atoll(arg(argc, argv, "--seed", "1"));
    o->normalize = VBT_NORMALIZE_NONE; /* the weights are made above */
    o->map_init = VBT_FIT_MAP_PRIOR;
    o->polish = 0;
    o->particles = (size_t)atol(arg(argc, argv, "--particles", "256"));
    o->smc_moves = (size_t)atol(arg(argc, argv, "--smc-moves", "10"));
    o->leapfrog = (size_t)atol(arg(argc, argv, "--leapfrog", "10"));
    o->adapt_delta = atof(arg(argc, argv, "--adapt-delta", "0.8"));
    const char *met = arg(argc, argv, "--metric", "diag");
    o->metric = !strcmp(met, "diag") ? VBT_FIT_METRIC_DIAG
                : !strcmp(met, "laplace") ? VBT_FIT_METRIC_LAPLACE : VBT_FIT_METRIC_DENSE;
    o->jumps = (size_t)atol(arg(argc, argv, "--jumps", "0"));
    const char *method = arg(argc, argv, "--method", "nuts");
    o->sampler = vbt_sampler_find(method);
    if (!o->sampler || (strcmp(method, "nuts") && strcmp(method, "smc"))) {
        fprintf(stderr, "validate_recovery: --method nuts|smc\n");
        return 2;
    }
    if (strcmp(method, "nuts"))
        o->adapt_delta = 0.8; /* not used */
    else if (!(o->adapt_delta > 0 && o->adapt_delta < 1)) {
        fprintf(stderr, "validate_recovery: --adapt-delta must be in (0, 1)\n");
        return 2;
    }
    return 0;
}

/* Distinct particles: resampling duplicates; the moves should have
 * separated them. */
static size_t distinct_draws(const double *d, size_t nd, size_t np)
{
    size_t distinct = 0;
    for (size_t k = 0; k < nd; k++) {
        size_t j = 0;
        while (j < k && memcmp(d + j * np, d + k * np, np * sizeof *d))
            j++;
        distinct += j == k;
    }
    return distinct;
}

/* What the sampler did, as one or two lines. */
static void print_run(const vbt_fit *f, const vbt_fit_opts *o, int smc)
{
    vbt_fit_timing t = vbt_fit_get_timing(f);
    size_t div = 0, jumped = 0, nd = vbt_fit_n_chains(f) * vbt_fit_n_draws(f);
    if (smc) {
        const vbt_smc_result *sr = vbt_fit_smc_result(f);
        printf("SMC: %zu particles x %zu moves (%zu leapfrog), %zu threads: %.1f s, %zu steps, "
               "log evidence %.2f, mean acceptance %.2f, %zu distinct particles, %zu divergent "
               "moves\n", o->particles, o->smc_moves, o->leapfrog, o->threads, t.smc_s,
               sr->n_steps, sr->log_evidence, sr->mean_accept,
               distinct_draws(vbt_fit_draws(f), nd, vbt_fit_n_params(f)), sr->n_divergent);
        return;
    }
    const vbt_vep_map_result *mr = vbt_fit_map_result(f);
    const char *why = vbt_fit_laplace_metric_error(f);
    printf("MAP: %zu starts, best lp %.2f, %zu at it, %zu converged; Laplace metric %s; %.1f s\n",
           o->starts, mr->best_lp, mr->n_best, mr->n_converged, why ? why : "ok", t.map_s);
    const vbt_nuts_chain_info *info = vbt_fit_nuts_info(f);
    for (size_t c = 0; c < o->chains; c++) {
        div += info[c].divergences;
        jumped += info[c].jumps_accepted;
    }
    printf("NUTS: %zu chains x (%zu + %zu), %zu threads: %.1f s, %zu divergences, %zu of %zu "
           "mode jumps accepted\n", o->chains, o->warmup, o->draws, o->threads,
           t.wall_s - t.map_s, div, jumped, o->chains * o->draws * o->jumps);
}

typedef struct tally {
    size_t misclass, bad_z, bad_shrink, bad_conf, worst;
    double max_rhat, min_ess, max_hz_pez;
} tally;

/* Region i's line (when worth printing) and its part of the criteria. */
static void region_row(const patient *pt, vbt_vep *m, size_t i, const vbt_diag_param *p,
                       const double *pc, tally *t)
{
    /* the class vbt fit reports (regions.csv) and BVEP used: that of the
     * posterior mean */
    int cls = (int)vbt_vep_x0_class(p->mean);
    int tc = truth_class(i);
    t->misclass += cls != tc;
    if (tc == 0)
        t->max_hz_pez = fmax(t->max_hz_pez, pc[2]);
    double z = fabs(p->mean - truth_x0(i)) / p->sd;
    double psd = vbt_vep_param_prior_sd(m, i); /* infinite for nu <= 2: shrinkage 1 */
    double shrink = 1.0 - p->sd * p->sd / (psd * psd);
    if (tc > 0) {
        t->bad_z += z >= 2.0;
        t->bad_shrink += shrink <= 0.9;
        t->bad_conf += pc[tc] <= 0.9;
    }
    if (tc > 0 || cls != tc || pc[2] > 0.05)
        printf("%-6zu %-30s %6.2f %7.3f %7.3f %6.3f %6.3f %6.3f %-5s %5.2f %6.3f%s\n", i,
               pt->cn->labels[i], truth_x0(i), p->mean, p->sd, pc[2], pc[1], pc[0],
               vbt_vep_class_name((vbt_vep_class)cls), z, shrink,
               cls != tc ? "  <- misclassified" : "");
}

/* Every chain's draws (stuck ones included), region by region. */
static void tally_draws(const patient *pt, vbt_fit *f, tally *t)
{
    const size_t np = vbt_fit_n_params(f), C = vbt_fit_n_chains(f), D = vbt_fit_n_draws(f),
                 nd = C * D;
    const double *natd = vbt_fit_draws(f);
    double *x = malloc(nd * sizeof *x);
    *t = (tally){.min_ess = INFINITY};
    printf("\nregion label                          truth    mean      sd  P(EZ)  P(PZ)  P(HZ) "
           "class   z   shrink\n");
    for (size_t i = 0; x && i < np; i++) {
        for (size_t k = 0; k < nd; k++)
            x[k] = natd[k * np + i];
        vbt_diag_param p;
        vbt_diag_param_compute(x, C, D, &p);
        if (p.rhat > t->max_rhat) {
            t->max_rhat = p.rhat;
            t->worst = i;
        }
        t->min_ess = fmin(t->min_ess, p.ess_bulk);
        if (i >= pt->n)
            continue;
        double pc[3] = {0, 0, 0};
        for (size_t k = 0; k < nd; k++)
            pc[vbt_vep_x0_class(x[k])] += 1.0 / (double)nd;
        region_row(pt, vbt_fit_model(f), i, &p, pc, t);
    }
    free(x);
    printf("(other regions: classified HZ, P(EZ) <= 0.05)\n\n");
}

#define CHECK(cond, ...)                                                                        \
    do {                                                                                       \
        int c_ = (cond);                                                                       \
        ok &= c_;                                                                              \
        printf("%s  ", c_ ? "PASS" : "FAIL");                                                  \
        printf(__VA_ARGS__);                                                                   \
        printf("\n");                                                                          \
    } while (0)

/* The criteria; 1 when every one passes. */
static int report(const patient *pt, vbt_fit *f, int smc)
{
    tally t;
    int ok = 1;
    tally_draws(pt, f, &t);
    vbt_fit_timing tm = vbt_fit_get_timing(f);
    CHECK(t.misclass == 0, "every region classified correctly (%zu misclassified)", t.misclass);
    CHECK(t.bad_conf == 0, "EZ and PZ regions at posterior probability > 0.9 of their class "
                           "(%zu below)", t.bad_conf);
    CHECK(t.max_hz_pez <= 0.1, "no healthy region with P(EZ) > 0.1 (largest %.3f)",
          t.max_hz_pez);
    CHECK(t.bad_z == 0, "posterior z-scores < 2 for the EZ and PZ regions (%zu above)", t.bad_z);
    CHECK(t.bad_shrink == 0, "shrinkage > 0.9 for the EZ and PZ regions (%zu below)",
          t.bad_shrink);
    if (smc) {
        /* R-hat and ESS need chains: SMC's particles are one weighted population */
        printf("SMC: %.1f s\n", tm.smc_s);
        return ok;
    }
    size_t div = 0;
    for (size_t c = 0; c < vbt_fit_n_chains(f); c++)
        div += vbt_fit_nuts_info(f)[c].divergences;
    CHECK(t.max_rhat < 1.01, "R-hat < 1.01 for every parameter (max %.4f, %s)", t.max_rhat,
          vbt_vep_param_name(vbt_fit_model(f), t.worst));
    printf("min bulk ESS %.0f, divergences %zu, MAP %.1f s + NUTS %.1f s = %.1f s\n", t.min_ess,
           div, tm.map_s, tm.wall_s - tm.map_s, tm.wall_s);
    return ok;
}

int main(int argc, char **argv)
{
    vbt_fit_opts o;
    patient pt;
    memset(&pt, 0, sizeof pt);
    int rc = fit_opts(argc, argv, &o);
    if (rc || (rc = patient_make(argc, argv, o.seed, &pt))) {
        patient_free(&pt);
        return rc;
    }
    int smc = !strcmp(o.sampler->name, "smc");
    vbt_fit *f = NULL;
    vbt_msg msg;
    vbt_array gain = {.data = pt.G, .ndim = 2, .shape = {pt.ns, pt.n}, .size = pt.ns * pt.n};
    vbt_array data = {.data = pt.Y, .ndim = 2, .shape = {NT, pt.ns}, .size = NT * pt.ns};
    if (vbt_fit_alloc(&f, &pt.conn, &gain, &data, &pt.priors, &o, &msg) ||
        vbt_fit_run(f, &msg)) {
        fprintf(stderr, "validate_recovery: %s\n", msg.text);
        vbt_fit_free(f);
        patient_free(&pt);
        return 1;
    }
    print_run(f, &o, smc);
    int ok = report(&pt, f, smc);
    vbt_fit_free(f);
    patient_free(&pt);
    return ok ? 0 : 1;
}
