/* connectome_archive.c -- fetch the text members of a TVB connectivity from
 * a zip archive (via libarchive) or from a directory, decompressing NAME.bz2
 * members in memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "connectome_archive.h"
#include "internal.h"
#include "vbt_io.h"

/* Never trust a size announced in a header for more than this up front. */
#define INITIAL_ALLOC_MAX ((size_t)64 << 20)
#define DEFAULT_ALLOC ((size_t)64 << 10)

void vbt__conn_members_free(vbt__conn_member *m, size_t count)
{
    if (!m)
        return;
    for (size_t i = 0; i < count; i++) {
        free(m[i].data);
        m[i].data = NULL;
        m[i].len = 0;
    }
}

/* Which wanted member (index) a base name is, -1 if none; *bz set when the
 * name carries the .bz2 suffix. */
static int match_base(const char *base, const vbt__conn_member *m, size_t count, int *bz)
{
    size_t blen = strlen(base);
    for (size_t i = 0; i < count; i++) {
        size_t wlen = strlen(m[i].want);
        if (blen == wlen && memcmp(base, m[i].want, wlen) == 0) {
            *bz = 0;
            return (int)i;
        }
        if (blen == wlen + 4 && memcmp(base, m[i].want, wlen) == 0
            && memcmp(base + wlen, ".bz2", 4) == 0) {
            *bz = 1;
            return (int)i;
        }
    }
    return -1;
}

/* The decompressed members of one connectome share the input budget
 * (vbt_input_budget_bytes); *left is what remains of it. */
static int over_budget(const char *path, const char *name, vbt_msg *msg)
{
    return vbt__fail(msg, VBT_ERANGE, "'%s': %s: the decompressed members exceed the input "
                     "budget of %zu MiB (VBT_MAX_INPUT_BYTES)", path, name,
                     vbt_input_budget_bytes() >> 20);
}

/* Read the current entry's data from `a` into a malloc'd NUL-terminated
 * buffer of at most VBT__CONN_MEMBER_MAX bytes and at most *left; the
 * buffer's size is taken from *left. */
static int read_entry(struct archive *a, size_t hint, const char *path, const char *name,
                      size_t *left, char **out, size_t *outlen, vbt_msg *msg)
{
    size_t lim = VBT__CONN_MEMBER_MAX + 2;
    if (lim > *left)
        lim = *left;
    if (lim < 2)
        return over_budget(path, name, msg);
    size_t cap = hint ? hint + 1 : DEFAULT_ALLOC;
    if (cap > INITIAL_ALLOC_MAX)
        cap = INITIAL_ALLOC_MAX;
    if (cap > lim)
        cap = lim;
    size_t len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", path, name);
    for (;;) {
        if (cap - len < 2) {
            if (cap >= lim && lim == *left) {
                free(buf);
                return over_budget(path, name, msg);
            }
            if (cap > VBT__CONN_MEMBER_MAX) {
                free(buf);
                return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is larger than %zu MiB",
                                 path, name, VBT__CONN_MEMBER_MAX >> 20);
            }
            size_t ncap = cap * 2;
            if (ncap > lim)
                ncap = lim;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", path, name);
            }
            buf = nb;
            cap = ncap;
        }
        la_ssize_t r = archive_read_data(a, buf + len, cap - len - 1);
        if (r == 0)
            break;
        if (r < 0) {
            const char *es = archive_error_string(a);
            free(buf);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': %s: corrupt data (%s)", path, name,
                             es ? es : "unknown error");
        }
        len += (size_t)r;
        if (len > VBT__CONN_MEMBER_MAX) {
            free(buf);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is larger than %zu MiB",
                             path, name, VBT__CONN_MEMBER_MAX >> 20);
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    *left -= cap;
    return VBT_OK;
}

