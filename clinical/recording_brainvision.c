/* recording_brainvision.c -- BrainVision Core Data Format 1.0 (Brain
 * Products): a text header (.vhdr), an optional text marker file (.vmrk)
 * and a binary data file, read by vbt itself.
 *
 * Why not libbiosig, which vbt uses for GDF, Micromed and Nihon Kohden:
 * libbiosig 2.5 is not safe on hostile input.  Fuzzing its BrainVision
 * reader crashed it (a segfault in sread()) within seconds, it opens a
 * header whose data file is missing, and it reads out of bounds when the
 * channel count and the channel lines disagree.  The format is small and
 * documented (Brain Products, "BrainVision Core Data Format 1.0"), so it is
 * parsed here, with every count and size checked against the files before
 * anything is allocated or read.
 *
 * What is read:
 *  - the header: [Common Infos] DataFile, MarkerFile, DataFormat=BINARY,
 *    DataOrientation MULTIPLEXED (sample after sample, all channels) or
 *    VECTORIZED (channel after channel), DataType=TIMEDOMAIN,
 *    NumberOfChannels, SamplingInterval (microseconds), Codepage;
 *    [Binary Infos] BinaryFormat INT_16, UINT_16, INT_32 or IEEE_FLOAT_32,
 *    UseBigEndianOrder; [Channel Infos] Ch<n>=<name>,<reference>,
 *    <resolution>,<unit> ("\1" in a name stands for a comma; an empty
 *    resolution is 1, an empty unit microvolts).  Keys and section names are
 *    matched ignoring case; [Comment] and the other sections are skipped.
 *  - samples: raw value x resolution, in microvolts ("uV") for the units
 *    nV, uV (also written µV or μV), mV and V; any other unit is kept as
 *    written.  A float sample that is NaN or infinite is an error.
 *  - markers: Mk<n>=<type>,<description>,<position>,<size>,<channel>[,<date>]
 *    with a 1-based position in samples.  Each marker becomes an annotation
 *    (its description, else its type) at (position - 1) / fs, lasting
 *    size / fs when size > 1; the first one whose text marks a seizure
 *    gives the seizure onset (and offset when it has a size).  The first
 *    "New Segment" with a date (YYYYMMDDhhmmssuuuuuu) gives the start time;
 *    a "New Segment" after the first sample is a discontinuity: a window
 *    across it is refused (vbt_recording_window).
 *  - Codepage=UTF-8 texts must be valid UTF-8 (a channel name that is not
 *    is refused, a marker text repaired as every annotation is, see
 *    vbt_recording.h); Codepage=ANSI, or none (the format's default), is
 *    Windows-1252 and transcoded to UTF-8.
 *
 * Paths: DataFile and MarkerFile are file names resolved next to the .vhdr
 * only ("$b" stands for the header's own name without .vhdr); a name with
 * '/' or '\' or that is "." or "..", and a symbolic link, are refused.
 * Samples are read with pread() on the handle's descriptor; the last block
 * of multiplexed frames read is kept (under a per-handle lock), so a montage
 * that reads its channels one after another over one window reads the file
 * once. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recording_internal.h"
#include "vbt_text.h"

/* The header and marker files are text; anything larger is not one. */
#define BV_TEXT_MAX ((size_t)64 << 20)
#define BV_MAX_CHANNELS 65535L
/* Bytes of multiplexed frames kept between reads. */
#define BV_CACHE_BYTES ((size_t)8 << 20)

enum { BV_INT16, BV_UINT16, BV_INT32, BV_FLOAT32 };

typedef struct bv_state {
    int fd;
    int kind, bps, big_endian, vectorized;
    size_t nch;
    int64_t n_smp;
    double *scale;            /* per file channel: resolution x unit factor */
    pthread_mutex_t lock;     /* the frame cache */
    unsigned char *cache;
    int64_t c_first;          /* first cached frame */
    size_t c_n;               /* cached frames, 0: none */
} bv_state;

static void bv_close(vbt_recording *rec)
{
    bv_state *b = rec->be;
    if (!b)
        return;
    if (b->fd >= 0)
        close(b->fd);
    pthread_mutex_destroy(&b->lock);
    free(b->scale);
    free(b->cache);
    free(b);
    rec->be = NULL;
}

