/* report_context.c -- what the report reads beside the steps' tables
 * (vbt_report_context, vbt_report.h): the recording and the marked
 * seizure, the time axis of the fitted feature, the verdict, the plan, the
 * contacts, the channels the fit did not use and the Epileptogenicity Index
 * (Bartolomei et al. 2008, clinical/ei.c) as the classical reference.
 *
 * Everything is optional: a missing or unreadable file leaves its fields
 * absent and the report says what it lacks.  The patient folder is only
 * used to open the recording; its name is never copied. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "report_internal.h"
#include "vbt_gain.h"
#include "vbt_io.h"
#include "vbt_recording.h"
#include "vbt_seeg.h"
#include "vbt_text.h"

static cJSON *read_json(const char *dir, const char *name)
{
    char path[4200], *text = NULL;
    size_t len;
    vbt_msg why;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (vbt_file_read_all(path, &text, &len, 0, &why))
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const cJSON *jget(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Record an input of the report (for report.json) when the file exists. */
static void note_input(vbt_report_context *c, const char *out, const char *name)
{
    char path[4200];
    vbt_msg why;
    if (c->n_inputs >= sizeof c->inputs / sizeof c->inputs[0])
        return;
    snprintf(path, sizeof path, "%s/%s", out, name);
    if (vbt_sha256_file(path, c->input_sha[c->n_inputs], &why))
        return;
    snprintf(c->inputs[c->n_inputs], sizeof c->inputs[0], "%s", name);
    c->n_inputs++;
}

static const char *unit_of(const char *norm)
{
    if (!norm)
        return "";
    if (!strcmp(norm, "excess"))
        return "power above the pre-ictal baseline, divided by its largest value over all "
               "channels (dimensionless)";
    if (!strcmp(norm, "power"))
        return "power relative to the pre-ictal baseline minus 1, divided by its largest "
               "value over all channels (dimensionless)";
    if (!strcmp(norm, "baseline"))
        return "log power minus the pre-ictal baseline's (natural log units)";
    if (!strcmp(norm, "none"))
        return "log power envelope, log(1 + squared signal in the recording's unit)";
    return "";
}

/* The plan of results.json (or surgery/run.json). */
static int read_plan(vbt_report_context *c, const cJSON *pj)
{
    if (!cJSON_IsObject(pj))
        return VBT_OK;
    const cJSON *r = jget(pj, "reached");
    c->plan_reached = cJSON_IsBool(r) ? cJSON_IsTrue(r) : -1;
    c->plan_target = jnum(pj, "target");
    c->plan_p = jnum(pj, "p_seizure_freedom");
    c->p_without = jnum(pj, "p_seizure_freedom_without_surgery");
    const cJSON *rs = jget(pj, "resect"), *it;
    size_t n = (size_t)cJSON_GetArraySize(rs);
    if (!n)
        return VBT_OK;
    if (!(c->plan_regions = calloc(n, sizeof *c->plan_regions)))
        return VBT_ENOMEM;
    cJSON_ArrayForEach(it, rs)
    {
        const cJSON *lab = jget(it, "label");
        if (!cJSON_IsString(lab))
            continue;
        if (!(c->plan_regions[c->n_plan] = strdup(lab->valuestring)))
            return VBT_ENOMEM;
        c->n_plan++;
    }
    return VBT_OK;
}

/* gain/gain.tsv (row, name, x, y, z): the contacts; gain/gain.npy [sensor,
 * region]: the region each contact sees most, in region_of[n_contacts]. */
static int read_contacts(vbt_report_context *c, const char *out, size_t n_regions,
                         long **region_of)
{
    char path[4200], *text = NULL;
    size_t len, cap = 0;
    vbt_msg why;
    *region_of = NULL;
    snprintf(path, sizeof path, "%s/gain/gain.tsv", out);
    if (vbt_file_read_all(path, &text, &len, 0, &why))
        return VBT_OK;
    int st = VBT_OK;
    for (char *pos = text; pos && *pos;) {
        char *f[6];
        size_t nf = vbt_csv_record(&pos, '\t', f, 6);
        if (nf < 5 || !strcmp(f[0], "row"))
            continue;
        if (c->n_contacts == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char(*nn)[64] = realloc(c->contact, nc * sizeof *nn);
            if (nn)
                c->contact = nn;
            double *nx = realloc(c->contact_xyz, 3 * nc * sizeof *nx);
            if (nx)
                c->contact_xyz = nx;
            if (!nn || !nx) {
                st = VBT_ENOMEM;
                goto out;
            }
            cap = nc;
        }
        size_t k = c->n_contacts++;
        snprintf(c->contact[k], 64, "%s", f[1]);
        for (int d = 0; d < 3; d++) {
            char *end;
            double v = strtod(f[2 + d], &end);
            c->contact_xyz[3 * k + d] = end != f[2 + d] && isfinite(v) ? v : NAN;
        }
    }
    vbt_array g = {0};
    snprintf(path, sizeof path, "%s/gain/gain.npy", out);
    if (c->n_contacts && vbt_npy_read(path, &g, &why) == 0 && g.ndim == 2 &&
        g.shape[0] == c->n_contacts && g.shape[1] == n_regions) {
        if (!(*region_of = malloc(c->n_contacts * sizeof **region_of))) {
            vbt_array_clear(&g);
            st = VBT_ENOMEM;
            goto out;
        }
        for (size_t k = 0; k < c->n_contacts; k++) {
            long best = -1;
            double bv = 0.0;
            for (size_t r = 0; r < n_regions; r++) {
                double v = fabs(g.data[k * n_regions + r]);
                if (isfinite(v) && v > bv) {
                    bv = v;
                    best = (long)r;
                }
            }
            (*region_of)[k] = best;
        }
    }
    vbt_array_clear(&g);
out:
    free(text);
    return st;
}

