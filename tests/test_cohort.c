/* test_cohort.c -- the cohort reader on ds004100's real sidecars
 * (tests/data/ds004100, CC0) with each of their quirks, onset names, the
 * channel -> region rules, scoring against hand-computed values, and the
 * runner: a failing subject recorded, and a run killed with SIGKILL that,
 * run again, gives the same table as one never interrupted. */
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "vbt.h"
#include "vbt_cohort.h"

/* snprintf for paths and messages whose truncation is harmless (a
 * truncated path fails to open and says so). */
static int fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(buf, n, f, ap);
    va_end(ap);
    return k;
}

static const char *ds_path(void)
{
    static char p[4096];
    fmt(p, sizeof p, "%s/ds004100", tu_data_dir());
    return p;
}

static void test_event_names(void **state)
{
    (void)state;
    const char *on[] = {"sz onset", "SZ_Onset", " Seizure-Onset ", "EEG onset", "seizure",
                        "UEO", "clinical onset", "Sz  start", "onset"};
    const char *off[] = {"sz offset", "END OF SEIZURE", "seizure_end", "Offset", "sz.stop"};
    const char *other[] = {"spike", "onset?", "artifact", "", "sz onsets", "pre-onset"};
    for (size_t i = 0; i < sizeof on / sizeof *on; i++)
        assert_int_equal(vbt_cohort_event_classify(on[i]), VBT_COHORT_EVENT_ONSET);
    for (size_t i = 0; i < sizeof off / sizeof *off; i++)
        assert_int_equal(vbt_cohort_event_classify(off[i]), VBT_COHORT_EVENT_OFFSET);
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
        assert_int_equal(vbt_cohort_event_classify(other[i]), VBT_COHORT_EVENT_OTHER);
    assert_int_equal(vbt_cohort_event_classify(NULL), VBT_COHORT_EVENT_OTHER);
}

/* ds004100's own quirks: participants.tsv with CRLF and an id with a
 * trailing blank, a subject listed without files, electrodes.tsv and
 * events.tsv with a byte-order mark, n/a coordinates, units m with values
 * in mm. */
static void test_reader_real(void **state)
{
    (void)state;
    vbt_cohort *c = NULL;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_load(&c, ds_path(), &msg), VBT_OK);
    assert_int_equal(c->n_subjects, 58);   /* participants.tsv rows */
    /* "sub-HUP151 " found trimmed, and noted */
    long i151 = vbt_cohort_find(c, "HUP151");
    assert_true(i151 >= 0);
    assert_int_equal(vbt_cohort_find(c, "sub-HUP151 "), i151);
    assert_string_equal(c->subjects[i151].id, "HUP151");
    assert_null(c->subjects[i151].problem);
    assert_true(c->n_notes >= 1);
    assert_non_null(strstr(c->notes[0], "HUP151"));
    /* HUP132 listed, no files */
    long i132 = vbt_cohort_find(c, "HUP132");
    assert_true(i132 >= 0);
    assert_non_null(c->subjects[i132].problem);
    assert_non_null(strstr(c->subjects[i132].problem, "no files"));
    assert_null(c->subjects[i132].dir);
    /* HUP060: F, Engel 3A, ABLATION, SEEG (CRLF gone from every field) */
    long k = vbt_cohort_find(c, "HUP060");
    assert_true(k >= 0);
    const vbt_cohort_subject *s = &c->subjects[k];
    assert_int_equal(s->outcome, VBT_COHORT_OUTCOME_NOT_FREE);
    assert_string_equal(s->engel, "3A");
    assert_string_equal(s->therapy, "ABLATION");
    assert_string_equal(s->implant, "SEEG");
    assert_string_equal(s->space, "fsaverage");
    assert_string_equal(s->units, "m");
    /* 59 rows (BOM before the header), 21 with n/a, the rest in mm up to 41.9 */
    assert_int_equal(s->n_contacts, 59);
    assert_string_equal(s->contacts[0].name, "C3");
    assert_int_equal(s->contacts[0].has_xyz, 0);
    size_t with = 0;
    double amax = 0;
    for (size_t q = 0; q < s->n_contacts; q++)
        if (s->contacts[q].has_xyz) {
            with++;
            for (int d = 0; d < 3; d++)
                amax = fmax(amax, fabs(s->contacts[q].xyz_mm[d]));
        }
    assert_int_equal(with, 38);
    assert_true(fabs(amax - 41.87570077) < 1e-9);   /* not scaled by 1000 */
    assert_non_null(strstr(s->unit_note, "read as mm"));
    /* 3 ictal runs with "sz onset" at 120 s (BOM before the onset column)
     * and 2 interictal runs, skipped as not ictal */
    assert_int_equal(s->n_runs, 5);
    size_t ictal = 0;
    for (size_t r = 0; r < s->n_runs; r++) {
        const vbt_cohort_run *run = &s->runs[r];
        if (run->ictal) {
            ictal++;
            assert_null(run->skip);
            assert_true(fabs(run->onset_s - 120.0) < 1e-12);
            assert_string_equal(run->onset_text, "sz onset");
            assert_true(run->offset_s > run->onset_s);
            assert_int_equal(run->has_signal, 0);   /* sidecars only */
        } else {
            assert_non_null(run->skip);
        }
    }
    assert_int_equal(ictal, 3);
    const vbt_cohort_run *r1 = &s->runs[0];
    assert_string_equal(r1->name, "ses-presurgery_task-ictal_acq-seeg_run-01");
    assert_string_equal(r1->task, "ictal");
    assert_string_equal(r1->run, "01");
    assert_true(fabs(r1->offset_s - 317.998) < 1e-9);
    size_t soz = 0, res = 0, bad = 0;
    for (size_t q = 0; q < r1->n_channels; q++) {
        soz += r1->channels[q].soz;
        res += r1->channels[q].resect;
        bad += r1->channels[q].bad;
    }
    assert_int_equal(r1->n_channels, 59);
    assert_int_equal(soz, 4);
    assert_int_equal(res, 9);
    assert_true(bad > 0);
    /* every participants.tsv subject is there; the other folders were not copied */
    size_t no_files = 0;
    for (size_t q = 0; q < c->n_subjects; q++)
        no_files += c->subjects[q].dir == NULL;
    assert_int_equal(no_files, 55);
    vbt_cohort_free(c);
    vbt_cohort_free(NULL);
}

