/* bids.c -- BIDS-iEEG sidecars around an EDF/BDF recording: channels.tsv,
 * events.tsv, electrodes.tsv and coordsystem.json.
 *
 * electrodes.tsv is read here with only what the clinical commands need
 * (name, x, y, z); the connectomes/ module has its own contact reader, and
 * the two should be unified later. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "bids_internal.h"
#include "recording_internal.h"
#include "vbt_io.h"
#include "vbt_patient.h"

#define MAX_COLS 64

/* A TSV file split in place (bids_internal.h). */
typedef vbt__tsv tsv;

static void tsv_free(tsv *t)
{
    free(t->buf);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

static int tsv_read(const char *path, tsv *t, vbt_msg *msg)
{
    size_t len;
    memset(t, 0, sizeof *t);
    int rc = vbt_file_read_all(path, &t->buf, &len, 64u << 20, msg);
    if (rc)
        return rc;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += t->buf[i] == '\n';
    char *p = t->buf, *save = NULL;
    /* a UTF-8 byte-order mark (ds004100's events.tsv) is not part of the
     * first column's name */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    size_t row = 0;
    for (char *line = strtok_r(p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0)
            continue;
        size_t nf = 1;
        for (char *q = line; *q; q++)
            nf += *q == '\t';
        if (row == 0) {
            if (nf > MAX_COLS) {
                tsv_free(t);
                return vbt__fail(msg, VBT_EFORMAT, "'%s': more than %d columns", path, MAX_COLS);
            }
            t->n_cols = nf;
            t->cell = calloc(lines * nf, sizeof *t->cell);
            if (!t->cell) {
                tsv_free(t);
                return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
            }
        } else if (nf != t->n_cols) {
            size_t nc = t->n_cols;
            tsv_free(t);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': row %zu has %zu fields, the header %zu",
                             path, row + 1, nf, nc);
        }
        char **c = t->cell + row * t->n_cols;
        size_t k = 0;
        c[k++] = line;
        for (char *q = line; *q; q++)
            if (*q == '\t') {
                *q = '\0';
                c[k++] = q + 1;
            }
        row++;
    }
    if (row == 0) {
        tsv_free(t);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': empty, no header row", path);
    }
    t->n_rows = row - 1;
    return VBT_OK;
}

static long tsv_col(const tsv *t, const char *name)
{
    for (size_t j = 0; j < t->n_cols; j++)
        if (strcmp(t->cell[j], name) == 0)
            return (long)j;
    return -1;
}

static const char *tsv_get(const tsv *t, size_t row, long col)
{
    return col < 0 ? NULL : t->cell[(row + 1) * t->n_cols + (size_t)col];
}

