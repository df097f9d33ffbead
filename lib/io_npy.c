/* io_npy.c -- NumPy .npy arrays: a hand-written reader for the header's
 * Python-literal dict (never evaluated, never trusted) and an atomic writer
 * that produces the same bytes as numpy.save for float64 C-order arrays.
 *
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_io.h"


#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* numpy.save leaves room after the dict so that the growth axis can be
 * rewritten in place; matching it keeps our files byte-identical. */
#define NPY_GROWTH_AXIS_MAX_DIGITS 21

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

void vbt_array_clear(vbt_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- header parsing --------------------------------------------------- */

typedef struct {
    const char *p, *end;
} cursor;

typedef struct {
    char kind;        /* 'f', 'i', 'u' */
    size_t itemsize;
    int big_endian;
} dtype;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n'
                             || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes (none occur in the keys or dtypes
 * we accept); *s points into the header, not NUL-terminated. */
static int parse_string(cursor *c, const char **s, size_t *n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char q = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\')
            return 0;
        c->p++;
    }
    if (c->p >= c->end)
        return 0;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 1;
}

static int match_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, w, n)) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* Quote-safe copy of header text for a message: at most 32 characters,
 * control characters replaced, so the message stays one line. */
static const char *printable(const char *s, size_t n, char out[40])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 32; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > 32) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static int parse_dtype(const char *s, size_t n, dtype *dt)
{
    if (n < 3 || n > 4)
        return 0;
    char order = s[0], kind = s[1];
    size_t size = 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        size = size * 10 + (size_t)(s[i] - '0');
    }
    if (kind == 'f') {
        if (size != 4 && size != 8)
            return 0;
    } else if (kind == 'i' || kind == 'u') {
        if (size != 1 && size != 2 && size != 4 && size != 8)
            return 0;
    } else {
        return 0;
    }
    if (order == '|') {
        if (size != 1) /* '|' means "no byte order": only for one byte */
            return 0;
    } else if (order != '<' && order != '>') {
        return 0;
    }
    dt->kind = kind;
    dt->itemsize = size;
    dt->big_endian = order == '>';
    return 1;
}

static int parse_shape(cursor *c, const char *what, vbt_array *a, vbt_msg *msg)
{
    if (!accept(c, '('))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': malformed 'shape' in header", what);
    size_t nd = 0;
    for (;;) {
        skip_ws(c);
        if (accept(c, ')'))
            break;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return vbt__fail(msg, VBT_EFORMAT, "'%s': malformed 'shape' in header",
                             what);
        size_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            size_t d = (size_t)(*c->p - '0');
            if (v > (SIZE_MAX - d) / 10)
                return vbt__fail(msg, VBT_ERANGE, "'%s': dimension too large in shape",
                                 what);
            v = v * 10 + d;
            c->p++;
        }
        if (c->p < c->end && *c->p == 'L') /* Python 2 long literal */
            c->p++;
        if (nd == VBT_NPY_MAXDIM)
            return vbt__fail(msg, VBT_ERANGE, "'%s': too many dimensions (max %d)",
                             what, VBT_NPY_MAXDIM);
        a->shape[nd++] = v;
        if (accept(c, ','))
            continue;
        if (accept(c, ')'))
            break;
        return vbt__fail(msg, VBT_EFORMAT, "'%s': malformed 'shape' in header", what);
    }
    a->ndim = nd;
    return VBT_OK;
}

static int parse_header(cursor *c, const char *what, dtype *dt, int *fortran,
                        vbt_array *a, vbt_msg *msg)
{
    int have_descr = 0, have_fortran = 0, have_shape = 0, rc;
    char buf[40];

    if (!accept(c, '{'))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': malformed header (expected '{')", what);
    for (;;) {
        const char *key;
        size_t klen;
        if (accept(c, '}'))
            break;
        if (!parse_string(c, &key, &klen) || !accept(c, ':'))
            return vbt__fail(msg, VBT_EFORMAT, "'%s': malformed header dict", what);
        if (klen == 5 && !memcmp(key, "descr", 5) && !have_descr) {
            const char *s;
            size_t n;
            if (!parse_string(c, &s, &n))
                return vbt__fail(msg, VBT_EFORMAT,
                                 "'%s': unsupported dtype (structured array)", what);
            if (!parse_dtype(s, n, dt))
                return vbt__fail(msg, VBT_EFORMAT, "'%s': unsupported dtype '%s'", what,
                                 printable(s, n, buf));
            have_descr = 1;
        } else if (klen == 13 && !memcmp(key, "fortran_order", 13) && !have_fortran) {
            if (match_word(c, "True"))
                *fortran = 1;
            else if (match_word(c, "False"))
                *fortran = 0;
            else
                return vbt__fail(msg, VBT_EFORMAT,
                                 "'%s': malformed 'fortran_order' in header", what);
            have_fortran = 1;
        } else if (klen == 5 && !memcmp(key, "shape", 5) && !have_shape) {
            if ((rc = parse_shape(c, what, a, msg)) != VBT_OK)
                return rc;
            have_shape = 1;
        } else {
            return vbt__fail(msg, VBT_EFORMAT, "'%s': unexpected or repeated key '%s' "
                             "in header", what, printable(key, klen, buf));
        }
        if (accept(c, ','))
            continue;
        if (accept(c, '}'))
            break;
        return vbt__fail(msg, VBT_EFORMAT, "'%s': malformed header dict", what);
    }
    skip_ws(c);
    if (c->p != c->end)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': junk after header dict", what);
    if (!have_descr || !have_fortran || !have_shape)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': header is missing '%s'", what,
                         !have_descr ? "descr" : !have_fortran ? "fortran_order"
                                                               : "shape");
    return VBT_OK;
}

