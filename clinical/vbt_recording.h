/* vbt_recording.h -- patient recordings: EDF, EDF+ (C and D), BDF, BDF+ (read
 * with EDFlib, EDF+D and the EDF+ files EDFlib refuses by vbt itself),
 * BrainVision (read by vbt itself), GDF, Micromed and Nihon Kohden (read
 * with libbiosig in a child process, so that a crash of libbiosig on a
 * malformed file is an error message, not a crash of the caller; Debian
 * 12's libbiosig 2.5 has no Micromed reader, so a .trc is refused saying so),
 * optionally inside a BIDS-iEEG dataset (channels.tsv, events.tsv,
 * electrodes.tsv), and an EDF+/BDF+ writer for synthetic data.
 *
 * A vbt_recording is an opaque handle on an open file: its header (channel
 * labels, types, units, per-channel sampling rates, start time) and its
 * annotations are read at open; samples are read on demand, one channel and
 * one sample range at a time, so a window (t0, t1) of a long file is read
 * without loading the rest.
 *
 * Text: channel labels, units, types and groups are valid UTF-8 without
 * control characters, or the file is refused (VBT_EFORMAT, naming the file
 * and the channel's number, never quoting the bytes); a BrainVision file
 * in the ANSI code page is transcoded from Windows-1252.  Annotation texts
 * that are not valid UTF-8 are repaired: each invalid byte becomes U+FFFD
 * and each control character a space.
 *
 * Privacy: the patient identification and recording fields of the EDF
 * header (name, code, birth date, sex, admin code, technician, equipment)
 * are never copied into the handle, so nothing derived from it can leak
 * them into an output or a message.
 *
 * EDFlib keeps its open files in a process-global table that is not
 * thread-safe; every libvbt call into EDFlib is serialised by one mutex.
 * EDFlib parses the header and annotations at open and its handle is
 * closed at once; samples are then read with pread() on the handle's own
 * descriptor, so vbt_recording_read() may be called from several threads
 * on one handle (the error message of a failed read is per handle).
 */
#ifndef VBT_RECORDING_H
#define VBT_RECORDING_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One channel of a recording (plain data, owned by the recording). */
typedef struct vbt_rec_channel {
    char label[64];      /* trimmed EDF label, or the BIDS channels.tsv name */
    char type[16];       /* BIDS type (SEEG, ECOG, EEG, ECG, EOG, EMG, RESP, TEMP,
                            MISC, TRIG); from channels.tsv, else guessed from the
                            EDF label prefix ("EEG Fpz-Cz" -> EEG), else "n/a" */
    char unit[16];       /* physical dimension ("uV", "DegC"; may be empty) */
    char group[32];      /* electrode (BIDS group, else the label's letters) */
    double fs_hz;        /* sampling rate of this channel */
    int64_t n_samples;   /* samples of this channel in the file */
    double phys_min, phys_max;
    int dig_min, dig_max;
    int bad;             /* channels.tsv status == bad (kept only on request) */
    int has_xyz;         /* 1 when electrodes.tsv gave a position */
    double xyz[3];       /* contact position in the electrodes' coordinate system */
    size_t file_signal;  /* index of the signal in the file */
} vbt_rec_channel;

/* One annotation (EDF+ TAL or BIDS events.tsv row). */
typedef struct vbt_annotation {
    double onset_s;      /* seconds from the start of the recording */
    double duration_s;   /* seconds; negative when absent */
    char *text;          /* UTF-8 description (BIDS: trial_type) */
} vbt_annotation;

/* Start date and time of a recording (local clock of the recorder); the
 * fraction of a second is EDF+'s first time-keeping onset (to 100 ns),
 * BrainVision's first "New Segment" date (to 1 us), or libbiosig's start
 * rounded to 0.1 ms. */
typedef struct vbt_datetime {
    int year, month, day, hour, minute, second;
    double subsecond;    /* [0, 1) */
} vbt_datetime;

typedef struct vbt_recording vbt_recording;

/* Open a recording; the format is recognised from the file's first bytes,
 * else its extension (.edf .bdf .vhdr .gdf .trc .eeg).  An EDF/BDF header
 * is checked before EDFlib sees it, so that a truncated file, a header that
 * lies about its record count or sizes, a byte that is not ASCII (the
 * message names the field) or a file that is not EDF at all gives a precise
 * message (VBT_EFORMAT; VBT_EIO when it cannot be opened).  Annotations are
 * read.  Free with vbt_recording_free(). */
int vbt_recording_open(vbt_recording **rec, const char *path, vbt_msg *msg);

/* BIDS-iEEG selection: every field may be NULL (matches any); the
 * selection must match exactly one *_ieeg.{edf,bdf,vhdr} file. */
typedef struct vbt_bids_query {
    const char *sub, *ses, *task, *run;
    const char *space;   /* electrodes.tsv "space-" entity, NULL = first found */
    int keep_bad;        /* keep channels whose status is "bad" */
} vbt_bids_query;

/* Open a recording inside a BIDS dataset: `path` is the dataset root (with
 * q selecting sub/ses/task/run) or a *_ieeg.edf/.bdf/.vhdr file.  Sidecars:
 * channels.tsv (types, units, status: bad channels are dropped unless
 * q->keep_bad), events.tsv (annotations; the first event whose trial_type
 * mentions "seizure" or "onset" gives the seizure onset, and onset +
 * duration its offset when duration > 0), electrodes.tsv and
 * coordsystem.json (contact positions).  Missing sidecars are fine; a
 * channel listed in channels.tsv that the file lacks, or a malformed TSV,
 * is VBT_EFORMAT.  q may be NULL. */
int vbt_recording_open_bids(vbt_recording **rec, const char *path, const vbt_bids_query *q,
                            vbt_msg *msg);