static int parse_num(const char *s, double *v)
{
    if (!s || !*s || strcmp(s, "n/a") == 0)
        return -1;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end == s || *end || errno || !isfinite(*v) ? -1 : 0;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- locating files ------------------------------------------------------------ */

static int has_entity(const char *name, const char *key, const char *val)
{
    if (!val)
        return 1;
    char pat[160];
    snprintf(pat, sizeof pat, "%s-%s_", key, val);
    return strstr(name, pat) != NULL;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The *_ieeg.edf/.bdf/.vhdr of root/sub-X[/ses-Y]/ieeg matching q; malloc'd path. */
static int find_ieeg(const char *root, const vbt_bids_query *q, char **out, vbt_msg *msg)
{
    char dir[4096];
    if (!q || !q->sub)
        return vbt__fail(msg, VBT_EINVAL, "'%s': a BIDS root needs a subject (sub)", root);
    if (q->ses) {
        snprintf(dir, sizeof dir, "%s/sub-%s/ses-%s/ieeg", root, q->sub, q->ses);
    } else {
        /* no session given: sub-X/ieeg, else the only sub-X/ses-Y/ieeg */
        snprintf(dir, sizeof dir, "%s/sub-%s/ieeg", root, q->sub);
        struct stat st;
        if (stat(dir, &st) != 0) {
            char sub[4096], only[256] = "";
            size_t nses = 0;
            snprintf(sub, sizeof sub, "%s/sub-%s", root, q->sub);
            DIR *sd = opendir(sub);
            struct dirent *se;
            while (sd && (se = readdir(sd)))
                if (strncmp(se->d_name, "ses-", 4) == 0 && nses++ == 0)
                    snprintf(only, sizeof only, "%.200s", se->d_name);
            if (sd)
                closedir(sd);
            if (nses > 1)
                return vbt__fail(msg, VBT_EINVAL, "'%s': sub-%s has %zu sessions; give ses",
                                 root, q->sub, nses);
            if (nses == 1 &&
                snprintf(dir, sizeof dir, "%s/sub-%s/%s/ieeg", root, q->sub, only) >=
                    (int)sizeof dir)
                return vbt__fail(msg, VBT_ERANGE, "'%s': path too long", root);
        }
    }
    DIR *d = opendir(dir);
    if (!d)
        return vbt__fail(msg, VBT_ENOTFOUND, "'%s': no directory %s", root, dir);
    char found[4096] = "";
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (!(ends_with(nm, "_ieeg.edf") || ends_with(nm, "_ieeg.bdf") ||
              ends_with(nm, "_ieeg.EDF") || ends_with(nm, "_ieeg.vhdr")))
            continue;
        if (!has_entity(nm, "task", q->task) || !has_entity(nm, "run", q->run))
            continue;
        if (n++ == 0 && snprintf(found, sizeof found, "%s/%s", dir, nm) >= (int)sizeof found)
            found[0] = '\0';
    }
    closedir(d);
    if (n == 0)
        return vbt__fail(msg, VBT_ENOTFOUND,
                         "'%s': no *_ieeg.edf, .bdf or .vhdr in %s matches task=%s run=%s", root,
                         dir, q->task ? q->task : "*", q->run ? q->run : "*");
    if (n == 1 && !found[0])
        return vbt__fail(msg, VBT_ERANGE, "'%s': path too long", root);
    if (n > 1)
        return vbt__fail(msg, VBT_EINVAL,
                         "'%s': %zu recordings in %s match; give task and run", root, n, dir);
    *out = strdup(found);
    return *out ? VBT_OK : vbt__fail(msg, VBT_ENOMEM, "out of memory");
}

/* Sidecar "<prefix>_<suffix>" where prefix is the path up to "_ieeg.". */
static void sidecar(const char *ieeg, const char *suffix, char *buf, size_t n)
{
    const char *cut = strstr(ieeg, "_ieeg.");
    size_t len = cut ? (size_t)(cut - ieeg) : strlen(ieeg);
    snprintf(buf, n, "%.*s_%s", (int)len, ieeg, suffix);
}

/* electrodes.tsv in the recording's directory sharing its sub (and ses),
 * with the requested space; first in name order. */
static int find_electrodes(const char *ieeg, const char *space, char *buf, size_t n)
{
    char dir[4096], prefix[256] = "";
    const char *slash = strrchr(ieeg, '/');
    const char *base = slash ? slash + 1 : ieeg;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - ieeg) : 1, slash ? ieeg : ".");
    /* "sub-01_ses-postimp_" */
    const char *p = base;
    for (int k = 0; k < 2 && *p; k++) {
        const char *u = strchr(p, '_');
        if (!u || !(strncmp(p, "sub-", 4) == 0 || strncmp(p, "ses-", 4) == 0))
            break;
        p = u + 1;
    }
    snprintf(prefix, sizeof prefix, "%.*s", (int)(p - base), base);
    struct dirent **list;
    int m = scandir(dir, &list, NULL, alphasort);
    int found = 0;
    for (int i = 0; i < m; i++) {
        const char *nm = list[i]->d_name;
        if (!found && strncmp(nm, prefix, strlen(prefix)) == 0 &&
            ends_with(nm, "_electrodes.tsv") && has_entity(nm, "space", space))
            found = snprintf(buf, n, "%s/%s", dir, nm) < (int)n;
        free(list[i]);
    }
    if (m >= 0)
        free(list);
    return found;
}

