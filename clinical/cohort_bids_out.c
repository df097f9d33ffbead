/* cohort_bids_out.c -- the cohort's results as BIDS derivatives
 * (vbt_cohort_out.h): per run, the regions' EZ probabilities and the
 * channels' labels, under OUT/derivatives/vbt/. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "internal.h"
#include "vbt_text.h"
#include "vbt_cohort_out.h"
#include "vbt_io.h"

#define PMAX 4096

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* p_ez, p_pz, p_hz of the connectome's regions, by label, from results.json. */
static int read_probs(const char *path, const vbt_cohort_localisation *l, double *p, vbt_msg *msg)
{
    char *text = NULL;
    size_t len = 0;
    int rc = vbt_file_read_all(path, &text, &len, 0, msg);
    if (rc != VBT_OK)
        return rc;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *regs = j ? cJSON_GetObjectItemCaseSensitive(j, "regions") : NULL;
    if (!cJSON_IsArray(regs)) {
        cJSON_Delete(j);
        return vbt__fail(msg, VBT_EFORMAT, "%s: no regions array", path);
    }
    for (size_t k = 0; k < 3 * l->n_regions; k++)
        p[k] = NAN;
    const cJSON *r;
    cJSON_ArrayForEach(r, regs) {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(r, "label");
        if (!cJSON_IsString(lab))
            continue;
        for (size_t k = 0; k < l->n_regions; k++) {
            if (strcmp(l->region_names[k], lab->valuestring) != 0)
                continue;
            const char *key[3] = {"p_ez", "p_pz", "p_hz"};
            for (int q = 0; q < 3; q++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key[q]);
                p[3 * k + q] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            }
        }
    }
    cJSON_Delete(j);
    return VBT_OK;
}

static void put_p(vbt_textbuf *b, double v)
{
    if (isfinite(v))
        vbt_textbuf_printf(b, "\t%.6g", v);
    else
        vbt_textbuf_printf(b, "\tn/a");
}

/* snprintf into a path buffer; a path that does not fit is an error, never
 * a silently truncated (and so wrong) file name. */
static int pathf(char *buf, size_t n, vbt_msg *msg, const char *fmt, ...)
    VBT_PRINTF(4, 5);
static int pathf(char *buf, size_t n, vbt_msg *msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n)
        return vbt__fail(msg, VBT_EINVAL, "cohort derivatives: a path under OUT is longer "
                         "than %zu bytes", n - 1);
    return VBT_OK;
}

static int write_run(const char *dir, const vbt_cohort_subject *s, const vbt_cohort_run *r,
                     const vbt_cohort_localisation *l, const double *p, double thr, vbt_msg *msg)
{
    char path[PMAX];
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "index\tregion\tp_ez\tp_pz\tp_hz\tez\n");
    for (size_t k = 0; k < l->n_regions; k++) {
        vbt_textbuf_printf(&b, "%zu\t%s", k, l->region_names[k]);
        for (int q = 0; q < 3; q++)
            put_p(&b, p[3 * k + q]);
        vbt_textbuf_printf(&b, "\t%d\n", p[3 * k] > thr);
    }
    int rc = pathf(path, sizeof path, msg, "%s/sub-%s_%s_atlas-DK84_desc-ez_probseg.tsv", dir,
                   s->id, r->name);
    if (rc == VBT_OK)
        rc = vbt_textbuf_write(&b, path, 1, msg);
    else
        free(b.s);
    if (rc != VBT_OK)
        return rc;
    vbt_textbuf c = {0};
    vbt_textbuf_printf(&c, "name\tregion\tp_ez\tlabel\n");
    for (size_t i = 0; i < r->n_channels; i++) {
        long reg[2];
        size_t nr = 0;
        vbt_cohort_channel_regions(l, r->channels[i].name, reg, &nr);
        /* a bipolar channel takes the more epileptogenic of its two regions */
        long best = -1;
        for (size_t q = 0; q < nr; q++)
            if (reg[q] >= 0 && (size_t)reg[q] < l->n_regions &&
                (best < 0 || p[3 * reg[q]] > p[3 * best]))
                best = reg[q];
        vbt_textbuf_printf(&c, "%s\t", r->channels[i].name);
        if (best < 0) {
            vbt_textbuf_printf(&c, "n/a\tn/a\tn/a\n");
            continue;
        }
        double pe = p[3 * best], pp = p[3 * best + 1];
        vbt_textbuf_printf(&c, "%s", l->region_names[best]);
        put_p(&c, pe);
        vbt_textbuf_printf(&c, "\t%s\n",
                           !isfinite(pe) ? "n/a"
                           : pe > thr    ? "ez"
                           : pp > thr    ? "pz"
                                         : "hz");
    }
    if ((rc = pathf(path, sizeof path, msg, "%s/sub-%s_%s_desc-ez_channels.tsv", dir, s->id,
                    r->name)) != VBT_OK) {
        free(c.s);
        return rc;
    }
    return vbt_textbuf_write(&c, path, 1, msg);
}

