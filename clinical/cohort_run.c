/* cohort_run.c -- one subject of a cohort through the pipeline on the atlas
 * (vbt_cohort_subject_run): each usable ictal run is staged as a patient
 * folder (vbt_patient.h) in OUT/sub-ID/RUN/input/ and run into OUT/sub-ID/RUN/.
 * Staged files are rewritten with the same bytes on a rerun, so the
 * pipeline's stamps match and finished steps are skipped: that is the
 * resume after a kill. */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "internal.h"
#include "vbt_text.h"
#include "vbt_cohort.h"
#include "vbt_fit.h"
#include "vbt_io.h"
#include "vbt_patient.h"
#include "vbt_pipeline.h"

/* snprintf for paths and messages whose truncation is harmless (a
 * truncated path fails to open and says so). */
static int fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(buf, n, f, ap);
    va_end(ap);
    return k;
}

void vbt_cohort_run_opts_default(vbt_cohort_run_opts *o)
{
    memset(o, 0, sizeof *o);
    vbt_pipeline_opts_default(&o->pipeline);
    o->atlas.radius_mm = 10;
    o->ez_threshold = 0.5;
}

static int mkdir_p(const char *path, vbt_msg *msg)
{
    char b[PATH_MAX];
    if (fmt(b, sizeof b, "%s", path) >= (int)sizeof b)
        return vbt__fail(msg, VBT_EINVAL, "path too long");
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(b, 0777) && errno != EEXIST)
                return vbt__fail(msg, VBT_EIO, "cannot create folder '%s': %s", b, strerror(errno));
            *p = '/';
        }
    if (mkdir(b, 0777) && errno != EEXIST)
        return vbt__fail(msg, VBT_EIO, "cannot create folder '%s': %s", b, strerror(errno));
    return VBT_OK;
}

/* A symbolic link at `link` to the absolute path of `target`, replaced when
 * it points elsewhere. */
static int link_to(const char *target, const char *link, vbt_msg *msg)
{
    char abs[PATH_MAX], cur[PATH_MAX];
    if (!realpath(target, abs))
        return vbt__fail(msg, VBT_EIO, "'%s': %s", target, strerror(errno));
    ssize_t n = readlink(link, cur, sizeof cur - 1);
    if (n >= 0) {
        cur[n] = '\0';
        if (strcmp(cur, abs) == 0)
            return VBT_OK;
        unlink(link);
    }
    if (symlink(abs, link))
        return vbt__fail(msg, VBT_EIO, "cannot link '%s': %s", link, strerror(errno));
    return VBT_OK;
}

static int tb_write(vbt_textbuf *b, const char *path, vbt_msg *msg)
{
    if (b->oom)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    /* same bytes: leave the file (and its time stamp) alone */
    char *old = NULL;
    size_t ol;
    vbt_msg m;
    int same = vbt_file_read_all(path, &old, &ol, 0, &m) == 0 && ol == b->len &&
               memcmp(old, b->s ? b->s : "", ol) == 0;
    free(old);
    return same ? VBT_OK : vbt_file_write_atomic(path, b->s ? b->s : "", b->len, 1, msg);
}

/* Comma list of the regions in set. */
static void region_list(vbt_textbuf *b, const vbt_cohort_localisation *l, const unsigned char *set)
{
    int first = 1;
    for (size_t r = 0; r < l->n_regions; r++)
        if (set[r]) {
            vbt_textbuf_printf(b, "%s%s", first ? "" : ",", l->region_names[r]);
            first = 0;
        }
}

