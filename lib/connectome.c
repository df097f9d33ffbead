/* connectome.c -- TVB structural connectomes: loading, checking, normalising.
 *
 * The text members are parsed in one pass over each buffer with strtod on
 * tokens delimited in place; storage grows geometrically (for a square
 * matrix it is sized exactly after the first row), never per token. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectome_archive.h"
#include "internal.h"
#include "vbt_text.h"
#include "vbt_connectome.h"


typedef char vbt_label[VBT_LABEL_MAX];

/* ------------------------------------------------------------------ */
/* allocation */

static int nn_ok(size_t n)
{
    return n > 0 && n <= SIZE_MAX / n / sizeof(double) / 3;
}

vbt_connectome *vbt_connectome_alloc(size_t n)
{
    if (!nn_ok(n))
        return NULL;
    vbt_connectome *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n = n;
    c->weights = calloc(n * n, sizeof *c->weights);
    c->lengths = calloc(n * n, sizeof *c->lengths);
    c->centres = calloc(n * 3, sizeof *c->centres);
    c->labels = calloc(n, sizeof *c->labels);
    if (!c->weights || !c->lengths || !c->centres || !c->labels)
        goto fail;
    return c;
fail:
    vbt_connectome_free(c);
    return NULL;
}

void vbt_connectome_free(vbt_connectome *c)
{
    if (!c)
        return;
    free(c->weights);
    free(c->lengths);
    free(c->centres);
    free(c->labels);
    free(c->areas);
    free(c->cortical);
    free(c->hemispheres);
    free(c->orientations);
    free(c);
}

/* malloc'd copy of `count` elements of `size` bytes; *ok cleared on failure. */
static void *dup_array(const void *src, size_t count, size_t size, int *ok)
{
    if (!src)
        return NULL;
    void *d = malloc(count * size);
    if (!d) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, src, count * size);
    return d;
}