/* The atlas path on HUP060's real contacts. */
static void test_localise_real(void **state)
{
    (void)state;
    vbt_cohort *c = NULL;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_load(&c, ds_path(), &msg), VBT_OK);
    const vbt_cohort_subject *s = &c->subjects[vbt_cohort_find(c, "HUP060")];
    char conn[4096], par[4096], lab[4096], nm[4096];
    fmt(conn, sizeof conn, "%s/connectivity_84_desikan.zip", tu_samples_dir());
    fmt(par, sizeof par, "%s/neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz",
             tu_samples_dir());
    fmt(lab, sizeof lab, "%s/neuroparc/Desikan.csv", tu_samples_dir());
    fmt(nm, sizeof nm, "%s/desikan70_to_dk84.tsv", tu_samples_dir());
    vbt_cohort_atlas a = {conn, par, lab, nm, 10};
    vbt_cohort_localisation *l = NULL;
    assert_int_equal(vbt_cohort_localise(&l, s, &a, &msg), VBT_OK);
    assert_int_equal(l->n_regions, 84);
    assert_int_equal(l->n_contacts, 59);
    size_t loc = 0;
    for (size_t i = 0; i < l->n_contacts; i++) {
        if (!s->contacts[i].has_xyz)
            assert_int_equal(l->region[i], -1);
        if (l->region[i] >= 0) {
            loc++;
            assert_true(l->dist_mm[i] >= 0 && l->dist_mm[i] <= 10);
        }
    }
    /* most depth contacts fall in (or within 10 mm of) a region */
    assert_true(loc >= 30 && loc <= 38);
    /* SOZ regions of run 1: its 4 soz channels, on 3 electrodes of the right
     * prefrontal cortex */
    unsigned char set[84];
    size_t n = vbt_cohort_region_set(l, &s->runs[0], VBT_COHORT_SOZ, set);
    assert_true(n >= 1 && n <= 4);
    for (size_t r = 0; r < 84; r++)
        if (set[r])
            assert_true(strstr(l->region_names[r], "rh") != NULL ||
                        strstr(l->region_names[r], "Right") != NULL);
    vbt_cohort_localisation_free(l);
    vbt_cohort_free(c);
}

