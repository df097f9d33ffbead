/* test_report.c -- the patient report (clinical/vbt_report.h): the first
 * screen's sentence and its red warnings (failed verdict, missed surgery
 * target, no seizure to stop), the MAP-only page (point estimates: no
 * "P(EZ)", no NaN anywhere), the EZ table sorted by probability, onset
 * times in seconds from the marked onset, the brain maps' outline, markers,
 * colour bar and contacts, the feature panels' band statement, the context
 * read from a pipeline's folder and a BIDS recording (the dropped channels
 * and why, the Epileptogenicity Index), well-formed XML (xmllint, when
 * installed) and the page rendered in headless Chromium with no console
 * message and the sentence in the DOM (skipped, saying why, when Chromium
 * is not installed: scripts/setup.sh installs it with VBT_SETUP_CHROMIUM=1,
 * scripts/test-all.sh always). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "test_util.h"
#include "vbt_io.h"
#include "vbt_recording.h"
#include "vbt_report.h"

#define NREG 6
#define T_PTS 60
#define S_CH 3

/* ---- fixture: six regions, three channels, a context made by hand ---------- */

typedef struct fixture {
    vbt_connectome *conn;
    vbt_report_region reg[NREG];
    vbt_report_scenario scen[3];
    double feature[T_PTS * S_CH], pred[3 * T_PTS * S_CH];
    char chan[S_CH][64];
    vbt_report_context ctx;
    char *plan[2];
    vbt_report_input in;
    char *dir;
} fixture;

