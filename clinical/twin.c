/* twin.c -- the patient's twin (vbt_twin.h): a folder with the patient's
 * model and one version per recording absorbed, each the joint posterior of
 * every seizure so far (fitting/vbt_vep_multi.h), updated by SMC from the
 * previous version's particles.  The steps are the pipeline's library calls:
 * the gain (vbt_gain_matrix_compute), the feature (vbt_seeg_features_run),
 * the gain rows in the feature's channel order (the pipeline's
 * vbt__pipe_align_gain), the input normalisations and model of the fit
 * object (vbt_fit_alloc with the pipeline's preset). */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "pipeline_internal.h"
#include "vbt_text.h"
#include "vbt_connectome.h"
#include "vbt_fit.h"
#include "vbt_gain.h"
#include "vbt_patient.h"
#include "vbt_recording.h"
#include "vbt_seeg.h"
#include "vbt_seeg_features.h"
#include "vbt_twin.h"
#include "vbt_vep_multi.h"

#define MIN_FS_HZ 50.0
#define MAX_RECORDINGS 999
#define PATHLEN 4352

void vbt_twin_opts_default(vbt_twin_opts *o)
{
    memset(o, 0, sizeof *o);
    vbt_vep_pipeline_preset_default(&o->fit);
    o->particles = 512;
    o->moves = 5;
    o->leapfrog = 10;
    o->ess = 0.5;
    o->collapse = 0.01;
    o->seed = 42;
    o->threads = 1;
    o->refit_start = VBT_TWIN_START_STAGED;
}

/* ---- small helpers ------------------------------------------------------------ */

static int join(char *buf, size_t n, const char *a, const char *b)
{
    int k = snprintf(buf, n, "%s/%s", a, b);
    return k < 0 || (size_t)k >= n;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The last component of a path: how the twin names a file (never a folder,
 * which is often the patient's name). */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void say(const vbt_twin_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const vbt_twin_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    o->progress(o->progress_ctx, text);
}

static char *tb_take(vbt_textbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s ? b->s : strdup("");
}

/* Every string of j that holds a '/' replaced by its last component and
 * "absolute_path" members dropped: a recording's provenance names its file
 * only, never the folders above it (often the patient's name). */
static void scrub(cJSON *j)
{
    cJSON *c = j ? j->child : NULL;
    while (c) {
        cJSON *next = c->next;
        if (c->string && !strcmp(c->string, "absolute_path")) {
            cJSON_Delete(cJSON_DetachItemViaPointer(j, c));
        } else if (cJSON_IsString(c) && strchr(c->valuestring, '/')) {
            cJSON *n = cJSON_CreateString(base_name(c->valuestring));
            if (n)
                cJSON_ReplaceItemViaPointer(j, c, n);
        } else {
            scrub(c);
        }
        c = next;
    }
}

static int scrub_file(const char *path, vbt_msg *msg)
{
    char *t = NULL;
    size_t n;
    int rc = vbt_file_read_all(path, &t, &n, 0, msg);
    if (rc)
        return rc;
    cJSON *j = cJSON_Parse(t);
    free(t);
    if (!j)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not JSON", base_name(path));
    scrub(j);
    t = cJSON_Print(j);
    cJSON_Delete(j);
    if (!t)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    rc = vbt_file_write_atomic(path, t, strlen(t), 1, msg);
    free(t);
    return rc;
}

static int copy_file(const char *src, const char *dst, vbt_msg *msg)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = vbt_file_read_all(src, &buf, &len, 0, msg);
    if (!rc)
        rc = vbt_file_write_atomic(dst, buf, len, 0, msg);
    free(buf);
    return rc;
}

