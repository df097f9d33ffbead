/* test_recording.c -- clinical/ recordings: EDF/EDF+/BDF reading on real
 * files (pyedflib's generator, Sleep-EDF's short PSG and hypnogram), every
 * malformed-file error, the EDF+/BDF+ writer, BIDS-iEEG sidecars and
 * montages; BrainVision (vbt's reader) against analytic values and MNE,
 * GDF and Micromed through libbiosig's child process (a libbiosig crash is an
 * error), UTF-8 labels, EDF+D and header details. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fftw3.h>

#include "test_util.h"

#include "vbt_recording.h"
#include "vbt_seeg.h"

static char *g_tmp;

static const char *clin(const char *name)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/clinical/%s", tu_data_dir(), name);
    return buf[k];
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int contains(const void *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    const char *b = buf;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(b + i, needle, n) == 0)
            return 1;
    return 0;
}

/* Open must fail with `status` and a message containing `needle`. */
static void expect_open_error(const char *path, int status, const char *needle)
{
    vbt_recording *rec = (vbt_recording *)1;
    vbt_msg msg;
    int rc = vbt_recording_open(&rec, path, &msg);
    if (rc != status || !strstr(msg.text, needle))
        fail_msg("open '%s': status %d (want %d), message \"%s\" (want \"%s\")", path, rc,
                 status, msg.text, needle);
    assert_null(rec);
    assert_non_null(strstr(msg.text, path));
}

/* ---- real files ------------------------------------------------------------------- */

/* Each "sine X Hz" channel of the generator peaks at X Hz: a 600 s FFT has
 * 1/600 Hz bins, so the peak must be the bin nearest X (tolerance one bin);
 * amplitude 100 uV to the quantisation step (2000 uV / 65535). */
static void test_generator_sines(void **state)
{
    (void)state;
    vbt_recording *rec;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&rec, clin("pyedflib/test_generator.edf"), &msg), 0);
    assert_string_equal(vbt_recording_format(rec), "EDF+C");
    assert_int_equal(vbt_recording_n_channels(rec), 11);
    assert_close(vbt_recording_duration_s(rec), 600.0, 1e-12);
    assert_int_equal(vbt_recording_n_annotations(rec), 2);
    assert_string_equal(vbt_recording_annotation(rec, 0)->text, "Recording starts");
    assert_close(vbt_recording_annotation(rec, 1)->onset_s, 600.0, 1e-9);
    const double freqs[] = {1, 8, 8.1777, 8.5, 15, 17, 50};
    const size_t n = 120000;
    double *x = fftw_malloc(n * sizeof *x);
    fftw_complex *X = fftw_malloc((n / 2 + 1) * sizeof *X);
    fftw_plan plan = fftw_plan_dft_r2c_1d((int)n, x, X, FFTW_ESTIMATE);
    for (size_t k = 0; k < sizeof freqs / sizeof freqs[0]; k++) {
        char label[32];
        size_t ch;
        snprintf(label, sizeof label, "sine %g Hz", freqs[k]);
        assert_int_equal(vbt_recording_find_channel(rec, label, &ch), 0);
        const vbt_rec_channel *c = vbt_recording_channel(rec, ch);
        assert_close(c->fs_hz, 200.0, 0);
        assert_int_equal(c->n_samples, (int64_t)n);
        assert_string_equal(c->unit, "uV");
        assert_int_equal(vbt_recording_read(rec, ch, 0, n, x), 0);
        /* amplitude from the RMS: 100 uV; tolerance covers the quantisation step
         * (0.03 uV) and a non-integer number of periods (8.1777 Hz) */
        double ss = 0;
        for (size_t i = 0; i < n; i++)
            ss += x[i] * x[i];
        assert_close(sqrt(2.0 * ss / (double)n), 100.0, 0.05);
        fftw_execute(plan);
        size_t best = 1;
        for (size_t b = 1; b <= n / 2; b++)
            if (cabs(X[b]) > cabs(X[best]))
                best = b;
        double fpeak = (double)best * 200.0 / (double)n;
        assert_close(fpeak, freqs[k], 1.0 / 600.0 + 1e-12);
    }
    /* a window is read without the rest: [10.5, 11) s is samples 2100..2199 */
    size_t ch;
    int64_t first;
    size_t cnt;
    assert_int_equal(vbt_recording_find_channel(rec, "sine 8 Hz", &ch), 0);
    assert_int_equal(vbt_recording_window(rec, ch, 10.5, 11.0, &first, &cnt), 0);
    assert_int_equal(first, 2100);
    assert_int_equal(cnt, 100);
    double w[100];
    assert_int_equal(vbt_recording_read(rec, ch, first, cnt, w), 0);
    assert_int_equal(vbt_recording_read(rec, ch, 0, n, x), 0);
    for (size_t i = 0; i < cnt; i++)
        assert_true(w[i] == x[2100 + i]);
    /* label matching ignores case and spaces */
    assert_int_equal(vbt_recording_find_channel(rec, "SINE 8HZ", &ch), 0);
    assert_int_equal(vbt_recording_find_channel(rec, "sine 9 Hz", &ch), VBT_ENOTFOUND);
    assert_non_null(strstr(vbt_recording_errmsg(rec), "sine 9 Hz"));
    assert_int_equal(vbt_recording_read(rec, 0, (int64_t)n - 5, 6, x), VBT_ERANGE);
    assert_int_equal(vbt_recording_read(rec, 0, -1, 1, x), VBT_ERANGE);
    assert_int_equal(vbt_recording_read(rec, 11, 0, 1, x), VBT_ERANGE);
    assert_int_equal(vbt_recording_window(rec, 0, 700, 800, &first, &cnt), VBT_ERANGE);
    fftw_destroy_plan(plan);
    fftw_free(x);
    fftw_free(X);
    vbt_recording_free(rec);
}

/* short_psg.edf: physical values equal pmin + (d - dmin)(pmax - pmin)/(dmax - dmin)
 * computed here from the raw little-endian samples, for the asymmetric
 * ranges (-2048..2047 -> -192..192; -2849..2731 -> 34..40 DegC); 1e-9. */
static void test_psg_scaling(void **state)
{
    (void)state;
    vbt_recording *rec;
    vbt_msg msg;
    const char *path = clin("edfio/short_psg.edf");
    assert_int_equal(vbt_recording_open(&rec, path, &msg), 0);
    assert_string_equal(vbt_recording_format(rec), "EDF");
    assert_int_equal(vbt_recording_n_channels(rec), 7);
    assert_close(vbt_recording_record_s(rec), 30.0, 0);
    vbt_datetime s = vbt_recording_start(rec);
    assert_int_equal(s.year, 1989);
    assert_int_equal(s.month, 4);
    assert_int_equal(s.hour, 16);
    size_t len;
    unsigned char *raw = slurp(path, &len);
    assert_int_equal(len, 184448);
    /* record layout: 3 x 3000 samples, then 4 x 30; 2 bytes each */
    const size_t rec_bytes = (3 * 3000 + 4 * 30) * 2;
    const struct { size_t ch, off, spr; } sig[] = {{0, 0, 3000}, {1, 6000, 3000},
                                                   {4, 18060, 30}, {5, 18120, 30}};
    for (size_t k = 0; k < 4; k++) {
        const vbt_rec_channel *c = vbt_recording_channel(rec, sig[k].ch);
        size_t n = (size_t)c->n_samples;
        assert_int_equal(n, sig[k].spr * 10);
        double *x = malloc(n * sizeof *x);
        assert_int_equal(vbt_recording_read(rec, sig[k].ch, 0, n, x), 0);
        double g = (c->phys_max - c->phys_min) / (double)(c->dig_max - c->dig_min);
        for (size_t i = 0; i < n; i++) {
            size_t r = i / sig[k].spr, j = i % sig[k].spr;
            const unsigned char *b = raw + 2048 + r * rec_bytes + sig[k].off + 2 * j;
            int d = (int16_t)(uint16_t)(b[0] | b[1] << 8);
            double want = c->phys_min + (double)(d - c->dig_min) * g;
            if (fabs(x[i] - want) > 1e-9)
                fail_msg("%s sample %zu: %.12g, want %.12g", c->label, i, x[i], want);
        }
        free(x);
    }
    const vbt_rec_channel *t = vbt_recording_channel(rec, 5);
    assert_string_equal(t->label, "Temp rectal");
    assert_string_equal(t->unit, "DegC");
    assert_string_equal(t->type, "TEMP");
    assert_int_equal(t->dig_min, -2849);
    assert_int_equal(t->dig_max, 2731);
    assert_close(t->fs_hz, 1.0, 0);
    assert_string_equal(vbt_recording_channel(rec, 0)->type, "EEG");
    /* nothing of the patient field is kept anywhere in the handle */
    for (size_t i = 0; i < 7; i++) {
        const vbt_rec_channel *c = vbt_recording_channel(rec, i);
        assert_false(contains(c, sizeof *c, "Female"));
    }
    free(raw);
    vbt_recording_free(rec);
}

/* The hypnogram is EDF+C with only an annotation signal: 154 TALs. */
static void test_hypnogram(void **state)
{
    (void)state;
    vbt_recording *rec;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&rec, clin("edfio/SC4001EC-Hypnogram.edf"), &msg), 0);
    assert_string_equal(vbt_recording_format(rec), "EDF+C");
    assert_int_equal(vbt_recording_n_channels(rec), 0);
    assert_int_equal(vbt_recording_n_annotations(rec), 154);
    const vbt_annotation *a = vbt_recording_annotation(rec, 0);
    assert_string_equal(a->text, "Sleep stage W");
    assert_close(a->onset_s, 0.0, 0);
    assert_close(a->duration_s, 30630.0, 1e-9);
    a = vbt_recording_annotation(rec, 1);
    assert_string_equal(a->text, "Sleep stage 1");
    assert_close(a->onset_s, 30630.0, 1e-9);
    assert_null(vbt_recording_annotation(rec, 154));
    double on;
    assert_int_equal(vbt_recording_seizure(rec, &on, NULL), VBT_ENOTFOUND);
    assert_true(isnan(on));
    vbt_recording_free(rec);
}

/* ---- malformed files ----------------------------------------------------------------- */

static const char *bad_copy(const char *name, const unsigned char *b, size_t len)
{
    const char *p = tu_path(g_tmp, name);
    tu_write_bytes(p, b, len);
    return p;
}

