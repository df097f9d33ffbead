/* recording.c -- EDF/EDF+/BDF reading and EDF+/BDF+ writing through EDFlib.
 *
 * EDFlib's handle table is process-global and not thread-safe: the mutex
 * below is the one lock around every EDFlib call made by libvbt.  Its
 * header struct is about 146 KiB, so it always lives on the heap.  The
 * header is checked here before EDFlib parses it, because EDFlib answers
 * every malformed file with the same "format error" code.
 *
 * EDFlib parses and validates the header and the EDF+ annotations at open,
 * and its handle is closed right after.  Samples are then read with
 * pread() straight from the data records, the layout known from the
 * checked header: EDFlib's sample reader seeks once per data record under
 * the global lock and costs about 30 ns a sample (50 ms per channel-hour
 * at 512 Hz), which dominated the processing time; pread() on the handle's
 * own descriptor needs no lock, so reads from several threads run in
 * parallel.  The scaling is EDFlib's: pmin + (d - dmin)(pmax - pmin)/(dmax - dmin). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <edflib.h>

#include "recording_internal.h"
#include "vbt_text.h"

static pthread_mutex_t edf_lock = PTHREAD_MUTEX_INITIALIZER;

static const vbt__rec_format fmt_edf; /* the EDF/BDF entry of the format table, below */

#define EDF_HDR_BYTES 256
#define EDF_SIG_BYTES 256

/* ---- small helpers --------------------------------------------------------- */

static void trim_copy(char *dst, size_t cap, const char *src, size_t srclen)
{
    size_t a = 0, b = srclen;
    while (a < b && (src[a] == ' ' || src[a] == '\0'))
        a++;
    while (b > a && (src[b - 1] == ' ' || src[b - 1] == '\0'))
        b--;
    size_t n = b - a < cap - 1 ? b - a : cap - 1;
    memcpy(dst, src + a, n);
    dst[n] = '\0';
}

int vbt__label_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ')
            a++;
        while (*b == ' ')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
        a++;
        b++;
    }
}

/* Parse an ASCII header field as a number; 0 on success. */
static int field_num(const unsigned char *f, size_t len, double *out)
{
    char buf[32];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, f, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || errno || !isfinite(v))
        return -1;
    while (*end == ' ')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* BIDS channel type guessed from an EDF label ("EEG Fpz-Cz", "ECG"). */
static void guess_type(const char *label, char type[16])
{
    static const struct { const char *prefix, *type; } map[] = {
        {"SEEG", "SEEG"}, {"ECOG", "ECOG"}, {"EEG", "EEG"}, {"ECG", "ECG"},
        {"EKG", "ECG"},   {"EOG", "EOG"},   {"EMG", "EMG"}, {"RESP", "RESP"},
        {"TEMP", "TEMP"}, {"TRIG", "TRIG"}, {"EVENT", "TRIG"}, {"STATUS", "TRIG"},
        {"SAO2", "MISC"}, {"SPO2", "MISC"}, {"PLETH", "MISC"}, {"HR", "MISC"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].prefix);
        if (strncasecmp(label, map[i].prefix, n) == 0 &&
            (label[n] == '\0' || label[n] == ' ' || label[n] == '-' || label[n] == '_' ||
             (n >= 3 && !isalpha((unsigned char)label[n])))) {
            snprintf(type, 16, "%s", map[i].type);
            return;
        }
    }
    snprintf(type, 16, "n/a");
}

