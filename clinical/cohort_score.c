/* cohort_score.c -- a cohort's EZ maps scored against the clinical labels
 * and outcomes (vbt_cohort.h): per run and subject, then across subjects
 * with seeded bootstrap intervals. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"
#include "vbt_cohort.h"
#include "vbt_io.h"
#include "vbt_patient.h"

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

void vbt_cohort_score_sets(const unsigned char *pred, const unsigned char *truth, size_t n,
                           vbt_cohort_f1 *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        s->n_pred += pred[i] != 0;
        s->n_true += truth[i] != 0;
        s->tp += pred[i] && truth[i];
    }
    s->precision = s->n_pred ? (double)s->tp / (double)s->n_pred : NAN;
    s->recall = s->n_true ? (double)s->tp / (double)s->n_true : NAN;
    if (!s->n_pred || !s->n_true)
        s->f1 = NAN;
    else if (!s->tp)
        s->f1 = 0;
    else
        s->f1 = 2 * s->precision * s->recall / (s->precision + s->recall);
}

double vbt_cohort_auc(const double *score, const int *label, size_t n)
{
    /* Mann-Whitney: pairs (positive, negative) where the positive scores
     * higher, ties one half; O(n^2), cohorts are small */
    double wins = 0;
    size_t np = 0, nn = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i]) || (label[i] != 0 && label[i] != 1))
            continue;
        if (label[i] == 1)
            np++;
        else
            nn++;
        if (label[i] != 1)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (isnan(score[j]) || label[j] != 0)
                continue;
            wins += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
        }
    }
    return np && nn ? wins / ((double)np * (double)nn) : NAN;
}

void vbt_cohort_summary_opts_default(vbt_cohort_summary_opts *o)
{
    o->n_boot = 2000;
    o->seed = 42;
    o->level = 0.95;
    o->against_resect = 0;
}

/* ---- collecting the runs' results ------------------------------------------------- */