static void set_field(unsigned char *b, size_t off, size_t len, const char *v)
{
    memset(b + off, ' ', len);
    memcpy(b + off, v, strlen(v));
}

static void test_malformed(void **state)
{
    (void)state;
    size_t len;
    unsigned char *raw = slurp(clin("edfio/short_psg.edf"), &len);
    unsigned char *b = malloc(len + 100);
    memcpy(b, raw, len);
    memset(b + len, 0, 100);

    expect_open_error(tu_path(g_tmp, "absent.edf"), VBT_EIO, "No such file");
    expect_open_error(bad_copy("empty.edf", b, 0), VBT_EFORMAT, "empty file");
    expect_open_error(bad_copy("short.edf", b, 100), VBT_EFORMAT, "truncated");
    expect_open_error(bad_copy("hdr.edf", b, 1000), VBT_EFORMAT, "truncated");
    expect_open_error(bad_copy("cut.edf", b, len - 1), VBT_EFORMAT, "truncated");
    expect_open_error(bad_copy("long.edf", b, len + 100), VBT_EFORMAT,
                      "record count or sizes are wrong");
    tu_write_file(tu_path(g_tmp, "text.edf"), "name\ttype\nA1\tSEEG\n");
    expect_open_error(tu_path(g_tmp, "text.edf"), VBT_EFORMAT, "not an EDF or BDF file");
    /* header lies: 11 records announced, 10 present; 9 announced, 10 present */
    set_field(b, 236, 8, "11");
    expect_open_error(bad_copy("lie11.edf", b, len), VBT_EFORMAT, "truncated");
    set_field(b, 236, 8, "9");
    expect_open_error(bad_copy("lie9.edf", b, len), VBT_EFORMAT,
                      "record count or sizes are wrong");
    set_field(b, 236, 8, "ten");
    expect_open_error(bad_copy("nan.edf", b, len), VBT_EFORMAT, "not a number");
    memcpy(b, raw, len);
    /* wrong sizes: samples per record of signal 1 */
    set_field(b, 256 + 7 * 216, 8, "3001");
    expect_open_error(bad_copy("spr.edf", b, len), VBT_EFORMAT, "truncated");
    set_field(b, 256 + 7 * 216, 8, "0");
    expect_open_error(bad_copy("spr0.edf", b, len), VBT_EFORMAT, "samples per record");
    memcpy(b, raw, len);
    set_field(b, 184, 8, "2304");
    expect_open_error(bad_copy("hb.edf", b, len), VBT_EFORMAT, "header says it is 2304");
    memcpy(b, raw, len);
    set_field(b, 252, 4, "0");
    expect_open_error(bad_copy("ns0.edf", b, len), VBT_EFORMAT, "signals");
    memcpy(b, raw, len);
    /* EDFlib's own checks stay behind ours: a digital max below the min */
    set_field(b, 256 + 7 * 128, 8, "-3000");
    expect_open_error(bad_copy("dig.edf", b, len), VBT_EFORMAT, "EDFlib");
    /* a directory is not a file */
    expect_open_error(g_tmp, VBT_EIO, "not a regular file");
    vbt_recording *rec;
    assert_int_equal(vbt_recording_open(NULL, "x", NULL), VBT_EINVAL);
    assert_int_equal(vbt_recording_open(&rec, NULL, NULL), VBT_EINVAL);
    vbt_recording_free(NULL);
    free(b);
    free(raw);
}

/* ---- writer ----------------------------------------------------------------------- */

static void write_synthetic(const char *path, size_t nch, const char *const *labels,
                            double fs, size_t seconds, int bdf, double onset)
{
    vbt_edf_spec spec = {nch, labels, "uV", fs, -500, 500, bdf};
    vbt_edf_writer *w;
    vbt_msg msg;
    if (vbt_edf_writer_open(&w, path, &spec, 1, &msg))
        fail_msg("%s", msg.text);
    size_t nf = (size_t)fs;
    double *d = malloc(nch * nf * sizeof *d);
    for (size_t s = 0; s < seconds; s++) {
        for (size_t c = 0; c < nch; c++)
            for (size_t i = 0; i < nf; i++) {
                double t = (double)s + (double)i / fs;
                d[c * nf + i] = 40.0 * sin(2 * M_PI * (3.0 + (double)c) * t) + 7.3 * (double)c;
            }
        assert_int_equal(vbt_edf_writer_append(w, d, &msg), 0);
    }
    if (onset >= 0)
        assert_int_equal(vbt_edf_writer_annotate(w, onset, 2.0, "Seizure onset", &msg), 0);
    assert_int_equal(vbt_edf_writer_close(w, &msg), 0);
    free(d);
}

/* Values come back to the quantisation step (1000 uV / 65535 for EDF,
 * 1000 / 16777215 for BDF). */
static void test_writer_roundtrip(void **state)
{
    (void)state;
    const char *labels[] = {"A1", "A2", "A3"};
    for (int bdf = 0; bdf < 2; bdf++) {
        const char *path = tu_path(g_tmp, bdf ? "rt.bdf" : "rt.edf");
        write_synthetic(path, 3, labels, 256, 4, bdf, 1.5);
        vbt_recording *rec;
        vbt_msg msg;
        assert_int_equal(vbt_recording_open(&rec, path, &msg), 0);
        assert_string_equal(vbt_recording_format(rec), bdf ? "BDF+C" : "EDF+C");
        assert_int_equal(vbt_recording_n_channels(rec), 3);
        double on, off;
        assert_int_equal(vbt_recording_seizure(rec, &on, &off), 0);
        assert_close(on, 1.5, 1e-9);
        assert_close(off, 3.5, 1e-9);
        double x[1024], q = 1000.0 / (bdf ? 16777215.0 : 65535.0);
        for (size_t c = 0; c < 3; c++) {
            assert_int_equal(vbt_recording_read(rec, c, 0, 1024, x), 0);
            for (size_t i = 0; i < 1024; i++) {
                double t = (double)i / 256.0;
                double want = 40.0 * sin(2 * M_PI * (3.0 + (double)c) * t) + 7.3 * (double)c;
                assert_close(x[i], want, q);
            }
        }
        vbt_recording_free(rec);
    }
    /* refusing to overwrite; bad specs */
    vbt_edf_spec spec = {3, labels, NULL, 256, -1, 1, 0};
    vbt_edf_writer *w;
    vbt_msg msg;
    assert_int_equal(vbt_edf_writer_open(&w, tu_path(g_tmp, "rt.edf"), &spec, 0, &msg),
                     VBT_EEXIST);
    spec.fs_hz = 256.5;
    assert_int_equal(vbt_edf_writer_open(&w, tu_path(g_tmp, "x.edf"), &spec, 0, &msg),
                     VBT_EINVAL);
    spec.fs_hz = 256;
    spec.phys_min = 2;
    assert_int_equal(vbt_edf_writer_open(&w, tu_path(g_tmp, "x.edf"), &spec, 0, &msg),
                     VBT_EINVAL);
    spec.phys_min = -1;
    spec.n_channels = 0;
    assert_int_equal(vbt_edf_writer_open(&w, tu_path(g_tmp, "x.edf"), &spec, 0, &msg),
                     VBT_EINVAL);
    spec.n_channels = 3;
    assert_int_equal(vbt_edf_writer_open(&w, tu_path(g_tmp, "x.edf"), &spec, 0, &msg), 0);
    vbt_edf_writer_abort(w);
    assert_false(tu_exists(tu_path(g_tmp, "x.edf")));
    assert_int_equal(vbt_edf_writer_open(&w, tu_path(g_tmp, "nodir/x.edf"), &spec, 0, &msg),
                     VBT_EIO);
}

/* ---- BIDS --------------------------------------------------------------------------- */

static const char *bids_dir(const char *sub)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/bids/%s", g_tmp, sub);
    return buf;
}

static void make_bids(void)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/bids", g_tmp);
    mkdir(p, 0755);
    mkdir(bids_dir("sub-01"), 0755);
    mkdir(bids_dir("sub-01/ses-01"), 0755);
    mkdir(bids_dir("sub-01/ses-01/ieeg"), 0755);
    const char *labels[] = {"A1", "A2", "A3", "B'1", "B'2", "ECG"};
    const char *pre = bids_dir("sub-01/ses-01/ieeg/sub-01_ses-01_task-sz_run-01");
    snprintf(p, sizeof p, "%s_ieeg.edf", pre);
    write_synthetic(p, 6, labels, 128, 8, 0, -1);
    snprintf(p, sizeof p, "%s_channels.tsv", pre);
    tu_write_file(p, "name\ttype\tunits\tsampling_frequency\tgroup\tstatus\n"
                     "A1\tSEEG\tuV\t128\tA\tgood\nA2\tSEEG\tuV\t128\tA\tbad\n"
                     "A3\tSEEG\tuV\t128\tA\tgood\nB'1\tseeg\tuV\t128\tB'\tgood\n"
                     "B'2\tSEEG\tuV\t128\tB'\tgood\nECG\tECG\tuV\t128\tn/a\tgood\n");
    snprintf(p, sizeof p, "%s_events.tsv", pre);
    tu_write_file(p, "onset\tduration\ttrial_type\n1.25\tn/a\tartefact\n3.5\t2\tSeizure\n");
    tu_write_file(bids_dir("sub-01/ses-01/ieeg/sub-01_ses-01_space-MNI_electrodes.tsv"),
                  "name\tx\ty\tz\tsize\nA1\t-10.5\t20.25\t3\t5\nA2\t-13\t20\t3\t5\n"
                  "B'1\tn/a\tn/a\tn/a\t5\n");
    tu_write_file(bids_dir("sub-01/ses-01/ieeg/sub-01_ses-01_space-MNI_coordsystem.json"),
                  "{\"iEEGCoordinateSystem\": \"MNI152NLin2009aSym\", "
                  "\"iEEGCoordinateUnits\": \"mm\"}");
}

