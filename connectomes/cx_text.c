/* cx_text.c -- reading the small text formats of connectomes/: whole files
 * (optionally bzip2-compressed), lines, fields and numbers. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>

#include "cx_internal.h"
#include "vbt_io.h"

static int bz2_read(const char *path, const char *raw, size_t rawlen, char **buf,
                    size_t *len, vbt_msg *msg)
{
    int rc = VBT_OK;
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char *out = NULL;
    size_t cap = 1 << 16, n = 0;

    if (!a)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    if (rawlen < 4 || memcmp(raw, "BZh", 3) != 0 ||
        archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
        archive_read_support_format_raw(a) != ARCHIVE_OK ||
        archive_read_open_memory(a, raw, rawlen) != ARCHIVE_OK ||
        archive_filter_code(a, 0) != ARCHIVE_FILTER_BZIP2) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': not bzip2 data", path);
        goto out;
    }
    if (archive_read_next_header(a, &e) < ARCHIVE_WARN) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': corrupt bzip2 data", path);
        goto out;
    }
    out = malloc(cap);
    if (!out) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto out;
    }
    for (;;) {
        if (cap - n < 2) {
            if (cap >= VBT__CX_TEXT_MAX) {
                rc = vbt__fail(msg, VBT_ERANGE, "'%s': decompressed text larger than %zu bytes",
                               path, (size_t)VBT__CX_TEXT_MAX);
                goto out;
            }
            char *nb = realloc(out, cap * 2);
            if (!nb) {
                rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
                goto out;
            }
            out = nb;
            cap *= 2;
        }
        la_ssize_t got = archive_read_data(a, out + n, cap - n - 1);
        if (got < 0) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': corrupt bzip2 data", path);
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    out[n] = '\0';
    *buf = out;
    *len = n;
    out = NULL;
out:
    free(out);
    archive_read_free(a);
    return rc;
}

int vbt__cx_read_text(const char *path, char **buf, size_t *len, vbt_msg *msg)
{
    char *raw;
    size_t rawlen;
    *buf = NULL;
    *len = 0;
    int rc = vbt_file_read_all(path, &raw, &rawlen, VBT__CX_TEXT_MAX, msg);
    if (rc)
        return rc;
    if (vbt__cx_ends_with(path, ".bz2")) {
        rc = bz2_read(path, raw, rawlen, buf, len, msg);
        free(raw);
        if (rc)
            return rc;
    } else {
        *buf = raw;
        *len = rawlen;
    }
    if (memchr(*buf, '\0', *len)) {
        free(*buf);
        *buf = NULL;
        return vbt__fail(msg, VBT_EFORMAT, "'%s': binary data (NUL byte) in a text file", path);
    }
    return VBT_OK;
}

int vbt__cx_next_line(vbt__cx_lines *c, const char **b, const char **e)
{
    if (!c->p || !*c->p)
        return 0;
    const char *s = c->p, *nl = strchr(s, '\n');
    const char *end = nl ? nl : s + strlen(s);
    c->p = nl ? nl + 1 : end;
    c->lineno++;
    if (end > s && end[-1] == '\r')
        end--;
    *b = s;
    *e = end;
    return 1;
}

static int is_blank_ch(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

size_t vbt__cx_split(const char *b, const char *e, char sep, const char **f, size_t *flen,
                     size_t max)
{
    size_t n = 0;
    const char *p = b;
    if (sep == ' ') {
        while (p < e && n < max) {
            while (p < e && is_blank_ch(*p))
                p++;
            if (p >= e)
                break;
            const char *s = p;
            while (p < e && !is_blank_ch(*p))
                p++;
            f[n] = s;
            flen[n++] = (size_t)(p - s);
        }
        return n;
    }
    for (;;) {
        const char *s = p;
        while (p < e && *p != sep)
            p++;
        const char *fe = p;
        while (s < fe && is_blank_ch(*s))
            s++;
        while (fe > s && is_blank_ch(fe[-1]))
            fe--;
        if (n < max) {
            f[n] = s;
            flen[n] = (size_t)(fe - s);
        }
        n++;
        if (p >= e)
            break;
        p++;
    }
    return n < max ? n : max;
}

int vbt__cx_blank(const char *b, const char *e)
{
    while (b < e && is_blank_ch(*b))
        b++;
    return b == e || *b == '#';
}

int vbt__cx_parse_double(const char *s, size_t len, double *out)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int vbt__cx_parse_long(const char *s, size_t len, int allow_float, long *out)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long v = strtol(tmp, &end, 10);
    if (end == tmp + len && errno == 0) {
        *out = v;
        return 0;
    }
    if (!allow_float)
        return -1;
    double d;
    if (vbt__cx_parse_double(s, len, &d) || d != floor(d) || fabs(d) > 2147483647.0)
        return -1;
    *out = (long)d;
    return 0;
}

void vbt__cx_copy(char *dst, size_t n, const char *s, size_t len)
{
    if (len >= n)
        len = n - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

const char *vbt__cx_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int vbt__cx_ends_with(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    if (b > a)
        return 0;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)path[a - b + i]) != tolower((unsigned char)suffix[i]))
            return 0;
    return 1;
}

int vbt__cx_parse_matrix(const char *what, const char *buf, int allow_nan, double **out,
                         size_t *rows, size_t *cols, vbt_msg *msg)
{
    vbt__cx_lines c = {buf, 0};
    const char *b, *e;
    size_t nr = 0, nc = 0, cap = 0, n = 0;
    double *v = NULL;
    *out = NULL;
    *rows = *cols = 0;
    while (vbt__cx_next_line(&c, &b, &e)) {
        if (vbt__cx_blank(b, e))
            continue;
        int comma = memchr(b, ',', (size_t)(e - b)) != NULL;
        size_t k = 0;
        const char *p = b;
        while (p <= e) {
            const char *s = p;
            if (comma) {
                while (p < e && *p != ',')
                    p++;
            } else {
                while (s < e && is_blank_ch(*s))
                    s++;
                p = s;
                while (p < e && !is_blank_ch(*p))
                    p++;
                if (s == e)
                    break;
            }
            const char *fe = p;
            while (s < fe && is_blank_ch(*s))
                s++;
            while (fe > s && is_blank_ch(fe[-1]))
                fe--;
            double x;
            size_t fl = (size_t)(fe - s);
            if (vbt__cx_parse_double(s, fl, &x)) {
                if (allow_nan && ((fl == 3 && (!strncasecmp(s, "nan", 3) ||
                                               !strncmp(s, "n/a", 3))) || fl == 0))
                    x = NAN;
                else {
                    free(v);
                    return vbt__fail(msg, VBT_EFORMAT, "%s: line %zu, column %zu: '%.*s' is "
                                     "not a finite number", what, c.lineno, k + 1,
                                     (int)(fl > 40 ? 40 : fl), s);
                }
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                double *nv = realloc(v, cap * sizeof *v);
                if (!nv) {
                    free(v);
                    return vbt__fail(msg, VBT_ENOMEM, "%s: out of memory", what);
                }
                v = nv;
            }
            v[n++] = x;
            k++;
            if (p >= e)
                break;
            if (comma)
                p++;
        }
        if (nr == 0)
            nc = k;
        else if (k != nc) {
            free(v);
            return vbt__fail(msg, VBT_EFORMAT, "%s: line %zu has %zu values, the first row "
                             "has %zu", what, c.lineno, k, nc);
        }
        nr++;
    }
    if (nr == 0 || nc == 0) {
        free(v);
        return vbt__fail(msg, VBT_EFORMAT, "%s: no numbers", what);
    }
    *out = v;
    *rows = nr;
    *cols = nc;
    return VBT_OK;
}