/* Electrode name of a contact label: "A'12" -> "A'", "TB3" -> "TB". */
static void guess_group(const char *label, char group[32])
{
    const char *s = strrchr(label, ' ');
    s = s ? s + 1 : label;
    size_t n = strlen(s);
    while (n > 0 && isdigit((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n == strlen(s))
        n = 0;
    if (n > 31)
        n = 31;
    memcpy(group, s, n);
    group[n] = '\0';
}

void vbt__rec_guess(const char *label, char type[16], char group[32])
{
    guess_type(label, type);
    guess_group(label, group);
}

size_t vbt_recording_n_bad_dropped(const vbt_recording *rec) { return rec->n_bad_dropped; }

int vbt__is_seizure_text(const char *s)
{
    if (!s)
        return 0;
    char low[128];
    size_t i;
    for (i = 0; s[i] && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[i] = '\0';
    return strstr(low, "seizure") || strstr(low, "onset") || strcmp(low, "sz") == 0;
}

/* ---- header check ------------------------------------------------------------ */

/* Check the fixed header and the sizes it announces against the file, with
 * one precise message per lie.  The patient field (bytes 8-87) and the
 * recording field (88-167) are never looked at. */
typedef struct layout {
    size_t ns, hdr_bytes, rec_bytes, n_rec;
    int bps;
    size_t *spr, *off;
    unsigned char *annot;      /* 1 for an "EDF/BDF Annotations" signal */
    int plus, discont;         /* reserved field "EDF+C"/"EDF+D" ("BDF+...") */
} layout;

static void layout_free(layout *l)
{
    free(l->spr);
    free(l->off);
    free(l->annot);
}

/* The EDF specification allows only printable ASCII (32-126) in the header.
 * EDFlib answers any other byte with one "format error" code; this names
 * the field (never its content: the identification fields are not quoted).
 * With sig == NULL, fixed is the 256-byte fixed header (byte 0 of a BDF is
 * 0xFF by definition); else sig holds nsig signal headers. */
static int check_ascii(const char *path, const unsigned char *fixed, int bdf, size_t nsig,
                       const unsigned char *sig, vbt_msg *msg)
{
    static const struct { const char *name; size_t off, len; } fixed_fields[] = {
        {"version", 0, 8},
        {"patient identification", 8, 80},
        {"recording identification", 88, 80},
        {"start date", 168, 8},
        {"start time", 176, 8},
        {"header size", 184, 8},
        {"reserved", 192, 44},
        {"number of data records", 236, 8},
        {"data record duration", 244, 8},
        {"number of signals", 252, 4},
    };
    static const struct { const char *name; size_t len; } sig_fields[] = {
        {"label", 16}, {"transducer type", 80}, {"physical dimension", 8},
        {"physical minimum", 8}, {"physical maximum", 8}, {"digital minimum", 8},
        {"digital maximum", 8}, {"prefiltering", 80}, {"samples per record", 8},
        {"reserved", 32},
    };
    if (!sig) {
        for (size_t f = 0; f < sizeof fixed_fields / sizeof fixed_fields[0]; f++)
            for (size_t k = fixed_fields[f].off;
                 k < fixed_fields[f].off + fixed_fields[f].len; k++) {
                if (k == 0 && bdf)
                    continue;
                if (fixed[k] < 32 || fixed[k] > 126)
                    return vbt__fail(msg, VBT_EFORMAT,
                                     "'%s': header field '%s': byte 0x%02X is not ASCII (the "
                                     "EDF specification requires printable ASCII)",
                                     path, fixed_fields[f].name, fixed[k]);
            }
        return VBT_OK;
    }
    size_t base = 0;
    for (size_t f = 0; f < sizeof sig_fields / sizeof sig_fields[0]; f++) {
        for (size_t i = 0; i < nsig; i++)
            for (size_t k = 0; k < sig_fields[f].len; k++) {
                unsigned char c = sig[base + i * sig_fields[f].len + k];
                if (c < 32 || c > 126)
                    return vbt__fail(msg, VBT_EFORMAT,
                                     "'%s': signal %zu %s: byte 0x%02X is not ASCII (the EDF "
                                     "specification requires printable ASCII)",
                                     path, i + 1, sig_fields[f].name, c);
            }
        base += nsig * sig_fields[f].len;
    }
    return VBT_OK;
}

static int check_header(const char *path, layout *lay, vbt_msg *msg)
{
    unsigned char fixed[EDF_HDR_BYTES];
    unsigned char *sig = NULL;
    struct stat st;
    int rc = VBT_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': not a regular file", path);
        goto out;
    }
    size_t got = fread(fixed, 1, sizeof fixed, f);
    int bdf = got > 0 && fixed[0] == 0xff;
    if (got == 0) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': empty file, not EDF/BDF", path);
        goto out;
    }
    if (!((fixed[0] == '0' && (got < 8 || memcmp(fixed, "0       ", 8) == 0)) ||
          (bdf && (got < 8 || memcmp(fixed + 1, "BIOSEMI", 7) == 0)))) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': not an EDF or BDF file (version field is not \"0\" or "
                       "\"\\xffBIOSEMI\")", path);
        goto out;
    }
    if (got < sizeof fixed) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': truncated: %zu bytes, shorter than the 256-byte EDF header",
                       path, got);
        goto out;
    }
    if ((rc = check_ascii(path, fixed, bdf, 0, NULL, msg)) != VBT_OK)
        goto out;
    double hdr_bytes, n_rec, rec_dur, ns;
    if (field_num(fixed + 184, 8, &hdr_bytes) || field_num(fixed + 236, 8, &n_rec) ||
        field_num(fixed + 244, 8, &rec_dur) || field_num(fixed + 252, 4, &ns)) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': header size, record count, record duration or signal count "
                       "is not a number", path);
        goto out;
    }
    if (ns < 1 || ns > EDFLIB_MAXSIGNALS || ns != floor(ns)) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': header says %g signals (1 to %d supported)",
                       path, ns, EDFLIB_MAXSIGNALS);
        goto out;
    }
    size_t nsig = (size_t)ns;
    if (hdr_bytes != (double)(EDF_HDR_BYTES * (nsig + 1))) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': header says it is %g bytes long, but %zu signals need %zu bytes",
                       path, hdr_bytes, nsig, (size_t)EDF_HDR_BYTES * (nsig + 1));
        goto out;
    }
    if (n_rec < 1 || n_rec != floor(n_rec) || rec_dur < 0) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': header says %g data records of %g s (need at least one "
                       "record and a duration >= 0)", path, n_rec, rec_dur);
        goto out;
    }
    if ((double)st.st_size < (double)EDF_HDR_BYTES * (double)(nsig + 1)) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': truncated: %lld bytes, shorter than its %zu-byte header", path,
                       (long long)st.st_size, (size_t)EDF_HDR_BYTES * (nsig + 1));
        goto out;
    }
    sig = malloc(EDF_SIG_BYTES * nsig);
    lay->spr = malloc(nsig * sizeof *lay->spr);
    lay->off = malloc(nsig * sizeof *lay->off);
    lay->annot = malloc(nsig);
    if (!sig || !lay->spr || !lay->off || !lay->annot) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto out;
    }
    if (fread(sig, EDF_SIG_BYTES, nsig, f) != nsig) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': read error in the signal headers", path);
        goto out;
    }
    if ((rc = check_ascii(path, sig, 0, nsig, sig, msg)) != VBT_OK)
        goto out;
    double rec_bytes = 0;
    for (size_t i = 0; i < nsig; i++) {
        double spr;
        if (field_num(sig + nsig * 216 + i * 8, 8, &spr) || spr < 1 || spr != floor(spr)) {
            char label[17];
            trim_copy(label, sizeof label, (const char *)sig + i * 16, 16);
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': signal %zu ('%s'): samples per record is not a positive "
                           "integer", path, i + 1, label);
            goto out;
        }
        lay->off[i] = (size_t)rec_bytes;
        lay->spr[i] = (size_t)spr;
        char label[17];
        trim_copy(label, sizeof label, (const char *)sig + i * 16, 16);
        lay->annot[i] = !strcmp(label, "EDF Annotations") || !strcmp(label, "BDF Annotations");
        rec_bytes += spr * (bdf ? 3 : 2);
    }
    lay->ns = nsig;
    lay->plus = memcmp(fixed + 192, "EDF+", 4) == 0 || memcmp(fixed + 192, "BDF+", 4) == 0;
    lay->discont = lay->plus && fixed[196] == 'D';
    lay->hdr_bytes = (size_t)hdr_bytes;
    lay->rec_bytes = (size_t)rec_bytes;
    lay->n_rec = (size_t)n_rec;
    lay->bps = bdf ? 3 : 2;
    double expect = hdr_bytes + n_rec * rec_bytes;
    if ((double)st.st_size < expect) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': truncated: %lld bytes, but the header promises %g data records "
                       "of %g bytes (%.0f bytes)", path, (long long)st.st_size, n_rec,
                       rec_bytes, expect);
        goto out;
    }
    if ((double)st.st_size > expect) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': %lld bytes, more than the %g data records of %g bytes the "
                       "header announces (%.0f bytes): record count or sizes are wrong",
                       path, (long long)st.st_size, n_rec, rec_bytes, expect);
        goto out;
    }
out:
    free(sig);
    fclose(f);
    return rc;
}

