/* recording_biosig.c -- the formats read through libbiosig: BrainVision
 * (.vhdr), Micromed (.trc), Nihon Kohden (.eeg), GDF.
 *
 * libbiosig opens a file, parses its header and event table, and reads
 * data in blocks of SPR samples of every channel (physical values, one
 * column per channel).  Its handle is not thread-safe: every call into it
 * is made under one lock, and the last block range read is kept so that a
 * montage reading its channels one after the other over the same window
 * decodes the file once.  Every channel is presented at the file's common
 * sampling rate (libbiosig's sread() returns all channels at that rate).
 *
 * Privacy: the patient fields libbiosig parses (name, birth date, id) are
 * never copied out of its handle. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <biosig.h>
#include <biosig-dev.h> /* CHANNEL_TYPE's fields: biosig_channel_get_scaling() of
                           libbiosig 2.5 returns the physical minimum as the maximum */

#include "recording_internal.h"

static pthread_mutex_t biosig_lock = PTHREAD_MUTEX_INITIALIZER;

/* Largest block read at once (doubles of all channels): 64 MiB. */
#define CHUNK_VALUES (8u << 20)

typedef struct biosig_state {
    HDRTYPE *hdr;
    size_t spr, n_blocks, n_cols;
    size_t c_first, c_n;          /* cached block range, c_n == 0: none */
    const double *c_data;         /* libbiosig's buffer, rows x n_cols, column-major */
    size_t c_rows;
} biosig_state;

static void biosig_close(vbt_recording *rec)
{
    biosig_state *b = rec->be;
    if (!b)
        return;
    pthread_mutex_lock(&biosig_lock);
    if (b->hdr) {
        sclose(b->hdr);
        destructHDR(b->hdr);
    }
    pthread_mutex_unlock(&biosig_lock);
    free(b);
    rec->be = NULL;
}

static int biosig_read(vbt_recording *rec, size_t ch, int64_t first, size_t n, double *out)
{
    biosig_state *b = rec->be;
    size_t col = rec->chan[ch].file_signal;
    size_t max_blocks = CHUNK_VALUES / (b->spr * b->n_cols);
    if (max_blocks < 1)
        max_blocks = 1;
    int rc = VBT_OK;
    pthread_mutex_lock(&biosig_lock);
    size_t done = 0;
    while (done < n) {
        size_t pos = (size_t)first + done;
        size_t blk = pos / b->spr;
        if (!(b->c_n && blk >= b->c_first && blk < b->c_first + b->c_n)) {
            size_t want = (pos + (n - done) + b->spr - 1) / b->spr - blk;
            if (want > max_blocks)
                want = max_blocks;
            b->c_n = 0;
            biosig_reset_flag(b->hdr, BIOSIG_FLAG_ROW_BASED_CHANNELS | BIOSIG_FLAG_UCAL |
                                          BIOSIG_FLAG_OVERFLOWDETECTION);
            size_t got = sread(NULL, blk, want, b->hdr);
            biosig_data_type *d = NULL;
            size_t rows = 0, cols = 0;
            if (got < 1 || biosig_get_datablock(b->hdr, &d, &rows, &cols) || !d ||
                cols != b->n_cols || rows < got * b->spr) {
                rc = vbt__fail(&rec->err, VBT_EIO, "'%s': channel '%s': read error at sample %zu",
                               rec->path, rec->chan[ch].label, pos);
                break;
            }
            b->c_first = blk;
            b->c_n = got;
            b->c_data = d;
            b->c_rows = rows;
        }
        size_t i0 = pos - b->c_first * b->spr;
        size_t avail = b->c_n * b->spr - i0;
        size_t take = avail < n - done ? avail : n - done;
        const double *src = b->c_data + col * b->c_rows + i0;
        memcpy(out + done, src, take * sizeof *out);
        done += take;
    }
    pthread_mutex_unlock(&biosig_lock);
    return rc;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t a = 0, n = src ? strlen(src) : 0;
    while (a < n && src[a] == ' ')
        a++;
    while (n > a && src[n - 1] == ' ')
        n--;
    size_t k = n - a < cap - 1 ? n - a : cap - 1;
    if (k)
        memcpy(dst, src + a, k);
    dst[k] = '\0';
}

/* BrainVision: what libbiosig 2.5 does not check itself (it opens a header
 * whose data file is missing, and reads out of bounds when the channel
 * count and the channel lines disagree).  Gives the channel count and the
 * samples per channel the data file holds. */