/* ---- text ----------------------------------------------------------------------------- */

/* A text file, read whole and NUL-terminated; *len gets the byte count. */
static int slurp_fd(int fd, const char *what, char **out, size_t *len, vbt_msg *msg)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return vbt__fail(msg, VBT_EFORMAT, "%s is not a regular file", what);
    if ((uint64_t)st.st_size > BV_TEXT_MAX)
        return vbt__fail(msg, VBT_EFORMAT, "%s is %lld bytes, more than the %zu MiB a "
                         "BrainVision text file may have", what, (long long)st.st_size,
                         BV_TEXT_MAX >> 20);
    size_t n = (size_t)st.st_size;
    char *t = malloc(n + 1);
    if (!t)
        return vbt__fail(msg, VBT_ENOMEM, "%s: out of memory", what);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, t + got, n - got, (off_t)got);
        if (r <= 0) {
            free(t);
            return vbt__fail(msg, VBT_EIO, "%s: read error", what);
        }
        got += (size_t)r;
    }
    t[n] = '\0';
    *out = t;
    *len = n;
    return VBT_OK;
}

/* Windows-1252 ("ANSI", what BrainVision Recorder writes) to UTF-8: bytes
 * 0x80-0x9F are the code page's punctuation (the five it leaves undefined
 * become U+FFFD), the rest are ISO 8859-1.  NULL on ENOMEM. */
