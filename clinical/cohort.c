/* cohort.c -- a multi-subject BIDS-iEEG dataset read into typed subjects and
 * runs (vbt_cohort.h), event names normalised, contacts localised on the
 * atlas.  Only sidecars are read; signals are opened by the pipeline. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "bids_internal.h"
#include "vbt_cohort.h"
#include "vbt_connectome.h"
#include "vbt_connectome_build.h"
#include "vbt_gain.h"
#include "vbt_io.h"
#include "vbt_parcellation.h"

/* ---- small helpers ------------------------------------------------------------ */

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

static char *dupstr(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *joinp(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        fmt(s, n, "%s/%s", a, b);
    return s;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Copy src into dst[n] without leading/trailing blanks. */
static void trim_copy(char *dst, size_t n, const char *src)
{
    if (!src)
        src = "";
    while (*src && isspace((unsigned char)*src))
        src++;
    size_t l = strlen(src);
    while (l && isspace((unsigned char)src[l - 1]))
        l--;
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir that start with prefix (and, when want_dir, are
 * folders).  NULL list with *n 0 when none or on failure. */
static char **list_dir(const char *dir, const char *prefix, int want_dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || e->d_name[0] == '.')
            continue;
        char *full = joinp(dir, e->d_name);
        int ok = full && (want_dir ? is_dir(full) : 1);
        free(full);
        if (!ok)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        if (!(v[*n] = dupstr(e->d_name)))
            break;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int parse_num(const char *s, double *v)
{
    if (!s || !*s || strcmp(s, "n/a") == 0)
        return -1;
    char *end;
    *v = strtod(s, &end);
    while (*end && isspace((unsigned char)*end))
        end++;
    return end == s || *end || !isfinite(*v) ? -1 : 0;
}

/* ---- events ------------------------------------------------------------------- */

/* Normalised spellings (docs/cohort.md lists them). */
static const char *const onset_names[] = {
    "sz onset", "seizure onset", "onset", "sz start", "seizure start", "seizure", "sz",
    "eeg onset", "eo", "electrographic onset", "ueo", "clinical onset", "co", "ictal onset",
    "sz begin", "seizure begin", "start of seizure", "onset of seizure", NULL};
static const char *const offset_names[] = {
    "sz offset", "seizure offset", "offset", "sz end", "seizure end", "end of seizure",
    "sz stop", "seizure stop", "eeg offset", "ictal offset", "termination", "sz termination",
    NULL};

vbt_cohort_event_kind vbt_cohort_event_classify(const char *text)
{
    if (!text)
        return VBT_COHORT_EVENT_OTHER;
    char b[64];
    size_t n = 0;
    int blank = 1;   /* drop leading separators */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        int sep = isspace(*p) || *p == '_' || *p == '-' || *p == '.' || *p == ':';
        if (sep) {
            if (!blank && n < sizeof b - 1)
                b[n++] = ' ';
            blank = 1;
        } else {
            if (n >= sizeof b - 1)
                return VBT_COHORT_EVENT_OTHER;
            b[n++] = (char)tolower(*p);
            blank = 0;
        }
    }
    while (n && b[n - 1] == ' ')
        n--;
    b[n] = '\0';
    for (size_t i = 0; onset_names[i]; i++)
        if (strcmp(b, onset_names[i]) == 0)
            return VBT_COHORT_EVENT_ONSET;
    for (size_t i = 0; offset_names[i]; i++)
        if (strcmp(b, offset_names[i]) == 0)
            return VBT_COHORT_EVENT_OFFSET;
    return VBT_COHORT_EVENT_OTHER;
}

const char *vbt_cohort_outcome_name(vbt_cohort_outcome o)
{
    switch (o) {
    case VBT_COHORT_OUTCOME_FREE: return "free";
    case VBT_COHORT_OUTCOME_NOT_FREE: return "not_free";
    default: return "unknown";
    }
}

/* ---- freeing ------------------------------------------------------------------ */

static void run_clear(vbt_cohort_run *r)
{
    free(r->name);
    free(r->ses);
    free(r->task);
    free(r->acq);
    free(r->run);
    free(r->ieeg_dir);
    free(r->edf);
    free(r->channels_tsv);
    free(r->events_tsv);
    free(r->skip);
    free(r->channels);
}

static void subject_clear(vbt_cohort_subject *s)
{
    free(s->id);
    free(s->dir);
    free(s->problem);
    free(s->electrodes_tsv);
    free(s->coordsystem_json);
    free(s->contacts);
    for (size_t i = 0; i < s->n_runs; i++)
        run_clear(&s->runs[i]);
    free(s->runs);
}

void vbt_cohort_free(vbt_cohort *c)
{
    if (!c)
        return;
    free(c->root);
    for (size_t i = 0; i < c->n_subjects; i++)
        subject_clear(&c->subjects[i]);
    free(c->subjects);
    free_list(c->notes, c->n_notes);
    free(c);
}

long vbt_cohort_find(const vbt_cohort *c, const char *id)
{
    if (!c || !id)
        return -1;
    char want[128];
    trim_copy(want, sizeof want, strncmp(id, "sub-", 4) == 0 ? id + 4 : id);
    for (size_t i = 0; i < c->n_subjects; i++)
        if (strcmp(c->subjects[i].id, want) == 0)
            return (long)i;
    return -1;
}

/* ---- reading one subject ------------------------------------------------------ */

/* Value of entity key ("task") in a file name's entities, malloc'd, or NULL. */
static char *entity(const char *name, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = name; (p = strstr(p, key)); p++) {
        if ((p == name || p[-1] == '_') && p[kl] == '-') {
            const char *v = p + kl + 1, *e = strchr(v, '_');
            size_t l = e ? (size_t)(e - v) : strlen(v);
            char *s = malloc(l + 1);
            if (s) {
                memcpy(s, v, l);
                s[l] = '\0';
            }
            return s;
        }
    }
    return NULL;
}

static int set_problem(char **slot, const char *form, const char *arg)
{
    char b[512];
    fmt(b, sizeof b, form, arg);
    free(*slot);
    *slot = dupstr(b);
    return *slot ? VBT_OK : VBT_ENOMEM;
}

static int read_channels(vbt_cohort_run *r, vbt_msg *msg)
{
    vbt__tsv t;
    int rc = vbt__tsv_read(r->channels_tsv, &t, msg);
    if (rc)
        return rc;
    long cn = vbt__tsv_col(&t, "name"), ct = vbt__tsv_col(&t, "type"),
         cs = vbt__tsv_col(&t, "status"), cd = vbt__tsv_col(&t, "status_description");
    if (cn < 0) {
        vbt__tsv_free(&t);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': no 'name' column", r->channels_tsv);
    }
    r->channels = calloc(t.n_rows ? t.n_rows : 1, sizeof *r->channels);
    if (!r->channels) {
        vbt__tsv_free(&t);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t.n_rows; i++) {
        vbt_cohort_channel *c = &r->channels[r->n_channels++];
        trim_copy(c->name, sizeof c->name, vbt__tsv_get(&t, i, cn));
        trim_copy(c->type, sizeof c->type, ct >= 0 ? vbt__tsv_get(&t, i, ct) : "n/a");
        char st[32], d[128];
        trim_copy(st, sizeof st, vbt__tsv_get(&t, i, cs));
        c->bad = strcasecmp(st, "bad") == 0;
        trim_copy(d, sizeof d, vbt__tsv_get(&t, i, cd));
        for (char *q = d; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        /* status_description is a comma list: "soz", "resect", "resect,soz" */
        for (char *save = NULL, *tok = strtok_r(d, ",; ", &save); tok;
             tok = strtok_r(NULL, ",; ", &save)) {
            if (strcmp(tok, "soz") == 0)
                c->soz = 1;
            else if (strncmp(tok, "resect", 6) == 0 || strncmp(tok, "ablat", 5) == 0)
                c->resect = 1;
        }
    }
    vbt__tsv_free(&t);
    return VBT_OK;
}

static int read_events(vbt_cohort_run *r, vbt_msg *msg)
{
    vbt__tsv t;
    int rc = vbt__tsv_read(r->events_tsv, &t, msg);
    if (rc)
        return rc;
    long co = vbt__tsv_col(&t, "onset"), cd = vbt__tsv_col(&t, "duration"),
         ct = vbt__tsv_col(&t, "trial_type");
    if (ct < 0)
        ct = vbt__tsv_col(&t, "value");
    if (co < 0 || ct < 0) {
        vbt__tsv_free(&t);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': needs the columns onset and trial_type",
                         r->events_tsv);
    }
    double dur = NAN;
    for (size_t i = 0; i < t.n_rows; i++) {
        const char *txt = vbt__tsv_get(&t, i, ct);
        vbt_cohort_event_kind k = vbt_cohort_event_classify(txt);
        double on;
        if (k == VBT_COHORT_EVENT_OTHER || parse_num(vbt__tsv_get(&t, i, co), &on))
            continue;
        if (k == VBT_COHORT_EVENT_ONSET && isnan(r->onset_s)) {
            r->onset_s = on;
            trim_copy(r->onset_text, sizeof r->onset_text, txt);
            if (cd >= 0 && parse_num(vbt__tsv_get(&t, i, cd), &dur) == 0 && dur <= 0)
                dur = NAN;
        } else if (k == VBT_COHORT_EVENT_OFFSET && !isnan(r->onset_s) && isnan(r->offset_s) &&
                   on > r->onset_s) {
            r->offset_s = on;
        }
    }
    if (!isnan(r->onset_s) && isnan(r->offset_s) && !isnan(dur))
        r->offset_s = r->onset_s + dur;
    vbt__tsv_free(&t);
    return VBT_OK;
}

/* A run from its entity string (after "sub-ID_"), in ieeg_dir. */
static int add_run(vbt_cohort_subject *s, const char *ieeg_dir, const char *ents, vbt_msg *msg)
{
    for (size_t i = 0; i < s->n_runs; i++)
        if (strcmp(s->runs[i].name, ents) == 0)
            return VBT_OK;
    vbt_cohort_run *nr = realloc(s->runs, (s->n_runs + 1) * sizeof *nr);
    if (!nr)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    s->runs = nr;
    vbt_cohort_run *r = &s->runs[s->n_runs++];
    memset(r, 0, sizeof *r);
    r->onset_s = r->offset_s = NAN;
    char base[1024], path[2048];
    fmt(base, sizeof base, "%s/sub-%s_%s", ieeg_dir, s->id, ents);
    r->name = dupstr(ents);
    r->ses = entity(ents, "ses");
    r->task = entity(ents, "task");
    r->acq = entity(ents, "acq");
    r->run = entity(ents, "run");
    r->ieeg_dir = dupstr(ieeg_dir);
    fmt(path, sizeof path, "%s_ieeg.edf", base);
    for (const char *ext = "bdf"; !is_file(path) && ext; ext = strcmp(ext, "bdf") ? NULL : "vhdr") {
        char alt[2048];
        fmt(alt, sizeof alt, "%s_ieeg.%s", base, ext);
        if (is_file(alt))
            fmt(path, sizeof path, "%s", alt);
    }
    r->edf = dupstr(path);
    r->has_signal = is_file(path);
    fmt(path, sizeof path, "%s_channels.tsv", base);
    if (is_file(path))
        r->channels_tsv = dupstr(path);
    fmt(path, sizeof path, "%s_events.tsv", base);
    if (is_file(path))
        r->events_tsv = dupstr(path);
    if (!r->name || !r->ieeg_dir || !r->edf)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    int rc;
    if (r->channels_tsv && (rc = read_channels(r, msg)))
        return rc;
    if (r->events_tsv && (rc = read_events(r, msg)))
        return rc;
    int interictal = r->task && strstr(r->task, "interictal") != NULL;
    r->ictal = (!interictal && r->task && strstr(r->task, "ictal")) || !isnan(r->onset_s);
    if (!r->ictal)
        return set_problem(&r->skip, "not an ictal run (task-%s)", r->task ? r->task : "n/a");
    if (!r->events_tsv)
        return set_problem(&r->skip, "%sno events.tsv: no seizure onset", "");
    if (isnan(r->onset_s))
        return set_problem(&r->skip, "no recognisable seizure onset in %s",
                           strrchr(r->events_tsv, '/') + 1);
    if (!r->channels_tsv)
        return set_problem(&r->skip, "%sno channels.tsv", "");
    return VBT_OK;
}

/* coordsystem.json: space and units. */
static void read_coordsystem(vbt_cohort_subject *s)
{
    char *text = NULL;
    size_t len;
    vbt_msg m;
    if (!s->coordsystem_json || vbt_file_read_all(s->coordsystem_json, &text, &len, 1u << 20, &m))
        return;
    const char *t = text;
    if (len >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0)
        t += 3;
    cJSON *j = cJSON_Parse(t);
    free(text);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "iEEGCoordinateSystem");
    const cJSON *un = cJSON_GetObjectItemCaseSensitive(j, "iEEGCoordinateUnits");
    if (cJSON_IsString(sp))
        trim_copy(s->space, sizeof s->space, sp->valuestring);
    if (cJSON_IsString(un))
        trim_copy(s->units, sizeof s->units, un->valuestring);
    cJSON_Delete(j);
}