static const char *const labels[NREG] = {"ctx-lh-a", "ctx-lh-b", "ctx-lh-c",
                                         "ctx-lh-d", "ctx-rh-e", "ctx-rh-f"};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->conn = vbt_connectome_alloc(NREG);
    for (size_t i = 0; i < NREG; i++) {
        snprintf(f->conn->labels[i], VBT_LABEL_MAX, "%s", labels[i]);
        f->conn->centres[3 * i] = i < 4 ? -30.0 : 30.0;
        f->conn->centres[3 * i + 1] = -40.0 + 20.0 * (double)(i % 4);
        f->conn->centres[3 * i + 2] = (double)(i % 3) * 10.0;
        for (size_t j = 0; j < NREG; j++)
            f->conn->weights[i * NREG + j] = i == j ? 0.0 : 1.0 / (1.0 + (double)(i + j));
    }
    /* regions in an order that is not the EZ order: d (0.97) then a (0.62) */
    const double p_ez[NREG] = {0.62, 0.05, 0.0, 0.97, 0.0, 0.2};
    const double p_pz[NREG] = {0.30, 0.80, 0.1, 0.03, 0.0, 0.1};
    const double x0[NREG] = {-1.95, -2.6, -3.3, -1.80, -3.5, -2.9};
    const double onset[NREG] = {17.0, 21.0, NAN, 15.0, NAN, NAN};
    for (size_t i = 0; i < NREG; i++) {
        vbt_report_region *r = &f->reg[i];
        snprintf(r->label, sizeof r->label, "%s", labels[i]);
        r->p_ez = p_ez[i];
        r->p_pz = p_pz[i];
        r->p_hz = 1 - p_ez[i] - p_pz[i];
        r->x0_mean = x0[i];
        r->x0_q5 = x0[i] - 0.2;
        r->x0_q95 = x0[i] + 0.2;
        r->p_recruited = isnan(onset[i]) ? 0.0 : 1.0;
        r->onset_median = onset[i];
        r->onset_q5 = onset[i] - 1;
        r->onset_q95 = onset[i] + 1;
    }
    f->reg[3].truth = 1;
    f->scen[0] = (vbt_report_scenario){.name = "none", .p_freedom = 0.0, .n_resected = 0};
    f->scen[1] = (vbt_report_scenario){.name = "ctx-lh-d", .p_freedom = 0.4, .n_resected = 1};
    f->scen[2] = (vbt_report_scenario){.name = "plan", .p_freedom = 0.95, .n_resected = 2};
    /* the feature: channel 0 rises at sample 20 and stays inside the band
     * [y - 0.1, y + 0.1]; channel 1 leaves it at half the points (the band
     * sits 1 above the observation from sample 30 on); channel 2 is flat */
    for (size_t t = 0; t < T_PTS; t++)
        for (size_t s = 0; s < S_CH; s++) {
            double y = s == 2 ? 0.0 : t >= 20 ? 1.0 - 0.3 * (double)s : 0.0;
            double shift = s == 1 && t >= 30 ? 1.0 : 0.0;
            f->feature[t * S_CH + s] = y;
            f->pred[t * S_CH + s] = y - 0.1 + shift;
            f->pred[T_PTS * S_CH + t * S_CH + s] = y + shift;
            f->pred[2 * T_PTS * S_CH + t * S_CH + s] = y + 0.1 + shift;
        }
    for (size_t s = 0; s < S_CH; s++)
        snprintf(f->chan[s], 64, "A%zu", s + 1);
    /* the context: samples every 0.05 s from 1.0 s, marked onset at 2.0 s,
     * offset at 3.5 s, dt 0.5 model units per sample */
    vbt_report_context *c = &f->ctx;
    c->fs_hz = 256;
    c->onset_s = 2.0;
    c->offset_s = 3.5;
    c->t0_s = 1.0;
    c->t1_s = 1.0 + 0.05 * (T_PTS - 1);
    c->time_s = malloc(T_PTS * sizeof *c->time_s);
    for (size_t t = 0; t < T_PTS; t++)
        c->time_s[t] = 1.0 + 0.05 * (double)t;
    c->n_time = T_PTS;
    c->model_dt = 0.5;
    snprintf(c->feature_unit, sizeof c->feature_unit, "dimensionless test unit");
    snprintf(c->recording, sizeof c->recording, "sub-x/ieeg/sub-x_task-seizure_ieeg.edf");
    c->n_draws = 200;
    c->plan_reached = 1;
    c->plan_target = 0.9;
    c->plan_p = 0.95;
    c->p_without = 0.0;
    f->plan[0] = "ctx-lh-d";
    f->plan[1] = "ctx-lh-a";
    c->plan_regions = f->plan;
    c->n_plan = 2;
    c->verdict = cJSON_Parse("{\"trustworthy\": true, \"checks\": [{\"name\": \"rhat\", "
                             "\"value\": 1.002, \"threshold\": 1.01, \"passed\": true, "
                             "\"reason\": \"every R-hat <= 1.01\"}], \"reasons\": []}");
    c->n_contacts = 4;
    c->contact = calloc(4, sizeof *c->contact);
    c->contact_xyz = calloc(12, sizeof *c->contact_xyz);
    for (size_t k = 0; k < 4; k++) {
        snprintf(c->contact[k], 64, "A%zu", k + 1);
        c->contact_xyz[3 * k] = -35.0 + 5.0 * (double)k;
        c->contact_xyz[3 * k + 1] = 0.0;
        c->contact_xyz[3 * k + 2] = 5.0;
    }
    c->ei_threshold = 0.3;
    c->n_ei = 2;
    c->ei = calloc(2, sizeof *c->ei);
    c->ei[0] = (vbt_report_ei){.channel = "A1", .ei = 1.0, .detect_s = 0.25, .region = 3};
    c->ei[1] = (vbt_report_ei){.channel = "A2", .ei = 0.1, .detect_s = NAN, .region = 1};
    c->n_rec_channels = 4;
    c->n_dropped = 1;
    c->dropped = calloc(1, sizeof *c->dropped);
    snprintf(c->dropped[0].name, 64, "ECG1");
    snprintf(c->dropped[0].reason, 160, "type ECG, not an intracranial channel");
    f->dir = tu_mkdtemp();
    f->in = (vbt_report_input){
        .patient = "sub-x", .outdir = f->dir, .method = "nuts", .version = "test",
        .conn = f->conn, .n = NREG, .regions = f->reg, .n_scen = 3, .scen = f->scen,
        .feature = f->feature, .pred = f->pred, .feature_label = "test feature", .T = T_PTS,
        .S = S_CH, .chan = f->chan, .ctx = &f->ctx};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    f->ctx.plan_regions = NULL; /* borrowed from the fixture */
    f->ctx.n_plan = 0;
    vbt_report_context_clear(&f->ctx);
    vbt_connectome_free(f->conn);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *slurp(const char *dir, const char *name)
{
    char *t = tu_slurp(tu_path(dir, name), NULL);
    if (!t)
        fail_msg("cannot read %s", name);
    return t;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* 1 when `what` occurs as a word (not inside "Provenance"), any case. */
static int contains_word_nocase(const char *s, const char *what)
{
    size_t n = strlen(what);
    for (const char *p = s; *p; p++)
        if (!strncasecmp(p, what, n) && (p == s || !isalnum((unsigned char)p[-1])) &&
            !isalnum((unsigned char)p[n]))
            return 1;
    return 0;
}

/* The text of element id="ID" (markup removed, the five escapes undone). */
static char *element_text(const char *page, const char *id)
{
    char key[64];
    snprintf(key, sizeof key, "id=\"%s\"", id);
    const char *p = strstr(page, key);
    if (!p)
        return NULL;
    p = strchr(p, '>') + 1;
    const char *end = strstr(p, "</p>");
    char *out = calloc((size_t)(end - p) + 1, 1), *o = out;
    for (int in_tag = 0; p < end; p++) {
        if (*p == '<')
            in_tag = 1;
        else if (*p == '>')
            in_tag = 0;
        else if (!in_tag) {
            static const char *ent[5][2] = {{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"},
                                            {"&quot;", "\""}, {"&#39;", "'"}};
            int done = 0;
            for (int k = 0; k < 5 && !done; k++)
                if (!strncmp(p, ent[k][0], strlen(ent[k][0]))) {
                    *o++ = ent[k][1][0];
                    p += strlen(ent[k][0]) - 1;
                    done = 1;
                }
            if (!done)
                *o++ = *p;
        }
    }
    return out;
}

static void write_report(fixture *f)
{
    vbt_msg msg;
    if (vbt_report_write(&f->in, &msg))
        fail_msg("vbt_report_write: %s", msg.text);
}

/* xmllint, when installed: every file well-formed XML. */
static void check_xml(const char *dir)
{
    if (!tu_exists("/usr/bin/xmllint")) {
        print_message("xmllint not installed: well-formedness check skipped\n");
        return;
    }
    const char *files[] = {"report.html", "figures/x0.svg", "figures/brain_ez.svg",
                           "figures/brain_onset.svg", "figures/connectome.svg",
                           "figures/feature.svg", NULL};
    for (size_t i = 0; files[i]; i++) {
        const char *const a[] = {"--noout", tu_path(dir, files[i]), NULL};
        char *err;
        int rc = tu_run("/usr/bin/xmllint", a, dir, NULL, &err);
        if (rc != 0)
            fail_msg("%s is not well-formed XML:\n%s", files[i], err);
        free(err);
    }
}

/* ---- the first screen ----------------------------------------------------- */

/* A trustworthy fit: the sentence names the EZ by decreasing P(EZ), the
 * verdict, the plan with its Wilson interval (k = 190 of n = 200: centre
 * (0.95 + z^2/2n) / (1 + z^2/n) = 0.94152, half-width
 * z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) = 0.03110, so 0.91-0.97,
 * worked by hand) and the case without surgery; no warning. */
static void test_answer_trustworthy(void **state)
{
    fixture *f = *state;
    char *warning = (char *)1;
    char *a = vbt_report_answer(&f->in, &f->ctx, &warning);
    assert_non_null(a);
    assert_string_equal(a, "The seizure starts in ctx-lh-d (P(EZ) 0.97) and ctx-lh-a (P(EZ) "
                           "0.62); the fit's verdict: trustworthy; resecting ctx-lh-d and "
                           "ctx-lh-a would give P(seizure freedom) 0.95 (95 % interval "
                           "0.91\xe2\x80\x93" "0.97 over 200 posterior draws) in the fitted "
                           "model, against 0.00 without surgery.");
    assert_null(warning);
    free(a);
    double lo, hi;
    vbt_report_wilson(190, 200, &lo, &hi);
    assert_close(lo, 0.9104219, 1e-6); /* scipy's proportion_confint(method="wilson") */
    assert_close(hi, 0.9726174, 1e-6);
    vbt_report_wilson(200, 200, &lo, &hi);
    assert_close(lo, 200.0 / (200.0 + 1.959963984540054 * 1.959963984540054), 1e-9);
    assert_close(hi, 1.0, 1e-12);

    write_report(f);
    char *page = slurp(f->dir, "report.html");
    /* the sentence is the first thing after the title, before any section */
    const char *ans = strstr(page, "<p id=\"answer\">");
    assert_non_null(ans);
    assert_true(ans < strstr(page, "<h2>"));
    assert_null(strstr(page, "id=\"warning\""));
    char *t = element_text(page, "answer");
    assert_non_null(strstr(t, "The seizure starts in ctx-lh-d (P(EZ) 0.97)"));
    free(t);
    free(page);
    check_xml(f->dir);
    /* the sidecar: version, settings, no seed to draw with */
    char *side = slurp(f->dir, "report.json");
    cJSON *j = cJSON_Parse(side);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "tool")->valuestring, "report");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "seed")));
    assert_non_null(cJSON_GetObjectItem(j, "parameters"));
    cJSON_Delete(j);
    free(side);
}

