/* predict.c -- `vbt predict` and `vbt surgery` as library calls
 * (vbt_predict.h): their inputs loaded into a vbt_surgery handle, and their
 * output files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "internal.h"
#include "pipeline_internal.h"
#include "vbt_text.h"
#include "vbt_predict.h"

struct vbt_predict {
    vbt_predict_opts o;         /* paths borrowed from the caller's options */
    char *connectome, *draws, *k_npy, *tau0_npy; /* copies of the paths */
    vbt_connectome *conn;
    double *x0, *K, *tau0;
    vbt_surgery *s;
    cJSON *settings;            /* resolved settings for run.json */
};

void vbt_predict_opts_default(vbt_predict_opts *o)
{
    memset(o, 0, sizeof *o);
    vbt_surgery_spec_default(&o->spec);
    o->normalize = VBT_NORMALIZE_MAX;
}

/* A per-draw vector: [S] or [S, 1], every value finite. */
static int load_per_draw(const char *path, const char *what, size_t S, double **out,
                         vbt_msg *msg)
{
    *out = NULL;
    if (!path)
        return VBT_OK;
    vbt_array a = {0};
    int rc = vbt_npy_read(path, &a, msg);
    if (rc)
        return rc;
    if (!((a.ndim == 1 && a.shape[0] == S) || (a.ndim == 2 && a.shape[0] == S &&
                                               a.shape[1] == 1))) {
        rc = vbt__fail(msg, VBT_EINVAL, "%s '%s': expected one value per draw (%zu), got an "
                       "array of %zu values in %zu dimension(s)", what, path, S, a.size, a.ndim);
        vbt_array_clear(&a);
        return rc;
    }
    for (size_t k = 0; k < S; k++)
        if (!isfinite(a.data[k])) {
            rc = vbt__fail(msg, VBT_EINVAL, "%s '%s': value of draw %zu is not finite", what,
                           path, k);
            vbt_array_clear(&a);
            return rc;
        }
    *out = a.data;
    return VBT_OK;
}

/* The settings run.json records. */
static cJSON *settings_json(const vbt_predict *p)
{
    const vbt_surgery_spec *sp = &p->o.spec;
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "model",
                            sp->model == VBT_SURGERY_EPILEPTOR ? "epileptor" : "epileptor2d");
    cJSON_AddStringToObject(st, "normalize", vbt_normalize_name(p->o.normalize));
    cJSON_AddNumberToObject(st, "n_regions", (double)p->conn->n);
    cJSON_AddNumberToObject(st, "n_draws", (double)sp->n_draws);
    if (p->K)
        cJSON_AddStringToObject(st, "K", "per draw (k-npy)");
    else
        cJSON_AddNumberToObject(st, "K", sp->K_const);
    if (p->tau0)
        cJSON_AddStringToObject(st, "tau0", "per draw (tau0-npy)");
    else
        cJSON_AddNumberToObject(st, "tau0", sp->tau0_const);
    cJSON_AddNumberToObject(st, "I1", sp->I1);
    cJSON_AddStringToObject(st, "scheme", sp->scheme);
    cJSON_AddNumberToObject(st, "dt", sp->dt);
    cJSON_AddNumberToObject(st, "duration", sp->duration);
    cJSON_AddNumberToObject(st, "n_steps", (double)vbt_surgery_n_steps(p->s));
    if (isfinite(sp->speed_mm_per_ms))
        cJSON_AddNumberToObject(st, "speed_mm_per_ms", sp->speed_mm_per_ms);
    else
        cJSON_AddStringToObject(st, "speed_mm_per_ms", "none (no delays)");
    cJSON_AddNumberToObject(st, "threshold", sp->threshold);
    cJSON_AddNumberToObject(st, "healthy_x0", sp->healthy_x0);
    if (sp->init_fixed)
        cJSON_AddItemToObject(st, "initial_state",
                              cJSON_CreateDoubleArray((double[2]){sp->init_x1, sp->init_z}, 2));
    else
        cJSON_AddStringToObject(st, "initial_state", "rest state of min(median x0, init_x0_max)");
    cJSON_AddNumberToObject(st, "init_x0_max", sp->init_x0_max);
    cJSON_AddNumberToObject(st, "noise", sp->noise);
    cJSON_AddNumberToObject(st, "seed", (double)sp->seed);
    cJSON_AddNumberToObject(st, "batch", (double)sp->batch);
    cJSON_AddStringToObject(st, "coupling", "difference, a = 1, Ks = -K, r = 1/tau0, tt = 1");
    return st;
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    *oom |= s && !d;
    return d;
}