static const char *edflib_error(int code)
{
    switch (code) {
    case EDFLIB_MALLOC_ERROR: return "out of memory";
    case EDFLIB_NO_SUCH_FILE_OR_DIRECTORY: return "no such file or directory";
    case EDFLIB_FILE_CONTAINS_FORMAT_ERRORS: return "EDFlib reports format errors in the header";
    case EDFLIB_MAXFILES_REACHED: return "too many EDF files open at once";
    case EDFLIB_FILE_READ_ERROR: return "read error";
    case EDFLIB_FILE_ALREADY_OPENED: return "file is already open";
    case EDFLIB_FILETYPE_ERROR: return "not an EDF or BDF file";
    case EDFLIB_FILE_WRITE_ERROR: return "write error";
    case EDFLIB_NUMBER_OF_SIGNALS_INVALID: return "invalid number of signals";
    case EDFLIB_FILE_IS_DISCONTINUOUS: return "discontinuous file (EDF+D) not supported";
    case EDFLIB_INVALID_READ_ANNOTS_VALUE: return "invalid annotation mode";
    default: return "unknown EDFlib error";
    }
}

/* ---- open / free ---------------------------------------------------------------- */

int vbt__rec_add_annotation(vbt_recording *rec, double onset_s, double duration_s,
                            const char *text)
{
    if (rec->n_ann == rec->cap_ann) {
        size_t cap = rec->cap_ann ? 2 * rec->cap_ann : 16;
        vbt_annotation *a = realloc(rec->ann, cap * sizeof *a);
        if (!a)
            return VBT_ENOMEM;
        rec->ann = a;
        rec->cap_ann = cap;
    }
    char *t = strdup(text ? text : "");
    if (!t)
        return VBT_ENOMEM;
    rec->ann[rec->n_ann++] = (vbt_annotation){onset_s, duration_s, t};
    return VBT_OK;
}

/* ---- EDF+ without EDFlib ------------------------------------------------------------ */

/* EDFlib refuses EDF+D files, and EDF+ files whose annotations it finds
 * fault with (overlapping annotations, for one).  Their header has passed
 * check_header(); it is parsed here, and the annotation signals of every
 * data record give the records' start times (the gaps of an EDF+D) and the
 * annotations.  Samples are read as for any EDF (recording_read). */
typedef struct tal_ctx {
    vbt_recording *rec;
    size_t record;
    int have_time;
    double *onset;             /* per data record */
} tal_ctx;

static int tal_cb(void *ctx, double onset_s, double duration_s, const char *text)
{
    tal_ctx *t = ctx;
    if (!text) {
        if (!t->have_time) {
            t->onset[t->record] = onset_s;
            t->have_time = 1;
        }
        return VBT_OK;
    }
    return vbt__rec_add_annotation(t->rec, onset_s, duration_s, text);
}

static int parse_date_time(const unsigned char *h, vbt_datetime *dt)
{
    int d, mo, y, hh, mi, ss;
    char a[9], b[9];
    memcpy(a, h + 168, 8);
    memcpy(b, h + 176, 8);
    a[8] = b[8] = '\0';
    if (sscanf(a, "%2d.%2d.%2d", &d, &mo, &y) != 3 || sscanf(b, "%2d.%2d.%2d", &hh, &mi, &ss) != 3 ||
        d < 1 || d > 31 || mo < 1 || mo > 12 || hh > 23 || mi > 59 || ss > 59 || y < 0 || hh < 0 ||
        mi < 0 || ss < 0)
        return -1;
    /* EDF clipping date: years 85-99 are 1985-1999, 00-84 are 2000-2084 */
    *dt = (vbt_datetime){y >= 85 ? 1900 + y : 2000 + y, mo, d, hh, mi, ss, 0.0};
    return 0;
}