vbt_connectome *vbt_connectome_copy(const vbt_connectome *c)
{
    if (!c || !nn_ok(c->n))
        return NULL;
    size_t n = c->n;
    int ok = 1;
    vbt_connectome *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->n = n;
    d->weights = dup_array(c->weights, n * n, sizeof *c->weights, &ok);
    d->lengths = dup_array(c->lengths, n * n, sizeof *c->lengths, &ok);
    d->centres = dup_array(c->centres, n * 3, sizeof *c->centres, &ok);
    d->labels = dup_array(c->labels, n, sizeof *c->labels, &ok);
    d->areas = dup_array(c->areas, n, sizeof *c->areas, &ok);
    d->cortical = dup_array(c->cortical, n, sizeof *c->cortical, &ok);
    d->hemispheres = dup_array(c->hemispheres, n, sizeof *c->hemispheres, &ok);
    d->orientations = dup_array(c->orientations, n * 3, sizeof *c->orientations, &ok);
    if (!ok)
        goto fail;
    return d;
fail:
    vbt_connectome_free(d);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* text scanning */

typedef struct scan {
    const char *path; /* as given by the user */
    const char *name; /* member, e.g. "weights.txt" */
    const char *p, *end;
} scan;

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Next line holding data (blank lines and '#' comments skipped): returns its
 * first non-blank byte and sets *eol, or NULL at the end. */
static const char *next_line(scan *s, const char **eol)
{
    while (s->p < s->end) {
        const char *e = memchr(s->p, '\n', (size_t)(s->end - s->p));
        if (!e)
            e = s->end;
        const char *q = s->p;
        while (q < e && is_blank(*q))
            q++;
        s->p = e < s->end ? e + 1 : s->end;
        if (q < e && *q != '#') {
            *eol = e;
            return q;
        }
    }
    return NULL;
}

/* Next token on the line [*pp, eol), or NULL. */
static const char *next_token(const char **pp, const char *eol, size_t *len)
{
    const char *p = *pp;
    while (p < eol && is_blank(*p))
        p++;
    if (p == eol) {
        *pp = p;
        return NULL;
    }
    const char *t = p;
    while (p < eol && !is_blank(*p))
        p++;
    *len = (size_t)(p - t);
    *pp = p;
    return t;
}

/* Where a value sits, for messages: "row 3 col 7" or "value 12". */
static void where(char *buf, size_t size, size_t row, size_t col)
{
    if (col)
        snprintf(buf, size, "row %zu col %zu", row, col);
    else
        snprintf(buf, size, "value %zu", row);
}

/* strtod over exactly one token (the buffer holds no NUL before its end, and
 * the byte after the token is a blank, a newline or the final NUL). */
static int parse_number(const scan *s, const char *tok, size_t len, size_t row, size_t col,
                        double *out, vbt_msg *msg)
{
    char *endp;
    char at[64];
    double v = strtod(tok, &endp);
    if (endp != tok + len) {
        where(at, sizeof at, row, col);
        /* The token itself is not quoted: the file may be anything (a link
         * to /etc/passwd), and messages end up in logs. */
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %s %s: not a number", s->path, s->name, at);
    }
    if (!isfinite(v)) {
        where(at, sizeof at, row, col);
        return vbt__fail(msg, VBT_ENUMERIC, "'%s': %s %s: %s", s->path, s->name, at,
                         isnan(v) ? "NaN" : "Inf");
    }
    *out = v;
    return VBT_OK;
}

static int grow(const scan *s, double **v, size_t *cap, size_t ncap, vbt_msg *msg)
{
    double *nv = realloc(*v, ncap * sizeof *nv);
    if (!nv)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", s->path, s->name);
    *v = nv;
    *cap = ncap;
    return VBT_OK;
}

/* Parse a matrix of numbers.  With flat set, line structure is ignored and
 * *rows receives the count of values (*cols = 1).  A negative value is an
 * error named by `negative` unless that is NULL. */
static int parse_numbers(const scan *s0, int flat, const char *negative, double **out,
                         size_t *rows, size_t *cols, vbt_msg *msg)
{
    scan s = *s0;
    double *v = NULL;
    size_t len = 0, cap = 0, nrow = 0, ncol = 0;
    size_t max_tokens = (size_t)(s.end - s.p) / 2 + 1;
    const char *line, *eol;
    int rc = VBT_OK;
    char at[64];

    while ((line = next_line(&s, &eol))) {
        const char *p = line, *tok;
        size_t tlen = 0, k = 0;
        nrow++;
        while ((tok = next_token(&p, eol, &tlen))) {
            double x = 0;
            k++;
            size_t r = flat ? len + 1 : nrow, c = flat ? 0 : k;
            rc = parse_number(&s, tok, tlen, r, c, &x, msg);
            if (rc)
                goto fail;
            if (negative && x < 0) {
                where(at, sizeof at, r, c);
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s %s: negative %s %g", s.path,
                               s.name, at, negative, x);
                goto fail;
            }
            if (len == cap) {
                size_t ncap = cap ? 2 * cap : 1024;
                if (ncap > max_tokens)
                    ncap = max_tokens;
                if (ncap <= len)
                    ncap = len + 1;
                if ((rc = grow(&s, &v, &cap, ncap, msg)))
                    goto fail;
            }
            v[len++] = x;
        }
        if (flat)
            continue;
        if (nrow == 1) {
            ncol = k;
            /* Expect a square matrix: size the storage once. */
            if (ncol > 0 && ncol <= max_tokens / ncol && ncol * ncol > cap
                && (rc = grow(&s, &v, &cap, ncol * ncol, msg)))
                goto fail;
        } else if (k != ncol) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s row %zu has %zu values, expected %zu",
                           s.path, s.name, nrow, k, ncol);
            goto fail;
        }
    }
    *out = v;
    *rows = flat ? len : nrow;
    *cols = flat ? 1 : ncol;
    return VBT_OK;
fail:
    free(v);
    return rc;
}