/* Decompress a whole bzip2 stream held in memory. */
static int bz2_decode(const char *path, const char *name, const char *in, size_t inlen,
                      size_t *left, char **out, size_t *outlen, vbt_msg *msg)
{
    int rc;
    struct archive *a = NULL;
    struct archive_entry *e;

    if (inlen < 4 || memcmp(in, "BZh", 3) != 0 || in[3] < '1' || in[3] > '9')
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is not bzip2 data", path, name);
    a = archive_read_new();
    if (!a)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", path, name);
    if (archive_read_support_filter_bzip2(a) != ARCHIVE_OK) {
        /* Never fall back on running an external bzip2 program. */
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s: bzip2 support missing in libarchive",
                       path, name);
        goto fail;
    }
    archive_read_support_format_raw(a);
    if (archive_read_open_memory(a, in, inlen) != ARCHIVE_OK
        || archive_filter_code(a, 0) != ARCHIVE_FILTER_BZIP2) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s is not bzip2 data", path, name);
        goto fail;
    }
    int r = archive_read_next_header(a, &e);
    if (r < ARCHIVE_WARN) {
        const char *es = archive_error_string(a);
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s: corrupt bzip2 data (%s)", path, name,
                       es ? es : "unknown error");
        goto fail;
    }
    if (r == ARCHIVE_EOF) {
        *out = calloc(1, 1);
        *outlen = 0;
        rc = *out ? VBT_OK : vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", path, name);
        goto fail;
    }
    rc = read_entry(a, 0, path, name, left, out, outlen, msg);
fail:
    archive_read_free(a);
    return rc;
}

/* Store a member's raw bytes in m, decompressing when bz is set; takes
 * ownership of raw. */
static int store_member(const char *path, vbt__conn_member *m, int bz, char *raw,
                        size_t rawlen, size_t *left, vbt_msg *msg)
{
    snprintf(m->name, sizeof m->name, "%s%s", m->want, bz ? ".bz2" : "");
    if (!bz) {
        m->data = raw;
        m->len = rawlen;
        return VBT_OK;
    }
    int rc = bz2_decode(path, m->name, raw, rawlen, left, &m->data, &m->len, msg);
    free(raw);
    return rc;
}

/* A member name that could point outside the archive's folder: absolute,
 * or with a ".." component. */
static int unsafe_name(const char *name)
{
    if (name[0] == '/' || name[0] == '\\')
        return 1;
    for (const char *c = name; *c;) {
        size_t n = strcspn(c, "/\\");
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 1;
        c += n;
        if (*c)
            c++;
    }
    return 0;
}

static int read_zip(const char *path, vbt__conn_member *m, size_t count, vbt_msg *msg)
{
    int rc = VBT_OK;
    size_t left = vbt_input_budget_bytes();
    struct archive *a = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
    a = archive_read_new();
    if (!a) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    archive_read_support_format_zip(a);
    /* In-process filters only: none of them may spawn an external program. */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_zstd(a);
    if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
        const char *es = archive_error_string(a);
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': not a zip archive or directory (%s)", path,
                       es ? es : "unrecognised format");
        goto fail;
    }
    for (int first = 1;; first = 0) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            const char *es = archive_error_string(a);
            if (first)
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': not a zip archive or directory (%s)",
                               path, es ? es : "unrecognised format");
            else
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': corrupt zip archive (%s)", path,
                               es ? es : "unknown error");
            goto fail;
        }
        const char *name = archive_entry_pathname(e);
        if (!name)
            name = archive_entry_pathname_utf8(e);
        if (!name || strncmp(name, "__MACOSX/", 9) == 0)
            continue;
        if (unsafe_name(name)) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': member '%s' is an absolute path or "
                           "leads out of the archive (\"..\"), refused", path, name);
            goto fail;
        }
        mode_t ft = archive_entry_filetype(e);
        if (ft == AE_IFDIR)
            continue;
        /* Top level or exactly one sub-folder deep. */
        const char *slash = strchr(name, '/');
        const char *base = name;
        if (slash) {
            if (slash == name || strchr(slash + 1, '/'))
                continue;
            base = slash + 1;
        }
        int bz;
        int idx = match_base(base, m, count, &bz);
        if (idx < 0)
            continue;
        if (ft != AE_IFREG) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': member '%s' is a symbolic link or "
                           "special file, refused", path, name);
            goto fail;
        }
        if (m[idx].data) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s found twice (%s and %s)", path,
                           m[idx].want, m[idx].name, name);
            goto fail;
        }
        size_t hint = 0;
        if (archive_entry_size_is_set(e)) {
            la_int64_t sz = archive_entry_size(e);
            if (sz > (la_int64_t)VBT__CONN_MEMBER_MAX) {
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s is larger than %zu MiB", path,
                               name, VBT__CONN_MEMBER_MAX >> 20);
                goto fail;
            }
            /* A declared size beyond the budget is refused before any of it
             * is decompressed. */
            if (sz >= (la_int64_t)left) {
                rc = over_budget(path, name, msg);
                goto fail;
            }
            if (sz > 0)
                hint = (size_t)sz;
        }
        char *raw = NULL;
        size_t rawlen = 0;
        rc = read_entry(a, hint, path, name, &left, &raw, &rawlen, msg);
        if (rc)
            goto fail;
        rc = store_member(path, &m[idx], bz, raw, rawlen, &left, msg);
        if (rc)
            goto fail;
    }
