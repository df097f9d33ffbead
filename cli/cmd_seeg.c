/* cmd_seeg.c -- `vbt seeg info|features|ei|plot INPUT [options]`: patient
 * recordings (EDF/EDF+/BDF, BIDS-iEEG), the VEP feature, the
 * Epileptogenicity Index and pictures.
 *
 * One usage table serves the four actions (sub-commands); each option lists
 * the actions it applies to, and cli_parse rejects it given to another. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "vbt.h"
#include "vbt_recording.h"
#include "vbt_seeg.h"
#include "vbt_patient.h"
#include "vbt_seeg_features.h"

static const cli_argument args[] = {
    {"ACTION", CLI_TEXT, "info, features, ei or plot"},
    {"INPUT", CLI_FILE_IN,
     "a recording: EDF/EDF+ (C or D)/BDF, BrainVision .vhdr, GDF, Micromed .trc or Nihon "
     "Kohden .eeg (BIDS sidecars beside a *_ieeg file are read), a BIDS dataset "
     "root (with --sub and, when needed, --ses, --task, --run), or for `plot` an ei.tsv "
     "written by `vbt seeg ei` (draws the EI bar chart)"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "PATH",
     .required = 1, .applies = "features,ei,plot",
     .doc = "output directory (features, ei) or picture: .png, .svg or .pdf (plot)"},
    {.name = "json", .kind = CLI_FLAG, .applies = "info",
     .doc = "print JSON instead of text"},
    {.name = "show-identifiers", .kind = CLI_FLAG, .applies = "info",
     .doc = "also print the recording's start date and time (to the sub-second); "
            "without it no date or time is printed"},
    {.name = "sub", .kind = CLI_TEXT, .metavar = "LABEL", .doc = "BIDS subject"},
    {.name = "ses", .kind = CLI_TEXT, .metavar = "LABEL", .doc = "BIDS session"},
    {.name = "task", .kind = CLI_TEXT, .metavar = "LABEL", .doc = "BIDS task"},
    {.name = "run", .kind = CLI_TEXT, .metavar = "LABEL", .doc = "BIDS run"},
    {.name = "space", .kind = CLI_TEXT, .metavar = "LABEL",
     .doc = "BIDS space of electrodes.tsv (default: the first in name order)"},
    {.name = "keep-bad", .kind = CLI_FLAG,
     .doc = "keep channels whose channels.tsv status is bad (dropped by default)"},
    {.name = "no-bids", .kind = CLI_FLAG, .doc = "ignore BIDS sidecars beside an EDF file"},
    {.name = "montage", .kind = CLI_TEXT, .metavar = "KIND", .def = "monopolar",
     .choices = "monopolar|bipolar|average",
     .applies = "features,ei,plot",
     .doc = "derivation: as recorded, consecutive contacts of each "
            "electrode (A1-A2), or common average"},
    {.name = "channels", .kind = CLI_TEXT, .metavar = "LIST",
     .applies = "features,ei,plot",
     .doc = "comma-separated channels (recording labels, or montage "
            "labels such as A1-A2); default: every SEEG/ECOG/EEG/DBS channel at "
            "the most common sampling rate (untyped channels only when no channel is typed)"},
    {.name = "onset", .kind = CLI_FLOAT, .metavar = "S", .min = 0, .max = 1e9,
     .applies = "features,ei,plot",
     .doc = "seizure onset in seconds (default: events.tsv or a "
            "seizure annotation)"},
    {.name = "offset", .kind = CLI_FLOAT, .metavar = "S", .min = 0, .max = 1e9,
     .applies = "features",
     .doc = "seizure offset in seconds (default: events.tsv duration, else the "
            "end of the recording)"},
    {.name = "seizure", .kind = CLI_INT, .metavar = "N", .min = 1, .max = 1e6,
     .applies = "features",
     .doc = "which seizure onset of the events to use (1-based) when they mark several "
            "(several are refused, listed, otherwise)"},
    {.name = "t0", .kind = CLI_FLOAT, .metavar = "S", .min = 0, .max = 1e9,
     .applies = "ei,plot",
     .doc = "window start (ei: start of the recording; plot: onset - 10 s or 0)"},
    {.name = "t1", .kind = CLI_FLOAT, .metavar = "S", .min = 0, .max = 1e9,
     .applies = "ei,plot",
     .doc = "window end (ei: end of the recording; plot: onset + 20 s or t0 + 30 s)"},
    {.name = "pre", .kind = CLI_FLOAT, .metavar = "S", .def = "1", .min = 0, .max = 1e6,
     .applies = "features",
     .doc = "seconds before the onset"},
    {.name = "post", .kind = CLI_FLOAT, .metavar = "S", .def = "1", .min = 0, .max = 1e6,
     .applies = "features",
     .doc = "seconds after the offset"},
    {.name = "pre-scale", .kind = CLI_FLOAT, .metavar = "F", .def = "0", .min = 0, .max = 100,
     .applies = "features",
     .doc = "when > 0 and the seizure has an offset: --pre and --post in units of "
            "the seizure's duration (pre = F x duration, post = --post-scale x duration), so "
            "that the window maps onto a fixed model time scale (vbt pipeline)"},
    {.name = "post-scale", .kind = CLI_FLOAT, .metavar = "F", .def = "0.5", .min = 0, .max = 100,
     .applies = "features",
     .doc = "see --pre-scale"},
    {.name = "hp", .kind = CLI_FLOAT, .metavar = "HZ", .def = "10", .min = 0, .max = 1e5,
     .applies = "features",
     .doc = "Butterworth high-pass cut-off (0: none)"},
    {.name = "hp-order", .kind = CLI_INT, .metavar = "N", .def = "3", .min = 1, .max = 12,
     .applies = "features",
     .doc = "high-pass order"},
    {.name = "ma", .kind = CLI_INT, .metavar = "N", .def = "100", .min = 1, .max = 1e8,
     .applies = "features",
     .doc = "moving-average length of the squared signal, in samples"},
    {.name = "lp", .kind = CLI_FLOAT, .metavar = "HZ", .def = "1", .min = 0, .max = 1e5,
     .applies = "features",
     .doc = "Butterworth low-pass cut-off of the log envelope (0: none)"},
    {.name = "lp-order", .kind = CLI_INT, .metavar = "N", .def = "3", .min = 1, .max = 12,
     .applies = "features",
     .doc = "low-pass order"},
    {.name = "points", .kind = CLI_INT, .metavar = "N", .def = "300", .min = 2, .max = 1e7,
     .applies = "features",
     .doc = "output time points"},
    {.name = "top-k", .kind = CLI_INT, .metavar = "K", .def = "0", .min = 0, .max = 1e5,
     .applies = "features",
     .doc = "keep the K channels of largest mean(feature^2) (0: all)"},
    {.name = "window", .kind = CLI_FLOAT, .metavar = "S", .def = "1", .min = 1e-3, .max = 1e4,
     .applies = "ei",
     .doc = "spectral window length"},
    {.name = "step", .kind = CLI_FLOAT, .metavar = "S", .def = "0.25", .min = 1e-4, .max = 1e4,
     .applies = "ei",
     .doc = "window step"},
    {.name = "taper", .kind = CLI_TEXT, .metavar = "NAME", .def = "hann",
     .choices = "hann|hamming|rect", .applies = "ei",
     .doc = "window taper"},
    {.name = "nfft", .kind = CLI_INT, .metavar = "N", .def = "0", .min = 0, .max = 16777216,
     .applies = "ei",
     .doc = "FFT length, at least the window's samples (0: the window's samples)"},
    {.name = "bands", .kind = CLI_TEXT, .metavar = "EDGES", .def = "3.5,7.4,12.4,24,97",
     .applies = "ei",
     .doc = "five band edges in Hz: theta, alpha, beta, gamma (Bartolomei 2008)"},
    {.name = "bias", .kind = CLI_FLOAT, .metavar = "NU", .def = "0.1", .min = 0, .max = 1e9,
     .applies = "ei",
     .doc = "Page-Hinkley bias"},
    {.name = "threshold", .kind = CLI_FLOAT, .metavar = "LAMBDA", .def = "1", .min = 1e-12,
     .max = 1e12, .applies = "ei",
     .doc = "Page-Hinkley threshold"},
    {.name = "tau", .kind = CLI_FLOAT, .metavar = "S", .def = "1", .min = 1e-6, .max = 1e6,
     .applies = "ei",
     .doc = "tau of the EI denominator"},
    {.name = "horizon", .kind = CLI_FLOAT, .metavar = "S", .def = "5", .min = 0, .max = 1e6,
     .applies = "ei",
     .doc = "H: seconds of energy ratio summed after detection"},
    {.name = "regions", .kind = CLI_FILE_IN, .metavar = "TSV",
     .applies = "ei",
     .doc = "contact localisation: lines 'channel<TAB>region'; writes regions_ei.tsv "
            "(max EI over each region's contacts; a bipolar channel counts for both "
            "contacts)"},
};

static const char *const refs[] = {
    "Bartolomei F, Chauvel P, Wendling F (2008) Epileptogenicity of brain structures in human "
    "temporal lobe epilepsy: a quantified study from intracerebral EEG. Brain 131:1818-1830.",
    "Page ES (1954) Continuous inspection schemes. Biometrika 41:100-115; Hinkley DV (1971) "
    "Inference about the change-point from cumulative sum tests. Biometrika 58:509-523.",
    "Vattikonda AN et al. (2021) Identifying spatio-temporal seizure propagation patterns in "
    "epilepsy using Bayesian inference. Commun Biol 4:1244 (the log-power envelope feature).",
    "Kemp B, Olivan J (2003) European data format 'plus' (EDF+). Clin Neurophysiol "
    "114:1755-1761; EDFlib by Teunis van Beelen.",
    "Holdgraf C et al. (2019) iEEG-BIDS. Sci Data 6:102.",
    NULL,
};

/* ---- helpers ---------------------------------------------------------------------- */