/* Stage run r of subject s in dir (a patient folder); VBT_OK or a failure. */
static int stage(const vbt_cohort_subject *s, const vbt_cohort_run *r,
                 const vbt_cohort_localisation *l, const vbt_cohort_atlas *a, const char *dir,
                 vbt_msg *msg)
{
    char p[PATH_MAX], ieeg[PATH_MAX];
    int rc;
    if ((rc = mkdir_p(dir, msg)))
        return rc;
    fmt(p, sizeof p, "%s/connectome.zip", dir);
    if ((rc = link_to(a->connectome, p, msg)))
        return rc;
    if (a->parcellation) {
        fmt(p, sizeof p, "%s/parcellation.nii.gz", dir);
        if ((rc = link_to(a->parcellation, p, msg)))
            return rc;
        const char *ext = a->labels && strlen(a->labels) > 4 &&
                                  strcmp(a->labels + strlen(a->labels) - 4, ".tsv") == 0
                              ? "tsv" : "csv";
        fmt(p, sizeof p, "%s/parcellation_labels.%s", dir, ext);
        if ((rc = link_to(a->labels, p, msg)))
            return rc;
        if (a->names) {
            fmt(p, sizeof p, "%s/parcellation_names.tsv", dir);
            if ((rc = link_to(a->names, p, msg)))
                return rc;
        }
    }
    unsigned char *set = calloc(l->n_regions ? l->n_regions : 1, 1);
    if (!set)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    const vbt_cohort_label which[2] = {VBT_COHORT_SOZ, VBT_COHORT_RESECT};
    const char *file[2] = {"hypothesis.txt", "resections.txt"};
    for (int k = 0; k < 2 && !rc; k++) {
        vbt_textbuf b = {0};
        fmt(p, sizeof p, "%s/%s", dir, file[k]);
        if (vbt_cohort_region_set(l, r, which[k], set)) {
            vbt_textbuf_printf(
                &b, "# %s channels of the run, localised on the atlas (docs/cohort.md)\n",
                k ? "resect" : "soz");
            region_list(&b, l, set);
            vbt_textbuf_printf(&b, "\n");
            rc = tb_write(&b, p, msg);
        } else {
            unlink(p);
        }
        free(b.s);
    }
    free(set);
    if (rc)
        return rc;
    fmt(ieeg, sizeof ieeg, "%s/sub-%s/ses-%s/ieeg", dir, s->id, r->ses ? r->ses : "none");
    if ((rc = mkdir_p(ieeg, msg)))
        return rc;
    /* the run's file names without its ses entity when it had none */
    char base[PATH_MAX];
    fmt(base, sizeof base, "%s/sub-%s_%s%s", ieeg, s->id, r->ses ? "" : "ses-none_",
             r->name);
    const char *sext = strlen(r->edf) > 4 ? r->edf + strlen(r->edf) - 4 : ".edf";
    fmt(p, sizeof p, "%s_ieeg%s", base, sext);
    if ((rc = link_to(r->edf, p, msg)))
        return rc;
    /* electrodes in mm, only contacts with a position */
    vbt_textbuf e = {0};
    vbt_textbuf_printf(&e, "name\tx\ty\tz\n");
    for (size_t i = 0; i < s->n_contacts; i++)
        if (s->contacts[i].has_xyz)
            vbt_textbuf_printf(&e, "%s\t%.4f\t%.4f\t%.4f\n", s->contacts[i].name,
                               s->contacts[i].xyz_mm[0], s->contacts[i].xyz_mm[1],
                               s->contacts[i].xyz_mm[2]);
    char space[64];
    fmt(space, sizeof space, "%s", s->space[0] ? s->space : "MNI152NLin6ASym");
    fmt(p, sizeof p, "%s/sub-%s_space-%s_electrodes.tsv", ieeg, s->id, space);
    rc = tb_write(&e, p, msg);
    free(e.s);
    if (rc)
        return rc;
    vbt_textbuf cs = {0};
    vbt_textbuf_printf(
        &cs, "{\n  \"iEEGCoordinateSystem\": \"%s\",\n  \"iEEGCoordinateUnits\": \"mm\"\n}\n",
        space);
    fmt(p, sizeof p, "%s/sub-%s_space-%s_coordsystem.json", ieeg, s->id, space);
    rc = tb_write(&cs, p, msg);
    free(cs.s);
    if (rc)
        return rc;
    /* channels: a channel is bad when it is, or when it is not a depth/grid
     * channel with a localised contact (the gain has no row for it) */
    vbt_textbuf ch = {0};
    vbt_textbuf_printf(&ch, "name\ttype\tunits\tstatus\n");
    for (size_t i = 0; i < r->n_channels; i++) {
        const vbt_cohort_channel *c = &r->channels[i];
        long reg[2];
        size_t nr;
        vbt_cohort_channel_regions(l, c->name, reg, &nr);
        int has_pos = 0;
        for (size_t k = 0; k < s->n_contacts; k++)
            if (strcasecmp(s->contacts[k].name, c->name) == 0)
                has_pos = s->contacts[k].has_xyz;
        int good = !c->bad && has_pos &&
                   (strcasecmp(c->type, "SEEG") == 0 || strcasecmp(c->type, "ECOG") == 0);
        vbt_textbuf_printf(&ch, "%s\t%s\tuV\t%s\n", c->name, c->type, good ? "good" : "bad");
    }
    fmt(p, sizeof p, "%s_channels.tsv", base);
    rc = tb_write(&ch, p, msg);
    free(ch.s);
    if (rc)
        return rc;
    vbt_textbuf ev = {0};
    vbt_textbuf_printf(&ev, "onset\tduration\ttrial_type\n");
    if (isnan(r->offset_s))
        vbt_textbuf_printf(&ev, "%.6f\tn/a\tseizure onset\n", r->onset_s);
    else
        vbt_textbuf_printf(&ev, "%.6f\t%.6f\tseizure onset\n", r->onset_s,
                           r->offset_s - r->onset_s);
    fmt(p, sizeof p, "%s_events.tsv", base);
    rc = tb_write(&ev, p, msg);
    free(ev.s);
    return rc;
}