/* Copy the regular files of folder src into dst (created). */
static int copy_dir(const char *src, const char *dst, vbt_msg *msg)
{
    if (mkdir(dst, 0777) != 0 && errno != EEXIST)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot create the folder: %s",
                         vbt_path_public(dst), strerror(errno));
    DIR *d = opendir(src);
    if (!d)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot read the folder", vbt_path_public(src));
    struct dirent *e;
    int rc = VBT_OK;
    while (!rc && (e = readdir(d))) {
        char a[PATHLEN], b[PATHLEN];
        struct stat sb;
        if (e->d_name[0] == '.' || join(a, sizeof a, src, e->d_name) ||
            join(b, sizeof b, dst, e->d_name) || lstat(a, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        rc = copy_file(a, b, msg);
    }
    closedir(d);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *text, vbt_msg *msg)
{
    char p[PATHLEN];
    if (join(p, sizeof p, dir, name))
        return vbt__fail(msg, VBT_EINVAL, "path too long");
    return vbt_file_write_atomic(p, text, strlen(text), 1, msg);
}

static int write_json(const char *dir, const char *name, const cJSON *j, vbt_msg *msg)
{
    char *t = cJSON_Print(j);
    if (!t)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    size_t n = strlen(t);
    char *u = realloc(t, n + 2);
    if (!u) {
        free(t);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    u[n] = '\n';
    u[n + 1] = 0;
    int rc = write_text(dir, name, u, msg);
    free(u);
    return rc;
}

static cJSON *read_json(const char *dir, const char *name, vbt_msg *msg)
{
    char p[PATHLEN], *t = NULL;
    size_t n;
    if (join(p, sizeof p, dir, name) || vbt_file_read_all(p, &t, &n, 0, msg))
        return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    if (!j)
        vbt__fail(msg, VBT_EFORMAT, "'%s': not JSON", name);
    return j;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- the twin's settings --------------------------------------------------------- */

typedef struct settings {
    vbt_vep_pipeline_preset fit;
    char obs[16], data_norm[16], gain_norm[16];
    double fs_hz;                  /* the first recording's sampling rate */
    size_t ma_samples;             /* its moving-average window */
    size_t particles, moves, leapfrog;
    size_t map_starts;             /* the joint fits' mode search (vbt_vep_multi_smc_laplace) */
    size_t steps;                  /* integration steps per feature sample, fixed at init so
                                      that every version fits the same model whatever a later
                                      vbt computes for them; 0 (a twin made before it was
                                      recorded): vbt_vep_pipeline_preset_steps() */
    double ess;
    uint64_t seed;
} settings;

static cJSON *settings_json(const settings *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "schema", "vbt.twin.settings/1");
    cJSON_AddStringToObject(j, "obs", s->obs);
    cJSON_AddStringToObject(j, "data_norm", s->data_norm);
    cJSON_AddStringToObject(j, "gain_norm", s->gain_norm);
    cJSON_AddNumberToObject(j, "points", (double)s->fit.points);
    cJSON_AddNumberToObject(j, "window", s->fit.window);
    cJSON_AddNumberToObject(j, "pre_scale", s->fit.pre_scale);
    cJSON_AddNumberToObject(j, "post_scale", s->fit.post_scale);
    cJSON_AddNumberToObject(j, "fs_hz", s->fs_hz);
    cJSON_AddNumberToObject(j, "ma_samples", (double)s->ma_samples);
    cJSON_AddNumberToObject(j, "particles", (double)s->particles);
    cJSON_AddNumberToObject(j, "moves", (double)s->moves);
    cJSON_AddNumberToObject(j, "leapfrog", (double)s->leapfrog);
    cJSON_AddNumberToObject(j, "ess", s->ess);
    cJSON_AddNumberToObject(j, "map_starts", (double)s->map_starts);
    if (s->steps)
        cJSON_AddNumberToObject(j, "steps_per_sample", (double)s->steps);
    cJSON_AddNumberToObject(j, "seed", (double)s->seed);
    return j;
}

static int settings_load(const char *model_dir, settings *s, vbt_msg *msg)
{
    cJSON *j = read_json(model_dir, "settings.json", msg);
    if (!j)
        return VBT_EIO;
    memset(s, 0, sizeof *s);
    vbt_vep_pipeline_preset_default(&s->fit);
    const char *a = jstr(j, "obs"), *b = jstr(j, "data_norm"), *c = jstr(j, "gain_norm");
    snprintf(s->obs, sizeof s->obs, "%s", a ? a : "");
    snprintf(s->data_norm, sizeof s->data_norm, "%s", b ? b : "");
    snprintf(s->gain_norm, sizeof s->gain_norm, "%s", c ? c : "");
    s->fit.obs = s->obs;
    s->fit.data_norm = s->data_norm;
    s->fit.gain_norm = s->gain_norm;
    s->fit.points = (size_t)jnum(j, "points", 0);
    s->fit.window = jnum(j, "window", 0);
    s->fit.pre_scale = jnum(j, "pre_scale", 0);
    s->fit.post_scale = jnum(j, "post_scale", 0);
    s->fs_hz = jnum(j, "fs_hz", 0);
    s->ma_samples = (size_t)jnum(j, "ma_samples", 0);
    s->particles = (size_t)jnum(j, "particles", 0);
    s->moves = (size_t)jnum(j, "moves", 0);
    s->leapfrog = (size_t)jnum(j, "leapfrog", 0);
    s->ess = jnum(j, "ess", 0);
    s->map_starts = (size_t)jnum(j, "map_starts", 0);
    double k = jnum(j, "steps_per_sample", 0);
    s->steps = k >= 1 && k <= 1000 && k == floor(k) ? (size_t)k : 0;
    int bad_steps = cJSON_GetObjectItemCaseSensitive(j, "steps_per_sample") && !s->steps;
    s->seed = (uint64_t)jnum(j, "seed", 0);
    cJSON_Delete(j);
    /* the first setting that is missing or out of range, by name */
    const char *bad = bad_steps                            ? "steps_per_sample"
                      : !s->fit.points                     ? "points"
                      : !(s->fit.window > 0)               ? "window"
                      : !(s->fs_hz > 0)                    ? "fs_hz"
                      : s->ma_samples < 1                  ? "ma_samples"
                      : s->particles < 8                   ? "particles"
                      : !s->map_starts                     ? "map_starts"
                      : !s->moves                          ? "moves"
                      : !s->leapfrog                       ? "leapfrog"
                      : !(s->ess > 0 && s->ess < 1)        ? "ess"
                                                           : NULL;
    if (bad)
        return vbt__fail(msg, VBT_EFORMAT, "'settings.json' of the twin: \"%s\" is missing or "
                         "out of range", bad);
    return VBT_OK;
}

/* ---- recordings and their features ------------------------------------------------- */

/* The first row of an events TSV whose trial_type marks a seizure onset
 * (vbt_event_kind: "seizure", "onset", "sz onset", ...): onset and onset +
 * duration; without a positive duration, the first later row that marks an
 * offset ("sz offset", as ds004100's events give it).  A UTF-8 byte-order
 * mark before the header is skipped. */
static int read_events(const char *path, double *on, double *off, vbt_msg *msg)
{
    char *t = NULL, found[256] = "";
    size_t n;
    int rc = vbt_file_read_all(path, &t, &n, 0, msg);
    if (rc)
        return rc;
    int c_on = -1, c_dur = -1, c_type = -1, header = 1;
    *on = *off = NAN;
    char *start = n >= 3 && !memcmp(t, "\xEF\xBB\xBF", 3) ? t + 3 : t;
    for (char *pos = start; pos && *pos;) {
        char *f[32];
        size_t k = vbt__pipe_record(&pos, '\t', f, 32);
        if (!k)
            continue;
        if (header) {
            for (size_t i = 0; i < k; i++) {
                if (!strcmp(f[i], "onset"))
                    c_on = (int)i;
                else if (!strcmp(f[i], "duration"))
                    c_dur = (int)i;
                else if (!strcmp(f[i], "trial_type"))
                    c_type = (int)i;
            }
            header = 0;
            if (c_on < 0 || c_type < 0) {
                free(t);
                return vbt__fail(msg, VBT_EFORMAT, "'%s': events need the columns onset and "
                                 "trial_type", base_name(path));
            }
            continue;
        }
        if ((size_t)c_type >= k || (size_t)c_on >= k)
            continue;
        const int kind = vbt_event_kind(f[c_type]);
        if (isfinite(*on)) {
            /* the onset had no duration: the first offset after it */
            double t_off = strtod(f[c_on], NULL);
            if (kind == VBT_EVENT_OFFSET && isfinite(t_off) && t_off > *on) {
                *off = t_off;
                break;
            }
            continue;
        }
        if (kind == VBT_EVENT_ONSET) {
            char *end;
            *on = strtod(f[c_on], &end);
            double d = c_dur >= 0 && (size_t)c_dur < k ? strtod(f[c_dur], NULL) : NAN;
            *off = isfinite(d) && d > 0 ? *on + d : NAN;
            if (isfinite(*off) || !isfinite(*on))
                break;
            continue;
        }
        if (strlen(found) + strlen(f[c_type]) + 3 < sizeof found) {
            if (*found)
                strcat(found, ", ");
            strcat(found, f[c_type]);
        }
    }
    free(t);
    if (!isfinite(*on))
        return vbt__fail(msg, VBT_ENOTFOUND, "'%s': no event whose trial_type names a seizure "
                         "or an onset (found: %s)", base_name(path), *found ? found : "none");
    return VBT_OK;
}

static int open_recording(vbt_recording **rec, const char *path, const char *events,
                          vbt_msg *msg)
{
    size_t l = strlen(path);
    int bids = (l > 9 && (!strcmp(path + l - 9, "_ieeg.edf") || !strcmp(path + l - 9, "_ieeg.bdf")));
    int rc = bids ? vbt_recording_open_bids(rec, path, NULL, msg) : vbt_recording_open(rec, path, msg);
    if (rc)
        return rc;
    double on, off;
    if (events) {
        if ((rc = read_events(events, &on, &off, msg)))
            return rc;
        vbt_recording_set_seizure(*rec, on, off);
    }
    vbt_recording_seizure(*rec, &on, &off);
    if (bids && !events && isfinite(on) && !(isfinite(off) && off > on)) {
        /* the BIDS reader gives onset + duration; ds004100's events mark the
         * offset as a row of its own ('sz offset', duration 0) */
        char ev[PATHLEN];
        struct stat sb;
        snprintf(ev, sizeof ev, "%.*s_events.tsv", (int)(l - 9), path);
        if (stat(ev, &sb) == 0 && !read_events(ev, &on, &off, msg) && isfinite(off))
            vbt_recording_set_seizure(*rec, on, off);
        vbt_recording_seizure(*rec, &on, &off);
    }
    if (!isfinite(on))
        return vbt__fail(msg, VBT_ENOTFOUND, "'%s': no seizure onset (give --events E.tsv, or "
                         "an events.tsv beside the recording)", base_name(path));
    if (!isfinite(off) || off <= on)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': the seizure needs an offset after its onset "
                         "(a duration in the events)", base_name(path));
    return VBT_OK;
}

/* The twin's channel names (model/channels.txt, one a line). */
static int read_channels(const char *model_dir, char ***names, size_t *n, vbt_msg *msg)
{
    char p[PATHLEN], *t = NULL;
    size_t len;
    if (join(p, sizeof p, model_dir, "channels.txt") || vbt_file_read_all(p, &t, &len, 0, msg))
        return VBT_EIO;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += t[i] == '\n';
    *names = calloc(cap, sizeof **names);
    *n = 0;
    if (!*names) {
        free(t);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    for (char *s = strtok(t, "\n"); s; s = strtok(NULL, "\n"))
        if (*s)
            (*names)[(*n)++] = strdup(s);
    free(t);
    return VBT_OK;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Recording path -> the feature and aligned gain in rec_dir (created, whole
 * or not at all).  twin_ch (NULL at init): the channels the recording must
 * have; *fs: the sampling rate (init: also the twin's). */
static int make_feature(const char *path, const char *events, settings *st,
                        char **twin_ch, size_t n_twin_ch, const char *model_dir,
                        const char *rec_dir, vbt_msg *msg)
{
    vbt_recording *rec = NULL;
    vbt_montage *m = NULL;
    vbt_outdir *od = NULL;
    vbt_montage_kind kind;
    int rc;
    if ((rc = open_recording(&rec, path, events, msg)))
        goto out;
    vbt_montage_kind_parse("monopolar", &kind);
    if ((rc = vbt_montage_alloc(&m, rec, kind, NULL, 0, msg)))
        goto out;
    const double fs = vbt_montage_fs(m);
    if (!(fs >= MIN_FS_HZ)) {
        rc = vbt__fail(msg, VBT_EINVAL, "'%s': sampling rate %g Hz cannot be handled (the "
                       "feature's %g Hz high-pass needs at least %g Hz)", base_name(path), fs,
                       10.0, MIN_FS_HZ);
        goto out;
    }
    vbt_features_opts fo;
    vbt_features_opts_default(&fo);
    size_t ma = fo.ma_samples;
    if (twin_ch) {
        /* the same moving-average duration as the twin's first recording */
        double r = (double)st->ma_samples * fs / st->fs_hz;
        ma = (size_t)lround(r);
        if (ma < 3) {
            rc = vbt__fail(msg, VBT_EINVAL, "'%s': sampling rate %g Hz cannot be handled (the "
                           "twin's %.3g s moving average would span %.2f samples)",
                           base_name(path), fs, (double)st->ma_samples / st->fs_hz, r);
            goto out;
        }
        /* the same contacts, in any order */
        size_t nm = vbt_montage_n(m), missing = 0, extra = 0;
        char first_missing[64] = "", first_extra[64] = "";
        for (size_t i = 0; i < n_twin_ch; i++) {
            size_t k = 0;
            while (k < nm && strcmp(vbt_montage_label(m, k), twin_ch[i]))
                k++;
            if (k == nm && !missing++)
                snprintf(first_missing, sizeof first_missing, "%s", twin_ch[i]);
        }
        for (size_t k = 0; k < nm; k++) {
            size_t i = 0;
            while (i < n_twin_ch && strcmp(vbt_montage_label(m, k), twin_ch[i]))
                i++;
            if (i == n_twin_ch && !extra++)
                snprintf(first_extra, sizeof first_extra, "%s", vbt_montage_label(m, k));
        }
        if (missing || extra) {
            rc = vbt__fail(msg, VBT_EINVAL, "'%s': its contacts do not match the twin's: %zu "
                           "of the twin's %zu channels missing%s%s%s, %zu not in the twin%s%s%s",
                           base_name(path), missing, n_twin_ch, missing ? " (first: " : "",
                           first_missing, missing ? ")" : "", extra, extra ? " (first: " : "",
                           first_extra, extra ? ")" : "");
            goto out;
        }
    } else {
        st->fs_hz = fs;
        st->ma_samples = ma;
    }
    vbt_seeg_features_job j = {.rec = rec, .m = m, .montage = "monopolar",
                               .pre_scale = st->fit.pre_scale, .post_scale = st->fit.post_scale};
    j.opts = fo;
    j.opts.n_points = st->fit.points;
    j.opts.ma_samples = ma;
    if ((rc = vbt_outdir_begin(&od, rec_dir, 0, msg)) ||
        (rc = vbt_seeg_features_run(&j, od, NULL, msg)))
        goto out;
    /* run.json names the recording by its file name only */
    char rj[PATHLEN];
    if ((rc = vbt_outdir_file(od, "run.json", rj, sizeof rj) ? VBT_EINVAL : scrub_file(rj, msg)) ||
        (rc = vbt_outdir_commit(od, msg)))
        goto out;
    od = NULL;
    char out_npy[PATHLEN];
    if (join(out_npy, sizeof out_npy, rec_dir, "gain_aligned.npy") ||
        vbt__pipe_align_gain(msg, model_dir, rec_dir, out_npy))
        rc = VBT_EINVAL;
out:
    vbt_outdir_abort(od);
    vbt_montage_free(m);
    vbt_recording_free(rec);
    return rc;
}

/* ---- the joint model of the recordings ------------------------------------------ */

typedef struct model {
    vbt_connectome *conn;
    vbt_vep_priors pr;
    size_t K;
    vbt_fit **fits;
    vbt_vep_multi *mm;
} model;

static void model_free(model *m)
{
    for (size_t k = 0; m->fits && k < m->K; k++)
        vbt_fit_free(m->fits[k]);
    free(m->fits);
    vbt_vep_multi_free(m->mm);
    vbt_connectome_free(m->conn);
    memset(m, 0, sizeof *m);
}

static int connectome_path(const char *model_dir, char *buf, size_t n)
{
    struct stat sb;
    if (join(buf, n, model_dir, "connectome.zip"))
        return -1;
    if (stat(buf, &sb) == 0)
        return 0;
    return join(buf, n, model_dir, "connectome");
}

/* The joint model of recordings r1 .. rK in ver_dir/recordings. */
static int model_build(const char *model_dir, const char *ver_dir, size_t K, const settings *st,
                       size_t n_ctx, model *md, vbt_msg *msg)
{
    char p[PATHLEN], q[PATHLEN];
    vbt_fit_opts fo;
    vbt_vep_spec *specs = NULL;
    int rc;
    memset(md, 0, sizeof *md);
    vbt_vep_pipeline_preset pre = st->fit;
    if ((rc = vbt_vep_pipeline_preset_fit_opts(&pre, &fo, msg)))
        return rc;
    if (st->steps)
        fo.steps = st->steps;
    if (connectome_path(model_dir, p, sizeof p) || (rc = vbt_connectome_load(&md->conn, p, msg)))
        return rc ? rc : vbt__fail(msg, VBT_EINVAL, "path too long");
    vbt_fit_priors_preset(&md->pr);
    if (join(p, sizeof p, model_dir, "prior.json") ||
        (rc = vbt_vep_priors_load_json(&md->pr, p,
                                       (const char (*)[VBT_LABEL_MAX])md->conn->labels,
                                       md->conn->n, msg)))
        goto fail;
    md->K = K;
    md->fits = calloc(K, sizeof *md->fits);
    specs = calloc(K, sizeof *specs);
    if (!md->fits || !specs) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t k = 0; k < K; k++) {
        char rname[40];
        vbt_array gain = {0}, data = {0};
        snprintf(rname, sizeof rname, "recordings/r%zu", k + 1);
        if (join(q, sizeof q, ver_dir, rname)) {
            rc = vbt__fail(msg, VBT_EINVAL, "path too long");
            goto fail;
        }
        if (join(p, sizeof p, q, "gain_aligned.npy") || (rc = vbt_npy_read(p, &gain, msg)) ||
            join(p, sizeof p, q, "features.npy") || (rc = vbt_npy_read(p, &data, msg)) ||
            (rc = vbt_fit_alloc(&md->fits[k], md->conn, &gain, &data, &md->pr, &fo, msg))) {
            vbt_array_clear(&gain);
            vbt_array_clear(&data);
            if (!rc)
                rc = vbt__fail(msg, VBT_EINVAL, "path too long");
            goto fail;
        }
        vbt_array_clear(&gain);
        vbt_array_clear(&data);
        specs[k] = *vbt_fit_spec(md->fits[k]);   /* the fit object's own model */
    }
    rc = vbt_vep_multi_alloc(&md->mm, specs, K, n_ctx, msg);
    free(specs);
    if (rc)
        goto fail;
    return VBT_OK;
fail:
    free(specs);
    model_free(md);
    return rc;
}

/* The mode search of the joint fits (vbt fit's defaults: 100 L-BFGS
 * iterations a start, the 16 best polished; settings.json's starts). */
static void map_opts(const settings *st, vbt_vep_map_opts *mo)
{
    vbt_vep_map_opts_default(mo);
    mo->n_starts = st->map_starts;
    mo->n_polish = 16;
}

static void smc_opts(const settings *st, uint64_t seed, long threads, vbt_smc_opts *so)
{
    vbt_smc_opts_default(so);
    so->n_particles = st->particles;
    so->n_moves = st->moves;
    so->n_leapfrog = st->leapfrog;
    so->ess_target = st->ess;
    so->seed = seed;
    so->n_threads = threads > 0 ? (size_t)threads : 1;
    so->final_moves = 2 * st->moves; /* every fit ends with 2 rounds' worth of moves at beta 1 */
}

/* ---- the EZ map -------------------------------------------------------------------- */

typedef struct ezmap {
    size_t nr;
    double *p_ez, *p_pz, *p_hz, *mean, *sd;
    int *cls;
    double *x0;    /* N x nr */
} ezmap;

static void ezmap_free(ezmap *e)
{
    free(e->p_ez);
    free(e->p_pz);
    free(e->p_hz);
    free(e->mean);
    free(e->sd);
    free(e->cls);
    free(e->x0);
    memset(e, 0, sizeof *e);
}

/* From N particles (row stride n) of mm. */
static int ezmap_make(const vbt_vep_multi *mm, const double *p, size_t N, size_t n, ezmap *e,
                      vbt_msg *msg)
{
    const size_t nr = vbt_vep_multi_n_regions(mm);
    e->nr = nr;
    e->p_ez = calloc(nr, sizeof *e->p_ez);
    e->p_pz = calloc(nr, sizeof *e->p_pz);
    e->p_hz = calloc(nr, sizeof *e->p_hz);
    e->mean = calloc(nr, sizeof *e->mean);
    e->sd = calloc(nr, sizeof *e->sd);
    e->cls = calloc(nr, sizeof *e->cls);
    e->x0 = malloc(N * nr * sizeof *e->x0);
    if (!e->p_ez || !e->p_pz || !e->p_hz || !e->mean || !e->sd || !e->cls || !e->x0) {
        ezmap_free(e);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < N; i++)
        vbt_vep_multi_x0(mm, p + i * n, e->x0 + i * nr);
    for (size_t r = 0; r < nr; r++) {
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < N; i++) {
            double x = e->x0[i * nr + r];
            s1 += x;
            vbt_vep_class c = vbt_vep_x0_class(x);
            e->p_ez[r] += c == VBT_VEP_EZ;
            e->p_pz[r] += c == VBT_VEP_PZ;
            e->p_hz[r] += c == VBT_VEP_HZ;
        }
        e->mean[r] = s1 / (double)N;
        for (size_t i = 0; i < N; i++)
            s2 += (e->x0[i * nr + r] - e->mean[r]) * (e->x0[i * nr + r] - e->mean[r]);
        e->sd[r] = N > 1 ? sqrt(s2 / (double)(N - 1)) : 0.0;
        e->p_ez[r] /= (double)N;
        e->p_pz[r] /= (double)N;
        e->p_hz[r] /= (double)N;
        e->cls[r] = (int)vbt_vep_x0_class(e->mean[r]);
    }
    return VBT_OK;
}

static char *ezmap_tsv(const ezmap *e, const vbt_connectome *conn)
{
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "region\tlabel\tp_ez\tp_pz\tp_hz\tx0_mean\tx0_sd\tclass\n");
    for (size_t r = 0; r < e->nr; r++)
        vbt_textbuf_printf(&b, "%zu\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s\n", r,
                           conn->labels[r], e->p_ez[r], e->p_pz[r], e->p_hz[r], e->mean[r],
                           e->sd[r], vbt_vep_class_name((vbt_vep_class)e->cls[r]));
    return tb_take(&b);
}

/* The fraction of recording k's fitted feature variance (about each sensor's
 * mean) that the model explains, averaged over at most 64 particles. */
static double r2_of(model *md, size_t k, const double *p, size_t N, size_t n)
{
    vbt_vep *m = vbt_vep_multi_model(md->mm, k);
    const size_t T = vbt_vep_n_samples(m), S = vbt_vep_n_sensors(m);
    const double *y = vbt_fit_data(md->fits[k]);
    double *th = malloc(vbt_vep_n_params(m) * sizeof *th), *yh = malloc(T * S * sizeof *yh);
    double sst = 0.0, acc = 0.0;
    size_t used = 0;
    if (!th || !yh)
        goto out;
    for (size_t s = 0; s < S; s++) {
        double mu = 0.0;
        for (size_t t = 0; t < T; t++)
            mu += y[t * S + s] / (double)T;
        for (size_t t = 0; t < T; t++)
            sst += (y[t * S + s] - mu) * (y[t * S + s] - mu);
    }
    const size_t step = N > 64 ? N / 64 : 1;
    for (size_t i = 0; i < N && sst > 0; i += step) {
        vbt_vep_multi_split(md->mm, k, p + i * n, th);
        if (vbt_vep_simulate(m, th, NULL, yh) != VBT_OK)
            continue;
        double sse = 0.0;
        for (size_t q = 0; q < T * S; q++)
            sse += (y[q] - yh[q]) * (y[q] - yh[q]);
        acc += 1.0 - sse / sst;
        used++;
    }
out:
    free(th);
    free(yh);
    return used ? acc / (double)used : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- versions ----------------------------------------------------------------------- */

/* The latest complete version (vNNNN with a version.json): its number, 0
 * when none. */
static unsigned latest_version(const char *twin_dir)
{
    DIR *d = opendir(twin_dir);
    unsigned best = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned v;
        char tail;
        if (sscanf(e->d_name, "v%u%c", &v, &tail) != 1 || strlen(e->d_name) != 5)
            continue;
        char p[PATHLEN];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s/version.json", twin_dir, e->d_name);
        if (stat(p, &sb) == 0 && v > best)
            best = v;
    }
    closedir(d);
    return best;
}

static void write_npy(const char *dir, const char *name, const double *d, size_t ndim,
                      const size_t *shape, int *rc, vbt_msg *msg)
{
    char p[PATHLEN];
    if (*rc)
        return;
    if (join(p, sizeof p, dir, name))
        *rc = vbt__fail(msg, VBT_EINVAL, "path too long");
    else
        *rc = vbt_npy_write(p, d, ndim, shape, 1, msg);
}

/* A version's files: particles, x0, EZ map, version.json (prov, owned). */
static int write_version(const char *dir, const vbt_vep_multi *mm, const double *particles,
                         size_t N, const ezmap *e, const vbt_connectome *conn, cJSON *prov,
                         vbt_msg *msg)
{
    const size_t n = vbt_vep_multi_n_params(mm), nr = e->nr;
    int rc = VBT_OK;
    double *lw = malloc(N * sizeof *lw);
    if (!lw)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    for (size_t i = 0; i < N; i++)
        lw[i] = -log((double)N);
    size_t sp[2] = {N, n}, sx[2] = {N, nr}, sw[1] = {N};
    write_npy(dir, "particles.npy", particles, 2, sp, &rc, msg);
    write_npy(dir, "x0.npy", e->x0, 2, sx, &rc, msg);
    write_npy(dir, "log_weights.npy", lw, 1, sw, &rc, msg);
    free(lw);
    if (!rc) {
        char *t = ezmap_tsv(e, conn);
        rc = t ? write_text(dir, "ezmap.tsv", t, msg) : vbt__fail(msg, VBT_ENOMEM, "out of memory");
        free(t);
    }
    if (!rc) {
        cJSON *names = cJSON_AddArrayToObject(prov, "parameter_names");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(names, cJSON_CreateString(vbt_vep_multi_param_name(mm, i)));
        rc = write_json(dir, "version.json", prov, msg);
    }
    return rc;
}

/* The command line as provenance: every argument by its last component only
 * (never the folders above a file), the patient folder (hide) as PATIENT. */
static cJSON *prov_new(const vbt_twin_opts *o, const char *kind, const char *hide)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "schema", "vbt.twin.version/1");
    cJSON_AddStringToObject(j, "vbt_version", vbt_version());
    cJSON_AddStringToObject(j, "kind", kind);
    cJSON *cmd = cJSON_AddArrayToObject(j, "command");
    for (int i = 0; i < o->argc; i++) {
        const char *a = o->argv[i];
        cJSON_AddItemToArray(cmd, cJSON_CreateString(hide && !strcmp(a, hide) ? "PATIENT"
                                                                              : base_name(a)));
    }
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    return j;
}

