/* cmd_cohort.c -- `vbt cohort summarize DIR -o COHORT.csv`: one row per
 * patient from the results.json (schema vbt.results/1) that `vbt pipeline`
 * writes, for trial analyses across hundreds of patients; `vbt cohort run
 * DATASET -o OUT`: every subject of a BIDS-iEEG dataset through the
 * pipeline on threads, resumable, scored against the clinical labels
 * (vbt_cohort.h, docs/cohort.md). */
#include <dirent.h>
#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>

#include "cli.h"
#include "cx_cli.h"
#include "vbt.h"
#include "vbt_cohort.h"
#include "vbt_cohort_out.h"
#include "vbt_cohort_sched.h"

static const cli_argument args[] = {
    {"ACTION", CLI_TEXT, "summarize or run"},
    {"DIR", CLI_FILE_IN,
     "summarize: a pipeline output folder, or a folder whose sub-folders are pipeline "
     "outputs; run: a BIDS-iEEG dataset (participants.tsv, sub-*/ses-*/ieeg/)"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUT",
     .doc = "summarize: the table to write (COHORT.csv), with COHORT.json (provenance: every "
            "results.json read, with SHA-256) beside it; run: the output folder (kept between "
            "runs: finished subjects are skipped, an interrupted one resumes), where cohort.csv, "
            "cohort.html, derivatives/vbt and cohort.json (provenance: participants.tsv and the "
            "atlas with SHA-256, the settings, the subjects, the summary) are written",
     .required = 1},
    {.name = "subjects", .kind = CLI_TEXT, .metavar = "IDS", .applies = "run",
     .doc = "only these subjects (comma list, with or without sub-); default: every one"},
    {.name = "jobs", .short_name = 'j', .kind = CLI_INT, .metavar = "N", .def = "1", .min = 1,
     .max = 256, .applies = "run", .doc = "tasks run at once on threads: subjects, or with more jobs than subjects also the "
            "chains of each subject's fit (the same output either way)"},
    {.name = "atlas", .kind = CLI_FILE_IN, .metavar = "DIR", .def = "data-samples",
     .applies = "run",
     .doc = "folder of the atlas for subjects without imaging: connectivity_84_desikan.zip, "
            "neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz, neuroparc/Desikan.csv, "
            "desikan70_to_dk84.tsv"},
    {.name = "method", .kind = CLI_TEXT, .metavar = "M", .def = "nuts",
     .choices = "map|laplace|nuts", .applies = "run", .doc = "inference method of the fit step"},
    {.name = "points", .kind = CLI_INT, .metavar = "N", .def = "100", .min = 10, .max = 10000,
     .applies = "run", .doc = "time points of the fitted SEEG feature"},
};

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One patient's row; 0, or -1 with a message on a malformed file. */
static int summarize(const cli_parsed *p, const char *path, vbt_textbuf *b)
{
    char *text;
    size_t len;
    vbt_msg msg;
    if (vbt_file_read_all(path, &text, &len, 0, &msg)) {
        cli_error(p, "%s", msg.text);
        return -1;
    }
    cJSON *r = cJSON_Parse(text);
    free(text);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(r, "schema");
    if (!cJSON_IsString(schema) || strncmp(schema->valuestring, "vbt.results/", 12)) {
        cli_error(p, "'%s': not a vbt results.json (schema vbt.results/1)", path);
        cJSON_Delete(r);
        return -1;
    }
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(r, "patient");
    const cJSON *meth = cJSON_GetObjectItemCaseSensitive(r, "method");
    vbt_textbuf_label(b, cJSON_IsString(pat) ? pat->valuestring : "");
    vbt_textbuf_printf(b, ",");
    vbt_textbuf_label(b, path);
    vbt_textbuf_printf(b, ",");
    vbt_textbuf_label(b, cJSON_IsString(meth) ? meth->valuestring : "");
    /* EZ and PZ regions at posterior probability above 0.5 */
    vbt_textbuf ez = {0}, pz = {0};
    size_t n_ez = 0, n_pz = 0, n_reg = 0;
    const cJSON *regs = cJSON_GetObjectItemCaseSensitive(r, "regions");
    for (const cJSON *it = regs ? regs->child : NULL; it; it = it->next, n_reg++) {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
        const char *l = cJSON_IsString(lab) ? lab->valuestring : "?";
        /* a MAP fit gives no probabilities: its regions' class (results.json "class") */
        const cJSON *pe = cJSON_GetObjectItemCaseSensitive(it, "p_ez"),
                    *cl = cJSON_GetObjectItemCaseSensitive(it, "class");
        int point = cJSON_IsNull(pe) && cJSON_IsString(cl);
        if (point ? !strcmp(cl->valuestring, "EZ") : num(it, "p_ez") > 0.5) {
            vbt_textbuf_printf(&ez, "%s%s", n_ez++ ? ";" : "", l);
        } else if (point ? !strcmp(cl->valuestring, "PZ") : num(it, "p_pz") > 0.5) {
            vbt_textbuf_printf(&pz, "%s%s", n_pz++ ? ";" : "", l);
        }
    }
    vbt_textbuf_printf(b, ",%zu,%zu,", n_reg, n_ez);
    vbt_textbuf_label(b, ez.s ? ez.s : "");
    vbt_textbuf_printf(b, ",%zu,", n_pz);
    vbt_textbuf_label(b, pz.s ? pz.s : "");
    free(ez.s);
    free(pz.s);
    /* the resection plan */
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(r, "plan");
    vbt_textbuf pl = {0};
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(plan, "resect");
    size_t k = 0;
    for (const cJSON *it = rs ? rs->child : NULL; it; it = it->next, k++) {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
        vbt_textbuf_printf(&pl, "%s%s", k ? ";" : "", cJSON_IsString(lab) ? lab->valuestring : "?");
    }
    vbt_textbuf_printf(b, ",");
    vbt_textbuf_label(b, pl.s ? pl.s : "");
    free(pl.s);
    const cJSON *reached = cJSON_GetObjectItemCaseSensitive(plan, "reached");
    vbt_textbuf_printf(b, ",%.6g,%s", num(plan, "p_seizure_freedom"),
                       cJSON_IsBool(reached) ? (cJSON_IsTrue(reached) ? "true" : "false") : "");
    const cJSON *diag = cJSON_GetObjectItemCaseSensitive(r, "diagnostics");
    vbt_textbuf_printf(b, ",%.6g", num(diag, "psis_khat"));
    /* precision and recall of the EZ against the clinical hypothesis and of
     * EZ + PZ against a ground truth, when the pipeline had them */
    double hp = NAN, hr = NAN, tp = NAN, tr = NAN;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(r, "evaluation"), *e;
    cJSON_ArrayForEach(e, ev) {
        const cJSON *ag = cJSON_GetObjectItemCaseSensitive(e, "against");
        const cJSON *zo = cJSON_GetObjectItemCaseSensitive(e, "zone");
        if (!cJSON_IsString(ag) || !cJSON_IsString(zo))
            continue;
        if (!strcmp(ag->valuestring, "hypothesis.txt") && !strcmp(zo->valuestring, "EZ")) {
            hp = num(e, "precision");
            hr = num(e, "recall");
        } else if (!strcmp(ag->valuestring, "ground_truth.json") &&
                   !strcmp(zo->valuestring, "EZ+PZ")) {
            tp = num(e, "precision");
            tr = num(e, "recall");
        }
    }
    vbt_textbuf_printf(b, ",%.6g,%.6g,%.6g,%.6g", hp, hr, tp, tr);
    /* the verdict: trustworthy or not, and the failed checks' reasons */
    const cJSON *vd = cJSON_GetObjectItemCaseSensitive(r, "verdict");
    const cJSON *tw = cJSON_GetObjectItemCaseSensitive(vd, "trustworthy");
    vbt_textbuf_printf(b, ",%s,", cJSON_IsBool(tw) ? (cJSON_IsTrue(tw) ? "true" : "false") : "");
    vbt_textbuf why = {0};
    k = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(vd, "reasons"))
        if (cJSON_IsString(e))
            vbt_textbuf_printf(&why, "%s%s", k++ ? "; " : "", e->valuestring);
    vbt_textbuf_label(b, why.s ? why.s : "");
    free(why.s);
    vbt_textbuf_printf(b, "\n");
    cJSON_Delete(r);
    return 0;
}