static int check_brainvision(const char *path, long *n_ch, size_t *n_smp, vbt_msg *msg)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
    char *text = calloc(1, (1u << 20) + 1);
    size_t got = text ? fread(text, 1, 1u << 20, f) : 0;
    fclose(f);
    if (!text)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    int rc = VBT_OK;
    long nch = -1, lines = 0, bps = 0, binary = 0;
    char data[1024] = "";
    int in_chan = 0;
    for (char *line = text, *next; line && line < text + got; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if (line[0] == '[')
            in_chan = strncmp(line, "[Channel Infos]", 15) == 0;
        else if (strncmp(line, "DataFile=", 9) == 0)
            snprintf(data, sizeof data, "%s", line + 9);
        else if (strncmp(line, "NumberOfChannels=", 17) == 0)
            nch = strtol(line + 17, NULL, 10);
        else if (strncmp(line, "DataFormat=", 11) == 0)
            binary = strcmp(line + 11, "BINARY") == 0;
        else if (strncmp(line, "BinaryFormat=", 13) == 0)
            bps = !strcmp(line + 13, "INT_16") || !strcmp(line + 13, "UINT_16") ? 2
                  : !strcmp(line + 13, "INT_32") || !strcmp(line + 13, "IEEE_FLOAT_32") ? 4
                                                                                          : -1;
        else if (in_chan && line[0] == 'C' && line[1] == 'h' && strtol(line + 2, NULL, 10) ==
                                                                  lines + 1)
            lines++;
    }
    free(text);
    if (nch < 1 || nch > 65535 || lines != nch)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': NumberOfChannels is %ld but [Channel Infos] "
                         "lists %ld channels Ch1, Ch2, ...", path, nch, lines);
    if (!binary || bps <= 0)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': only DataFormat=BINARY with BinaryFormat "
                         "INT_16, UINT_16, INT_32 or IEEE_FLOAT_32 is read", path);
    if (!data[0] || strchr(data, '/'))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': DataFile is missing or not a plain file name",
                         path);
    char full[4096 + 1024];
    const char *slash = strrchr(path, '/');
    snprintf(full, sizeof full, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, data);
    struct stat st;
    if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
        return vbt__fail(msg, VBT_EIO, "'%s': its DataFile '%s' is not there", path, data);
    size_t frame = (size_t)nch * (size_t)bps;
    if (st.st_size <= 0 || (size_t)st.st_size % frame)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': DataFile '%s' has %lld bytes, not a whole "
                         "number of %zu-byte samples of %ld channels", path, data,
                         (long long)st.st_size, frame, nch);
    *n_ch = nch;
    *n_smp = (size_t)st.st_size / frame;
    return rc;
}

