/* pipeline_results.c -- the pipeline's last step: the steps' results
 * gathered into OUT/results.json (schema vbt.results/1, docs/pipeline.md)
 * and the report (vbt_report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline_internal.h"
#include "vbt_report.h"
#include "vbt_surgery.h"

/* What the steps' folders hold, read back. */
typedef struct results {
    const vbt_patient *pat;
    const char *out, *method;
    vbt_connectome *conn;
    size_t n;
    vbt_report_region *reg;
    vbt_report_scenario *scen;
    size_t n_scen;
    char *scen_text;            /* surgery.csv, whose fields scen[].name point into */
    char *plan;                 /* the plan as one line, or NULL */
    cJSON *surgery_run, *fit_summary;
    char pid[80];               /* vbt_patient_pseudonym */
    char (*cls)[4];             /* regions.csv "class" per region ("" when absent) */
    vbt_verdict verdict;
} results;

static void join(char *buf, size_t n, const char *dir, const char *name)
{
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n)
        buf[n - 1] = '\0';
}

static double num_or_nan(const char *s)
{
    if (!s || !*s || !strcmp(s, "nan") || !strcmp(s, "NaN"))
        return NAN;
    return atof(s);
}

/* ground_truth.json of a sample patient: regions' truth 1 (EZ), 2 (PZ). */
static void read_truth(results *r)
{
    if (!r->pat->ground_truth)
        return;
    cJSON *gt = vbt__pipe_read_json(r->pat->ground_truth);
    const char *zones[2] = {"EZ", "PZ"};
    for (int z = 0; z < 2 && gt; z++) {
        cJSON *rs = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(gt, zones[z]), "regions");
        for (cJSON *it = rs ? rs->child : NULL; it; it = it->next)
            if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < (double)r->n)
                r->reg[(size_t)it->valuedouble].truth = z + 1;
    }
    cJSON_Delete(gt);
}

/* fit/regions.csv (region,label,x0_mean,x0_sd,x0_q5,x0_q95,p_ez,p_pz,p_hz,class)
 * and predict/recruitment.csv (region,label,p_recruited,onset_mean,onset_sd,
 * onset_median,onset_q05,onset_q95,...). */
static void read_regions(results *r)
{
    char path[4200], *text = NULL;
    size_t len;
    vbt_msg msg;
    snprintf(path, sizeof path, "%s/fit/regions.csv", r->out);
    if (vbt_file_read_all(path, &text, &len, 0, &msg) == 0)
        for (char *pos = text; pos && *pos;) {
            char *f[12];
            size_t n_f = vbt__pipe_record(&pos, ',', f, 12);
            if (n_f < 9 || !strcmp(f[0], "region"))
                continue;
            size_t i = (size_t)atol(f[0]);
            if (i >= r->n)
                continue;
            r->reg[i].x0_mean = atof(f[2]);
            r->reg[i].x0_q5 = atof(f[4]);
            r->reg[i].x0_q95 = atof(f[5]);
            r->reg[i].p_ez = atof(f[6]);
            r->reg[i].p_pz = atof(f[7]);
            r->reg[i].p_hz = atof(f[8]);
            if (r->cls && n_f > 9)
                snprintf(r->cls[i], sizeof r->cls[i], "%.3s", f[9]);
        }
    free(text);
    text = NULL;
    snprintf(path, sizeof path, "%s/predict/recruitment.csv", r->out);
    if (vbt_file_read_all(path, &text, &len, 0, &msg) == 0)
        for (char *pos = text; pos && *pos;) {
            char *f[12];
            if (vbt__pipe_record(&pos, ',', f, 12) < 8 || !strcmp(f[0], "region"))
                continue;
            size_t i = (size_t)atol(f[0]);
            if (i >= r->n)
                continue;
            r->reg[i].p_recruited = atof(f[2]);
            r->reg[i].onset_median = num_or_nan(f[5]);
            r->reg[i].onset_q5 = num_or_nan(f[6]);
            r->reg[i].onset_q95 = num_or_nan(f[7]);
        }
    free(text);
}

/* surgery/surgery.csv (scenario,resected,resected_indices,n_resected,
 * p_seizure_freedom,...): every scenario, however many. */
