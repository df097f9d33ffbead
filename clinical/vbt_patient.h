/* vbt_patient.h -- a patient folder, read once into typed fields: the paths
 * of the connectome, the BIDS iEEG files and the optional parcellation, and
 * the region lists of the folder's text files (candidate resections, spared
 * regions, the clinical EZ hypothesis).  Layout (docs/pipeline.md):
 *
 *   connectome.zip (or connectome/)   TVB connectivity
 *   sub-S/ses-X/ieeg/                  sub-*_electrodes.tsv (+ coordsystem.json),
 *                                      sub-*_ieeg.edf (+ channels.tsv, events.tsv)
 *   parcellation.nii.gz (or .nii)      optional, with parcellation_labels.tsv (or .csv)
 *                                      and optionally parcellation_names.tsv
 *   prior.json                         optional: vbt fit's priors
 *   resections.txt                     optional: one candidate resection a line
 *   spare.txt, hypothesis.txt          optional region lists
 *   ground_truth.json                  optional (synthetic patients)
 *
 * Region lists are labels or indices separated by commas, blanks or lines;
 * '#' starts a comment that runs to the end of its line. */
#ifndef VBT_PATIENT_H
#define VBT_PATIENT_H

#include <stddef.h>

#include "vbt_common.h"
#include "vbt_connectome.h"
#include "vbt_recording.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A resolved patient folder.  Every string is owned by the struct; a path
 * is NULL when the optional file is absent.  When a folder holds several
 * sub-* (or ses-*) folders or matching files, the first by name is used. */
typedef struct vbt_patient {
    char *dir;                  /* the folder as given */
    char *subject;              /* S of sub-S */
    char *connectome;           /* connectome.zip, else the connectome/ folder */
    char *ieeg_dir;             /* sub-S/ses-X/ieeg */
    char *electrodes;           /* the first sub-*_electrodes.tsv */
    char **recordings;          /* every sub-*_ieeg.edf, sorted by name */
    size_t n_recordings;        /* >= 1 */
    char *channels, *events;    /* the first recording's *_channels.tsv, *_events.tsv */
    char *parcellation;         /* parcellation.nii.gz or .nii */
    char *parcellation_labels;  /* .tsv or .csv; present whenever parcellation is */
    char *parcellation_names;   /* parcellation_names.tsv */
    char *prior;                /* prior.json */
    char *ground_truth;         /* ground_truth.json */
    char *resections_path, *spare_path, *hypothesis_path;
    /* resections.txt: one comma list per line that names regions (comments and
     * blank lines dropped), in file order, with its 1-based line number */
    char **resections;
    size_t *resection_lines;
    size_t n_resections;
    char *spare;                /* spare.txt as one comma list ("" when it lists nothing) */
    char *hypothesis;           /* hypothesis.txt as one comma list */
} vbt_patient;

/* Read the patient folder `dir` into a new *out (free with
 * vbt_patient_free()).  Errors name the folder or file and the problem:
 * VBT_EIO (no such folder, unreadable file), VBT_ENOTFOUND (a required
 * file is missing: connectome, sub-*, ses-*, electrodes, recording,
 * parcellation labels), VBT_EFORMAT (a region list that is not text),
 * VBT_ENOMEM.  Region names are checked by vbt_patient_check_regions(). */
int vbt_patient_load(vbt_patient **out, const char *dir, vbt_msg *msg);

/* NULL is a no-op. */
void vbt_patient_free(vbt_patient *p);

/* The patient's pseudonymous id, the only name of the patient that the
 * pipeline's outputs carry (never the folder's name): "sub-S", the BIDS
 * subject label, when p->subject is set, else "anon-" and the first 12 hex
 * digits of the SHA-256 of the first recording's SHA-256 hex digest (the
 * connectome's when there is no recording), so that the same inputs give the
 * same id.  buf gets at most n - 1 characters.  VBT_OK, or VBT_EIO when the
 * file cannot be read. */