/* Monopolar and bipolar channels on a hand-made localisation. */
static void test_channel_rules(void **state)
{
    (void)state;
    char names[3][VBT_LABEL_MAX] = {"r0", "r1", "r2"};
    char contact[4][64] = {"A1", "A2", "A3", "B1"};
    long region[4] = {2, 0, -1, 0};
    double dist[4] = {0, 0, NAN, 3.5};
    vbt_cohort_localisation l = {.n_regions = 3, .region_names = names, .n_contacts = 4,
                                 .contact = contact, .region = region, .dist_mm = dist};
    long reg[2];
    size_t n;
    vbt_cohort_channel_regions(&l, "A1", reg, &n);
    assert_int_equal(n, 1);
    assert_int_equal(reg[0], 2);
    vbt_cohort_channel_regions(&l, "a1", reg, &n);   /* case ignored */
    assert_int_equal(n, 1);
    vbt_cohort_channel_regions(&l, "A1-A2", reg, &n);
    assert_int_equal(n, 2);
    assert_int_equal(reg[0], 2);
    assert_int_equal(reg[1], 0);
    vbt_cohort_channel_regions(&l, "A2-A3", reg, &n);   /* one contact unlocalised */
    assert_int_equal(n, 1);
    assert_int_equal(reg[0], 0);
    vbt_cohort_channel_regions(&l, "A2-B1", reg, &n);   /* same region once */
    assert_int_equal(n, 1);
    vbt_cohort_channel_regions(&l, "A3", reg, &n);
    assert_int_equal(n, 0);
    vbt_cohort_channel_regions(&l, "Z9", reg, &n);
    assert_int_equal(n, 0);
    vbt_cohort_channel ch[3] = {{.name = "A1-A2", .soz = 1},
                                {.name = "A3", .soz = 1, .resect = 1},
                                {.name = "B1", .resect = 1, .bad = 1}};
    vbt_cohort_run run = {.channels = ch, .n_channels = 3};
    unsigned char set[3];
    assert_int_equal(vbt_cohort_region_set(&l, &run, VBT_COHORT_SOZ, set), 2);
    assert_true(set[0] && !set[1] && set[2]);
    assert_int_equal(vbt_cohort_region_set(&l, &run, VBT_COHORT_RESECT, set), 1);
    assert_true(set[0] && !set[1] && !set[2]);
}

static void test_scores(void **state)
{
    (void)state;
    unsigned char pred[5] = {1, 1, 0, 0, 1}, truth[5] = {1, 0, 1, 0, 0};
    vbt_cohort_f1 s;
    vbt_cohort_score_sets(pred, truth, 5, &s);
    assert_int_equal(s.tp, 1);
    assert_true(fabs(s.precision - 1.0 / 3.0) < 1e-15);
    assert_true(fabs(s.recall - 0.5) < 1e-15);
    assert_true(fabs(s.f1 - 0.4) < 1e-15);   /* 2 (1/3)(1/2) / (5/6) */
    unsigned char none[5] = {0};
    vbt_cohort_score_sets(none, truth, 5, &s);
    assert_true(isnan(s.precision) && isnan(s.f1));
    unsigned char miss[5] = {0, 1, 0, 1, 0};
    vbt_cohort_score_sets(miss, truth, 5, &s);
    assert_true(s.f1 == 0.0);
    /* AUC: positives 0.9, 0.7, 0.6 against negatives 0.8, 0.5, 0.4: 7 of 9 pairs */
    double sc[6] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4};
    int lab[6] = {1, 0, 1, 1, 0, 0};
    assert_true(fabs(vbt_cohort_auc(sc, lab, 6) - 7.0 / 9.0) < 1e-15);
    double tie[3] = {0.5, 0.5, NAN};
    int tl[3] = {1, 0, 1};
    assert_true(fabs(vbt_cohort_auc(tie, tl, 3) - 0.5) < 1e-15);
    int one[2] = {1, 1};
    assert_true(isnan(vbt_cohort_auc(sc, one, 2)));
}