static int biosig_open_as(vbt_recording *rec, const char *path, const char *fmt_name,
                          vbt_msg *msg)
{
    long bv_ch = -1;
    size_t bv_smp = 0;
    if (strcmp(fmt_name, "BrainVision") == 0) {
        int r = check_brainvision(path, &bv_ch, &bv_smp, msg);
        if (r)
            return r;
    }
    biosig_state *b = calloc(1, sizeof *b);
    if (!b)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    rec->be = b;
    rec->close = biosig_close;
    rec->read = biosig_read;
    int rc = VBT_OK;
    pthread_mutex_lock(&biosig_lock);
    b->hdr = sopen(path, "r", NULL);
    if (!b->hdr || biosig_check_error(b->hdr)) {
        char *why = b->hdr ? biosig_get_errormsg(b->hdr) : NULL; /* a copy: ours to free */
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': cannot read as %s (libbiosig: %s)", path,
                       fmt_name, why && *why ? why : "open failed");
        free(why);
        if (b->hdr) {
            sclose(b->hdr);
            destructHDR(b->hdr);
            b->hdr = NULL;
        }
        goto out;
    }
    HDRTYPE *h = b->hdr;
    long nch = biosig_get_number_of_channels(h);
    size_t n_rec = biosig_get_number_of_records(h);
    size_t n_smp = biosig_get_number_of_samples(h);
    double fs = biosig_get_samplerate(h);
    if (nch < 1 || n_rec < 1 || n_smp < n_rec || n_smp % n_rec || !(fs > 0) || !isfinite(fs)) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': %s header gives %ld channels, %zu samples in %zu blocks at %g Hz",
                       path, fmt_name, nch, n_smp, n_rec, fs);
        goto out;
    }
    if (bv_ch > 0 && (nch != bv_ch || n_smp != bv_smp)) {
        rc = vbt__fail(msg, VBT_EFORMAT,
                       "'%s': libbiosig reads %ld channels of %zu samples, the header and data "
                       "file say %ld of %zu", path, nch, n_smp, bv_ch, bv_smp);
        goto out;
    }
    b->spr = n_smp / n_rec;
    b->n_blocks = n_rec;
    b->n_cols = (size_t)nch;
    rec->n_chan = (size_t)nch;
    rec->chan = calloc((size_t)nch, sizeof *rec->chan);
    if (!rec->chan) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto out;
    }
    for (long i = 0; i < nch; i++) {
        CHANNEL_TYPE *c = biosig_get_channel(h, (int)i);
        vbt_rec_channel *o = &rec->chan[i];
        double pmax = NAN, pmin = NAN, dmax = NAN, dmin = NAN;
        if (!c) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': channel %ld missing", path, i + 1);
            goto out;
        }
        pmax = c->PhysMax;
        pmin = c->PhysMin;
        dmax = c->DigMax;
        dmin = c->DigMin;
        copy_text(o->label, sizeof o->label, biosig_channel_get_label(c));
        copy_text(o->unit, sizeof o->unit, biosig_channel_get_physdim(c));
        vbt__rec_guess(o->label, o->type, o->group);
        o->fs_hz = fs;
        o->n_samples = (int64_t)n_smp;
        o->phys_min = pmin;
        o->phys_max = pmax;
        o->dig_min = isfinite(dmin) && fabs(dmin) < 2e9 ? (int)dmin : 0;
        o->dig_max = isfinite(dmax) && fabs(dmax) < 2e9 ? (int)dmax : 0;
        o->file_signal = (size_t)i;
        for (int k = 0; k < 3; k++)
            o->xyz[k] = NAN;
    }
    rec->record_s = (double)b->spr / fs;
    rec->duration_s = (double)n_smp / fs;
    snprintf(rec->format, sizeof rec->format, "%s", fmt_name);
    /* GDF time: days since year 0 in 32.32 fixed point (20 us steps), the
     * recorder's local clock; libbiosig truncates to a step (12 s reads
     * 11.999983 s), so the time is rounded to 0.1 ms */
    gdf_time g = biosig_get_startdatetime_gdf(h);
    if (g > 0) {
        double tq = floor(gdf_time2t_time(g) * 1e4 + 0.5);
        time_t secs = (time_t)floor(tq / 1e4);
        struct tm t;
        if (gmtime_r(&secs, &t))
            rec->start = (vbt_datetime){t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                                        t.tm_min, t.tm_sec, (tq - (double)secs * 1e4) / 1e4};
    }
    size_t ne = biosig_get_number_of_events(h);
    double efs = biosig_get_eventtable_samplerate(h);
    if (!(efs > 0))
        efs = fs;
    for (size_t i = 0; i < ne; i++) {
        uint16_t typ = 0, chn = 0;
        uint32_t pos = 0, dur = 0;
        const char *desc = NULL;
        if (biosig_get_nth_event(h, i, &typ, &pos, &chn, &dur, NULL, &desc))
            continue;
        char code[32];
        if (!desc || !*desc) {
            snprintf(code, sizeof code, "event 0x%04x", typ);
            desc = code;
        }
        if (vbt__rec_add_annotation(rec, pos / efs, dur > 0 ? dur / efs : -1.0, desc)) {
            rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
            goto out;
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
out:
    pthread_mutex_unlock(&biosig_lock);
    return rc;
}

/* ---- the formats --------------------------------------------------------------- */

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

static int sniff_gdf(const unsigned char *h, size_t n)
{
    return n >= 4 && memcmp(h, "GDF ", 4) == 0;
}

static int sniff_micromed(const unsigned char *h, size_t n)
{
    return n >= 10 && memcmp(h, "* MICROMED", 10) == 0;
}

static int sniff_nihon_kohden(const unsigned char *h, size_t n)
{
    static const char *const magic[] = {"EEG-1100", "EEG-1200", "EEG-2100", "DAE-2100",
                                        "QI-403A", "QI-173A", "EEG-1000", "EEG-4100"};
    for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++) {
        size_t k = strlen(magic[i]);
        if (n >= k && memcmp(h, magic[i], k) == 0)
            return 1;
    }
    return 0;
}

#define BIOSIG_OPENER(fn, label)                                              \
    static int fn(vbt_recording *rec, const char *path, vbt_msg *msg)       \
    {                                                                         \
        return biosig_open_as(rec, path, label, msg);                         \
    }
BIOSIG_OPENER(open_brainvision, "BrainVision")
BIOSIG_OPENER(open_gdf, "GDF")
BIOSIG_OPENER(open_micromed, "Micromed")
BIOSIG_OPENER(open_nihon_kohden, "NihonKohden")

static const vbt__rec_format fmt_brainvision = {
    .name = "BrainVision", .extensions = ".vhdr", .sniff = sniff_brainvision,
    .open = open_brainvision};
static const vbt__rec_format fmt_gdf = {
    .name = "GDF", .extensions = ".gdf", .sniff = sniff_gdf, .open = open_gdf};
static const vbt__rec_format fmt_micromed = {
    .name = "Micromed TRC", .extensions = ".trc", .sniff = sniff_micromed,
    .open = open_micromed};
static const vbt__rec_format fmt_nihon_kohden = {
    .name = "Nihon Kohden", .extensions = ".eeg", .sniff = sniff_nihon_kohden,
    .open = open_nihon_kohden};

const vbt__rec_format *const vbt__biosig_formats[] = {
    &fmt_brainvision, &fmt_gdf, &fmt_micromed, &fmt_nihon_kohden, NULL,
};