static cJSON *read_json(const char *path)
{
    char *t = NULL;
    size_t n;
    vbt_msg m;
    if (vbt_file_read_all(path, &t, &n, 0, &m))
        return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    return j;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Region set of a staged region-list file (hypothesis.txt, resections.txt:
 * comma lists of connectome labels) over labels[n]; the list as text in
 * *text (malloc'd, "" when the file is absent), or NULL text on failure. */
static void read_set(const char *path, char (*labels)[VBT_LABEL_MAX], size_t n,
                     unsigned char *set, char **text)
{
    memset(set, 0, n);
    char *t = NULL;
    size_t len;
    vbt_msg m;
    *text = NULL;
    if (vbt_file_read_all(path, &t, &len, 0, &m)) {
        *text = calloc(1, 1);
        return;
    }
    vbt_patient_region_list(t);
    *text = t;
    char *copy = malloc(strlen(t) + 1);
    if (!copy)
        return;
    strcpy(copy, t);
    for (char *save = NULL, *tok = strtok_r(copy, ", \t", &save); tok;
         tok = strtok_r(NULL, ", \t", &save))
        for (size_t r = 0; r < n; r++)
            if (strcmp(tok, labels[r]) == 0)
                set[r] = 1;
    free(copy);
}

typedef struct run_res {
    double *p_ez;      /* n regions */
    unsigned char *soz, *resect;
    double p_free;
    int trust;
    char reasons[600];
} run_res;

static void base_row(vbt_cohort_row *w, const vbt_cohort_subject *s)
{
    memset(w, 0, sizeof *w);
    fmt(w->subject, sizeof w->subject, "%s", s->id);
    w->outcome = s->outcome;
    fmt(w->engel, sizeof w->engel, "%s", s->engel);
    fmt(w->therapy, sizeof w->therapy, "%s", s->therapy);
    fmt(w->implant, sizeof w->implant, "%s", s->implant);
    w->p_free = NAN;
    w->trustworthy = -1;
    w->soz.precision = w->soz.recall = w->soz.f1 = NAN;
    w->resect.precision = w->resect.recall = w->resect.f1 = NAN;
}

/* Read one finished run in rdir into rr (p_ez over the results' regions);
 * the region labels in *labels (malloc'd once for the subject).  0 or -1. */
static int read_run(const char *rdir, run_res *rr, char (**labels)[VBT_LABEL_MAX], size_t *n)
{
    char p[4200];
    fmt(p, sizeof p, "%s/results.json", rdir);
    cJSON *res = read_json(p);
    if (!res)
        return -1;
    const cJSON *regs = cJSON_GetObjectItemCaseSensitive(res, "regions");
    size_t nr = (size_t)cJSON_GetArraySize(regs);
    if (!*labels) {
        *n = nr;
        *labels = calloc(nr ? nr : 1, sizeof **labels);
        if (!*labels) {
            cJSON_Delete(res);
            return -1;
        }
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, regs)
            fmt((*labels)[k++], VBT_LABEL_MAX, "%s", jstr(it, "label"));
    } else if (nr != *n) {
        cJSON_Delete(res);
        return -1;
    }
    rr->p_ez = calloc(nr ? nr : 1, sizeof *rr->p_ez);
    rr->soz = calloc(nr ? nr : 1, 1);
    rr->resect = calloc(nr ? nr : 1, 1);
    if (!rr->p_ez || !rr->soz || !rr->resect) {
        cJSON_Delete(res);
        return -1;
    }
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, regs) {
        /* a MAP fit has no P(EZ) (null): its mode's class stands in, 1 or 0 */
        const cJSON *cl = cJSON_GetObjectItemCaseSensitive(it, "class");
        if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(it, "p_ez")) && cJSON_IsString(cl))
            rr->p_ez[k++] = !strcmp(cl->valuestring, "EZ");
        else
            rr->p_ez[k++] = jnum(it, "p_ez");
    }
    /* the verdict (results.json "verdict"; older results: summary.json below) */
    const cJSON *vd = cJSON_GetObjectItemCaseSensitive(res, "verdict");
    const cJSON *tw = cJSON_GetObjectItemCaseSensitive(vd, "trustworthy");
    rr->trust = cJSON_IsBool(tw) ? cJSON_IsTrue(tw) : -2;
    rr->reasons[0] = '\0';
    size_t rl = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(vd, "reasons"))
        if (cJSON_IsString(it) && rl + 4 < sizeof rr->reasons)
            rl += (size_t)snprintf(rr->reasons + rl, sizeof rr->reasons - rl, "%s%s",
                                   rl ? "; " : "", it->valuestring);
    if (rl >= sizeof rr->reasons)
        rl = sizeof rr->reasons - 1;
    char *soz_text, *res_text;
    fmt(p, sizeof p, "%s/input/hypothesis.txt", rdir);
    read_set(p, *labels, nr, rr->soz, &soz_text);
    fmt(p, sizeof p, "%s/input/resections.txt", rdir);
    read_set(p, *labels, nr, rr->resect, &res_text);
    /* the resection performed: the surgery scenario named by resections.txt */
    rr->p_free = NAN;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "surgery"))
        if (res_text && res_text[0] && strcmp(jstr(it, "resection"), res_text) == 0)
            rr->p_free = jnum(it, "p_seizure_freedom");
    free(soz_text);
    free(res_text);
    cJSON_Delete(res);
    if (rr->trust != -2)
        return 0;
    fmt(p, sizeof p, "%s/fit/summary.json", rdir);
    cJSON *sum = read_json(p);
    const cJSON *dp = cJSON_GetObjectItemCaseSensitive(sum, "diagnostics_passed");
    rr->trust = cJSON_IsBool(dp) ? cJSON_IsTrue(dp) : -1;
    cJSON_Delete(sum);
    return 0;
}

static void fill_scores(vbt_cohort_row *w, const double *p_ez, const unsigned char *soz,
                        const unsigned char *resect, size_t n, double thr)
{
    unsigned char *pred = calloc(n ? n : 1, 1);
    if (!pred)
        return;
    for (size_t r = 0; r < n; r++)
        pred[r] = p_ez[r] > thr;
    w->n_regions = n;
    w->n_ez = 0;
    for (size_t r = 0; r < n; r++)
        w->n_ez += pred[r];
    vbt_cohort_score_sets(pred, soz, n, &w->soz);
    vbt_cohort_score_sets(pred, resect, n, &w->resect);
    free(pred);
}

static int push_row(vbt_cohort_row **rows, size_t *n, size_t *cap, const vbt_cohort_row *w)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        vbt_cohort_row *nr = realloc(*rows, nc * sizeof *nr);
        if (!nr)
            return -1;
        *rows = nr;
        *cap = nc;
    }
    (*rows)[(*n)++] = *w;
    return 0;
}