fail:
    archive_read_free(a);
    close(fd);
    return rc;
}

/* Read a regular file whole, at most VBT__CONN_MEMBER_MAX bytes. */
static int read_file(const char *path, const char *file, const char *name, char **out,
                     size_t *outlen, vbt_msg *msg)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return vbt__fail(msg, VBT_EIO, "'%s': %s: %s", path, name, strerror(errno));
    size_t cap = DEFAULT_ALLOC, len = 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0) {
        if ((unsigned long long)st.st_size > VBT__CONN_MEMBER_MAX) {
            fclose(f);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is larger than %zu MiB", path, name,
                             VBT__CONN_MEMBER_MAX >> 20);
        }
        cap = (size_t)st.st_size + 2;
    }
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", path, name);
    }
    for (;;) {
        if (cap - len < 2) {
            if (cap > VBT__CONN_MEMBER_MAX) {
                free(buf);
                fclose(f);
                return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is larger than %zu MiB", path,
                                 name, VBT__CONN_MEMBER_MAX >> 20);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return vbt__fail(msg, VBT_ENOMEM, "'%s': %s: out of memory", path, name);
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err || len > VBT__CONN_MEMBER_MAX) {
        free(buf);
        if (err)
            return vbt__fail(msg, VBT_EIO, "'%s': %s: read error", path, name);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is larger than %zu MiB", path, name,
                         VBT__CONN_MEMBER_MAX >> 20);
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return VBT_OK;
}

static int read_dir(const char *path, vbt__conn_member *m, size_t count, vbt_msg *msg)
{
    size_t left = vbt_input_budget_bytes();
    for (size_t i = 0; i < count; i++) {
        for (int bz = 0; bz < 2; bz++) {
            char file[4096];
            struct stat st;
            int k = snprintf(file, sizeof file, "%s/%s%s", path, m[i].want, bz ? ".bz2" : "");
            if (k < 0 || (size_t)k >= sizeof file)
                return vbt__fail(msg, VBT_EIO, "'%s': path too long", path);
            if (lstat(file, &st) != 0)
                continue;
            if (S_ISLNK(st.st_mode))
                return vbt__fail(msg, VBT_EFORMAT, "'%s': %s%s is a symbolic link, refused",
                                 path, m[i].want, bz ? ".bz2" : "");
            if (!S_ISREG(st.st_mode))
                continue;
            if (m[i].data)
                return vbt__fail(msg, VBT_EFORMAT, "'%s': %s found twice (%s and %s.bz2)",
                                 path, m[i].want, m[i].want, m[i].want);
            char *raw = NULL;
            size_t rawlen = 0;
            int rc = read_file(path, file, file + strlen(path) + 1, &raw, &rawlen, msg);
            if (rc)
                return rc;
            left = rawlen < left ? left - rawlen : 0;
            rc = store_member(path, &m[i], bz, raw, rawlen, &left, msg);
            if (rc)
                return rc;
        }
    }
    return VBT_OK;
}

int vbt__conn_archive_read(const char *path, vbt__conn_member *m, size_t count,
                           vbt_msg *msg)
{
    struct stat st;
    int rc;
    for (size_t i = 0; i < count; i++) {
        m[i].data = NULL;
        m[i].len = 0;
        m[i].name[0] = '\0';
    }
    if (!path)
        return vbt__fail(msg, VBT_EINVAL, "connectome path is NULL");
    if (stat(path, &st) != 0)
        return vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        rc = read_dir(path, m, count, msg);
    else
        rc = read_zip(path, m, count, msg);
    if (rc)
        vbt__conn_members_free(m, count);
    return rc;
}