static int is_given(const cli_parsed *p, const char *name)
{
    for (size_t i = 0; i < p->cmd->n_opts; i++)
        if (strcmp(p->cmd->opts[i].name, name) == 0)
            return p->values[i] != NULL;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int open_input(const cli_parsed *p, vbt_recording **rec)
{
    const char *in = p->args[1];
    vbt_msg msg;
    struct stat st;
    int rc;
    vbt_bids_query q = {cli_str(p, "sub"), cli_str(p, "ses"), cli_str(p, "task"),
                        cli_str(p, "run"), cli_str(p, "space"), cli_flag(p, "keep-bad")};
    if (stat(in, &st) == 0 && S_ISDIR(st.st_mode))
        rc = vbt_recording_open_bids(rec, in, &q, &msg);
    else if (cli_flag(p, "no-bids"))
        rc = vbt_recording_open(rec, in, &msg);
    else
        rc = vbt_recording_open_bids(rec, in, &q, &msg);
    if (rc) {
        cli_error(p, "%s", msg.text);
        return -1;
    }
    double on, off;
    vbt_recording_seizure(*rec, &on, &off);
    if (is_given(p, "onset"))
        on = cli_float(p, "onset");
    if (is_given(p, "offset"))
        off = cli_float(p, "offset");
    if (!isnan(on) && !isnan(off) && off < on) {
        cli_error(p, "'%s': seizure offset %g s precedes the onset %g s", in, off, on);
        return -1;
    }
    vbt_recording_set_seizure(*rec, on, off);
    return 0;
}

/* Split "a, b,c" into trimmed names (in place in buf); returns the count. */
static size_t split_list(char *buf, char **names, size_t cap)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < cap;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t l = strlen(t);
        while (l && t[l - 1] == ' ')
            t[--l] = '\0';
        if (l)
            names[n++] = t;
    }
    return n;
}