/* One line: newlines and tabs become blanks. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

/* Every "PREFIX/" in s removed, in place: messages name files relative to
 * OUT or to the dataset, so that the recorded reasons hold no absolute path
 * and do not depend on where OUT is. */
static void strip_prefix(char *s, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (!pl)
        return;
    for (char *p = s; (p = strstr(p, prefix));) {
        if (p[pl] != '/') {
            p += pl;
            continue;
        }
        memmove(p, p + pl + 1, strlen(p + pl + 1) + 1);
    }
}

static int write_subject_json(const char *path, const char *status, const char *reason,
                              double thr, cJSON *runs, vbt_msg *msg)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    cJSON_AddStringToObject(j, "schema", "vbt.cohort_subject/1");
    cJSON_AddStringToObject(j, "status", status);
    cJSON_AddStringToObject(j, "reason", reason);
    cJSON_AddNumberToObject(j, "ez_threshold", thr);
    cJSON_AddItemToObject(j, "runs", runs ? cJSON_Duplicate(runs, 1) : cJSON_CreateArray());
    char *t = cJSON_Print(j);
    cJSON_Delete(j);
    if (!t)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    size_t n = strlen(t);
    char *t2 = realloc(t, n + 2);
    if (!t2) {
        free(t);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    t2[n] = '\n';
    t2[n + 1] = '\0';
    int rc = vbt_file_write_atomic(path, t2, n + 1, 1, msg);
    free(t2);
    return rc;
}

/* Run r of subject s staged as a patient folder in OUT/sub-ID/RUN/input/
 * and loaded into *p; rdir gets OUT/sub-ID/RUN. */
static int open_run(const vbt_cohort_subject *s, const vbt_cohort_run *r,
                    const vbt_cohort_localisation *l, const vbt_cohort_run_opts *o, char *rdir,
                    size_t n, vbt_patient **p, vbt_msg *msg)
{
    char idir[PATH_MAX];
    fmt(rdir, n, "%s/sub-%s/%s", o->outdir, s->id, r->name);
    fmt(idir, sizeof idir, "%s/input", rdir);
    int rc = stage(s, r, l, &o->atlas, idir, msg);
    if (!rc)
        rc = vbt_patient_load(p, idir, msg);
    return rc;
}