/* Summary on hand-made rows: group means, AUC, and seeded intervals. */
static void test_summary(void **state)
{
    (void)state;
    vbt_cohort_row rows[7];
    const double f1[6] = {0.8, 0.6, 0.4, 0.2, 0.5, 0.1};
    const double pf[6] = {0.9, 0.7, 0.8, 0.3, 0.6, 0.2};
    const int free_[6] = {1, 1, 0, 0, 1, 0};
    for (int i = 0; i < 6; i++) {
        memset(&rows[i], 0, sizeof rows[i]);
        fmt(rows[i].subject, sizeof rows[i].subject, "S%d", i);
        fmt(rows[i].status, sizeof rows[i].status, "ok");
        rows[i].outcome = free_[i] ? VBT_COHORT_OUTCOME_FREE : VBT_COHORT_OUTCOME_NOT_FREE;
        rows[i].soz.f1 = f1[i];
        rows[i].resect.f1 = NAN;
        rows[i].p_free = pf[i];
        rows[i].trustworthy = i != 3;
    }
    memset(&rows[6], 0, sizeof rows[6]);
    fmt(rows[6].subject, sizeof rows[6].subject, "S6");
    fmt(rows[6].status, sizeof rows[6].status, "failed");
    fmt(rows[6].reason, sizeof rows[6].reason, "no signal");
    vbt_cohort_summary_opts o;
    vbt_cohort_summary_opts_default(&o);
    vbt_cohort_summary a, b;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_summarise(rows, 7, &o, &a, &msg), VBT_OK);
    assert_int_equal(a.n_subjects, 7);
    assert_int_equal(a.n_ok, 6);
    assert_int_equal(a.n_failed, 1);
    assert_int_equal(a.n_untrustworthy, 1);
    assert_true(fabs(a.f1_free.value - (0.8 + 0.6 + 0.5) / 3) < 1e-12);
    assert_true(fabs(a.f1_not_free.value - (0.4 + 0.2 + 0.1) / 3) < 1e-12);
    /* free: 0.9, 0.7, 0.6; not free: 0.8, 0.3, 0.2 -> 7 of 9 pairs */
    assert_true(fabs(a.auc.value - 7.0 / 9.0) < 1e-12);
    assert_true(a.auc.lo <= a.auc.value && a.auc.value <= a.auc.hi);
    assert_true(a.f1_free.lo >= 0.5 - 1e-12 && a.f1_free.hi <= 0.8 + 1e-12);
    assert_int_equal(vbt_cohort_summarise(rows, 7, &o, &b, &msg), VBT_OK);
    assert_true(a.auc.lo == b.auc.lo && a.auc.hi == b.auc.hi);   /* seeded */
    o.level = 1.5;
    assert_int_equal(vbt_cohort_summarise(rows, 7, &o, &b, &msg), VBT_EINVAL);
}

/* A dataset written by the test: units and onset quirks, and a run
 * without a recognisable onset (reported, skipped, never guessed). */