static int edf_open_native(vbt_recording *rec, const char *path, const layout *lay, vbt_msg *msg)
{
    unsigned char *h = malloc(lay->hdr_bytes), *ab = NULL;
    tal_ctx t = {rec, 0, 0, NULL};
    int rc = VBT_OK;
    size_t ns = lay->ns;
    if (!h || pread(rec->fd, h, lay->hdr_bytes, 0) != (ssize_t)lay->hdr_bytes) {
        rc = vbt__fail(msg, h ? VBT_EIO : VBT_ENOMEM, "'%s': cannot read the header", path);
        goto out;
    }
    int bdf = h[0] == 0xff;
    snprintf(rec->format, sizeof rec->format, "%s+%c", bdf ? "BDF" : "EDF",
             lay->discont ? 'D' : 'C');
    if (parse_date_time(h, &rec->start)) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': header field 'start date' or 'start time' is "
                       "not dd.mm.yy / hh.mm.ss", path);
        goto out;
    }
    double rec_s;
    if (field_num(h + 244, 8, &rec_s) || !(rec_s > 0)) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': header field 'data record duration' must be > 0 "
                       "in an EDF+ file with more than one record", path);
        goto out;
    }
    rec->record_s = rec_s;
    const unsigned char *sg = h + EDF_HDR_BYTES;
    size_t n_data = 0, n_annot = 0, annot_bytes = 0;
    for (size_t i = 0; i < ns; i++) {
        if (lay->annot[i]) {
            n_annot++;
            annot_bytes = annot_bytes > lay->spr[i] * lay->bps ? annot_bytes
                                                                : lay->spr[i] * lay->bps;
        } else {
            n_data++;
        }
    }
    if (n_annot == 0) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': EDF+ file without an annotation signal", path);
        goto out;
    }
    rec->n_chan = n_data;
    rec->chan = calloc(n_data ? n_data : 1, sizeof *rec->chan);
    t.onset = malloc(lay->n_rec * sizeof *t.onset);
    ab = malloc(annot_bytes + 1);
    if (!rec->chan || !t.onset || !ab) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < ns; i++) {
        if (lay->annot[i])
            continue;
        vbt_rec_channel *c = &rec->chan[k++];
        double pmin, pmax, dmin, dmax;
        static const char *const names[] = {"physical minimum", "physical maximum",
                                            "digital minimum", "digital maximum"};
        double *v[] = {&pmin, &pmax, &dmin, &dmax};
        for (int f = 0; f < 4; f++)
            if (field_num(sg + ns * (104 + 8 * (size_t)f) + i * 8, 8, v[f])) {
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': signal %zu %s is not a number", path,
                               i + 1, names[f]);
                goto out;
            }
        long lim = bdf ? 8388608L : 32768L;
        if (dmin != floor(dmin) || dmax != floor(dmax) || dmin < -lim || dmax > lim - 1 ||
            !(dmax > dmin) || pmax == pmin) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': signal %zu: digital range [%g, %g] or physical range [%g, %g] "
                           "is invalid", path, i + 1, dmin, dmax, pmin, pmax);
            goto out;
        }
        trim_copy(c->label, sizeof c->label, (const char *)sg + i * 16, 16);
        trim_copy(c->unit, sizeof c->unit, (const char *)sg + ns * 96 + i * 8, 8);
        guess_type(c->label, c->type);
        guess_group(c->label, c->group);
        c->fs_hz = (double)lay->spr[i] / rec_s;
        c->n_samples = (int64_t)(lay->spr[i] * lay->n_rec);
        c->phys_min = pmin;
        c->phys_max = pmax;
        c->dig_min = (int)dmin;
        c->dig_max = (int)dmax;
        c->file_signal = i;
        for (int q = 0; q < 3; q++)
            c->xyz[q] = NAN;
        vbt__sig_io *io = &rec->io[i];
        io->spr = lay->spr[i];
        io->off = lay->off[i];
        io->pmin = pmin;
        io->dmin = (int)dmin;
        io->gain = (pmax - pmin) / (dmax - dmin);
    }
    for (size_t r = 0; r < lay->n_rec; r++) {
        t.record = r;
        t.have_time = 0;
        for (size_t i = 0; i < ns; i++) {
            if (!lay->annot[i])
                continue;
            size_t nb = lay->spr[i] * lay->bps;
            off_t at = (off_t)(lay->hdr_bytes + r * lay->rec_bytes + lay->off[i]);
            if (pread(rec->fd, ab, nb, at) != (ssize_t)nb) {
                rc = vbt__fail(msg, VBT_EIO, "'%s': read error in data record %zu", path, r + 1);
                goto out;
            }
            if ((rc = vbt__tal_parse(ab, nb, r, tal_cb, &t, msg)) != VBT_OK) {
                char why[VBT_MSG_LEN];
                snprintf(why, sizeof why, "%s", msg ? msg->text : "malformed annotation");
                rc = vbt__fail(msg, rc, "'%s': %s", path, why);
                goto out;
            }
        }
        if (!t.have_time) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': data record %zu has no time-keeping annotation", path, r + 1);
            goto out;
        }
        if (r > 0 && !(t.onset[r] >= t.onset[r - 1] + rec_s - 1e-7)) {
            rc = vbt__fail(msg, VBT_EFORMAT,
                           "'%s': data record %zu starts at %g s, before the end of record %zu "
                           "(%g s)", path, r + 1, t.onset[r], r, t.onset[r - 1] + rec_s);
            goto out;
        }
    }
    /* the first record's time is the sub-second part of the start */
    double t0 = t.onset[0];
    if (t0 >= 0 && t0 < 1)
        rec->start.subsecond = t0;
    for (size_t i = 0; i < rec->n_ann; i++)
        rec->ann[i].onset_s -= t0;
    int gaps = 0;
    for (size_t r = 0; r < lay->n_rec; r++) {
        t.onset[r] -= t0;
        gaps |= fabs(t.onset[r] - (double)r * rec_s) > 1e-7;
    }
    rec->duration_s = t.onset[lay->n_rec - 1] + rec_s;
    if (gaps) {
        rec->rec_onset = t.onset;
        t.onset = NULL;
    }
    for (size_t i = 0; i < rec->n_ann; i++)
        if (vbt__is_seizure_text(rec->ann[i].text)) {
            rec->sz_onset = rec->ann[i].onset_s;
            rec->sz_offset = rec->ann[i].duration_s > 0
                                 ? rec->ann[i].onset_s + rec->ann[i].duration_s
                                 : NAN;
            break;
        }
out:
    free(t.onset);
    free(ab);
    free(h);
    return rc;
}