static void add_result(cJSON *prov, const vbt_twin_result *r, const vbt_smc_result *sr)
{
    cJSON *u = cJSON_AddObjectToObject(prov, "sampling");
    cJSON_AddStringToObject(u, "method",
                            isfinite(r->correction_ess)
                                ? "smc: surrogate tempering from the joint mode found from the "
                                  "previous version's particles, then the exact correction"
                            : isfinite(r->reweight_ess)
                                ? "smc from the previous version's particles"
                                : "smc from the Laplace approximation at the MAP");
    cJSON_AddNumberToObject(u, "particles", (double)r->n_particles);
    cJSON_AddNumberToObject(u, "parameters", (double)r->n_params);
    cJSON_AddNumberToObject(u, "tempering_steps", (double)sr->n_steps);
    cJSON_AddNumberToObject(u, "log_evidence", sr->log_evidence);
    cJSON_AddNumberToObject(u, "mean_accept", sr->mean_accept);
    cJSON_AddNumberToObject(u, "divergent_moves", (double)sr->n_divergent);
    cJSON_AddNumberToObject(u, "gradients", (double)sr->n_grad);
    if (isfinite(r->reweight_ess)) {
        cJSON_AddNumberToObject(u, "reweight_ess", r->reweight_ess);
        cJSON_AddNumberToObject(u, "marginal_ess", r->marginal_ess);
        cJSON_AddBoolToObject(u, "collapsed", r->collapsed);
        cJSON_AddNumberToObject(u, "r2_old", r->r2_old);
        cJSON_AddBoolToObject(u, "unexplained", r->unexplained);
    }
    cJSON_AddNumberToObject(u, "r2_new", r->r2_new);
    cJSON *t = cJSON_AddObjectToObject(prov, "timing");
    cJSON_AddNumberToObject(t, "smc_cpu_s", r->smc_cpu_s);
    cJSON_AddNumberToObject(t, "cpu_s", r->cpu_s);
    cJSON_AddNumberToObject(t, "wall_s", r->wall_s);
}