static void test_bids(void **state)
{
    (void)state;
    make_bids();
    char root[4096];
    snprintf(root, sizeof root, "%s/bids", g_tmp);
    vbt_bids_query q = {.sub = "01", .ses = "01", .task = "sz", .run = "01"};
    vbt_recording *rec;
    vbt_msg msg;
    if (vbt_recording_open_bids(&rec, root, &q, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(vbt_recording_n_channels(rec), 5); /* A2 (bad) dropped */
    size_t k;
    assert_int_equal(vbt_recording_find_channel(rec, "A2", &k), VBT_ENOTFOUND);
    assert_int_equal(vbt_recording_find_channel(rec, "ECG", &k), 0);
    assert_string_equal(vbt_recording_channel(rec, k)->type, "ECG");
    assert_int_equal(vbt_recording_find_channel(rec, "B'1", &k), 0);
    assert_string_equal(vbt_recording_channel(rec, k)->type, "SEEG");
    assert_string_equal(vbt_recording_channel(rec, k)->group, "B'");
    assert_false(vbt_recording_channel(rec, k)->has_xyz); /* n/a position */
    assert_int_equal(vbt_recording_find_channel(rec, "A1", &k), 0);
    const vbt_rec_channel *a1 = vbt_recording_channel(rec, k);
    assert_true(a1->has_xyz);
    assert_close(a1->xyz[0], -10.5, 0);
    assert_close(a1->xyz[1], 20.25, 0);
    assert_string_equal(vbt_recording_coord_system(rec), "MNI152NLin2009aSym");
    double on, off;
    assert_int_equal(vbt_recording_seizure(rec, &on, &off), 0);
    assert_close(on, 3.5, 0);
    assert_close(off, 5.5, 0);
    assert_int_equal(vbt_recording_n_annotations(rec), 2);
    /* the samples of a channel after dropping still come from the right signal */
    double x[4];
    assert_int_equal(vbt_recording_find_channel(rec, "A3", &k), 0);
    assert_int_equal(vbt_recording_read(rec, k, 0, 1, x), 0);
    assert_close(x[0], 2 * 7.3, 1000.0 / 65535);
    vbt_recording_free(rec);

    /* keep_bad; the *_ieeg.edf path instead of the root; no task/run */
    q.keep_bad = 1;
    q.task = q.run = NULL;
    assert_int_equal(vbt_recording_open_bids(&rec, root, &q, &msg), 0);
    assert_int_equal(vbt_recording_n_channels(rec), 6);
    assert_int_equal(vbt_recording_find_channel(rec, "A2", &k), 0);
    assert_true(vbt_recording_channel(rec, k)->bad);
    vbt_recording_free(rec);
    char edf[4096];
    snprintf(edf, sizeof edf, "%s", bids_dir("sub-01/ses-01/ieeg/sub-01_ses-01_task-sz_run-01_ieeg.edf"));
    assert_int_equal(vbt_recording_open_bids(&rec, edf, NULL, &msg), 0);
    assert_int_equal(vbt_recording_n_channels(rec), 5);
    vbt_recording_free(rec);

    /* errors: no subject, unknown run, ambiguous runs, inconsistent channels.tsv,
     * malformed rows */
    vbt_bids_query bad = {0};
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "subject"));
    bad = (vbt_bids_query){.sub = "01", .ses = "01", .run = "07"};
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_ENOTFOUND);
    bad = (vbt_bids_query){.sub = "02"};
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_ENOTFOUND);
    char p2[4096];
    snprintf(p2, sizeof p2, "%s", bids_dir("sub-01/ses-01/ieeg/sub-01_ses-01_task-sz_run-02_ieeg.edf"));
    const char *labels[] = {"A1", "A2"};
    write_synthetic(p2, 2, labels, 128, 2, 0, -1);
    bad = (vbt_bids_query){.sub = "01", .ses = "01"};
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "2 recordings"));
    snprintf(p2, sizeof p2, "%s", bids_dir("sub-01/ses-01/ieeg/sub-01_ses-01_task-sz_run-02_channels.tsv"));
    tu_write_file(p2, "name\ttype\tunits\nA1\tSEEG\tuV\nC9\tSEEG\tuV\n");
    bad.run = "02";
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "'C9'"));
    tu_write_file(p2, "name\ttype\tunits\nA1\tSEEG\n");
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "row 2"));
    tu_write_file(p2, "name\tunits\nA1\tuV\n");
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "required columns"));
    tu_write_file(p2, "name\ttype\tunits\nA1\tSEEG\tuV\n");
    snprintf(p2, sizeof p2, "%s", bids_dir("sub-01/ses-01/ieeg/sub-01_ses-01_task-sz_run-02_events.tsv"));
    tu_write_file(p2, "onset\tduration\nsoon\t0\n");
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "onset 'soon'"));
    unlink(p2);
    /* missing optional sidecars are fine */
    assert_int_equal(vbt_recording_open_bids(&rec, root, &bad, &msg), 0);
    assert_int_equal(vbt_recording_seizure(rec, NULL, NULL), VBT_ENOTFOUND);
    vbt_recording_free(rec);
}

/* The shipped ieeg_epilepsy sidecars (metadata only; the EDF is not public)
 * parse against a synthetic EDF with the same 128 channel names. */
static void test_bids_example_sidecars(void **state)
{
    (void)state;
    /* tests/data/shared: copies of ../shared/data (see the README there). */
    char src[4096];
    snprintf(src, sizeof src, "%s/shared/bids-examples/ieeg_epilepsy/sub-01/ses-postimp/ieeg",
             tu_data_dir());
    char chans[4200];
    snprintf(chans, sizeof chans, "%s/sub-01_ses-postimp_task-seizure_run-01_channels.tsv", src);
    if (!tu_exists(chans))
        fail_msg("test data '%s' is missing (shipped with the sources)", chans);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ieeg_ex", g_tmp);
    mkdir(dir, 0755);
    /* labels from channels.tsv */
    FILE *f = fopen(chans, "r");
    char line[512], *labels[128];
    size_t n = 0;
    assert_non_null(fgets(line, sizeof line, f));
    while (n < 128 && fgets(line, sizeof line, f)) {
        *strchr(line, '\t') = '\0';
        labels[n++] = strdup(line);
    }
    fclose(f);
    assert_int_equal(n, 128);
    char p[4200];
    snprintf(p, sizeof p, "%s/sub-01_ses-postimp_task-seizure_run-01_ieeg.edf", dir);
    write_synthetic(p, n, (const char *const *)labels, 16, 2, 0, -1);
    const char *copy[] = {"sub-01_ses-postimp_task-seizure_run-01_channels.tsv",
                          "sub-01_ses-postimp_task-seizure_run-01_events.tsv",
                          "sub-01_ses-postimp_space-IXI549Space_electrodes.tsv",
                          "sub-01_ses-postimp_space-IXI549Space_coordsystem.json"};
    for (size_t i = 0; i < 4; i++) {
        char a[4200], b[4200];
        size_t len;
        snprintf(a, sizeof a, "%s/%s", src, copy[i]);
        snprintf(b, sizeof b, "%s/%s", dir, copy[i]);
        unsigned char *buf = slurp(a, &len);
        tu_write_bytes(b, buf, len);
        free(buf);
    }
    vbt_recording *rec;
    vbt_msg msg;
    if (vbt_recording_open_bids(&rec, p, NULL, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(vbt_recording_n_channels(rec), 126); /* 2 bad */
    double on;
    assert_int_equal(vbt_recording_seizure(rec, &on, NULL), 0);
    assert_close(on, 120.369, 0);
    assert_string_equal(vbt_recording_coord_system(rec), "IXI549Space");
    size_t with = 0, eeg = 0;
    for (size_t i = 0; i < 126; i++) {
        with += vbt_recording_channel(rec, i)->has_xyz;
        eeg += !strcmp(vbt_recording_channel(rec, i)->type, "EEG");
    }
    assert_int_equal(with, 122); /* 124 contacts minus the 2 bad ones */
    assert_int_equal(eeg, 2);
    vbt_recording_free(rec);
    for (size_t i = 0; i < n; i++)
        free(labels[i]);
}

/* ---- montages ------------------------------------------------------------------------ */

static void test_montages(void **state)
{
    (void)state;
    const char *labels[] = {"A1", "A2", "A3", "B'1", "B'2", "B'4", "ECG"};
    const char *path = tu_path(g_tmp, "mont.edf");
    write_synthetic(path, 7, labels, 128, 3, 0, -1);
    vbt_recording *rec;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&rec, path, &msg), 0);
    vbt_montage *m;
    /* default selection: the ECG channel is typed from its label and left out */
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg), 0);
    assert_int_equal(vbt_montage_n(m), 6);
    assert_close(vbt_montage_fs(m), 128, 0);
    assert_int_equal(vbt_montage_n_samples(m), 384);
    vbt_montage_free(m);

    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_BIPOLAR, NULL, 0, &msg), 0);
    assert_int_equal(vbt_montage_n(m), 3); /* A1-A2, A2-A3, B'1-B'2; B'4 has no B'3 */
    assert_string_equal(vbt_montage_label(m, 0), "A1-A2");
    assert_string_equal(vbt_montage_label(m, 1), "A2-A3");
    assert_string_equal(vbt_montage_label(m, 2), "B'1-B'2");
    double a[384], b[384], d[384];
    vbt_recording_read(rec, 3, 0, 384, a);
    vbt_recording_read(rec, 4, 0, 384, b);
    assert_int_equal(vbt_montage_read(m, 2, 0, 384, d, &msg), 0);
    for (size_t i = 0; i < 384; i++)
        assert_true(d[i] == a[i] - b[i]);
    size_t s1, s2;
    vbt_montage_sources(m, 2, &s1, &s2);
    assert_int_equal(s1, 3);
    assert_int_equal(s2, 4);
    assert_int_equal(vbt_montage_read(m, 3, 0, 1, d, &msg), VBT_ERANGE);
    assert_int_equal(vbt_montage_read(m, 0, 380, 5, d, &msg), VBT_ERANGE);
    size_t keep[] = {2, 0};
    assert_int_equal(vbt_montage_select(m, keep, 2, &msg), 0);
    assert_string_equal(vbt_montage_label(m, 0), "B'1-B'2");
    assert_int_equal(vbt_montage_select(m, keep, 2, &msg), VBT_ERANGE);
    vbt_montage_free(m);

    /* common average: the derived channels sum to zero at every sample */
    size_t sel[] = {0, 1, 2, 3};
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_AVERAGE, sel, 4, &msg), 0);
    double sum[200] = {0};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(vbt_montage_read(m, k, 100, 200, d, &msg), 0);
        for (size_t i = 0; i < 200; i++)
            sum[i] += d[i];
    }
    for (size_t i = 0; i < 200; i++)
        assert_close(sum[i], 0.0, 1e-9);
    /* channel 0 minus the mean, computed here */
    double c[4][200];
    for (size_t k = 0; k < 4; k++)
        vbt_recording_read(rec, k, 100, 200, c[k]);
    assert_int_equal(vbt_montage_read(m, 0, 100, 200, d, &msg), 0);
    for (size_t i = 0; i < 200; i++)
        assert_close(d[i], c[0][i] - (c[0][i] + c[1][i] + c[2][i] + c[3][i]) / 4, 1e-9);
    vbt_montage_free(m);

    /* errors: nothing to pair, index out of range, mixed rates */
    size_t one[] = {0, 5};
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_BIPOLAR, one, 2, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "no bipolar pair"));
    size_t oob[] = {9};
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, oob, 1, &msg),
                     VBT_ERANGE);
    vbt_montage_kind kind;
    assert_int_equal(vbt_montage_kind_parse("bipolar", &kind), 0);
    assert_int_equal(kind, VBT_MONTAGE_BIPOLAR);
    assert_int_equal(vbt_montage_kind_parse("laplacian", &kind), VBT_EINVAL);
    vbt_recording_free(rec);

    vbt_recording *psg;
    assert_int_equal(vbt_recording_open(&psg, clin("edfio/short_psg.edf"), &msg), 0);
    size_t mixed[] = {0, 4};
    assert_int_equal(vbt_montage_alloc(&m, psg, VBT_MONTAGE_MONOPOLAR, mixed, 2, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "sampling rate"));
    /* default: the two EEG channels at 100 Hz (EOG, EMG, RESP, TEMP, TRIG left out) */
    assert_int_equal(vbt_montage_alloc(&m, psg, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg), 0);
    assert_int_equal(vbt_montage_n(m), 2);
    vbt_montage_free(m);
    vbt_recording *hyp;
    assert_int_equal(vbt_recording_open(&hyp, clin("edfio/SC4001EC-Hypnogram.edf"), &msg), 0);
    assert_int_equal(vbt_montage_alloc(&m, hyp, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg),
                     VBT_EINVAL);
    vbt_recording_free(hyp);
    vbt_recording_free(psg);
}

