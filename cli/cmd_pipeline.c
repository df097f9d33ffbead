/* cmd_pipeline.c -- `vbt pipeline PATIENT -o OUTDIR`: from a patient folder to
 * an epileptogenic-zone map, propagation, virtual surgery and a report.
 *
 * Steps, each into its own folder of OUTDIR, with the outputs of the vbt command named:
 *   gain      vbt gain --method volume (PATIENT/parcellation.nii.gz) or centre, for
 *             the contacts of the BIDS electrodes file
 *   features  vbt seeg features (the VEP feature of the seizure)
 *   fit       vbt fit (the Virtual Epileptic Patient's model)
 *   predict   vbt predict (propagation over the posterior draws)
 *   surgery   vbt surgery (PATIENT/resections.txt, one resection a line, and --plan)
 * then report.html, the figures as SVG files (figures/) and results.json.  A step whose inputs
 * (SHA-256) and arguments are those of its last completed run is skipped, so
 * a second run does nothing and an interrupted run resumes where it stopped;
 * each step's folder appears whole or not at all.  The pipeline itself is
 * clinical/'s vbt_pipeline_run (vbt_pipeline.h): this file parses the
 * options, fills vbt_pipeline_opts and prints the progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cli.h"
#include "vbt_patient.h"
#include "vbt_pipeline.h"

static const cli_argument args[] = {
    {"PATIENT", CLI_FILE_IN,
     "patient folder: connectome.zip, a BIDS iEEG tree sub-*/ses-*/ieeg/ with the seizure "
     "recording (EDF), channels.tsv, events.tsv (onset), electrodes.tsv + coordsystem.json; "
     "optional resections.txt (one candidate resection a line: labels or indices), "
     "spare.txt (regions never resected) and prior.json (vbt fit's priors, e.g. a clinical "
     "EZ hypothesis; default: the pipeline's, docs/pipeline.md); see README"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUTDIR",
     .doc = "output folder (created; kept between runs so that steps can be skipped)",
     .required = 1},
    {.name = "method", .kind = CLI_TEXT, .metavar = "M", .def = "nuts",
     .choices = "map|laplace|nuts", .doc = "inference method of the fit step"},
    {.name = "points", .kind = CLI_INT, .metavar = "N", .def = "100", .min = 10, .max = 10000,
     .doc = "time points of the fitted SEEG feature"},
    {.name = "target", .kind = CLI_FLOAT, .metavar = "P", .def = "0.9", .min = 0, .max = 1,
     .doc = "probability of seizure freedom the resection plan must reach"},
    {.name = "task", .kind = CLI_TEXT, .metavar = "LABEL",
     .doc = "BIDS task of the recording to fit, when the patient has several *_ieeg.edf "
            "(several are refused, listed, unless --task/--run pick one)"},
    {.name = "run", .kind = CLI_TEXT, .metavar = "LABEL",
     .doc = "BIDS run of the recording to fit (see --task)"},
    {.name = "seizure", .kind = CLI_TEXT, .metavar = "N",
     .doc = "which seizure onset of the recording's events to fit (1-based), when it marks "
            "several (refused, listed, otherwise); 'all' is refused: the joint fit of several "
            "seizures is 'vbt twin'"},
    {.name = "onset", .kind = CLI_FLOAT, .metavar = "S", .min = 0, .max = 1e9,
     .doc = "seizure onset in seconds from the recording's start, for a recording whose "
            "events mark none (without it such a recording is refused)"},
    {.name = "offset", .kind = CLI_FLOAT, .metavar = "S", .min = 0, .max = 1e9,
     .doc = "seizure offset in seconds, with --onset (default: the end of the recording)"},
    {.name = "allow-untrusted", .kind = CLI_FLAG,
     .doc = "exit 0 even when the fit's verdict is 'not trustworthy' (otherwise exit 3 once "
            "every output is written)"},
};

/* Exit status of a complete run whose verdict is "not trustworthy". */
enum { EXIT_UNTRUSTED = 3 };

static int given(const cli_parsed *p, const char *name)
{
    for (size_t i = 0; i < p->cmd->n_opts; i++)
        if (!strcmp(p->cmd->opts[i].name, name))
            return p->values[i] != NULL;
    return 0;
}

/* The verdict as the last lines on stderr (not with --quiet). */
static void print_verdict(const cli_parsed *p, const vbt_verdict *v)
{
    if (p->common.quiet)
        return;
    fflush(stdout); /* the verdict comes last */
    size_t nf = vbt_verdict_n_failed(v);
    if (v->trustworthy)
        fprintf(stderr, "verdict: trustworthy (%zu checks passed)\n", v->n_checks);
    else
        fprintf(stderr, "verdict: NOT TRUSTWORTHY (%zu of %zu checks failed)%s\n", nf,
                v->n_checks, v->point_estimate ? ", point estimate only" : "");
    for (size_t i = 0; i < nf; i++) {
        const vbt_check *c = vbt_verdict_failed(v, i);
        fprintf(stderr, "  * %s: %s\n", c->name, c->reason);
    }
}

/* "pipeline: gain      running" / "up to date", as the steps start or are
 * skipped, and the fit's warnings. */
