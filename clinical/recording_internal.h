/* recording_internal.h -- the recording handle, shared by recording.c and
 * bids.c; not installed. */
#ifndef VBT_RECORDING_INTERNAL_H
#define VBT_RECORDING_INTERNAL_H

#include "internal.h"
#include "vbt_recording.h"

/* Where the samples of one file signal lie in a data record. */
typedef struct vbt__sig_io {
    size_t spr;                 /* samples per record */
    size_t off;                 /* byte offset inside the record */
    double gain;                /* (phys_max - phys_min) / (dig_max - dig_min) */
    double pmin;
    int dmin;
} vbt__sig_io;

struct vbt_recording;

/* One recording format: its name, how it is recognised (file name
 * extension, or the first bytes of the file) and the back end that opens
 * it.  open() fills the handle (channels, annotations, start, duration) and
 * sets rec->read when samples do not come from EDF data records. */
typedef struct vbt__rec_format {
    const char *name;           /* "EDF/BDF", "BrainVision", ... */
    const char *extensions;     /* space-separated, lower case: ".edf .bdf" */
    int (*sniff)(const unsigned char *head, size_t n);  /* 1: this format */
    int (*open)(struct vbt_recording *rec, const char *path, vbt_msg *msg);
} vbt__rec_format;

/* The formats read by libbiosig (recording_biosig.c), NULL-terminated. */
VBT_HIDDEN extern const vbt__rec_format *const vbt__biosig_formats[];
/* BrainVision, read by vbt itself (recording_brainvision.c). */
VBT_HIDDEN extern const vbt__rec_format vbt__fmt_brainvision;

/* Channel type and electrode guessed from a label ("EEG Fpz-Cz" -> EEG). */
VBT_HIDDEN void vbt__rec_guess(const char *label, char type[16], char group[32]);

/* Parse EDF+ time-stamped annotation lists (TALs) of one data record's
 * annotation signal bytes: calls back for the record's time-keeping onset
 * (text NULL) and for every annotation.  onsets in seconds from the file's
 * start second.  VBT_EFORMAT with a message naming the record on a
 * malformed TAL (recording_edfplus.c). */
typedef int (*vbt__tal_fn)(void *ctx, double onset_s, double duration_s, const char *text);
VBT_HIDDEN int vbt__tal_parse(const unsigned char *b, size_t n, size_t record, vbt__tal_fn fn,
                              void *ctx, vbt_msg *msg);

struct vbt_recording {
    char *path;
    const vbt__rec_format *fmt;
    /* samples from a back end other than EDF data records; NULL: pread() */
    int (*read)(struct vbt_recording *rec, size_t ch, int64_t first, size_t n, double *out);
    void (*close)(struct vbt_recording *rec);
    void *be;                   /* back-end state */
    double *rec_onset;          /* EDF+D: start of each data record (s); NULL: contiguous */
    int64_t *breaks;            /* BrainVision: first sample of each later "New Segment" */
    size_t n_breaks;            /* (a window across one is refused) */
    char *companion[2];         /* vbt_recording_companion(): other files read */
    const char *companion_role[2];
    size_t n_bad_dropped;       /* channels dropped because channels.tsv marks them bad */
    int fd;                     /* samples are read with pread(), see recording.c */
    int bps;                    /* bytes per sample: 2 (EDF) or 3 (BDF) */
    size_t hdr_bytes, rec_bytes, n_rec;
    vbt__sig_io *io;            /* per file signal */
    char format[16];
    double duration_s, record_s;
    vbt_datetime start;
    size_t n_chan;
    vbt_rec_channel *chan;
    size_t n_ann, cap_ann;
    vbt_annotation *ann;
    double sz_onset, sz_offset;
    char coord_system[64];
    vbt_msg err;
};

/* Append an annotation (text copied); VBT_ENOMEM. */
VBT_HIDDEN int vbt__rec_add_annotation(vbt_recording *rec, double onset_s, double duration_s,
                                       const char *text);

/* Channel labels, units, types and groups must be valid UTF-8 without
 * control characters (else VBT_EFORMAT naming the file and the channel);
 * annotation texts are repaired (invalid bytes become U+FFFD, control
 * characters spaces).  Run on every recording at open, and again by the
 * BIDS reader after its sidecars changed the channels. */
VBT_HIDDEN int vbt__rec_check_text(vbt_recording *rec, vbt_msg *msg);

/* Case-insensitive match ignoring spaces (EDF labels are often padded). */
VBT_HIDDEN int vbt__label_eq(const char *a, const char *b);

/* 1 when an annotation text marks a seizure ("Seizure", "SZ onset", "onset"). */
VBT_HIDDEN int vbt__is_seizure_text(const char *s);

#endif