int vbt_predict_alloc(vbt_predict **out, const vbt_predict_opts *o, vbt_msg *msg)
{
    *out = NULL;
    if (!o || !o->connectome || !o->draws)
        return vbt__fail(msg, VBT_EINVAL, "predict: the connectome and the draws are required");
    vbt_predict *p = calloc(1, sizeof *p);
    int oom = !p, rc;
    if (p) {
        p->o = *o;
        p->connectome = dup_or_null(o->connectome, &oom);
        p->draws = dup_or_null(o->draws, &oom);
        p->k_npy = dup_or_null(o->k_npy, &oom);
        p->tau0_npy = dup_or_null(o->tau0_npy, &oom);
    }
    if (oom) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto fail;
    }
    p->o.connectome = p->connectome;
    p->o.draws = p->draws;
    p->o.k_npy = p->k_npy;
    p->o.tau0_npy = p->tau0_npy;
    if ((rc = vbt_connectome_load(&p->conn, p->connectome, msg)) ||
        (rc = vbt_connectome_normalize(p->conn, o->normalize, msg)))
        goto fail;
    const size_t n = p->conn->n;
    vbt_array a = {0};
    if ((rc = vbt_npy_read(p->draws, &a, msg)))
        goto fail;
    size_t S = a.ndim == 1 ? 1 : a.shape[0], nr = a.ndim == 1 ? a.shape[0] : a.shape[1];
    if ((a.ndim != 1 && a.ndim != 2) || nr != n || S == 0) {
        rc = vbt__fail(msg, VBT_EINVAL, "draws '%s': expected [draw, region] with %zu regions "
                       "(the connectome '%s'), got %s%zu value(s) per draw", p->draws, n,
                       p->connectome, a.ndim == 1 || a.ndim == 2
                                          ? "" : "an array of more dimensions, ", nr);
        vbt_array_clear(&a);
        goto fail;
    }
    p->x0 = a.data;
    if ((rc = load_per_draw(p->k_npy, "per-draw K", S, &p->K, msg)) ||
        (rc = load_per_draw(p->tau0_npy, "per-draw tau0", S, &p->tau0, msg)))
        goto fail;
    vbt_surgery_spec *sp = &p->o.spec;
    /* Batches of equal size: 200 draws in batches of at most 64 run as four
     * batches of 50, not three of 64 and one of 8 padded to 64 (28 % more
     * simulations).  A draw gives the same numbers in any batch
     * (vbt_surgery.h), so only the CPU time changes; run.json records the
     * batch used. */
    if (sp->batch >= 1 && sp->batch <= 4096 && S > sp->batch) {
        size_t nb = (S + sp->batch - 1) / sp->batch;
        sp->batch = (S + nb - 1) / nb;
    }
    sp->conn = p->conn;
    sp->n_draws = S;
    sp->x0 = p->x0;
    sp->K = p->K;
    sp->tau0 = p->tau0;
    vbt_msg why;
    if ((rc = vbt_surgery_alloc(&p->s, sp, &why))) {
        vbt__fail(msg, rc, "draws '%s': %.900s", p->draws, why.text);
        goto fail;
    }
    p->settings = settings_json(p);
    *out = p;
    return VBT_OK;
fail:
    vbt_predict_free(p);
    return rc;
}