static void progress(void *ctx, vbt_pipeline_step step, double fraction, const char *text)
{
    /* A step that reports its fraction (the fit's sampler) gets a bar, or
     * log lines when stderr is not a terminal.  The library serialises the
     * calls. */
    static cli_progress bar;
    static int bar_on;
    int running = !strcmp(text, "running");
    if (bar_on && (running || !strcmp(text, "done") || !strcmp(text, "up to date"))) {
        cli_progress_end(&bar);
        bar_on = 0;
    }
    if (!strncmp(text, "WARNING: ", 9))
        cli_error(ctx, "%s", text);
    else if (step != VBT_PIPELINE_REPORT && (running || !strcmp(text, "up to date")))
        cli_info(ctx, "pipeline: %-9s %s", vbt_pipeline_step_name(step), text);
    else if (!strcmp(text, "nuts") && fraction > 0) {
        if (!bar_on)
            cli_progress_begin(&bar, ctx, "pipeline: fit nuts");
        bar_on = 1;
        cli_progress_update(&bar, fraction, NULL);
    }
}

static int run(const cli_parsed *p)
{
    const char *out = cli_str(p, "output");
    vbt_patient *pat;
    vbt_msg msg;
    if (vbt_patient_load(&pat, p->args[0], &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    vbt_pipeline_opts o;
    vbt_pipeline_opts_default(&o);
    o.outdir = out;
    o.fit.method = cli_str(p, "method");
    o.fit.points = (size_t)cli_float(p, "points");
    o.target = cli_float(p, "target");
    o.seed = p->common.seed_given ? p->common.seed : 42;
    o.threads = p->common.threads;
    o.task = given(p, "task") ? cli_str(p, "task") : NULL;
    o.run = given(p, "run") ? cli_str(p, "run") : NULL;
    if (given(p, "onset"))
        o.onset_s = cli_float(p, "onset");
    if (given(p, "offset")) {
        if (!given(p, "onset")) {
            cli_error(p, "--offset needs --onset");
            vbt_patient_free(pat);
            return CLI_USAGE;
        }
        o.offset_s = cli_float(p, "offset");
    }
    if (given(p, "seizure")) {
        const char *sz = cli_str(p, "seizure");
        char *end;
        unsigned long k = strtoul(sz, &end, 10);
        if (!strcmp(sz, "all")) {
            cli_error(p, "--seizure all: vbt pipeline fits one seizure; for the joint fit "
                         "of several, use 'vbt twin init' then 'vbt twin update' per recording "
                         "(fitting/vbt_vep_multi.h), or fit one here with --seizure N");
            vbt_patient_free(pat);
            return CLI_ERROR;
        }
        if (end == sz || *end || k == 0 || sz[0] == '-') {
            cli_error(p, "--seizure: expected a seizure number (1, 2, ...) or 'all'");
            vbt_patient_free(pat);
            return CLI_USAGE;
        }
        o.seizure = (size_t)k;
    }
    o.progress = progress;
    o.progress_ctx = (void *)p;
    o.cancel = &cli_interrupted; /* Ctrl-C: the step in progress writes nothing */
    cli_install_signal_handlers();
    vbt_pipeline_result res;
    openblas_set_num_threads(1); /* as vbt fit, predict and surgery: the threads are ours */
    /* One run at a time into OUT: a second is refused, naming the first. */
    vbt_dirlock *lock;
    int rc = vbt_dirlock_acquire(&lock, out, &msg);
    if (!rc)
        rc = vbt_pipeline_run(pat, &o, &res, &msg);
    vbt_dirlock_release(lock);
    vbt_patient_free(pat);
    if (rc) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    cli_info(p, "pipeline: %d step(s) run, the others were up to date", res.steps_run);
    printf("report: %s/report.html\nresults: %s/results.json\n", out, out);
    if (!res.has_verdict)
        return CLI_OK;
    print_verdict(p, &res.verdict);
    return res.verdict.trustworthy || cli_flag(p, "allow-untrusted") ? CLI_OK : EXIT_UNTRUSTED;
}

const cli_command cli_cmd_pipeline = {
    .name = "pipeline",
    .synopsis = "from a patient folder to an EZ map, propagation, virtual surgery and a report",
    .description =
        "Runs, in OUTDIR, the gain matrix of the patient's SEEG contacts (vbt gain), the SEEG "
        "feature of the seizure (vbt seeg features), the Bayesian fit of the Virtual Epileptic "
        "Patient (vbt fit), seizure propagation over the posterior draws (vbt predict) and "
        "virtual surgery with a resection plan (vbt surgery), then writes report.html (one "
        "self-contained page with every figure), figures/*.svg and results.json (schema "
        "vbt.results/1).  A step whose inputs and arguments have not changed since it last "
        "completed is skipped: a second run does nothing, an interrupted run resumes.\n\n"
        "It refuses to guess: a recording whose events mark no seizure onset (no events.tsv, "
        "no onset annotation, or no trial_type it recognises) is an error naming the file "
        "unless --onset gives one; several recordings or several onsets are errors listing "
        "them unless --task/--run or --seizure picks one.\n\n"
        "The fit's verdict (R-hat, ESS, divergences, E-BFMI, stuck chains, agreement of the "
        "MAP modes, posterior-predictive coverage, prior-data conflict; a MAP fit is a point "
        "estimate only) is written to results.json and printed as the last lines on stderr.  "
        "Exit status: 0 trustworthy, 1 error, 2 usage error, 3 outputs complete but the "
        "verdict is 'not trustworthy' (0 with --allow-untrusted).",
    .args = args,
    .n_args = 1,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = NULL,
    .run = run,
};