int vbt_cohort_collect(const vbt_cohort *c, const char *outdir, vbt_cohort_row **rows,
                       size_t *n_rows, vbt_msg *msg)
{
    if (!c || !outdir || !rows || !n_rows)
        return vbt__fail(msg, VBT_EINVAL, "vbt_cohort_collect: NULL argument");
    *rows = NULL;
    *n_rows = 0;
    size_t cap = 0;
    for (size_t i = 0; i < c->n_subjects; i++) {
        const vbt_cohort_subject *s = &c->subjects[i];
        char p[4200];
        fmt(p, sizeof p, "%s/sub-%s/subject.json", outdir, s->id);
        cJSON *sj = read_json(p);
        vbt_cohort_row w;
        base_row(&w, s);
        if (!sj) {
            fmt(w.status, sizeof w.status, "skipped");
            fmt(w.reason, sizeof w.reason, "not run");
            if (push_row(rows, n_rows, &cap, &w))
                goto nomem;
            continue;
        }
        double thr = jnum(sj, "ez_threshold");
        if (isnan(thr))
            thr = 0.5;
        const cJSON *runs = cJSON_GetObjectItemCaseSensitive(sj, "runs"), *rj;
        char(*labels)[VBT_LABEL_MAX] = NULL;
        size_t nreg = 0, n_ok = 0, n_listed = 0;
        run_res *rr = calloc((size_t)cJSON_GetArraySize(runs) + 1, sizeof *rr);
        if (!rr) {
            cJSON_Delete(sj);
            goto nomem;
        }
        cJSON_ArrayForEach(rj, runs) {
            vbt_cohort_row r = w;
            fmt(r.run, sizeof r.run, "%s", jstr(rj, "run"));
            fmt(r.status, sizeof r.status, "%s", jstr(rj, "status"));
            fmt(r.reason, sizeof r.reason, "%s", jstr(rj, "reason"));
            n_listed++;
            if (strcmp(r.status, "ok") == 0) {
                char rdir[4200];
                fmt(rdir, sizeof rdir, "%s/sub-%s/%s", outdir, s->id, r.run);
                run_res *x = &rr[n_ok];
                if (read_run(rdir, x, &labels, &nreg)) {
                    fmt(r.status, sizeof r.status, "failed");
                    fmt(r.reason, sizeof r.reason, "results missing or unreadable");
                    free(x->p_ez);
                    free(x->soz);
                    free(x->resect);
                    memset(x, 0, sizeof *x);
                } else {
                    fill_scores(&r, x->p_ez, x->soz, x->resect, nreg, thr);
                    r.p_free = x->p_free;
                    r.trustworthy = x->trust;
                    fmt(r.verdict_reasons, sizeof r.verdict_reasons, "%s", x->reasons);
                    n_ok++;
                }
            }
            if (push_row(rows, n_rows, &cap, &r))
                goto nomem_sub;
        }
        if (n_listed == 0 || (strcmp(jstr(sj, "status"), "failed") == 0 && n_ok == 0 &&
                              n_listed == 0)) {
            vbt_cohort_row r = w;
            fmt(r.status, sizeof r.status, "failed");
            fmt(r.reason, sizeof r.reason, "%s", jstr(sj, "reason"));
            if (push_row(rows, n_rows, &cap, &r))
                goto nomem_sub;
        }
        if (n_ok > 1) {
            /* the documented rule: mean P(EZ) over runs against the threshold
             * (a region in the EZ of at least half of the runs, weighted by
             * confidence), labels of every run united, p_free the mean */
            vbt_cohort_row r = w;
            fmt(r.run, sizeof r.run, "combined");
            fmt(r.status, sizeof r.status, "ok");
            r.combined = 1;
            double *mean = calloc(nreg ? nreg : 1, sizeof *mean);
            unsigned char *soz = calloc(nreg ? nreg : 1, 1), *res = calloc(nreg ? nreg : 1, 1);
            if (!mean || !soz || !res) {
                free(mean);
                free(soz);
                free(res);
                goto nomem_sub;
            }
            double pf = 0;
            size_t npf = 0;
            int trust = 1;
            for (size_t k = 0; k < n_ok; k++) {
                for (size_t q = 0; q < nreg; q++) {
                    mean[q] += rr[k].p_ez[q] / (double)n_ok;
                    soz[q] |= rr[k].soz[q];
                    res[q] |= rr[k].resect[q];
                }
                if (!isnan(rr[k].p_free)) {
                    pf += rr[k].p_free;
                    npf++;
                }
                if (rr[k].trust != 1)
                    trust = rr[k].trust == 0 ? 0 : (trust == 0 ? 0 : -1);
                if (rr[k].reasons[0] && !r.verdict_reasons[0])
                    fmt(r.verdict_reasons, sizeof r.verdict_reasons, "%s", rr[k].reasons);
            }
            fill_scores(&r, mean, soz, res, nreg, thr);
            r.p_free = npf ? pf / (double)npf : NAN;
            r.trustworthy = trust;
            free(mean);
            free(soz);
            free(res);
            if (push_row(rows, n_rows, &cap, &r))
                goto nomem_sub;
        }
        for (size_t k = 0; k < n_ok; k++) {
            free(rr[k].p_ez);
            free(rr[k].soz);
            free(rr[k].resect);
        }
        free(rr);
        free(labels);
        cJSON_Delete(sj);
        continue;
    nomem_sub:
        for (size_t k = 0; k < n_ok; k++) {
            free(rr[k].p_ez);
            free(rr[k].soz);
            free(rr[k].resect);
        }
        free(rr);
        free(labels);
        cJSON_Delete(sj);
        goto nomem;
    }
    return VBT_OK;
nomem:
    free(*rows);
    *rows = NULL;
    *n_rows = 0;
    return vbt__fail(msg, VBT_ENOMEM, "out of memory");
}

