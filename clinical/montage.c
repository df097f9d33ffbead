/* montage.c -- monopolar, bipolar and common-average derivations. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_seeg.h"

#define NONE ((size_t)-1)

typedef struct derived {
    size_t a, b;          /* recording channels; b == NONE when unipolar */
    char label[132];
} derived;

struct vbt_montage {
    vbt_recording *rec;
    vbt_montage_kind kind;
    size_t n_src, *src;   /* the selected contacts (average: all of them enter the mean) */
    size_t n;
    derived *d;
    double fs;
    int64_t n_samples;
    /* average montage: the mean of the contacts over the cached window */
    double *mean, *work;
    int64_t mean_first;
    size_t mean_n, work_cap;
};

int vbt_montage_kind_parse(const char *name, vbt_montage_kind *kind)
{
    if (name && strcmp(name, "monopolar") == 0)
        *kind = VBT_MONTAGE_MONOPOLAR;
    else if (name && strcmp(name, "bipolar") == 0)
        *kind = VBT_MONTAGE_BIPOLAR;
    else if (name && (strcmp(name, "average") == 0 || strcmp(name, "car") == 0))
        *kind = VBT_MONTAGE_AVERAGE;
    else
        return VBT_EINVAL;
    return VBT_OK;
}

/* Channel policy of the default selection: the brain channels (SEEG, ECOG,
 * EEG, DBS).  Untyped channels ("n/a") join only when the recording has no
 * brain channel at all (a bare EDF whose labels are contact names, "A1");
 * in a recording that types some channels, untyped ones are the recorder's
 * auxiliary inputs (Nihon Kohden "POL" DC inputs, photic markers) and stay
 * out unless channels.tsv types them or --channels names them. */
static int brain_type(const char *t)
{
    return !strcmp(t, "SEEG") || !strcmp(t, "ECOG") || !strcmp(t, "EEG") || !strcmp(t, "DBS");
}

static int default_type(const char *t, int untyped_ok)
{
    return brain_type(t) || (untyped_ok && !strcmp(t, "n/a"));
}

/* Contact number at the end of a label ("A'12" -> 12), -1 when none. */
static long contact_number(const char *label)
{
    size_t n = strlen(label), k = n;
    while (k > 0 && isdigit((unsigned char)label[k - 1]))
        k--;
    return k == n ? -1 : strtol(label + k, NULL, 10);
}

