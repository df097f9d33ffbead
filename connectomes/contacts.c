/* contacts.c -- BIDS electrodes.tsv and TVB sensor files. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "cx_internal.h"
#include "vbt_contacts.h"
#include "vbt_io.h"
#include "vbt_text.h"

void vbt_contacts_free(vbt_contacts *c)
{
    if (!c)
        return;
    free(c->labels);
    free(c->pos);
    free(c->electrode);
    free(c->number);
    free(c->electrodes);
    free(c);
}

typedef struct raw {
    char label[VBT_LABEL_MAX];
    double xyz[3];
} raw;

static int grow(raw **r, size_t *cap, size_t n)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? 2 * *cap : 64;
    raw *nr = realloc(*r, nc * sizeof *nr);
    if (!nr)
        return -1;
    *r = nr;
    *cap = nc;
    return 0;
}

static int parse_xyz(const char *const *f, const size_t *fl, double xyz[3])
{
    for (int d = 0; d < 3; d++)
        if (vbt__cx_parse_double(f[d], fl[d], &xyz[d]))
            return -1;
    return 0;
}

static int read_tvb(const char *path, const char *buf, raw **out, size_t *n, vbt_msg *msg)
{
    vbt__cx_lines c = {buf, 0};
    const char *b, *e, *f[8];
    size_t fl[8], cap = 0;
    raw *r = NULL;
    *n = 0;
    while (vbt__cx_next_line(&c, &b, &e)) {
        if (vbt__cx_blank(b, e))
            continue;
        size_t nf = vbt__cx_split(b, e, ' ', f, fl, 8);
        if (nf != 4 || parse_xyz(f + 1, fl + 1, (double[3]){0})) {
            free(r);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: expected 'label x y z'", path,
                             c.lineno);
        }
        if (grow(&r, &cap, *n)) {
            free(r);
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        }
        if (!vbt_utf8_valid(f[0], fl[0], NULL)) {
            free(r);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: the label is not valid UTF-8",
                             path, c.lineno);
        }
        vbt__cx_copy(r[*n].label, VBT_LABEL_MAX, f[0], fl[0]);
        parse_xyz(f + 1, fl + 1, r[*n].xyz);
        (*n)++;
    }
    *out = r;
    return VBT_OK;
}

/* Space and unit scale from the coordsystem.json beside a BIDS electrodes.tsv. */
static int read_coordsystem(const char *path, char *space, size_t space_len, double *scale,
                            vbt_msg *msg)
{
    char js[4096];
    size_t len = strlen(path);
    const char *suffix = "_electrodes.tsv";
    size_t sl = strlen(suffix);
    *scale = 1.0;
    space[0] = '\0';
    if (len < sl || strcmp(path + len - sl, suffix) != 0 || len - sl + 20 >= sizeof js)
        return VBT_OK;
    snprintf(js, sizeof js, "%.*s_coordsystem.json", (int)(len - sl), path);
    FILE *probe = fopen(js, "rb");
    if (!probe)
        return VBT_OK;
    fclose(probe);
    char *buf;
    size_t blen;
    int rc = vbt_file_read_all(js, &buf, &blen, 1 << 20, msg);
    if (rc)
        return rc;
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a JSON object", js);
    }
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(root, "iEEGCoordinateSystem");
    const cJSON *unit = cJSON_GetObjectItemCaseSensitive(root, "iEEGCoordinateUnits");
    if (cJSON_IsString(sys))
        snprintf(space, space_len, "%s", sys->valuestring);
    if (cJSON_IsString(unit)) {
        const char *u = unit->valuestring;
        if (!strcmp(u, "mm"))
            *scale = 1.0;
        else if (!strcmp(u, "cm"))
            *scale = 10.0;
        else if (!strcmp(u, "m"))
            *scale = 1000.0;
        else {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': iEEGCoordinateUnits '%s' is not mm, cm or "
                           "m", js, u);
        }
    }
    cJSON_Delete(root);
    return rc;
}