/* Parse n flags given as 0/1 or True/False. */
static int parse_flags(const scan *s0, size_t n, int **out, vbt_msg *msg)
{
    scan s = *s0;
    int *f = malloc(n * sizeof *f);
    size_t k = 0;
    const char *line, *eol;
    if (!f)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", s.path, s.name);
    while ((line = next_line(&s, &eol))) {
        const char *p = line, *tok;
        size_t tlen = 0;
        while ((tok = next_token(&p, eol, &tlen))) {
            int val;
            char *endp;
            double x = 0;
            if ((tlen == 4 && (!memcmp(tok, "True", 4) || !memcmp(tok, "true", 4))))
                val = 1;
            else if (tlen == 5 && (!memcmp(tok, "False", 5) || !memcmp(tok, "false", 5)))
                val = 0;
            else if (x = strtod(tok, &endp), endp == tok + tlen && (x == 0 || x == 1))
                val = (int)x;
            else {
                free(f);
                return vbt__fail(msg, VBT_EFORMAT,
                                 "'%s': %s value %zu: expected 0/1 or True/False",
                                 s.path, s.name, k + 1);
            }
            if (k < n)
                f[k] = val;
            k++;
        }
    }
    if (k != n) {
        free(f);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %s has %zu values, expected %zu", s.path,
                         s.name, k, n);
    }
    *out = f;
    return VBT_OK;
}

/* Parse n lines "label x y z [ignored columns...]". */
static int parse_centres(const scan *s0, size_t n, double **centres, vbt_label **labels,
                         vbt_msg *msg)
{
    scan s = *s0;
    double *xyz = calloc(n * 3, sizeof *xyz);
    vbt_label *lab = calloc(n, sizeof *lab);
    size_t k = 0;
    const char *line, *eol;
    int rc = VBT_OK;
    if (!xyz || !lab) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", s.path, s.name);
        goto fail;
    }
    while ((line = next_line(&s, &eol))) {
        const char *p = line, *tok;
        size_t tlen = 0;
        k++;
        if (k > n)
            continue; /* only counted, for the message below */
        tok = next_token(&p, eol, &tlen);
        if (tlen >= VBT_LABEL_MAX) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s row %zu: label longer than %d bytes",
                           s.path, s.name, k, VBT_LABEL_MAX - 1);
            goto fail;
        }
        size_t bad;
        if (!vbt_utf8_valid(tok, tlen, &bad)) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': %s row %zu: the label is not valid UTF-8 (byte %zu; "
                           "re-encode the file as UTF-8)", s.path, s.name, k, bad + 1);
            goto fail;
        }
        memcpy(lab[k - 1], tok, tlen);
        lab[k - 1][tlen] = '\0';
        for (int d = 0; d < 3; d++) {
            tok = next_token(&p, eol, &tlen);
            if (!tok) {
                rc = vbt__fail(msg, VBT_EFORMAT,
                               "'%s': %s row %zu has %d coordinates, expected 'label x y z'",
                               s.path, s.name, k, d);
                goto fail;
            }
            rc = parse_number(&s, tok, tlen, k, (size_t)d + 2, &xyz[(k - 1) * 3 + (size_t)d], msg);
            if (rc)
                goto fail;
        }
    }
    if (k == 0) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s is empty", s.path, s.name);
        goto fail;
    }
    if (k != n) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s has %zu labels, expected %zu", s.path,
                       s.name, k, n);
        goto fail;
    }
    *centres = xyz;
    *labels = lab;
    return VBT_OK;
fail:
    free(xyz);
    free(lab);
    return rc;
}

/* ------------------------------------------------------------------ */
/* loading */

enum {
    M_WEIGHTS,
    M_TRACT_LENGTHS,
    M_TRACT, /* older name of tract_lengths.txt */
    M_CENTRES,
    M_AREAS,
    M_CORTICAL,
    M_HEMISPHERES,
    M_ORIENTATIONS,
    M_COUNT
};