static int run_summarize(const cli_parsed *p)
{
    const char *dir = p->args[1], *out = cli_str(p, "output");
    vbt_textbuf b = {0};
    vbt_textbuf_printf(
        &b, "patient,results,method,n_regions,n_ez,ez_regions,n_pz,pz_regions,plan,"
            "plan_p_seizure_freedom,plan_reached,psis_khat,hypothesis_precision,"
            "hypothesis_recall,truth_precision,truth_recall,trustworthy,verdict_reasons\n");
    char path[4200];
    size_t rows = 0;
    int rc = CLI_ERROR;
    char err[512];
    cJSON *prov = cli_provenance_new(p);
    snprintf(path, sizeof path, "%s/results.json", dir);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (summarize(p, path, &b))
            goto out;
        if (cli_provenance_add_input(prov, "results", path, err, sizeof err)) {
            cli_error(p, "%s", err);
            goto out;
        }
        rows++;
    } else {
        DIR *d = opendir(dir);
        struct dirent *e;
        char names[4096][256];
        size_t nn = 0;
        while (d && (e = readdir(d)) && nn < 4096)
            if (e->d_name[0] != '.')
                snprintf(names[nn++], sizeof names[0], "%s", e->d_name);
        if (d)
            closedir(d);
        qsort(names, nn, sizeof names[0], (int (*)(const void *, const void *))strcmp);
        for (size_t i = 0; i < nn; i++) {
            int k = snprintf(path, sizeof path, "%s/%s/results.json", dir, names[i]);
            if (k < 0 || (size_t)k >= sizeof path || stat(path, &st) != 0)
                continue;
            if (summarize(p, path, &b))
                goto out;
            if (cli_provenance_add_input(prov, names[i], path, err, sizeof err)) {
                cli_error(p, "%s", err);
                goto out;
            }
            rows++;
        }
    }
    if (rows == 0) {
        cli_error(p, "'%s': no results.json here or in its sub-folders", dir);
        goto out;
    }
    /* OUT.json beside the table: the results.json it read, with SHA-256;
     * both are checked before either is written */
    vbt_msg msg;
    char side[4200];
    cx_cli_sibling(out, ".json", side, sizeof side);
    const char *outs[] = {out, side};
    if (cx_cli_check_outputs(p, outs, 2))
        goto out;
    if (vbt_file_write_atomic(out, b.s, b.len, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    cJSON_AddNumberToObject(prov, "rows", (double)rows);
    if (cx_cli_write_json(p, side, prov, p->common.force))
        goto out;
    cli_info(p, "%zu patient(s) summarised", rows);
    printf("%s\n", out);
    rc = CLI_OK;
out:
    cJSON_Delete(prov);
    free(b.s);
    return rc;
}

/* ---- vbt cohort run -------------------------------------------------------------- */

typedef struct cohort_job {
    const cli_parsed *p;
    const vbt_cohort *c;
    const vbt_cohort_run_opts *o;
    const vbt_cohort_plan *plan; /* the tasks: subjects, or their parts */
    size_t n_todo, n_done, n_failed;
} cohort_job;

/* One task of the scheduler (threads, or MPI ranks under mpirun): a
 * subject, or a part of one (vbt_cohort_plan). */
static int cohort_task(void *ctx, size_t k, vbt_msg *msg)
{
    cohort_job *j = ctx;
    if (cli_interrupted) {
        snprintf(msg->text, sizeof msg->text, "interrupted");
        return VBT_EINVAL;
    }
    return vbt_cohort_task_run(j->c, &j->plan->tasks[k], j->o, msg);
}

/* A progress line per subject on stderr (also when it is not a terminal);
 * the scheduler calls it on rank 0, one call at a time, for every task:
 * the parts of a subject (its fit's chains) are not counted. */
static void cohort_progress(void *ud, size_t k, int status, const char *reason, int rank,
                            size_t n_done, size_t n)
{
    cohort_job *j = ud;
    const vbt_cohort_task *t = &j->plan->tasks[k];
    (void)n_done;
    (void)n;
    (void)rank;
    if (t->kind != VBT_COHORT_TASK_SUBJECT)
        return;
    const vbt_cohort_subject *s = &j->c->subjects[t->subject];
    j->n_done++;
    j->n_failed += status != 0;
    if (cli_interrupted || j->p->common.quiet)
        return;
    if (status)
        fprintf(stderr, "cohort: [%zu/%zu] sub-%s failed: %s\n", j->n_done, j->n_todo, s->id,
                reason);
    else
        fprintf(stderr, "cohort: [%zu/%zu] sub-%s done\n", j->n_done, j->n_todo, s->id);
    fflush(stderr);
}

static int atlas_path(char *buf, size_t n, const char *dir, const char *name)
{
    int k = snprintf(buf, n, "%s/%s", dir, name);
    struct stat st;
    return k < 0 || (size_t)k >= n || stat(buf, &st) != 0 ? -1 : 0;
}

static void put_stat(FILE *f, const char *name, const vbt_cohort_stat *st)
{
    if (isnan(st->value))
        printf("%-22s n/a (n = %zu)\n", name, st->n);
    else
        fprintf(f, "%-22s %.3f [%.3f, %.3f] (n = %zu)\n", name, st->value, st->lo, st->hi, st->n);
}

static void put_stat_json(cJSON *o, const char *name, const vbt_cohort_stat *st)
{
    cJSON *j = cJSON_AddObjectToObject(o, name);
    const double v[3] = {st->value, st->lo, st->hi};
    const char *k[3] = {"value", "lo", "hi"};
    for (int i = 0; i < 3; i++)
        if (isnan(v[i]))
            cJSON_AddNullToObject(j, k[i]);
        else
            cJSON_AddNumberToObject(j, k[i], v[i]);
    cJSON_AddNumberToObject(j, "n", (double)st->n);
}

/* OUT/cohort.json: the run's provenance (the dataset's participants table
 * and the atlas with SHA-256; each subject's steps keep their own), the
 * resolved settings, the subjects asked for and the summary printed. */
static int write_run_prov(const cli_parsed *p, const vbt_cohort *c, const char *out,
                          const vbt_cohort_run_opts *o, const size_t *todo, size_t n_todo,
                          size_t workers, const vbt_cohort_plan *plan,
                          const vbt_cohort_summary *sum, size_t n_deriv)
{
    cJSON *prov = cli_provenance_new(p);
    char path[4200], err[512];
    const struct {
        const char *role, *path;
    } atlas[] = {{"atlas.connectome", o->atlas.connectome},
                 {"atlas.parcellation", o->atlas.parcellation},
                 {"atlas.labels", o->atlas.labels},
                 {"atlas.names", o->atlas.names}};
    int rc = -1;
    const char *ds_files[] = {"participants.tsv", "dataset_description.json"};
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", c->root, ds_files[i]);
        if (stat(path, &st) == 0 &&
            cli_provenance_add_input(prov, ds_files[i], path, err, sizeof err))
            goto fail;
    }
    for (size_t i = 0; i < sizeof atlas / sizeof atlas[0]; i++)
        if (cli_provenance_add_input(prov, atlas[i].role, atlas[i].path, err, sizeof err))
            goto fail;
    cJSON_AddNumberToObject(prov, "seed", (double)o->pipeline.seed);
    cJSON *par = cJSON_AddObjectToObject(prov, "parameters");
    cJSON_AddStringToObject(par, "method", o->pipeline.fit.method ? o->pipeline.fit.method : "");
    cJSON_AddNumberToObject(par, "points", (double)o->pipeline.fit.points);
    cJSON_AddNumberToObject(par, "threads_per_task", (double)o->pipeline.threads);
    cJSON_AddNumberToObject(par, "workers", (double)workers);
    cJSON_AddNumberToObject(par, "tasks", (double)plan->n_tasks);
    cJSON_AddBoolToObject(par, "chains_apart", plan->n_tasks > n_todo);
    cJSON_AddNumberToObject(par, "ez_threshold", o->ez_threshold);
    cJSON *subs = cJSON_AddArrayToObject(prov, "subjects");
    for (size_t k = 0; k < n_todo; k++)
        cJSON_AddItemToArray(subs, cJSON_CreateString(c->subjects[todo[k]].id));
    cJSON *sj = cJSON_AddObjectToObject(prov, "summary");
    cJSON_AddNumberToObject(sj, "n_subjects", (double)sum->n_subjects);
    cJSON_AddNumberToObject(sj, "n_ok", (double)sum->n_ok);
    cJSON_AddNumberToObject(sj, "n_failed", (double)sum->n_failed);
    cJSON_AddNumberToObject(sj, "n_untrustworthy", (double)sum->n_untrustworthy);
    put_stat_json(sj, "f1_soz_free", &sum->f1_free);
    put_stat_json(sj, "f1_soz_not_free", &sum->f1_not_free);
    put_stat_json(sj, "auc_p_free_outcome", &sum->auc);
    cJSON *outs = cJSON_AddObjectToObject(prov, "outputs");
    cJSON_AddStringToObject(outs, "table", "cohort.csv");
    cJSON_AddStringToObject(outs, "report", "cohort.html");
    cJSON_AddStringToObject(outs, "derivatives", "derivatives/vbt");
    cJSON_AddNumberToObject(outs, "derivative_runs", (double)n_deriv);
    snprintf(path, sizeof path, "%s/cohort.json", out);
    /* rewritten by every run into the same folder, as cohort.csv is */
    rc = cx_cli_write_json(p, path, prov, 1);
    cJSON_Delete(prov);
    return rc;
fail:
    cli_error(p, "%s", err);
    cJSON_Delete(prov);
    return -1;
}