/* A failed verdict: NOT trustworthy in the sentence, the reasons in red
 * on the first screen (before any section). */
static void test_answer_untrusted(void **state)
{
    fixture *f = *state;
    cJSON_Delete(f->ctx.verdict);
    f->ctx.verdict = cJSON_Parse(
        "{\"trustworthy\": false, \"checks\": [{\"name\": \"rhat\", \"value\": 1.05, "
        "\"threshold\": 1.01, \"passed\": false, \"reason\": \"R-hat 1.05 > 1.01 <x0[4]>\"}, "
        "{\"name\": \"ppc_coverage\", \"value\": 0.4, \"threshold\": 0.75, \"passed\": false, "
        "\"reason\": \"40 % of the points inside the band\"}], \"reasons\": [\"R-hat 1.05 > "
        "1.01 <x0[4]>\", \"40 % of the points inside the band\"]}");
    char *warning = NULL, *a = vbt_report_answer(&f->in, &f->ctx, &warning);
    assert_non_null(strstr(a, "the fit's verdict: NOT trustworthy"));
    assert_non_null(warning);
    assert_string_equal(warning, "Do not trust this answer: the fit fails its checks: R-hat "
                                 "1.05 > 1.01 <x0[4]>; 40 % of the points inside the band.");
    free(a);
    free(warning);
    write_report(f);
    char *page = slurp(f->dir, "report.html");
    const char *w = strstr(page, "<p id=\"warning\" class=\"bad\">");
    assert_non_null(w);
    assert_true(w < strstr(page, "<h2>"));
    assert_non_null(strstr(page, "<p id=\"answer\" class=\"warn\">"));
    /* escaped */
    assert_non_null(strstr(page, "R-hat 1.05 &gt; 1.01 &lt;x0[4]&gt;"));
    /* the red colour of .bad and the verdict table */
    assert_non_null(strstr(page, ".bad{color:#c0392b"));
    assert_non_null(strstr(page, "<table id=\"verdict\">"));
    assert_int_equal(count(page, ">FAIL<"), 2);
    free(page);

    /* without the verdict object, the fit's summary (diagnostics_passed) */
    cJSON_Delete(f->ctx.verdict);
    f->ctx.verdict = NULL;
    cJSON *sum = cJSON_Parse("{\"diagnostics_passed\": false, \"diagnostic_failures\": "
                             "[\"3 divergent transition(s)\"]}");
    f->in.fit_summary = sum;
    a = vbt_report_answer(&f->in, &f->ctx, &warning);
    assert_non_null(strstr(a, "NOT trustworthy"));
    assert_non_null(strstr(warning, "3 divergent transition(s)"));
    free(a);
    free(warning);
    /* no verdict at all */
    f->in.fit_summary = NULL;
    a = vbt_report_answer(&f->in, &f->ctx, &warning);
    assert_non_null(strstr(a, "the fit gives no verdict"));
    assert_null(warning);
    free(a);
    cJSON_Delete(sum);
}