/* ---- conversion ------------------------------------------------------- */

static double load_value(const unsigned char *p, const dtype *dt)
{
    uint64_t u = 0;
    size_t n = dt->itemsize;
    /* Assembled byte by byte so the host's byte order never matters. */
    if (dt->big_endian)
        for (size_t i = 0; i < n; i++)
            u = (u << 8) | p[i];
    else
        for (size_t i = n; i-- > 0;)
            u = (u << 8) | p[i];

    if (dt->kind == 'f') {
        if (n == 8) {
            double d;
            memcpy(&d, &u, 8);
            return d;
        }
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        return (double)f;
    }
    if (dt->kind == 'u')
        return (double)u;
    /* Sign-extend without relying on implementation-defined conversions. */
    unsigned bits = (unsigned)(8 * n);
    if (bits < 64 && (u >> (bits - 1)) & 1u)
        u |= ~(uint64_t)0 << bits;
    if (u >> 63)
        return -(double)(~u) - 1.0;
    return (double)u;
}

static void convert(const unsigned char *src, const dtype *dt, int fortran,
                    const vbt_array *a, double *dst)
{
    size_t n = a->size;
    if (!fortran || a->ndim < 2) {
        if (dt->kind == 'f' && dt->itemsize == 8 && !dt->big_endian
            && host_is_little_endian()) {
            memcpy(dst, src, n * sizeof *dst);
            return;
        }
        for (size_t k = 0; k < n; k++)
            dst[k] = load_value(src + k * dt->itemsize, dt);
        return;
    }
    /* Walk the file in Fortran order (first index fastest) and scatter to
     * the C-order offset, updated incrementally. */
    size_t idx[VBT_NPY_MAXDIM] = {0}, cstride[VBT_NPY_MAXDIM];
    size_t nd = a->ndim, off = 0;
    cstride[nd - 1] = 1;
    for (size_t d = nd - 1; d-- > 0;)
        cstride[d] = cstride[d + 1] * a->shape[d + 1];
    for (size_t k = 0; k < n; k++) {
        dst[off] = load_value(src + k * dt->itemsize, dt);
        for (size_t d = 0; d < nd; d++) {
            idx[d]++;
            off += cstride[d];
            if (idx[d] < a->shape[d])
                break;
            off -= idx[d] * cstride[d];
            idx[d] = 0;
        }
    }
}