static int read_scenarios(results *r, vbt_msg *msg)
{
    char path[4200];
    size_t len, cap = 0;
    vbt_msg why;
    snprintf(path, sizeof path, "%s/surgery/surgery.csv", r->out);
    if (vbt_file_read_all(path, &r->scen_text, &len, 0, &why))
        return VBT_OK;
    for (char *pos = r->scen_text; pos && *pos;) {
        char *f[8];
        if (vbt__pipe_record(&pos, ',', f, 8) < 5 || !strcmp(f[0], "scenario"))
            continue;
        if (r->n_scen == cap) {
            size_t nc = cap ? 2 * cap : 16;
            vbt_report_scenario *ns = realloc(r->scen, nc * sizeof *ns);
            if (!ns)
                return vbt__fail(msg, VBT_ENOMEM, "out of memory");
            r->scen = ns;
            cap = nc;
        }
        vbt_report_scenario *s = &r->scen[r->n_scen++];
        s->name = f[0];
        s->n_resected = atoi(f[3]);
        s->p_freedom = atof(f[4]);
    }
    return VBT_OK;
}

/* surgery/run.json "plan" as one line: "Resection plan (greedy search):
 * resect {a, b}, P(seizure freedom) = 0.950". */
static int plan_text(results *r, vbt_msg *msg)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/surgery/run.json", r->out);
    r->surgery_run = vbt__pipe_read_json(path);
    cJSON *pj = cJSON_GetObjectItemCaseSensitive(r->surgery_run, "plan");
    if (!pj)
        return VBT_OK;
    cJSON *m = cJSON_GetObjectItemCaseSensitive(pj, "method");
    cJSON *pf = cJSON_GetObjectItemCaseSensitive(pj, "p_seizure_freedom");
    cJSON *rs = cJSON_GetObjectItemCaseSensitive(pj, "resect");
    size_t need = 128;
    for (cJSON *it = rs ? rs->child : NULL; it; it = it->next) {
        cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
        need += 2 + (cJSON_IsString(lab) ? strlen(lab->valuestring) : 1);
    }
    if (cJSON_IsString(m))
        need += strlen(m->valuestring);
    if (!(r->plan = malloc(need)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    size_t pl = (size_t)snprintf(r->plan, need, "Resection plan (%s search): resect {",
                                 cJSON_IsString(m) ? m->valuestring : "?");
    for (cJSON *it = rs ? rs->child : NULL; it; it = it->next) {
        cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
        pl += (size_t)snprintf(r->plan + pl, need - pl, "%s%s", it == rs->child ? "" : ", ",
                               cJSON_IsString(lab) ? lab->valuestring : "?");
    }
    snprintf(r->plan + pl, need - pl, "}, P(seizure freedom) = %.3f",
             cJSON_IsNumber(pf) ? pf->valuedouble : NAN);
    return VBT_OK;
}

/* Precision and recall of the fit against a list of regions (a clinical
 * hypothesis or a synthetic patient's ground truth): the predicted set is
 * P(EZ) > 0.5 for zone "EZ", P(EZ) + P(PZ) > 0.5 for zone "EZ+PZ" (the
 * epileptogenic network).  Precision is null when nothing is predicted,
 * recall when the list is empty. */
static cJSON *evaluate(const vbt_report_region *reg, size_t n, const char *against,
                       const char *zone, const unsigned char *in_set)
{
    int network = !strcmp(zone, "EZ+PZ");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "against", against);
    cJSON_AddStringToObject(o, "zone", zone);
    cJSON *h = cJSON_AddArrayToObject(o, "regions");
    cJSON *pr = cJSON_AddArrayToObject(o, "predicted");
    size_t tp = 0, np = 0, nh = 0;
    for (size_t i = 0; i < n; i++) {
        int pred = (network ? reg[i].p_ez + reg[i].p_pz : reg[i].p_ez) > 0.5;
        if (in_set[i])
            cJSON_AddItemToArray(h, cJSON_CreateString(reg[i].label));
        if (pred)
            cJSON_AddItemToArray(pr, cJSON_CreateString(reg[i].label));
        nh += in_set[i] != 0;
        np += (size_t)pred;
        tp += (size_t)(pred && in_set[i]);
    }
    cJSON_AddNumberToObject(o, "true_positives", (double)tp);
    if (np)
        cJSON_AddNumberToObject(o, "precision", (double)tp / (double)np);
    else
        cJSON_AddNullToObject(o, "precision");
    if (nh)
        cJSON_AddNumberToObject(o, "recall", (double)tp / (double)nh);
    else
        cJSON_AddNullToObject(o, "recall");
    return o;
}