/* Where the brain maps draw the regions: the connectome's centres, mapped
 * by the affine of gain/gain.json when the gain step registered them onto
 * the contacts' volume (vbt_gain.h: a connectome's centres may lie in
 * another space than the contacts; BVEP's lie 22 mm below MNI's). */
static int region_positions(vbt_report_context *c, const char *out, const vbt_connectome *conn)
{
    if (!conn || !conn->n)
        return VBT_OK;
    if (!(c->region_xyz = malloc(conn->n * 3 * sizeof *c->region_xyz)))
        return VBT_ENOMEM;
    memcpy(c->region_xyz, conn->centres, conn->n * 3 * sizeof *c->region_xyz);
    cJSON *gj = read_json(out, "gain/gain.json");
    const cJSON *cen = jget(jget(gj, "gain"), "centres"), *pl = jget(cen, "placed"),
                *af = jget(cen, "affine");
    double a[12];
    int ok = cJSON_IsString(pl) && !strcmp(pl->valuestring, "registered") &&
             cJSON_GetArraySize(af) == 12;
    for (int k = 0; ok && k < 12; k++) {
        const cJSON *v = cJSON_GetArrayItem(af, k);
        ok = cJSON_IsNumber(v) && isfinite(v->valuedouble);
        a[k] = ok ? v->valuedouble : 0.0;
    }
    if (ok) {
        for (size_t r = 0; r < conn->n; r++)
            vbt_affine_apply(a, c->region_xyz + 3 * r, c->region_xyz + 3 * r);
        c->regions_registered = 1;
    }
    cJSON_Delete(gj);
    return VBT_OK;
}

/* features/channels.tsv (index, name, power): the channels the fit used. */
static char (*used_channels(const char *out, size_t *n))[64]
{
    char path[4200], *text = NULL;
    size_t len, cap = 0;
    vbt_msg why;
    char(*names)[64] = NULL;
    *n = 0;
    snprintf(path, sizeof path, "%s/features/channels.tsv", out);
    if (vbt_file_read_all(path, &text, &len, 0, &why))
        return NULL;
    for (char *pos = text; pos && *pos;) {
        char *f[4];
        if (vbt_csv_record(&pos, '\t', f, 4) < 2 || !strcmp(f[0], "index"))
            continue;
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char(*nn)[64] = realloc(names, nc * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = nc;
        }
        snprintf(names[(*n)++], 64, "%s", f[1]);
    }
    free(text);
    return names;
}

static int is_brain_type(const char *t)
{
    return !strcmp(t, "SEEG") || !strcmp(t, "ECOG") || !strcmp(t, "EEG") || !strcmp(t, "n/a");
}

static int by_ei_desc(const void *a, const void *b)
{
    const vbt_report_ei *x = a, *y = b;
    if (x->ei != y->ei)
        return x->ei < y->ei ? 1 : -1;
    double dx = isfinite(x->detect_s) ? x->detect_s : HUGE_VAL;
    double dy = isfinite(y->detect_s) ? y->detect_s : HUGE_VAL;
    if (dx != dy)
        return dx < dy ? -1 : 1;
    return strcmp(x->channel, y->channel);
}

/* The recording: which channels the fit did not use and why, and the EI of
 * the channels it did use (the feature's montage: monopolar, the default
 * channels) over the seizure. */