int vbt_npy_parse(const void *buf, size_t len, const char *what, vbt_array *out,
                  vbt_msg *msg)
{
    const unsigned char *b = buf;
    vbt_array a;
    dtype dt = {0, 0, 0};
    int fortran = 0, rc;

    if (!what)
        what = "<buffer>";
    if (!out)
        return vbt__fail(msg, VBT_EINVAL, "'%s': NULL output array", what);
    memset(out, 0, sizeof *out);
    memset(&a, 0, sizeof a);
    if (!buf && len > 0)
        return vbt__fail(msg, VBT_EINVAL, "'%s': NULL buffer", what);

    if (len < NPY_MAGIC_LEN || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a .npy file (bad magic)", what);
    if (len < NPY_MAGIC_LEN + 2)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': truncated header", what);
    unsigned major = b[6], minor = b[7];
    size_t hstart, hlen;
    if (major == 1 && minor == 0) {
        hstart = 10;
        if (len < hstart)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': truncated header", what);
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        hstart = 12;
        if (len < hstart)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': truncated header", what);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16
               | (size_t)b[11] << 24;
    } else {
        return vbt__fail(msg, VBT_EFORMAT, "'%s': unsupported .npy version %u.%u",
                         what, major, minor);
    }
    if (hlen > len - hstart)
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': header length %zu beyond end of file (%zu bytes)", what,
                         hlen, len);
    /* Version 3.0 allows UTF-8 only for structured field names, which are
     * rejected anyway; anything else non-ASCII is corruption. */
    for (size_t i = 0; i < hlen; i++) {
        unsigned char ch = b[hstart + i];
        if (ch == 0 || ch >= 0x80)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': non-ASCII byte in header", what);
    }

    cursor c = {(const char *)b + hstart, (const char *)b + hstart + hlen};
    if ((rc = parse_header(&c, what, &dt, &fortran, &a, msg)) != VBT_OK)
        return rc;

    /* A zero extent makes the array empty however large the others are. */
    size_t size = 1;
    for (size_t d = 0; d < a.ndim; d++)
        if (a.shape[d] == 0)
            size = 0;
    for (size_t d = 0; d < a.ndim && size != 0; d++) {
        if (size > SIZE_MAX / sizeof(double) / a.shape[d])
            return vbt__fail(msg, VBT_ERANGE, "'%s': array size overflows", what);
        size *= a.shape[d];
    }
    a.size = size;

    size_t expected = size * dt.itemsize; /* itemsize <= sizeof(double) */
    size_t found = len - hstart - hlen;
    if (found < expected)
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': truncated data (expected %zu bytes, found %zu)", what,
                         expected, found);
    if (found > expected)
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': trailing bytes after data (expected %zu bytes, found %zu)",
                         what, expected, found);

    if (size > 0) {
        a.data = malloc(size * sizeof *a.data);
        if (!a.data)
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory (%zu values)", what,
                             size);
        convert(b + hstart + hlen, &dt, fortran, &a, a.data);
    }
    *out = a;
    return VBT_OK;
}

int vbt_npy_read(const char *path, vbt_array *out, vbt_msg *msg)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (!out)
        return vbt__fail(msg, VBT_EINVAL, "npy read: NULL output array");
    memset(out, 0, sizeof *out);
    if (!path)
        return vbt__fail(msg, VBT_EINVAL, "npy read: NULL path");
    /* Outputs of long simulations exceed the 1 GiB default; available
     * memory is the real limit here. */
    rc = vbt_file_read_all(path, &buf, &len, SIZE_MAX - 1, msg);
    if (rc != VBT_OK)
        return rc;
    rc = vbt_npy_parse(buf, len, path, out, msg);
    free(buf);
    return rc;
}

/* ---- writing ---------------------------------------------------------- */

struct vbt_npy_writer {
    FILE *f;
    char *tmp;
    char *path;
    int overwrite;
    size_t expected, count;
};

/* Header bytes exactly as numpy.save writes them for '<f8' C order;
 * returns the length, 0 if it does not fit. */
static size_t make_header(char *h, size_t cap, size_t ndim, const size_t *shape)
{
    char dims[VBT_NPY_MAXDIM * 24 + 4];
    size_t k = 0;
    for (size_t d = 0; d < ndim; d++)
        k += (size_t)snprintf(dims + k, sizeof dims - k, d ? ", %zu" : "%zu", shape[d]);
    if (ndim == 1)
        dims[k++] = ',';
    dims[k] = '\0';

    char dict[sizeof dims + 128];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }", dims);
    size_t dlen = (size_t)n;
    if (ndim > 0) {
        char first[24];
        size_t flen = (size_t)snprintf(first, sizeof first, "%zu", shape[0]);
        dlen += NPY_GROWTH_AXIS_MAX_DIGITS - flen;
    }
    size_t hlen = dlen + 1; /* + '\n' */
    size_t pad = NPY_ALIGN - (NPY_MAGIC_LEN + 4 + hlen) % NPY_ALIGN;
    size_t total = NPY_MAGIC_LEN + 4 + hlen + pad;
    if (total > cap || hlen + pad > 0xffff)
        return 0;
    memcpy(h, NPY_MAGIC, NPY_MAGIC_LEN);
    h[6] = 1;
    h[7] = 0;
    h[8] = (char)((hlen + pad) & 0xff);
    h[9] = (char)((hlen + pad) >> 8);
    memcpy(h + 10, dict, (size_t)n);
    memset(h + 10 + n, ' ', total - 11 - (size_t)n);
    h[total - 1] = '\n';
    return total;
}