static const char *const member_names[M_COUNT] = {
    "weights.txt",  "tract_lengths.txt", "tract.txt",       "centres.txt",
    "areas.txt",    "cortical.txt",      "hemispheres.txt", "average_orientations.txt",
};

/* A scanner over member m, or an error when its text is unusable. */
static int member_scan(const char *path, const vbt__conn_member *m, scan *s, vbt_msg *msg)
{
    s->path = path;
    s->name = m->name;
    s->p = m->data;
    s->end = m->data + m->len;
    if (memchr(m->data, '\0', m->len))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is not a text file (NUL byte)", path,
                         m->name);
    return VBT_OK;
}

/* Parse a square n x n member; *n is set when it is 0 on entry. */
static int load_square(const char *path, const vbt__conn_member *m, const char *negative,
                       const char *first_name, size_t *n, double **out, vbt_msg *msg)
{
    scan s;
    size_t rows, cols;
    double *v = NULL;
    int rc = member_scan(path, m, &s, msg);
    if (rc)
        return rc;
    rc = parse_numbers(&s, 0, negative, &v, &rows, &cols, msg);
    if (rc)
        return rc;
    if (rows == 0)
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s is empty", path, m->name);
    else if (rows != cols)
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s is %zux%zu, expected a square matrix", path,
                       m->name, rows, cols);
    else if (*n && rows != *n)
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s has %zu rows but %s has %zu", path,
                       first_name, *n, m->name, rows);
    if (rc) {
        free(v);
        return rc;
    }
    *n = rows;
    *out = v;
    return VBT_OK;
}

/* Parse an optional member of n values (ncol = 0) or n rows of ncol values. */
static int load_optional(const char *path, const vbt__conn_member *m, size_t n, size_t ncol,
                         const char *negative, double **out, vbt_msg *msg)
{
    scan s;
    size_t rows, cols;
    double *v = NULL;
    int rc = member_scan(path, m, &s, msg);
    if (rc)
        return rc;
    rc = parse_numbers(&s, ncol == 0, negative, &v, &rows, &cols, msg);
    if (rc)
        return rc;
    if (ncol == 0 && rows != n)
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s has %zu values, expected %zu", path, m->name,
                       rows, n);
    else if (ncol && rows && cols != ncol)
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s has %zu columns, expected %zu", path,
                       m->name, cols, ncol);
    else if (ncol && rows != n)
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s has %zu rows, expected %zu", path, m->name,
                       rows, n);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    return VBT_OK;
}

static int load_flags(const char *path, const vbt__conn_member *m, size_t n, int **out,
                      vbt_msg *msg)
{
    scan s;
    int rc = member_scan(path, m, &s, msg);
    if (rc)
        return rc;
    return parse_flags(&s, n, out, msg);
}