/* results.json "evaluation": against hypothesis.txt (the clinical EZ
 * hypothesis) and against ground_truth.json (EZ, and EZ + PZ). */
static int add_evaluation(const results *r, cJSON *res, vbt_msg *msg)
{
    const size_t n = r->n;
    cJSON *ev = cJSON_AddArrayToObject(res, "evaluation");
    unsigned char *set = calloc(n ? n : 1, 1);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx), k = 0;
    int st = VBT_ENOMEM;
    vbt_msg why;
    if (!set || !idx) {
        vbt__fail(msg, st, "out of memory");
        goto out;
    }
    if (r->pat->hypothesis) {
        if ((st = vbt_surgery_parse_regions(r->conn, r->pat->hypothesis, idx, n, &k, &why))) {
            vbt__fail(msg, st, "'%s': %.900s", r->pat->hypothesis_path, why.text);
            goto out;
        }
        for (size_t i = 0; i < k; i++)
            set[idx[i]] = 1;
        cJSON_AddItemToArray(ev, evaluate(r->reg, n, "hypothesis.txt", "EZ", set));
    }
    int has_truth = 0;
    for (size_t i = 0; i < n; i++)
        has_truth |= r->reg[i].truth != 0;
    if (has_truth) {
        for (size_t i = 0; i < n; i++)
            set[i] = r->reg[i].truth == 1;
        cJSON_AddItemToArray(ev, evaluate(r->reg, n, "ground_truth.json", "EZ", set));
        for (size_t i = 0; i < n; i++)
            set[i] = r->reg[i].truth != 0;
        cJSON_AddItemToArray(ev, evaluate(r->reg, n, "ground_truth.json", "EZ+PZ", set));
    }
    st = VBT_OK;
out:
    free(set);
    free(idx);
    return st;
}

/* The results.json object (without "evaluation"). */
static cJSON *results_json(const results *r)
{
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "schema", "vbt.results/1");
    cJSON_AddStringToObject(res, "vbt_version", vbt_version());
    cJSON_AddStringToObject(res, "patient", r->pid);
    cJSON_AddStringToObject(res, "method", r->method);
    cJSON *ra = cJSON_AddArrayToObject(res, "regions");
    for (size_t i = 0; i < r->n; i++) {
        const vbt_report_region *g = &r->reg[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)i);
        cJSON_AddStringToObject(o, "label", g->label);
        if (r->verdict.point_estimate) {
            /* a MAP fit: the mode and its class, never probabilities */
            cJSON_AddNullToObject(o, "p_ez");
            cJSON_AddNullToObject(o, "p_pz");
            cJSON_AddNullToObject(o, "p_hz");
        } else {
            cJSON_AddNumberToObject(o, "p_ez", g->p_ez);
            cJSON_AddNumberToObject(o, "p_pz", g->p_pz);
            cJSON_AddNumberToObject(o, "p_hz", g->p_hz);
        }
        cJSON_AddNumberToObject(o, "x0_mean", g->x0_mean);
        if (r->verdict.point_estimate || isnan(g->x0_q5) || isnan(g->x0_q95)) {
            cJSON_AddNullToObject(o, "x0_q5");
            cJSON_AddNullToObject(o, "x0_q95");
        } else {
            cJSON_AddNumberToObject(o, "x0_q5", g->x0_q5);
            cJSON_AddNumberToObject(o, "x0_q95", g->x0_q95);
        }
        if (r->cls && r->cls[i][0])
            cJSON_AddStringToObject(o, "class", r->cls[i]);
        cJSON_AddNumberToObject(o, "p_recruited", g->p_recruited);
        const char *onk[3] = {"onset_median", "onset_q5", "onset_q95"};
        const double onv[3] = {g->onset_median, g->onset_q5, g->onset_q95};
        for (int q = 0; q < 3; q++) {
            if (isnan(onv[q]))
                cJSON_AddNullToObject(o, onk[q]);
            else
                cJSON_AddNumberToObject(o, onk[q], onv[q]);
        }
        cJSON_AddItemToArray(ra, o);
    }
    cJSON *sa = cJSON_AddArrayToObject(res, "surgery");
    for (size_t k = 0; k < r->n_scen; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "resection", r->scen[k].name);
        cJSON_AddNumberToObject(o, "n_regions", r->scen[k].n_resected);
        cJSON_AddNumberToObject(o, "p_seizure_freedom", r->scen[k].p_freedom);
        cJSON_AddItemToArray(sa, o);
    }
    cJSON *pj = cJSON_GetObjectItemCaseSensitive(r->surgery_run, "plan");
    if (pj)
        cJSON_AddItemToObject(res, "plan", cJSON_Duplicate(pj, 1));
    cJSON *diag = cJSON_GetObjectItemCaseSensitive(r->fit_summary, "diagnostics");
    if (diag)
        cJSON_AddItemToObject(res, "diagnostics", cJSON_Duplicate(diag, 1));
    char *vt = vbt_verdict_json(&r->verdict);
    cJSON *vj = vt ? cJSON_Parse(vt) : NULL;
    free(vt);
    if (vj)
        cJSON_AddItemToObject(res, "verdict", vj);
    return res;
}