void vbt_predict_free(vbt_predict *p)
{
    if (!p)
        return;
    vbt_surgery_free(p->s);
    vbt_connectome_free(p->conn);
    free(p->x0);
    free(p->K);
    free(p->tau0);
    cJSON_Delete(p->settings);
    free(p->connectome);
    free(p->draws);
    free(p->k_npy);
    free(p->tau0_npy);
    free(p);
}

vbt_surgery *vbt_predict_surgery(vbt_predict *p)
{
    return p->s;
}

const vbt_connectome *vbt_predict_connectome(const vbt_predict *p)
{
    return p->conn;
}

/* A table of the staged output folder, written and freed. */
static int write_table(vbt_textbuf *b, vbt_outdir *od, const char *name, vbt_msg *msg)
{
    char path[4096];
    if (vbt_outdir_file(od, name, path, sizeof path)) {
        vbt_textbuf_free(b);
        return vbt__fail(msg, VBT_EINVAL, "output path of %s too long", name);
    }
    return vbt_textbuf_write(b, path, 1, msg);
}

/* run.json: provenance with the inputs, the settings and `extra` (moved). */
static int write_run_json(const vbt_predict *p, const char *tool, vbt_outdir *od,
                          cJSON *outputs, cJSON *extra, vbt_msg *msg)
{
    cJSON *prov = vbt__pipe_prov_new(tool, p->o.argc, p->o.argv);
    const char *roles[4][2] = {{"connectome", p->connectome}, {"draws", p->draws},
                               {"K", p->k_npy}, {"tau0", p->tau0_npy}};
    int rc = VBT_OK;
    for (size_t r = 0; r < 4 && !rc; r++)
        if (roles[r][1])
            rc = vbt__pipe_prov_add_input(prov, roles[r][0], roles[r][1], "directory (not hashed)",
                                     msg);
    cJSON_AddNumberToObject(prov, "seed", (double)p->o.spec.seed);
    cJSON_AddItemToObject(prov, "settings", cJSON_Duplicate(p->settings, 1));
    cJSON_AddItemToObject(prov, "outputs", outputs);
    if (extra)
        for (cJSON *it = extra->child; it;) {
            cJSON *next = it->next;
            cJSON_AddItemToObject(prov, it->string, cJSON_DetachItemViaPointer(extra, it));
            it = next;
        }
    cJSON_Delete(extra);
    char *text = rc ? NULL : cJSON_Print(prov);
    if (!rc && !text)
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory writing run.json");
    if (!rc) {
        vbt_textbuf b = {0};
        vbt_textbuf_printf(&b, "%s\n", text);
        rc = write_table(&b, od, "run.json", msg);
    }
    free(text);
    cJSON_Delete(prov);
    return rc;
}

/* Sort region indices by key (then index); insertion sort, n is small. */
static void sort_by(size_t *idx, size_t m, const double *key)
{
    for (size_t a = 1; a < m; a++)
        for (size_t b = a; b > 0; b--) {
            size_t i = idx[b - 1], j = idx[b];
            if (key[i] < key[j] || (key[i] == key[j] && i < j))
                break;
            idx[b - 1] = j;
            idx[b] = i;
        }
}

/* order.csv: recruited regions by median onset (then index). */
static int write_order(const vbt_predict *p, const vbt_surgery_result *r, vbt_outdir *od,
                       vbt_msg *msg)
{
    const size_t n = r->n_regions;
    size_t *ord = malloc((n ? n : 1) * sizeof *ord), m = 0;
    if (!ord)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (r->p_recruited[i] > 0.0)
            ord[m++] = i;
    sort_by(ord, m, r->onset_median);
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "order,region,label,p_recruited,onset_median,onset_q05,onset_q95\n");
    for (size_t q = 0; q < m; q++) {
        size_t i = ord[q];
        vbt_textbuf_printf(&b, "%zu,%zu,", q + 1, i);
        vbt_textbuf_label(&b, p->conn->labels[i]);
        vbt_textbuf_printf(&b, ",%.17g,%.17g,%.17g,%.17g\n", r->p_recruited[i], r->onset_median[i],
                           r->onset_q05[i], r->onset_q95[i]);
    }
    free(ord);
    return write_table(&b, od, "order.csv", msg);
}