int vbt_patient_pseudonym(const vbt_patient *p, char *buf, size_t n, vbt_msg *msg);

/* Check that every region the lists name (resections, spare, hypothesis)
 * is a region of conn: VBT_OK, or the first failure of
 * vbt_surgery_parse_regions() with the file (and for resections.txt its
 * line) in the message. */
int vbt_patient_check_regions(const vbt_patient *p, const vbt_connectome *conn, vbt_msg *msg);

/* A region list as the patient folder writes it: lines and '#' comments
 * become one comma list, in place, without empty items or trailing
 * separators ("r1\n\n r4, # x\n" -> "r1,r4"; a comment inside the list
 * leaves blanks before its comma, which vbt_surgery_parse_regions ignores). */
void vbt_patient_region_list(char *text);


/* ---- which seizure: refuse to guess ------------------------------------- */

/* What an event's text (BIDS trial_type, EDF+ annotation) marks: a seizure
 * onset ("seizure", "Seizure", "sz onset", "onset", "SZ", "eeg onset"), a
 * seizure offset ("sz offset", "seizure end", "offset", "termination") or
 * something else (0).  Case is ignored. */
enum { VBT_EVENT_OTHER = 0, VBT_EVENT_ONSET = 1, VBT_EVENT_OFFSET = 2 };
int vbt_event_kind(const char *text);

/* The seizure to fit, as the user chose it (vbt pipeline, vbt seeg features). */
typedef struct vbt_seizure_choice {
    size_t index;            /* --seizure N (1-based); 0: the recording must mark one */
    double onset_s;          /* --onset: seconds from the recording's start; NAN: from events */
    double offset_s;         /* --offset; NAN: the chosen onset's duration, else the next
                                offset event, else unknown */
    int require;             /* 1: no onset at all is an error (the pipeline); 0: the whole
                                recording is used when nothing marks a seizure */
    int no_events_tsv;       /* 1: the recording's own annotations only, events.tsv
                                ignored (vbt seeg --no-bids) */
} vbt_seizure_choice;

/* {0, NAN, NAN, 1, 0}. */
void vbt_seizure_choice_default(vbt_seizure_choice *c);

/* Set rec's seizure onset and offset (vbt_recording_set_seizure) from
 * c: a given onset wins; else the onset events of the recording's
 * events.tsv (the BIDS sidecar beside it), else of its EDF+ annotations
 * (vbt_event_kind; events.tsv replaces the annotations when it exists).
 * Errors (VBT_EFORMAT, VBT_EINVAL, the message naming the file):
 *   - no onset anywhere (c->require): "'F_ieeg.edf': no seizure onset: no
 *     events.tsv beside it and no seizure-onset annotation in it; give
 *     --onset SECONDS";
 *   - events.tsv without a recognised onset (always): "'F_events.tsv': no
 *     seizure onset among its trial_types ('a', 'b'); give --onset SECONDS";
 *   - several onsets and no index: "'F_events.tsv': 3 seizure onsets
 *     (1: 'sz onset' at 120 s, 2: ...); choose one with --seizure N";
 *   - an index past the last onset, an onset or offset outside the
 *     recording, an offset before the onset.
 * *n_onsets (may be NULL) gets the number of onsets the events mark. */
int vbt_recording_choose_seizure(vbt_recording *rec, const vbt_seizure_choice *c,
                                 size_t *n_onsets, vbt_msg *msg);

/* The recordings of the patient that match the BIDS entities task and run
 * (NULL: any): *index gets the one chosen.  VBT_EINVAL listing them when
 * several match ("'DIR': 3 recordings: A_ieeg.edf, B_ieeg.edf, ...; choose
 * one with --task and --run"), VBT_ENOTFOUND when none does. */
int vbt_patient_choose_recording(const vbt_patient *p, const char *task, const char *run,
                                 size_t *index, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