/* electrodes.tsv in mm.  The unit rule: a head fits in 0.25 m; positions
 * declared in m (or cm) whose largest magnitude exceeds 1 (or 30) are
 * millimetres whatever the sidecar says, and unit_note records it. */
static int read_electrodes(vbt_cohort_subject *s, vbt_msg *msg)
{
    vbt__tsv t;
    int rc = vbt__tsv_read(s->electrodes_tsv, &t, msg);
    if (rc)
        return rc;
    long cn = vbt__tsv_col(&t, "name"), cx = vbt__tsv_col(&t, "x"), cy = vbt__tsv_col(&t, "y"),
         cz = vbt__tsv_col(&t, "z");
    if (cn < 0 || cx < 0 || cy < 0 || cz < 0) {
        vbt__tsv_free(&t);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': needs the columns name, x, y, z",
                         s->electrodes_tsv);
    }
    s->contacts = calloc(t.n_rows ? t.n_rows : 1, sizeof *s->contacts);
    if (!s->contacts) {
        vbt__tsv_free(&t);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    double amax = 0;
    for (size_t i = 0; i < t.n_rows; i++) {
        vbt_cohort_contact *c = &s->contacts[s->n_contacts++];
        trim_copy(c->name, sizeof c->name, vbt__tsv_get(&t, i, cn));
        long col[3] = {cx, cy, cz};
        c->has_xyz = 1;
        for (int k = 0; k < 3; k++)
            if (parse_num(vbt__tsv_get(&t, i, col[k]), &c->xyz_mm[k]))
                c->has_xyz = 0;
        if (c->has_xyz)
            for (int k = 0; k < 3; k++)
                amax = fmax(amax, fabs(c->xyz_mm[k]));
    }
    vbt__tsv_free(&t);
    double scale = 1;
    const char *u = s->units;
    if (strcmp(u, "m") == 0) {
        if (amax > 1.0)
            fmt(s->unit_note, sizeof s->unit_note,
                     "units 'm' but |values| up to %.1f: read as mm", amax);
        else
            scale = 1000;
    } else if (strcmp(u, "cm") == 0) {
        if (amax > 30.0)
            fmt(s->unit_note, sizeof s->unit_note,
                     "units 'cm' but |values| up to %.1f: read as mm", amax);
        else
            scale = 10;
    }
    for (size_t i = 0; i < s->n_contacts; i++)
        for (int k = 0; k < 3; k++)
            s->contacts[i].xyz_mm[k] *= scale;
    return VBT_OK;
}