/* The montage of --montage over --channels (recording labels first, then
 * montage labels). */
static int make_montage(const cli_parsed *p, vbt_recording *rec, vbt_montage **m)
{
    vbt_montage_kind kind;
    vbt_msg msg;
    vbt_montage_kind_parse(cli_str(p, "montage"), &kind);
    const char *list = cli_str(p, "channels");
    if (!list) {
        if (vbt_montage_alloc(m, rec, kind, NULL, 0, &msg)) {
            cli_error(p, "%s", msg.text);
            return -1;
        }
        return 0;
    }
    size_t cap = strlen(list) / 2 + 2, n;
    char *buf = strdup(list), **names = malloc(cap * sizeof *names);
    size_t *idx = malloc(cap * sizeof *idx);
    int rc = -1;
    if (!buf || !names || !idx) {
        cli_error(p, "out of memory");
        goto out;
    }
    n = split_list(buf, names, cap);
    if (n == 0) {
        cli_error(p, "--channels: empty list");
        goto out;
    }
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        found += vbt_recording_find_channel(rec, names[i], &idx[i]) == VBT_OK;
    if (found == n) {
        if (vbt_montage_alloc(m, rec, kind, idx, n, &msg)) {
            cli_error(p, "%s", msg.text);
            goto out;
        }
        rc = 0;
        goto out;
    }
    /* montage labels ("A1-A2") over the default selection */
    if (vbt_montage_alloc(m, rec, kind, NULL, 0, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k, nm = vbt_montage_n(*m);
        for (k = 0; k < nm; k++)
            if (strcmp(vbt_montage_label(*m, k), names[i]) == 0)
                break;
        if (k == nm) {
            cli_error(p, "'%s': no channel '%s' in the recording or the %s montage",
                      vbt_recording_path(rec), names[i], cli_str(p, "montage"));
            vbt_montage_free(*m);
            *m = NULL;
            goto out;
        }
        idx[i] = k;
    }
    if (vbt_montage_select(*m, idx, n, &msg)) {
        cli_error(p, "%s", msg.text);
        vbt_montage_free(*m);
        *m = NULL;
        goto out;
    }
    rc = 0;
out:
    free(buf);
    free(names);
    free(idx);
    return rc;
}

/* Hash the recording and the sidecars that exist beside it. */
static int add_inputs(const cli_parsed *p, cJSON *prov, vbt_recording *rec)
{
    char err[1024], side[4200];
    const char *path = vbt_recording_path(rec);
    if (cli_provenance_add_input(prov, "recording", path, err, sizeof err)) {
        cli_error(p, "%s", err);
        return -1;
    }
    const char *role, *comp;
    for (size_t i = 0; (comp = vbt_recording_companion(rec, i, &role)); i++)
        if (cli_provenance_add_input(prov, role, comp, err, sizeof err)) {
            cli_error(p, "%s", err);
            return -1;
        }
    if (is_given(p, "regions") &&
        cli_provenance_add_input(prov, "regions", cli_str(p, "regions"), err, sizeof err)) {
        cli_error(p, "%s", err);
        return -1;
    }
    const char *cut = strstr(path, "_ieeg.");
    if (!cut || cli_flag(p, "no-bids"))
        return 0;
    static const char *const sc[] = {"channels.tsv", "events.tsv", "ieeg.json"};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        snprintf(side, sizeof side, "%.*s_%s", (int)(cut - path), path, sc[i]);
        if (stat(side, &st) == 0 &&
            cli_provenance_add_input(prov, sc[i], side, err, sizeof err)) {
            cli_error(p, "%s", err);
            return -1;
        }
    }
    return 0;
}