int vbt_predict_write(const vbt_predict *p, const vbt_surgery_result *r, double wall_s,
                      vbt_outdir *od, vbt_msg *msg)
{
    const size_t n = r->n_regions, S = r->n_draws;
    char path[4096];
    size_t shape[2] = {S, n};
    int rc;
    if (vbt_outdir_file(od, "onsets.npy", path, sizeof path))
        return vbt__fail(msg, VBT_EINVAL, "output path of onsets.npy too long");
    if ((rc = vbt_npy_write(path, r->onset, 2, shape, 0, msg)))
        return rc;
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "region,label,p_recruited,onset_mean,onset_sd,onset_median,onset_q05,"
                           "onset_q95,mean_rank\n");
    for (size_t i = 0; i < n; i++) {
        vbt_textbuf_printf(&b, "%zu,", i);
        vbt_textbuf_label(&b, p->conn->labels[i]);
        vbt_textbuf_printf(&b, ",%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", r->p_recruited[i],
                           r->onset_mean[i], r->onset_sd[i], r->onset_median[i], r->onset_q05[i],
                           r->onset_q95[i], r->mean_rank[i]);
    }
    if ((rc = write_table(&b, od, "recruitment.csv", msg)) || (rc = write_order(p, r, od, msg)))
        return rc;
    cJSON *outputs = cJSON_CreateObject();
    cJSON_AddStringToObject(outputs, "recruitment", "recruitment.csv");
    cJSON_AddStringToObject(outputs, "order", "order.csv");
    cJSON_AddStringToObject(outputs, "onsets", "onsets.npy");
    cJSON_AddItemToObject(outputs, "onsets_shape",
                          cJSON_CreateDoubleArray((double[]){(double)S, (double)n}, 2));
    cJSON *extra = cJSON_CreateObject();
    cJSON *res = cJSON_AddObjectToObject(extra, "summary");
    cJSON_AddNumberToObject(res, "p_seizure_freedom", r->p_freedom);
    cJSON_AddNumberToObject(res, "mean_recruited_regions", r->mean_recruited);
    cJSON *t = cJSON_AddObjectToObject(extra, "timing");
    cJSON_AddNumberToObject(t, "wall_s", wall_s);
    cJSON_AddNumberToObject(t, "threads", (double)p->o.spec.threads);
    cJSON_AddNumberToObject(t, "draws_per_s", wall_s > 0 ? (double)S / wall_s : 0.0);
    return write_run_json(p, "predict", od, outputs, extra, msg);
}

char *vbt_predict_join_regions(const vbt_predict *p, const size_t *idx, size_t n, int labels)
{
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "%s", "");
    for (size_t q = 0; q < n; q++) {
        if (labels)
            vbt_textbuf_printf(&b, "%s%s", q ? ";" : "", p->conn->labels[idx[q]]);
        else
            vbt_textbuf_printf(&b, "%s%zu", q ? ";" : "", idx[q]);
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static cJSON *region_array(const vbt_predict *p, const size_t *idx, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t q = 0; q < n; q++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)idx[q]);
        cJSON_AddStringToObject(o, "label", p->conn->labels[idx[q]]);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* surgery.csv (one row per scenario) and regions.csv (per scenario and region). */