static void test_reader_made(void **state)
{
    (void)state;
    char *d = tu_mkdtemp();
    char p[4096];
    fmt(p, sizeof p, "%s/participants.tsv", d);
    tu_write_file(p, "\xEF\xBB\xBFparticipant_id\toutcome\tengel\r\nsub-A\tn/a\tIB\r\n"
                     "sub-B\tn/a\t2\r\n");
    const char *subs[2] = {"A", "B"};
    for (int k = 0; k < 2; k++) {
        fmt(p, sizeof p, "%s/sub-%s/ses-1/ieeg", d, subs[k]);
        char cmd[4200];
        fmt(cmd, sizeof cmd, "mkdir -p '%s'", p);
        assert_int_equal(system(cmd), 0);
    }
    fmt(p, sizeof p, "%s/sub-A/ses-1/ieeg/sub-A_ses-1_space-MNI152NLin2009aSym_electrodes.tsv", d);
    tu_write_file(p, "name\tx\ty\tz\nA1\t0.0123\t-0.0456\t0.0075\nA2\tn/a\tn/a\tn/a\n");
    fmt(p, sizeof p, "%s/sub-A/ses-1/ieeg/sub-A_ses-1_space-MNI152NLin2009aSym_coordsystem.json", d);
    tu_write_file(p, "{\"iEEGCoordinateSystem\": \"MNI152NLin2009aSym\", \"iEEGCoordinateUnits\": \"m\"}");
    fmt(p, sizeof p, "%s/sub-A/ses-1/ieeg/sub-A_ses-1_task-ictal_run-1_channels.tsv", d);
    tu_write_file(p, "name\ttype\tstatus\tstatus_description\nA1\tSEEG\tgood\tSOZ\nA2\tSEEG\tgood\tresected\n");
    fmt(p, sizeof p, "%s/sub-A/ses-1/ieeg/sub-A_ses-1_task-ictal_run-1_events.tsv", d);
    tu_write_file(p, "onset\tduration\ttrial_type\n1.5\t0\tspike\n10.25\t4.5\tEEG_Onset\n");
    fmt(p, sizeof p, "%s/sub-A/ses-1/ieeg/sub-A_ses-1_task-ictal_run-2_channels.tsv", d);
    tu_write_file(p, "name\ttype\tstatus\tstatus_description\nA1\tSEEG\tgood\tn/a\n");
    fmt(p, sizeof p, "%s/sub-A/ses-1/ieeg/sub-A_ses-1_task-ictal_run-2_events.tsv", d);
    tu_write_file(p, "onset\tduration\ttrial_type\n3\t0\tartifact\n");
    /* B: electrodes in cm, only an unrecognisable onset */
    fmt(p, sizeof p, "%s/sub-B/ses-1/ieeg/sub-B_ses-1_electrodes.tsv", d);
    tu_write_file(p, "name\tx\ty\tz\nB1\t1.5\t-2\t3.25\n");
    fmt(p, sizeof p, "%s/sub-B/ses-1/ieeg/sub-B_ses-1_coordsystem.json", d);
    tu_write_file(p, "{\"iEEGCoordinateSystem\": \"Other\", \"iEEGCoordinateUnits\": \"cm\"}");
    fmt(p, sizeof p, "%s/sub-B/ses-1/ieeg/sub-B_ses-1_task-ictal_run-1_channels.tsv", d);
    tu_write_file(p, "name\ttype\tstatus\nB1\tSEEG\tgood\n");
    fmt(p, sizeof p, "%s/sub-B/ses-1/ieeg/sub-B_ses-1_task-ictal_run-1_events.tsv", d);
    tu_write_file(p, "onset\tduration\ttrial_type\n3\t0\tstart?\n");
    vbt_cohort *c = NULL;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_load(&c, d, &msg), VBT_OK);
    assert_int_equal(c->n_subjects, 2);
    const vbt_cohort_subject *a = &c->subjects[0], *b = &c->subjects[1];
    assert_int_equal(a->outcome, VBT_COHORT_OUTCOME_FREE);   /* Engel I */
    assert_int_equal(b->outcome, VBT_COHORT_OUTCOME_NOT_FREE);
    /* units m and values in m: converted */
    assert_true(fabs(a->contacts[0].xyz_mm[0] - 12.3) < 1e-9);
    assert_true(fabs(a->contacts[0].xyz_mm[1] + 45.6) < 1e-9);
    assert_string_equal(a->unit_note, "");
    assert_int_equal(a->contacts[1].has_xyz, 0);
    assert_int_equal(a->n_runs, 2);
    assert_true(fabs(a->runs[0].onset_s - 10.25) < 1e-12);
    assert_true(fabs(a->runs[0].offset_s - 14.75) < 1e-12);   /* onset + duration */
    assert_string_equal(a->runs[0].onset_text, "EEG_Onset");
    assert_int_equal(a->runs[0].channels[0].soz, 1);
    assert_int_equal(a->runs[0].channels[1].resect, 1);
    assert_non_null(a->runs[1].skip);
    assert_non_null(strstr(a->runs[1].skip, "no recognisable seizure onset"));
    assert_null(a->problem);
    /* cm and values that fit cm: converted */
    assert_true(fabs(b->contacts[0].xyz_mm[2] - 32.5) < 1e-9);
    assert_non_null(b->problem);
    assert_non_null(strstr(b->problem, "no ictal run"));
    vbt_cohort_free(c);
    /* errors */
    assert_int_equal(vbt_cohort_load(&c, "/nonexistent/ds", &msg), VBT_EIO);
    assert_null(c);
    tu_rmtree(d);
    free(d);
}

/* ---- the runner --------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *b = tu_slurp(from, &n);
    assert_non_null(b);
    tu_write_bytes(to, b, n);
    free(b);
}

/* Two subjects at ds004100-style paths: T01 the sample patient's seizure
 * (onset spelled "SZ_Onset"), T02 whose EDF is not an EDF. */