/* A plan that misses its target, and a model with no seizure to stop. */
static void test_answer_surgery_warnings(void **state)
{
    fixture *f = *state;
    f->ctx.plan_reached = 0;
    f->ctx.plan_p = 0.45;
    char *warning = NULL, *a = vbt_report_answer(&f->in, &f->ctx, &warning);
    assert_non_null(strstr(a, "no resection within the plan's limits reaches the target "
                              "P(seizure freedom) 0.90: the best found, resecting ctx-lh-d and "
                              "ctx-lh-a would give P(seizure freedom) 0.45"));
    assert_non_null(warning);
    assert_string_equal(warning, "The surgery plan misses its target: P(seizure freedom) 0.45 "
                                 "is below 0.90.");
    free(a);
    free(warning);
    write_report(f);
    char *page = slurp(f->dir, "report.html");
    assert_non_null(strstr(page, "<p id=\"plan\" class=\"bad\">"));
    assert_non_null(strstr(page, "the target is NOT reached"));
    free(page);
    /* the silent wrong answer of issue 17: resect {} -> 1.000 */
    f->ctx.plan_reached = 1;
    f->ctx.plan_p = 1.0;
    f->ctx.p_without = 1.0;
    f->ctx.n_plan = 0;
    a = vbt_report_answer(&f->in, &f->ctx, &warning);
    assert_non_null(strstr(a, "resecting nothing would give P(seizure freedom) 1.00"));
    assert_non_null(warning);
    assert_non_null(strstr(warning, "Without surgery the fitted model already gives "
                                    "P(seizure freedom) 1.00: it does not reproduce the "
                                    "recorded seizure"));
    free(a);
    free(warning);
    f->ctx.n_plan = 2;
}

/* ---- tables ------------------------------------------------------------------ */

/* The EZ table by decreasing P(EZ); onsets in seconds from the marked
 * onset: region d's model onset 15 = 30 samples of dt 0.5 = 1.5 s after
 * the first sample at 1.0 s, i.e. 2.5 s, +0.50 s after the onset at 2.0 s;
 * a's 17 -> +0.70 s.  The EI column: d's channel A1 at 1.00. */
static void test_ez_table(void **state)
{
    fixture *f = *state;
    write_report(f);
    char *page = slurp(f->dir, "report.html");
    const char *tab = strstr(page, "<table id=\"ez-table\">");
    assert_non_null(tab);
    const char *end = strstr(tab, "</table>");
    double prev = 2.0;
    size_t rows = 0;
    const char *first = NULL;
    for (const char *p = tab; (p = strstr(p, "<td class=\"p-ez\">")) && p < end; p++) {
        double v = atof(p + strlen("<td class=\"p-ez\">"));
        assert_true(v <= prev);
        prev = v;
        if (!rows++)
            first = p;
    }
    assert_int_equal(rows, 4); /* d, a, b (P(PZ) 0.8), f (0.2) */
    /* the first row is region d, with its EI and onset */
    const char *row = strstr(tab, "<tr class=\"ez-row\">");
    assert_true(row < first);
    assert_non_null(strstr(row, "ctx-lh-d</td>"));
    assert_true(strstr(row, "ctx-lh-d</td>") < strstr(row, "ctx-lh-a</td>"));
    assert_non_null(strstr(tab, "<td>1.00</td><td>+0.50 s</td><td>EZ</td>"));
    assert_non_null(strstr(tab, "+0.70 s"));
    /* the propagation table: d first, its interval from 14 and 16 */
    const char *prop = strstr(page, "<table id=\"propagation\">");
    assert_non_null(prop);
    assert_non_null(strstr(prop, "+0.40 s \xe2\x80\x93 +0.60 s"));
    /* the surgery table's intervals; the recording, its dropped channel */
    assert_non_null(strstr(page, "<td>0.950</td><td>0.91\xe2\x80\x93" "0.97</td>"));
    assert_non_null(strstr(page, "sub-x/ieeg/sub-x_task-seizure_ieeg.edf"));
    assert_non_null(strstr(page, "<td>ECG1</td><td>type ECG, not an intracranial channel</td>"));
    /* the EI beside the model's EZ */
    const char *ei = strstr(page, "<ul id=\"ei-vs-ez\">");
    assert_non_null(ei);
    assert_non_null(strstr(ei, "<li>In both: ctx-lh-d</li>"));
    free(page);
}

