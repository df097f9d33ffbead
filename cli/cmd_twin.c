/* cmd_twin.c -- `vbt twin init|update|report|refit`: the patient's twin
 * (clinical/vbt_twin.h, docs/twin.md), a folder whose posterior of the
 * Virtual Epileptic Patient is updated as recordings arrive. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cli.h"
#include "vbt.h"
#include "vbt_twin.h"

static const cli_argument args[] = {
    {"ACTION", CLI_TEXT, "init, update, report or refit"},
    {"PATH", CLI_FILE_IN, "init: the patient folder (as for vbt pipeline); update, report, "
                          "refit: the twin folder"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "TWIN",
     .applies = "init,report",
     .doc = "init: the twin folder to create (must not exist); report: write the TSV table "
            "there instead of standard output", .required = 0},
    {.name = "recording", .kind = CLI_FILE_IN, .metavar = "R.edf", .applies = "update",
     .doc = "the new recording (EDF/BDF/BrainVision/GDF ...; a BIDS *_ieeg.edf brings its "
            "events.tsv and channels.tsv)", .required = 1},
    {.name = "events", .kind = CLI_FILE_IN, .metavar = "E.tsv", .applies = "update",
     .doc = "events TSV (onset, duration, trial_type): the first row whose trial_type names a "
            "seizure or an onset gives the seizure; default: the BIDS events.tsv beside the "
            "recording"},
    {.name = "html", .kind = CLI_FILE_OUT, .metavar = "REPORT.html", .applies = "report",
     .doc = "also write the report as an HTML page with an SVG of P(EZ) per region over the "
            "versions"},
    {.name = "particles", .kind = CLI_INT, .metavar = "N", .def = "512", .min = 16,
     .max = 100000, .applies = "init", .doc = "SMC particles (kept by every update)"},
    {.name = "smc-moves", .kind = CLI_INT, .metavar = "N", .def = "5", .min = 1, .max = 1000,
     .applies = "init", .doc = "HMC moves per particle per tempering step"},
    {.name = "start", .kind = CLI_TEXT, .metavar = "FROM", .def = "staged",
     .choices = "staged|map|latest", .applies = "refit",
     .doc = "where the joint mode search starts: staged, the first seizure's MAP and five "
            "starts from that seizure's posterior (its SMC), the mode of largest Laplace "
            "log mass kept; map, the first seizure's MAP alone; latest, the latest "
            "version's particles (the best of their mean and each particle), to ask "
            "whether the twin's mode is the one a joint fit finds. Either way the mode's "
            "joint log posterior and Laplace log mass are printed, so that two refits "
            "compare their modes with the same code"},
    {.name = "collapse", .kind = CLI_FLOAT, .metavar = "F", .def = "0.01", .min = 0, .max = 1,
     .applies = "update",
     .doc = "report a collapse when the reweighting ESS falls below this fraction of the "
            "particles"},
};

static void on_progress(void *ctx, const char *text)
{
    cli_info((const cli_parsed *)ctx, "%s", text);
}

static void setup(const cli_parsed *p, vbt_twin_opts *o)
{
    vbt_twin_opts_default(o);
    if (p->common.seed_given)
        o->seed = p->common.seed;
    o->threads = p->common.threads > 0 ? p->common.threads : 1;
    o->argc = p->argc;
    o->argv = p->argv;
    o->progress = on_progress;
    o->progress_ctx = (void *)p;
    openblas_set_num_threads(1); /* the threads are the sampler's */
}

