/* patient.c -- a patient folder read once into a vbt_patient (vbt_patient.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "vbt_io.h"
#include "vbt_patient.h"
#include "vbt_surgery.h"

/* Region list files larger than this are not patient notes. */
#define LIST_MAX_BYTES ((size_t)1 << 20)

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

/* "dir/name", malloc'd; NULL when out of memory. */
static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (s) {
        memcpy(s, dir, a);
        s[a] = '/';
        memcpy(s + a + 1, name, b + 1);
    }
    return s;
}

/* Something at path that is not a regular file (a directory named like
 * an input file) is an error naming it, never a silent fallback. */
static int not_a_file(const char *path, vbt_msg *msg)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %s where a file is expected", path,
                         S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    return VBT_OK;
}

/* dir/name when it is a regular file, else NULL: *err is set to VBT_ENOMEM
 * when the path could not be allocated, to VBT_EFORMAT (msg set) when
 * dir/name exists but is not a regular file; left alone otherwise. */
static char *file_in(const char *dir, const char *name, int *err, vbt_msg *msg)
{
    if (*err)
        return NULL;
    char *s = join(dir, name);
    if (!s) {
        *err = VBT_ENOMEM;
        return NULL;
    }
    if (is_file(s))
        return s;
    *err = not_a_file(s, msg);
    free(s);
    return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry of dir whose name starts with prefix and ends with suffix
 * (NULL: any), as dir/name, sorted by name; *n may be 0.  With a suffix the
 * entries are files: one that is not is VBT_EFORMAT naming it.  VBT_ENOMEM,
 * or VBT_OK (an unreadable folder lists nothing). */
static int list_entries(const char *dir, const char *prefix, const char *suffix, char ***out,
                        size_t *n, vbt_msg *msg)
{
    char **v = NULL;
    size_t k = 0, cap = 0;
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return VBT_OK;
    struct dirent *e;
    int st = VBT_OK;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || (suffix && !ends_with(e->d_name, suffix)))
            continue;
        if (k == cap) {
            size_t nc = cap ? 2 * cap : 8;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                st = VBT_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[k] = join(dir, e->d_name))) {
            st = VBT_ENOMEM;
            break;
        }
        k++;
        if (suffix && (st = not_a_file(v[k - 1], msg)))
            break;
    }
    closedir(d);
    if (st) {
        for (size_t i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return st;
    }
    if (k)
        qsort(v, k, sizeof *v, cmp_str);
    *out = v;
    *n = k;
    return VBT_OK;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The recordings of the ieeg folder in the formats BIDS-iEEG allows that vbt
 * reads (EDF, BDF, BrainVision's header), sorted by name. */
static int list_recordings(const char *dir, char ***out, size_t *n, vbt_msg *msg)
{
    static const char *const suffix[] = {"_ieeg.edf", "_ieeg.bdf", "_ieeg.vhdr"};
    char **all = NULL;
    size_t n_all = 0;
    *out = NULL;
    *n = 0;
    for (size_t f = 0; f < sizeof suffix / sizeof *suffix; f++) {
        char **v;
        size_t k;
        int st = list_entries(dir, "sub-", suffix[f], &v, &k, msg);
        char **nv = st || !k ? NULL : realloc(all, (n_all + k) * sizeof *nv);
        if (!st && k && !nv)
            st = VBT_ENOMEM;
        if (st) {
            free_list(v, k);
            free_list(all, n_all);
            return st == VBT_ENOMEM ? vbt__fail(msg, st, "out of memory") : st;
        }
        if (k) {
            all = nv;
            memcpy(all + n_all, v, k * sizeof *v);
            n_all += k;
        }
        free(v);
    }
    if (n_all)
        qsort(all, n_all, sizeof *all, cmp_str);
    *out = all;
    *n = n_all;
    return VBT_OK;
}

/* The first entry of dir starting with prefix and ending with suffix, or
 * NULL (*err set as list_entries fails). */
static char *first_entry(const char *dir, const char *prefix, const char *suffix, int *err,
                         vbt_msg *msg)
{
    char **v;
    size_t n;
    if (*err)
        return NULL;
    if ((*err = list_entries(dir, prefix, suffix, &v, &n, msg)))
        return NULL;
    char *s = n ? v[0] : NULL;
    for (size_t i = 1; i < n; i++)
        free(v[i]);
    free(v);
    return s;
}

void vbt_patient_region_list(char *text)
{
    int comment = 0;
    for (char *c = text; *c; c++) {
        if (*c == '\n' || *c == '\r') {
            comment = 0;
            *c = ',';
        } else if (comment || *c == '#') {
            comment = 1;
            *c = ' ';
        }
    }
    char *w = text;
    for (char *r = text; *r; r++) {
        if ((*r == ',' || *r == ' ' || *r == '\t') && (w == text || w[-1] == ','))
            continue;
        *w++ = *r;
    }
    while (w > text && (w[-1] == ',' || w[-1] == ' ' || w[-1] == '\t'))
        w--;
    *w = '\0';
}

/* A region list file's text, or VBT_EFORMAT when it holds a NUL byte (not
 * a text file). */
static int read_list(const char *path, char **text, vbt_msg *msg)
{
    size_t len;
    if (vbt_file_read_all(path, text, &len, LIST_MAX_BYTES, msg))
        return VBT_EIO;
    size_t nul = strlen(*text);
    if (nul != len) {
        free(*text);
        *text = NULL;
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a text file (a NUL byte at offset %zu)",
                         path, nul);
    }
    return VBT_OK;
}

/* resections.txt: one scenario per line that names regions. */
static int read_resections(vbt_patient *p, vbt_msg *msg)
{
    char *text = NULL;
    int st = read_list(p->resections_path, &text, msg);
    if (st)
        return st;
    size_t cap = 0, line = 0;
    for (char *l = text; l && *l;) {
        char *nl = strpbrk(l, "\n");
        if (nl)
            *nl = '\0';
        line++;
        vbt_patient_region_list(l);
        if (*l) {
            if (p->n_resections == cap) {
                size_t nc = cap ? 2 * cap : 16;
                char **nr = realloc(p->resections, nc * sizeof *nr);
                size_t *nln = nr ? realloc(p->resection_lines, nc * sizeof *nln) : NULL;
                if (nr)
                    p->resections = nr;
                if (!nr || !nln) {
                    free(text);
                    return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", p->resections_path);
                }
                p->resection_lines = nln;
                cap = nc;
            }
            if (!(p->resections[p->n_resections] = strdup(l))) {
                free(text);
                return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", p->resections_path);
            }
            p->resection_lines[p->n_resections++] = line;
        }
        l = nl ? nl + 1 : NULL;
    }
    free(text);
    return VBT_OK;
}

/* The BIDS part: sub-*, ses-*, ieeg/, electrodes, recordings and sidecars. */
static int load_bids(vbt_patient *p, int *oom, vbt_msg *msg)
{
    char *sub = first_entry(p->dir, "sub-", NULL, oom, msg), *ses = NULL;
    if (sub && is_dir(sub))
        ses = first_entry(sub, "ses-", NULL, oom, msg);
    if (*oom || !ses) {
        free(sub);
        free(ses);
        return *oom ? *oom
                    : vbt__fail(msg, VBT_ENOTFOUND, "'%s': no BIDS sub-*/ses-* folder", p->dir);
    }
    p->subject = strdup(strrchr(sub, '/') + 1 + 4);
    p->ieeg_dir = join(ses, "ieeg");
    free(sub);
    free(ses);
    if (!p->subject || !p->ieeg_dir)
        return VBT_ENOMEM;
    p->electrodes = first_entry(p->ieeg_dir, "sub-", "_electrodes.tsv", oom, msg);
    if (*oom)
        return *oom;
    if (!p->electrodes)
        return vbt__fail(msg, VBT_ENOTFOUND, "'%s': no *_electrodes.tsv", p->ieeg_dir);
    return VBT_OK;
}

/* The first recording's sidecars: NAME_ieeg.EXT -> NAME_channels.tsv,
 * NAME_events.tsv. */
static char *sidecar(const char *rec, const char *suffix, int *err, vbt_msg *msg)
{
    if (*err)
        return NULL;
    const char *base = strrchr(rec, '/'), *ext = NULL;
    for (const char *q = base ? base : rec; (q = strstr(q, "_ieeg.")); q++)
        ext = q;   /* the last "_ieeg." of the file name */
    size_t stem = ext ? (size_t)(ext - rec) : strlen(rec), ls = strlen(suffix);
    char *s = malloc(stem + ls + 1);
    if (!s) {
        *err = VBT_ENOMEM;
        return NULL;
    }
    memcpy(s, rec, stem);
    memcpy(s + stem, suffix, ls + 1);
    if (is_file(s))
        return s;
    *err = not_a_file(s, msg);
    free(s);
    return NULL;
}

static int load_parcellation(vbt_patient *p, int *oom, vbt_msg *msg)
{
    if (!(p->parcellation = file_in(p->dir, "parcellation.nii.gz", oom, msg)))
        p->parcellation = file_in(p->dir, "parcellation.nii", oom, msg);
    if (!(p->parcellation_labels = file_in(p->dir, "parcellation_labels.tsv", oom, msg)))
        p->parcellation_labels = file_in(p->dir, "parcellation_labels.csv", oom, msg);
    p->parcellation_names = file_in(p->dir, "parcellation_names.tsv", oom, msg);
    if (*oom)
        return *oom;
    if (p->parcellation && !p->parcellation_labels)
        return vbt__fail(msg, VBT_ENOTFOUND,
                         "'%s': parcellation.nii.gz needs parcellation_labels.tsv (or .csv)",
                         p->dir);
    return VBT_OK;
}

/* The optional files: prior, ground truth, region lists. */
static int load_lists(vbt_patient *p, int *oom, vbt_msg *msg)
{
    p->prior = file_in(p->dir, "prior.json", oom, msg);
    p->ground_truth = file_in(p->dir, "ground_truth.json", oom, msg);
    p->resections_path = file_in(p->dir, "resections.txt", oom, msg);
    p->spare_path = file_in(p->dir, "spare.txt", oom, msg);
    p->hypothesis_path = file_in(p->dir, "hypothesis.txt", oom, msg);
    if (*oom)
        return *oom;
    int st;
    if (p->resections_path && (st = read_resections(p, msg)))
        return st;
    if (p->spare_path && (st = read_list(p->spare_path, &p->spare, msg)))
        return st;
    if (p->hypothesis_path && (st = read_list(p->hypothesis_path, &p->hypothesis, msg)))
        return st;
    if (p->spare)
        vbt_patient_region_list(p->spare);
    if (p->hypothesis)
        vbt_patient_region_list(p->hypothesis);
    return VBT_OK;
}

int vbt_patient_load(vbt_patient **out, const char *dir, vbt_msg *msg)
{
    *out = NULL;
    if (!dir || !is_dir(dir))
        return vbt__fail(msg, VBT_EIO, "'%s': not a patient folder", dir ? dir : "(null)");
    vbt_patient *p = calloc(1, sizeof *p);
    int oom = 0, st = VBT_ENOMEM;
    if (!p || !(p->dir = strdup(dir)))
        goto fail;
    if (!(p->connectome = file_in(dir, "connectome.zip", &oom, msg)) && !oom) {
        p->connectome = join(dir, "connectome");
        if (p->connectome && !is_dir(p->connectome) && !is_file(p->connectome)) {
            st = vbt__fail(msg, VBT_ENOTFOUND,
                           "'%s': no connectome.zip or connectome/ (build one with 'vbt "
                           "connectome build')", dir);
            goto fail;
        }
    }
    if (oom) {
        st = oom;
        goto fail;
    }
    if (!p->connectome || (st = load_bids(p, &oom, msg)) || (st = load_parcellation(p, &oom, msg)))
        goto fail;
    if ((st = list_recordings(p->ieeg_dir, &p->recordings, &p->n_recordings, msg)))
        goto fail;
    if (!p->n_recordings) {
        st = vbt__fail(msg, VBT_ENOTFOUND, "'%s': no *_ieeg.edf, .bdf or .vhdr recording",
                       p->ieeg_dir);
        goto fail;
    }
    p->channels = sidecar(p->recordings[0], "_channels.tsv", &oom, msg);
    p->events = sidecar(p->recordings[0], "_events.tsv", &oom, msg);
    if ((st = oom) || (st = load_lists(p, &oom, msg)))
        goto fail;
    *out = p;
    return VBT_OK;
fail:
    if (st == VBT_ENOMEM)
        vbt__fail(msg, VBT_ENOMEM, "patient '%s': out of memory", dir);
    vbt_patient_free(p);
    return st;
}

void vbt_patient_free(vbt_patient *p)
{
    if (!p)
        return;
    char **s[] = {&p->dir, &p->subject, &p->connectome, &p->ieeg_dir, &p->electrodes,
                  &p->channels, &p->events, &p->parcellation, &p->parcellation_labels,
                  &p->parcellation_names, &p->prior, &p->ground_truth, &p->resections_path,
                  &p->spare_path, &p->hypothesis_path, &p->spare, &p->hypothesis};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        free(*s[i]);
    free_list(p->recordings, p->n_recordings);
    free_list(p->resections, p->n_resections);
    free(p->resection_lines);
    free(p);
}

int vbt_patient_pseudonym(const vbt_patient *p, char *buf, size_t n, vbt_msg *msg)
{
    if (!n)
        return VBT_OK;
    if (p->subject && *p->subject) {
        snprintf(buf, n, "sub-%s", p->subject);
        return VBT_OK;
    }
    const char *src = p->n_recordings ? p->recordings[0] : p->connectome;
    char hex[65], hh[65];
    int st;
    if (!src)
        return vbt__fail(msg, VBT_EINVAL, "patient: no recording and no connectome to name it by");
    if ((st = vbt_sha256_file(src, hex, msg)))
        return st;
    vbt_sha256_buffer(hex, 64, hh);
    snprintf(buf, n, "anon-%.12s", hh);
    return VBT_OK;
}

int vbt_patient_check_regions(const vbt_patient *p, const vbt_connectome *conn, vbt_msg *msg)
{
    size_t *idx = malloc((conn->n ? conn->n : 1) * sizeof *idx), k;
    if (!idx)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    int st = VBT_OK;
    vbt_msg why;
    for (size_t r = 0; r < p->n_resections && !st; r++)
        if ((st = vbt_surgery_parse_regions(conn, p->resections[r], idx, conn->n, &k, &why)))
            vbt__fail(msg, st, "'%s' line %zu: %.900s", p->resections_path,
                      p->resection_lines[r], why.text);
    const char *lists[2] = {p->spare, p->hypothesis}, *paths[2] = {p->spare_path,
                                                                   p->hypothesis_path};
    for (int f = 0; f < 2 && !st; f++)
        if (lists[f] && *lists[f] &&
            (st = vbt_surgery_parse_regions(conn, lists[f], idx, conn->n, &k, &why)))
            vbt__fail(msg, st, "'%s': %.900s", paths[f], why.text);
    free(idx);
    return st;
}

/* "task-T_" / "run-R_" in a file name (NULL value: any). */
static int has_entity(const char *name, const char *key, const char *val)
{
    if (!val)
        return 1;
    char pat[160];
    snprintf(pat, sizeof pat, "_%s-%s_", key, val);
    return strstr(name, pat) != NULL;
}

int vbt_patient_choose_recording(const vbt_patient *p, const char *task, const char *run,
                                 size_t *index, vbt_msg *msg)
{
    size_t n = 0, first = 0;
    char list[1200] = "";
    size_t l = 0;
    for (size_t i = 0; i < p->n_recordings; i++) {
        const char *base = strrchr(p->recordings[i], '/');
        base = base ? base + 1 : p->recordings[i];
        if (!has_entity(base, "task", task) || !has_entity(base, "run", run))
            continue;
        if (n++ == 0)
            first = i;
        if (l + 8 < sizeof list)
            l += (size_t)snprintf(list + l, sizeof list - l, "%s%.200s", n > 1 ? ", " : "",
                                  base);
    }
    if (n == 0)
        return vbt__fail(msg, VBT_ENOTFOUND, "'%s': no *_ieeg.edf/.bdf/.vhdr recording with task=%s "
                         "run=%s",
                         p->ieeg_dir, task ? task : "*", run ? run : "*");
    if (n > 1)
        return vbt__fail(msg, VBT_EINVAL, "'%s': %zu recordings (%s); choose one with --task "
                         "and --run", p->ieeg_dir, n, list);
    *index = first;
    return VBT_OK;
}