/* The brain maps: an outline, L/R and A/P markers, a colour bar, the
 * contacts (4 in each of 3 views), the EZ ringed; the feature panels: a
 * time axis in seconds with onset and offset marks, the unit, and the
 * band statement (channel 1 outside at samples 30-59: 30 of 60 = 50 %). */
static void test_figures(void **state)
{
    fixture *f = *state;
    write_report(f);
    char *svg = slurp(f->dir, "figures/brain_ez.svg");
    assert_int_equal(count(svg, "class=\"outline\""), 6);
    const char *marks[] = {">L</text>", ">R</text>", ">A</text>", ">P</text>", NULL};
    for (size_t i = 0; marks[i]; i++)
        assert_true(count(svg, marks[i]) >= 1);
    assert_non_null(strstr(svg, "class=\"colorbar\""));
    assert_non_null(strstr(svg, ">P(EZ)</text>"));
    assert_int_equal(count(svg, "class=\"contact\""), 12);
    assert_int_equal(count(svg, "class=\"region\""), 3 * NREG);
    assert_int_equal(count(svg, "stroke=\"#000\" stroke-width=\"1.8\"><title>"), 3 * 2);
    free(svg);
    svg = slurp(f->dir, "figures/brain_onset.svg");
    assert_non_null(strstr(svg, "onset (s from marked onset)"));
    free(svg);
    svg = slurp(f->dir, "figures/feature.svg");
    assert_non_null(strstr(svg, "x: seconds from the marked seizure onset; y: dimensionless "
                                "test unit"));
    assert_int_equal(count(svg, "class=\"onset\""), 3);
    assert_int_equal(count(svg, "class=\"offset\""), 3);
    assert_non_null(strstr(svg, ">50 % of points outside the band (expected about 10 %)"));
    assert_non_null(strstr(svg, ">0 % of points outside the band<"));
    free(svg);
    char *page = slurp(f->dir, "report.html");
    /* 30 of 180 points outside over all channels: 17 % */
    assert_non_null(strstr(page, "Over all 3 channels, 17 % of the observed points lie outside"));
    assert_non_null(strstr(page, "The observation leaves the band in 1 of the 3 channels shown"));
    free(page);
}

/* ---- MAP only ------------------------------------------------------------------- */

/* A MAP fit: point estimates, never probabilities, and no NaN drawn or
 * printed anywhere, even with NaN intervals, onsets and band. */
static void test_map_only(void **state)
{
    fixture *f = *state;
    f->in.method = "map";
    for (size_t i = 0; i < NREG; i++) {
        f->reg[i].x0_q5 = f->reg[i].x0_q95 = NAN;
        f->reg[i].p_ez = f->reg[i].x0_mean >= -2.05;
        f->reg[i].p_pz = 0;
        f->reg[i].onset_q5 = f->reg[i].onset_q95 = f->reg[i].onset_median;
    }
    /* the prediction at the mode only: the middle row finite (one NaN) */
    for (size_t k = 0; k < 3 * T_PTS * S_CH; k++)
        f->pred[k] = k >= T_PTS * S_CH && k < 2 * T_PTS * S_CH ? 0.5 : NAN;
    f->pred[T_PTS * S_CH + 7] = NAN;
    f->feature[5] = NAN;
    f->ctx.plan_p = 1.0;
    cJSON_Delete(f->ctx.verdict);
    f->ctx.verdict = cJSON_Parse("{\"trustworthy\": false, \"point_estimate\": true, "
                                 "\"checks\": [{\"name\": \"point_estimate\", \"value\": null, "
                                 "\"threshold\": null, \"passed\": false, \"reason\": \"a MAP "
                                 "fit is a mode: no probabilities\"}], \"reasons\": [\"a MAP "
                                 "fit is a mode: no probabilities\"]}");
    char *warning = NULL, *a = vbt_report_answer(&f->in, &f->ctx, &warning);
    assert_string_equal(a, "Point estimate only (the posterior's mode, no probabilities): the "
                           "seizure starts in ctx-lh-d (x0 -1.80) and ctx-lh-a (x0 -1.95), "
                           "above the EZ threshold x0 = -2.05; the fit's verdict: NOT "
                           "trustworthy; at this point of the fitted model, resecting ctx-lh-d "
                           "and ctx-lh-a stops the seizure. Its certainty is not measured: fit "
                           "with --method nuts for probabilities.");
    assert_non_null(warning);
    free(a);
    free(warning);
    write_report(f);
    const char *files[] = {"report.html", "figures/x0.svg", "figures/brain_ez.svg",
                           "figures/brain_onset.svg", "figures/feature.svg",
                           "figures/connectome.svg", NULL};
    for (size_t i = 0; files[i]; i++) {
        char *t = slurp(f->dir, files[i]);
        if (contains_word_nocase(t, "nan") || contains_word_nocase(t, "inf"))
            fail_msg("%s prints NaN", files[i]);
        if (strstr(t, "P(EZ)") || strstr(t, "P(PZ)") || strstr(t, "P(seizure freedom)"))
            fail_msg("%s shows a probability for a MAP fit", files[i]);
        free(t);
    }
    char *page = slurp(f->dir, "report.html");
    assert_non_null(strstr(page, "<th>class at the mode</th><th>x0 at the mode</th>"));
    assert_non_null(strstr(page, "<th>seizure stopped at the mode</th>"));
    assert_non_null(strstr(page, "A point estimate has no posterior predictive band"));
    /* sorted by x0: d (-1.80) before a (-1.95) */
    const char *tab = strstr(page, "<table id=\"ez-table\">");
    assert_true(strstr(tab, "ctx-lh-d</td>") < strstr(tab, "ctx-lh-a</td>"));
    free(page);
    char *fe = slurp(f->dir, "figures/feature.svg");
    assert_int_equal(count(fe, "stroke=\"#3182bd\""), 3); /* the prediction, no band */
    assert_null(strstr(fe, "outside the band"));
    assert_non_null(strstr(fe, "the fitted model's prediction at the mode"));
    free(fe);
    char *x0 = slurp(f->dir, "figures/x0.svg");
    assert_int_equal(count(x0, "<line x1") - 2, 0); /* the two guides, no interval */
    free(x0);
    check_xml(f->dir);
}

