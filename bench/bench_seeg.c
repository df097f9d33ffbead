/* bench_seeg.c -- speed and memory of `vbt seeg features` and `vbt seeg ei`
 * on a long synthetic SEEG recording, and the generator of the synthetic
 * BIDS sample in data-samples/seeg_synthetic.
 *
 *   bench_seeg [--minutes M] [--channels C] [--fs HZ] [--dir DIR]
 *       writes DIR/bench.edf (default: 60 min, 128 channels, 512 Hz, in
 *       $TMPDIR), then times the features and the EI over the whole
 *       recording and reports the peak resident memory of the processing
 *       (--keep leaves the EDF file in place);
 *   bench_seeg --sample DIR
 *       writes the small BIDS-iEEG dataset used by docs/seeg.md.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vbt_recording.h"
#include "vbt_seeg.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Resident memory now and at peak, MiB (from /proc/self/status). */
static void rss(double *cur, double *peak)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *cur = *peak = NAN;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6))
            *cur = strtod(line + 6, NULL) / 1024.0;
        if (!strncmp(line, "VmHWM:", 6))
            *peak = strtod(line + 6, NULL) / 1024.0;
    }
    fclose(f);
}

/* Reset the peak-RSS counter so the processing is measured alone. */
static void rss_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static uint64_t g_seed = 0x2545F4914F6CDD1DULL;
static double unif(void)
{
    g_seed ^= g_seed >> 12;
    g_seed ^= g_seed << 25;
    g_seed ^= g_seed >> 27;
    return (double)((g_seed * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* One second of channel c: slow background, or fast activity once t >= sw
 * (and before sw_end), growing over 2 s. */
static void second_of(double *d, size_t fs, size_t s, double sw, double sw_end, double ph,
                      double amp)
{
    for (size_t i = 0; i < fs; i++) {
        double t = (double)s + (double)i / (double)fs;
        double v = sin(2 * M_PI * 5.0 * t + ph) + 0.7 * sin(2 * M_PI * 9.3 * t + 2 * ph);
        if (sw >= 0 && t >= sw && t < sw_end) {
            double g = fmin(1.0, (t - sw) / 2.0);
            v = (1 - g) * v + g * 2.0 * (sin(2 * M_PI * 27.0 * t + ph) +
                                         0.6 * sin(2 * M_PI * 61.0 * t + 3 * ph));
        }
        d[i] = amp * (v + 0.2 * (unif() - 0.5));
    }
}

static int write_recording(const char *path, size_t nch, const char *const *labels, size_t fs,
                           size_t seconds, const double *sw, const double *sw_end,
                           double onset, double duration)
{
    vbt_edf_spec spec = {nch, labels, "uV", (double)fs, -3000, 3000, 0};
    vbt_edf_writer *w;
    vbt_msg msg;
    if (vbt_edf_writer_open(&w, path, &spec, 1, &msg)) {
        fprintf(stderr, "bench_seeg: %s\n", msg.text);
        return -1;
    }
    double *d = malloc(nch * fs * sizeof *d);
    for (size_t s = 0; s < seconds; s++) {
        for (size_t c = 0; c < nch; c++)
            second_of(d + c * fs, fs, s, sw[c], sw_end[c], 0.37 * (double)c,
                      40.0 + 5.0 * (double)(c % 7));
        if (vbt_edf_writer_append(w, d, &msg)) {
            fprintf(stderr, "bench_seeg: %s\n", msg.text);
            vbt_edf_writer_abort(w);
            free(d);
            return -1;
        }
    }
    free(d);
    if (onset >= 0 && vbt_edf_writer_annotate(w, onset, duration, "Seizure", &msg)) {
        vbt_edf_writer_abort(w);
        return -1;
    }
    return vbt_edf_writer_close(w, &msg) ? -1 : 0;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench_seeg: cannot write %s\n", path);
        exit(1);
    }
}

/* data-samples/seeg_synthetic: electrodes A (6 contacts, seizure onset zone,
 * fast activity from 30 s), B (6 contacts, recruited at 34 s on B1-B4), an
 * ECG channel; 60 s at 256 Hz; seizure 30-50 s; B6 marked bad. */
static int write_sample(const char *root)
{
    char dir[4096], p[4400];
    snprintf(dir, sizeof dir, "%s/sub-synth", root);
    mkdir(root, 0755);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/sub-synth/ses-01", root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/sub-synth/ses-01/ieeg", root);
    mkdir(dir, 0755);
    const char *labels[] = {"A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3",
                            "B4", "B5", "B6", "ECG"};
    const double sw[] = {30, 30, 30.5, 31, -1, -1, 34, 34, 34.5, 35, -1, -1, -1};
    double end[13];
    for (size_t c = 0; c < 13; c++)
        end[c] = 50.0;
    const char *pre = "sub-synth_ses-01_task-seizure_run-01";
    snprintf(p, sizeof p, "%s/%s_ieeg.edf", dir, pre);
    if (write_recording(p, 13, labels, 256, 60, sw, end, -1, 0))
        return -1;
    snprintf(p, sizeof p, "%s/%s_channels.tsv", dir, pre);
    put(p, "name\ttype\tunits\tsampling_frequency\tgroup\tstatus\n"
           "A1\tSEEG\tuV\t256\tA\tgood\nA2\tSEEG\tuV\t256\tA\tgood\nA3\tSEEG\tuV\t256\tA\tgood\n"
           "A4\tSEEG\tuV\t256\tA\tgood\nA5\tSEEG\tuV\t256\tA\tgood\nA6\tSEEG\tuV\t256\tA\tgood\n"
           "B1\tSEEG\tuV\t256\tB\tgood\nB2\tSEEG\tuV\t256\tB\tgood\nB3\tSEEG\tuV\t256\tB\tgood\n"
           "B4\tSEEG\tuV\t256\tB\tgood\nB5\tSEEG\tuV\t256\tB\tgood\nB6\tSEEG\tuV\t256\tB\tbad\n"
           "ECG\tECG\tuV\t256\tn/a\tgood\n");
    snprintf(p, sizeof p, "%s/%s_events.tsv", dir, pre);
    put(p, "onset\tduration\ttrial_type\n30.0\t20.0\tseizure\n");
    snprintf(p, sizeof p, "%s/sub-synth_ses-01_space-MNI152NLin2009aSym_electrodes.tsv", dir);
    char el[2048];
    size_t n = (size_t)snprintf(el, sizeof el, "name\tx\ty\tz\tsize\tgroup\n");
    for (int k = 0; k < 6; k++)
        n += (size_t)snprintf(el + n, sizeof el - n, "A%d\t%.1f\t-40.0\t-10.0\t5\tA\n", k + 1,
                              -20.0 - 3.5 * k);
    for (int k = 0; k < 6; k++)
        n += (size_t)snprintf(el + n, sizeof el - n, "B%d\t%.1f\t-60.0\t5.0\t5\tB\n", k + 1,
                              -15.0 - 3.5 * k);
    put(p, el);
    snprintf(p, sizeof p, "%s/sub-synth_ses-01_space-MNI152NLin2009aSym_coordsystem.json", dir);
    put(p, "{\n    \"iEEGCoordinateSystem\": \"MNI152NLin2009aSym\",\n"
           "    \"iEEGCoordinateUnits\": \"mm\",\n"
           "    \"iEEGCoordinateProcessingDescription\": \"synthetic contacts, made up for the "
           "vbt documentation\"\n}\n");
    snprintf(p, sizeof p, "%s/dataset_description.json", root);
    put(p, "{\n    \"Name\": \"vbt synthetic SEEG seizure\",\n    \"BIDSVersion\": \"1.8.0\",\n"
           "    \"DatasetType\": \"raw\",\n    \"License\": \"CC0\",\n"
           "    \"GeneratedBy\": [{\"Name\": \"vbt bench_seeg --sample\"}]\n}\n");
    snprintf(p, sizeof p, "%s/regions.tsv", root);
    put(p, "channel\tregion\nA1\tctx-lh-fusiform\nA2\tctx-lh-fusiform\nA3\tctx-lh-inferiortemporal\n"
           "A4\tctx-lh-inferiortemporal\nA5\tctx-lh-middletemporal\nA6\tctx-lh-middletemporal\n"
           "B1\tctx-lh-lingual\nB2\tctx-lh-lingual\nB3\tctx-lh-lingual\nB4\tctx-lh-inferiorparietal\n"
           "B5\tctx-lh-inferiorparietal\nB6\tctx-lh-inferiorparietal\n");
    return 0;
}

int main(int argc, char **argv)
{
    double minutes = 60, fs = 512;
    size_t nch = 128;
    int keep = 0;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sample") && i + 1 < argc)
            return write_sample(argv[i + 1]) ? 1 : 0;
        else if (!strcmp(argv[i], "--minutes") && i + 1 < argc)
            minutes = atof(argv[++i]);
        else if (!strcmp(argv[i], "--channels") && i + 1 < argc)
            nch = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--fs") && i + 1 < argc)
            fs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else {
            fprintf(stderr, "usage: bench_seeg [--minutes M] [--channels C] [--fs HZ] "
                            "[--dir DIR] [--keep] | --sample DIR\n");
            return 2;
        }
    }
    if (nch < 2 || nch > 600 || !(minutes > 0) || !(fs >= 256)) {
        fprintf(stderr, "bench_seeg: need 2..600 channels, minutes > 0, fs >= 256\n");
        return 2;
    }
    size_t seconds = (size_t)(minutes * 60);
    char path[4096];
    snprintf(path, sizeof path, "%s/vbt-bench-seeg-%ld.edf", dir, (long)getpid());
    char **labels = malloc(nch * sizeof *labels);
    double *sw = malloc(nch * sizeof *sw), *end = malloc(nch * sizeof *end);
    for (size_t c = 0; c < nch; c++) {
        labels[c] = malloc(16);
        snprintf(labels[c], 16, "%c%zu", (char)('A' + (int)(c / 10) % 26), c % 10 + 1);
        sw[c] = c % 8 == 0 ? (double)seconds / 2 + (double)(c % 5) : -1;
        end[c] = (double)seconds / 2 + 60;
    }
    double t = now();
    if (write_recording(path, nch, (const char *const *)labels, (size_t)fs, seconds, sw, end,
                        (double)seconds / 2, 60))
        return 1;
    struct stat st;
    stat(path, &st);
    printf("wrote %s: %zu channels x %zu s at %g Hz, %.0f MB, in %.1f s\n", path, nch, seconds,
           fs, (double)st.st_size / 1e6, now() - t);

    vbt_recording *rec;
    vbt_montage *m;
    vbt_msg msg;
    double cur, peak;
    rss_reset_peak();
    rss(&cur, &peak);
    printf("resident before processing: %.1f MiB\n", cur);
    t = now();
    if (vbt_recording_open(&rec, path, &msg) ||
        vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg)) {
        fprintf(stderr, "bench_seeg: %s\n", msg.text);
        return 1;
    }
    vbt_features_opts fo;
    vbt_features_opts_default(&fo);
    vbt_features f;
    if (vbt_features_compute(m, 0, (double)seconds, &fo, &f, &msg)) {
        fprintf(stderr, "bench_seeg: %s\n", msg.text);
        return 1;
    }
    double tf = now() - t;
    rss(&cur, &peak);
    printf("features (whole recording, %zu x %zu output): %.2f s, peak resident %.1f MiB\n",
           f.n_time, f.n_chan, tf, peak);
    vbt_features_clear(&f);
    rss_reset_peak();
    t = now();
    vbt_ei_opts eo;
    vbt_ei_opts_default(&eo);
    vbt_ei_result r;
    if (vbt_ei_compute(m, 0, (double)seconds, &eo, &r, &msg)) {
        fprintf(stderr, "bench_seeg: %s\n", msg.text);
        return 1;
    }
    double te = now() - t;
    rss(&cur, &peak);
    printf("EI (whole recording, %zu windows x %zu channels): %.2f s, peak resident %.1f MiB\n",
           r.n_win, r.n_chan, te, peak);
    printf("first ranked: %s (EI %.3f, detected at %.2f s)\n",
           vbt_montage_label(m, r.rank[0]), r.ei[r.rank[0]], r.detect_s[r.rank[0]]);
    printf("features + EI: %.2f s\n", tf + te);
    vbt_ei_clear(&r);
    vbt_montage_free(m);
    vbt_recording_free(rec);
    if (!keep)
        unlink(path);
    for (size_t c = 0; c < nch; c++)
        free(labels[c]);
    free(labels);
    free(sw);
    free(end);
    return 0;
}