int vbt_connectome_load(vbt_connectome **out, const char *path, vbt_msg *msg)
{
    vbt__conn_member m[M_COUNT];
    vbt_connectome *c = NULL;
    const vbt__conn_member *lm;
    scan s;
    size_t n = 0;
    int rc;

    if (!out)
        return vbt__fail(msg, VBT_EINVAL, "vbt_connectome_load: out is NULL");
    *out = NULL;
    if (!path)
        return vbt__fail(msg, VBT_EINVAL, "vbt_connectome_load: path is NULL");
    for (int i = 0; i < M_COUNT; i++)
        m[i].want = member_names[i];
    rc = vbt__conn_archive_read(path, m, M_COUNT, msg);
    if (rc)
        return rc;

    lm = m[M_TRACT_LENGTHS].data ? &m[M_TRACT_LENGTHS] : &m[M_TRACT];
    if (!m[M_WEIGHTS].data || !lm->data || !m[M_CENTRES].data) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': missing %s", path,
                       !m[M_WEIGHTS].data ? "weights.txt"
                       : !lm->data        ? "tract_lengths.txt"
                                          : "centres.txt");
        goto fail;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    rc = load_square(path, &m[M_WEIGHTS], "weight", NULL, &n, &c->weights, msg);
    if (rc)
        goto fail;
    c->n = n;
    free(m[M_WEIGHTS].data);
    m[M_WEIGHTS].data = NULL;
    rc = load_square(path, lm, "length", m[M_WEIGHTS].name, &n, &c->lengths, msg);
    if (rc)
        goto fail;
    rc = member_scan(path, &m[M_CENTRES], &s, msg);
    if (rc)
        goto fail;
    rc = parse_centres(&s, n, &c->centres, &c->labels, msg);
    if (rc)
        goto fail;
    if (m[M_AREAS].data) {
        rc = load_optional(path, &m[M_AREAS], n, 0, "area", &c->areas, msg);
        if (rc)
            goto fail;
    }
    if (m[M_CORTICAL].data) {
        rc = load_flags(path, &m[M_CORTICAL], n, &c->cortical, msg);
        if (rc)
            goto fail;
    }
    if (m[M_HEMISPHERES].data) {
        rc = load_flags(path, &m[M_HEMISPHERES], n, &c->hemispheres, msg);
        if (rc)
            goto fail;
    }
    if (m[M_ORIENTATIONS].data) {
        rc = load_optional(path, &m[M_ORIENTATIONS], n, 3, NULL, &c->orientations, msg);
        if (rc)
            goto fail;
    }
    vbt__conn_members_free(m, M_COUNT);
    *out = c;
    return VBT_OK;
fail:
    vbt__conn_members_free(m, M_COUNT);
    vbt_connectome_free(c);
    return rc;
}

/* ------------------------------------------------------------------ */
/* checking */

static int check_array(const double *a, size_t count, size_t ncol, const char *what,
                       const char *arr, const char *negative, vbt_msg *msg)
{
    for (size_t k = 0; k < count; k++) {
        if (!isfinite(a[k]))
            return vbt__fail(msg, VBT_ENUMERIC, "'%s': %s row %zu col %zu: %s", what, arr,
                             k / ncol + 1, k % ncol + 1, isnan(a[k]) ? "NaN" : "Inf");
        if (negative && a[k] < 0)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': %s row %zu col %zu: negative %s %g", what,
                             arr, k / ncol + 1, k % ncol + 1, negative, a[k]);
    }
    return VBT_OK;
}

static int check_flags(const int *f, size_t n, const char *what, const char *arr, vbt_msg *msg)
{
    for (size_t k = 0; k < n; k++)
        if (f[k] != 0 && f[k] != 1)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': %s[%zu] is %d, expected 0 or 1", what, arr,
                             k, f[k]);
    return VBT_OK;
}