/* ---- other formats, EDF+D, header details -------------------------------------------- */

static const char *fmt_path(const char *name)
{
    static char buf[2][4096];
    static int k;
    k = (k + 1) % 2;
    snprintf(buf[k], sizeof buf[k], "%s/formats/%s", tu_data_dir(), name);
    return buf[k];
}

/* tests/data/formats (see its README.md): one set of analytic signals
 * written as EDF+C and as BrainVision by make_formats.py, and converted to
 * GDF by biosig's save2gdf.  BrainVision holds round(x / 0.1 uV) and EDF
 * round(x / q) with q = 2000/65535 uV, so they agree to 0.05 + q/2; GDF
 * holds the EDF's 16-bit values re-quantised by save2gdf (through physical
 * values), so they agree to one step q. */
static void test_formats(void **state)
{
    (void)state;
    vbt_recording *edf, *bv, *gdf;
    vbt_msg msg;
    if (vbt_recording_open(&edf, fmt_path("source.edf"), &msg) ||
        vbt_recording_open(&bv, fmt_path("source.vhdr"), &msg) ||
        vbt_recording_open(&gdf, fmt_path("source.gdf"), &msg))
        fail_msg("%s", msg.text);
    assert_string_equal(vbt_recording_format(edf), "EDF+C");
    assert_string_equal(vbt_recording_format(bv), "BrainVision");
    assert_string_equal(vbt_recording_format(gdf), "GDF");
    const char *labels[] = {"A1", "A2", "B1", "EEG Cz"};
    vbt_recording *recs[] = {bv, gdf};
    const double q = 2000.0 / 65535.0;
    const double tol[] = {0.05 + q / 2 + 1e-9, q + 1e-9};
    double ref[2048], x[2048];
    for (size_t r = 0; r < 2; r++) {
        vbt_recording *rec = recs[r];
        assert_int_equal(vbt_recording_n_channels(rec), 4);
        assert_close(vbt_recording_duration_s(rec), 8.0, 1e-12);
        for (size_t c = 0; c < 4; c++) {
            const vbt_rec_channel *ch = vbt_recording_channel(rec, c);
            assert_string_equal(ch->label, labels[c]);
            assert_close(ch->fs_hz, 256.0, 1e-12);
            assert_int_equal(ch->n_samples, 2048);
            assert_int_equal(vbt_recording_read(edf, c, 0, 2048, ref), 0);
            assert_int_equal(vbt_recording_read(rec, c, 0, 2048, x), 0);
            double worst = 0;
            for (size_t i = 0; i < 2048; i++)
                worst = fmax(worst, fabs(x[i] - ref[i]));
            assert_true(worst <= tol[r]);
            /* a window in the middle, through the block cache */
            assert_int_equal(vbt_recording_read(rec, c, 1000, 7, x), 0);
            for (size_t i = 0; i < 7; i++)
                assert_close(x[i], ref[1000 + i], tol[r]);
        }
        assert_string_equal(vbt_recording_channel(rec, 3)->type, "EEG");
        double on, off;
        assert_int_equal(vbt_recording_seizure(rec, &on, &off), 0);
        assert_close(on, 3.0, 1e-9);
        assert_close(off, 5.5, 1e-9);
        assert_int_equal(vbt_recording_read(rec, 0, 2040, 9, x), VBT_ERANGE);
    }
    /* the marker file's New Segment date, to the microsecond */
    vbt_datetime s = vbt_recording_start(bv);
    assert_int_equal(s.year, 2021);
    assert_int_equal(s.month, 3);
    assert_int_equal(s.day, 2);
    assert_int_equal(s.hour, 10);
    assert_int_equal(s.minute, 11);
    assert_int_equal(s.second, 12);
    assert_close(s.subsecond, 0.394531, 1e-12);
    vbt_recording_free(edf);
    vbt_recording_free(bv);
    vbt_recording_free(gdf);
    /* a BrainVision header whose data file is missing */
    char hdr[4096];
    snprintf(hdr, sizeof hdr, "%s/nodata.vhdr", g_tmp);
    size_t len;
    unsigned char *b = slurp(fmt_path("source.vhdr"), &len);
    char *t = malloc(len + 32);
    memcpy(t, b, len);
    t[len] = '\0';
    char *d = strstr(t, "DataFile=source.eeg");
    assert_non_null(d);
    memcpy(d, "DataFile=absent.eeg", 19);
    tu_write_bytes(hdr, t, len);
    expect_open_error(hdr, VBT_EIO, "its DataFile is not there");
    free(t);
    free(b);
}

/* ---- BrainVision: vbt's own reader against analytic values and MNE ------------------- */

/* One BrainVision variant, written by bv_write below straight from the
 * format's specification (Brain Products, "BrainVision Core Data Format
 * 1.0"): text header and markers, samples round(x / (resolution x unit))
 * in the binary format and orientation asked for. */
typedef struct bv_spec {
    const char *name;        /* file stem */
    const char *format;      /* BinaryFormat */
    int vectorized, big_endian, ansi;
    const char *unit;        /* "uV" "mV" "V" "nV" ("µV": the micro sign) */
    double unit_uv;          /* microvolts per unit */
    double res;              /* resolution in that unit */
    double offset_uv;        /* added to every sample (UINT_16 needs x >= 0) */
} bv_spec;

#define BV_FS 200.0
#define BV_N 600
#define BV_NCH 3
static const char *const bv_labels[BV_NCH] = {"A1", "B'2", "C\xC3\xA9" "3"}; /* "Cé3" */

static double bv_signal(size_t c, size_t i)
{
    double t = (double)i / BV_FS;
    return 150.0 * sin(2 * M_PI * (2.0 + 3.0 * (double)c) * t) + 40.0 * (double)c - 10.0 +
           13.0 * t;
}

static void put_be_le(unsigned char *p, uint32_t u, int bytes, int be)
{
    for (int k = 0; k < bytes; k++)
        p[be ? bytes - 1 - k : k] = (unsigned char)(u >> (8 * k));
}

/* Text of a header or marker file in the spec's code page: UTF-8, or
 * Windows-1252 (each U+00E9/U+00B5 written as one byte). */
static void bv_put_text(const char *path, const char *utf8, int ansi)
{
    size_t n = strlen(utf8), k = 0;
    char *o = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)utf8[i];
        if (ansi && c == 0xC3 && i + 1 < n) {
            o[k++] = (char)(0xC0 | ((unsigned char)utf8[++i] & 0x3F));
        } else if (ansi && c == 0xC2 && i + 1 < n) {
            o[k++] = utf8[++i];
        } else {
            o[k++] = (char)c;
        }
    }
    tu_write_bytes(path, o, k);
    free(o);
}