static int run_cohort(const cli_parsed *p)
{
    const char *ds = p->args[1], *out = cli_str(p, "output"), *atlas = cli_str(p, "atlas");
    vbt_msg msg;
    vbt_cohort *c = NULL;
    size_t *todo = NULL, n_todo = 0;
    vbt_cohort_row *rows = NULL;
    size_t n_rows = 0;
    int rc = CLI_ERROR, *status = NULL;
    vbt_cohort_scheduler *sch = NULL;
    vbt_cohort_plan *plan = NULL;
    char conn[4096], par[4096], lab[4096], names[4096], path[4200];
    if (atlas_path(conn, sizeof conn, atlas, "connectivity_84_desikan.zip") ||
        atlas_path(par, sizeof par, atlas, "neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz") ||
        atlas_path(lab, sizeof lab, atlas, "neuroparc/Desikan.csv") ||
        atlas_path(names, sizeof names, atlas, "desikan70_to_dk84.tsv")) {
        cli_error(p, "'%s': not an atlas folder (see --atlas)", atlas);
        return CLI_ERROR;
    }
    if (vbt_cohort_load(&c, ds, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    if (!(todo = malloc((c->n_subjects + 1) * sizeof *todo)))
        goto oom;
    const char *sel = cli_str(p, "subjects");
    if (sel) {
        char *copy = strdup(sel);
        if (!copy)
            goto oom;
        for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t;
             t = strtok_r(NULL, ", ", &save)) {
            long i = vbt_cohort_find(c, t);
            if (i < 0) {
                cli_error(p, "'%s': no subject '%s' in the dataset", ds, t);
                free(copy);
                goto out;
            }
            int dup = 0;
            for (size_t k = 0; k < n_todo; k++)
                dup |= todo[k] == (size_t)i;
            if (!dup)
                todo[n_todo++] = (size_t)i;
        }
        free(copy);
    } else {
        for (size_t i = 0; i < c->n_subjects; i++)
            todo[n_todo++] = i;
    }
    if (mkdir(out, 0777) && errno != EEXIST) {
        cli_error(p, "cannot create folder '%s': %s", out, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < c->n_notes; i++)
        cli_info(p, "cohort: note: %s", c->notes[i]);
    vbt_cohort_run_opts o;
    vbt_cohort_run_opts_default(&o);
    o.outdir = out;
    o.atlas.connectome = conn;
    o.atlas.parcellation = par;
    o.atlas.labels = lab;
    o.atlas.names = names;
    o.pipeline.fit.method = cli_str(p, "method");
    o.pipeline.fit.points = (size_t)cli_float(p, "points");
    o.pipeline.seed = p->common.seed_given ? p->common.seed : 42;
    o.pipeline.threads = p->common.threads;
    o.pipeline.cancel = &cli_interrupted;
    cli_install_signal_handlers();
    openblas_set_num_threads(1);
    long jobs = (long)cli_float(p, "jobs");
    cohort_job j = {.p = p, .c = c, .o = &o, .n_todo = n_todo};
    vbt_cohort_scheduler_opts sco;
    vbt_cohort_scheduler_opts_default(&sco);
    sco.n_threads = (size_t)jobs;
    sco.progress = cohort_progress;
    sco.userdata = &j;
    if (vbt_cohort_scheduler_alloc(&sch, &sco, &msg))
        goto msgfail;
    /* more workers than subjects: the fits' chains run apart (same bytes) */
    if (vbt_cohort_plan_alloc(&plan, c, todo, n_todo, &o,
                              vbt_cohort_scheduler_workers(sch) > n_todo, &msg))
        goto msgfail;
    j.plan = plan;
    if (!(status = calloc(plan->n_tasks + 1, sizeof *status)))
        goto oom;
    if (vbt_cohort_scheduler_run_deps(sch, plan->n_tasks, cohort_task, &j, plan->dep_start,
                                      plan->deps, status, NULL, &msg))
        goto msgfail;
    if (vbt_cohort_scheduler_rank(sch) != 0) {     /* rank 0 gathers and writes */
        rc = CLI_OK;
        goto out;
    }
    if (cli_interrupted) {
        cli_error(p, "interrupted: run the same command again to resume");
        goto out;
    }
    if (vbt_cohort_collect(c, out, &rows, &n_rows, &msg))
        goto msgfail;
    /* the table holds the subjects asked for, in dataset order */
    size_t w = 0;
    for (size_t r = 0; r < n_rows; r++) {
        long i = vbt_cohort_find(c, rows[r].subject);
        int keep = 0;
        for (size_t k = 0; k < n_todo; k++)
            keep |= i >= 0 && todo[k] == (size_t)i;
        if (keep)
            rows[w++] = rows[r];
    }
    n_rows = w;
    snprintf(path, sizeof path, "%s/cohort.csv", out);
    if (vbt_cohort_write_csv(path, rows, n_rows, &msg))
        goto msgfail;
    vbt_cohort_summary_opts so;
    vbt_cohort_summary_opts_default(&so);
    vbt_cohort_summary sum;
    if (vbt_cohort_summarise(rows, n_rows, &so, &sum, &msg))
        goto msgfail;
    printf("subjects: %zu (%zu ok, %zu failed, %zu fit(s) not trustworthy)\n", sum.n_subjects,
           sum.n_ok, sum.n_failed, sum.n_untrustworthy);
    put_stat(stdout, "F1 vs SOZ, free:", &sum.f1_free);
    put_stat(stdout, "F1 vs SOZ, not free:", &sum.f1_not_free);
    put_stat(stdout, "AUC P(free) vs outcome:", &sum.auc);
    snprintf(path, sizeof path, "%s/cohort.html", out);
    if (vbt_cohort_write_html(path, rows, n_rows, &sum, &msg))
        goto msgfail;
    size_t n_deriv = 0;
    if (vbt_cohort_write_derivatives(c, out, &o.atlas, o.ez_threshold, &n_deriv, &msg))
        goto msgfail;
    if (write_run_prov(p, c, out, &o, todo, n_todo, vbt_cohort_scheduler_workers(sch), plan,
                       &sum, n_deriv))
        goto out;
    printf("table: %s/cohort.csv, report: %s, BIDS derivatives: %s/derivatives/vbt (%zu runs)\n",
           out, path, out, n_deriv);
    rc = CLI_OK;
    goto out;
msgfail:
    cli_error(p, "%s", msg.text);
    goto out;
oom:
    cli_error(p, "out of memory");
out:
    free(rows);
    free(todo);
    free(status);
    vbt_cohort_plan_free(plan);
    vbt_cohort_free(c);
    vbt_cohort_scheduler_free(sch);   /* after rank 0 has written: MPI_Finalize */
    return rc;
}

static const cli_subcommand actions[] = {
    {"summarize", run_summarize},
    {"run", run_cohort},
};

const cli_command cli_cmd_cohort = {
    .name = "cohort",
    .synopsis = "run a BIDS-iEEG cohort through the pipeline, or gather pipeline results",
    .description =
        "summarize: reads DIR/results.json, or DIR/*/results.json for a cohort, and writes one "
        "CSV row per patient: the EZ and PZ regions at posterior probability above 0.5, the "
        "resection plan with its probability of seizure freedom and whether it reached the "
        "target, the fit's Pareto k, and the precision and recall of the EZ against the "
        "patient's clinical hypothesis (hypothesis.txt) and of EZ + PZ against a synthetic "
        "patient's ground truth (nan when absent).  Rows are in folder-name order.",
    .args = args,
    .n_args = 2,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .run = cli_run_subcommand,
    .subcommands = actions,
    .n_subcommands = sizeof actions / sizeof actions[0],
};