static int read_subject(vbt_cohort *c, vbt_cohort_subject *s, vbt_msg *msg)
{
    char sub[160];
    fmt(sub, sizeof sub, "sub-%s", s->id);
    char *dir = joinp(c->root, sub);
    if (!dir)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    if (!is_dir(dir)) {
        free(dir);
        return set_problem(&s->problem, "listed in participants.tsv but has no files%s", "");
    }
    s->dir = dir;
    size_t n_ses;
    char **ses = list_dir(dir, "ses-", 1, &n_ses);
    /* sessions, or the subject folder itself when it has none */
    size_t n_loop = n_ses ? n_ses : 1;
    int rc = VBT_OK;
    for (size_t k = 0; k < n_loop && !rc; k++) {
        char *sesdir = n_ses ? joinp(dir, ses[k]) : dupstr(dir);
        char *ieeg = sesdir ? joinp(sesdir, "ieeg") : NULL;
        free(sesdir);
        if (!ieeg) {
            rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
            break;
        }
        size_t n_f;
        char **f = list_dir(ieeg, sub, 0, &n_f);
        size_t pl = strlen(sub) + 1;
        for (size_t i = 0; i < n_f && !rc; i++) {
            const char *nm = f[i];
            if (strlen(nm) <= pl || nm[pl - 1] != '_')
                continue;
            const char *suf[] = {"_channels.tsv", "_ieeg.edf", "_ieeg.bdf", "_ieeg.vhdr"};
            for (size_t q = 0; q < sizeof suf / sizeof *suf && !rc; q++)
                if (ends_with(nm, suf[q])) {
                    char ents[512];
                    size_t l = strlen(nm) - pl - strlen(suf[q]);
                    if (l >= sizeof ents)
                        continue;
                    memcpy(ents, nm + pl, l);
                    ents[l] = '\0';
                    rc = add_run(s, ieeg, ents, msg);
                }
            if (!rc && !s->electrodes_tsv && ends_with(nm, "_electrodes.tsv")) {
                s->electrodes_tsv = joinp(ieeg, nm);
                char cs[1024];
                fmt(cs, sizeof cs, "%s/%.*s_coordsystem.json", ieeg,
                         (int)(strlen(nm) - strlen("_electrodes.tsv")), nm);
                if (is_file(cs))
                    s->coordsystem_json = dupstr(cs);
            }
        }
        free_list(f, n_f);
        free(ieeg);
    }
    free_list(ses, n_ses);
    if (rc)
        return rc;
    /* runs sorted by name */
    for (size_t i = 1; i < s->n_runs; i++)
        for (size_t j = i; j > 0 && strcmp(s->runs[j - 1].name, s->runs[j].name) > 0; j--) {
            vbt_cohort_run tmp = s->runs[j];
            s->runs[j] = s->runs[j - 1];
            s->runs[j - 1] = tmp;
        }
    if (s->electrodes_tsv) {
        read_coordsystem(s);
        if ((rc = read_electrodes(s, msg)))
            return rc;
    } else {
        return set_problem(&s->problem, "no electrodes.tsv%s", "");
    }
    size_t usable = 0;
    for (size_t i = 0; i < s->n_runs; i++)
        usable += s->runs[i].skip == NULL;
    if (!usable)
        return set_problem(&s->problem, "no ictal run with a recognisable seizure onset%s", "");
    return VBT_OK;
}