/* ---- applying sidecars -------------------------------------------------------------- */

static int apply_channels(vbt_recording *rec, const char *path, int keep_bad, vbt_msg *msg)
{
    tsv t;
    int rc = tsv_read(path, &t, msg);
    if (rc)
        return rc;
    long cn = tsv_col(&t, "name"), ct = tsv_col(&t, "type"), cu = tsv_col(&t, "units"),
         cs = tsv_col(&t, "status"), cg = tsv_col(&t, "group");
    if (cn < 0 || ct < 0 || cu < 0) {
        tsv_free(&t);
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': missing one of the required columns name, type, units", path);
    }
    for (size_t r = 0; r < t.n_rows; r++) {
        const char *name = tsv_get(&t, r, cn);
        size_t k;
        for (k = 0; k < rec->n_chan; k++)
            if (vbt__label_eq(rec->chan[k].label, name))
                break;
        if (k == rec->n_chan) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': channel '%s' (row %zu) is not in the recording '%s'", path,
                           name, r + 2, rec->path);
            tsv_free(&t);
            return rc;
        }
        vbt_rec_channel *c = &rec->chan[k];
        snprintf(c->label, sizeof c->label, "%s", name);
        snprintf(c->type, sizeof c->type, "%s", tsv_get(&t, r, ct));
        for (char *q = c->type; *q; q++)
            *q = (char)toupper((unsigned char)*q);
        const char *u = tsv_get(&t, r, cu);
        if (u && strcmp(u, "n/a") != 0)
            snprintf(c->unit, sizeof c->unit, "%s", u);
        const char *s = tsv_get(&t, r, cs);
        c->bad = s && strcasecmp(s, "bad") == 0;
        const char *g = tsv_get(&t, r, cg);
        if (g && strcmp(g, "n/a") != 0)
            snprintf(c->group, sizeof c->group, "%s", g);
    }
    tsv_free(&t);
    if (!keep_bad) {
        size_t w = 0;
        for (size_t k = 0; k < rec->n_chan; k++)
            if (!rec->chan[k].bad)
                rec->chan[w++] = rec->chan[k];
        rec->n_bad_dropped = rec->n_chan - w;
        rec->n_chan = w;
    }
    return VBT_OK;
}

static int apply_events(vbt_recording *rec, const char *path, vbt_msg *msg)
{
    tsv t;
    int rc = tsv_read(path, &t, msg);
    if (rc)
        return rc;
    int have = 0; /* events.tsv overrides a seizure annotation of the EDF+ file */
    long co = tsv_col(&t, "onset"), cd = tsv_col(&t, "duration"), ctt = tsv_col(&t, "trial_type");
    if (co < 0 || cd < 0) {
        tsv_free(&t);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': missing the onset or duration column", path);
    }
    for (size_t r = 0; r < t.n_rows; r++) {
        double on, du;
        if (parse_num(tsv_get(&t, r, co), &on)) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': row %zu: onset '%s' is not a number", path,
                           r + 2, tsv_get(&t, r, co));
            tsv_free(&t);
            return rc;
        }
        if (parse_num(tsv_get(&t, r, cd), &du))
            du = -1.0;
        const char *tt = ctt >= 0 ? tsv_get(&t, r, ctt) : "";
        if (vbt__rec_add_annotation(rec, on, du, tt)) {
            tsv_free(&t);
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        }
        if (!have && vbt__is_seizure_text(tt)) {
            have = 1;
            rec->sz_onset = on;
            rec->sz_offset = du > 0 ? on + du : NAN;
        }
    }
    tsv_free(&t);
    return VBT_OK;
}