static int write_text(const cli_parsed *p, vbt_outdir *od, const char *name, const char *text)
{
    char path[4200];
    vbt_msg msg;
    if (vbt_outdir_file(od, name, path, sizeof path) ||
        vbt_file_write_atomic(path, text, strlen(text), 0, &msg)) {
        cli_error(p, "%s", "cannot write an output file");
        return -1;
    }
    return 0;
}

static int write_json(const cli_parsed *p, vbt_outdir *od, cJSON *j)
{
    vbt_msg msg;
    if (cli_write_json(od, "run.json", j, &msg)) {
        cli_error(p, "%s", msg.text);
        return -1;
    }
    return 0;
}

static int write_npy(const cli_parsed *p, vbt_outdir *od, const char *name, const double *d,
                     size_t ndim, const size_t *shape)
{
    char path[4200];
    vbt_msg msg;
    if (vbt_outdir_file(od, name, path, sizeof path) ||
        vbt_npy_write(path, d, ndim, shape, 0, &msg)) {
        cli_error(p, "cannot write %s", name);
        return -1;
    }
    return 0;
}

static void add_window(cJSON *o, const char *key, double a, double b)
{
    double w[2] = {a, b};
    cJSON_AddItemToObject(o, key, cJSON_CreateDoubleArray(w, 2));
}

static void add_seizure(cJSON *prov, vbt_recording *rec)
{
    double on, off;
    vbt_recording_seizure(rec, &on, &off);
    cJSON *s = cJSON_AddObjectToObject(prov, "seizure");
    if (isnan(on))
        cJSON_AddNullToObject(s, "onset_s");
    else
        cJSON_AddNumberToObject(s, "onset_s", on);
    if (isnan(off))
        cJSON_AddNullToObject(s, "offset_s");
    else
        cJSON_AddNumberToObject(s, "offset_s", off);
}

/* ---- info --------------------------------------------------------------------------- */

static int do_info(const cli_parsed *p)
{
    vbt_recording *rec;
    if (open_input(p, &rec))
        return CLI_ERROR;
    vbt_datetime s = vbt_recording_start(rec);
    double on, off;
    vbt_recording_seizure(rec, &on, &off);
    size_t nc = vbt_recording_n_channels(rec), na = vbt_recording_n_annotations(rec);
    /* the start date and time identify a recording: printed only on request */
    int show_id = cli_flag(p, "show-identifiers");
    char start[64] = "";
    if (show_id) {
        char frac[16] = "";
        if (s.subsecond > 0) {
            snprintf(frac, sizeof frac, "%.7f", s.subsecond); /* "0.3945310" */
            size_t n = strlen(frac);
            while (n > 3 && frac[n - 1] == '0')
                frac[--n] = '\0';
        }
        snprintf(start, sizeof start, "%04d-%02d-%02dT%02d:%02d:%02d%s", s.year, s.month, s.day,
                 s.hour, s.minute, s.second, frac[0] ? frac + 1 : "");
    }
    if (cli_flag(p, "json")) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", vbt_recording_path(rec));
        cJSON_AddStringToObject(j, "format", vbt_recording_format(rec));
        if (show_id)
            cJSON_AddStringToObject(j, "start", start);
        cJSON_AddNumberToObject(j, "duration_s", vbt_recording_duration_s(rec));
        cJSON_AddNumberToObject(j, "record_s", vbt_recording_record_s(rec));
        add_seizure(j, rec);
        cJSON_AddStringToObject(j, "coordinate_system", vbt_recording_coord_system(rec));
        cJSON *ch = cJSON_AddArrayToObject(j, "channels");
        for (size_t i = 0; i < nc; i++) {
            const vbt_rec_channel *c = vbt_recording_channel(rec, i);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "label", c->label);
            cJSON_AddStringToObject(o, "type", c->type);
            cJSON_AddStringToObject(o, "unit", c->unit);
            cJSON_AddStringToObject(o, "group", c->group);
            cJSON_AddNumberToObject(o, "fs_hz", c->fs_hz);
            cJSON_AddNumberToObject(o, "n_samples", (double)c->n_samples);
            cJSON_AddNumberToObject(o, "phys_min", c->phys_min);
            cJSON_AddNumberToObject(o, "phys_max", c->phys_max);
            cJSON_AddNumberToObject(o, "dig_min", c->dig_min);
            cJSON_AddNumberToObject(o, "dig_max", c->dig_max);
            cJSON_AddBoolToObject(o, "bad", c->bad);
            if (c->has_xyz)
                cJSON_AddItemToObject(o, "xyz", cJSON_CreateDoubleArray(c->xyz, 3));
            cJSON_AddItemToArray(ch, o);
        }
        cJSON *an = cJSON_AddArrayToObject(j, "annotations");
        for (size_t i = 0; i < na; i++) {
            const vbt_annotation *a = vbt_recording_annotation(rec, i);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "onset_s", a->onset_s);
            if (a->duration_s >= 0)
                cJSON_AddNumberToObject(o, "duration_s", a->duration_s);
            cJSON_AddStringToObject(o, "text", a->text);
            cJSON_AddItemToArray(an, o);
        }
        char *t = cJSON_Print(j);
        if (t)
            printf("%s\n", t);
        free(t);
        cJSON_Delete(j);
    } else {
        printf("file         %s\nformat       %s\n", vbt_recording_path(rec),
               vbt_recording_format(rec));
        if (show_id)
            printf("start        %s\n", start);
        printf("duration     %g s (data records of %g s)\n", vbt_recording_duration_s(rec),
               vbt_recording_record_s(rec));
        printf("channels     %zu\nannotations  %zu\n", nc, na);
        if (!isnan(on) && !isnan(off))
            printf("seizure      onset %g s, offset %g s\n", on, off);
        else if (!isnan(on))
            printf("seizure      onset %g s (offset unknown)\n", on);
        if (vbt_recording_coord_system(rec)[0])
            printf("coordinates  %s\n", vbt_recording_coord_system(rec));
        printf("\n%4s  %-16s %-5s %-6s %9s %10s %11s %11s %8s %8s\n", "#", "label", "type",
               "unit", "fs_hz", "samples", "phys_min", "phys_max", "dig_min", "dig_max");
        for (size_t i = 0; i < nc; i++) {
            const vbt_rec_channel *c = vbt_recording_channel(rec, i);
            printf("%4zu  %-16s %-5s %-6s %9g %10lld %11g %11g %8d %8d%s\n", i + 1, c->label,
                   c->type, c->unit[0] ? c->unit : "-", c->fs_hz, (long long)c->n_samples,
                   c->phys_min, c->phys_max, c->dig_min, c->dig_max, c->bad ? "  bad" : "");
        }
        if (na) {
            printf("\n%12s %10s  %s\n", "onset_s", "duration_s", "annotation");
            for (size_t i = 0; i < na; i++) {
                const vbt_annotation *a = vbt_recording_annotation(rec, i);
                char d[32] = "-";
                if (a->duration_s >= 0)
                    snprintf(d, sizeof d, "%g", a->duration_s);
                printf("%12g %10s  %s\n", a->onset_s, d, a->text);
            }
        }
    }
    vbt_recording_free(rec);
    return CLI_OK;
}