/* ---- init ----------------------------------------------------------------------------- */

static int init_model(const vbt_patient *pat, const char *mdir, const vbt_twin_opts *o,
                      vbt_msg *msg)
{
    char p[PATHLEN];
    int rc;
    if (mkdir(mdir, 0777) != 0)
        return vbt__fail(msg, VBT_EIO, "cannot create the model folder: %s", strerror(errno));
    /* the gain, as the pipeline's gain step computes it */
    vbt_gain_opts go;
    vbt_gain_opts_default(&go);
    go.method = pat->parcellation ? VBT_GAIN_VOLUME : VBT_GAIN_CENTRE;
    go.contacts = pat->electrodes;
    go.connectome = pat->connectome;
    if (pat->parcellation) {
        go.parcellation = pat->parcellation;
        go.labels = pat->parcellation_labels;
        go.name_map = pat->parcellation_names;
    }
    vbt_gain_matrix *g = NULL;
    say(o, "gain (%s)", pat->parcellation ? "volume" : "centre");
    if ((rc = vbt_gain_matrix_compute(&g, &go, msg)))
        return rc;
    char prov[256];
    snprintf(prov, sizeof prov, "{\"vbt_version\": \"%s\", \"tool\": \"twin init\"}",
             vbt_version());
    rc = join(p, sizeof p, mdir, "gain.npy") ? VBT_EINVAL : vbt_gain_matrix_write(g, p, prov, 1, msg);
    vbt_gain_matrix_free(g);
    if (rc)
        return rc;
    /* the connectome */
    struct stat sb;
    if (stat(pat->connectome, &sb) == 0 && S_ISDIR(sb.st_mode))
        rc = join(p, sizeof p, mdir, "connectome") ? VBT_EINVAL : copy_dir(pat->connectome, p, msg);
    else
        rc = join(p, sizeof p, mdir, "connectome.zip") ? VBT_EINVAL
                                                       : copy_file(pat->connectome, p, msg);
    if (rc)
        return rc;
    /* the priors: the patient's prior.json, else the pipeline's */
    if (pat->prior)
        return join(p, sizeof p, mdir, "prior.json") ? VBT_EINVAL : copy_file(pat->prior, p, msg);
    char *t = vbt_vep_pipeline_prior_json(&o->fit);
    rc = t ? write_text(mdir, "prior.json", t, msg) : vbt__fail(msg, VBT_ENOMEM, "out of memory");
    free(t);
    return rc;
}