/* A run that goes through the pipeline (has a signal and a seizure). */
static int fittable(const vbt_cohort_run *r)
{
    return !r->skip && r->has_signal;
}

int vbt_cohort_subject_run(const vbt_cohort *c, size_t i, const vbt_cohort_run_opts *o,
                           vbt_msg *msg)
{
    if (!c || !o || !o->outdir || i >= c->n_subjects || !o->atlas.connectome)
        return vbt__fail(msg, VBT_EINVAL,
                         "vbt_cohort_subject_run: NULL argument, no outdir or atlas connectome, "
                         "or subject out of range");
    const vbt_cohort_subject *s = &c->subjects[i];
    char sdir[PATH_MAX], done[PATH_MAX], rdir[PATH_MAX];
    fmt(sdir, sizeof sdir, "%s/sub-%s", o->outdir, s->id);
    fmt(done, sizeof done, "%s/subject.json", sdir);
    struct stat st;
    if (stat(done, &st) == 0)
        return VBT_OK;
    int rc = mkdir_p(sdir, msg);
    if (rc)
        return rc;
    char reason[VBT_MSG_LEN] = "";
    vbt_cohort_localisation *l = NULL;
    cJSON *runs = cJSON_CreateArray();
    size_t n_ok = 0, n_tried = 0;
    if (!runs)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    if (s->problem) {
        fmt(reason, sizeof reason, "%s", s->problem);
        rc = VBT_ENOTFOUND;
        goto record;
    }
    vbt_msg lm;
    if ((rc = vbt_cohort_localise(&l, s, &o->atlas, &lm))) {
        fmt(reason, sizeof reason, "atlas: %s", lm.text);
        goto record;
    }
    for (size_t k = 0; k < s->n_runs; k++) {
        const vbt_cohort_run *r = &s->runs[k];
        cJSON *rj = cJSON_CreateObject();
        if (!rj) {
            rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
            fmt(reason, sizeof reason, "out of memory");
            goto record;
        }
        cJSON_AddItemToArray(runs, rj);
        cJSON_AddStringToObject(rj, "run", r->name);
        char why[VBT_MSG_LEN] = "";
        if (r->skip)
            fmt(why, sizeof why, "%s", r->skip);
        else if (!r->has_signal)
            fmt(why, sizeof why, "no signal file %s", strrchr(r->edf, '/') + 1);
        if (why[0]) {
            /* interictal runs are not listed as skipped: they are not seizures */
            if (!r->ictal) {
                cJSON_DeleteItemFromArray(runs, cJSON_GetArraySize(runs) - 1);
                continue;
            }
            cJSON_AddStringToObject(rj, "status", "skipped");
            cJSON_AddStringToObject(rj, "reason", why);
            continue;
        }
        n_tried++;
        vbt_msg rm;
        vbt_patient *p = NULL;
        int rrc = open_run(s, r, l, o, rdir, sizeof rdir, &p, &rm);
        if (!rrc) {
            vbt_pipeline_opts po = o->pipeline;
            po.outdir = rdir;
            rrc = vbt_pipeline_run(p, &po, NULL, &rm);
        }
        vbt_patient_free(p);
        if (o->pipeline.cancel && *o->pipeline.cancel) {
            /* interrupted: nothing recorded, the next run resumes */
            cJSON_Delete(runs);
            vbt_cohort_localisation_free(l);
            return vbt__fail(msg, VBT_EINVAL, "interrupted");
        }
        if (rrc) {
            one_line(rm.text);
            strip_prefix(rm.text, o->outdir);
            strip_prefix(rm.text, c->root);
            cJSON_AddStringToObject(rj, "status", "failed");
            cJSON_AddStringToObject(rj, "reason", rm.text);
            if (!reason[0])
                fmt(reason, sizeof reason, "%s: %s", r->name, rm.text);
            continue;
        }
        cJSON_AddStringToObject(rj, "status", "ok");
        cJSON_AddStringToObject(rj, "reason", "");
        n_ok++;
    }
    if (n_ok == 0) {
        rc = VBT_EFORMAT;
        if (!reason[0])
            fmt(reason, sizeof reason, "no run with a signal and a seizure onset");
    } else {
        rc = VBT_OK;
        reason[0] = '\0';
    }
record:
    one_line(reason);
    strip_prefix(reason, o->outdir);
    strip_prefix(reason, c->root);
    {
        int wrc = write_subject_json(done, rc ? "failed" : "done", reason, o->ez_threshold, runs,
                                     msg);
        cJSON_Delete(runs);
        vbt_cohort_localisation_free(l);
        if (wrc)
            return wrc;
    }
    (void)n_tried;
    if (rc)
        return vbt__fail(msg, rc, "sub-%s: %s", s->id, reason);
    return VBT_OK;
}