/* ---- features ------------------------------------------------------------------------ */

static int do_features(const cli_parsed *p)
{
    vbt_recording *rec = NULL;
    vbt_montage *m = NULL;
    vbt_outdir *od = NULL;
    vbt_msg msg;
    int rc = CLI_ERROR;
    const char *outdir = cli_str(p, "output");

    if (open_input(p, &rec))
        goto out;
    /* refuse to guess (vbt_patient.h): several onsets need --seizure, events
     * that mark none are an error; a recording with no events at all is
     * used whole */
    if (!is_given(p, "onset")) {
        vbt_seizure_choice sc;
        vbt_seizure_choice_default(&sc);
        sc.require = 0;
        sc.no_events_tsv = cli_flag(p, "no-bids");
        sc.index = is_given(p, "seizure") ? (size_t)cli_float(p, "seizure") : 0;
        if (is_given(p, "offset"))
            sc.offset_s = cli_float(p, "offset");
        if (vbt_recording_choose_seizure(rec, &sc, NULL, &msg)) {
            cli_error(p, "%s", msg.text);
            goto out;
        }
    } else if (is_given(p, "seizure")) {
        cli_error(p, "--seizure and --onset exclude each other");
        rc = CLI_USAGE;
        goto out;
    }
    if (make_montage(p, rec, &m))
        goto out;
    /* the computation and the files: clinical/'s vbt_seeg_features_run */
    vbt_seeg_features_job j = {.rec = rec, .m = m, .montage = cli_str(p, "montage"),
                               .pre_scale = cli_float(p, "pre-scale"),
                               .post_scale = cli_float(p, "post-scale"),
                               .regions = is_given(p, "regions") ? cli_str(p, "regions") : NULL,
                               .sidecars = !cli_flag(p, "no-bids"), .argc = p->argc,
                               .argv = p->argv};
    vbt_features_opts_default(&j.opts);
    j.opts.pre_s = cli_float(p, "pre");
    j.opts.post_s = cli_float(p, "post");
    j.opts.hp_hz = cli_float(p, "hp");
    j.opts.hp_order = (int)cli_float(p, "hp-order");
    j.opts.ma_samples = (size_t)cli_float(p, "ma");
    j.opts.lp_hz = cli_float(p, "lp");
    j.opts.lp_order = (int)cli_float(p, "lp-order");
    j.opts.n_points = (size_t)cli_float(p, "points");
    j.opts.top_k = (size_t)cli_float(p, "top-k");
    vbt_seeg_features_info info;
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg) ||
        vbt_seeg_features_run(&j, od, &info, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    int bad = vbt_outdir_commit(od, &msg);
    od = NULL; /* committed or removed */
    if (bad) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    cli_info(p, "features of %zu channels over [%g, %g] s in %.2f s", info.n_chan, info.t0_s,
             info.t1_s, info.wall_s);
    printf("outputs in %s: features.npy features_time.npy channels.tsv run.json\n", outdir);
    rc = CLI_OK;
out:
    vbt_outdir_abort(od);
    vbt_montage_free(m);
    vbt_recording_free(rec);
    return rc;
}