int vbt_montage_alloc(vbt_montage **out, vbt_recording *rec, vbt_montage_kind kind,
                      const size_t *chans, size_t n, vbt_msg *msg)
{
    vbt_montage *m = NULL;
    int rc;
    if (!out || !rec)
        return vbt__fail(msg, VBT_EINVAL, "montage: NULL argument");
    *out = NULL;
    const char *path = vbt_recording_path(rec);
    size_t nc = vbt_recording_n_channels(rec);
    m = calloc(1, sizeof *m);
    if (!m || !(m->src = malloc((nc + n + 1) * sizeof *m->src)))
        goto nomem;
    m->rec = rec;
    m->kind = kind;
    m->mean_first = -1;
    if (chans) {
        for (size_t i = 0; i < n; i++) {
            if (chans[i] >= nc) {
                rc = vbt__fail(msg, VBT_ERANGE, "'%s': channel index %zu out of range", path,
                               chans[i]);
                goto fail;
            }
            m->src[m->n_src++] = chans[i];
        }
    } else {
        /* the most common sampling rate among the eligible channels */
        double best_fs = 0;
        size_t best_count = 0;
        int untyped_ok = 1;
        for (size_t i = 0; i < nc; i++)
            if (brain_type(vbt_recording_channel(rec, i)->type))
                untyped_ok = 0;
        for (size_t i = 0; i < nc; i++) {
            const vbt_rec_channel *c = vbt_recording_channel(rec, i);
            if (!default_type(c->type, untyped_ok))
                continue;
            size_t count = 0;
            for (size_t j = 0; j < nc; j++) {
                const vbt_rec_channel *d = vbt_recording_channel(rec, j);
                count += default_type(d->type, untyped_ok) && d->fs_hz == c->fs_hz;
            }
            if (count > best_count) {
                best_count = count;
                best_fs = c->fs_hz;
            }
        }
        for (size_t i = 0; i < nc; i++) {
            const vbt_rec_channel *c = vbt_recording_channel(rec, i);
            if (default_type(c->type, untyped_ok) && c->fs_hz == best_fs)
                m->src[m->n_src++] = i;
        }
    }
    if (m->n_src == 0 && nc == 0 && vbt_recording_n_bad_dropped(rec) > 0) {
        rc = vbt__fail(msg, VBT_EINVAL,
                       "'%s': every channel (%zu) is marked bad in channels.tsv; keep them "
                       "with --keep-bad (vbt_bids_query.keep_bad)", path,
                       vbt_recording_n_bad_dropped(rec));
        goto fail;
    }
    if (m->n_src == 0) {
        rc = vbt__fail(msg, VBT_EINVAL, "'%s': no channel selected (none of type SEEG, ECOG, "
                                        "EEG, DBS, or untyped)", path);
        goto fail;
    }
    const vbt_rec_channel *c0 = vbt_recording_channel(rec, m->src[0]);
    m->fs = c0->fs_hz;
    m->n_samples = c0->n_samples;
    for (size_t i = 1; i < m->n_src; i++) {
        const vbt_rec_channel *c = vbt_recording_channel(rec, m->src[i]);
        if (c->fs_hz != m->fs) {
            rc = vbt__fail(msg, VBT_EINVAL,
                           "'%s': channels '%s' (%g Hz) and '%s' (%g Hz) differ in sampling "
                           "rate", path, c0->label, c0->fs_hz, c->label, c->fs_hz);
            goto fail;
        }
        if (c->n_samples < m->n_samples)
            m->n_samples = c->n_samples;
    }
    m->d = calloc(m->n_src, sizeof *m->d);
    if (!m->d)
        goto nomem;
    if (kind == VBT_MONTAGE_BIPOLAR) {
        for (size_t i = 0; i < m->n_src; i++) {
            const vbt_rec_channel *a = vbt_recording_channel(rec, m->src[i]);
            long na = contact_number(a->label);
            if (na < 0 || !a->group[0])
                continue;
            for (size_t j = 0; j < m->n_src; j++) {
                const vbt_rec_channel *b = vbt_recording_channel(rec, m->src[j]);
                if (strcmp(a->group, b->group) == 0 && contact_number(b->label) == na + 1) {
                    derived *d = &m->d[m->n++];
                    d->a = m->src[i];
                    d->b = m->src[j];
                    snprintf(d->label, sizeof d->label, "%s-%s", a->label, b->label);
                    break;
                }
            }
        }
        if (m->n == 0) {
            rc = vbt__fail(msg, VBT_EINVAL,
                           "'%s': no bipolar pair (no two consecutive contacts of one "
                           "electrode among the selected channels)", path);
            goto fail;
        }
    } else {
        for (size_t i = 0; i < m->n_src; i++) {
            derived *d = &m->d[m->n++];
            d->a = m->src[i];
            d->b = NONE;
            snprintf(d->label, sizeof d->label, "%s", vbt_recording_channel(rec, d->a)->label);
        }
    }
    *out = m;
    return VBT_OK;
nomem:
    rc = vbt__fail(msg, VBT_ENOMEM, "montage: out of memory");
fail:
    vbt_montage_free(m);
    return rc;
}

void vbt_montage_free(vbt_montage *m)
{
    if (!m)
        return;
    free(m->src);
    free(m->d);
    free(m->mean);
    free(m->work);
    free(m);
}