/* Free; NULL is a no-op. */
void vbt_recording_free(vbt_recording *rec);

/* Message of the last failure on this handle. */
const char *vbt_recording_errmsg(const vbt_recording *rec);

/* The file (as given to open, or the one the BIDS query resolved to). */
const char *vbt_recording_path(const vbt_recording *rec);
/* The other files the recording's samples and annotations come from, for
 * provenance (BrainVision: its data file, role "recording_data", then its
 * marker file, "recording_markers"): the i-th path, its role in *role (may
 * be NULL); NULL past the last (always, for a single-file format). */
const char *vbt_recording_companion(const vbt_recording *rec, size_t i, const char **role);
/* "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C", "BDF+D", "BrainVision", "GDF",
 * "Micromed" or "NihonKohden". */
const char *vbt_recording_format(const vbt_recording *rec);
double vbt_recording_duration_s(const vbt_recording *rec);
double vbt_recording_record_s(const vbt_recording *rec);   /* data-record length */
vbt_datetime vbt_recording_start(const vbt_recording *rec);

/* EDF+D: the gaps between data records (none in a contiguous file; an
 * EDF+D whose records follow each other reads like EDF+C).  Times are on
 * the recording's clock, seconds from its start; sample indices skip the
 * gaps, and vbt_recording_window() refuses a window that crosses one.
 * vbt_recording_gap(): the i-th gap [start_s, end_s); VBT_ERANGE past the
 * last. */
size_t vbt_recording_n_gaps(const vbt_recording *rec);
int vbt_recording_gap(const vbt_recording *rec, size_t i, double *start_s, double *end_s);

/* Channels dropped because the BIDS channels.tsv marks them bad. */
size_t vbt_recording_n_bad_dropped(const vbt_recording *rec);

/* Channels (data channels only; EDF+ annotation signals are not channels;
 * bad channels are absent unless kept). */
size_t vbt_recording_n_channels(const vbt_recording *rec);
const vbt_rec_channel *vbt_recording_channel(const vbt_recording *rec, size_t i);
/* Index of the channel labelled `label` (exact match, then ignoring case
 * and spaces); VBT_ENOTFOUND with a message when absent. */
int vbt_recording_find_channel(vbt_recording *rec, const char *label, size_t *index);

/* Annotations, in file order (EDF+ TALs, then BIDS events). */
size_t vbt_recording_n_annotations(const vbt_recording *rec);
const vbt_annotation *vbt_recording_annotation(const vbt_recording *rec, size_t i);

/* Seizure onset and offset in seconds (from events.tsv, see above, or set by
 * vbt_recording_set_seizure); NaN when unknown.  Returns VBT_ENOTFOUND when
 * the onset is unknown. */
int vbt_recording_seizure(const vbt_recording *rec, double *onset_s, double *offset_s);
void vbt_recording_set_seizure(vbt_recording *rec, double onset_s, double offset_s);

/* Coordinate system of the contact positions ("IXI549Space"; "" if none). */
const char *vbt_recording_coord_system(const vbt_recording *rec);

/* Read n physical samples (in the channel's unit; BrainVision voltages in
 * uV) of channel ch starting at sample `first` into out[n].  VBT_ERANGE
 * when [first, first+n) is not inside the channel; VBT_EIO on a read
 * failure (libbiosig failing included); VBT_EFORMAT when a BrainVision
 * float sample is not finite. */
int vbt_recording_read(vbt_recording *rec, size_t ch, int64_t first, size_t n, double *out);

/* Sample range of channel ch covering the time window [t0_s, t1_s)
 * clipped to the recording: first = ceil(t0 fs), n = ceil(t1 fs) - first.
 * VBT_ERANGE when the clipped window is empty, or when it crosses an EDF+D
 * gap or the start of a later BrainVision "New Segment". */
int vbt_recording_window(vbt_recording *rec, size_t ch, double t0_s, double t1_s,
                         int64_t *first, size_t *n);

/* ---- writing (synthetic data, tests, benchmarks) ------------------------ */

/* An EDF+ (or BDF+) file written one 1-second data record at a time, so a
 * long recording never has to be held in memory.  Every channel shares
 * fs_hz (an integer) and the physical range [phys_min, phys_max] (values
 * are clipped to it), quantised on the full 16-bit (EDF) or 24-bit (BDF)
 * digital range; the start is 2000-01-01 00:00:00 and the patient fields
 * are empty, so the same data give the same bytes.  The file is written under a temporary name and renamed
 * into place by _close(); _abort() removes it.  Both free the writer. */
typedef struct vbt_edf_spec {
    size_t n_channels;
    const char *const *labels;   /* n_channels labels (at most 16 bytes in the file) */
    const char *unit;            /* physical dimension of every channel; NULL = "uV" */
    double fs_hz;
    double phys_min, phys_max;
    int bdf;                     /* 1: BDF+ (24-bit) */
} vbt_edf_spec;

typedef struct vbt_edf_writer vbt_edf_writer;
int vbt_edf_writer_open(vbt_edf_writer **w, const char *path, const vbt_edf_spec *spec,
                        int overwrite, vbt_msg *msg);
/* Append one data record: data[c * fs + i] is sample i of channel c. */
int vbt_edf_writer_append(vbt_edf_writer *w, const double *data, vbt_msg *msg);
/* Add an annotation (stored in the file's EDF Annotations signal). */
int vbt_edf_writer_annotate(vbt_edf_writer *w, double onset_s, double duration_s,
                            const char *text, vbt_msg *msg);
int vbt_edf_writer_close(vbt_edf_writer *w, vbt_msg *msg);
void vbt_edf_writer_abort(vbt_edf_writer *w);

#ifdef __cplusplus
}
#endif
#endif