/* ---- ei ------------------------------------------------------------------------------ */

static int parse_bands(const cli_parsed *p, double b[5])
{
    if (cli_parse_numbers(cli_str(p, "bands"), b, 5) == 0)
        return 0;
    fprintf(stderr, "vbt seeg: --bands expects five comma-separated numbers, got '%s' "
                    "(see 'vbt seeg --help')\n", cli_str(p, "bands"));
    return -1;
}

/* Region EI: the max over the contacts of each region, from a
 * "channel<TAB>region" file; returns the TSV text (malloc'd) or NULL. */
static char *regions_table(const cli_parsed *p, vbt_montage *m, const vbt_ei_result *r)
{
    char *buf;
    size_t len;
    vbt_msg msg;
    const char *path = cli_str(p, "regions");
    if (vbt_file_read_all(path, &buf, &len, 16u << 20, &msg)) {
        cli_error(p, "%s", msg.text);
        return NULL;
    }
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += buf[i] == '\n';
    char **cont = calloc(cap, sizeof *cont), **reg = calloc(cap, sizeof *reg);
    char **rname = calloc(cap, sizeof *rname);
    double *rei = calloc(cap, sizeof *rei);
    size_t n = 0, nr = 0, line = 0;
    char *out = NULL;
    if (!cont || !reg || !rname || !rei) {
        cli_error(p, "out of memory");
        goto done;
    }
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t ll = strlen(l);
        if (ll && l[ll - 1] == '\r')
            l[--ll] = '\0';
        if (!ll || l[0] == '#')
            continue;
        char *tab = strchr(l, '\t');
        if (!tab || strchr(tab + 1, '\t')) {
            cli_error(p, "'%s': line %zu: expected 'channel<TAB>region'", path, line);
            goto done;
        }
        *tab = '\0';
        if (n == 0 && line == 1 && (!strcmp(l, "channel") || !strcmp(l, "name")))
            continue;
        cont[n] = l;
        reg[n++] = tab + 1;
    }
    /* every region, in file order; EI = max over its contacts (0 when none is in the
     * montage) */
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < nr; k++)
            if (!strcmp(rname[k], reg[i]))
                break;
        if (k == nr)
            rname[nr++] = reg[i];
    }
    for (size_t c = 0; c < r->n_chan; c++) {
        const char *lab = vbt_montage_label(m, c);
        for (size_t i = 0; i < n; i++) {
            int hit = !strcmp(cont[i], lab);
            if (!hit) { /* bipolar "A1-A2": both contacts */
                const char *dash = strchr(lab, '-');
                size_t cl = strlen(cont[i]);
                hit = dash && ((size_t)(dash - lab) == cl && !strncmp(lab, cont[i], cl));
                hit = hit || (dash && !strcmp(dash + 1, cont[i]));
            }
            if (!hit)
                continue;
            for (size_t k = 0; k < nr; k++)
                if (!strcmp(rname[k], reg[i]) && r->ei[c] > rei[k])
                    rei[k] = r->ei[c];
        }
    }
    vbt_textbuf ob = {0};
    vbt_textbuf_printf(&ob, "region\tei\n");
    for (size_t k = 0; k < nr; k++)
        vbt_textbuf_printf(&ob, "%.100s\t%.6f\n", rname[k], rei[k]);
    if (ob.oom) {
        cli_error(p, "out of memory");
        free(ob.s);
    } else {
        out = ob.s;
    }
done:
    free(cont);
    free(reg);
    free(rname);
    free(rei);
    free(buf);
    return out;
}