size_t vbt_montage_n(const vbt_montage *m) { return m->n; }
const char *vbt_montage_label(const vbt_montage *m, size_t k) { return k < m->n ? m->d[k].label : NULL; }
double vbt_montage_fs(const vbt_montage *m) { return m->fs; }
int64_t vbt_montage_n_samples(const vbt_montage *m) { return m->n_samples; }
vbt_recording *vbt_montage_recording(const vbt_montage *m) { return m->rec; }

void vbt_montage_sources(const vbt_montage *m, size_t k, size_t *first, size_t *second)
{
    *first = m->d[k].a;
    *second = m->d[k].b;
}

int vbt_montage_select(vbt_montage *m, const size_t *keep, size_t n, vbt_msg *msg)
{
    if (n == 0)
        return vbt__fail(msg, VBT_EINVAL, "montage: empty selection");
    derived *d = malloc(n * sizeof *d);
    if (!d)
        return vbt__fail(msg, VBT_ENOMEM, "montage: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (keep[i] >= m->n) {
            free(d);
            return vbt__fail(msg, VBT_ERANGE, "montage: channel %zu out of range", keep[i]);
        }
        d[i] = m->d[keep[i]];
    }
    free(m->d);
    m->d = d;
    m->n = n;
    return VBT_OK;
}

static int grow_work(vbt_montage *m, size_t n)
{
    if (m->work_cap >= n)
        return 0;
    double *w = realloc(m->work, n * sizeof *w);
    if (!w)
        return -1;
    m->work = w;
    m->work_cap = n;
    return 0;
}

static int rec_read(vbt_montage *m, size_t ch, int64_t first, size_t n, double *out,
                    vbt_msg *msg)
{
    int rc = vbt_recording_read(m->rec, ch, first, n, out);
    if (rc)
        return vbt__fail(msg, rc, "%s", vbt_recording_errmsg(m->rec));
    return VBT_OK;
}

int vbt_montage_read(vbt_montage *m, size_t k, int64_t first, size_t n, double *out,
                     vbt_msg *msg)
{
    if (k >= m->n)
        return vbt__fail(msg, VBT_ERANGE, "montage: channel %zu out of range (%zu)", k, m->n);
    if (first < 0 || first + (int64_t)n > m->n_samples)
        return vbt__fail(msg, VBT_ERANGE, "montage: samples [%lld, %lld) outside [0, %lld)",
                         (long long)first, (long long)(first + (int64_t)n),
                         (long long)m->n_samples);
    const derived *d = &m->d[k];
    int rc = rec_read(m, d->a, first, n, out, msg);
    if (rc)
        return rc;
    if (m->kind == VBT_MONTAGE_BIPOLAR) {
        if (grow_work(m, n))
            return vbt__fail(msg, VBT_ENOMEM, "montage: out of memory");
        if ((rc = rec_read(m, d->b, first, n, m->work, msg)))
            return rc;
        for (size_t i = 0; i < n; i++)
            out[i] -= m->work[i];
    } else if (m->kind == VBT_MONTAGE_AVERAGE) {
        if (m->mean_first != first || m->mean_n != n) {
            double *mean = realloc(m->mean, n * sizeof *mean);
            if (!mean || grow_work(m, n)) {
                if (mean)
                    m->mean = mean;
                return vbt__fail(msg, VBT_ENOMEM, "montage: out of memory");
            }
            m->mean = mean;
            m->mean_first = -1;
            memset(mean, 0, n * sizeof *mean);
            for (size_t s = 0; s < m->n_src; s++) {
                if ((rc = rec_read(m, m->src[s], first, n, m->work, msg)))
                    return rc;
                for (size_t i = 0; i < n; i++)
                    mean[i] += m->work[i];
            }
            for (size_t i = 0; i < n; i++)
                mean[i] /= (double)m->n_src;
            m->mean_first = first;
            m->mean_n = n;
        }
        for (size_t i = 0; i < n; i++)
            out[i] -= m->mean[i];
    }
    return VBT_OK;
}