static const char *bv_write(const bv_spec *sp)
{
    static char vhdr[4096];
    char text[4096], p[4096];
    const char *base = strrchr(sp->name, '/') ? strrchr(sp->name, '/') + 1 : sp->name;
    int n = snprintf(text, sizeof text,
                     "Brain Vision Data Exchange Header File Version 1.0\r\n"
                     "; written by tests/test_recording.c\r\n\r\n"
                     "[Common Infos]\r\nCodepage=%s\r\nDataFile=%s.eeg\r\n"
                     "MarkerFile=%s.vmrk\r\nDataFormat=BINARY\r\nDataOrientation=%s\r\n"
                     "NumberOfChannels=%d\r\nSamplingInterval=%g\r\n\r\n"
                     "[Binary Infos]\r\nBinaryFormat=%s\r\n%s\r\n[Channel Infos]\r\n",
                     sp->ansi ? "ANSI" : "UTF-8", base, base,
                     sp->vectorized ? "VECTORIZED" : "MULTIPLEXED", BV_NCH, 1e6 / BV_FS,
                     sp->format, sp->big_endian ? "UseBigEndianOrder=YES\r\n" : "");
    for (size_t c = 0; c < BV_NCH; c++)
        n += snprintf(text + n, sizeof text - (size_t)n, "Ch%zu=%s,,%.17g,%s\r\n", c + 1,
                      bv_labels[c], sp->res, sp->unit);
    snprintf(text + n, sizeof text - (size_t)n,
             "\r\n[Comment]\r\nA1=not a channel line, ignored\r\n");
    snprintf(vhdr, sizeof vhdr, "%s/%s.vhdr", g_tmp, sp->name);
    bv_put_text(vhdr, text, sp->ansi);
    snprintf(text, sizeof text,
             "Brain Vision Data Exchange Marker File, Version 1.0\r\n\r\n[Common Infos]\r\n"
             "Codepage=%s\r\nDataFile=%s.eeg\r\n\r\n[Marker Infos]\r\n"
             "Mk1=New Segment,,1,1,0,20240131235959123456\r\n"
             "Mk2=Comment,Seizure onset,201,100,0\r\n"
             "Mk3=Stimulus,S  1,451,1,0\r\n"
             "Mk4=Comment,a\\1b,51,1,0\r\n",
             sp->ansi ? "ANSI" : "UTF-8", base);
    snprintf(p, sizeof p, "%s/%s.vmrk", g_tmp, sp->name);
    bv_put_text(p, text, sp->ansi);
    int bps = strstr(sp->format, "16") ? 2 : 4;
    unsigned char *d = malloc((size_t)BV_N * BV_NCH * (size_t)bps);
    for (size_t c = 0; c < BV_NCH; c++)
        for (size_t i = 0; i < BV_N; i++) {
            size_t at = sp->vectorized ? c * BV_N + i : i * BV_NCH + c;
            double v = (bv_signal(c, i) + sp->offset_uv) / (sp->res * sp->unit_uv);
            uint32_t u;
            if (!strcmp(sp->format, "IEEE_FLOAT_32")) {
                float f = (float)v;
                memcpy(&u, &f, 4);
            } else if (!strcmp(sp->format, "UINT_16")) {
                u = (uint32_t)lround(v);
                assert_true(u <= 65535);
            } else {
                long r = lround(v);
                assert_true(bps == 4 || (r >= -32768 && r <= 32767));
                u = (uint32_t)(int32_t)r;
            }
            put_be_le(d + at * (size_t)bps, u, bps, sp->big_endian);
        }
    snprintf(p, sizeof p, "%s/%s.eeg", g_tmp, sp->name);
    tu_write_bytes(p, d, (size_t)BV_N * BV_NCH * (size_t)bps);
    free(d);
    return vhdr;
}

static const bv_spec bv_specs[] = {
    {"int16_mux_uv", "INT_16", 0, 0, 0, "\xC2\xB5V", 1.0, 0.1, 0},
    {"int32_vec_mv", "INT_32", 1, 0, 0, "mV", 1e3, 1e-7, 0},
    {"float_mux_v", "IEEE_FLOAT_32", 0, 0, 0, "V", 1e6, 1.0, 0},
    {"int16_vec_nv_ansi", "INT_16", 1, 0, 1, "nV", 1e-3, 100.0, 0},
    {"uint16_be_uv", "UINT_16", 0, 1, 0, "uV", 1.0, 0.05, 1000.0},
    {"int32_be_vec", "INT_32", 1, 1, 1, "\xC2\xB5V", 1.0, 0.001, 0},
};
#define BV_NSPECS (sizeof bv_specs / sizeof bv_specs[0])

/* Quantisation tolerance of a variant in microvolts: half a resolution step
 * for integers; float32 keeps 24 bits, so 2^-24 of the largest |x| (under
 * 400 uV + offset) is below 1e-4 uV. */
static double bv_tol(const bv_spec *sp)
{
    if (!strcmp(sp->format, "IEEE_FLOAT_32"))
        return 1e-4;
    return sp->res * sp->unit_uv / 2 + 1e-9;
}

static void test_brainvision(void **state)
{
    (void)state;
    double x[BV_N];
    for (size_t v = 0; v < BV_NSPECS; v++) {
        const bv_spec *sp = &bv_specs[v];
        const char *path = bv_write(sp);
        vbt_recording *rec;
        vbt_msg msg;
        if (vbt_recording_open(&rec, path, &msg))
            fail_msg("%s: %s", sp->name, msg.text);
        assert_string_equal(vbt_recording_format(rec), "BrainVision");
        assert_int_equal(vbt_recording_n_channels(rec), BV_NCH);
        assert_close(vbt_recording_duration_s(rec), BV_N / BV_FS, 1e-12);
        for (size_t c = 0; c < BV_NCH; c++) {
            const vbt_rec_channel *ch = vbt_recording_channel(rec, c);
            assert_string_equal(ch->label, bv_labels[c]);
            assert_string_equal(ch->unit, "uV");
            assert_close(ch->fs_hz, BV_FS, 1e-9);
            assert_int_equal(ch->n_samples, BV_N);
            assert_int_equal(vbt_recording_read(rec, c, 0, BV_N, x), 0);
            double worst = 0;
            for (size_t i = 0; i < BV_N; i++)
                worst = fmax(worst, fabs(x[i] - sp->offset_uv - bv_signal(c, i)));
            if (!(worst <= bv_tol(sp)))
                fail_msg("%s channel %zu: off by %g uV (tolerance %g)", sp->name, c, worst,
                         bv_tol(sp));
            /* a short window in the middle, through the frame cache */
            assert_int_equal(vbt_recording_read(rec, c, 333, 5, x), 0);
            for (size_t i = 0; i < 5; i++)
                assert_close(x[i], bv_signal(c, 333 + i) + sp->offset_uv, bv_tol(sp));
        }
        assert_int_equal(vbt_recording_read(rec, 0, BV_N - 2, 3, x), VBT_ERANGE);
        /* the markers: New Segment at sample 1 is the start, not an event */
        vbt_datetime s = vbt_recording_start(rec);
        assert_int_equal(s.year, 2024);
        assert_int_equal(s.month, 1);
        assert_int_equal(s.day, 31);
        assert_int_equal(s.hour, 23);
        assert_int_equal(s.minute, 59);
        assert_int_equal(s.second, 59);
        assert_close(s.subsecond, 0.123456, 1e-12);
        assert_int_equal(vbt_recording_n_annotations(rec), 3);
        assert_string_equal(vbt_recording_annotation(rec, 0)->text, "Seizure onset");
        assert_string_equal(vbt_recording_annotation(rec, 1)->text, "S  1");
        assert_close(vbt_recording_annotation(rec, 1)->onset_s, 450 / BV_FS, 1e-12);
        assert_true(vbt_recording_annotation(rec, 1)->duration_s < 0);
        assert_string_equal(vbt_recording_annotation(rec, 2)->text, "a,b");
        double on, off;
        assert_int_equal(vbt_recording_seizure(rec, &on, &off), 0);
        assert_close(on, 1.0, 1e-12);
        assert_close(off, 1.5, 1e-12);
        vbt_recording_free(rec);
    }
}

/* MNE (Debian python3-mne) reads the same files; its samples must equal
 * vbt's to 1e-6 of a resolution step (both compute raw x resolution in
 * double precision; only the unit scaling's rounding differs) and its
 * marker onsets to 1e-9 s. */
static void test_brainvision_mne(void **state)
{
    (void)state;
    const char *py = "/usr/bin/python3";
    if (!tu_exists(py)) {
        print_message("skipped: no %s for the MNE oracle\n", py);
        skip();
    }
    /* MNE reads INT_16, INT_32 and IEEE_FLOAT_32, little-endian only */
    const bv_spec *use[BV_NSPECS];
    const char *paths[BV_NSPECS];
    size_t n = 0;
    for (size_t v = 0; v < BV_NSPECS; v++)
        if (!bv_specs[v].big_endian && strcmp(bv_specs[v].format, "UINT_16"))
            use[n] = &bv_specs[v], paths[n] = NULL, n++;
    char script[4096], prefix[4096];
    snprintf(script, sizeof script, "%s/formats/mne_read.py", tu_data_dir());
    snprintf(prefix, sizeof prefix, "%s/mne_", g_tmp);
    const char *argv[BV_NSPECS + 4];
    char keep[BV_NSPECS][4096];
    argv[0] = script;
    argv[1] = prefix;
    for (size_t k = 0; k < n; k++) {
        snprintf(keep[k], sizeof keep[k], "%s", bv_write(use[k]));
        paths[k] = keep[k];
        argv[2 + k] = keep[k];
    }
    argv[2 + n] = NULL;
    char *out = NULL, *err = NULL;
    int st = tu_run(py, argv, g_tmp, &out, &err);
    if (st == 3) {
        print_message("skipped: MNE is not installed (apt-get install python3-mne)\n");
        free(out);
        free(err);
        skip();
    }
    if (st != 0)
        fail_msg("mne_read.py failed (%d): %s", st, err);
    free(out);
    free(err);
    for (size_t k = 0; k < n; k++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%zu.txt", prefix, k);
        char *txt = tu_slurp(p, NULL);
        assert_non_null(txt);
        double sfreq = 0;
        long n_times = 0;
        assert_int_equal(sscanf(strstr(txt, "sfreq "), "sfreq %lf", &sfreq), 1);
        assert_int_equal(sscanf(strstr(txt, "n_times "), "n_times %ld", &n_times), 1);
        vbt_recording *rec;
        vbt_msg msg;
        if (vbt_recording_open(&rec, paths[k], &msg))
            fail_msg("%s", msg.text);
        assert_close(sfreq, vbt_recording_channel(rec, 0)->fs_hz, 1e-9);
        assert_int_equal(n_times, BV_N);
        /* channel names, in order */
        const char *l = txt;
        for (size_t c = 0; c < BV_NCH; c++) {
            l = strstr(l, "\nch ");
            assert_non_null(l);
            l += 4;
            size_t len = strcspn(l, "\n");
            if (len != strlen(bv_labels[c]) || strncmp(l, bv_labels[c], len))
                fail_msg("%s: MNE channel %zu is '%.*s'", use[k]->name, c, (int)len, l);
        }
        /* MNE keeps the start's "New Segment" and names markers type/description */
        const char *want[] = {"Comment/Seizure onset", "Stimulus/S  1", "Comment/a,b"};
        for (size_t a = 0; a < 3; a++) {
            const vbt_annotation *an = vbt_recording_annotation(rec, a);
            const char *m = strstr(txt, want[a]);
            if (!m)
                fail_msg("%s: MNE has no annotation '%s':\n%s", use[k]->name, want[a], txt);
            const char *ln = m;
            while (ln > txt && ln[-1] != '\n')
                ln--;
            double onset, dur;
            assert_int_equal(sscanf(ln, "ann %lf %lf", &onset, &dur), 2);
            assert_close(an->onset_s, onset, 1e-9);
        }
        free(txt);
        snprintf(p, sizeof p, "%s%zu.bin", prefix, k);
        size_t len;
        double *ref = (double *)tu_slurp(p, &len);
        assert_int_equal(len, (size_t)BV_NCH * BV_N * sizeof(double));
        double x[BV_N];
        double tol = 1e-6 * use[k]->res * use[k]->unit_uv;
        for (size_t c = 0; c < BV_NCH; c++) {
            assert_int_equal(vbt_recording_read(rec, c, 0, BV_N, x), 0);
            for (size_t i = 0; i < BV_N; i++)
                if (!(fabs(x[i] - ref[c * BV_N + i]) <= tol))
                    fail_msg("%s channel %zu sample %zu: vbt %.17g uV, MNE %.17g uV",
                             use[k]->name, c, i, x[i], ref[c * BV_N + i]);
        }
        free(ref);
        vbt_recording_free(rec);
    }
}