/* ---- cohort.csv ------------------------------------------------------------------ */

static void put_num(FILE *f, double v)
{
    if (isnan(v))
        fputs(",", f);
    else
        fprintf(f, ",%.6g", v);
}

/* A CSV field: quoted when it holds a comma, quote or newline. */
static void put_text(FILE *f, const char *s, int first)
{
    if (!first)
        fputc(',', f);
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int vbt_cohort_write_csv(const char *path, const vbt_cohort_row *rows, size_t n, vbt_msg *msg)
{
    if (!path || (!rows && n))
        return vbt__fail(msg, VBT_EINVAL, "vbt_cohort_write_csv: NULL argument");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    fputs("subject,run,status,reason,outcome,engel,therapy,implant,n_regions,n_ez,"
          "soz_n,soz_tp,soz_precision,soz_recall,soz_f1,"
          "resect_n,resect_tp,resect_precision,resect_recall,resect_f1,"
          "p_seizure_freedom,fit_trustworthy,verdict_reasons\n", f);
    for (size_t i = 0; i < n; i++) {
        const vbt_cohort_row *r = &rows[i];
        int ran = r->n_regions > 0;
        put_text(f, r->subject, 1);
        put_text(f, r->run, 0);
        put_text(f, r->status, 0);
        put_text(f, r->reason, 0);
        put_text(f, vbt_cohort_outcome_name(r->outcome), 0);
        put_text(f, r->engel, 0);
        put_text(f, r->therapy, 0);
        put_text(f, r->implant, 0);
        if (ran)
            fprintf(f, ",%zu,%zu,%zu,%zu", r->n_regions, r->n_ez, r->soz.n_true, r->soz.tp);
        else
            fputs(",,,,", f);
        put_num(f, r->soz.precision);
        put_num(f, r->soz.recall);
        put_num(f, r->soz.f1);
        if (ran)
            fprintf(f, ",%zu,%zu", r->resect.n_true, r->resect.tp);
        else
            fputs(",,", f);
        put_num(f, r->resect.precision);
        put_num(f, r->resect.recall);
        put_num(f, r->resect.f1);
        put_num(f, r->p_free);
        fprintf(f, ",%s", r->trustworthy == 1 ? "true" : r->trustworthy == 0 ? "false" : "");
        put_text(f, r->verdict_reasons, 0);
        fputc('\n', f);
    }
    if (fclose(f)) {
        free(buf);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    int rc = vbt_file_write_atomic(path, buf, len, 1, msg);
    free(buf);
    return rc;
}

/* ---- across the cohort --------------------------------------------------------------- */

/* splitmix64: a small seeded stream, enough for resampling indices */
static uint64_t mix_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t mix_index(uint64_t *s, size_t n)
{
    return (size_t)(mix_next(s) % n);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile of sorted v[n] (linear interpolation). */
static double pctl(const double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    double h = q * (double)(n - 1);
    size_t lo = (size_t)floor(h);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (h - (double)lo) * (v[hi] - v[lo]);
}

static double mean_of(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : NAN;
}

/* Mean of x[n] with its bootstrap interval. */
static int mean_stat(const double *x, size_t n, const vbt_cohort_summary_opts *o, uint64_t *rng,
                     vbt_cohort_stat *st)
{
    st->n = n;
    st->value = mean_of(x, n);
    st->lo = st->hi = NAN;
    if (n < 2 || !o->n_boot)
        return 0;
    double *b = malloc(o->n_boot * sizeof *b);
    if (!b)
        return -1;
    for (size_t k = 0; k < o->n_boot; k++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[mix_index(rng, n)];
        b[k] = s / (double)n;
    }
    qsort(b, o->n_boot, sizeof *b, cmp_double);
    st->lo = pctl(b, o->n_boot, (1 - o->level) / 2);
    st->hi = pctl(b, o->n_boot, 1 - (1 - o->level) / 2);
    free(b);
    return 0;
}

int vbt_cohort_summarise(const vbt_cohort_row *rows, size_t n, const vbt_cohort_summary_opts *o,
                         vbt_cohort_summary *s, vbt_msg *msg)
{
    if ((!rows && n) || !o || !s || !(o->level > 0 && o->level < 1))
        return vbt__fail(msg, VBT_EINVAL, "vbt_cohort_summarise: NULL argument or level not in (0, 1)");
    memset(s, 0, sizeof *s);
    size_t cap = n ? n : 1;
    double *f_all = malloc(cap * sizeof *f_all), *f_free = malloc(cap * sizeof *f_free),
           *f_not = malloc(cap * sizeof *f_not), *pf = malloc(cap * sizeof *pf),
           *bs = NULL, *bp = NULL;
    int *lab = malloc(cap * sizeof *lab), *bl = NULL;
    size_t na = 0, nf = 0, nn = 0, np = 0;
    int rc = VBT_OK;
    if (!f_all || !f_free || !f_not || !pf || !lab)
        goto nomem;
    /* one value per subject: its combined row, else its single ok row */
    for (size_t i = 0; i < n; i++) {
        const vbt_cohort_row *r = &rows[i];
        int first = i == 0 || strcmp(rows[i - 1].subject, r->subject) != 0;
        if (first) {
            s->n_subjects++;
            int any_ok = 0, has_comb = 0;
            for (size_t j = i; j < n && strcmp(rows[j].subject, r->subject) == 0; j++) {
                any_ok |= strcmp(rows[j].status, "ok") == 0;
                has_comb |= rows[j].combined;
            }
            if (any_ok)
                s->n_ok++;
            else if (strcmp(r->status, "skipped") != 0 || strcmp(r->reason, "not run") != 0)
                s->n_failed++;
            const vbt_cohort_row *pick = NULL;
            for (size_t j = i; j < n && strcmp(rows[j].subject, r->subject) == 0; j++)
                if (strcmp(rows[j].status, "ok") == 0 && (!has_comb || rows[j].combined)) {
                    pick = &rows[j];
                    break;
                }
            if (!pick)
                continue;
            if (pick->trustworthy == 0)
                s->n_untrustworthy++;
            double f = o->against_resect ? pick->resect.f1 : pick->soz.f1;
            if (!isnan(f)) {
                f_all[na++] = f;
                if (pick->outcome == VBT_COHORT_OUTCOME_FREE)
                    f_free[nf++] = f;
                else if (pick->outcome == VBT_COHORT_OUTCOME_NOT_FREE)
                    f_not[nn++] = f;
            }
            if (!isnan(pick->p_free) && pick->outcome != VBT_COHORT_OUTCOME_UNKNOWN) {
                pf[np] = pick->p_free;
                lab[np++] = pick->outcome == VBT_COHORT_OUTCOME_FREE;
            }
        }
    }
    uint64_t rng = o->seed;
    if (mean_stat(f_free, nf, o, &rng, &s->f1_free) || mean_stat(f_not, nn, o, &rng, &s->f1_not_free) ||
        mean_stat(f_all, na, o, &rng, &s->f1_all))
        goto nomem;
    s->auc.n = np;
    s->auc.value = vbt_cohort_auc(pf, lab, np);
    s->auc.lo = s->auc.hi = NAN;
    if (!isnan(s->auc.value) && o->n_boot) {
        bs = malloc(o->n_boot * sizeof *bs);
        bp = malloc(np * sizeof *bp);
        bl = malloc(np * sizeof *bl);
        if (!bs || !bp || !bl)
            goto nomem;
        size_t kept = 0;
        for (size_t k = 0; k < o->n_boot; k++) {
            for (size_t i = 0; i < np; i++) {
                size_t j = mix_index(&rng, np);
                bp[i] = pf[j];
                bl[i] = lab[j];
            }
            double a = vbt_cohort_auc(bp, bl, np);
            if (!isnan(a))   /* a resample with one class only has no AUC */
                bs[kept++] = a;
        }
        qsort(bs, kept, sizeof *bs, cmp_double);
        s->auc.lo = pctl(bs, kept, (1 - o->level) / 2);
        s->auc.hi = pctl(bs, kept, 1 - (1 - o->level) / 2);
    }
    goto out;
nomem:
    rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
out:
    free(f_all);
    free(f_free);
    free(f_not);
    free(pf);
    free(lab);
    free(bs);
    free(bp);
    free(bl);
    return rc;
}