static char *make_tiny(void)
{
    char *d = tu_mkdtemp();
    char p[4096], q[4096], cmd[8300];
    fmt(p, sizeof p, "%s/participants.tsv", d);
    tu_write_file(p, "participant_id\toutcome\tengel\ttherapy\timplant\n"
                     "sub-T01\tS\t1A\tRESECTION\tSEEG\nsub-T02\tF\t3A\tABLATION\tSEEG\n");
    const char *src = tu_path(tu_samples_dir(), "patient/sub-vep01/ses-01/ieeg");
    char srcd[4096];
    fmt(srcd, sizeof srcd, "%s", src);
    for (int k = 1; k <= 2; k++) {
        char ieeg[4096], base[4200];
        fmt(ieeg, sizeof ieeg, "%s/sub-T0%d/ses-presurgery/ieeg", d, k);
        fmt(cmd, sizeof cmd, "mkdir -p '%s'", ieeg);
        assert_int_equal(system(cmd), 0);
        fmt(base, sizeof base, "%s/sub-T0%d_ses-presurgery_task-ictal_acq-seeg_run-01", ieeg, k);
        fmt(p, sizeof p, "%s_ieeg.edf", base);
        if (k == 1) {
            fmt(q, sizeof q, "%s/sub-vep01_ses-01_task-seizure_run-01_ieeg.edf", srcd);
            copy_file(q, p);
        } else {
            tu_write_file(p, "not an EDF file\n");
        }
        /* channels: the sample's, the first 4 soz, the next 4 resected */
        fmt(q, sizeof q, "%s/sub-vep01_ses-01_task-seizure_run-01_channels.tsv", srcd);
        size_t n;
        char *t = tu_slurp(q, &n);
        assert_non_null(t);
        char out[200000];
        size_t o = 0, line = 0;
        o += (size_t)fmt(out + o, sizeof out - o, "name\ttype\tstatus\tstatus_description\n");
        for (char *save = NULL, *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            if (line++ == 0)
                continue;
            char *tab = strchr(l, '\t');
            if (!tab)
                continue;
            *tab = '\0';
            const char *desc = line <= 5 ? "soz" : line <= 9 ? "resect" : "n/a";
            o += (size_t)fmt(out + o, sizeof out - o, "%s\tSEEG\tgood\t%s\n", l, desc);
        }
        free(t);
        fmt(p, sizeof p, "%s_channels.tsv", base);
        tu_write_file(p, out);
        fmt(p, sizeof p, "%s_events.tsv", base);
        tu_write_file(p, "onset\tduration\ttrial_type\n3.204\t0.0\tSZ_Onset\n5.268\t0.0\tSz End\n");
        fmt(q, sizeof q, "%s/sub-vep01_ses-01_space-IXI549Space_electrodes.tsv", srcd);
        fmt(p, sizeof p, "%s/sub-T0%d_ses-presurgery_space-IXI549Space_electrodes.tsv", ieeg, k);
        copy_file(q, p);
        fmt(q, sizeof q, "%s/sub-vep01_ses-01_space-IXI549Space_coordsystem.json", srcd);
        fmt(p, sizeof p, "%s/sub-T0%d_ses-presurgery_space-IXI549Space_coordsystem.json", ieeg, k);
        copy_file(q, p);
    }
    return d;
}

static char g_conn[4096], g_par[4096], g_lab[4096], g_nm[4096];

static void run_opts(vbt_cohort_run_opts *o, const char *out)
{
    vbt_cohort_run_opts_default(o);
    fmt(g_conn, sizeof g_conn, "%s/connectivity_84_desikan.zip", tu_samples_dir());
    fmt(g_par, sizeof g_par, "%s/neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz",
             tu_samples_dir());
    fmt(g_lab, sizeof g_lab, "%s/neuroparc/Desikan.csv", tu_samples_dir());
    fmt(g_nm, sizeof g_nm, "%s/desikan70_to_dk84.tsv", tu_samples_dir());
    o->outdir = out;
    o->atlas.connectome = g_conn;
    o->atlas.parcellation = g_par;
    o->atlas.labels = g_lab;
    o->atlas.names = g_nm;
    o->pipeline.fit.method = "map";
    o->pipeline.fit.points = 40;
    o->pipeline.fit.map_hop_rounds = 1; /* the hops run, for a fraction of the preset's time */
}