int vbt_cohort_write_derivatives(const vbt_cohort *c, const char *outdir,
                                 const vbt_cohort_atlas *atlas, double ez_threshold,
                                 size_t *n_written, vbt_msg *msg)
{
    if (n_written)
        *n_written = 0;
    if (!c || !outdir || !atlas)
        return vbt__fail(msg, VBT_EINVAL, "cohort derivatives: missing cohort, OUT or atlas");
    char root[PMAX], path[PMAX];
    int rc = pathf(root, sizeof root, msg, "%s/derivatives/vbt", outdir);
    if (rc == VBT_OK)
        rc = vbt_mkdir_parents(root, msg);
    if (rc != VBT_OK)
        return rc;
    vbt_textbuf d = {0};
    vbt_textbuf_printf(&d,
                       "{\n  \"Name\": \"vbt EZ maps\",\n  \"BIDSVersion\": \"1.8.0\",\n"
                       "  \"DatasetType\": \"derivative\",\n  \"GeneratedBy\": [\n    {\n"
                       "      \"Name\": \"vbt\",\n      \"Version\": \"%s\",\n"
                       "      \"Description\": \"vbt cohort run: Virtual Epileptic Patient fits on "
                       "the atlas connectome (docs/cohort.md)\"\n    }\n  ],\n"
                       "  \"SourceDatasets\": [\n    {\n      \"URL\": \"../..\"\n    }\n  ]\n}\n",
                       vbt_version());
    if ((rc = pathf(path, sizeof path, msg, "%s/dataset_description.json", root)) != VBT_OK) {
        free(d.s);
        return rc;
    }
    if ((rc = vbt_textbuf_write(&d, path, 1, msg)) != VBT_OK)
        return rc;
    size_t written = 0;
    for (size_t i = 0; i < c->n_subjects; i++) {
        const vbt_cohort_subject *s = &c->subjects[i];
        snprintf(path, sizeof path, "%s/sub-%s/subject.json", outdir, s->id);
        if (!s->dir || !exists(path))
            continue;
        vbt_cohort_localisation *l = NULL;
        double *p = NULL;
        for (size_t k = 0; k < s->n_runs; k++) {
            const vbt_cohort_run *r = &s->runs[k];
            snprintf(path, sizeof path, "%s/sub-%s/%s/results.json", outdir, s->id, r->name);
            if (!exists(path))
                continue;
            if (!l) {
                if ((rc = vbt_cohort_localise(&l, s, atlas, msg)) != VBT_OK)
                    return rc;
                p = malloc(3 * l->n_regions * sizeof *p);
                if (!p) {
                    vbt_cohort_localisation_free(l);
                    return vbt__fail(msg, VBT_ENOMEM, "cohort derivatives: out of memory");
                }
            }
            if ((rc = read_probs(path, l, p, msg)) != VBT_OK)
                break;
            char dir[PMAX];
            rc = r->ses ? pathf(dir, sizeof dir, msg, "%s/sub-%s/ses-%s/ieeg", root, s->id, r->ses)
                        : pathf(dir, sizeof dir, msg, "%s/sub-%s/ieeg", root, s->id);
            if (rc != VBT_OK || (rc = vbt_mkdir_parents(dir, msg)) != VBT_OK)
                break;
            if ((rc = write_run(dir, s, r, l, p, ez_threshold, msg)) != VBT_OK)
                break;
            written++;
        }
        free(p);
        vbt_cohort_localisation_free(l);
        if (rc != VBT_OK)
            return rc;
    }
    if (n_written)
        *n_written = written;
    return VBT_OK;
}