static int write_scenarios(const vbt_predict *p, const vbt_predict_scenario *sc, size_t ns,
                           vbt_outdir *od, vbt_msg *msg)
{
    const size_t n = p->conn->n;
    vbt_textbuf b = {0};
    int rc;
    vbt_textbuf_printf(&b, "scenario,resected,resected_indices,n_resected,p_seizure_freedom,"
                           "mean_recruited_regions\n");
    for (size_t k = 0; k < ns; k++) {
        char *lab = vbt_predict_join_regions(p, sc[k].r.resected, sc[k].r.n_resected, 1);
        char *ind = vbt_predict_join_regions(p, sc[k].r.resected, sc[k].r.n_resected, 0);
        b.oom |= !lab || !ind;
        vbt_textbuf_label(&b, sc[k].name);
        vbt_textbuf_printf(&b, ",");
        vbt_textbuf_label(&b, lab ? lab : "");
        vbt_textbuf_printf(&b, ",%s,%zu,%.17g,%.17g\n", ind ? ind : "", sc[k].r.n_resected,
                           sc[k].r.p_freedom, sc[k].r.mean_recruited);
        free(lab);
        free(ind);
    }
    if ((rc = write_table(&b, od, "surgery.csv", msg)))
        return rc;
    vbt_textbuf_printf(&b, "scenario,region,label,resected,p_recruited,onset_median,onset_q05,"
                           "onset_q95,mean_rank\n");
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < n; i++) {
            const vbt_surgery_result *r = &sc[k].r;
            vbt_textbuf_label(&b, sc[k].name);
            vbt_textbuf_printf(&b, ",%zu,", i);
            vbt_textbuf_label(&b, p->conn->labels[i]);
            vbt_textbuf_printf(&b, ",%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", r->is_resected[i],
                               r->p_recruited[i], r->onset_median[i], r->onset_q05[i],
                               r->onset_q95[i], r->mean_rank[i]);
        }
    return write_table(&b, od, "regions.csv", msg);
}

int vbt_predict_write_surgery(const vbt_predict *p, const vbt_predict_scenario *sc, size_t ns,
                              const vbt_plan_result *plan, const vbt_plan_opts *po,
                              double wall_s, vbt_outdir *od, vbt_msg *msg)
{
    int rc = write_scenarios(p, sc, ns, od, msg);
    if (rc)
        return rc;
    cJSON *outputs = cJSON_CreateObject();
    cJSON_AddStringToObject(outputs, "scenarios", "surgery.csv");
    cJSON_AddStringToObject(outputs, "regions", "regions.csv");
    cJSON *extra = cJSON_CreateObject();
    cJSON *sa = cJSON_AddArrayToObject(extra, "scenarios");
    for (size_t k = 0; k < ns; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", sc[k].name);
        cJSON_AddItemToObject(o, "resected", region_array(p, sc[k].r.resected,
                                                          sc[k].r.n_resected));
        cJSON_AddNumberToObject(o, "p_seizure_freedom", sc[k].r.p_freedom);
        cJSON_AddNumberToObject(o, "mean_recruited_regions", sc[k].r.mean_recruited);
        cJSON_AddItemToArray(sa, o);
    }
    if (plan) {
        cJSON *pj = cJSON_AddObjectToObject(extra, "plan");
        cJSON_AddStringToObject(pj, "method", plan->method == VBT_PLAN_EXHAUSTIVE
                                                  ? "exhaustive" : "greedy");
        cJSON_AddBoolToObject(pj, "reached", plan->reached);
        cJSON_AddNumberToObject(pj, "target", po->target);
        cJSON_AddItemToObject(pj, "resect", region_array(p, plan->set, plan->n_set));
        cJSON_AddNumberToObject(pj, "p_seizure_freedom", plan->p_freedom);
        cJSON_AddNumberToObject(pj, "p_seizure_freedom_without_surgery",
                                plan->p_freedom_none);
        cJSON_AddItemToObject(pj, "spared", region_array(p, po->spare, po->n_spare));
        cJSON_AddItemToObject(pj, "candidates",
                              region_array(p, plan->candidates, plan->n_candidates));
        cJSON_AddNumberToObject(pj, "max_size", (double)po->max_size);
        cJSON_AddNumberToObject(pj, "max_evaluations", (double)po->max_evaluations);
        cJSON_AddNumberToObject(pj, "scenarios_simulated", (double)plan->n_evaluations);
    }
    cJSON *t = cJSON_AddObjectToObject(extra, "timing");
    cJSON_AddNumberToObject(t, "wall_s", wall_s);
    cJSON_AddNumberToObject(t, "threads", (double)p->o.spec.threads);
    return write_run_json(p, "surgery", od, outputs, extra, msg);
}