static int edf_open(vbt_recording **out, const char *path, vbt_msg *msg)
{
    struct edf_hdr_struct *hdr = NULL;
    vbt_recording *rec = NULL;
    layout lay = {0};
    int rc, handle = -1;

    if (!out || !path)
        return vbt__fail(msg, VBT_EINVAL, "recording: NULL argument");
    *out = NULL;
    if ((rc = check_header(path, &lay, msg)) != VBT_OK) {
        layout_free(&lay);
        return rc;
    }
    rec = calloc(1, sizeof *rec);
    hdr = calloc(1, sizeof *hdr);
    if (!rec || !hdr || !(rec->path = strdup(path)) ||
        !(rec->io = calloc(lay.ns, sizeof *rec->io))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    rec->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rec->fd < 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
        goto fail;
    }
    rec->fmt = &fmt_edf;
    rec->bps = lay.bps;
    rec->hdr_bytes = lay.hdr_bytes;
    rec->rec_bytes = lay.rec_bytes;
    rec->n_rec = lay.n_rec;
    rec->sz_onset = rec->sz_offset = NAN;

    pthread_mutex_lock(&edf_lock);
    int er = edfopen_file_readonly(path, hdr, EDFLIB_READ_ALL_ANNOTATIONS);
    pthread_mutex_unlock(&edf_lock);
    if (er != 0 && lay.plus && lay.n_rec > 0 &&
        (hdr->filetype == EDFLIB_FILE_IS_DISCONTINUOUS ||
         hdr->filetype == EDFLIB_FILE_CONTAINS_FORMAT_ERRORS)) {
        if ((rc = edf_open_native(rec, path, &lay, msg)) != VBT_OK)
            goto fail;
        free(hdr);
        layout_free(&lay);
        *out = rec;
        return VBT_OK;
    }
    if (er != 0) {
        rc = vbt__fail(msg, hdr->filetype == EDFLIB_NO_SUCH_FILE_OR_DIRECTORY ||
                                    hdr->filetype == EDFLIB_FILE_READ_ERROR
                                ? VBT_EIO
                                : VBT_EFORMAT,
                       "'%s': %s", path, edflib_error(hdr->filetype));
        goto fail;
    }
    handle = hdr->handle;

    /* EDF+D is recognised from the reserved field, which EDFlib does not keep. */
    {
        int discont = 0;
        FILE *f = fopen(path, "rb");
        unsigned char res[5] = {0};
        if (f) {
            if (fseek(f, 192, SEEK_SET) == 0 && fread(res, 1, 5, f) == 5)
                discont = res[4] == 'D';
            fclose(f);
        }
        const char *base = hdr->filetype == EDFLIB_FILETYPE_BDF ||
                                   hdr->filetype == EDFLIB_FILETYPE_BDFPLUS
                               ? "BDF"
                               : "EDF";
        int plus = hdr->filetype == EDFLIB_FILETYPE_EDFPLUS ||
                   hdr->filetype == EDFLIB_FILETYPE_BDFPLUS;
        snprintf(rec->format, sizeof rec->format, "%s%s", base,
                 plus ? (discont ? "+D" : "+C") : "");
    }
    rec->duration_s = (double)hdr->file_duration / (double)EDFLIB_TIME_DIMENSION;
    rec->record_s = (double)hdr->datarecord_duration / (double)EDFLIB_TIME_DIMENSION;
    rec->start = (vbt_datetime){hdr->startdate_year, hdr->startdate_month, hdr->startdate_day,
                                hdr->starttime_hour, hdr->starttime_minute,
                                hdr->starttime_second,
                                (double)hdr->starttime_subsecond / EDFLIB_TIME_DIMENSION};
    rec->n_chan = (size_t)hdr->edfsignals;
    rec->chan = calloc(rec->n_chan ? rec->n_chan : 1, sizeof *rec->chan);
    if (!rec->chan) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    size_t fsig = 0;
    int plus = hdr->filetype == EDFLIB_FILETYPE_EDFPLUS || hdr->filetype == EDFLIB_FILETYPE_BDFPLUS;
    for (size_t i = 0; i < rec->n_chan; i++) {
        const struct edf_param_struct *s = &hdr->signalparam[i];
        vbt_rec_channel *c = &rec->chan[i];
        while (fsig < lay.ns && plus && lay.annot[fsig])
            fsig++;
        if (fsig >= lay.ns || lay.spr[fsig] != (size_t)s->smp_in_datarecord) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': signal layout differs from EDFlib's", path);
            goto fail;
        }
        vbt__sig_io *io = &rec->io[fsig];
        io->spr = lay.spr[fsig];
        io->off = lay.off[fsig];
        io->pmin = s->phys_min;
        io->dmin = s->dig_min;
        io->gain = (s->phys_max - s->phys_min) / (double)(s->dig_max - s->dig_min);
        trim_copy(c->label, sizeof c->label, s->label, strlen(s->label));
        trim_copy(c->unit, sizeof c->unit, s->physdimension, strlen(s->physdimension));
        guess_type(c->label, c->type);
        guess_group(c->label, c->group);
        c->n_samples = s->smp_in_file;
        c->fs_hz = rec->record_s > 0 ? s->smp_in_datarecord / rec->record_s : 0.0;
        c->phys_min = s->phys_min;
        c->phys_max = s->phys_max;
        c->dig_min = s->dig_min;
        c->dig_max = s->dig_max;
        c->file_signal = fsig++;
        for (int k = 0; k < 3; k++)
            c->xyz[k] = NAN;
    }
    for (long long i = 0; i < hdr->annotations_in_file; i++) {
        struct edf_annotation_struct a;
        pthread_mutex_lock(&edf_lock);
        int ar = edf_get_annotation(handle, (int)i, &a);
        pthread_mutex_unlock(&edf_lock);
        if (ar != 0) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': cannot read annotation %lld", path, i + 1);
            goto fail;
        }
        double dur = a.duration_l < 0 ? -1.0 : (double)a.duration_l / EDFLIB_TIME_DIMENSION;
        if (vbt__rec_add_annotation(rec, (double)a.onset / EDFLIB_TIME_DIMENSION, dur,
                                    a.annotation)) {
            rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
            goto fail;
        }
    }
    for (size_t i = 0; i < rec->n_ann; i++)
        if (vbt__is_seizure_text(rec->ann[i].text)) {
            rec->sz_onset = rec->ann[i].onset_s;
            rec->sz_offset = rec->ann[i].duration_s > 0
                                 ? rec->ann[i].onset_s + rec->ann[i].duration_s
                                 : NAN;
            break;
        }
    pthread_mutex_lock(&edf_lock);
    edfclose_file(handle);
    pthread_mutex_unlock(&edf_lock);
    free(hdr);
    layout_free(&lay);
    *out = rec;
    return VBT_OK;

fail:
    if (handle >= 0) {
        pthread_mutex_lock(&edf_lock);
        edfclose_file(handle);
        pthread_mutex_unlock(&edf_lock);
    }
    free(hdr);
    layout_free(&lay);
    vbt_recording_free(rec);
    return rc;
}

/* ---- the format table ------------------------------------------------------------ */

static int sniff_edf(const unsigned char *h, size_t n)
{
    return (n >= 8 && memcmp(h, "0       ", 8) == 0) ||
           (n >= 8 && h[0] == 0xff && memcmp(h + 1, "BIOSEMI", 7) == 0);
}

static int open_edf_fmt(vbt_recording *rec, const char *path, vbt_msg *msg)
{
    (void)rec;
    (void)path;
    (void)msg;
    return VBT_EINVAL; /* never called: EDF is opened by edf_open(), below */
}

/* EDF and BDF: EDFlib, with the header checked first, and EDF+ parsed here
 * when EDFlib refuses it (EDF+D, annotations it rejects). */
static const vbt__rec_format fmt_edf = {
    .name = "EDF/BDF",
    .extensions = ".edf .bdf .rec",
    .sniff = sniff_edf,
    .open = open_edf_fmt,
};

static int has_ext(const char *path, const char *exts)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return 0;
    size_t n = strlen(dot);
    for (const char *e = exts; *e;) {
        while (*e == ' ')
            e++;
        size_t k = strcspn(e, " ");
        if (k && k == n && strncasecmp(e, dot, n) == 0)
            return 1;
        e += k;
    }
    return 0;
}

/* Open with one back end of the format table. */
static int open_format(vbt_recording **out, const vbt__rec_format *fm, const char *path,
                       vbt_msg *msg)
{
    vbt_recording *rec = calloc(1, sizeof *rec);
    if (!rec || !(rec->path = strdup(path))) {
        free(rec);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    }
    rec->fd = -1;
    rec->fmt = fm;
    rec->sz_onset = rec->sz_offset = NAN;
    int rc = fm->open(rec, path, msg);
    if (rc) {
        vbt_recording_free(rec);
        return rc;
    }
    *out = rec;
    return VBT_OK;
}

/* Replace each byte of s that does not start a valid UTF-8 sequence by
 * U+FFFD and each control character by a space; NULL on ENOMEM. */