static int read_bids(const char *path, const char *buf, raw **out, size_t *n,
                     size_t *skipped, vbt_msg *msg)
{
    vbt__cx_lines c = {buf, 0};
    const char *b, *e, *f[64];
    size_t fl[64], cap = 0;
    raw *r = NULL;
    long col[4] = {-1, -1, -1, -1};
    static const char *const names[4] = {"name", "x", "y", "z"};
    *n = 0;
    *skipped = 0;
    int header = 1;
    while (vbt__cx_next_line(&c, &b, &e)) {
        if (b == e)
            continue;
        size_t nf = vbt__cx_split(b, e, '\t', f, fl, 64);
        if (header) {
            for (size_t k = 0; k < nf; k++)
                for (int q = 0; q < 4; q++)
                    if (fl[k] == strlen(names[q]) && !strncmp(f[k], names[q], fl[k]))
                        col[q] = (long)k;
            for (int q = 0; q < 4; q++)
                if (col[q] < 0)
                    return vbt__fail(msg, VBT_EFORMAT, "'%s': header has no '%s' column", path,
                                     names[q]);
            header = 0;
            continue;
        }
        long need = col[0];
        for (int q = 1; q < 4; q++)
            if (col[q] > need)
                need = col[q];
        if ((long)nf <= need) {
            free(r);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: %zu fields, the header has "
                             "more", path, c.lineno, nf);
        }
        const char *xf[3] = {f[col[1]], f[col[2]], f[col[3]]};
        size_t xl[3] = {fl[col[1]], fl[col[2]], fl[col[3]]};
        if (xl[0] == 3 && !strncmp(xf[0], "n/a", 3)) {
            (*skipped)++;
            continue;
        }
        if (grow(&r, &cap, *n)) {
            free(r);
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        }
        if (!vbt_utf8_valid(f[col[0]], fl[col[0]], NULL)) {
            free(r);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: the name is not valid UTF-8",
                             path, c.lineno);
        }
        if (fl[col[0]] == 0 || parse_xyz(xf, xl, r[*n].xyz)) {
            free(r);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: bad name or coordinates",
                             path, c.lineno);
        }
        vbt__cx_copy(r[*n].label, VBT_LABEL_MAX, f[col[0]], fl[col[0]]);
        (*n)++;
    }
    if (header) {
        free(r);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': empty file", path);
    }
    *out = r;
    return VBT_OK;
}

/* Split a label into prefix and trailing number. */
static long split_label(const char *label, size_t *plen)
{
    size_t n = strlen(label), k = n;
    while (k > 0 && isdigit((unsigned char)label[k - 1]))
        k--;
    if (k == n || k == 0 || n - k > 9) {
        *plen = n;
        return -1;
    }
    *plen = k;
    return strtol(label + k, NULL, 10);
}

typedef struct sortkey {
    size_t electrode;
    long number;
    size_t order;
} sortkey;

static int cmp_key(const void *a, const void *b)
{
    const sortkey *x = a, *y = b;
    if (x->electrode != y->electrode)
        return x->electrode < y->electrode ? -1 : 1;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

int vbt_contacts_load(vbt_contacts **out, const char *path, vbt_msg *msg)
{
    char *buf = NULL;
    size_t len, n = 0, skipped = 0;
    raw *r = NULL;
    sortkey *key = NULL;
    vbt_contacts *c = NULL;
    char space[64] = "";
    double scale = 1.0;
    int rc;

    if (!out || !path)
        return vbt__fail(msg, VBT_EINVAL, "contacts: NULL argument");
    *out = NULL;
    if ((rc = vbt__cx_read_text(path, &buf, &len, msg)))
        return rc;
    int bids = vbt__cx_ends_with(path, ".tsv");
    rc = bids ? read_bids(path, buf, &r, &n, &skipped, msg) : read_tvb(path, buf, &r, &n, msg);
    free(buf);
    if (rc)
        return rc;
    if (n == 0) {
        free(r);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': no contact with coordinates", path);
    }
    if (bids && (rc = read_coordsystem(path, space, sizeof space, &scale, msg))) {
        free(r);
        return rc;
    }
    c = calloc(1, sizeof *c);
    key = malloc(n * sizeof *key);
    if (!c || !key)
        goto oom;
    c->labels = malloc(n * sizeof *c->labels);
    c->pos = malloc(n * 3 * sizeof *c->pos);
    c->electrode = malloc(n * sizeof *c->electrode);
    c->number = malloc(n * sizeof *c->number);
    c->electrodes = malloc(n * sizeof *c->electrodes);
    if (!c->labels || !c->pos || !c->electrode || !c->number || !c->electrodes)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r[i].label, r[j].label)) {
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': contact '%s' listed twice", path,
                               r[i].label);
                goto fail;
            }
        size_t plen;
        long num = split_label(r[i].label, &plen);
        size_t e = 0;
        for (; e < c->n_electrodes; e++)
            if (strlen(c->electrodes[e]) == plen && !strncmp(c->electrodes[e], r[i].label, plen))
                break;
        if (e == c->n_electrodes)
            vbt__cx_copy(c->electrodes[c->n_electrodes++], VBT_LABEL_MAX, r[i].label, plen);
        key[i] = (sortkey){e, num, i};
    }
    qsort(key, n, sizeof *key, cmp_key);
    for (size_t i = 0; i < n; i++) {
        const raw *s = &r[key[i].order];
        memcpy(c->labels[i], s->label, VBT_LABEL_MAX);
        for (int d = 0; d < 3; d++)
            c->pos[3 * i + d] = s->xyz[d] * scale;
        c->electrode[i] = key[i].electrode;
        c->number[i] = key[i].number;
    }
    c->n = n;
    c->n_skipped = skipped;
    snprintf(c->space, sizeof c->space, "%s", space);
    free(key);
    free(r);
    *out = c;
    return VBT_OK;