static const char *bv_edit(const char *path, const char *name, const char *from,
                           const char *to);

/* A minimal Micromed "System 98, header type 4" TRC file written from the
 * published layout (as python-neo's and EEGLAB's readers parse it): title,
 * date at 128, data offset / channels / multiplexer / rate / bytes at 138,
 * header type 4 at 175, the 15 area descriptors from 176 (ORDER, LABCOD, ...),
 * 128-byte electrode records (labels, logical and physical ranges, unit,
 * rate coefficient at +44), then 2-byte unsigned multiplexed samples.  The
 * libbiosig that Debian 12 packages (2.5) has no Micromed reader (its
 * library holds no TRC signature): the file must be refused with a message
 * that says so, through the same child process as GDF. */
static void test_micromed(void **state)
{
    (void)state;
    enum { NCH = 3, FS = 256, NS = 512, ORDER = 416, LABCOD = 640 };
    static const char *const zones[15] = {"ORDER", "LABCOD", "NOTE", "FLAGS", "TRONCA",
                                          "IMPED_B", "IMPED_E", "MONTAGE", "COMPRESS",
                                          "AVERAGE", "HISTORY", "DVIDEO", "EVENT A",
                                          "EVENT B", "TRIGGER"};
    size_t data = LABCOD + 128 * NCH, len = data + (size_t)NS * NCH * 2;
    unsigned char *b = calloc(1, len);
    memcpy(b, "* MICROMED  Brain-Quick file *\0\x1a", 32);
    const unsigned char when[6] = {2, 3, 121, 10, 11, 12}; /* 2021-03-02 10:11:12 */
    memcpy(b + 128, when, 6);
    const uint32_t u32[] = {(uint32_t)data};
    const uint16_t u16[] = {NCH, 2 * NCH, FS, 2};
    memcpy(b + 138, u32, 4); /* little-endian host, as the format */
    memcpy(b + 142, u16, sizeof u16);
    b[175] = 4;
    for (size_t z = 0; z < 15; z++) {
        unsigned char *d = b + 176 + 16 * z;
        memset(d, ' ', 8);
        memcpy(d, zones[z], strlen(zones[z]));
        uint32_t pos = z == 0 ? ORDER : z == 1 ? LABCOD : (uint32_t)data;
        uint32_t n = z == 0 ? 2 * NCH : z == 1 ? 128 * NCH : 0;
        memcpy(d + 8, &pos, 4);
        memcpy(d + 12, &n, 4);
    }
    for (uint16_t c = 0; c < NCH; c++) {
        memcpy(b + ORDER + 2 * c, &c, 2);
        unsigned char *e = b + LABCOD + 128 * c;
        e[0] = 1;
        snprintf((char *)e + 2, 6, "A%u", c + 1u);
        const int32_t ranges[5] = {0, 65535, 32768, -3200, 3200};
        memcpy(e + 14, ranges, sizeof ranges);
        const uint16_t rate = 1;
        memcpy(e + 44, &rate, 2);
    }
    for (size_t i = 0; i < NS; i++)
        for (size_t c = 0; c < NCH; c++) {
            uint16_t d = (uint16_t)(32768 + lround(10000 * sin(2 * M_PI * (double)(c + 1) *
                                                              (double)i / FS)));
            memcpy(b + data + 2 * (i * NCH + c), &d, 2);
        }
    expect_open_error(bad_copy("minimal.trc", b, len), VBT_EFORMAT,
                      "Micromed TRC cannot be read: the installed libbiosig does not "
                      "support it");
    free(b);
}

/* A GDF file on which libbiosig 2.5 segfaults (found by fuzz_gdf): the
 * reader runs in a child process, so the open fails with one message naming
 * the file ("libbiosig failed reading it (signal 11)") and this process goes
 * on.  (Under AddressSanitizer's allocator libbiosig's invalid access may
 * land elsewhere; whatever it does, the file must be refused or read without
 * harm.) */
static void test_biosig_crash(void **state)
{
    (void)state;
    vbt_recording *rec = (vbt_recording *)1;
    vbt_msg msg;
    const char *path = fmt_path("libbiosig_segv.gdf");
    int rc = vbt_recording_open(&rec, path, &msg);
    if (rc == VBT_OK) {
        double x[64];
        for (size_t c = 0; c < vbt_recording_n_channels(rec); c++) {
            const vbt_rec_channel *ch = vbt_recording_channel(rec, c);
            size_t n = ch->n_samples < 64 ? (size_t)ch->n_samples : 64;
            vbt_recording_read(rec, c, 0, n, x);
        }
        vbt_recording_free(rec);
        return;
    }
    assert_null(rec);
    assert_non_null(strstr(msg.text, path));
#ifndef __SANITIZE_ADDRESS__
    if (!strstr(msg.text, "libbiosig failed reading it (signal 11)"))
        fail_msg("%s", msg.text);
#endif
    /* this process is intact: the next file opens */
    assert_int_equal(vbt_recording_open(&rec, fmt_path("source.gdf"), &msg), 0);
    vbt_recording_free(rec);
}

/* Text that reaches JSON, HTML and SVG is UTF-8: a channel label that is
 * not (here a GDF label, read through libbiosig) refuses the file with one
 * line naming it and the channel, without quoting the bytes; an annotation
 * text that is not is repaired (U+FFFD for each bad byte, a space for a
 * control character). */
static void test_text_utf8(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = slurp(fmt_path("source.gdf"), &len);
    b[256 + 16 + 1] = 0xFF; /* second byte of the second label, "A2" */
    expect_open_error(bad_copy("label.gdf", b, len), VBT_EFORMAT,
                      "channel 2: the label is not valid UTF-8");
    free(b);
    const bv_spec sp = {"txt", "INT_16", 0, 0, 0, "uV", 1.0, 0.1, 0};
    const char *ok = bv_write(&sp);
    char p[4200];
    snprintf(p, sizeof p, "%s/txt.vmrk", g_tmp);
    bv_edit(p, "txt2.vmrk", "Stimulus,S  1,", "Stimulus,S\xFF\x01" "1,");
    vbt_recording *rec;
    vbt_msg msg;
    if (vbt_recording_open(&rec, bv_edit(ok, "txt2.vhdr", "MarkerFile=txt.vmrk",
                                         "MarkerFile=txt2.vmrk"), &msg))
        fail_msg("%s", msg.text);
    assert_string_equal(vbt_recording_annotation(rec, 1)->text, "S\xEF\xBF\xBD 1");
    vbt_recording_free(rec);
}

/* A BIDS run recorded as BrainVision: found by its *_ieeg.vhdr, sidecars
 * applied as for EDF (types and a bad channel from channels.tsv, the
 * seizure from events.tsv). */
static void test_bids_brainvision(void **state)
{
    (void)state;
    char d[4200];
    snprintf(d, sizeof d, "%s/bidsbv", g_tmp);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/bidsbv/sub-07", g_tmp);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/bidsbv/sub-07/ieeg", g_tmp);
    mkdir(d, 0755);
    const bv_spec sp = {"bidsbv/sub-07/ieeg/sub-07_task-sz_run-1_ieeg", "INT_16", 0, 0, 0,
                        "uV", 1.0, 0.1, 0};
    bv_write(&sp);
    tu_write_file(tu_path(d, "sub-07_task-sz_run-1_channels.tsv"),
                  "name\ttype\tunits\tstatus\nA1\tSEEG\tuV\tgood\nB'2\tSEEG\tuV\tbad\n"
                  "C\xC3\xA9" "3\tECOG\tuV\tgood\n");
    tu_write_file(tu_path(d, "sub-07_task-sz_run-1_events.tsv"),
                  "onset\tduration\ttrial_type\n0.75\t1.25\tseizure onset\n");
    char root[4200];
    snprintf(root, sizeof root, "%s/bidsbv", g_tmp);
    vbt_bids_query q = {.sub = "07"};
    vbt_recording *rec;
    vbt_msg msg;
    if (vbt_recording_open_bids(&rec, root, &q, &msg))
        fail_msg("%s", msg.text);
    assert_string_equal(vbt_recording_format(rec), "BrainVision");
    assert_non_null(strstr(vbt_recording_path(rec), "sub-07_task-sz_run-1_ieeg.vhdr"));
    assert_int_equal(vbt_recording_n_channels(rec), 2);
    assert_int_equal(vbt_recording_n_bad_dropped(rec), 1);
    assert_string_equal(vbt_recording_channel(rec, 0)->type, "SEEG");
    assert_string_equal(vbt_recording_channel(rec, 1)->type, "ECOG");
    double x[4];
    assert_int_equal(vbt_recording_read(rec, 1, 10, 4, x), 0);
    for (size_t i = 0; i < 4; i++)
        assert_close(x[i], bv_signal(2, 10 + i), 0.05 + 1e-9);
    double on, off;
    assert_int_equal(vbt_recording_seizure(rec, &on, &off), 0);
    assert_close(on, 0.75, 1e-12);
    assert_close(off, 2.0, 1e-12);
    vbt_recording_free(rec);
    /* a sidecar's text must be UTF-8 too (the group names the electrode) */
    tu_write_file(tu_path(d, "sub-07_task-sz_run-1_channels.tsv"),
                  "name\ttype\tunits\tgroup\nA1\tSEEG\tuV\tA\xFF\n");
    rec = (vbt_recording *)1;
    assert_int_equal(vbt_recording_open_bids(&rec, root, &q, &msg), VBT_EFORMAT);
    assert_null(rec);
    assert_non_null(strstr(msg.text, "channel 1: the group is not valid UTF-8"));
    /* a non-matching run says which files it looks for */
    q.run = "9";
    rec = (vbt_recording *)1;
    assert_int_equal(vbt_recording_open_bids(&rec, root, &q, &msg), VBT_ENOTFOUND);
    assert_non_null(strstr(msg.text, ".vhdr"));
}