static int run_init(const cli_parsed *p)
{
    const char *out = cli_str(p, "output");
    if (!out) {
        cli_error(p, "init needs -o TWIN, the twin folder to create");
        return CLI_USAGE;
    }
    vbt_twin_opts o;
    setup(p, &o);
    o.particles = (size_t)cli_float(p, "particles");
    o.moves = (size_t)cli_float(p, "smc-moves");
    vbt_twin_result r;
    vbt_msg msg;
    if (vbt_twin_init(p->args[1], out, &o, &r, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    double *pez = malloc((r.n_regions + 1) * sizeof *pez);
    size_t nr = 0;
    char ver[16];
    printf("twin %s: %s, 1 recording, %zu particles x %zu parameters, %zu tempering steps, "
           "CPU %.1f s\n", out, r.version, r.n_particles, r.n_params, r.n_steps, r.cpu_s);
    if (pez && !vbt_twin_p_ez(out, pez, r.n_regions, &nr, ver, &msg)) {
        size_t k = 0;
        for (size_t i = 0; i < nr; i++)
            k += pez[i] >= 0.5;
        printf("%zu region(s) at P(EZ) >= 0.5 (ezmap.tsv in %s/%s)\n", k, out, ver);
    }
    free(pez);
    return CLI_OK;
}

static void print_changes(const char *twin, const char *ver)
{
    char path[4200], *t = NULL;
    size_t len;
    vbt_msg msg;
    snprintf(path, sizeof path, "%s/%s/changes.tsv", twin, ver);
    if (vbt_file_read_all(path, &t, &len, 0, &msg))
        return;
    char *line = strtok(t, "\n");
    for (line = line ? strtok(NULL, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char *f[6], *s = line;
        size_t k = 0;
        for (; k < 6 && s; k++) {
            f[k] = s;
            s = strchr(s, '\t');
            if (s)
                *s++ = 0;
        }
        if (k == 6)
            printf("  %-28s %s -> %s  (P(EZ) %s -> %s)\n", f[1], f[2], f[3], f[4], f[5]);
    }
    free(t);
}

static int run_update(const cli_parsed *p)
{
    vbt_twin_opts o;
    setup(p, &o);
    o.collapse = cli_float(p, "collapse");
    vbt_twin_result r;
    vbt_msg msg;
    const char *twin = p->args[1];
    if (vbt_twin_update(twin, cli_str(p, "recording"), cli_str(p, "events"), &o, &r, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    printf("twin %s: %s, %zu recordings, %zu tempering steps, reweighting ESS %.1f of %zu "
           "(of the shared x0 and K: %.1f), CPU %.1f s\n", twin, r.version, r.n_recordings,
           r.n_steps, r.reweight_ess, r.n_particles, r.marginal_ess, r.cpu_s);
    if (isfinite(r.correction_ess))
        printf("surrogate tempering: %zu steps on the new seizure, then %zu on the exact joint "
               "(correction ESS %.1f of %zu)\n", r.surrogate_steps, r.exact_steps,
               r.correction_ess, r.n_particles);
    printf("feature variance explained: %.2f for this seizure, %.2f (median) for the earlier "
           "ones\n", r.r2_new, r.r2_old);
    if (r.collapsed)
        printf("WARNING: the reweighting collapsed (ESS of x0 and K %.1f of %zu particles, "
               "below %.0f %%): this seizure moves the excitabilities far beyond the twin's "
               "current uncertainty; the update tempered to it (%zu steps), check the EZ map\n",
               r.marginal_ess, r.n_particles, 100.0 * o.collapse, r.n_steps);
    if (r.unexplained)
        printf("WARNING: the model does not explain this seizure (it explains %.2f of its "
               "feature's variance against %.2f for the earlier ones): a seizure the model "
               "cannot explain with the excitabilities it shares with the others (another "
               "onset zone, another seizure type, or a recording problem); the EZ map is "
               "that of the earlier seizures\n", r.r2_new, r.r2_old);
    printf("%zu region(s) changed class%s\n", r.n_changed, r.n_changed ? ":" : "");
    print_changes(twin, r.version);
    return CLI_OK;
}

static int run_report(const cli_parsed *p)
{
    char *tsv = NULL, *html = NULL;
    vbt_msg msg;
    const char *hp = cli_str(p, "html"), *out = cli_str(p, "output");
    if (vbt_twin_report(p->args[1], &tsv, hp ? &html : NULL, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    int rc = CLI_OK;
    if (out) {
        if (vbt_file_write_atomic(out, tsv, strlen(tsv), p->common.force, &msg)) {
            cli_error(p, "%s", msg.text);
            rc = CLI_ERROR;
        }
    } else {
        fputs(tsv, stdout);
    }
    if (!rc && hp && vbt_file_write_atomic(hp, html, strlen(html), p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        rc = CLI_ERROR;
    }
    free(tsv);
    free(html);
    return rc;
}

static int run_refit(const cli_parsed *p)
{
    vbt_twin_opts o;
    setup(p, &o);
    const char *from = cli_str(p, "start");
    const int latest = from && !strcmp(from, "latest");
    o.refit_start = latest                           ? VBT_TWIN_START_LATEST
                    : from && !strcmp(from, "map") ? VBT_TWIN_START_MAP
                                                   : VBT_TWIN_START_STAGED;
    const char *twin = p->args[1];
    size_t nr = 0;
    char ver[16];
    vbt_msg msg;
    double *cur = NULL, *ref = NULL, *xm = NULL, *xs = NULL;
    if (vbt_twin_p_ez(twin, NULL, 0, &nr, ver, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    cur = malloc((nr + 1) * sizeof *cur);
    ref = malloc((nr + 1) * sizeof *ref);
    xm = malloc((nr + 1) * sizeof *xm);
    xs = malloc((nr + 1) * sizeof *xs);
    vbt_twin_result r;
    int rc = CLI_ERROR;
    if (!cur || !ref || !xm || !xs) {
        cli_error(p, "out of memory");
        goto out;
    }
    if (vbt_twin_p_ez(twin, cur, nr, &nr, ver, &msg) || vbt_twin_refit(twin, &o, ref, xm, xs, &r, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    double mx = 0;
    size_t arg = 0;
    for (size_t i = 0; i < nr; i++)
        if (fabs(cur[i] - ref[i]) > mx) {
            mx = fabs(cur[i] - ref[i]);
            arg = i;
        }
    printf("joint refit of %zu recording%s (%s, Laplace, SMC): %zu tempering steps, CPU %.1f s "
           "(sampling %.1f s)\nlargest |P(EZ) %s - P(EZ) joint refit| = %.3f (region %zu)\n",
           r.n_recordings, r.n_recordings == 1 ? "" : "s",
           latest ? "Newton from the latest version" : r.n_starts ? "staged search" : "MAP",
           r.n_steps,
           r.cpu_s, r.smc_cpu_s, ver, mx, arg);
    for (size_t i = 0; i < nr; i++)
        if (fabs(cur[i] - ref[i]) > 0.05)
            printf("  region %zu: P(EZ) %s %.3f, joint refit %.3f\n", i, ver, cur[i], ref[i]);
    /* the refit's EZ candidates: what two refits of different starts compare */
    for (size_t i = 0; i < nr; i++)
        if (cur[i] >= 0.05 || ref[i] >= 0.05)
            printf("  EZ candidate region %zu: P(EZ) %s %.3f, joint refit %.3f, refit's x0 "
                   "%.4f (sd %.4f)\n", i, ver, cur[i], ref[i], xm[i], xs[i]);
    /* against the sum of the versions' log p(y_k | earlier): which fit found more mass */
    printf("joint refit's log evidence log p(y_1..y_%zu): %.2f\n", r.n_recordings,
           r.log_evidence);
    /* the mode the refit started from, by the same code whatever the start:
     * two refits' modes compare by these */
    char where[64] = "the first seizure's MAP";
    if (r.n_starts && r.best_start == 1)
        snprintf(where, sizeof where, "the first seizure's posterior mean");
    else if (r.n_starts && r.best_start > 1)
        snprintf(where, sizeof where, "a particle of the first seizure's posterior");
    else if (latest && r.start_index >= 0)
        snprintf(where, sizeof where, "%s's particle %ld", ver, r.start_index);
    else if (latest)
        snprintf(where, sizeof where, "%s's particles' mean", ver);
    printf("joint mode (Newton from %s, %zu of at most %zu steps): log posterior %.2f at the "
           "start, %.2f at the mode, Newton decrement %.3g, ridge %.3g; Laplace log mass "
           "%.2f\n", where, r.newton_steps, r.newton_cap, r.mode_start_lp, r.mode_lp,
           r.mode_decrement, r.mode_ridge, r.mode_log_mass);
    if (mx > 0.05 && !latest)
        /* a disagreement may be the refit's search, not the updates (docs/twin.md:
         * sub-HUP150, whose updates hold a mode 3 431 nats heavier than the
         * staged refit's): the same-code comparison of the two modes */
        printf("the refit and %s disagree: `vbt twin refit --start latest` finds the mode of "
               "%s's particles by the same code; the larger Laplace log mass is the mode that "
               "holds more of the joint posterior\n", ver, ver);
    if (r.n_starts) {
        /* the staged search's starts: which modes it found, by mass */
        printf("staged search, Laplace log mass at the end of each start (MAP, the first "
               "seizure's posterior mean, %zu of its particles):", r.n_starts - 2);
        for (size_t k = 0; k < r.n_starts; k++)
            printf(" %.2f%s", r.start_log_mass[k], (long)k == r.best_start ? "*" : "");
        printf("\n");
    }
    rc = CLI_OK;
out:
    free(cur);
    free(ref);
    free(xm);
    free(xs);
    return rc;
}

static const cli_subcommand actions[] = {
    {"init", run_init},
    {"update", run_update},
    {"report", run_report},
    {"refit", run_refit},
};

static const char *const refs[] = {
    "Del Moral, Doucet & Jasra (2006) Sequential Monte Carlo samplers, JRSS B 68:411",
    "Chopin (2002) A sequential particle filter method for static models, Biometrika 89:539",
    "Hashemi et al. (2020) The Bayesian Virtual Epileptic Patient, NeuroImage 217:116839",
    NULL,
};

const cli_command cli_cmd_twin = {
    .name = "twin",
    .synopsis = "the patient's twin: a posterior updated as recordings arrive",
    .description =
        "init: fits the patient's first seizure (the pipeline's gain and feature, SMC from "
        "the prior) and creates TWIN with the model (connectome, gain, priors, settings) and "
        "version v0001 (particles, EZ map, the recording's SHA-256).\n\n"
        "update: conditions the latest version on one more seizure by SMC from its particles "
        "(the new seizure's own parameters from a Laplace proposal, then tempering with HMC "
        "moves), which gives the joint posterior of every seizure so far; writes a new "
        "version, keeps the old ones, and prints the regions whose class changed and the "
        "reweighting ESS (with a warning when it collapses).  Refuses a recording already in "
        "the twin (same SHA-256), one whose contacts are not the twin's, and one whose "
        "sampling rate cannot give the twin's feature.  A killed update leaves the previous "
        "version intact; the next update removes what it left.\n\n"
        "report: the EZ map over the versions (TSV; --html for a page with an SVG).\n\n"
        "refit: the joint fit of every recording of the latest version from the prior, to "
        "compare with the updates (P(EZ) and CPU time); writes nothing.  It prints its SMC "
        "log evidence and, for the joint mode it tempered from, the joint log posterior and "
        "the Laplace log mass.  Its mode search (--start staged) runs Newton from the first "
        "seizure's MAP and from five points of that seizure's posterior (its SMC: the path "
        "the updates take) and keeps the mode of largest Laplace mass: the joint posterior "
        "of several seizures can have separate modes, and Newton from the MAP alone misses "
        "the heavier one on the sample patient.  --start map is that MAP start alone; "
        "--start latest starts from the latest version's particles instead (the rest "
        "unchanged): is the twin's mode the one a joint fit finds, and which of two holds "
        "more mass?",
    .args = args,
    .n_args = 2,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = refs,
    .run = cli_run_subcommand,
    .subcommands = actions,
    .n_subcommands = sizeof actions / sizeof actions[0],
};