/* Run both subjects into out; the table's bytes (malloc'd). */
static char *run_all(const vbt_cohort *c, const char *out, size_t *len)
{
    vbt_cohort_run_opts o;
    run_opts(&o, out);
    vbt_msg msg;
    assert_int_equal(vbt_cohort_subject_run(c, 0, &o, &msg), VBT_OK);
    /* T02 fails the first time; then its failure is recorded and it is skipped */
    if (vbt_cohort_subject_run(c, 1, &o, &msg) != VBT_OK)
        assert_non_null(strstr(msg.text, "sub-T02"));
    vbt_cohort_row *rows;
    size_t n;
    assert_int_equal(vbt_cohort_collect(c, out, &rows, &n, &msg), VBT_OK);
    char csv[4200];
    fmt(csv, sizeof csv, "%s/cohort.csv", out);
    assert_int_equal(vbt_cohort_write_csv(csv, rows, n, &msg), VBT_OK);
    free(rows);
    return tu_slurp(csv, len);
}

static void test_runner(void **state)
{
    (void)state;
    char *d = make_tiny();
    vbt_cohort *c = NULL;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_load(&c, d, &msg), VBT_OK);
    assert_int_equal(c->n_subjects, 2);
    assert_null(c->subjects[0].problem);
    assert_int_equal(c->subjects[0].runs[0].has_signal, 1);
    char a[4200], b[4200];
    fmt(a, sizeof a, "%s/out-a", d);
    fmt(b, sizeof b, "%s/out-b", d);
    mkdir(a, 0777);
    mkdir(b, 0777);
    /* the uninterrupted run */
    size_t la;
    char *ta = run_all(c, a, &la);
    assert_non_null(ta);
    /* T01 ran and was scored; T02 failed with a one-line reason */
    assert_non_null(strstr(ta, "\nT01,ses-presurgery_task-ictal_acq-seeg_run-01,ok,,free,1A,"));
    const char *t2 = strstr(ta, "\nT02,ses-presurgery_task-ictal_acq-seeg_run-01,failed,");
    assert_non_null(t2);
    assert_true(strchr(t2 + 1, '\n') != NULL);
    vbt_cohort_row *rows;
    size_t n;
    assert_int_equal(vbt_cohort_collect(c, a, &rows, &n, &msg), VBT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].n_regions, 84);
    assert_true(rows[0].soz.n_true >= 1);
    assert_true(rows[0].resect.n_true >= 1);
    assert_false(isnan(rows[0].p_free));
    assert_true(rows[0].p_free >= 0 && rows[0].p_free <= 1);
    /* a MAP fit (run_opts) is a point estimate: never trustworthy, and the
     * table says why (results.json "verdict") */
    assert_int_equal(rows[0].trustworthy, 0);
    assert_non_null(strstr(rows[0].verdict_reasons, "point estimate only"));
    assert_non_null(strstr(ta, ",fit_trustworthy,verdict_reasons\n"));
    assert_non_null(strstr(strstr(ta, "\nT01,"), "point estimate only"));
    free(rows);
    /* a second run skips both subjects: nothing changes */
    size_t la2;
    char *ta2 = run_all(c, a, &la2);
    assert_int_equal(la, la2);
    assert_memory_equal(ta, ta2, la);
    free(ta2);
    /* killed: a child runs T01 into b and is killed with SIGKILL as soon as
     * the pipeline's first step is done, then everything runs again */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vbt_cohort_run_opts o;
        run_opts(&o, b);
        vbt_msg m;
        _exit(vbt_cohort_subject_run(c, 0, &o, &m) ? 1 : 0);
    }
    char gain[4300], done[4300];
    fmt(gain, sizeof gain, "%s/sub-T01/ses-presurgery_task-ictal_acq-seeg_run-01/gain", b);
    fmt(done, sizeof done, "%s/sub-T01/subject.json", b);
    int status;
    for (;;) {
        if (tu_exists(gain) || waitpid(pid, &status, WNOHANG) == pid)
            break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_false(tu_exists(done));   /* recorded only when the subject is finished */
    size_t lb;
    char *tb = run_all(c, b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    free(ta);
    free(tb);
    vbt_cohort_free(c);
    tu_rmtree(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_names),   cmocka_unit_test(test_reader_real),
        cmocka_unit_test(test_reader_made),   cmocka_unit_test(test_localise_real),
        cmocka_unit_test(test_channel_rules), cmocka_unit_test(test_scores),
        cmocka_unit_test(test_summary),       cmocka_unit_test(test_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