oom:
    rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
fail:
    free(key);
    free(r);
    vbt_contacts_free(c);
    return rc;
}

int vbt_contacts_bipolar(const vbt_contacts *c, size_t **pairs, size_t *n_pairs, vbt_msg *msg)
{
    *pairs = NULL;
    *n_pairs = 0;
    size_t *p = malloc((c->n ? c->n : 1) * 2 * sizeof *p), np = 0;
    if (!p)
        return vbt__fail(msg, VBT_ENOMEM, "contacts: out of memory");
    for (size_t i = 0; i + 1 < c->n; i++)
        if (c->electrode[i] == c->electrode[i + 1] && c->number[i] >= 0 &&
            c->number[i + 1] == c->number[i] + 1) {
            p[2 * np] = i;
            p[2 * np + 1] = i + 1;
            np++;
        }
    if (np == 0) {
        free(p);
        return vbt__fail(msg, VBT_EINVAL, "contacts: no two consecutive contacts on one "
                         "electrode, no bipolar pair");
    }
    *pairs = p;
    *n_pairs = np;
    return VBT_OK;
}

int vbt_contacts_disjoint(const vbt_contacts *c, const double *centres, size_t n,
                          double margin_mm)
{
    double lo[3], hi[3], clo[3], chi[3];
    for (int d = 0; d < 3; d++) {
        lo[d] = clo[d] = INFINITY;
        hi[d] = chi[d] = -INFINITY;
    }
    for (size_t i = 0; i < c->n; i++)
        for (int d = 0; d < 3; d++) {
            lo[d] = fmin(lo[d], c->pos[3 * i + d]);
            hi[d] = fmax(hi[d], c->pos[3 * i + d]);
        }
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 3; d++) {
            if (!isfinite(centres[3 * i + d]))
                continue;
            clo[d] = fmin(clo[d], centres[3 * i + d]);
            chi[d] = fmax(chi[d], centres[3 * i + d]);
        }
    for (int d = 0; d < 3; d++)
        if (hi[d] + margin_mm < clo[d] || lo[d] - margin_mm > chi[d])
            return 1;
    return 0;
}

int vbt_space_compatible(const char *cs, const char *vs)
{
    static const char *const templates[] = {"MNI", "IXI549", "ICBM", "fsaverage", "Talairach",
                                            "UNCInfant", "OASIS", "NIHPD", "Colin"};
    if (!cs || !*cs || !vs || !strcmp(vs, "unknown"))
        return -1;
    int tmpl = 0;
    for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
        if (!strncasecmp(cs, templates[i], strlen(templates[i])))
            tmpl = 1;
    int vol_tmpl = !strcmp(vs, "mni152") || !strcmp(vs, "talairach") || !strcmp(vs, "template");
    if (!strcmp(vs, "aligned"))
        return 1;
    return tmpl == vol_tmpl;
}