static char *cp1252_to_utf8(const char *s, size_t n, size_t *out_len)
{
    static const uint16_t c1[32] = {
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
    char *o = malloc(3 * n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c >= 0x80 && c < 0xA0)
            c = c1[c - 0x80];
        if (c < 0x80) {
            o[k++] = (char)c;
        } else if (c < 0x800) {
            o[k++] = (char)(0xC0 | (c >> 6));
            o[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            o[k++] = (char)(0xE0 | (c >> 12));
            o[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    o[k] = '\0';
    *out_len = k;
    return o;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* The codepage a text declares: 1 for UTF-8, 0 for ANSI or none. */
static int is_utf8_codepage(const char *t)
{
    for (const char *p = t; (p = strstr(p, "odepage")); p++) {
        if (p == t || (p[-1] != 'C' && p[-1] != 'c'))
            continue;
        const char *v = p + 7;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        return strncasecmp(v, "UTF-8", 5) == 0 || strncasecmp(v, "UTF8", 4) == 0;
    }
    return 0;
}

/* Prepare a text file for parsing: skip a UTF-8 byte-order mark, check a
 * UTF-8 file's texts later (utf8 = 1), transcode an ANSI one now.  *text
 * is replaced by the buffer to parse (freed by the caller). */
static int prepare_text(char **text, size_t *len, int *utf8, const char *what, vbt_msg *msg)
{
    char *t = *text;
    if (*len >= 3 && (unsigned char)t[0] == 0xEF && (unsigned char)t[1] == 0xBB &&
        (unsigned char)t[2] == 0xBF) {
        memmove(t, t + 3, *len - 3 + 1);
        *len -= 3;
    }
    if (memchr(t, '\0', *len))
        return vbt__fail(msg, VBT_EFORMAT, "%s holds a NUL byte: not a text file", what);
    *utf8 = is_utf8_codepage(t);
    if (!*utf8) {
        size_t n;
        char *u = cp1252_to_utf8(t, *len, &n);
        if (!u)
            return vbt__fail(msg, VBT_ENOMEM, "%s: out of memory", what);
        free(t);
        *text = u;
        *len = n;
    }
    return VBT_OK;
}

/* Next line of the text at *pos (LF, CRLF or CR ended), NUL-terminated in
 * place; NULL at the end. */
static char *next_line(char **pos)
{
    char *s = *pos;
    if (!*s)
        return NULL;
    size_t n = strcspn(s, "\r\n");
    char *e = s + n;
    if (*e == '\r' && e[1] == '\n') {
        *e = '\0';
        *pos = e + 2;
    } else if (*e) {
        *e = '\0';
        *pos = e + 1;
    } else {
        *pos = e;
    }
    return s;
}

/* Copy a field into dst[cap], "\1" as ','; cut at a character boundary.
 * strict: -1 when it holds a control character or is not valid UTF-8 (a
 * channel name or unit); else copied as is (a marker text: repaired later
 * by vbt__rec_check_text). */
static int copy_name(char *dst, size_t cap, const char *src, int strict)
{
    char tmp[1024];
    size_t k = 0;
    for (size_t i = 0; src[i] && k < sizeof tmp - 1; i++) {
        if (src[i] == '\\' && src[i + 1] == '1') {
            tmp[k++] = ',';
            i++;
            continue;
        }
        unsigned char c = (unsigned char)src[i];
        if (strict && (c < 0x20 || c == 0x7F))
            return -1;
        tmp[k++] = (char)c;
    }
    tmp[k] = '\0';
    if (strict && !vbt_utf8_valid(tmp, k, NULL))
        return -1;
    if (k > cap - 1) {
        k = cap - 1;
        while (k > 0 && ((unsigned char)tmp[k] & 0xC0) == 0x80)
            k--; /* never cut inside a character */
    }
    memcpy(dst, tmp, k);
    dst[k] = '\0';
    return 0;
}

/* Split s at commas into at most max fields (in place); the count. */
static size_t split_commas(char *s, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = s;
    for (char *p = s; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

/* A decimal number that fills the whole (trimmed) string; -1 otherwise. */
static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v))
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < lo || v > hi)
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* A file named in the header, opened next to it: no directory part, not
 * "." or "..", not a symbolic link, a regular file. */
static int open_beside(const char *vhdr, const char *name, const char *key, int *fd_out,
                       char **path_out, vbt_msg *msg)
{
    char base[1024];
    const char *slash = strrchr(vhdr, '/');
    const char *bn = slash ? slash + 1 : vhdr;
    /* "$b": the header's name without its extension */
    const char *dollar = strstr(name, "$b");
    if (dollar) {
        size_t stem = strlen(bn);
        const char *dot = strrchr(bn, '.');
        if (dot)
            stem = (size_t)(dot - bn);
        if (snprintf(base, sizeof base, "%.*s%.*s%s", (int)(dollar - name), name, (int)stem, bn,
                     dollar + 2) >= (int)sizeof base)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is too long", vhdr, key);
    } else if (snprintf(base, sizeof base, "%s", name) >= (int)sizeof base) {
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %s is too long", vhdr, key);
    }
    if (!base[0] || strchr(base, '/') || strchr(base, '\\') || !strcmp(base, ".") ||
        !strcmp(base, ".."))
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': %s must be a plain file name next to the header (no folder, "
                         "no '..')", vhdr, key);
    char dir[4096];
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - vhdr + (slash == vhdr)), vhdr);
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot open its folder (%s)", vhdr,
                         strerror(errno));
    int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int err = errno;
    close(dfd);
    if (fd < 0)
        return vbt__fail(msg, err == ELOOP ? VBT_EFORMAT : VBT_EIO,
                         err == ELOOP ? "'%s': its %s is a symbolic link (refused)"
                                      : "'%s': its %s is not there (%s)",
                         vhdr, key, strerror(err));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': its %s is not a regular file", vhdr, key);
    }
    size_t pl = strlen(dir) + strlen(base) + 2;
    char *full = malloc(pl);
    if (!full) {
        close(fd);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", vhdr);
    }
    if (slash)
        snprintf(full, pl, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", base);
    else
        snprintf(full, pl, "%s", base);
    *fd_out = fd;
    *path_out = full;
    return VBT_OK;
}

/* ---- the header ---------------------------------------------------------------------- */

typedef struct bv_header {
    char data_file[512], marker_file[512];
    int have_data, have_marker;
    int binary, multiplexed, timedomain;
    long long nch;
    double interval_us;
    int kind, big_endian;
    int utf8;
} bv_header;

/* Unit factor to microvolts, or 0 when the unit is not a voltage. */
static double volt_factor(const char *u)
{
    static const struct { const char *unit; double f; } map[] = {
        {"uV", 1.0}, {"\xC2\xB5V", 1.0}, {"\xCE\xBCV", 1.0}, {"mV", 1e3},
        {"V", 1e6},  {"nV", 1e-3},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(u, map[i].unit) == 0)
            return map[i].f;
    return 0.0;
}