/* Replace the first occurrence of `from` in the text file at path by `to`
 * and write it as `name` in g_tmp; the new path. */
static const char *bv_edit(const char *path, const char *name, const char *from, const char *to)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    size_t len;
    char *t = tu_slurp(path, &len);
    assert_non_null(t);
    char *at = strstr(t, from);
    if (!at)
        fail_msg("'%s' not in %s", from, path);
    size_t a = (size_t)(at - t), nf = strlen(from), nt = strlen(to);
    char *o = malloc(len - nf + nt + 1);
    memcpy(o, t, a);
    memcpy(o + a, to, nt);
    memcpy(o + a + nt, t + a + nf, len - a - nf);
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, name);
    tu_write_bytes(buf[k], o, len - nf + nt);
    free(o);
    free(t);
    return buf[k];
}

/* Broken BrainVision files: one line naming the file and the problem,
 * nothing opened. */
static void test_brainvision_errors(void **state)
{
    (void)state;
    const bv_spec sp = {"ok", "INT_16", 0, 0, 0, "uV", 1.0, 0.1, 0};
    const char *ok = bv_write(&sp);
    char p[4200], q[4200];
    expect_open_error(bv_edit(ok, "e1.vhdr", "DataFile=ok.eeg", "DataFile=../ok.eeg"),
                      VBT_EFORMAT, "plain file name");
    expect_open_error(bv_edit(ok, "e2.vhdr", "DataFile=ok.eeg", "DataFile=/etc/passwd"),
                      VBT_EFORMAT, "plain file name");
    expect_open_error(bv_edit(ok, "e3.vhdr", "DataFile=ok.eeg", "DataFile=.."), VBT_EFORMAT,
                      "plain file name");
    snprintf(p, sizeof p, "%s/ok.eeg", g_tmp);
    snprintf(q, sizeof q, "%s/link.eeg", g_tmp);
    assert_int_equal(symlink(p, q), 0);
    expect_open_error(bv_edit(ok, "e4.vhdr", "DataFile=ok.eeg", "DataFile=link.eeg"),
                      VBT_EFORMAT, "symbolic link");
    expect_open_error(bv_edit(ok, "e5.vhdr", "DataFile=ok.eeg", "DataFile=absent.eeg"), VBT_EIO,
                      "is not there");
    expect_open_error(bv_edit(ok, "e6.vhdr", "NumberOfChannels=3", "NumberOfChannels=4"),
                      VBT_EFORMAT, "has no line Ch4");
    expect_open_error(bv_edit(ok, "e7.vhdr", "NumberOfChannels=3", "NumberOfChannels=2"),
                      VBT_EFORMAT, "Ch3 is beyond the channel count");
    expect_open_error(bv_edit(ok, "e8.vhdr", "NumberOfChannels=3", "NumberOfChannels=99999999"),
                      VBT_EFORMAT, "NumberOfChannels must be");
    expect_open_error(bv_edit(ok, "e9.vhdr", "Ch2=B'2,,", "Ch1=B'2,,"), VBT_EFORMAT,
                      "Ch1 is repeated");
    expect_open_error(bv_edit(ok, "e10.vhdr", "BinaryFormat=INT_16", "BinaryFormat=INT_8"),
                      VBT_EFORMAT, "BinaryFormat must be");
    expect_open_error(bv_edit(ok, "e11.vhdr", "DataOrientation=MULTIPLEXED",
                              "DataOrientation=SIDEWAYS"), VBT_EFORMAT, "DataOrientation");
    expect_open_error(bv_edit(ok, "e12.vhdr", "DataFormat=BINARY", "DataFormat=ASCII"),
                      VBT_EFORMAT, "only DataFormat=BINARY");
    expect_open_error(bv_edit(ok, "e13.vhdr", "SamplingInterval=5000", "SamplingInterval=-1"),
                      VBT_EFORMAT, "SamplingInterval must be");
    expect_open_error(bv_edit(ok, "e14.vhdr", "Ch1=A1,,0.1", "Ch1=A1,,zero"), VBT_EFORMAT,
                      "resolution is not a number > 0");
    expect_open_error(bv_edit(ok, "e15.vhdr", "Brain Vision Data", "Brian Vision Data"),
                      VBT_EFORMAT, "not a BrainVision header");
    /* a channel name that is not UTF-8 in a UTF-8 header: refused, never quoted */
    expect_open_error(bv_edit(ok, "e16.vhdr", "Ch1=A1,", "Ch1=A\xFF\xFE" "1,"), VBT_EFORMAT,
                      "Ch1: the name is not valid UTF-8");
    expect_open_error(bv_edit(ok, "e17.vhdr", "Ch1=A1,", "Ch1=,"), VBT_EFORMAT,
                      "Ch1: the name is empty");
    expect_open_error(bv_edit(ok, "e18.vhdr", "MarkerFile=ok.vmrk", "MarkerFile=none.vmrk"),
                      VBT_EIO, "its MarkerFile is not there");
    /* data not a whole number of frames */
    snprintf(p, sizeof p, "%s/ok.eeg", g_tmp);
    size_t len;
    char *d = tu_slurp(p, &len);
    snprintf(q, sizeof q, "%s/short.eeg", g_tmp);
    tu_write_bytes(q, d, len - 1);
    expect_open_error(bv_edit(ok, "e19.vhdr", "DataFile=ok.eeg", "DataFile=short.eeg"),
                      VBT_EFORMAT, "not a whole number of samples");
    tu_write_bytes(q, d, 0);
    expect_open_error(bv_edit(ok, "e20.vhdr", "DataFile=ok.eeg", "DataFile=short.eeg"),
                      VBT_EFORMAT, "not a whole number of samples");
    free(d);
    /* markers */
    snprintf(p, sizeof p, "%s/ok.vmrk", g_tmp);
    bv_edit(p, "bad.vmrk", "Stimulus,S  1,451", "Stimulus,S  1,abc");
    expect_open_error(bv_edit(ok, "e21.vhdr", "MarkerFile=ok.vmrk", "MarkerFile=bad.vmrk"),
                      VBT_EFORMAT, "position or size is not a whole number");
    bv_edit(p, "bad2.vmrk", "20240131235959123456", "20241331235959123456");
    expect_open_error(bv_edit(ok, "e22.vhdr", "MarkerFile=ok.vmrk", "MarkerFile=bad2.vmrk"),
                      VBT_EFORMAT, "New Segment date");
    /* a second segment from sample 301 (1.5 s): a window across it is refused;
     * the header names its markers "$b.vmrk", its own name (seg) */
    bv_edit(p, "seg.vmrk", "Mk3=Stimulus,S  1,451,1,0", "Mk3=New Segment,,301,1,0");
    vbt_recording *rec;
    vbt_msg msg;
    if (vbt_recording_open(&rec, bv_edit(ok, "seg.vhdr", "MarkerFile=ok.vmrk",
                                         "MarkerFile=$b.vmrk"), &msg))
        fail_msg("%s", msg.text);
    int64_t first;
    size_t n;
    assert_int_equal(vbt_recording_window(rec, 0, 0.5, 1.4, &first, &n), 0);
    assert_int_equal(vbt_recording_window(rec, 0, 1.5, 2.5, &first, &n), 0);
    assert_int_equal(vbt_recording_window(rec, 0, 1.0, 2.0, &first, &n), VBT_ERANGE);
    assert_non_null(strstr(vbt_recording_errmsg(rec), "discontinuity"));
    vbt_recording_free(rec);
    /* a float sample that is not finite: the read fails and says so */
    const bv_spec fl = {"nan", "IEEE_FLOAT_32", 0, 0, 0, "uV", 1.0, 1.0, 0};
    const char *nan_path = bv_write(&fl);
    snprintf(p, sizeof p, "%s/nan.eeg", g_tmp);
    d = tu_slurp(p, &len);
    const float bad = NAN;
    memcpy(d + (100 * BV_NCH + 1) * 4, &bad, 4);
    tu_write_bytes(p, d, len);
    free(d);
    if (vbt_recording_open(&rec, nan_path, &msg))
        fail_msg("%s", msg.text);
    double x[BV_N];
    assert_int_equal(vbt_recording_read(rec, 0, 0, BV_N, x), 0);
    assert_int_equal(vbt_recording_read(rec, 1, 0, BV_N, x), VBT_EFORMAT);
    assert_non_null(strstr(vbt_recording_errmsg(rec), "not a finite number"));
    vbt_recording_free(rec);
}

/* Byte offset and size of the annotation signal inside a data record of a
 * file written by vbt_edf_writer (signals: n data channels, then the
 * annotations). */
static void annot_layout(const unsigned char *b, size_t *hdr_bytes, size_t *rec_bytes,
                         size_t *off, size_t *bytes)
{
    char f[9];
    memcpy(f, b + 252, 4);
    f[4] = '\0';
    size_t ns = (size_t)atoi(f);
    *hdr_bytes = 256 * (ns + 1);
    size_t total = 0;
    for (size_t i = 0; i < ns; i++) {
        memcpy(f, b + 256 + ns * 216 + i * 8, 8);
        f[8] = '\0';
        size_t spr = (size_t)atoi(f);
        if (i == ns - 1) {
            *off = total;
            *bytes = 2 * spr;
        }
        total += 2 * spr;
    }
    *rec_bytes = total;
}

/* Replace the annotation bytes of data record r by tal (zero-padded). */
static void set_tal(unsigned char *b, size_t r, const char *tal, size_t tal_len)
{
    size_t hb = 0, rb = 0, off = 0, nb = 0;
    annot_layout(b, &hb, &rb, &off, &nb);
    assert_true(tal_len <= nb);
    memset(b + hb + r * rb + off, 0, nb);
    memcpy(b + hb + r * rb + off, tal, tal_len);
}