static char *utf8_repair(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *o = malloc(3 * n + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (len == 1) {
            o[k++] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
            i++;
        } else if (len <= n - i && vbt_utf8_valid(s + i, len, NULL)) {
            memcpy(o + k, s + i, len);
            k += len;
            i += len;
        } else {
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    o[k] = '\0';
    return o;
}

/* Texts that reach JSON, HTML and SVG must be UTF-8: a channel label or
 * unit that is not valid UTF-8, or that holds a control character, makes
 * the file refused (the message names the channel by number, never quotes
 * the bytes); an annotation text is repaired (utf8_repair). */
int vbt__rec_check_text(vbt_recording *rec, vbt_msg *msg)
{
    for (size_t i = 0; i < rec->n_chan; i++) {
        const vbt_rec_channel *c = &rec->chan[i];
        const char *f[] = {c->label, c->unit, c->type, c->group};
        const char *name[] = {"label", "unit", "type", "group"};
        for (size_t k = 0; k < 4; k++) {
            size_t n = strlen(f[k]);
            int ctl = 0;
            for (size_t j = 0; j < n; j++)
                ctl |= (unsigned char)f[k][j] < 0x20 || f[k][j] == 0x7F;
            if (ctl || !vbt_utf8_valid(f[k], n, NULL))
                return vbt__fail(msg, VBT_EFORMAT,
                                 "'%s': channel %zu: the %s is not valid UTF-8 text (it would "
                                 "corrupt JSON, HTML and SVG outputs)", rec->path, i + 1,
                                 name[k]);
        }
    }
    for (size_t i = 0; i < rec->n_ann; i++) {
        const char *t = rec->ann[i].text;
        size_t n = strlen(t);
        int ctl = 0;
        for (size_t j = 0; j < n; j++)
            ctl |= (unsigned char)t[j] < 0x20 || t[j] == 0x7F;
        if (!ctl && vbt_utf8_valid(t, n, NULL))
            continue;
        char *r = utf8_repair(t);
        if (!r)
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", rec->path);
        free(rec->ann[i].text);
        rec->ann[i].text = r;
    }
    return VBT_OK;
}

static int open_any(vbt_recording **out, const char *path, vbt_msg *msg)
{
    unsigned char head[64] = {0};
    size_t got = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        got = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    /* EDF/BDF first: its own checks give the messages for a broken EDF */
    if (sniff_edf(head, got) || has_ext(path, fmt_edf.extensions))
        return edf_open(out, path, msg);
    const vbt__rec_format *bv = &vbt__fmt_brainvision;
    if (bv->sniff(head, got) || has_ext(path, bv->extensions))
        return open_format(out, bv, path, msg);
    for (size_t i = 0; vbt__biosig_formats[i]; i++) {
        const vbt__rec_format *fm = vbt__biosig_formats[i];
        if (fm->sniff(head, got) || has_ext(path, fm->extensions))
            return open_format(out, fm, path, msg);
    }
    /* unknown: the EDF reader says what is wrong (missing file, not EDF) */
    return edf_open(out, path, msg);
}

int vbt_recording_open(vbt_recording **out, const char *path, vbt_msg *msg)
{
    if (!out || !path)
        return vbt__fail(msg, VBT_EINVAL, "recording: NULL argument");
    *out = NULL;
    vbt_recording *rec = NULL;
    int rc = open_any(&rec, path, msg);
    if (rc)
        return rc;
    if ((rc = vbt__rec_check_text(rec, msg))) {
        vbt_recording_free(rec);
        return rc;
    }
    *out = rec;
    return VBT_OK;
}

size_t vbt_recording_n_gaps(const vbt_recording *rec)
{
    size_t n = 0;
    if (!rec->rec_onset)
        return 0;
    for (size_t r = 1; r < rec->n_rec; r++)
        n += rec->rec_onset[r] > rec->rec_onset[r - 1] + rec->record_s + 1e-7;
    return n;
}

int vbt_recording_gap(const vbt_recording *rec, size_t i, double *start_s, double *end_s)
{
    size_t n = 0;
    for (size_t r = 1; rec->rec_onset && r < rec->n_rec; r++) {
        double end = rec->rec_onset[r - 1] + rec->record_s;
        if (rec->rec_onset[r] > end + 1e-7 && n++ == i) {
            *start_s = end;
            *end_s = rec->rec_onset[r];
            return VBT_OK;
        }
    }
    return VBT_ERANGE;
}

void vbt_recording_free(vbt_recording *rec)
{
    if (!rec)
        return;
    if (rec->close)
        rec->close(rec);
    free(rec->rec_onset);
    free(rec->breaks);
    free(rec->companion[0]);
    free(rec->companion[1]);
    if (rec->fd > 0)
        close(rec->fd);
    free(rec->io);
    for (size_t i = 0; i < rec->n_ann; i++)
        free(rec->ann[i].text);
    free(rec->ann);
    free(rec->chan);
    free(rec->path);
    free(rec);
}

/* ---- getters --------------------------------------------------------------------- */

const char *vbt_recording_errmsg(const vbt_recording *rec)
{
    return rec ? rec->err.text : "";
}
const char *vbt_recording_path(const vbt_recording *rec) { return rec->path; }

const char *vbt_recording_companion(const vbt_recording *rec, size_t i, const char **role)
{
    if (i >= 2 || !rec->companion[i])
        return NULL;
    if (role)
        *role = rec->companion_role[i];
    return rec->companion[i];
}
const char *vbt_recording_format(const vbt_recording *rec) { return rec->format; }
double vbt_recording_duration_s(const vbt_recording *rec) { return rec->duration_s; }
double vbt_recording_record_s(const vbt_recording *rec) { return rec->record_s; }
vbt_datetime vbt_recording_start(const vbt_recording *rec) { return rec->start; }
size_t vbt_recording_n_channels(const vbt_recording *rec) { return rec->n_chan; }
const char *vbt_recording_coord_system(const vbt_recording *rec) { return rec->coord_system; }

const vbt_rec_channel *vbt_recording_channel(const vbt_recording *rec, size_t i)
{
    return i < rec->n_chan ? &rec->chan[i] : NULL;
}

size_t vbt_recording_n_annotations(const vbt_recording *rec) { return rec->n_ann; }

const vbt_annotation *vbt_recording_annotation(const vbt_recording *rec, size_t i)
{
    return i < rec->n_ann ? &rec->ann[i] : NULL;
}

int vbt_recording_seizure(const vbt_recording *rec, double *onset_s, double *offset_s)
{
    if (onset_s)
        *onset_s = rec->sz_onset;
    if (offset_s)
        *offset_s = rec->sz_offset;
    return isnan(rec->sz_onset) ? VBT_ENOTFOUND : VBT_OK;
}

void vbt_recording_set_seizure(vbt_recording *rec, double onset_s, double offset_s)
{
    rec->sz_onset = onset_s;
    rec->sz_offset = offset_s;
}

int vbt_recording_find_channel(vbt_recording *rec, const char *label, size_t *index)
{
    if (!label)
        return vbt__fail(&rec->err, VBT_EINVAL, "'%s': NULL channel label", rec->path);
    for (size_t i = 0; i < rec->n_chan; i++)
        if (strcmp(rec->chan[i].label, label) == 0) {
            *index = i;
            return VBT_OK;
        }
    for (size_t i = 0; i < rec->n_chan; i++)
        if (vbt__label_eq(rec->chan[i].label, label)) {
            *index = i;
            return VBT_OK;
        }
    return vbt__fail(&rec->err, VBT_ENOTFOUND, "'%s': no channel '%s'", rec->path, label);
}

/* ---- samples ------------------------------------------------------------------------ */

int vbt_recording_read(vbt_recording *rec, size_t ch, int64_t first, size_t n, double *out)
{
    if (ch >= rec->n_chan)
        return vbt__fail(&rec->err, VBT_ERANGE, "'%s': channel %zu out of range (%zu channels)",
                         rec->path, ch, rec->n_chan);
    const vbt_rec_channel *c = &rec->chan[ch];
    if (first < 0 || (uint64_t)first > (uint64_t)c->n_samples ||
        n > (uint64_t)(c->n_samples - first))
        return vbt__fail(&rec->err, VBT_ERANGE,
                         "'%s': channel '%s': samples [%lld, %lld) outside [0, %lld)",
                         rec->path, c->label, (long long)first, (long long)first + (long long)n,
                         (long long)c->n_samples);
    if (rec->read)
        return rec->read(rec, ch, first, n, out);
    const vbt__sig_io *io = &rec->io[c->file_signal];
    const size_t bps = (size_t)rec->bps;
    unsigned char buf[8192];
    size_t done = 0;
    uint64_t pos = (uint64_t)first;
    while (done < n) {
        uint64_t r = pos / io->spr;
        size_t j = (size_t)(pos % io->spr);
        size_t take = io->spr - j;
        if (take > n - done)
            take = n - done;
        if (take > sizeof buf / bps)
            take = sizeof buf / bps;
        off_t at = (off_t)(rec->hdr_bytes + r * rec->rec_bytes + io->off + j * bps);
        ssize_t got = pread(rec->fd, buf, take * bps, at);
        if (got != (ssize_t)(take * bps))
            return vbt__fail(&rec->err, VBT_EIO, "'%s': channel '%s': read error at sample %llu",
                             rec->path, c->label, (unsigned long long)pos);
        double *o = out + done;
        if (bps == 2) {
            for (size_t i = 0; i < take; i++) {
                int d = (int16_t)(uint16_t)(buf[2 * i] | buf[2 * i + 1] << 8);
                o[i] = io->pmin + (double)(d - io->dmin) * io->gain;
            }
        } else {
            for (size_t i = 0; i < take; i++) {
                const unsigned char *b = buf + 3 * i;
                int32_t d = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16);
                if (d & 0x800000)
                    d -= 0x1000000;
                o[i] = io->pmin + (double)(d - io->dmin) * io->gain;
            }
        }
        done += take;
        pos += take;
    }
    return VBT_OK;
}

/* First sample of channel c at or after time t (s) on an EDF+D time axis:
 * record r holds the samples of [onset[r], onset[r] + record_s). */
static int64_t sample_at(const vbt_recording *rec, size_t spr, double fs, double t)
{
    for (size_t r = 0; r < rec->n_rec; r++) {
        double o = rec->rec_onset[r];
        if (t <= o)
            return (int64_t)(r * spr);
        if (t < o + rec->record_s) {
            double k = ceil((t - o) * fs - 1e-9);
            return (int64_t)(r * spr) + (int64_t)(k < (double)spr ? k : (double)spr);
        }
    }
    return (int64_t)(rec->n_rec * spr);
}

static int window_gaps(vbt_recording *rec, size_t ch, double t0_s, double t1_s,
                       int64_t *first, size_t *n)
{
    const vbt_rec_channel *c = &rec->chan[ch];
    size_t spr = rec->io[c->file_signal].spr;
    int64_t a = sample_at(rec, spr, c->fs_hz, t0_s), b = sample_at(rec, spr, c->fs_hz, t1_s);
    if (b <= a)
        return vbt__fail(&rec->err, VBT_ERANGE,
                         "'%s': window [%g, %g) s is empty, outside the recording (0 to %g s) "
                         "or inside one of its gaps", rec->path, t0_s, t1_s, rec->duration_s);
    for (size_t r = (size_t)a / spr + 1; r <= (size_t)(b - 1) / spr; r++) {
        double end = rec->rec_onset[r - 1] + rec->record_s;
        if (rec->rec_onset[r] > end + 1e-7)
            return vbt__fail(&rec->err, VBT_ERANGE,
                             "'%s': window [%g, %g) s crosses a gap in the recording (EDF+D: "
                             "no data from %g to %g s)", rec->path, t0_s, t1_s, end,
                             rec->rec_onset[r]);
    }
    *first = a;
    *n = (size_t)(b - a);
    return VBT_OK;
}

int vbt_recording_window(vbt_recording *rec, size_t ch, double t0_s, double t1_s,
                         int64_t *first, size_t *n)
{
    if (ch >= rec->n_chan)
        return vbt__fail(&rec->err, VBT_ERANGE, "'%s': channel %zu out of range", rec->path, ch);
    const vbt_rec_channel *c = &rec->chan[ch];
    if (isnan(t0_s) || isnan(t1_s))
        return vbt__fail(&rec->err, VBT_EINVAL, "'%s': window bound is NaN", rec->path);
    if (rec->rec_onset && rec->io)
        return window_gaps(rec, ch, t0_s, t1_s, first, n);
    double a = ceil(t0_s * c->fs_hz - 1e-9), b = ceil(t1_s * c->fs_hz - 1e-9);
    if (a < 0)
        a = 0;
    if (b > (double)c->n_samples)
        b = (double)c->n_samples;
    if (b <= a)
        return vbt__fail(&rec->err, VBT_ERANGE,
                         "'%s': window [%g, %g) s is empty or outside the recording (0 to %g s)",
                         rec->path, t0_s, t1_s, rec->duration_s);
    for (size_t k = 0; k < rec->n_breaks; k++)
        if (rec->breaks[k] > (int64_t)a && rec->breaks[k] < (int64_t)b)
            return vbt__fail(&rec->err, VBT_ERANGE,
                             "'%s': window [%g, %g) s crosses a discontinuity of the recording "
                             "(a new segment starts at %g s)", rec->path, t0_s, t1_s,
                             (double)rec->breaks[k] / c->fs_hz);
    *first = (int64_t)a;
    *n = (size_t)(b - a);
    return VBT_OK;
}

/* ---- writer ---------------------------------------------------------------------------- */

struct vbt_edf_writer {
    int handle;
    char *path, *tmp;
    size_t n_ch, fs;
    double pmin, pmax;
    double *clip;
};

int vbt_edf_writer_open(vbt_edf_writer **out, const char *path, const vbt_edf_spec *spec,
                        int overwrite, vbt_msg *msg)
{
    if (!out || !path || !spec || !spec->labels)
        return vbt__fail(msg, VBT_EINVAL, "edf writer: NULL argument");
    *out = NULL;
    if (spec->n_channels < 1 || spec->n_channels > EDFLIB_MAXSIGNALS - 1)
        return vbt__fail(msg, VBT_EINVAL, "'%s': %zu channels (1 to %d)", path,
                         spec->n_channels, EDFLIB_MAXSIGNALS - 1);
    if (!(spec->fs_hz >= 1) || spec->fs_hz != floor(spec->fs_hz) || spec->fs_hz > 1e6)
        return vbt__fail(msg, VBT_EINVAL, "'%s': sampling rate %g Hz is not a positive integer",
                         path, spec->fs_hz);
    if (!(spec->phys_max > spec->phys_min))
        return vbt__fail(msg, VBT_EINVAL, "'%s': physical range [%g, %g] is empty", path,
                         spec->phys_min, spec->phys_max);
    if (!overwrite && access(path, F_OK) == 0)
        return vbt__fail(msg, VBT_EEXIST, "'%s' exists (not overwritten)", path);
    vbt_edf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    w->handle = -1;
    w->n_ch = spec->n_channels;
    w->fs = (size_t)spec->fs_hz;
    w->pmin = spec->phys_min;
    w->pmax = spec->phys_max;
    size_t tl = strlen(path) + 32;
    w->path = strdup(path);
    w->tmp = malloc(tl);
    w->clip = malloc(w->fs * sizeof *w->clip);
    if (!w->path || !w->tmp || !w->clip) {
        vbt_edf_writer_abort(w);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    }
    snprintf(w->tmp, tl, "%s.tmp%ld", path, (long)getpid());
    int dmax = spec->bdf ? 8388607 : 32767, dmin = spec->bdf ? -8388608 : -32768;
    int st = 0;
    pthread_mutex_lock(&edf_lock);
    w->handle = edfopen_file_writeonly(w->tmp, spec->bdf ? EDFLIB_FILETYPE_BDFPLUS
                                                         : EDFLIB_FILETYPE_EDFPLUS,
                                       (int)w->n_ch);
    for (size_t c = 0; w->handle >= 0 && c < w->n_ch && st == 0; c++) {
        int s = (int)c;
        st |= edf_set_samplefrequency(w->handle, s, (int)w->fs);
        st |= edf_set_physical_maximum(w->handle, s, w->pmax);
        st |= edf_set_physical_minimum(w->handle, s, w->pmin);
        st |= edf_set_digital_maximum(w->handle, s, dmax);
        st |= edf_set_digital_minimum(w->handle, s, dmin);
        st |= edf_set_label(w->handle, s, spec->labels[c] ? spec->labels[c] : "");
        st |= edf_set_physical_dimension(w->handle, s, spec->unit ? spec->unit : "uV");
    }
    /* a fixed start keeps the bytes of a synthetic file reproducible */
    if (w->handle >= 0 && st == 0)
        st |= edf_set_startdatetime(w->handle, 2000, 1, 1, 0, 0, 0);
    pthread_mutex_unlock(&edf_lock);
    if (w->handle < 0 || st) {
        int h = w->handle;
        vbt_edf_writer_abort(w);
        return vbt__fail(msg, VBT_EIO, "'%s': cannot create the EDF file (%s)", path,
                         h < 0 ? edflib_error(h) : "invalid signal parameters");
    }
    *out = w;
    return VBT_OK;
}

int vbt_edf_writer_append(vbt_edf_writer *w, const double *data, vbt_msg *msg)
{
    int st = 0;
    pthread_mutex_lock(&edf_lock);
    for (size_t c = 0; c < w->n_ch && st == 0; c++) {
        for (size_t i = 0; i < w->fs; i++) {
            double v = data[c * w->fs + i];
            w->clip[i] = v < w->pmin ? w->pmin : v > w->pmax ? w->pmax : v;
        }
        st = edfwrite_physical_samples(w->handle, w->clip);
    }
    pthread_mutex_unlock(&edf_lock);
    if (st)
        return vbt__fail(msg, VBT_EIO, "'%s': write error", w->path);
    return VBT_OK;
}

int vbt_edf_writer_annotate(vbt_edf_writer *w, double onset_s, double duration_s,
                            const char *text, vbt_msg *msg)
{
    long long on = llround(onset_s * 10000.0);  /* EDFlib takes units of 0.1 ms */
    long long du = duration_s < 0 ? -1 : llround(duration_s * 10000.0);
    pthread_mutex_lock(&edf_lock);
    int st = edfwrite_annotation_utf8(w->handle, on, du, text ? text : "");
    pthread_mutex_unlock(&edf_lock);
    if (st)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot add annotation", w->path);
    return VBT_OK;
}

int vbt_edf_writer_close(vbt_edf_writer *w, vbt_msg *msg)
{
    pthread_mutex_lock(&edf_lock);
    int st = edfclose_file(w->handle);
    pthread_mutex_unlock(&edf_lock);
    w->handle = -1;
    if (st || rename(w->tmp, w->path) != 0) {
        int rc = vbt__fail(msg, VBT_EIO, "'%s': cannot finish the EDF file", w->path);
        vbt_edf_writer_abort(w);
        return rc;
    }
    free(w->tmp);
    w->tmp = NULL;
    vbt_edf_writer_abort(w);
    return VBT_OK;
}

void vbt_edf_writer_abort(vbt_edf_writer *w)
{
    if (!w)
        return;
    if (w->handle >= 0) {
        pthread_mutex_lock(&edf_lock);
        edfclose_file(w->handle);
        pthread_mutex_unlock(&edf_lock);
    }
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->clip);
    free(w);
}
