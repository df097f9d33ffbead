/* vcohort_edf.c -- the recording step of scripts/make-virtual-cohort.sh:
 * turns the SEEG that `vbt simulate` projected through a subject's contacts
 * into the EDF a clinical amplifier would have written, with every channel
 * of the real run's channels.tsv in its order.
 *
 *   vcohort_edf SEEG.npy CHANMAP.tsv FS_HZ SEED LINE_HZ OUT.edf
 *
 * SEEG.npy: the simulation's seeg monitor, [T][1][n_sim] float64.
 * CHANMAP.tsv: one line per EDF channel, "label<TAB>k": k the column of
 * SEEG.npy that the channel records, or -1 for a channel without a simulated
 * source (no coordinates: scalp, EKG), which records noise only.
 *
 * Recording model (microvolts), per channel c and sample t:
 *   y = A (s_c(t) - mean_t s_c) + pink_c(t) + white_c(t) + line(t)
 * A scales the simulated signal so that the channel with the largest
 * standard deviation has SIGNAL_UV (an ictal SEEG of a few hundred uV peak
 * to peak); the mean is removed (AC-coupled amplifier).  pink: background
 * activity with a 1/f spectrum between 0.5 and 100 Hz and standard deviation
 * PINK_UV, the sum of NPOLE first-order low-pass filtered white noises
 * with log-spaced corner frequencies and equal variances (each contributes
 * a Lorentzian; their sum falls as 1/f between the first and last corner);
 * white: amplifier noise, WHITE_UV; line: mains interference at LINE_HZ
 * (0: none) with amplitude LINE_UV and a random phase per channel.
 * Deterministic: the same inputs and SEED give the same bytes.  Written
 * through vbt_edf_writer (EDF+, 16 bits, one-second records; physical range
 * the data's absolute maximum, rounded up to 100 uV). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vbt.h"
#include "vbt_io.h"
#include "vbt_recording.h"
#include "vbt_rng.h"

#define SIGNAL_UV 150.0
#define PINK_UV 15.0
#define WHITE_UV 2.0
#define LINE_UV 3.0
#define NPOLE 6
#define MAXCH 1024

static int fail(const char *what, const vbt_msg *msg)
{
    fprintf(stderr, "vcohort_edf: %s: %s\n", what, msg ? msg->text : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: vcohort_edf SEEG.npy CHANMAP.tsv FS_HZ SEED LINE_HZ OUT.edf\n");
        return 2;
    }
    const double fs = atof(argv[3]);
    const unsigned long long seed = strtoull(argv[4], NULL, 10);
    const double line_hz = atof(argv[5]);
    vbt_msg msg;
    vbt_array a = {0};
    if (vbt_npy_read(argv[1], &a, &msg) != VBT_OK)
        return fail(argv[1], &msg);
    if (a.ndim != 3 || a.shape[1] != 1 || fs < 1 || fs != floor(fs)) {
        fprintf(stderr, "vcohort_edf: expected [T][1][n] and an integer FS_HZ\n");
        return 1;
    }
    const size_t T = a.shape[0], ns = a.shape[2];
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    static char labels[MAXCH][256];
    static long src[MAXCH];
    size_t nc = 0;
    char line[256];
    while (fgets(line, sizeof line, f) && nc < MAXCH) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        snprintf(labels[nc], sizeof labels[nc], "%s", line);
        src[nc] = strtol(tab + 1, NULL, 10);
        if (src[nc] >= (long)ns) {
            fprintf(stderr, "vcohort_edf: channel %s: column %ld of %zu\n", line, src[nc], ns);
            fclose(f);
            return 1;
        }
        nc++;
    }
    fclose(f);
    const size_t spr = (size_t)fs, nrec = T / spr, n = nrec * spr;
    if (nc == 0 || nrec == 0) {
        fprintf(stderr, "vcohort_edf: no channels or shorter than one second\n");
        return 1;
    }
    /* Signal scale: SIGNAL_UV over the largest channel standard deviation. */
    double *mean = calloc(ns, sizeof *mean), sdmax = 0;
    for (size_t k = 0; k < ns; k++) {
        double s = 0, s2 = 0;
        for (size_t t = 0; t < n; t++)
            s += a.data[t * ns + k];
        mean[k] = s / (double)n;
        for (size_t t = 0; t < n; t++) {
            double d = a.data[t * ns + k] - mean[k];
            s2 += d * d;
        }
        double sd = sqrt(s2 / (double)n);
        if (sd > sdmax)
            sdmax = sd;
    }
    const double A = sdmax > 0 ? SIGNAL_UV / sdmax : 0;
    double *y = malloc(nc * n * sizeof *y), *w = malloc(n * sizeof *w);
    double amax = 0;
    for (size_t c = 0; c < nc; c++) {
        vbt_rng rng;
        vbt_rng_init(&rng, seed, c);
        double *yc = y + c * n;
        for (size_t t = 0; t < n; t++)
            yc[t] = src[c] >= 0 ? A * (a.data[t * ns + (size_t)src[c]] - mean[src[c]]) : 0.0;
        /* 1/f background: NPOLE AR(1) processes, corners 0.5 .. 100 Hz. */
        for (int p = 0; p < NPOLE; p++) {
            double fc = 0.5 * pow(200.0, (double)p / (NPOLE - 1));
            double rho = exp(-2 * M_PI * fc / fs), g = sqrt(1 - rho * rho);
            double sd = PINK_UV / sqrt((double)NPOLE), z = 0;
            vbt_rng_normal(&rng, w, n);
            z = sd * w[0];
            for (size_t t = 0; t < n; t++) {
                z = rho * z + g * sd * w[t];
                yc[t] += z;
            }
        }
        vbt_rng_normal(&rng, w, n);
        double ph;
        vbt_rng_uniform(&rng, &ph, 1);
        for (size_t t = 0; t < n; t++) {
            yc[t] += WHITE_UV * w[t];
            if (line_hz > 0)
                yc[t] += LINE_UV * sin(2 * M_PI * (line_hz * (double)t / fs + ph));
            if (fabs(yc[t]) > amax)
                amax = fabs(yc[t]);
        }
    }
    const char *lab[MAXCH];
    for (size_t c = 0; c < nc; c++)
        lab[c] = labels[c];
    double range = 100.0 * ceil(amax / 100.0);
    vbt_edf_spec spec = {.n_channels = nc, .labels = lab, .unit = "uV", .fs_hz = fs,
                         .phys_min = -range, .phys_max = range};
    vbt_edf_writer *wr;
    if (vbt_edf_writer_open(&wr, argv[6], &spec, 1, &msg) != VBT_OK)
        return fail(argv[6], &msg);
    double *rec = malloc(nc * spr * sizeof *rec);
    for (size_t r = 0; r < nrec; r++) {
        for (size_t c = 0; c < nc; c++)
            memcpy(rec + c * spr, y + c * n + r * spr, spr * sizeof *rec);
        if (vbt_edf_writer_append(wr, rec, &msg) != VBT_OK) {
            vbt_edf_writer_abort(wr);
            return fail(argv[6], &msg);
        }
    }
    if (vbt_edf_writer_close(wr, &msg) != VBT_OK)
        return fail(argv[6], &msg);
    printf("%zu channels, %zu s at %g Hz, signal scale %.6g uV/unit, range %g uV\n", nc, nrec,
           fs, A, range);
    free(rec);
    free(y);
    free(w);
    free(mean);
    vbt_array_clear(&a);
    return 0;
}