static int do_ei(const cli_parsed *p)
{
    vbt_recording *rec = NULL;
    vbt_montage *m = NULL;
    vbt_outdir *od = NULL;
    vbt_ei_result r = {0};
    cJSON *prov = NULL;
    char *rtab = NULL;
    vbt_msg msg;
    int rc = CLI_ERROR;
    const char *outdir = cli_str(p, "output");
    vbt_ei_opts o;
    vbt_ei_opts_default(&o);
    if (parse_bands(p, o.bands))
        return CLI_USAGE;
    if (open_input(p, &rec) || make_montage(p, rec, &m))
        goto out;
    o.win_s = cli_float(p, "window");
    o.step_s = cli_float(p, "step");
    vbt_taper_parse(cli_str(p, "taper"), &o.taper);
    o.nfft = (size_t)cli_float(p, "nfft");
    o.bias = cli_float(p, "bias");
    o.threshold = cli_float(p, "threshold");
    o.tau_s = cli_float(p, "tau");
    o.horizon_s = cli_float(p, "horizon");
    double t0 = is_given(p, "t0") ? cli_float(p, "t0") : 0.0;
    double t1 = is_given(p, "t1") ? cli_float(p, "t1") : vbt_recording_duration_s(rec);
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    double tic = cli_now();
    if (vbt_ei_compute(m, t0, t1, &o, &r, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    double wall = cli_now() - tic;
    size_t shape[2] = {r.n_win, r.n_chan};
    if (write_npy(p, od, "er.npy", r.er, 2, shape) ||
        write_npy(p, od, "er_time.npy", r.time_s, 1, shape))
        goto out;
    vbt_textbuf tab = {0};
    vbt_textbuf_printf(&tab, "rank\tchannel\tei\tdetection_s\talarm_s\ter_peak\ter_peak_s\n");
    for (size_t i = 0; i < r.n_chan; i++) {
        size_t c = r.rank[i];
        char d[32] = "n/a", a[32] = "n/a";
        if (!isnan(r.detect_s[c])) {
            snprintf(d, sizeof d, "%.4f", r.detect_s[c]);
            snprintf(a, sizeof a, "%.4f", r.alarm_s[c]);
        }
        vbt_textbuf_printf(&tab, "%zu\t%.131s\t%.6f\t%s\t%s\t%.6g\t%.4f\n", i + 1,
                           vbt_montage_label(m, c), r.ei[c], d, a, r.er_peak[c], r.er_peak_s[c]);
    }
    if (cli_write_text(od, "ei.tsv", &tab, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    if (is_given(p, "regions")) {
        if (!(rtab = regions_table(p, m, &r)) || write_text(p, od, "regions_ei.tsv", rtab))
            goto out;
    }
    prov = cli_provenance_new(p);
    if (add_inputs(p, prov, rec))
        goto out;
    add_seizure(prov, rec);
    cJSON *e = cJSON_AddObjectToObject(prov, "ei");
    cJSON_AddStringToObject(e, "montage", cli_str(p, "montage"));
    add_window(e, "window_s", t0, t1);
    cJSON_AddNumberToObject(e, "fs_hz", vbt_montage_fs(m));
    cJSON_AddNumberToObject(e, "spectral_window_s", o.win_s);
    cJSON_AddNumberToObject(e, "step_s", o.step_s);
    cJSON_AddStringToObject(e, "taper", cli_str(p, "taper"));
    cJSON_AddNumberToObject(e, "nfft", (double)o.nfft);
    cJSON_AddItemToObject(e, "band_edges_hz", cJSON_CreateDoubleArray(o.bands, 5));
    cJSON_AddNumberToObject(e, "page_hinkley_bias", o.bias);
    cJSON_AddNumberToObject(e, "page_hinkley_threshold", o.threshold);
    cJSON_AddNumberToObject(e, "tau_s", o.tau_s);
    cJSON_AddNumberToObject(e, "horizon_s", o.horizon_s);
    if (isnan(r.n0_s))
        cJSON_AddNullToObject(e, "n0_s");
    else
        cJSON_AddNumberToObject(e, "n0_s", r.n0_s);
    cJSON *outs = cJSON_AddObjectToObject(prov, "outputs");
    cJSON_AddStringToObject(outs, "table", "ei.tsv");
    cJSON_AddStringToObject(outs, "energy_ratio", "er.npy");
    double sh[2] = {(double)r.n_win, (double)r.n_chan};
    cJSON_AddItemToObject(outs, "shape", cJSON_CreateDoubleArray(sh, 2));
    cJSON_AddStringToObject(outs, "axes", "window, channel (montage order)");
    cJSON_AddStringToObject(outs, "time_s", "er_time.npy (window centres)");
    cJSON *chs = cJSON_AddArrayToObject(outs, "channels");
    for (size_t c = 0; c < r.n_chan; c++)
        cJSON_AddItemToArray(chs, cJSON_CreateString(vbt_montage_label(m, c)));
    if (rtab)
        cJSON_AddStringToObject(outs, "regions", "regions_ei.tsv");
    cJSON *timing = cJSON_AddObjectToObject(prov, "timing");
    cJSON_AddNumberToObject(timing, "wall_s", wall);
    if (write_json(p, od, prov))
        goto out;
    if (vbt_outdir_commit(od, &msg)) {
        od = NULL;
        cli_error(p, "%s", msg.text);
        goto out;
    }
    od = NULL;
    size_t nd = 0;
    for (size_t c = 0; c < r.n_chan; c++)
        nd += !isnan(r.detect_s[c]);
    cli_info(p, "EI of %zu channels (%zu detected) over %zu windows in %.2f s", r.n_chan, nd,
             r.n_win, wall);
    printf("outputs in %s: ei.tsv er.npy er_time.npy%s run.json\n", outdir,
           rtab ? " regions_ei.tsv" : "");
    rc = CLI_OK;
out:
    vbt_outdir_abort(od);
    free(rtab);
    cJSON_Delete(prov);
    vbt_ei_clear(&r);
    vbt_montage_free(m);
    vbt_recording_free(rec);
    return rc;
}

/* ---- plot ------------------------------------------------------------------------------ */

static int plot_ei_table(const cli_parsed *p)
{
    const char *in = p->args[1];
    char *buf;
    size_t len;
    vbt_msg msg;
    if (vbt_file_read_all(in, &buf, &len, 16u << 20, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += buf[i] == '\n';
    const char **lab = calloc(cap, sizeof *lab);
    double *val = calloc(cap, sizeof *val);
    size_t n = 0, line = 0;
    int rc = CLI_ERROR;
    if (!lab || !val) {
        cli_error(p, "out of memory");
        goto done;
    }
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (line++ == 0) {
            if (strncmp(l, "rank\tchannel\tei", 15) != 0) {
                cli_error(p, "'%s': not an ei.tsv written by 'vbt seeg ei' (header)", in);
                goto done;
            }
            continue;
        }
        char *f1 = strchr(l, '\t'), *f2 = f1 ? strchr(f1 + 1, '\t') : NULL, *end;
        if (!f2) {
            cli_error(p, "'%s': line %zu: too few columns", in, line);
            goto done;
        }
        *f2 = '\0';
        lab[n] = f1 + 1;
        val[n] = strtod(f2 + 1, &end);
        if (end == f2 + 1 || !isfinite(val[n])) {
            cli_error(p, "'%s': line %zu: EI is not a number", in, line);
            goto done;
        }
        n++;
    }
    if (vbt_seeg_plot_bars(cli_str(p, "output"), "Epileptogenicity Index", lab, val, n,
                           p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto done;
    }
    printf("wrote %s\n", cli_str(p, "output"));
    rc = CLI_OK;
done:
    free(lab);
    free(val);
    free(buf);
    vbt_seeg_plot_release(); /* the process ends after this command */
    return rc;
}

static int do_plot(const cli_parsed *p)
{
    if (ends_with(p->args[1], ".tsv"))
        return plot_ei_table(p);
    vbt_recording *rec = NULL;
    vbt_montage *m = NULL;
    vbt_msg msg;
    int rc = CLI_ERROR;
    if (open_input(p, &rec) || make_montage(p, rec, &m))
        goto out;
    double on, off;
    vbt_recording_seizure(rec, &on, &off);
    double t0 = is_given(p, "t0") ? cli_float(p, "t0") : isnan(on) ? 0.0 : fmax(0, on - 10);
    double t1 = is_given(p, "t1") ? cli_float(p, "t1") : isnan(on) ? t0 + 30 : on + 20;
    if (vbt_seeg_plot_traces(cli_str(p, "output"), m, NULL, 0, t0, t1, on, p->common.force,
                             &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    printf("wrote %s\n", cli_str(p, "output"));
    rc = CLI_OK;
out:
    vbt_montage_free(m);
    vbt_recording_free(rec);
    vbt_seeg_plot_release(); /* the process ends after this command */
    return rc;
}

/* ---- dispatch -------------------------------------------------------------------------- */

static const cli_subcommand actions[] = {
    {"info", do_info},
    {"features", do_features},
    {"ei", do_ei},
    {"plot", do_plot},
};

const cli_command cli_cmd_seeg = {
    .name = "seeg",
    .synopsis = "patient SEEG/EEG recordings: info, fitted features, Epileptogenicity Index, plots",
    .description =
        "ACTION is one of:"
        "\n\n"
        "info -- header, channels (label, type, unit, sampling rate, ranges), annotations, "
        "seizure onset and contact positions of a recording or a BIDS-iEEG "
        "run. Patient identification fields of the EDF header are never printed, and the "
        "recording's start date and time only with --show-identifiers."
        "\n\n"
        "features -- the log-power envelope that VEP models are fitted to (Vattikonda et "
        "al. 2021): window from onset - pre to offset + post (the whole recording without an "
        "onset), zero-phase Butterworth high-pass, square, centred moving average, "
        "log(. + 1), zero-phase low-pass, linear resampling to --points times. Writes "
        "OUTDIR/features.npy (float64 [time, channel]), features_time.npy (s), channels.tsv "
        "(name and mean(feature^2)) and run.json (provenance, SHA-256 of the inputs)."
        "\n\n"
        "ei -- the Epileptogenicity Index (Bartolomei et al. 2008): energy ratio "
        "ER = (E_beta + E_gamma) / (E_theta + E_alpha) from sliding-window FFT spectra, "
        "Page-Hinkley change detection per channel (detection time N_d), "
        "EI = sum_{N_d}^{N_d + H} ER / (N_d - N_0 + tau), normalised to a maximum of 1 "
        "(all 0 when nothing is detected). Defaults: 1 s Hann windows every 0.25 s, bias "
        "0.1 and threshold 1 (the defaults of AnyWave's EI module), tau 1 s and H 5 s "
        "(Bartolomei 2008). Writes OUTDIR/ei.tsv (ranked: EI, detection and alarm times, "
        "peak ER), er.npy (float64 [window, channel]), er_time.npy (window centres, s), "
        "regions_ei.tsv with --regions, and run.json."
        "\n\n"
        "plot -- stacked traces of a recording window with the onset marked, or with an "
        "ei.tsv as INPUT the EI bar chart; PNG, SVG or PDF after the extension of -o."
        "\n\n"
        "Channels of types SEEG, ECOG, EEG (or untyped) at the most common sampling rate are "
        "used unless --channels lists others; bad channels of channels.tsv are dropped "
        "unless --keep-bad. Processing streams one channel at a time, so memory stays a few "
        "times one channel of the window.",
    .args = args,
    .n_args = 2,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = refs,
    .run = cli_run_subcommand,
    .subcommands = actions,
    .n_subcommands = sizeof actions / sizeof actions[0],
};