/* Every entry point starts alike: its result (a scratch one when the caller
 * passed NULL) zeroed with the ESS and R^2 figures NAN until measured, and its
 * options (the defaults when o_in is NULL). */
static vbt_twin_result *call_begin(vbt_twin_result *res, vbt_twin_result *scratch,
                                   const vbt_twin_opts *o_in, vbt_twin_opts *o)
{
    if (!res)
        res = scratch;
    memset(res, 0, sizeof *res);
    res->reweight_ess = res->marginal_ess = res->r2_old = res->r2_new = NAN;
    res->correction_ess = NAN;
    res->mode_start_lp = res->mode_lp = res->mode_log_mass = NAN;
    res->mode_decrement = res->mode_ridge = NAN;
    res->start_index = res->best_start = -1;
    if (o_in)
        *o = *o_in;
    else
        vbt_twin_opts_default(o);
    return res;
}

int vbt_twin_init(const char *patient_dir, const char *twin_dir, const vbt_twin_opts *o_in,
                  vbt_twin_result *res, vbt_msg *msg)
{
    vbt_twin_opts o;
    vbt_twin_result scratch;
    res = call_begin(res, &scratch, o_in, &o);
    if (!patient_dir || !twin_dir)
        return vbt__fail(msg, VBT_EINVAL, "twin init: no patient or no twin folder");
    const double c0 = cpu_now(), w0 = wall_now();
    vbt_patient *pat = NULL;
    vbt_outdir *od = NULL;
    model md = {0};
    ezmap e = {0};
    double *part = NULL;
    cJSON *prov = NULL;
    char mdir[PATHLEN], vdir[PATHLEN], rdir[PATHLEN], rpath[PATHLEN];
    int rc;
    if ((rc = vbt_patient_load(&pat, patient_dir, msg)) ||
        (rc = vbt_outdir_begin(&od, twin_dir, 0, msg)))
        goto out;
    const char *root = vbt_outdir_path(od);
    if (join(mdir, sizeof mdir, root, "model") || join(vdir, sizeof vdir, root, "v0001") ||
        join(rdir, sizeof rdir, vdir, "recordings") || join(rpath, sizeof rpath, rdir, "r1")) {
        rc = vbt__fail(msg, VBT_EINVAL, "twin init: path too long");
        goto out;
    }
    if ((rc = init_model(pat, mdir, &o, msg)))
        goto out;
    settings st = {0};
    st.fit = o.fit;
    snprintf(st.obs, sizeof st.obs, "%s", o.fit.obs);
    snprintf(st.data_norm, sizeof st.data_norm, "%s", o.fit.data_norm);
    snprintf(st.gain_norm, sizeof st.gain_norm, "%s", o.fit.gain_norm);
    st.fit.obs = st.obs;
    st.fit.data_norm = st.data_norm;
    st.fit.gain_norm = st.gain_norm;
    st.particles = o.particles;
    st.moves = o.moves;
    st.leapfrog = o.leapfrog;
    st.ess = o.ess;
    /* the joint fits' search as measured in docs/twin.md: 256 starts, the 16
     * best polished, no hops (the single fits' preset now takes 128 and hops) */
    st.map_starts = 256;
    st.steps = vbt_vep_pipeline_preset_steps(&o.fit);
    st.seed = o.seed;
    if (mkdir(vdir, 0777) || mkdir(rdir, 0777)) {
        rc = vbt__fail(msg, VBT_EIO, "twin init: cannot create the version folder");
        goto out;
    }
    say(&o, "feature of recording 1 (%s)", base_name(pat->recordings[0]));
    if ((rc = make_feature(pat->recordings[0], NULL, &st, NULL, 0, mdir, rpath, msg)))
        goto out;
    /* the twin's channels: the first feature's */
    {
        char cp[PATHLEN], *t = NULL;
        size_t len;
        vbt_textbuf b = {0};
        if (join(cp, sizeof cp, rpath, "channels.tsv") || vbt_file_read_all(cp, &t, &len, 0, msg)) {
            rc = VBT_EIO;
            goto out;
        }
        for (char *pos = t; pos && *pos;) {
            char *f[8];
            if (vbt__pipe_record(&pos, '\t', f, 8) >= 2 && strcmp(f[0], "index"))
                vbt_textbuf_printf(&b, "%s\n", f[1]);
        }
        free(t);
        char *ch = tb_take(&b);
        rc = ch ? write_text(mdir, "channels.txt", ch, msg) : vbt__fail(msg, VBT_ENOMEM, "oom");
        free(ch);
        if (rc)
            goto out;
    }
    cJSON *sj = settings_json(&st);
    rc = write_json(mdir, "settings.json", sj, msg);
    cJSON_Delete(sj);
    if (rc || (rc = model_build(mdir, vdir, 1, &st, (size_t)(o.threads > 0 ? o.threads : 1),
                                &md, msg)))
        goto out;
    const size_t N = st.particles, n = vbt_vep_multi_n_params(md.mm);
    if (!(part = malloc(N * n * sizeof *part))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    vbt_smc_opts so;
    smc_opts(&st, o.seed + 1, o.threads, &so);
    vbt_smc_result sr;
    vbt_vep_map_opts mo;
    map_opts(&st, &mo);
    say(&o, "MAP (%zu starts), then SMC from its Laplace approximation: %zu particles, %zu "
        "parameters", mo.n_starts, N, n);
    double cs = cpu_now();
    if ((rc = vbt_vep_multi_smc_laplace(md.mm, &mo, &so, part, &sr, NULL, msg)))
        goto out;
    res->smc_cpu_s = cpu_now() - cs;
    if ((rc = ezmap_make(md.mm, part, N, n, &e, msg)))
        goto out;
    res->r2_new = r2_of(&md, 0, part, N, n);
    snprintf(res->version, sizeof res->version, "v0001");
    res->n_recordings = 1;
    res->n_particles = N;
    res->n_params = n;
    res->n_regions = e.nr;
    res->n_steps = sr.n_steps;
    res->log_evidence = sr.log_evidence;
    prov = prov_new(&o, "init", patient_dir);
    char pseud[64] = "";
    vbt_msg why;
    vbt_patient_pseudonym(pat, pseud, sizeof pseud, &why);
    cJSON_AddStringToObject(prov, "patient", pseud);
    cJSON_AddNullToObject(prov, "parent");
    cJSON *recs = cJSON_AddArrayToObject(prov, "recordings");
    char hex[65];
    if ((rc = vbt_sha256_file(pat->recordings[0], hex, msg)))
        goto out;
    cJSON *r1 = cJSON_CreateObject();
    cJSON_AddNumberToObject(r1, "index", 1);
    cJSON_AddStringToObject(r1, "file", base_name(pat->recordings[0]));
    cJSON_AddStringToObject(r1, "sha256", hex);
    cJSON_AddStringToObject(r1, "absorbed_by", "v0001");
    cJSON_AddItemToArray(recs, r1);
    res->cpu_s = cpu_now() - c0;
    res->wall_s = wall_now() - w0;
    add_result(prov, res, &sr);
    if ((rc = write_version(vdir, md.mm, part, N, &e, md.conn, prov, msg)))
        goto out;
    rc = vbt_outdir_commit(od, msg);
    od = NULL;
out:
    vbt_outdir_abort(od);
    cJSON_Delete(prov);
    ezmap_free(&e);
    free(part);
    model_free(&md);
    vbt_patient_free(pat);
    return rc;
}

/* ---- update --------------------------------------------------------------------------- */

typedef struct state {
    settings st;
    unsigned version;
    char vdir[PATHLEN], mdir[PATHLEN];
    cJSON *vj;           /* the latest version.json */
    size_t K;            /* recordings */
    vbt_array particles;
} state;

static void state_free(state *s)
{
    cJSON_Delete(s->vj);
    vbt_array_clear(&s->particles);
}

static int state_load(const char *twin_dir, state *s, int want_particles, vbt_msg *msg)
{
    memset(s, 0, sizeof *s);
    struct stat sb;
    if (stat(twin_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return vbt__fail(msg, VBT_EIO, "'%s': no such twin folder", vbt_path_public(twin_dir));
    s->version = latest_version(twin_dir);
    char vname[16];
    snprintf(vname, sizeof vname, "v%04u", s->version);
    if (!s->version || join(s->vdir, sizeof s->vdir, twin_dir, vname) ||
        join(s->mdir, sizeof s->mdir, twin_dir, "model"))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a twin (no version folder)",
                         vbt_path_public(twin_dir));
    int rc = settings_load(s->mdir, &s->st, msg);
    if (rc)
        return rc;
    if (!(s->vj = read_json(s->vdir, "version.json", msg)))
        return VBT_EFORMAT;
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(s->vj, "recordings");
    s->K = (size_t)cJSON_GetArraySize(recs);
    if (!s->K)
        return vbt__fail(msg, VBT_EFORMAT, "'%s/version.json': no recordings", vname);
    if (want_particles) {
        char p[PATHLEN];
        if (join(p, sizeof p, s->vdir, "particles.npy") ||
            (rc = vbt_npy_read(p, &s->particles, msg)))
            return rc ? rc : VBT_EINVAL;
        if (s->particles.ndim != 2 || s->particles.shape[0] != s->st.particles)
            return vbt__fail(msg, VBT_EFORMAT, "'%s/particles.npy': expected [%zu, parameter]",
                             vname, s->st.particles);
    }
    return VBT_OK;
}

int vbt_twin_update(const char *twin_dir, const char *recording, const char *events,
                    const vbt_twin_opts *o_in, vbt_twin_result *res, vbt_msg *msg)
{
    vbt_twin_opts o;
    vbt_twin_result scratch;
    res = call_begin(res, &scratch, o_in, &o);
    if (!twin_dir || !recording)
        return vbt__fail(msg, VBT_EINVAL, "twin update: no twin or no recording");
    const double c0 = cpu_now(), w0 = wall_now();
    state s;
    vbt_outdir *od = NULL;
    model md = {0};
    ezmap before = {0}, after = {0};
    double *part = NULL;
    char **ch = NULL;
    size_t nch = 0;
    cJSON *prov = NULL;
    int rc;
    char hex[65], vname[16], rdir[PATHLEN], rpath[PATHLEN], rname[32];
    if ((rc = state_load(twin_dir, &s, 1, msg)))
        goto out;
    /* refusals first: already absorbed, then contacts and rate (make_feature) */
    if ((rc = vbt_sha256_file(recording, hex, msg)))
        goto out;
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(s.vj, "recordings"), *r;
    cJSON_ArrayForEach(r, recs)
    {
        const char *h = jstr(r, "sha256");
        if (h && !strcmp(h, hex)) {
            rc = vbt__fail(msg, VBT_EEXIST, "'%s': this recording is already in the twin "
                           "(recording %d, absorbed by %s; same SHA-256)", base_name(recording),
                           (int)jnum(r, "index", 0), jstr(r, "absorbed_by") ? jstr(r, "absorbed_by") : "?");
            goto out;
        }
    }
    if (s.K >= MAX_RECORDINGS || s.version >= 9999) {
        rc = vbt__fail(msg, VBT_ERANGE, "twin update: the twin is full");
        goto out;
    }
    if ((rc = read_channels(s.mdir, &ch, &nch, msg)))
        goto out;
    const unsigned newv = s.version + 1;
    const size_t K = s.K + 1;
    snprintf(vname, sizeof vname, "v%04u", newv);
    char final[PATHLEN];
    if (join(final, sizeof final, twin_dir, vname)) {
        rc = vbt__fail(msg, VBT_EINVAL, "path too long");
        goto out;
    }
    /* the new version is staged beside its place (a killed update's staging
     * folder is removed here, by the next one) */
    if ((rc = vbt_outdir_begin(&od, final, 0, msg)))
        goto out;
    const char *vdir = vbt_outdir_path(od);
    snprintf(rname, sizeof rname, "r%zu", K);
    if (join(rdir, sizeof rdir, vdir, "recordings") || join(rpath, sizeof rpath, rdir, rname) ||
        mkdir(rdir, 0777)) {
        rc = vbt__fail(msg, VBT_EIO, "twin update: cannot create the version folder");
        goto out;
    }
    say(&o, "feature of recording %zu (%s)", K, base_name(recording));
    if ((rc = make_feature(recording, events, &s.st, ch, nch, s.mdir, rpath, msg)))
        goto out;
    for (size_t k = 1; k < K; k++) {
        char a[PATHLEN], b[PATHLEN], nm[48];
        snprintf(nm, sizeof nm, "recordings/r%zu", k);
        if (join(a, sizeof a, s.vdir, nm) || join(b, sizeof b, vdir, nm) ||
            (rc = copy_dir(a, b, msg))) {
            if (!rc)
                rc = vbt__fail(msg, VBT_EINVAL, "path too long");
            goto out;
        }
    }
    const size_t T = (size_t)(o.threads > 0 ? o.threads : 1);
    if ((rc = model_build(s.mdir, vdir, K, &s.st, T, &md, msg)))
        goto out;
    const size_t N = s.st.particles, n = vbt_vep_multi_n_params(md.mm),
                 n_old = s.particles.shape[1];
    if (n_old >= n) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s/particles.npy' has %zu parameters, more than the "
                       "%zu-seizure model's %zu", vbt_path_public(s.vdir), n_old, K, n);
        goto out;
    }
    if (!(part = malloc(N * n * sizeof *part))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ezmap_make(md.mm, s.particles.data, N, n_old, &before, msg)))
        goto out;
    vbt_smc_opts so;
    smc_opts(&s.st, o.seed + newv, o.threads, &so);
    vbt_smc_result sr;
    vbt_vep_multi_update_info info;
    say(&o, "SMC update from %zu particles: %zu -> %zu parameters", N, n_old, n);
    double cs = cpu_now();
    if ((rc = vbt_vep_multi_update(md.mm, s.particles.data, NULL, &so, part, &sr, &info, msg)))
        goto out;
    res->smc_cpu_s = cpu_now() - cs;
    if ((rc = ezmap_make(md.mm, part, N, n, &after, msg)))
        goto out;
    snprintf(res->version, sizeof res->version, "%s", vname);
    res->n_recordings = K;
    res->n_particles = N;
    res->n_params = n;
    res->n_regions = after.nr;
    res->n_steps = sr.n_steps;
    res->log_evidence = sr.log_evidence;
    res->reweight_ess = sr.reweight_ess;
    res->marginal_ess = info.marginal_ess;
    res->correction_ess = info.surrogate ? info.correction_ess : NAN;
    res->surrogate_steps = info.surrogate_steps;
    res->exact_steps = info.surrogate ? info.exact_steps : sr.n_steps;
    res->collapsed = !(info.marginal_ess >= o.collapse * (double)N);
    double *r2 = malloc(K * sizeof *r2);
    if (!r2) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < K; k++)
        r2[k] = r2_of(&md, k, part, N, n);
    res->r2_new = r2[K - 1];
    qsort(r2, K - 1, sizeof *r2, cmp_double);
    res->r2_old = (K - 1) % 2 ? r2[(K - 1) / 2] : 0.5 * (r2[(K - 1) / 2 - 1] + r2[(K - 1) / 2]);
    free(r2);
    res->unexplained = !(res->r2_new >= 0.5 * res->r2_old);
    /* what changed */
    vbt_textbuf ct = {0};
    vbt_textbuf_printf(&ct, "region\tlabel\tclass_before\tclass_after\tp_ez_before\tp_ez_after\n");
    cJSON *changed = cJSON_CreateArray();
    for (size_t i = 0; i < after.nr; i++) {
        if (before.cls[i] == after.cls[i])
            continue;
        res->n_changed++;
        vbt_textbuf_printf(&ct, "%zu\t%s\t%s\t%s\t%.4f\t%.4f\n", i, md.conn->labels[i],
                           vbt_vep_class_name((vbt_vep_class)before.cls[i]),
                           vbt_vep_class_name((vbt_vep_class)after.cls[i]), before.p_ez[i],
                           after.p_ez[i]);
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "region", md.conn->labels[i]);
        cJSON_AddStringToObject(c, "before", vbt_vep_class_name((vbt_vep_class)before.cls[i]));
        cJSON_AddStringToObject(c, "after", vbt_vep_class_name((vbt_vep_class)after.cls[i]));
        cJSON_AddItemToArray(changed, c);
    }
    char *ctext = tb_take(&ct);
    rc = ctext ? write_text(vdir, "changes.tsv", ctext, msg) : vbt__fail(msg, VBT_ENOMEM, "oom");
    free(ctext);
    if (rc) {
        cJSON_Delete(changed);
        goto out;
    }
    prov = prov_new(&o, "update", NULL);
    const char *pat = jstr(s.vj, "patient");
    cJSON_AddStringToObject(prov, "patient", pat ? pat : "");
    char parent[16];
    snprintf(parent, sizeof parent, "v%04u", s.version);
    cJSON_AddStringToObject(prov, "parent", parent);
    cJSON *nrecs = cJSON_Duplicate(recs, 1);
    cJSON *rn = cJSON_CreateObject();
    cJSON_AddNumberToObject(rn, "index", (double)K);
    cJSON_AddStringToObject(rn, "file", base_name(recording));
    cJSON_AddStringToObject(rn, "sha256", hex);
    if (events) {
        char eh[65];
        if ((rc = vbt_sha256_file(events, eh, msg))) {
            cJSON_Delete(nrecs);
            cJSON_Delete(rn);
            cJSON_Delete(changed);
            goto out;
        }
        cJSON_AddStringToObject(rn, "events", base_name(events));
        cJSON_AddStringToObject(rn, "events_sha256", eh);
    }
    cJSON_AddStringToObject(rn, "absorbed_by", vname);
    cJSON_AddItemToArray(nrecs, rn);
    cJSON_AddItemToObject(prov, "recordings", nrecs);
    cJSON_AddItemToObject(prov, "changed", changed);
    cJSON *chain = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s.vj, "chain"), 1);
    if (!chain)
        chain = cJSON_CreateArray();
    cJSON *link = cJSON_CreateObject();
    cJSON_AddStringToObject(link, "version", vname);
    cJSON_AddStringToObject(link, "parent", parent);
    cJSON_AddStringToObject(link, "recording_sha256", hex);
    cJSON_AddNumberToObject(link, "reweight_ess", sr.reweight_ess);
    cJSON_AddNumberToObject(link, "marginal_ess", info.marginal_ess);
    cJSON_AddNumberToObject(link, "tempering_steps", (double)sr.n_steps);
    if (info.surrogate)
        cJSON_AddNumberToObject(link, "correction_ess", info.correction_ess);
    cJSON_AddItemToArray(chain, link);
    cJSON_AddItemToObject(prov, "chain", chain);
    cJSON *pj = cJSON_AddObjectToObject(prov, "proposal");
    cJSON_AddNumberToObject(pj, "new_parameters", (double)info.n_nuisance);
    cJSON_AddNumberToObject(pj, "newton_steps", (double)info.nu_iter);
    /* the surrogate tempering (vbt_vep_multi_update) and its exact correction */
    cJSON *sj = cJSON_AddObjectToObject(prov, "surrogate");
    cJSON_AddBoolToObject(sj, "used", info.surrogate);
    if (info.surrogate) {
        cJSON_AddStringToObject(sj, "stand_in", "Gaussian of the previous particles");
        cJSON_AddNumberToObject(sj, "newton_steps", (double)info.surrogate_newton);
        cJSON_AddNumberToObject(sj, "surrogate_steps", (double)info.surrogate_steps);
        cJSON_AddNumberToObject(sj, "surrogate_move_rounds", (double)info.surrogate_rounds);
        cJSON_AddNumberToObject(sj, "surrogate_gradients", (double)info.surrogate_grad);
        cJSON_AddNumberToObject(sj, "exact_steps", (double)info.exact_steps);
        cJSON_AddNumberToObject(sj, "exact_move_rounds", (double)info.exact_rounds);
        cJSON_AddNumberToObject(sj, "exact_gradients", (double)info.exact_grad);
        cJSON_AddNumberToObject(sj, "correction_ess", info.correction_ess);
    }
    res->cpu_s = cpu_now() - c0;
    res->wall_s = wall_now() - w0;
    add_result(prov, res, &sr);
    if ((rc = write_version(vdir, md.mm, part, N, &after, md.conn, prov, msg)))
        goto out;
    rc = vbt_outdir_commit(od, msg);
    od = NULL;