static int apply_electrodes(vbt_recording *rec, const char *path, vbt_msg *msg)
{
    tsv t;
    int rc = tsv_read(path, &t, msg);
    if (rc)
        return rc;
    long cn = tsv_col(&t, "name"), cx = tsv_col(&t, "x"), cy = tsv_col(&t, "y"),
         cz = tsv_col(&t, "z");
    if (cn < 0 || cx < 0 || cy < 0 || cz < 0) {
        tsv_free(&t);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': missing one of the columns name, x, y, z",
                         path);
    }
    for (size_t r = 0; r < t.n_rows; r++) {
        double x[3];
        if (parse_num(tsv_get(&t, r, cx), &x[0]) || parse_num(tsv_get(&t, r, cy), &x[1]) ||
            parse_num(tsv_get(&t, r, cz), &x[2]))
            continue; /* "n/a" positions are allowed by BIDS */
        for (size_t k = 0; k < rec->n_chan; k++)
            if (vbt__label_eq(rec->chan[k].label, tsv_get(&t, r, cn))) {
                memcpy(rec->chan[k].xyz, x, sizeof x);
                rec->chan[k].has_xyz = 1;
            }
    }
    tsv_free(&t);
    return VBT_OK;
}

static void read_coordsystem(vbt_recording *rec, const char *electrodes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", electrodes);
    char *cut = strstr(path, "_electrodes.tsv");
    if (!cut)
        return;
    snprintf(cut, sizeof path - (size_t)(cut - path), "_coordsystem.json");
    char *buf;
    size_t len;
    vbt_msg m;
    if (vbt_file_read_all(path, &buf, &len, 1u << 20, &m))
        return;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "iEEGCoordinateSystem");
    if (cJSON_IsString(cs))
        snprintf(rec->coord_system, sizeof rec->coord_system, "%s", cs->valuestring);
    cJSON_Delete(j);
}

int vbt_recording_open_bids(vbt_recording **out, const char *path, const vbt_bids_query *q,
                            vbt_msg *msg)
{
    static const vbt_bids_query none = {0};
    char *ieeg = NULL, side[4096];
    struct stat st;
    int rc;

    if (!out || !path)
        return vbt__fail(msg, VBT_EINVAL, "bids: NULL argument");
    *out = NULL;
    if (!q)
        q = &none;
    if (stat(path, &st) != 0)
        return vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if ((rc = find_ieeg(path, q, &ieeg, msg)))
            return rc;
    } else if (!(ieeg = strdup(path))) {
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    vbt_recording *rec;
    if ((rc = vbt_recording_open(&rec, ieeg, msg))) {
        free(ieeg);
        return rc;
    }
    sidecar(ieeg, "channels.tsv", side, sizeof side);
    if (file_exists(side) && ((rc = apply_channels(rec, side, q->keep_bad, msg)) ||
                              (rc = vbt__rec_check_text(rec, msg))))
        goto fail;
    sidecar(ieeg, "events.tsv", side, sizeof side);
    if (file_exists(side) && (rc = apply_events(rec, side, msg)))
        goto fail;
    if (find_electrodes(ieeg, q->space, side, sizeof side)) {
        if ((rc = apply_electrodes(rec, side, msg)))
            goto fail;
        read_coordsystem(rec, side);
    }
    free(ieeg);
    *out = rec;
    return VBT_OK;
fail:
    free(ieeg);
    vbt_recording_free(rec);
    return rc;
}


/* ---- which seizure (vbt_patient.h) ---------------------------------------------- */

/* 1 when `word` occurs in low as a whole word (delimited by non-letters). */
static int has_word(const char *low, const char *word)
{
    size_t n = strlen(word);
    for (const char *q = strstr(low, word); q; q = strstr(q + 1, word))
        if ((q == low || !isalpha((unsigned char)q[-1])) && !isalpha((unsigned char)q[n]))
            return 1;
    return 0;
}