static int add_subject(vbt_cohort *c, const char *id, size_t *cap, vbt_msg *msg)
{
    if (c->n_subjects == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        vbt_cohort_subject *ns = realloc(c->subjects, nc * sizeof *ns);
        if (!ns)
            return vbt__fail(msg, VBT_ENOMEM, "out of memory");
        c->subjects = ns;
        *cap = nc;
    }
    vbt_cohort_subject *s = &c->subjects[c->n_subjects++];
    memset(s, 0, sizeof *s);
    char b[128];
    trim_copy(b, sizeof b, strncmp(id, "sub-", 4) == 0 ? id + 4 : id);
    if (!(s->id = dupstr(b)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    return VBT_OK;
}

static int add_note(vbt_cohort *c, const char *text)
{
    char **nv = realloc(c->notes, (c->n_notes + 1) * sizeof *nv);
    if (!nv)
        return VBT_ENOMEM;
    c->notes = nv;
    if (!(nv[c->n_notes] = dupstr(text)))
        return VBT_ENOMEM;
    c->n_notes++;
    return VBT_OK;
}

static vbt_cohort_outcome parse_outcome(const char *o, const char *engel, const char *ilae)
{
    if (o && (strcasecmp(o, "S") == 0 || strcasecmp(o, "free") == 0 ||
              strcasecmp(o, "seizure-free") == 0))
        return VBT_COHORT_OUTCOME_FREE;
    if (o && (strcasecmp(o, "F") == 0 || strcasecmp(o, "not_free") == 0 ||
              strcasecmp(o, "failure") == 0))
        return VBT_COHORT_OUTCOME_NOT_FREE;
    /* Engel I, or ILAE 1-2, is seizure free */
    if (engel && *engel && strcmp(engel, "n/a")) {
        if (engel[0] == '1' || (engel[0] == 'I' && (engel[1] == '\0' || engel[1] != 'I')))
            return VBT_COHORT_OUTCOME_FREE;
        if (isdigit((unsigned char)engel[0]) || engel[0] == 'I')
            return VBT_COHORT_OUTCOME_NOT_FREE;
    }
    if (ilae && isdigit((unsigned char)ilae[0]))
        return ilae[0] <= '2' ? VBT_COHORT_OUTCOME_FREE : VBT_COHORT_OUTCOME_NOT_FREE;
    return VBT_COHORT_OUTCOME_UNKNOWN;
}

int vbt_cohort_load(vbt_cohort **out, const char *root, vbt_msg *msg)
{
    if (!out || !root)
        return vbt__fail(msg, VBT_EINVAL, "vbt_cohort_load: NULL argument");
    *out = NULL;
    if (!is_dir(root))
        return vbt__fail(msg, VBT_EIO, "'%s': no such folder", root);
    vbt_cohort *c = calloc(1, sizeof *c);
    if (!c || !(c->root = dupstr(root))) {
        free(c);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    size_t cap = 0, n_dirs = 0;
    int rc = VBT_OK;
    char **dirs = list_dir(root, "sub-", 1, &n_dirs);
    char *pt = joinp(root, "participants.tsv");
    if (!pt) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto fail;
    }
    if (is_file(pt)) {
        vbt__tsv t;
        if ((rc = vbt__tsv_read(pt, &t, msg)))
            goto fail;
        long ci = vbt__tsv_col(&t, "participant_id"), co = vbt__tsv_col(&t, "outcome"),
             ce = vbt__tsv_col(&t, "engel"), cl = vbt__tsv_col(&t, "ilae"),
             ct = vbt__tsv_col(&t, "therapy"), cm = vbt__tsv_col(&t, "implant");
        if (ci < 0) {
            vbt__tsv_free(&t);
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': no participant_id column", pt);
            goto fail;
        }
        for (size_t i = 0; i < t.n_rows && !rc; i++) {
            const char *id = vbt__tsv_get(&t, i, ci);
            char raw[128];
            fmt(raw, sizeof raw, "%s", id);
            trim_copy(raw, sizeof raw, id);
            if (!*raw || vbt_cohort_find(c, raw) >= 0)
                continue;
            if ((rc = add_subject(c, raw, &cap, msg)))
                break;
            vbt_cohort_subject *s = &c->subjects[c->n_subjects - 1];
            if (strlen(raw) != strlen(id)) {
                char note[256];
                fmt(note, sizeof note, "participants.tsv: id '%s' has blanks around it",
                         raw);
                if (add_note(c, note)) {
                    rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
                    break;
                }
            }
            trim_copy(s->outcome_text, sizeof s->outcome_text,
                      co >= 0 ? vbt__tsv_get(&t, i, co) : "n/a");
            trim_copy(s->engel, sizeof s->engel, ce >= 0 ? vbt__tsv_get(&t, i, ce) : "");
            trim_copy(s->ilae, sizeof s->ilae, cl >= 0 ? vbt__tsv_get(&t, i, cl) : "");
            trim_copy(s->therapy, sizeof s->therapy, ct >= 0 ? vbt__tsv_get(&t, i, ct) : "");
            trim_copy(s->implant, sizeof s->implant, cm >= 0 ? vbt__tsv_get(&t, i, cm) : "");
            s->outcome = parse_outcome(s->outcome_text, s->engel, s->ilae);
        }
        vbt__tsv_free(&t);
        if (rc)
            goto fail;
    }
    for (size_t i = 0; i < n_dirs && !rc; i++)
        if (vbt_cohort_find(c, dirs[i]) < 0) {
            rc = add_subject(c, dirs[i], &cap, msg);
            if (!rc && c->n_subjects)
                fmt(c->subjects[c->n_subjects - 1].outcome_text,
                         sizeof c->subjects[0].outcome_text, "n/a");
        }
    if (rc)
        goto fail;
    if (c->n_subjects == 0) {
        rc = vbt__fail(msg, VBT_ENOTFOUND, "'%s': neither participants.tsv nor any sub-* folder",
                       root);
        goto fail;
    }
    for (size_t i = 0; i < c->n_subjects && !rc; i++)
        rc = read_subject(c, &c->subjects[i], msg);
    if (rc)
        goto fail;
    free(pt);
    free_list(dirs, n_dirs);
    *out = c;
    return VBT_OK;
fail:
    free(pt);
    free_list(dirs, n_dirs);
    vbt_cohort_free(c);
    return rc;
}

/* ---- the atlas path ------------------------------------------------------------- */

void vbt_cohort_localisation_free(vbt_cohort_localisation *l)
{
    if (!l)
        return;
    free(l->region_names);
    free(l->contact);
    free(l->region);
    free(l->dist_mm);
    free(l);
}

int vbt_cohort_localise(vbt_cohort_localisation **out, const vbt_cohort_subject *s,
                        const vbt_cohort_atlas *a, vbt_msg *msg)
{
    if (!out || !s || !a || !a->connectome)
        return vbt__fail(msg, VBT_EINVAL, "vbt_cohort_localise: NULL argument or no connectome");
    *out = NULL;
    vbt_connectome *conn = NULL;
    vbt_parcellation *par = NULL;
    char **names = NULL;
    size_t n_par = 0;
    long *par_to_conn = NULL;
    double *cen = NULL;
    int rc = vbt_connectome_load(&conn, a->connectome, msg);
    if (rc)
        return rc;
    vbt_cohort_localisation *l = calloc(1, sizeof *l);
    if (!l)
        goto nomem;
    l->n_regions = conn->n;
    l->n_contacts = s->n_contacts;
    size_t nc = s->n_contacts ? s->n_contacts : 1;
    l->region_names = calloc(conn->n, sizeof *l->region_names);
    l->contact = calloc(nc, sizeof *l->contact);
    l->region = calloc(nc, sizeof *l->region);
    l->dist_mm = calloc(nc, sizeof *l->dist_mm);
    if (!l->region_names || !l->contact || !l->region || !l->dist_mm)
        goto nomem;
    for (size_t r = 0; r < conn->n; r++)
        memcpy(l->region_names[r], conn->labels[r], VBT_LABEL_MAX);
    if (a->parcellation) {
        if ((rc = vbt_parcellation_load(&par, a->parcellation, a->labels, msg)))
            goto fail;
        n_par = vbt_parcellation_n_regions(par);
        const vbt_region_info *ri = vbt_parcellation_regions(par);
        if (a->names && (rc = vbt_name_map_load(a->names, par, &names, msg)))
            goto fail;
        if (!(par_to_conn = malloc((n_par ? n_par : 1) * sizeof *par_to_conn)))
            goto nomem;
        for (size_t k = 0; k < n_par; k++) {
            const char *nm = names ? names[k] : ri[k].name;
            par_to_conn[k] = -1;
            for (size_t r = 0; nm && r < conn->n; r++)
                if (strcmp(nm, conn->labels[r]) == 0)
                    par_to_conn[k] = (long)r;
        }
    }
    /* The centres in the label volume's space: registered onto it when they
     * lie in another (vbt_centres_register; BVEP's lie 22 mm below MNI's) */
    if (!(cen = malloc(conn->n * 3 * sizeof *cen + 1)))
        goto nomem;
    memcpy(cen, conn->centres, conn->n * 3 * sizeof *cen);
    if (par) {
        vbt_centre_registration reg;
        if ((rc = vbt_centres_register(conn->centres, conn->n, par, par_to_conn, &reg, msg)))
            goto fail;
        for (size_t r = 0; reg.registered && r < conn->n; r++)
            vbt_affine_apply(reg.affine, cen + 3 * r, cen + 3 * r);
    }
    for (size_t i = 0; i < s->n_contacts; i++) {
        const vbt_cohort_contact *c = &s->contacts[i];
        fmt(l->contact[i], sizeof l->contact[i], "%s", c->name);
        l->region[i] = -1;
        l->dist_mm[i] = NAN;
        if (!c->has_xyz)
            continue;
        if (par) {
            long k = vbt_parcellation_locate(par, c->xyz_mm, 0, NULL);
            if (k >= 0 && par_to_conn[k] >= 0) {
                l->region[i] = par_to_conn[k];
                l->dist_mm[i] = 0;
                continue;
            }
        }
        double best = INFINITY;
        for (size_t r = 0; r < conn->n; r++) {
            const double *q = cen + 3 * r;
            double d = hypot(hypot(q[0] - c->xyz_mm[0], q[1] - c->xyz_mm[1]),
                             q[2] - c->xyz_mm[2]);
            if (d < best) {
                best = d;
                l->region[i] = (long)r;
            }
        }
        if (best > a->radius_mm)
            l->region[i] = -1;
        else
            l->dist_mm[i] = best;
    }
    vbt_name_map_free(names, n_par);
    free(par_to_conn);
    free(cen);
    vbt_parcellation_free(par);
    vbt_connectome_free(conn);
    *out = l;
    return VBT_OK;
nomem:
    rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
fail:
    if (names)
        vbt_name_map_free(names, n_par);
    free(par_to_conn);
    free(cen);
    vbt_parcellation_free(par);
    vbt_connectome_free(conn);
    vbt_cohort_localisation_free(l);
    return rc;
}

static long contact_region(const vbt_cohort_localisation *l, const char *name, size_t len)
{
    for (size_t i = 0; i < l->n_contacts; i++)
        if (strlen(l->contact[i]) == len && strncasecmp(l->contact[i], name, len) == 0)
            return l->region[i];
    return -1;
}

void vbt_cohort_channel_regions(const vbt_cohort_localisation *l, const char *channel,
                                long regions[2], size_t *n)
{
    *n = 0;
    regions[0] = regions[1] = -1;
    if (!l || !channel)
        return;
    size_t len = strlen(channel);
    long r = contact_region(l, channel, len);
    const char *dash = strchr(channel, '-');
    if (r < 0 && dash && dash != channel) {
        /* bipolar "A3-A4": both contacts' regions */
        long a = contact_region(l, channel, (size_t)(dash - channel));
        long b = contact_region(l, dash + 1, strlen(dash + 1));
        if (a >= 0)
            regions[(*n)++] = a;
        if (b >= 0 && b != a)
            regions[(*n)++] = b;
        return;
    }
    if (r >= 0)
        regions[(*n)++] = r;
}

size_t vbt_cohort_region_set(const vbt_cohort_localisation *l, const vbt_cohort_run *r,
                             vbt_cohort_label which, unsigned char *in_set)
{
    memset(in_set, 0, l->n_regions);
    for (size_t i = 0; i < r->n_channels; i++) {
        const vbt_cohort_channel *c = &r->channels[i];
        if (!((which == VBT_COHORT_SOZ && c->soz) || (which == VBT_COHORT_RESECT && c->resect)))
            continue;
        long reg[2];
        size_t n;
        vbt_cohort_channel_regions(l, c->name, reg, &n);
        for (size_t k = 0; k < n; k++)
            in_set[reg[k]] = 1;
    }
    size_t n = 0;
    for (size_t k = 0; k < l->n_regions; k++)
        n += in_set[k];
    return n;
}