/* ---- a subject's work apart: the fit's chains on several workers ---------------- */

/* The chains of the pipeline's fit: 0 for a method without chains. */
static size_t fit_chains(const vbt_cohort_run_opts *o)
{
    vbt_fit_opts fo;
    vbt_msg m;
    if (vbt_vep_pipeline_preset_fit_opts(&o->pipeline.fit, &fo, &m) ||
        strcmp(fo.sampler->name, "nuts"))
        return 0;
    return fo.chains;
}

static int subject_done(const vbt_cohort_run_opts *o, const vbt_cohort_subject *s)
{
    char done[PATH_MAX];
    struct stat st;
    fmt(done, sizeof done, "%s/sub-%s/subject.json", o->outdir, s->id);
    return stat(done, &st) == 0;
}

int vbt_cohort_plan_alloc(vbt_cohort_plan **out, const vbt_cohort *c, const size_t *subjects,
                          size_t n, const vbt_cohort_run_opts *o, int split, vbt_msg *msg)
{
    if (!out || !c || !o || (n && !subjects))
        return vbt__fail(msg, VBT_EINVAL, "cohort plan: NULL argument");
    *out = NULL;
    const size_t C = split ? fit_chains(o) : 0;
    size_t n_tasks = 0, n_deps = 0;
    for (size_t k = 0; k < n; k++) {
        if (subjects[k] >= c->n_subjects)
            return vbt__fail(msg, VBT_EINVAL, "cohort plan: subject %zu out of range",
                             subjects[k]);
        const vbt_cohort_subject *s = &c->subjects[subjects[k]];
        size_t R = 0;
        for (size_t r = 0; C && !s->problem && r < s->n_runs; r++)
            R += fittable(&s->runs[r]);
        /* prepare, R x C chains (each after prepare), the subject (after all) */
        n_tasks += R ? 2 + R * C : 1;
        n_deps += R ? R * C + 1 + R * C : 0;
    }
    vbt_cohort_plan *p = calloc(1, sizeof *p);
    if (p) {
        p->tasks = calloc(n_tasks + 1, sizeof *p->tasks);
        p->dep_start = calloc(n_tasks + 1, sizeof *p->dep_start);
        p->deps = calloc(n_deps + 1, sizeof *p->deps);
    }
    if (!p || !p->tasks || !p->dep_start || !p->deps) {
        vbt_cohort_plan_free(p);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    size_t t = 0, d = 0;
    for (size_t k = 0; k < n; k++) {
        const vbt_cohort_subject *s = &c->subjects[subjects[k]];
        const size_t first = t;
        for (size_t r = 0; C && !s->problem && r < s->n_runs; r++) {
            if (!fittable(&s->runs[r]))
                continue;
            if (t == first) {
                p->tasks[t] = (vbt_cohort_task){VBT_COHORT_TASK_PREPARE, subjects[k], 0, 0};
                p->dep_start[++t] = d;
            }
            for (size_t ch = 0; ch < C; ch++) {
                p->tasks[t] = (vbt_cohort_task){VBT_COHORT_TASK_CHAIN, subjects[k], r, ch};
                p->deps[d++] = first;
                p->dep_start[++t] = d;
            }
        }
        p->tasks[t] = (vbt_cohort_task){VBT_COHORT_TASK_SUBJECT, subjects[k], 0, 0};
        for (size_t e = first; e < t; e++)
            p->deps[d++] = e;
        p->dep_start[++t] = d;
    }
    p->n_tasks = t;
    *out = p;
    return VBT_OK;
}

void vbt_cohort_plan_free(vbt_cohort_plan *p)
{
    if (!p)
        return;
    free(p->tasks);
    free(p->dep_start);
    free(p->deps);
    free(p);
}

/* PREPARE: each fittable run up to its fit's MAP stage; CHAIN: one chain
 * of one run.  Nothing once the subject is finished; a failure here is
 * only a status: the subject's own task meets it again and records it. */
static int run_part(const vbt_cohort *c, const vbt_cohort_task *t, const vbt_cohort_run_opts *o,
                    vbt_msg *msg)
{
    const vbt_cohort_subject *s = &c->subjects[t->subject];
    if (subject_done(o, s))
        return VBT_OK;
    char rdir[PATH_MAX], ck[PATH_MAX + 32];
    if (t->kind == VBT_COHORT_TASK_CHAIN) {
        /* no MAP stage saved: the fit is done, or preparing it failed */
        struct stat st;
        if (t->run >= s->n_runs)
            return vbt__fail(msg, VBT_EINVAL, "cohort task: run %zu out of range", t->run);
        fmt(ck, sizeof ck, "%s/sub-%s/%s/fit.checkpoint", o->outdir, s->id,
            s->runs[t->run].name);
        if (stat(ck, &st) != 0)
            return VBT_OK;
    }
    vbt_cohort_localisation *l = NULL;
    vbt_msg lm;
    int rc = vbt_cohort_localise(&l, s, &o->atlas, &lm);
    if (rc)
        return vbt__fail(msg, rc, "sub-%s: atlas: %s", s->id, lm.text);
    int first = VBT_OK;
    for (size_t r = 0; r < s->n_runs; r++) {
        if (!fittable(&s->runs[r]) || (t->kind == VBT_COHORT_TASK_CHAIN && r != t->run))
            continue;
        vbt_patient *p = NULL;
        vbt_msg rm;
        rc = open_run(s, &s->runs[r], l, o, rdir, sizeof rdir, &p, &rm);
        if (!rc) {
            vbt_pipeline_opts po = o->pipeline;
            po.outdir = rdir;
            rc = t->kind == VBT_COHORT_TASK_CHAIN ? vbt_pipeline_run_chain(p, &po, t->chain, &rm)
                                                  : vbt_pipeline_prepare_chains(p, &po, NULL, &rm);
        }
        vbt_patient_free(p);
        if (rc && !first) {
            one_line(rm.text);
            strip_prefix(rm.text, o->outdir);
            strip_prefix(rm.text, c->root);
            first = vbt__fail(msg, rc, "sub-%s %s: %s", s->id, s->runs[r].name, rm.text);
        }
        if (o->pipeline.cancel && *o->pipeline.cancel)
            break;
    }
    vbt_cohort_localisation_free(l);
    return first;
}

int vbt_cohort_task_run(const vbt_cohort *c, const vbt_cohort_task *t,
                        const vbt_cohort_run_opts *o, vbt_msg *msg)
{
    if (!c || !t || !o || !o->outdir || t->subject >= c->n_subjects)
        return vbt__fail(msg, VBT_EINVAL, "vbt_cohort_task_run: NULL argument, no outdir or "
                         "subject out of range");
    if (o->pipeline.cancel && *o->pipeline.cancel)
        return vbt__fail(msg, VBT_EINVAL, "interrupted");
    if (t->kind == VBT_COHORT_TASK_SUBJECT)
        return vbt_cohort_subject_run(c, t->subject, o, msg);
    return run_part(c, t, o, msg);
}