static int read_recording(vbt_report_context *c, const char *out, const char *patient_dir,
                          const long *region_of)
{
    char path[4200];
    vbt_msg why;
    vbt_recording *all = NULL, *rec = NULL;
    vbt_montage *m = NULL;
    vbt_ei_result er = {0};
    size_t n_used = 0;
    char(*used)[64] = used_channels(out, &n_used);
    int st = VBT_OK;
    if (!c->recording[0]) {
        snprintf(c->ei_note, sizeof c->ei_note, "the feature step names no recording");
        goto out;
    }
    int k = snprintf(path, sizeof path, "%s/%s", patient_dir, c->recording);
    if (k < 0 || (size_t)k >= sizeof path) {
        snprintf(c->ei_note, sizeof c->ei_note, "the recording's path is too long");
        goto out;
    }
    vbt_bids_query q = {.keep_bad = 1};
    if (vbt_recording_open_bids(&all, path, &q, &why)) {
        snprintf(c->ei_note, sizeof c->ei_note, "the recording could not be opened again");
        goto out;
    }
    snprintf(c->format, sizeof c->format, "%s", vbt_recording_format(all));
    q.keep_bad = 0;
    if (vbt_recording_open_bids(&rec, path, &q, &why) ||
        vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &why)) {
        snprintf(c->ei_note, sizeof c->ei_note, "the recording has no channel the feature uses");
        goto out;
    }
    const double fs = vbt_montage_fs(m);
    if (!isfinite(c->fs_hz))
        c->fs_hz = fs;
    /* the channels not used, and why */
    size_t nch = vbt_recording_n_channels(all);
    c->n_rec_channels = nch;
    if (nch && !(c->dropped = calloc(nch, sizeof *c->dropped))) {
        st = VBT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nch; i++) {
        const vbt_rec_channel *ch = vbt_recording_channel(all, i);
        int in_feature = 0, in_montage = 0;
        for (size_t j = 0; j < n_used && !in_feature; j++)
            in_feature = !strcmp(used[j], ch->label);
        for (size_t j = 0; j < vbt_montage_n(m) && !in_montage; j++)
            in_montage = !strcmp(vbt_montage_label(m, j), ch->label);
        if (in_feature)
            continue;
        vbt_report_dropped *d = &c->dropped[c->n_dropped++];
        snprintf(d->name, sizeof d->name, "%s", ch->label);
        if (ch->bad)
            snprintf(d->reason, sizeof d->reason, "marked bad in channels.tsv");
        else if (!is_brain_type(ch->type))
            snprintf(d->reason, sizeof d->reason, "type %s, not an intracranial channel",
                     ch->type);
        else if (!in_montage && fabs(ch->fs_hz - fs) > 1e-9 * fs)
            snprintf(d->reason, sizeof d->reason, "sampled at %g Hz, the others at %g Hz",
                     ch->fs_hz, fs);
        else if (n_used)
            snprintf(d->reason, sizeof d->reason, "not kept by the feature step");
        else
            snprintf(d->reason, sizeof d->reason, "no feature was computed");
    }
    /* EI over the seizure: 20 s of baseline at most, to 5 s after the offset */
    if (!isfinite(c->onset_s)) {
        snprintf(c->ei_note, sizeof c->ei_note, "no marked seizure onset");
        goto out;
    }
    double dur = vbt_recording_duration_s(rec);
    double end = isfinite(c->offset_s) ? c->offset_s : c->onset_s + 20.0;
    double t0 = fmax(0.0, c->onset_s - 20.0), t1 = fmin(dur, end + 5.0);
    vbt_ei_opts eo;
    vbt_ei_opts_default(&eo);
    if (vbt_ei_compute(m, t0, t1, &eo, &er, &why)) {
        snprintf(c->ei_note, sizeof c->ei_note, "the EI could not be computed on %.3g s of "
                 "the recording", t1 - t0);
        goto out;
    }
    if (!(c->ei = calloc(er.n_chan ? er.n_chan : 1, sizeof *c->ei))) {
        st = VBT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < er.n_chan; i++) {
        const char *lab = vbt_montage_label(m, i);
        int in_feature = !n_used;
        for (size_t j = 0; j < n_used && !in_feature; j++)
            in_feature = !strcmp(used[j], lab);
        if (!in_feature)
            continue;
        vbt_report_ei *e = &c->ei[c->n_ei++];
        snprintf(e->channel, sizeof e->channel, "%s", lab);
        e->ei = isfinite(er.ei[i]) ? er.ei[i] : 0.0;
        e->detect_s = isfinite(er.detect_s[i]) ? er.detect_s[i] - c->onset_s : NAN;
        e->region = -1;
        for (size_t j = 0; region_of && j < c->n_contacts; j++)
            if (!strcmp(c->contact[j], lab)) {
                e->region = region_of[j];
                break;
            }
    }
    qsort(c->ei, c->n_ei, sizeof *c->ei, by_ei_desc);
out:
    vbt_ei_clear(&er);
    vbt_montage_free(m);
    vbt_recording_free(rec);
    vbt_recording_free(all);
    free(used);
    return st;
}