out:
    vbt_outdir_abort(od);
    cJSON_Delete(prov);
    ezmap_free(&before);
    ezmap_free(&after);
    free(part);
    free_names(ch, nch);
    model_free(&md);
    state_free(&s);
    return rc;
}

/* ---- refit, P(EZ), report ---------------------------------------------------------------- */

int vbt_twin_refit(const char *twin_dir, const vbt_twin_opts *o_in, double *p_ez,
                   double *x0_mean, double *x0_sd, vbt_twin_result *res, vbt_msg *msg)
{
    vbt_twin_opts o;
    vbt_twin_result scratch;
    res = call_begin(res, &scratch, o_in, &o);
    const double c0 = cpu_now(), w0 = wall_now();
    state s;
    model md = {0};
    ezmap e = {0};
    double *part = NULL;
    vbt_array lw = {0};
    int rc;
    const int latest = o.refit_start == VBT_TWIN_START_LATEST;
    if (o.refit_start != VBT_TWIN_START_MAP && o.refit_start != VBT_TWIN_START_STAGED && !latest)
        return vbt__fail(msg, VBT_EINVAL, "twin refit: unknown start %d", o.refit_start);
    const int search = o.refit_start == VBT_TWIN_START_STAGED ? VBT_VEP_MULTI_SEARCH_STAGED
                                                              : VBT_VEP_MULTI_SEARCH_MAP;
    if ((rc = state_load(twin_dir, &s, latest, msg)) ||
        (rc = model_build(s.mdir, s.vdir, s.K, &s.st, (size_t)(o.threads > 0 ? o.threads : 1),
                          &md, msg)))
        goto out;
    const size_t N = s.st.particles, n = vbt_vep_multi_n_params(md.mm);
    if (latest) {
        /* the latest version's particles and their weights (equal when the
         * file is missing, as the updates write them) */
        char p[PATHLEN];
        if (s.particles.shape[1] != n) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s/particles.npy' has %zu parameters, not the "
                           "%zu-seizure model's %zu", vbt_path_public(s.vdir),
                           s.particles.shape[1], s.K, n);
            goto out;
        }
        if (!join(p, sizeof p, s.vdir, "log_weights.npy") && access(p, F_OK) == 0) {
            if ((rc = vbt_npy_read(p, &lw, msg)))
                goto out;
            if (lw.size != N) {
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s/log_weights.npy' has %zu values, not %zu",
                               vbt_path_public(s.vdir), lw.size, N);
                goto out;
            }
        }
    }
    if (!(part = malloc(N * n * sizeof *part))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    vbt_smc_opts so;
    smc_opts(&s.st, o.seed, o.threads, &so);
    vbt_smc_result sr;
    vbt_vep_map_opts mo;
    map_opts(&s.st, &mo);
    say(&o, "joint fit of %zu recording%s: %s, SMC from its Laplace approximation, %zu "
        "parameters", s.K, s.K == 1 ? "" : "s",
        latest ? "joint Newton from the latest version's particles"
        : search == VBT_VEP_MULTI_SEARCH_STAGED && s.K > 1
            ? "joint Newton from the MAP and from the first seizure's posterior, the heaviest "
              "mode kept"
            : "MAP",
        n);
    double cs = cpu_now();
    vbt_vep_multi_laplace_info li;
    if ((rc = vbt_vep_multi_smc_laplace_from(md.mm, &mo, &so, search,
                                             latest ? s.particles.data : NULL,
                                             lw.data, latest ? N : 0, part, &sr, &li, msg)) ||
        (rc = ezmap_make(md.mm, part, N, n, &e, msg)))
        goto out;
    res->smc_cpu_s = cpu_now() - cs;
    res->mode_start_lp = li.start_lp;
    res->mode_lp = li.mode_lp;
    res->mode_log_mass = li.log_mass;
    res->mode_decrement = li.decrement;
    res->mode_ridge = li.ridge;
    res->newton_steps = li.newton_steps;
    res->newton_cap = li.newton_cap;
    res->start_index = li.start_index;
    res->n_starts = li.n_starts;
    res->best_start = li.best_start;
    memcpy(res->start_log_mass, li.start_log_mass, sizeof res->start_log_mass);
    snprintf(res->version, sizeof res->version, "v%04u", s.version);
    res->n_recordings = s.K;
    res->n_particles = N;
    res->n_params = n;
    res->n_regions = e.nr;
    res->n_steps = sr.n_steps;
    res->log_evidence = sr.log_evidence;
    if (p_ez)
        memcpy(p_ez, e.p_ez, e.nr * sizeof *p_ez);
    if (x0_mean)
        memcpy(x0_mean, e.mean, e.nr * sizeof *x0_mean);
    if (x0_sd)
        memcpy(x0_sd, e.sd, e.nr * sizeof *x0_sd);
    res->cpu_s = cpu_now() - c0;
    res->wall_s = wall_now() - w0;
out:
    ezmap_free(&e);
    free(part);
    vbt_array_clear(&lw);
    model_free(&md);
    state_free(&s);
    return rc;
}