static void test_edf_plus_d(void **state)
{
    (void)state;
    const char *labels[] = {"A1", "A2"};
    const char *c_path = tu_path(g_tmp, "cont.edf");
    write_synthetic(c_path, 2, labels, 128, 10, 0, 2.0);
    size_t len;
    unsigned char *b = slurp(c_path, &len);
    /* a contiguous EDF+D reads like the EDF+C */
    b[196] = 'D';
    const char *d_path = bad_copy("contd.edf", b, len);
    vbt_recording *c, *d;
    vbt_msg msg;
    if (vbt_recording_open(&c, c_path, &msg) || vbt_recording_open(&d, d_path, &msg))
        fail_msg("%s", msg.text);
    assert_string_equal(vbt_recording_format(d), "EDF+D");
    assert_int_equal(vbt_recording_n_gaps(d), 0);
    assert_int_equal(vbt_recording_n_channels(d), 2);
    assert_close(vbt_recording_duration_s(d), vbt_recording_duration_s(c), 0);
    assert_int_equal(vbt_recording_n_annotations(d), vbt_recording_n_annotations(c));
    for (size_t i = 0; i < vbt_recording_n_annotations(c); i++) {
        assert_string_equal(vbt_recording_annotation(d, i)->text,
                            vbt_recording_annotation(c, i)->text);
        assert_close(vbt_recording_annotation(d, i)->onset_s,
                     vbt_recording_annotation(c, i)->onset_s, 1e-12);
        assert_close(vbt_recording_annotation(d, i)->duration_s,
                     vbt_recording_annotation(c, i)->duration_s, 1e-12);
    }
    double x[1280], y[1280];
    for (size_t ch = 0; ch < 2; ch++) {
        const vbt_rec_channel *cc = vbt_recording_channel(c, ch), *dc = vbt_recording_channel(d, ch);
        assert_string_equal(cc->label, dc->label);
        assert_int_equal(cc->n_samples, dc->n_samples);
        assert_int_equal(cc->dig_min, dc->dig_min);
        assert_close(cc->phys_max, dc->phys_max, 0);
        assert_int_equal(vbt_recording_read(c, ch, 0, 1280, x), 0);
        assert_int_equal(vbt_recording_read(d, ch, 0, 1280, y), 0);
        assert_memory_equal(x, y, sizeof x);
    }
    vbt_recording_free(d);

    /* records 5-9 moved 10 s later: a gap [5, 15) s */
    for (size_t r = 5; r < 10; r++) {
        char tal[32];
        int n = snprintf(tal, sizeof tal, "+%zu%c%c%c", r + 10, 0x14, 0x14, 0);
        set_tal(b, r, tal, (size_t)n + 1);
    }
    d_path = bad_copy("gap.edf", b, len);
    if (vbt_recording_open(&d, d_path, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(vbt_recording_n_gaps(d), 1);
    double g0, g1;
    assert_int_equal(vbt_recording_gap(d, 0, &g0, &g1), 0);
    assert_close(g0, 5.0, 1e-12);
    assert_close(g1, 15.0, 1e-12);
    assert_int_equal(vbt_recording_gap(d, 1, &g0, &g1), VBT_ERANGE);
    assert_close(vbt_recording_duration_s(d), 20.0, 1e-12);
    int64_t first;
    size_t n;
    assert_int_equal(vbt_recording_window(d, 0, 1.0, 3.0, &first, &n), 0);
    assert_int_equal(first, 128);
    assert_int_equal(n, 256);
    /* after the gap: record 5 starts at 15 s */
    assert_int_equal(vbt_recording_window(d, 0, 15.5, 17.0, &first, &n), 0);
    assert_int_equal(first, 5 * 128 + 64);
    assert_int_equal(n, 192);
    assert_int_equal(vbt_recording_read(d, 1, first, n, y), 0);
    assert_int_equal(vbt_recording_read(c, 1, first, n, x), 0);
    assert_memory_equal(x, y, n * sizeof *x);
    /* a window across the gap is refused and says so */
    assert_int_equal(vbt_recording_window(d, 0, 4.0, 16.0, &first, &n), VBT_ERANGE);
    assert_non_null(strstr(vbt_recording_errmsg(d), "crosses a gap"));
    assert_int_equal(vbt_recording_window(d, 0, 6.0, 9.0, &first, &n), VBT_ERANGE);
    vbt_recording_free(d);

    /* a record that starts before the previous one ended */
    set_tal(b, 5, "+4.5\x14\x14", 7);
    expect_open_error(bad_copy("overlap.edf", b, len), VBT_EFORMAT, "before the end of record");
    /* a record without its time-keeping annotation */
    set_tal(b, 5, "", 1);
    expect_open_error(bad_copy("notk.edf", b, len), VBT_EFORMAT, "time-keeping");
    vbt_recording_free(c);
    free(b);
}

/* The start's fraction of a second is the first record's time-keeping
 * onset (EDF+), read by EDFlib for EDF+C and here for EDF+D. */
static void test_subsecond(void **state)
{
    (void)state;
    const char *labels[] = {"A1"};
    const char *path = tu_path(g_tmp, "sub.edf");
    write_synthetic(path, 1, labels, 64, 4, 0, -1);
    size_t len;
    unsigned char *b = slurp(path, &len);
    for (size_t r = 0; r < 4; r++) {
        char tal[32];
        int n = snprintf(tal, sizeof tal, "+%zu.394531%c%c%c", r, 0x14, 0x14, 0);
        set_tal(b, r, tal, (size_t)n + 1);
    }
    for (int discont = 0; discont < 2; discont++) {
        b[196] = discont ? 'D' : 'C';
        const char *p = bad_copy(discont ? "subd.edf" : "subc.edf", b, len);
        vbt_recording *rec;
        vbt_msg msg;
        if (vbt_recording_open(&rec, p, &msg))
            fail_msg("%s", msg.text);
        vbt_datetime s = vbt_recording_start(rec);
        assert_int_equal(s.year, 2000);
        assert_int_equal(s.second, 0);
        assert_close(s.subsecond, 0.394531, 1e-7);
        assert_int_equal(vbt_recording_n_gaps(rec), 0);
        vbt_recording_free(rec);
    }
    free(b);
}

/* Header bytes outside printable ASCII: the message names the field. */
static void test_header_ascii(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = slurp(clin("edfio/short_psg.edf"), &len);
    unsigned char keep = b[256 + 2 * 16];
    b[256 + 2 * 16] = 0xE9; /* first byte of signal 3's label */
    expect_open_error(bad_copy("label.edf", b, len), VBT_EFORMAT,
                      "signal 3 label: byte 0xE9 is not ASCII");
    b[256 + 2 * 16] = keep;
    b[256 + 7 * 96 + 3] = 0x01; /* signal 1's physical dimension */
    expect_open_error(bad_copy("dim.edf", b, len), VBT_EFORMAT,
                      "signal 1 physical dimension: byte 0x01");
    b[256 + 7 * 96 + 3] = ' ';
    b[20] = 0xC3; /* the patient field: named, never quoted */
    expect_open_error(bad_copy("pat.edf", b, len), VBT_EFORMAT,
                      "'patient identification': byte 0xC3");
    free(b);
}

/* Every channel marked bad: its own message, not "none of type SEEG". */
static void test_all_bad(void **state)
{
    (void)state;
    char p[8192];
    snprintf(p, sizeof p, "%s/allbad", g_tmp);
    mkdir(p, 0755);
    const char *labels[] = {"A1", "A2"};
    snprintf(p, sizeof p, "%s/allbad/x_ieeg.edf", g_tmp);
    write_synthetic(p, 2, labels, 64, 2, 0, -1);
    char tsv[8192];
    snprintf(tsv, sizeof tsv, "%s/allbad/x_channels.tsv", g_tmp);
    tu_write_file(tsv, "name\ttype\tunits\tstatus\nA1\tSEEG\tuV\tbad\nA2\tSEEG\tuV\tbad\n");
    vbt_recording *rec;
    vbt_msg msg;
    if (vbt_recording_open_bids(&rec, p, NULL, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(vbt_recording_n_channels(rec), 0);
    assert_int_equal(vbt_recording_n_bad_dropped(rec), 2);
    vbt_montage *m = (vbt_montage *)1;
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "every channel (2) is marked bad"));
    vbt_recording_free(rec);
}

/* Channel policy: brain channels (SEEG/ECOG/EEG) by default; untyped ones
 * only in a recording that types none (bare contact labels). */
static void test_channel_policy(void **state)
{
    (void)state;
    const char *mixed[] = {"EEG Fp1", "POL DC01", "EEG Fp2", "POL Photic"};
    const char *bare[] = {"A1", "A2", "B'1"};
    const char *p1 = tu_path(g_tmp, "mixed.edf"), *p2 = tu_path(g_tmp, "bare.edf");
    write_synthetic(p1, 4, mixed, 64, 2, 0, -1);
    write_synthetic(p2, 3, bare, 64, 2, 0, -1);
    vbt_recording *rec;
    vbt_montage *m;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&rec, p1, &msg), 0);
    assert_string_equal(vbt_recording_channel(rec, 1)->type, "n/a");
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg), 0);
    assert_int_equal(vbt_montage_n(m), 2);
    assert_string_equal(vbt_montage_label(m, 0), "EEG Fp1");
    assert_string_equal(vbt_montage_label(m, 1), "EEG Fp2");
    vbt_montage_free(m);
    /* named explicitly, an untyped channel is used */
    size_t pick[] = {1};
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, pick, 1, &msg), 0);
    assert_int_equal(vbt_montage_n(m), 1);
    vbt_montage_free(m);
    vbt_recording_free(rec);
    assert_int_equal(vbt_recording_open(&rec, p2, &msg), 0);
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg), 0);
    assert_int_equal(vbt_montage_n(m), 3);
    vbt_montage_free(m);
    vbt_recording_free(rec);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = tu_mkdtemp();
    return g_tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_tmp);
    free(g_tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_sines),
        cmocka_unit_test(test_psg_scaling),
        cmocka_unit_test(test_hypnogram),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_bids),
        cmocka_unit_test(test_bids_example_sidecars),
        cmocka_unit_test(test_montages),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_brainvision),
        cmocka_unit_test(test_brainvision_mne),
        cmocka_unit_test(test_brainvision_errors),
        cmocka_unit_test(test_text_utf8),
        cmocka_unit_test(test_micromed),
        cmocka_unit_test(test_biosig_crash),
        cmocka_unit_test(test_bids_brainvision),
        cmocka_unit_test(test_edf_plus_d),
        cmocka_unit_test(test_subsecond),
        cmocka_unit_test(test_header_ascii),
        cmocka_unit_test(test_all_bad),
        cmocka_unit_test(test_channel_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