/* The report's evaluation rows, from results.json "evaluation". */
static size_t eval_rows(const cJSON *res, vbt_report_eval *ev, size_t max)
{
    size_t n_ev = 0;
    const cJSON *evj;
    cJSON_ArrayForEach(evj, cJSON_GetObjectItemCaseSensitive(res, "evaluation")) {
        if (n_ev == max)
            break;
        vbt_report_eval *e = &ev[n_ev++];
        snprintf(e->against, sizeof e->against, "%s",
                 cJSON_GetObjectItemCaseSensitive(evj, "against")->valuestring);
        snprintf(e->zone, sizeof e->zone, "%s",
                 cJSON_GetObjectItemCaseSensitive(evj, "zone")->valuestring);
        e->n_list = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(evj, "regions"));
        e->n_pred = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(evj, "predicted"));
        e->tp = (size_t)cJSON_GetObjectItemCaseSensitive(evj, "true_positives")->valuedouble;
    }
    return n_ev;
}

/* The report: the feature as the fit saw it (the predictive's units), else
 * as computed, with the posterior predictive and the channel names. */
static int write_report(const results *r, const cJSON *res, vbt_msg *msg)
{
    char path[4200], *text = NULL;
    size_t len;
    vbt_msg why;
    vbt_array feat = {0}, pred = {0};
    char (*chan)[64] = NULL;
    const char *feat_label = "SEEG power above baseline as fitted";
    int st = VBT_ENOMEM;
    join(path, sizeof path, r->out, "fit/data.npy");
    if (vbt_npy_read(path, &feat, &why)) {
        feat_label = "SEEG feature (log power)";
        join(path, sizeof path, r->out, "features/features.npy");
        vbt_npy_read(path, &feat, &why);
    }
    join(path, sizeof path, r->out, "fit/predictive.npy");
    vbt_npy_read(path, &pred, &why);
    if (feat.ndim == 2) {
        if (!(chan = calloc(feat.shape[1] ? feat.shape[1] : 1, sizeof *chan))) {
            vbt__fail(msg, st, "out of memory");
            goto out;
        }
        join(path, sizeof path, r->out, "features/channels.tsv");
        if (vbt_file_read_all(path, &text, &len, 0, &why) == 0) {
            size_t c = 0;
            for (char *pos = text; pos && *pos;) {
                char *f[4];
                if (vbt__pipe_record(&pos, '\t', f, 4) >= 2 && strcmp(f[0], "index") &&
                    c < feat.shape[1])
                    snprintf(chan[c++], 64, "%s", f[1]);
            }
        }
    }
    int pred_ok = pred.ndim == 3 && pred.shape[0] == 3 && feat.ndim == 2 &&
                  pred.shape[1] == feat.shape[0] && pred.shape[2] == feat.shape[1];
    static const char prov[] =
        "<p>Each step's folder holds its own <code>run.json</code> "
        "(command, vbt version, seed, SHA-256 of every input).  Steps: "
        "<code>gain/</code>, <code>features/</code>, <code>fit/</code>, "
        "<code>predict/</code>, <code>surgery/</code>; machine-readable results in "
        "<code>results.json</code>.</p>";
    vbt_report_eval ev[8];
    size_t n_ev = eval_rows(res, ev, sizeof ev / sizeof ev[0]);
    vbt_report_input in = {
        .patient = r->pid, .outdir = r->out, .method = r->method,
        .version = vbt_version(), .conn = r->conn, .n = r->n, .regions = r->reg,
        .n_scen = r->n_scen, .scen = r->scen, .plan_text = r->plan,
        .feature = feat.ndim == 2 ? feat.data : NULL, .pred = pred_ok ? pred.data : NULL,
        .feature_label = feat_label,
        .T = feat.ndim == 2 ? feat.shape[0] : 0, .S = feat.ndim == 2 ? feat.shape[1] : 0,
        .chan = chan, .eval = ev, .n_eval = n_ev, .fit_summary = r->fit_summary,
        .provenance_html = prov, .patient_dir = r->pat->dir,
    };
    if ((st = vbt_report_write(&in, &why)))
        vbt__fail(msg, st, "report: %.1000s", why.text);
out:
    free(text);
    free(chan);
    vbt_array_clear(&feat);
    vbt_array_clear(&pred);
    return st;
}