int vbt_report_context_load(vbt_report_context *c, const char *outdir, const char *patient_dir,
                            const vbt_connectome *conn, vbt_msg *msg)
{
    memset(c, 0, sizeof *c);
    c->fs_hz = c->onset_s = c->offset_s = c->t0_s = c->t1_s = NAN;
    c->model_dt = c->plan_target = c->plan_p = c->p_without = NAN;
    c->plan_reached = -1;
    c->ei_threshold = 0.3;
    if (!outdir)
        return VBT_OK;
    int st = VBT_OK;
    long *region_of = NULL;
    cJSON *res = read_json(outdir, "results.json");
    cJSON *feat = read_json(outdir, "features/run.json");
    cJSON *fit = read_json(outdir, "fit/run.json");
    cJSON *sum = read_json(outdir, "fit/summary.json");
    cJSON *surg = read_json(outdir, "surgery/run.json");
    /* the recording and the marked seizure, as the feature step used them */
    const cJSON *rp = jget(jget(jget(feat, "inputs"), "recording"), "path");
    if (cJSON_IsString(rp))
        snprintf(c->recording, sizeof c->recording, "%s", rp->valuestring);
    c->onset_s = jnum(jget(feat, "seizure"), "onset_s");
    c->offset_s = jnum(jget(feat, "seizure"), "offset_s");
    const cJSON *fo = jget(feat, "features"), *win = jget(fo, "window_s");
    c->fs_hz = jnum(fo, "fs_hz");
    if (cJSON_GetArraySize(win) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(win, 0)) &&
        cJSON_IsNumber(cJSON_GetArrayItem(win, 1))) {
        c->t0_s = cJSON_GetArrayItem(win, 0)->valuedouble;
        c->t1_s = cJSON_GetArrayItem(win, 1)->valuedouble;
    }
    char path[4200];
    vbt_msg why;
    vbt_array ta = {0};
    snprintf(path, sizeof path, "%s/features/features_time.npy", outdir);
    if (vbt_npy_read(path, &ta, &why) == 0 && ta.ndim == 1) {
        c->time_s = ta.data;
        c->n_time = ta.shape[0];
        ta.data = NULL;
    }
    vbt_array_clear(&ta);
    /* the fit's time step and data normalisation */
    const cJSON *opt = jget(fit, "options"), *dn = jget(opt, "data-norm");
    c->model_dt = jnum(opt, "dt");
    snprintf(c->feature_unit, sizeof c->feature_unit, "%s",
             unit_of(cJSON_IsString(dn) ? dn->valuestring : NULL));
    /* the verdict: results.json, else the fit's summary */
    const cJSON *v = jget(res, "verdict");
    if (!cJSON_IsObject(v))
        v = jget(sum, "verdict");
    if (cJSON_IsObject(v) && !(c->verdict = cJSON_Duplicate(v, 1))) {
        st = VBT_ENOMEM;
        goto out;
    }
    /* the plan and the number of draws behind the surgery's probabilities */
    const cJSON *pj = jget(res, "plan");
    if (!cJSON_IsObject(pj))
        pj = jget(surg, "plan");
    if ((st = read_plan(c, pj)))
        goto out;
    double nd = jnum(jget(surg, "settings"), "n_draws");
    c->n_draws = nd >= 1 && nd < 1e12 ? (size_t)nd : 0;
    if ((st = read_contacts(c, outdir, conn ? conn->n : 0, &region_of)) ||
        (st = region_positions(c, outdir, conn)))
        goto out;
    if (patient_dir)
        st = read_recording(c, outdir, patient_dir, region_of);
    else
        snprintf(c->ei_note, sizeof c->ei_note, "the report was not given the recording");
    const char *names[] = {"results.json", "features/run.json", "features/features_time.npy",
                           "features/channels.tsv", "fit/run.json", "fit/summary.json",
                           "fit/regions.csv", "fit/data.npy", "fit/predictive.npy",
                           "predict/recruitment.csv", "surgery/run.json", "surgery/surgery.csv",
                           "gain/gain.tsv", "gain/gain.npy", "gain/gain.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        note_input(c, outdir, names[i]);
out:
    free(region_of);
    cJSON_Delete(res);
    cJSON_Delete(feat);
    cJSON_Delete(fit);
    cJSON_Delete(sum);
    cJSON_Delete(surg);
    if (st) {
        vbt_report_context_clear(c);
        return vbt__fail(msg, st, "report: out of memory");
    }
    return VBT_OK;
}

void vbt_report_context_clear(vbt_report_context *c)
{
    if (!c)
        return;
    free(c->time_s);
    for (size_t i = 0; i < c->n_plan; i++)
        free(c->plan_regions[i]);
    free(c->plan_regions);
    cJSON_Delete(c->verdict);
    free(c->contact);
    free(c->contact_xyz);
    free(c->region_xyz);
    free(c->dropped);
    free(c->ei);
    memset(c, 0, sizeof *c);
}