static int write_le_doubles(FILE *f, const double *data, size_t count)
{
    if (host_is_little_endian())
        return fwrite(data, sizeof *data, count, f) == count ? 0 : -1;
    unsigned char chunk[512 * 8];
    while (count > 0) {
        size_t n = count < 512 ? count : 512;
        for (size_t i = 0; i < n; i++) {
            unsigned char v[8];
            memcpy(v, &data[i], 8);
            for (size_t j = 0; j < 8; j++)
                chunk[8 * i + j] = v[7 - j];
        }
        if (fwrite(chunk, 8, n, f) != n)
            return -1;
        data += n;
        count -= n;
    }
    return 0;
}

int vbt_npy_writer_open(vbt_npy_writer **wp, const char *path, size_t ndim,
                        const size_t *shape, int overwrite, vbt_msg *msg)
{
    vbt_npy_writer *w = NULL;
    char header[1024];
    int rc;

    if (!wp || !path)
        return vbt__fail(msg, VBT_EINVAL, "npy write: NULL argument");
    *wp = NULL;
    if (ndim > VBT_NPY_MAXDIM)
        return vbt__fail(msg, VBT_EINVAL, "'%s': too many dimensions (%zu, max %d)",
                         path, ndim, VBT_NPY_MAXDIM);
    if (ndim > 0 && !shape)
        return vbt__fail(msg, VBT_EINVAL, "'%s': NULL shape", path);
    size_t size = 1;
    for (size_t d = 0; d < ndim; d++)
        if (shape[d] == 0)
            size = 0;
    for (size_t d = 0; d < ndim && size != 0; d++) {
        if (size > SIZE_MAX / sizeof(double) / shape[d])
            return vbt__fail(msg, VBT_ERANGE, "'%s': array size overflows", path);
        size *= shape[d];
    }
    size_t hl = make_header(header, sizeof header, ndim, shape);
    if (hl == 0)
        return vbt__fail(msg, VBT_ERANGE, "'%s': .npy header too long", path);

    w = calloc(1, sizeof *w);
    if (!w)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    w->path = strdup(path);
    if (!w->path) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    w->overwrite = overwrite;
    w->expected = size;
    if ((rc = vbt__atomic_open(path, overwrite, &w->f, &w->tmp, msg)) != VBT_OK)
        goto fail;
    if (fwrite(header, 1, hl, w->f) != hl) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': write failed: %s", path, strerror(errno));
        goto fail;
    }
    *wp = w;
    return VBT_OK;

fail:
    vbt_npy_writer_abort(w);
    return rc;
}

int vbt_npy_writer_append(vbt_npy_writer *w, const double *data, size_t count,
                          vbt_msg *msg)
{
    if (!w)
        return vbt__fail(msg, VBT_EINVAL, "npy write: NULL writer");
    if (count == 0)
        return VBT_OK;
    if (!data)
        return vbt__fail(msg, VBT_EINVAL, "'%s': NULL data", w->path);
    if (count > w->expected - w->count)
        return vbt__fail(msg, VBT_EINVAL,
                         "'%s': %zu values appended to an array of %zu (%zu already "
                         "written)", w->path, count, w->expected, w->count);
    if (write_le_doubles(w->f, data, count) != 0)
        return vbt__fail(msg, VBT_EIO, "'%s': write failed: %s", w->path,
                         strerror(errno));
    w->count += count;
    return VBT_OK;
}

int vbt_npy_writer_close(vbt_npy_writer *w, vbt_msg *msg)
{
    int rc;
    if (!w)
        return vbt__fail(msg, VBT_EINVAL, "npy write: NULL writer");
    if (w->count != w->expected) {
        rc = vbt__fail(msg, VBT_EINVAL, "'%s': %zu values written, shape needs %zu",
                       w->path, w->count, w->expected);
        vbt_npy_writer_abort(w);
        return rc;
    }
    rc = vbt__atomic_commit(w->path, w->f, w->tmp, w->overwrite, msg);
    free(w->path);
    free(w);
    return rc;
}

void vbt_npy_writer_abort(vbt_npy_writer *w)
{
    if (!w)
        return;
    vbt__atomic_discard(w->f, w->tmp);
    free(w->path);
    free(w);
}

int vbt_npy_write(const char *path, const double *data, size_t ndim,
                  const size_t *shape, int overwrite, vbt_msg *msg)
{
    vbt_npy_writer *w;
    int rc = vbt_npy_writer_open(&w, path, ndim, shape, overwrite, msg);
    if (rc != VBT_OK)
        return rc;
    if (w->expected > 0 && !data) {
        vbt_npy_writer_abort(w);
        return vbt__fail(msg, VBT_EINVAL, "'%s': NULL data", path);
    }
    if ((rc = vbt_npy_writer_append(w, data, w->expected, msg)) != VBT_OK) {
        vbt_npy_writer_abort(w);
        return rc;
    }
    return vbt_npy_writer_close(w, msg);
}
