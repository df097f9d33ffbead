/* test_cohort_out.c -- cohort.html (and its rendering in headless Chromium
 * when installed) and the BIDS derivatives (clinical/vbt_cohort_out.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "vbt.h"
#include "vbt_cohort_out.h"
#include "vbt_io.h"

__attribute__((noinline)) static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    vbt_msg msg;
    if (vbt_file_read_all(path, &text, &len, 0, &msg) != VBT_OK)
        fail_msg("%s", msg.text);
    return text;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* ROC corners of a known ranking; its trapezoid area is the Mann-Whitney AUC. */
static void roc_known(void **state)
{
    (void)state;
    /* scores 0.9(1) 0.8(0) 0.7(1) 0.6(1) 0.5(0) 0.5(1) NaN(1) 0.4(-1 ignored) */
    const double s[] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.5, NAN, 0.4};
    const int l[] = {1, 0, 1, 1, 0, 1, 1, -1};
    double fpr[9], tpr[9];
    size_t np;
    vbt_cohort_roc(s, l, 8, fpr, tpr, &np);
    /* thresholds 0.9, 0.8, 0.7, 0.6, 0.5 (tie taken together) + origin */
    assert_int_equal(np, 6);
    const double ef[] = {0, 0, 0.5, 0.5, 0.5, 1}, et[] = {0, 0.25, 0.25, 0.5, 0.75, 1};
    double area = 0;
    for (size_t k = 0; k < np; k++) {
        assert_close(fpr[k], ef[k], 1e-12);
        assert_close(tpr[k], et[k], 1e-12);
        if (k)
            area += (fpr[k] - fpr[k - 1]) * (tpr[k] + tpr[k - 1]) / 2;
    }
    /* pairs (pos, neg): 4 x 2 = 8; wins 0.9>both, 0.7>0.5, 0.6>0.5, 0.5=0.5 half:
     * 2 + 1 + 1 + 0.5 = 4.5 -> 0.5625 */
    assert_close(area, 4.5 / 8, 1e-12);
    assert_close(vbt_cohort_auc(s, l, 8), 4.5 / 8, 1e-12);
    /* one class only: no curve */
    const int pos[] = {1, 1, 1};
    vbt_cohort_roc(s, pos, 3, fpr, tpr, &np);
    assert_int_equal(np, 0);
}

static void row(vbt_cohort_row *r, const char *sub, const char *run, const char *status,
                vbt_cohort_outcome o, double f1, double p_free)
{
    memset(r, 0, sizeof *r);
    snprintf(r->subject, sizeof r->subject, "%s", sub);
    snprintf(r->run, sizeof r->run, "%s", run);
    snprintf(r->status, sizeof r->status, "%s", status);
    r->outcome = o;
    r->soz.f1 = f1;
    r->soz.precision = r->soz.recall = f1;
    r->resect.f1 = r->resect.precision = r->resect.recall = NAN;
    r->p_free = p_free;
    r->trustworthy = 1;
    r->n_ez = 2;
    r->n_regions = 84;
}

static void html_report(void **state)
{
    (void)state;
    vbt_cohort_row rows[7];
    row(&rows[0], "A<1>", "run-01", "ok", VBT_COHORT_OUTCOME_FREE, 0.8, 0.9);
    row(&rows[1], "B", "run-01", "ok", VBT_COHORT_OUTCOME_FREE, 0.6, 0.7);
    row(&rows[2], "C", "run-01", "ok", VBT_COHORT_OUTCOME_NOT_FREE, 0.2, 0.4);
    row(&rows[3], "D", "run-01", "ok", VBT_COHORT_OUTCOME_NOT_FREE, 0.4, 0.8);
    row(&rows[4], "D", "run-02", "ok", VBT_COHORT_OUTCOME_NOT_FREE, 0.0, 0.2);
    row(&rows[5], "D", "combined", "ok", VBT_COHORT_OUTCOME_NOT_FREE, 0.3, 0.5);
    rows[5].combined = 1;
    row(&rows[6], "E", "", "failed", VBT_COHORT_OUTCOME_FREE, NAN, NAN);
    snprintf(rows[6].reason, sizeof rows[6].reason, "no EDF & no luck");
    vbt_cohort_summary_opts so;
    vbt_cohort_summary_opts_default(&so);
    so.n_boot = 200;
    vbt_cohort_summary sum;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_summarise(rows, 7, &so, &sum, &msg), VBT_OK);
    char *tmp = tu_mkdtemp();
    const char *path = tu_path(tmp, "cohort.html");
    assert_int_equal(vbt_cohort_write_html(path, rows, 7, &sum, &msg), VBT_OK);
    char *h = slurp(path);
    assert_non_null(strstr(h, "<!DOCTYPE html>"));
    assert_int_equal(count(h, "<svg"), 2);
    /* one dot per subject with an EZ map: A, B, C and D's combined row */
    assert_int_equal(count(h, "<circle"), 4);
    assert_non_null(strstr(h, "D: F1 0.300"));
    assert_null(strstr(h, "D: F1 0.400"));
    /* escaped text; the table has every row */
    assert_non_null(strstr(h, "A&lt;1&gt;"));
    assert_null(strstr(h, "A<1>"));
    assert_non_null(strstr(h, "no EDF &amp; no luck"));
    assert_int_equal(count(h, "<tr"), 5 + 7 + 1);
    assert_non_null(strstr(h, "<polyline"));
    /* the same rows give the same bytes */
    const char *path2 = tu_path(tmp, "cohort2.html");
    assert_int_equal(vbt_cohort_write_html(path2, rows, 7, &sum, &msg), VBT_OK);
    char *h2 = slurp(path2);
    assert_string_equal(h, h2);
    free(h2);
    free(h);

    /* Headless Chromium, when installed: the page renders without errors. */
    if (!tu_exists("/usr/bin/chromium")) {
        print_message("chromium not installed: cohort.html rendering check skipped\n");
    } else {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "cd '%s' && timeout 120 /usr/bin/chromium --headless "
                 "--no-sandbox --disable-gpu --enable-logging=stderr --v=0 "
                 "--screenshot='%s/cohort.png' --window-size=1200,2000 'file://%s' "
                 "> '%s/chromium.log' 2>&1", tmp, tmp, path, tmp);
        assert_int_equal(system(cmd), 0);
        char *log = slurp(tu_path(tmp, "chromium.log"));
        assert_null(strstr(log, "Uncaught"));
        free(log);
        assert_true(tu_exists(tu_path(tmp, "cohort.png")));
    }
    tu_rmtree(tmp);
    free(tmp);
}