static int parse_header(vbt_recording *rec, char *text, bv_header *h, double **scale,
                        vbt_msg *msg)
{
    const char *path = rec->path;
    char *pos = text, *line = next_line(&pos);
    if (!line || !(strncmp(line, "Brain Vision Data Exchange Header File", 38) == 0 ||
                   strncmp(line, "BrainVision Data Exchange Header File", 37) == 0))
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': not a BrainVision header (the first line must be \"Brain "
                         "Vision Data Exchange Header File Version 1.0\")", path);
    enum { S_NONE, S_COMMON, S_BINARY, S_CHANNEL, S_OTHER } sec = S_NONE;
    h->nch = -1;
    h->interval_us = NAN;
    h->kind = -1;
    h->timedomain = 1;
    h->multiplexed = -1;
    char **chline = NULL;      /* the text after "ChN=", per channel */
    size_t lineno = 1;
    int rc = VBT_OK;
    while ((line = next_line(&pos))) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == ';')
            continue;
        if (*s == '[') {
            sec = !strncasecmp(s, "[Common Infos]", 14)    ? S_COMMON
                  : !strncasecmp(s, "[Binary Infos]", 14)  ? S_BINARY
                  : !strncasecmp(s, "[Channel Infos]", 15) ? S_CHANNEL
                                                           : S_OTHER;
            continue;
        }
        if (sec == S_OTHER || sec == S_NONE)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (sec == S_COMMON) {
            if (!strcasecmp(key, "DataFile")) {
                if (snprintf(h->data_file, sizeof h->data_file, "%s", val) >=
                    (int)sizeof h->data_file) {
                    rc = vbt__fail(msg, VBT_EFORMAT, "'%s': DataFile is too long", path);
                    goto out;
                }
                h->have_data = 1;
            } else if (!strcasecmp(key, "MarkerFile")) {
                if (snprintf(h->marker_file, sizeof h->marker_file, "%s", val) >=
                    (int)sizeof h->marker_file) {
                    rc = vbt__fail(msg, VBT_EFORMAT, "'%s': MarkerFile is too long", path);
                    goto out;
                }
                h->have_marker = *val != '\0';
            } else if (!strcasecmp(key, "DataFormat")) {
                h->binary = !strcasecmp(val, "BINARY") ? 1 : -1;
            } else if (!strcasecmp(key, "DataOrientation")) {
                h->multiplexed = !strcasecmp(val, "MULTIPLEXED") ? 1
                                 : !strcasecmp(val, "VECTORIZED") ? 0
                                                                  : -2;
            } else if (!strcasecmp(key, "DataType")) {
                h->timedomain = !strcasecmp(val, "TIMEDOMAIN");
            } else if (!strcasecmp(key, "NumberOfChannels")) {
                if (h->nch >= 0 || parse_int(val, 1, BV_MAX_CHANNELS, &h->nch)) {
                    rc = vbt__fail(msg, VBT_EFORMAT,
                                   "'%s': line %zu: NumberOfChannels must be given once, an "
                                   "integer from 1 to %ld", path, lineno, BV_MAX_CHANNELS);
                    goto out;
                }
                chline = calloc((size_t)h->nch, sizeof *chline);
                if (!chline) {
                    rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
                    goto out;
                }
            } else if (!strcasecmp(key, "SamplingInterval")) {
                if (parse_double(val, &h->interval_us) || !(h->interval_us >= 1e-3) ||
                    !(h->interval_us <= 1e9)) {
                    rc = vbt__fail(msg, VBT_EFORMAT,
                                   "'%s': line %zu: SamplingInterval must be a number of "
                                   "microseconds from 0.001 to 1e9", path, lineno);
                    goto out;
                }
            }
        } else if (sec == S_BINARY) {
            if (!strcasecmp(key, "BinaryFormat")) {
                h->kind = !strcasecmp(val, "INT_16")          ? BV_INT16
                          : !strcasecmp(val, "UINT_16")       ? BV_UINT16
                          : !strcasecmp(val, "INT_32")        ? BV_INT32
                          : !strcasecmp(val, "IEEE_FLOAT_32") ? BV_FLOAT32
                                                              : -2;
            } else if (!strcasecmp(key, "UseBigEndianOrder")) {
                h->big_endian = !strcasecmp(val, "YES");
            }
        } else if (sec == S_CHANNEL) {
            long long k;
            if (strncasecmp(key, "Ch", 2) != 0 || parse_int(key + 2, 1, BV_MAX_CHANNELS, &k))
                continue;
            if (h->nch < 0) {
                rc = vbt__fail(msg, VBT_EFORMAT,
                               "'%s': line %zu: channel lines before NumberOfChannels", path,
                               lineno);
                goto out;
            }
            if (k > h->nch || chline[k - 1]) {
                rc = vbt__fail(msg, VBT_EFORMAT,
                               "'%s': line %zu: Ch%lld is %s (NumberOfChannels is %lld)", path,
                               lineno, k, k > h->nch ? "beyond the channel count" : "repeated",
                               h->nch);
                goto out;
            }
            chline[k - 1] = val;
        }
    }
    if (h->nch < 0) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': NumberOfChannels is missing", path);
        goto out;
    }
    if (!h->have_data) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': DataFile is missing", path);
        goto out;
    }
    if (h->binary != 1 || !h->timedomain) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': only DataFormat=BINARY time-domain data are read", path);
        goto out;
    }
    if (h->multiplexed < 0) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': DataOrientation must be MULTIPLEXED or VECTORIZED", path);
        goto out;
    }
    if (h->kind < 0) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': BinaryFormat must be INT_16, UINT_16, INT_32 or IEEE_FLOAT_32",
                       path);
        goto out;
    }
    if (isnan(h->interval_us)) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': SamplingInterval is missing", path);
        goto out;
    }
    size_t nch = (size_t)h->nch;
    rec->chan = calloc(nch, sizeof *rec->chan);
    *scale = malloc(nch * sizeof **scale);
    if (!rec->chan || !*scale) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto out;
    }
    rec->n_chan = nch;
    for (size_t i = 0; i < nch; i++) {
        vbt_rec_channel *c = &rec->chan[i];
        if (!chline[i]) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': [Channel Infos] has no line Ch%zu (NumberOfChannels is %lld)",
                           path, i + 1, h->nch);
            goto out;
        }
        char *f[4] = {NULL, NULL, NULL, NULL};
        size_t nf = split_commas(chline[i], f, 4);
        char *name = trim(f[0]);
        if (!*name || copy_name(c->label, sizeof c->label, name, 1)) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': channel Ch%zu: the name is %s", path, i + 1,
                           *name ? "not valid UTF-8 or holds a control character" : "empty");
            goto out;
        }
        double res = 1.0;
        char *rs = nf > 2 ? trim(f[2]) : (char *)"";
        if (*rs && (parse_double(rs, &res) || !(res > 0))) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': channel Ch%zu ('%s'): the resolution is not a number > 0",
                           path, i + 1, c->label);
            goto out;
        }
        char unit[64];
        char *us = nf > 3 ? trim(f[3]) : (char *)"";
        if (copy_name(unit, sizeof unit, *us ? us : "uV", 1)) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': channel Ch%zu ('%s'): the unit is not valid UTF-8 or holds a "
                           "control character", path, i + 1, c->label);
            goto out;
        }
        double f_uv = volt_factor(unit);
        if (f_uv > 0) {
            res *= f_uv;
            snprintf(c->unit, sizeof c->unit, "uV");
        } else {
            copy_name(c->unit, sizeof c->unit, unit, 1);
        }
        (*scale)[i] = res;
        vbt__rec_guess(c->label, c->type, c->group);
        c->fs_hz = 1e6 / h->interval_us;
        c->file_signal = i;
        switch (h->kind) {
        case BV_INT16: c->dig_min = -32768; c->dig_max = 32767; break;
        case BV_UINT16: c->dig_min = 0; c->dig_max = 65535; break;
        case BV_INT32: c->dig_min = INT32_MIN; c->dig_max = INT32_MAX; break;
        default: c->dig_min = c->dig_max = 0; break;
        }
        if (h->kind == BV_FLOAT32) {
            c->phys_min = -3.4028234663852886e38 * res;
            c->phys_max = 3.4028234663852886e38 * res;
        } else {
            c->phys_min = c->dig_min * res;
            c->phys_max = c->dig_max * res;
        }
        for (int q = 0; q < 3; q++)
            c->xyz[q] = NAN;
    }