/* ---- the context from a pipeline's folder and the recording ------------------- */

static void write_npy(const char *path, const double *d, size_t ndim, const size_t *shape)
{
    vbt_msg msg;
    if (vbt_npy_write(path, d, ndim, shape, 1, &msg))
        fail_msg("%s", msg.text);
}

/* A BIDS recording of 30 s at 256 Hz: A1 adds a 40 Hz burst (fast
 * activity, the EI's signature) from the onset at 20 s, A2 a 5 Hz rhythm
 * (slow: no EI), A3 noise; ECG1 is an ECG and B1 is marked bad.  An OUT
 * folder as the pipeline leaves it.  The context must give the dropped
 * channels with their reasons, A1 first at EI 1 detected within a window
 * (1 s) of the onset and seeing region d (its largest gain), and the
 * pipeline's files. */
static void test_context_load(void **state)
{
    fixture *f = *state;
    char *pat = tu_mkdtemp(), ieeg[4200], out[4200];
    snprintf(ieeg, sizeof ieeg, "%s/sub-x", pat);
    mkdir(ieeg, 0777);
    snprintf(ieeg, sizeof ieeg, "%s/sub-x/ieeg", pat);
    mkdir(ieeg, 0777);
    const char *labs[5] = {"A1", "A2", "A3", "ECG1", "B1"};
    vbt_edf_spec spec = {.n_channels = 5, .labels = labs, .fs_hz = 256, .phys_min = -5000,
                         .phys_max = 5000};
    vbt_edf_writer *w;
    vbt_msg msg;
    assert_int_equal(vbt_edf_writer_open(&w, tu_path(ieeg, "sub-x_task-seizure_ieeg.edf"), &spec,
                                         1, &msg), VBT_OK);
    double rec[5 * 256];
    /* background: a 6 Hz (theta) rhythm over AR(1) noise (coefficient
     * 0.98, power falling with frequency as real SEEG's does): the energy
     * ratio stays low and steady, so the Page-Hinkley test raises no alarm
     * before the onset */
    unsigned long long s = 12345;
    double ar[5] = {0};
    for (int sec = 0; sec < 30; sec++) {
        for (int c = 0; c < 5; c++)
            for (int i = 0; i < 256; i++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                ar[c] = 0.98 * ar[c] + 20.0 * ((double)(s >> 11) / 9007199254740992.0 - 0.5);
                double t = sec + i / 256.0, v = ar[c] + 100.0 * sin(2 * M_PI * 6.0 * t + c);
                if (c == 0 && t >= 20.0)
                    v += 400.0 * sin(2 * M_PI * 40.0 * t);
                if (c == 1 && t >= 20.0)
                    v += 400.0 * sin(2 * M_PI * 5.0 * t);
                rec[c * 256 + i] = v;
            }
        assert_int_equal(vbt_edf_writer_append(w, rec, &msg), VBT_OK);
    }
    assert_int_equal(vbt_edf_writer_close(w, &msg), VBT_OK);
    tu_write_file(tu_path(ieeg, "sub-x_task-seizure_channels.tsv"),
                  "name\ttype\tunits\tsampling_frequency\tstatus\nA1\tSEEG\tuV\t256\tgood\n"
                  "A2\tSEEG\tuV\t256\tgood\nA3\tSEEG\tuV\t256\tgood\nECG1\tECG\tuV\t256\tgood\n"
                  "B1\tSEEG\tuV\t256\tbad\n");
    tu_write_file(tu_path(ieeg, "sub-x_task-seizure_events.tsv"),
                  "onset\tduration\ttrial_type\n20.0\t6.0\tseizure\n");
    /* the pipeline's folder */
    snprintf(out, sizeof out, "%s/out", pat);
    mkdir(out, 0777);
    const char *sub[] = {"features", "fit", "surgery", "gain", NULL};
    for (size_t i = 0; sub[i]; i++)
        mkdir(tu_path(out, sub[i]), 0777);
    tu_write_file(tu_path(out, "features/run.json"),
                  "{\"inputs\": {\"recording\": {\"path\": "
                  "\"sub-x/ieeg/sub-x_task-seizure_ieeg.edf\", \"sha256\": \"00\"}}, "
                  "\"seizure\": {\"onset_s\": 20.0, \"offset_s\": 26.0}, \"features\": "
                  "{\"window_s\": [15.86, 29.0], \"fs_hz\": 256}}");
    tu_write_file(tu_path(out, "features/channels.tsv"),
                  "index\tname\tpower\n0\tA1\t1\n1\tA2\t1\n2\tA3\t1\n");
    tu_write_file(tu_path(out, "fit/run.json"),
                  "{\"options\": {\"dt\": 0.175, \"data-norm\": \"excess\"}}");
    tu_write_file(tu_path(out, "surgery/run.json"), "{\"settings\": {\"n_draws\": 200}}");
    tu_write_file(tu_path(out, "results.json"),
                  "{\"verdict\": {\"trustworthy\": false, \"checks\": [], \"reasons\": "
                  "[\"why\"]}, \"plan\": {\"reached\": false, \"target\": 0.9, "
                  "\"p_seizure_freedom\": 0.5, \"p_seizure_freedom_without_surgery\": 0, "
                  "\"resect\": [{\"index\": 3, \"label\": \"ctx-lh-d\"}]}}");
    tu_write_file(tu_path(out, "gain/gain.tsv"),
                  "row\tname\tx\ty\tz\n0\tA1\t-30\t20\t0\n1\tA2\t-30\t-20\t10\n"
                  "2\tA3\t30\t0\t0\n");
    /* the gain step registered the centres onto the contacts' volume: 22 mm up */
    tu_write_file(tu_path(out, "gain/gain.json"),
                  "{\"gain\": {\"centres\": {\"placed\": \"registered\", \"affine\": "
                  "[1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 22]}}}");
    double g[3 * NREG] = {0};
    g[0 * NREG + 3] = 5.0; /* A1 sees d */
    g[0 * NREG + 0] = 1.0;
    g[1 * NREG + 1] = -4.0; /* A2 sees b (the largest |gain|) */
    g[1 * NREG + 0] = 3.0;
    g[2 * NREG + 4] = 2.0;
    const size_t gs[2] = {3, NREG};
    write_npy(tu_path(out, "gain/gain.npy"), g, 2, gs);
    double tt[4] = {15.86, 20.24, 24.62, 29.0};
    const size_t ts[1] = {4};
    write_npy(tu_path(out, "features/features_time.npy"), tt, 1, ts);

    vbt_report_context c;
    assert_int_equal(vbt_report_context_load(&c, out, pat, f->conn, &msg), VBT_OK);
    assert_string_equal(c.recording, "sub-x/ieeg/sub-x_task-seizure_ieeg.edf");
    assert_close(c.onset_s, 20.0, 0);
    assert_close(c.offset_s, 26.0, 0);
    assert_close(c.model_dt, 0.175, 0);
    assert_int_equal(c.n_time, 4);
    assert_int_equal(c.n_draws, 200);
    assert_int_equal(c.plan_reached, 0);
    assert_int_equal(c.n_plan, 1);
    assert_string_equal(c.plan_regions[0], "ctx-lh-d");
    assert_non_null(c.verdict);
    assert_non_null(strstr(c.feature_unit, "power above the pre-ictal baseline"));
    assert_int_equal(c.n_contacts, 3);
    assert_close(c.contact_xyz[3 * 1 + 2], 10.0, 0);
    /* the brain maps draw the regions at their registered centres */
    assert_int_equal(c.regions_registered, 1);
    for (size_t r = 0; r < NREG; r++) {
        assert_close(c.region_xyz[3 * r], f->conn->centres[3 * r], 0);
        assert_close(c.region_xyz[3 * r + 2], f->conn->centres[3 * r + 2] + 22.0, 1e-12);
    }
    /* dropped: ECG1 (type) and B1 (bad), of 5 */
    assert_int_equal(c.n_rec_channels, 5);
    assert_int_equal(c.n_dropped, 2);
    for (size_t k = 0; k < 2; k++) {
        if (!strcmp(c.dropped[k].name, "ECG1"))
            assert_string_equal(c.dropped[k].reason, "type ECG, not an intracranial channel");
        else if (!strcmp(c.dropped[k].name, "B1"))
            assert_string_equal(c.dropped[k].reason, "marked bad in channels.tsv");
        else
            fail_msg("unexpected dropped channel %s", c.dropped[k].name);
    }
    /* EI: A1 first, 1, detected within a window of the onset, seeing d */
    assert_int_equal(c.n_ei, 3);
    assert_string_equal(c.ei[0].channel, "A1");
    assert_close(c.ei[0].ei, 1.0, 1e-12);
    assert_true(fabs(c.ei[0].detect_s) <= 1.0);
    assert_int_equal(c.ei[0].region, 3);
    for (size_t k = 1; k < c.n_ei; k++) {
        assert_true(c.ei[k].ei < 0.3);
        if (!strcmp(c.ei[k].channel, "A2"))
            assert_int_equal(c.ei[k].region, 1);
    }
    assert_true(c.n_inputs >= 8);
    /* the patient folder's name is nowhere in the context's text */
    const char *base = strrchr(pat, '/') + 1;
    assert_null(strstr(c.recording, base));
    /* a report from it: the folder's name appears in no output */
    vbt_report_input in = f->in;
    in.outdir = out;
    in.ctx = NULL;
    in.patient_dir = pat;
    assert_int_equal(vbt_report_write(&in, &msg), VBT_OK);
    const char *files[] = {"report.html", "report.json", "figures/brain_ez.svg", NULL};
    for (size_t i = 0; files[i]; i++) {
        char *t = slurp(out, files[i]);
        if (strstr(t, base))
            fail_msg("%s names the patient folder", files[i]);
        free(t);
    }
    char *page = slurp(out, "report.html");
    assert_non_null(strstr(page, "<td>A1</td><td class=\"ez\">1.00</td>"));
    assert_non_null(strstr(page, "The surgery plan misses its target"));
    free(page);
    vbt_report_context_clear(&c);

    /* no patient folder, no files: an empty context, said so */
    assert_int_equal(vbt_report_context_load(&c, f->dir, NULL, f->conn, &msg), VBT_OK);
    assert_int_equal(c.n_ei, 0);
    assert_true(isnan(c.onset_s));
    assert_non_null(strstr(c.ei_note, "not given the recording"));
    assert_int_equal(c.regions_registered, 0); /* no gain.json: the centres as given */
    assert_memory_equal(c.region_xyz, f->conn->centres, 3 * sizeof(double));
    vbt_report_context_clear(&c);
    /* an output folder that cannot be written: an error, nothing half-written */
    in.outdir = tu_path(pat, "missing/deeper");
    in.ctx = &f->ctx;
    assert_int_not_equal(vbt_report_write(&in, &msg), VBT_OK);
    assert_false(tu_exists(tu_path(pat, "missing")));
    tu_rmtree(pat);
    free(pat);
}