/* Derivatives of a fake finished run of sub-HUP070 (tests/data/ds004100):
 * results.json gives P(EZ) = 0.95 to ctx-lh-superiortemporal. */
static void derivatives(void **state)
{
    (void)state;
    const char *data = tu_data_dir(), *samples = tu_samples_dir();
    char ds[4096], conn[4096], par[4096], lab[4096], nm[4096];
    snprintf(ds, sizeof ds, "%s/ds004100", data);
    snprintf(conn, sizeof conn, "%s/connectivity_84_desikan.zip", samples);
    snprintf(par, sizeof par, "%s/neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz", samples);
    snprintf(lab, sizeof lab, "%s/neuroparc/Desikan.csv", samples);
    snprintf(nm, sizeof nm, "%s/desikan70_to_dk84.tsv", samples);
    vbt_cohort *c;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_load(&c, ds, &msg), VBT_OK);
    long si = vbt_cohort_find(c, "HUP070");
    assert_true(si >= 0);
    const vbt_cohort_subject *s = &c->subjects[si];
    assert_true(s->n_runs > 0);
    const vbt_cohort_run *r = NULL;
    for (size_t k = 0; k < s->n_runs && !r; k++)
        if (s->runs[k].ictal && s->runs[k].n_channels > 0)
            r = &s->runs[k];
    assert_non_null(r);
    char *out = tu_mkdtemp();
    char p[8192];
    snprintf(p, sizeof p, "%s/sub-HUP070/%s", out, r->name);
    assert_int_equal(vbt_mkdir_parents(p, &msg), VBT_OK);
    tu_write_file(tu_path(out, "sub-HUP070/subject.json"), "{\"status\": \"done\"}\n");
    snprintf(p, sizeof p, "sub-HUP070/%s/results.json", r->name);
    tu_write_file(tu_path(out, p),
                  "{\"regions\": [{\"index\": 0, \"label\": \"ctx-lh-bankssts\", \"p_ez\": 0.1,"
                  " \"p_pz\": 0.7, \"p_hz\": 0.2}, {\"index\": 1, \"label\": "
                  "\"ctx-lh-superiortemporal\", \"p_ez\": 0.95, \"p_pz\": 0.05, \"p_hz\": 0}]}\n");
    vbt_cohort_atlas a = {conn, par, lab, nm, 10.0};
    size_t nw = 0;
    assert_int_equal(vbt_cohort_write_derivatives(c, out, &a, 0.5, &nw, &msg), VBT_OK);
    assert_int_equal(nw, 1);
    char *dd = slurp(tu_path(out, "derivatives/vbt/dataset_description.json"));
    assert_non_null(strstr(dd, "\"DatasetType\": \"derivative\""));
    assert_non_null(strstr(dd, "\"GeneratedBy\""));
    free(dd);
    snprintf(p, sizeof p, "derivatives/vbt/sub-HUP070/ses-%s/ieeg/sub-HUP070_%s_atlas-DK84_desc-ez_probseg.tsv",
             r->ses, r->name);
    char *t = slurp(tu_path(out, p));
    assert_non_null(strstr(t, "index\tregion\tp_ez\tp_pz\tp_hz\tez\n"));
    assert_non_null(strstr(t, "\tctx-lh-superiortemporal\t0.95\t0.05\t0\t1\n"));
    assert_non_null(strstr(t, "\tctx-lh-bankssts\t0.1\t0.7\t0.2\t0\n"));
    assert_non_null(strstr(t, "\tctx-lh-insula\tn/a\tn/a\tn/a\t0\n"));
    assert_int_equal(count(t, "\n"), 85);
    free(t);
    snprintf(p, sizeof p, "derivatives/vbt/sub-HUP070/ses-%s/ieeg/sub-HUP070_%s_desc-ez_channels.tsv",
             r->ses, r->name);
    char *ch = slurp(tu_path(out, p));
    assert_int_equal(count(ch, "\n"), r->n_channels + 1);
    /* every line a channel of the run, in order */
    const char *line = strchr(ch, '\n') + 1;
    for (size_t i = 0; i < r->n_channels; i++) {
        assert_int_equal(strncmp(line, r->channels[i].name, strlen(r->channels[i].name)), 0);
        line = strchr(line, '\n') + 1;
    }
    free(ch);
    tu_rmtree(out);
    free(out);
    vbt_cohort_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roc_known),
        cmocka_unit_test(html_report),
        cmocka_unit_test(derivatives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