out:
    free(chline);
    return rc;
}

/* ---- markers ------------------------------------------------------------------------- */

/* "YYYYMMDDhhmmssuuuuuu" (20 digits); all zeros: unknown. */
static int parse_date(const char *s, vbt_datetime *dt)
{
    int v[7];
    static const int w[7] = {4, 2, 2, 2, 2, 2, 6};
    if (strlen(s) != 20)
        return -1;
    for (int i = 0; i < 20; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    const char *p = s;
    for (int k = 0; k < 7; k++) {
        int x = 0;
        for (int i = 0; i < w[k]; i++)
            x = 10 * x + (*p++ - '0');
        v[k] = x;
    }
    if (v[0] == 0)
        return -1;
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return -2;
    *dt = (vbt_datetime){v[0], v[1], v[2], v[3], v[4], v[5], v[6] / 1e6};
    return 0;
}

static int parse_markers(vbt_recording *rec, char *text, double fs, int64_t **breaks,
                         size_t *n_breaks, vbt_msg *msg)
{
    const char *path = rec->path;
    char *pos = text, *line = next_line(&pos);
    if (!line || !(strncmp(line, "Brain Vision Data Exchange Marker File", 38) == 0 ||
                   strncmp(line, "BrainVision Data Exchange Marker File", 37) == 0))
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': its MarkerFile is not a BrainVision marker file", path);
    int in_markers = 0, have_start = 0;
    size_t lineno = 1, cap = 0;
    while ((line = next_line(&pos))) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == ';')
            continue;
        if (*s == '[') {
            in_markers = !strncasecmp(s, "[Marker Infos]", 14);
            continue;
        }
        if (!in_markers)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *key = trim(s);
        long long k;
        if (strncasecmp(key, "Mk", 2) != 0 || parse_int(key + 2, 1, INT32_MAX, &k))
            continue;
        char *f[6] = {NULL};
        size_t nf = split_commas(eq + 1, f, 6);
        long long at, size = 1;
        if (nf < 3 || parse_int(trim(f[2]), 1, (long long)1 << 53, &at) ||
            (nf > 3 && *trim(f[3]) && parse_int(trim(f[3]), 0, (long long)1 << 53, &size)))
            return vbt__fail(msg, VBT_EFORMAT,
                             "'%s': its MarkerFile, line %zu (Mk%lld): position or size is "
                             "not a whole number (position >= 1)", path, lineno, k);
        char type[128], desc[512];
        copy_name(type, sizeof type, trim(f[0]), 0);
        copy_name(desc, sizeof desc, nf > 1 ? trim(f[1]) : "", 0);
        int new_segment = !strcasecmp(type, "New Segment");
        if (new_segment && nf > 5 && !have_start) {
            vbt_datetime dt;
            int r = parse_date(trim(f[5]), &dt);
            if (r == -2)
                return vbt__fail(msg, VBT_EFORMAT,
                                 "'%s': its MarkerFile, line %zu (Mk%lld): the New Segment "
                                 "date is not a valid YYYYMMDDhhmmssuuuuuu", path, lineno, k);
            if (r == 0) {
                rec->start = dt;
                have_start = 1;
            }
        }
        if (new_segment && at > 1) {
            if (*n_breaks == cap) {
                size_t nc = cap ? 2 * cap : 8;
                int64_t *b = realloc(*breaks, nc * sizeof *b);
                if (!b)
                    return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
                *breaks = b;
                cap = nc;
            }
            (*breaks)[(*n_breaks)++] = (int64_t)(at - 1);
        }
        if (new_segment && at == 1)
            continue; /* the recording's start, not an event */
        const char *text_ = desc[0] ? desc : type;
        if (vbt__rec_add_annotation(rec, (double)(at - 1) / fs,
                                    size > 1 ? (double)size / fs : -1.0, text_))
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    }
    return VBT_OK;
}