/* ezmap.tsv of version v: labels (may be NULL) and per region P(EZ), class. */
static int read_ezmap(const char *twin_dir, unsigned v, size_t max, double *p_ez, int *cls,
                      char (*labels)[VBT_LABEL_MAX], size_t *nr, vbt_msg *msg)
{
    char p[PATHLEN], *t = NULL;
    size_t len;
    snprintf(p, sizeof p, "%s/v%04u/ezmap.tsv", twin_dir, v);
    int rc = vbt_file_read_all(p, &t, &len, 0, msg);
    if (rc)
        return rc;
    size_t k = 0;
    for (char *pos = t; pos && *pos;) {
        char *f[12];
        size_t nf = vbt__pipe_record(&pos, '\t', f, 12);
        if (nf < 8 || !strcmp(f[0], "region"))
            continue;
        if (k < max) {
            p_ez[k] = strtod(f[2], NULL);
            if (cls)
                cls[k] = !strcmp(f[7], "EZ") ? 2 : !strcmp(f[7], "PZ") ? 1 : 0;
            if (labels)
                snprintf(labels[k], VBT_LABEL_MAX, "%s", f[1]);
        }
        k++;
    }
    free(t);
    *nr = k;
    return VBT_OK;
}

int vbt_twin_p_ez(const char *twin_dir, double *p_ez, size_t max, size_t *n_regions,
                  char *version, vbt_msg *msg)
{
    unsigned v = twin_dir ? latest_version(twin_dir) : 0;
    if (!v)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a twin (no version folder)",
                         twin_dir ? vbt_path_public(twin_dir) : "(null)");
    size_t nr = 0;
    int rc = read_ezmap(twin_dir, v, max, p_ez, NULL, NULL, &nr, msg);
    if (n_regions)
        *n_regions = nr;
    if (version)
        snprintf(version, 16, "v%04u", v);
    return rc;
}