int vbt_event_kind(const char *text)
{
    if (!text)
        return VBT_EVENT_OTHER;
    char low[160];
    size_t i;
    for (i = 0; text[i] && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)text[i]);
    low[i] = '\0';
    if (strstr(low, "offset") || strstr(low, "termination") || has_word(low, "end") ||
        has_word(low, "stop"))
        return VBT_EVENT_OFFSET;
    if (strstr(low, "seizure") || strstr(low, "onset") || has_word(low, "sz"))
        return VBT_EVENT_ONSET;
    return VBT_EVENT_OTHER;
}

void vbt_seizure_choice_default(vbt_seizure_choice *c)
{
    *c = (vbt_seizure_choice){.index = 0, .onset_s = NAN, .offset_s = NAN, .require = 1};
}

/* One event: onset, duration (< 0: none), text (borrowed). */
typedef struct sz_event {
    double on, dur;
    const char *text;
    int kind;
} sz_event;

/* Append "'text'" to buf (at most 40 bytes of it) unless already listed. */
static void list_text(char *buf, size_t n, const char *text)
{
    char item[64];
    snprintf(item, sizeof item, "'%.40s'", text && *text ? text : "(empty)");
    if (strstr(buf, item))
        return;
    size_t l = strlen(buf);
    if (l + strlen(item) + 8 >= n) {
        if (!strstr(buf, "..."))
            snprintf(buf + l, n - l, "%s...", l ? ", " : "");
        return;
    }
    snprintf(buf + l, n - l, "%s%s", l ? ", " : "", item);
}

static int set_checked(vbt_recording *rec, const char *file, double on, double off,
                       vbt_msg *msg)
{
    double dur = vbt_recording_duration_s(rec);
    if (!(on >= 0) || (dur > 0 && on >= dur))
        return vbt__fail(msg, VBT_EINVAL, "'%s': the seizure onset %g s is outside the "
                         "recording (0 to %g s)", file, on, dur);
    if (!isnan(off) && !(off > on))
        return vbt__fail(msg, VBT_EINVAL, "'%s': the seizure offset %g s does not follow the "
                         "onset %g s", file, off, on);
    if (!isnan(off) && dur > 0 && off > dur)
        off = dur; /* a seizure that outlasts the recording ends with it */
    vbt_recording_set_seizure(rec, on, off);
    return VBT_OK;
}