/* ---- Chromium ----------------------------------------------------------------- */

/* Render in headless Chromium: no console message at all (the page has
 * no script, so any is an error, such as an SVG attribute Chromium cannot
 * parse), and the first screen's sentence in the rendered DOM. */
static size_t render_page(const char *dir, const char *page, char **dom)
{
    char url[4200], prof[4200];
    snprintf(url, sizeof url, "file://%s/%s", dir, page);
    snprintf(prof, sizeof prof, "--user-data-dir=%s/chromium-profile", dir);
    const char *const a[] = {"--headless", "--no-sandbox", "--disable-gpu",
                             "--enable-logging=stderr", "--v=0", prof, "--dump-dom", url, NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run("/usr/bin/chromium", a, dir, &out, &err);
    if (rc != 0)
        fail_msg("chromium exited %d:\n%s", rc, err);
    size_t n_console = 0;
    for (const char *p = err; (p = strstr(p, ":CONSOLE")); p++)
        n_console++;
    if (n_console) {
        const char *first = strstr(err, ":CONSOLE"), *eol = strchr(first, '\n');
        print_message("%zu console message(s) rendering %s, the first: %.*s\n", n_console, page,
                      eol ? (int)(eol - first) : 200, first);
    }
    free(err);
    *dom = out;
    return n_console;
}

static void render(const char *dir, const char *expect)
{
    char *dom;
    if (render_page(dir, "report.html", &dom))
        fail_msg("console messages rendering the report");
    if (!strstr(dom, expect))
        fail_msg("the rendered DOM lacks \"%s\"", expect);
    assert_non_null(strstr(dom, "id=\"answer\""));
    free(dom);
}

static void test_chromium(void **state)
{
    fixture *f = *state;
    if (!tu_exists("/usr/bin/chromium")) {
        print_message("chromium is not installed (scripts/setup.sh installs it with "
                      "VBT_SETUP_CHROMIUM=1; scripts/test-all.sh does): rendering checks "
                      "skipped\n");
        skip();
    }
    /* the check can fail: an SVG attribute "nan" (what the MAP report of
     * issue 17 drew 336 times) is a console error */
    tu_write_file(tu_path(f->dir, "bad.html"),
                  "<!DOCTYPE html><html><body><svg xmlns=\"http://www.w3.org/2000/svg\" "
                  "width=\"10\" height=\"10\"><line x1=\"nan\" x2=\"1\" y1=\"0\" "
                  "y2=\"1\"/></svg></body></html>\n");
    char *dom;
    assert_true(render_page(f->dir, "bad.html", &dom) >= 1);
    free(dom);
    cJSON_Delete(f->ctx.verdict);
    f->ctx.verdict = cJSON_Parse("{\"trustworthy\": false, \"reasons\": [\"R-hat 1.05\"]}");
    write_report(f);
    render(f->dir, "The seizure starts in ctx-lh-d (P(EZ) 0.97) and ctx-lh-a (P(EZ) 0.62)");
    /* and a MAP page with NaN inputs */
    f->in.method = "map";
    for (size_t i = 0; i < NREG; i++)
        f->reg[i].x0_q5 = f->reg[i].x0_q95 = f->reg[i].p_ez = NAN;
    for (size_t k = 0; k < 3 * T_PTS * S_CH; k++)
        f->pred[k] = NAN;
    write_report(f);
    render(f->dir, "Point estimate only (the posterior");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answer_trustworthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_untrusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_surgery_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ez_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chromium, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