static const char *cls_name(int c) { return c == 2 ? "EZ" : c == 1 ? "PZ" : "HZ"; }

int vbt_twin_report(const char *twin_dir, char **tsv, char **html, vbt_msg *msg)
{
    if (!twin_dir || !tsv)
        return vbt__fail(msg, VBT_EINVAL, "twin report: NULL argument");
    *tsv = NULL;
    if (html)
        *html = NULL;
    const unsigned V = latest_version(twin_dir);
    if (!V)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a twin (no version folder)",
                         vbt_path_public(twin_dir));
    size_t nr = 0;
    double one;
    int rc = read_ezmap(twin_dir, 1, 1, &one, NULL, NULL, &nr, msg);
    if (rc)
        return rc;
    double *pez = calloc((size_t)V * nr + 1, sizeof *pez);
    int *cls = calloc((size_t)V * nr + 1, sizeof *cls);
    char (*labels)[VBT_LABEL_MAX] = calloc(nr + 1, sizeof *labels);
    cJSON **vj = calloc(V, sizeof *vj);
    if (!pez || !cls || !labels || !vj) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    for (unsigned v = 1; v <= V && !rc; v++) {
        size_t k;
        char vdir[PATHLEN];
        snprintf(vdir, sizeof vdir, "%s/v%04u", twin_dir, v);
        struct stat sb;
        if (stat(vdir, &sb) != 0)
            continue; /* a version removed by hand */
        rc = read_ezmap(twin_dir, v, nr, pez + (v - 1) * nr, cls + (v - 1) * nr,
                        v == 1 ? labels : NULL, &k, msg);
        if (!rc && k != nr)
            rc = vbt__fail(msg, VBT_EFORMAT, "'v%04u/ezmap.tsv': %zu regions, v0001 has %zu", v,
                           k, nr);
        if (!rc)
            vj[v - 1] = read_json(vdir, "version.json", msg);
    }
    if (rc)
        goto out;
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "# vbt twin report: EZ map over %u version(s)\n", V);
    for (unsigned v = 1; v <= V; v++) {
        const cJSON *j = vj[v - 1], *recs = cJSON_GetObjectItemCaseSensitive(j, "recordings"),
                    *smp = cJSON_GetObjectItemCaseSensitive(j, "sampling");
        const cJSON *last = cJSON_GetArrayItem(recs, cJSON_GetArraySize(recs) - 1);
        vbt_textbuf_printf(&b, "# v%04u: %d recording(s), added %s (sha256 %.12s...)", v,
                           cJSON_GetArraySize(recs),
                           last && jstr(last, "file") ? jstr(last, "file") : "?",
                           last && jstr(last, "sha256") ? jstr(last, "sha256") : "?");
        double ress = jnum(smp, "reweight_ess", NAN), mess = jnum(smp, "marginal_ess", NAN);
        if (isfinite(ress))
            vbt_textbuf_printf(&b, ", reweighting ESS %.0f (x0 and K: %.0f) of %.0f%s", ress, mess,
                               jnum(smp, "particles", 0),
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(smp, "collapsed"))
                                   ? " (COLLAPSED)"
                                   : "");
        double r2n = jnum(smp, "r2_new", NAN), r2o = jnum(smp, "r2_old", NAN);
        if (isfinite(r2n))
            vbt_textbuf_printf(&b, ", feature variance explained %.2f", r2n);
        if (isfinite(r2o))
            vbt_textbuf_printf(&b, " (earlier seizures %.2f)%s", r2o,
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(smp, "unexplained"))
                                   ? " NOT EXPLAINED"
                                   : "");
        size_t nch = 0;
        for (size_t r = 0; v > 1 && r < nr; r++)
            nch += cls[(v - 1) * nr + r] != cls[(v - 2) * nr + r];
        if (v > 1)
            vbt_textbuf_printf(&b, ", %zu region(s) changed class", nch);
        vbt_textbuf_printf(&b, "\n");
    }
    vbt_textbuf_printf(&b, "region\tlabel");
    for (unsigned v = 1; v <= V; v++)
        vbt_textbuf_printf(&b, "\tp_ez_v%04u\tclass_v%04u", v, v);
    vbt_textbuf_printf(&b, "\n");
    for (size_t r = 0; r < nr; r++) {
        vbt_textbuf_printf(&b, "%zu\t%s", r, labels[r]);
        for (unsigned v = 1; v <= V; v++)
            vbt_textbuf_printf(&b, "\t%.4f\t%s", pez[(v - 1) * nr + r],
                               cls_name(cls[(v - 1) * nr + r]));
        vbt_textbuf_printf(&b, "\n");
    }
    *tsv = tb_take(&b);
    if (!*tsv) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    if (html) {
        /* P(EZ) over versions of every region that reaches 0.05 somewhere */
        static const char *const colors[] = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e",
                                             "#9467bd", "#8c564b", "#e377c2", "#17becf"};
        const double W = 640, H = 320, L = 50, R = 200, T = 20, B = 40;
        vbt_textbuf h = {0};
        vbt_textbuf_printf(&h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>vbt "
                               "twin report</title><style>body{font-family:sans-serif}"
                               "td,th{padding:2px 6px;text-align:right}</style></head><body>\n"
                               "<h1>EZ map over %u version(s)</h1>\n<svg width=\"%g\" "
                               "height=\"%g\" xmlns=\"http://www.w3.org/2000/svg\">\n", V, W, H);
        vbt_textbuf_printf(&h, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>"
                               "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n",
                           L, H - B, W - R, H - B, L, T, L, H - B);
        for (int k = 0; k <= 4; k++)
            vbt_textbuf_printf(&h, "<text x=\"%g\" y=\"%g\" font-size=\"11\" "
                                   "text-anchor=\"end\">%.2f</text>\n", L - 4,
                               H - B - (H - T - B) * k / 4.0 + 4, k / 4.0);
        for (unsigned v = 1; v <= V; v++)
            vbt_textbuf_printf(&h, "<text x=\"%g\" y=\"%g\" font-size=\"11\" "
                                   "text-anchor=\"middle\">v%04u</text>\n",
                               L + (V > 1 ? (W - L - R) * (v - 1) / (double)(V - 1) : 0),
                               H - B + 16, v);
        vbt_textbuf_printf(&h, "<text x=\"%g\" y=\"%g\" font-size=\"12\" text-anchor=\"middle\">"
                               "P(EZ)</text>\n", 14.0, T - 6 + (H - T - B) / 2);
        size_t shown = 0;
        for (size_t r = 0; r < nr; r++) {
            double mx = 0;
            for (unsigned v = 1; v <= V; v++)
                mx = fmax(mx, pez[(v - 1) * nr + r]);
            if (mx < 0.05)
                continue;
            const char *c = colors[shown++ % 8];
            vbt_textbuf_printf(&h, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                                   "points=\"", c);
            double yl = 0;
            for (unsigned v = 1; v <= V; v++) {
                double x = L + (V > 1 ? (W - L - R) * (v - 1) / (double)(V - 1) : 0);
                yl = H - B - (H - T - B) * pez[(v - 1) * nr + r];
                vbt_textbuf_printf(&h, "%.1f,%.1f ", x, yl);
            }
            vbt_textbuf_printf(&h, "\"/><text x=\"%g\" y=\"%.1f\" font-size=\"11\" fill=\"%s\">"
                                   "%s</text>\n", W - R + 6, yl + 4, c, labels[r]);
        }
        vbt_textbuf_printf(&h, "</svg>\n<table><tr><th>region</th>");
        for (unsigned v = 1; v <= V; v++)
            vbt_textbuf_printf(&h, "<th>v%04u</th>", v);
        vbt_textbuf_printf(&h, "</tr>\n");
        for (size_t r = 0; r < nr; r++) {
            vbt_textbuf_printf(&h, "<tr><td>%s</td>", labels[r]);
            for (unsigned v = 1; v <= V; v++)
                vbt_textbuf_printf(&h, "<td>%.2f %s</td>", pez[(v - 1) * nr + r],
                                   cls_name(cls[(v - 1) * nr + r]));
            vbt_textbuf_printf(&h, "</tr>\n");
        }
        vbt_textbuf_printf(&h, "</table>\n</body></html>\n");
        *html = tb_take(&h);
        if (!*html)
            rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
out:
    for (unsigned v = 0; vj && v < V; v++)
        cJSON_Delete(vj[v]);
    free(vj);
    free(pez);
    free(cls);
    free(labels);
    if (rc) {
        free(*tsv);
        *tsv = NULL;
    }
    return rc;
}