int vbt_recording_choose_seizure(vbt_recording *rec, const vbt_seizure_choice *c,
                                 size_t *n_onsets, vbt_msg *msg)
{
    vbt_seizure_choice def;
    if (!c) {
        vbt_seizure_choice_default(&def);
        c = &def;
    }
    if (n_onsets)
        *n_onsets = 0;
    const char *path = vbt_recording_path(rec);
    char side[4096];
    sidecar(path, "events.tsv", side, sizeof side);
    int has_tsv = !c->no_events_tsv && strstr(path, "_ieeg.") && file_exists(side);
    if (!isnan(c->onset_s))
        return set_checked(rec, path, c->onset_s, c->offset_s, msg);
    /* the events: events.tsv's rows, else the recording's own annotations */
    tsv t = {0};
    sz_event *ev = NULL;
    size_t n = 0;
    int rc = VBT_OK;
    if (has_tsv) {
        if ((rc = tsv_read(side, &t, msg)))
            return rc;
        long co = tsv_col(&t, "onset"), cd = tsv_col(&t, "duration"),
             ctt = tsv_col(&t, "trial_type");
        if (!(ev = calloc(t.n_rows ? t.n_rows : 1, sizeof *ev))) {
            tsv_free(&t);
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", side);
        }
        for (size_t r = 0; r < t.n_rows; r++) {
            double on, du;
            if (co < 0 || parse_num(tsv_get(&t, r, co), &on))
                continue;
            if (cd < 0 || parse_num(tsv_get(&t, r, cd), &du))
                du = -1.0;
            const char *tt = ctt >= 0 ? tsv_get(&t, r, ctt) : "";
            ev[n++] = (sz_event){on, du, tt, vbt_event_kind(tt)};
        }
    } else {
        size_t na = vbt_recording_n_annotations(rec);
        if (!(ev = calloc(na ? na : 1, sizeof *ev)))
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        for (size_t i = 0; i < na; i++) {
            const vbt_annotation *a = vbt_recording_annotation(rec, i);
            ev[n++] = (sz_event){a->onset_s, a->duration_s, a->text, vbt_event_kind(a->text)};
        }
    }
    const char *file = has_tsv ? side : path;
    size_t n_on = 0, pick = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        n_on += ev[i].kind == VBT_EVENT_ONSET;
    if (n_onsets)
        *n_onsets = n_on;
    char list[1200] = "";
    if (n_on == 0) {
        for (size_t i = 0; i < n; i++)
            list_text(list, sizeof list, ev[i].text);
        if (has_tsv)
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': no seizure onset among its %s%s%s; give "
                           "the onset with --onset SECONDS", file,
                           n ? "trial_types (" : "events (none)", list, n ? ")" : "");
        else if (c->require)
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': no seizure onset: no events.tsv beside it "
                           "and no seizure-onset annotation in it%s%s%s; give the onset with "
                           "--onset SECONDS", file, n ? " (annotations: " : "", list,
                           n ? ")" : "");
        else
            vbt_recording_set_seizure(rec, NAN, NAN); /* the whole recording */
        goto out;
    }
    if (c->index > n_on) {
        rc = vbt__fail(msg, VBT_EINVAL, "'%s': --seizure %zu, but it marks %zu seizure "
                       "onset(s)", file, c->index, n_on);
        goto out;
    }
    if (n_on > 1 && c->index == 0) {
        size_t k = 0, l = 0;
        for (size_t i = 0; i < n && l + 80 < sizeof list; i++)
            if (ev[i].kind == VBT_EVENT_ONSET) {
                k++;
                l += (size_t)snprintf(list + l, sizeof list - l, "%s%zu: '%.40s' at %g s",
                                      k > 1 ? ", " : "", k, ev[i].text, ev[i].on);
            }
        rc = vbt__fail(msg, VBT_EINVAL, "'%s': %zu seizure onsets (%s); choose one with "
                       "--seizure N", file, n_on, list);
        goto out;
    }
    for (size_t i = 0, k = 0; i < n && pick == SIZE_MAX; i++)
        if (ev[i].kind == VBT_EVENT_ONSET && ++k == (c->index ? c->index : 1))
            pick = i;
    double on = ev[pick].on, off = c->offset_s;
    if (isnan(off) && ev[pick].dur > 0)
        off = on + ev[pick].dur;
    /* else the first offset event after the onset, before the next onset */
    for (size_t i = pick + 1; isnan(off) && i < n && ev[i].kind != VBT_EVENT_ONSET; i++)
        if (ev[i].kind == VBT_EVENT_OFFSET && ev[i].on > on)
            off = ev[i].on;
    rc = set_checked(rec, file, on, off, msg);
out:
    free(ev);
    tsv_free(&t);
    return rc;
}

/* ---- shared with the cohort reader (bids_internal.h) ---------------------------- */

int vbt__tsv_read(const char *path, vbt__tsv *t, vbt_msg *msg)
{
    return tsv_read(path, t, msg);
}

void vbt__tsv_free(vbt__tsv *t)
{
    tsv_free(t);
}

long vbt__tsv_col(const vbt__tsv *t, const char *name)
{
    return tsv_col(t, name);
}

const char *vbt__tsv_get(const vbt__tsv *t, size_t row, long col)
{
    return tsv_get(t, row, col);
}