int vbt_connectome_validate(const vbt_connectome *c, const char *what, vbt_msg *msg)
{
    int rc;
    if (!what)
        what = "connectome";
    if (!c)
        return vbt__fail(msg, VBT_EINVAL, "'%s': connectome is NULL", what);
    if (c->n == 0)
        return vbt__fail(msg, VBT_EINVAL, "'%s': no regions (n = 0)", what);
    if (!nn_ok(c->n))
        return vbt__fail(msg, VBT_ERANGE, "'%s': too many regions (n = %zu)", what, c->n);
    if (!c->weights || !c->lengths || !c->centres || !c->labels)
        return vbt__fail(msg, VBT_EINVAL, "'%s': %s is NULL", what,
                         !c->weights   ? "weights"
                         : !c->lengths ? "lengths"
                         : !c->centres ? "centres"
                                       : "labels");
    size_t n = c->n;
    if ((rc = check_array(c->weights, n * n, n, what, "weights", "weight", msg))
        || (rc = check_array(c->lengths, n * n, n, what, "lengths", "length", msg))
        || (rc = check_array(c->centres, n * 3, 3, what, "centres", NULL, msg)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!memchr(c->labels[i], '\0', VBT_LABEL_MAX))
            return vbt__fail(msg, VBT_EFORMAT, "'%s': label %zu is not NUL-terminated", what, i);
        else if (!vbt_utf8_valid(c->labels[i], strlen(c->labels[i]), NULL))
            return vbt__fail(msg, VBT_EFORMAT, "'%s': label %zu is not valid UTF-8", what, i);
    if (c->areas && (rc = check_array(c->areas, n, 1, what, "areas", "area", msg)))
        return rc;
    if (c->orientations
        && (rc = check_array(c->orientations, n * 3, 3, what, "orientations", NULL, msg)))
        return rc;
    if (c->cortical && (rc = check_flags(c->cortical, n, what, "cortical", msg)))
        return rc;
    if (c->hemispheres && (rc = check_flags(c->hemispheres, n, what, "hemispheres", msg)))
        return rc;
    return VBT_OK;
}

/* ------------------------------------------------------------------ */
/* normalisation */

int vbt_connectome_normalize(vbt_connectome *c, vbt_normalize how, vbt_msg *msg)
{
    if (!c || !c->weights || !nn_ok(c->n))
        return vbt__fail(msg, VBT_EINVAL, "normalize: no connectome");
    size_t n = c->n;
    double *w = c->weights;
    switch (how) {
    case VBT_NORMALIZE_NONE:
        return VBT_OK;
    case VBT_NORMALIZE_MAX: {
        double mx = 0;
        for (size_t k = 0; k < n * n; k++) {
            if (!isfinite(w[k]))
                return vbt__fail(msg, VBT_ENUMERIC, "normalize: weight row %zu col %zu is %s",
                                 k / n + 1, k % n + 1, isnan(w[k]) ? "NaN" : "Inf");
            if (w[k] > mx)
                mx = w[k];
        }
        if (mx > 0)
            for (size_t k = 0; k < n * n; k++)
                w[k] /= mx;
        return VBT_OK;
    }
    case VBT_NORMALIZE_ROWSUM:
        for (size_t k = 0; k < n * n; k++)
            if (!isfinite(w[k]))
                return vbt__fail(msg, VBT_ENUMERIC, "normalize: weight row %zu col %zu is %s",
                                 k / n + 1, k % n + 1, isnan(w[k]) ? "NaN" : "Inf");
        for (size_t i = 0; i < n; i++) {
            double sum = 0;
            for (size_t j = 0; j < n; j++)
                sum += w[i * n + j];
            if (sum != 0 && isfinite(sum))
                for (size_t j = 0; j < n; j++)
                    w[i * n + j] /= sum;
        }
        return VBT_OK;
    }
    return vbt__fail(msg, VBT_EINVAL, "normalize: unknown normalisation %d", (int)how);
}

int vbt_normalize_parse(const char *name, vbt_normalize *how)
{
    if (!name || !how)
        return VBT_ENOTFOUND;
    if (!strcmp(name, "none"))
        *how = VBT_NORMALIZE_NONE;
    else if (!strcmp(name, "max"))
        *how = VBT_NORMALIZE_MAX;
    else if (!strcmp(name, "row-sum") || !strcmp(name, "rowsum"))
        *how = VBT_NORMALIZE_ROWSUM;
    else
        return VBT_ENOTFOUND;
    return VBT_OK;
}

const char *vbt_normalize_name(vbt_normalize how)
{
    switch (how) {
    case VBT_NORMALIZE_NONE: return "none";
    case VBT_NORMALIZE_MAX: return "max";
    case VBT_NORMALIZE_ROWSUM: return "row-sum";
    }
    return "unknown";
}

long vbt_connectome_find_label(const vbt_connectome *c, const char *label)
{
    if (!c || !c->labels || !label || strlen(label) >= VBT_LABEL_MAX)
        return -1;
    for (size_t i = 0; i < c->n; i++)
        if (!strncmp(c->labels[i], label, VBT_LABEL_MAX))
            return (long)i;
    return -1;
}
