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

struct vbt_recording {
    char *path;
    int fd;                     /* samples are read with pread(), see recording.c */
    int bps;                    /* bytes per sample: 2 (EDF) or 3 (BDF) */
    size_t hdr_bytes, rec_bytes, n_rec;
    vbt__sig_io *io;            /* per file signal */
    char format[8];
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

/* Case-insensitive match ignoring spaces (EDF labels are often padded). */
VBT_HIDDEN int vbt__label_eq(const char *a, const char *b);

/* 1 when an annotation text marks a seizure ("Seizure", "SZ onset", "onset"). */
VBT_HIDDEN int vbt__is_seizure_text(const char *s);

#endif