/* ---- samples ------------------------------------------------------------------------- */

static double decode(const bv_state *b, const unsigned char *p, int *finite)
{
    uint32_t u;
    switch (b->kind) {
    case BV_INT16:
        u = b->big_endian ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
        return (double)(int16_t)(uint16_t)u;
    case BV_UINT16:
        u = b->big_endian ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
        return (double)(uint16_t)u;
    default:
        if (b->big_endian)
            u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        else
            u = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
        if (b->kind == BV_INT32)
            return (double)(int32_t)u;
        float f;
        memcpy(&f, &u, sizeof f);
        if (!isfinite(f))
            *finite = 0;
        return (double)f;
    }
}

static int read_all(int fd, unsigned char *buf, size_t n, off_t at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, at + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int bv_read(vbt_recording *rec, size_t ch, int64_t first, size_t n, double *out)
{
    bv_state *b = rec->be;
    const vbt_rec_channel *c = &rec->chan[ch];
    size_t col = c->file_signal, bps = (size_t)b->bps;
    double sc = b->scale[col];
    int finite = 1, rc = VBT_OK;
    if (b->vectorized) {
        unsigned char buf[8192];
        size_t done = 0;
        while (done < n) {
            size_t take = n - done < sizeof buf / bps ? n - done : sizeof buf / bps;
            off_t at = (off_t)(((uint64_t)col * (uint64_t)b->n_smp + (uint64_t)first + done) * bps);
            if (read_all(b->fd, buf, take * bps, at))
                return vbt__fail(&rec->err, VBT_EIO,
                                 "'%s': channel '%s': read error at sample %lld", rec->path,
                                 c->label, (long long)(first + (int64_t)done));
            for (size_t i = 0; i < take; i++)
                out[done + i] = decode(b, buf + i * bps, &finite) * sc;
            done += take;
        }
    } else {
        size_t frame = b->nch * bps;
        size_t max_frames = BV_CACHE_BYTES / frame ? BV_CACHE_BYTES / frame : 1;
        pthread_mutex_lock(&b->lock);
        size_t done = 0;
        while (done < n) {
            int64_t pos = first + (int64_t)done;
            if (!(b->c_n && pos >= b->c_first && pos < b->c_first + (int64_t)b->c_n)) {
                size_t want = n - done < max_frames ? n - done : max_frames;
                b->c_n = 0;
                if (read_all(b->fd, b->cache, want * frame, (off_t)((uint64_t)pos * frame))) {
                    rc = vbt__fail(&rec->err, VBT_EIO,
                                   "'%s': channel '%s': read error at sample %lld", rec->path,
                                   c->label, (long long)pos);
                    break;
                }
                b->c_first = pos;
                b->c_n = want;
            }
            size_t i0 = (size_t)(pos - b->c_first);
            size_t take = b->c_n - i0 < n - done ? b->c_n - i0 : n - done;
            const unsigned char *p = b->cache + i0 * frame + col * bps;
            for (size_t i = 0; i < take; i++, p += frame)
                out[done + i] = decode(b, p, &finite) * sc;
            done += take;
        }
        pthread_mutex_unlock(&b->lock);
    }
    if (rc == VBT_OK && !finite)
        rc = vbt__fail(&rec->err, VBT_EFORMAT,
                       "'%s': channel '%s': a sample in [%lld, %lld) is not a finite number",
                       rec->path, c->label, (long long)first, (long long)first + (long long)n);
    return rc;
}

/* ---- open ---------------------------------------------------------------------------- */

static int open_brainvision(vbt_recording *rec, const char *path, vbt_msg *msg)
{
    char *text = NULL, *mtext = NULL;
    size_t len = 0, mlen = 0;
    int rc, hfd = -1, mfd = -1;
    double *scale = NULL;
    int64_t *breaks = NULL;
    size_t n_breaks = 0;
    bv_header h;
    memset(&h, 0, sizeof h);
    bv_state *b = calloc(1, sizeof *b);
    if (!b)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    b->fd = -1;
    pthread_mutex_init(&b->lock, NULL);
    rec->be = b;
    rec->close = bv_close;
    rec->read = bv_read;
    hfd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (hfd < 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
        goto out;
    }
    {
        char what[4200];
        snprintf(what, sizeof what, "'%s'", path);
        if ((rc = slurp_fd(hfd, what, &text, &len, msg)) ||
            (rc = prepare_text(&text, &len, &h.utf8, what, msg)))
            goto out;
    }
    if ((rc = parse_header(rec, text, &h, &scale, msg)))
        goto out;
    b->kind = h.kind;
    b->bps = h.kind == BV_INT16 || h.kind == BV_UINT16 ? 2 : 4;
    b->big_endian = h.big_endian;
    b->vectorized = !h.multiplexed;
    b->nch = (size_t)h.nch;
    b->scale = scale;
    scale = NULL;
    if ((rc = open_beside(path, h.data_file, "DataFile", &b->fd, &rec->companion[0], msg)))
        goto out;
    rec->companion_role[0] = "recording_data";
    struct stat st;
    if (fstat(b->fd, &st) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': cannot stat its DataFile", path);
        goto out;
    }
    uint64_t frame = (uint64_t)b->nch * (uint64_t)b->bps;
    if (st.st_size <= 0 || (uint64_t)st.st_size % frame) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': its DataFile has %lld bytes, not a whole number of samples of "
                       "%zu channels of %d bytes (%llu bytes a sample)", path,
                       (long long)st.st_size, b->nch, b->bps, (unsigned long long)frame);
        goto out;
    }
    b->n_smp = (int64_t)((uint64_t)st.st_size / frame);
    if (!b->vectorized) {
        size_t cf = BV_CACHE_BYTES / frame ? BV_CACHE_BYTES / frame : 1;
        if ((uint64_t)cf > (uint64_t)b->n_smp)
            cf = (size_t)b->n_smp;
        b->cache = malloc(cf * frame);
        if (!b->cache) {
            rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
            goto out;
        }
    }
    double fs = 1e6 / h.interval_us;
    for (size_t i = 0; i < rec->n_chan; i++)
        rec->chan[i].n_samples = b->n_smp;
    rec->duration_s = (double)b->n_smp / fs;
    rec->record_s = 1.0 / fs;
    snprintf(rec->format, sizeof rec->format, "BrainVision");
    if (h.have_marker) {
        if ((rc = open_beside(path, h.marker_file, "MarkerFile", &mfd, &rec->companion[1], msg)))
            goto out;
        rec->companion_role[1] = "recording_markers";
        char what[4200];
        snprintf(what, sizeof what, "'%s': its MarkerFile", path);
        int mutf8;
        if ((rc = slurp_fd(mfd, what, &mtext, &mlen, msg)) ||
            (rc = prepare_text(&mtext, &mlen, &mutf8, what, msg)) ||
            (rc = parse_markers(rec, mtext, fs, &breaks, &n_breaks, msg)))
            goto out;
    }
    rec->breaks = breaks;
    rec->n_breaks = n_breaks;
    breaks = NULL;
    for (size_t i = 0; i < rec->n_ann; i++)
        if (vbt__is_seizure_text(rec->ann[i].text)) {
            rec->sz_onset = rec->ann[i].onset_s;
            rec->sz_offset = rec->ann[i].duration_s > 0
                                 ? rec->ann[i].onset_s + rec->ann[i].duration_s
                                 : NAN;
            break;
        }
    rc = VBT_OK;
out:
    if (hfd >= 0)
        close(hfd);
    if (mfd >= 0)
        close(mfd);
    free(text);
    free(mtext);
    free(scale);
    free(breaks);
    return rc;
}

static int sniff_brainvision(const unsigned char *h, size_t n)
{
    static const char *const magic[] = {"Brain Vision Data Exchange Header File",
                                        "BrainVision Data Exchange Header File"};
    size_t skip = n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF ? 3 : 0;
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(magic[i]);
        if (n >= skip + k && memcmp(h + skip, magic[i], k) == 0)
            return 1;
    }
    return 0;
}

const vbt__rec_format vbt__fmt_brainvision = {
    .name = "BrainVision",
    .extensions = ".vhdr",
    .sniff = sniff_brainvision,
    .open = open_brainvision,
};