/* The fit's verdict (fit/summary.json "verdict"); a summary written before
 * the verdict existed gives one check per diagnostic failure it lists. */
static void read_verdict(results *r)
{
    vbt_verdict *v = &r->verdict;
    vbt_msg why;
    vbt_verdict_init(v);
    cJSON *vj = cJSON_GetObjectItemCaseSensitive(r->fit_summary, "verdict");
    char *vt = vj ? cJSON_PrintUnformatted(vj) : NULL;
    int ok = vt && vbt_verdict_parse(v, vt, &why) == VBT_OK;
    free(vt);
    if (ok)
        return;
    vbt_verdict_init(v);
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(r->fit_summary, "diagnostic_failures"),
                *it;
    cJSON_ArrayForEach(it, fl)
        if (cJSON_IsString(it))
            vbt_verdict_add(v, "diagnostics", NAN, NAN, 0, "%s", it->valuestring);
    if (!v->n_checks)
        vbt_verdict_add(v, "diagnostics", NAN, NAN,
                        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->fit_summary,
                                                                      "diagnostics_passed")),
                        r->fit_summary ? "the fit's diagnostics (summary.json without a verdict)"
                                       : "no fit/summary.json: the fit cannot be judged");
    if (!strcmp(r->method, "map") && !vbt_verdict_find(v, "point_estimate")) {
        v->point_estimate = 1;
        vbt_verdict_add(v, "point_estimate", NAN, NAN, 0, "point estimate only: method map "
                        "gives the posterior mode, no probabilities and no uncertainty (use "
                        "--method nuts)");
    }
}

static int gather(results *r, vbt_msg *msg)
{
    int st;
    if ((st = vbt_patient_pseudonym(r->pat, r->pid, sizeof r->pid, msg)) ||
        (st = vbt_connectome_load(&r->conn, r->pat->connectome, msg)))
        return st;
    r->n = r->conn->n;
    if (!(r->reg = calloc(r->n ? r->n : 1, sizeof *r->reg)) ||
        !(r->cls = calloc(r->n ? r->n : 1, sizeof *r->cls)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        snprintf(r->reg[i].label, sizeof r->reg[i].label, "%s", r->conn->labels[i]);
        r->reg[i].onset_median = r->reg[i].onset_q5 = r->reg[i].onset_q95 = NAN;
    }
    read_truth(r);
    read_regions(r);
    if ((st = read_scenarios(r, msg)) || (st = plan_text(r, msg)))
        return st;
    char path[4200];
    join(path, sizeof path, r->out, "fit/summary.json");
    r->fit_summary = vbt__pipe_read_json(path);
    read_verdict(r);
    return VBT_OK;
}

int vbt__pipe_finish(const vbt_patient *pat, const char *out, const char *method,
                     vbt_verdict *v, int *has_verdict, vbt_msg *msg)
{
    results r = {.pat = pat, .out = out, .method = method};
    cJSON *res = NULL;
    char *rtxt = NULL, path[4200];
    int st = gather(&r, msg);
    if (st)
        goto out;
    res = results_json(&r);
    if ((st = add_evaluation(&r, res, msg)))
        goto out;
    rtxt = cJSON_Print(res);
    join(path, sizeof path, out, "results.json");
    if (!rtxt) {
        st = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = vbt_file_write_atomic(path, rtxt, strlen(rtxt), 1, msg)))
        goto out;
    st = write_report(&r, res, msg);
    if (!st && v) {
        *v = r.verdict;
        if (has_verdict)
            *has_verdict = 1;
    }
out:
    free(rtxt);
    cJSON_Delete(res);
    cJSON_Delete(r.surgery_run);
    cJSON_Delete(r.fit_summary);
    free(r.scen);
    free(r.scen_text);
    free(r.plan);
    free(r.reg);
    free(r.cls);
    vbt_connectome_free(r.conn);
    return st;
}
