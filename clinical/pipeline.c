/* pipeline.c -- the patient pipeline (vbt_pipeline.h): the steps, their
 * stamps (settings + SHA-256 of every input, OUT/.stamps/STEP.txt) and the
 * order they run in. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pipeline_internal.h"
#include "vbt_text.h"
#include "vbt_fit.h"
#include "vbt_gain.h"
#include "vbt_patient.h"
#include "vbt_predict.h"
#include "vbt_seeg_features.h"

static const char *const step_names[VBT_PIPELINE_N_STEPS] = {
    "gain", "features", "fit", "predict", "surgery", "report"};

const char *vbt_pipeline_step_name(vbt_pipeline_step step)
{
    return (unsigned)step < VBT_PIPELINE_N_STEPS ? step_names[step] : NULL;
}

void vbt_pipeline_opts_default(vbt_pipeline_opts *o)
{
    memset(o, 0, sizeof *o);
    vbt_vep_pipeline_preset_default(&o->fit);
    o->target = 0.9;
    o->seed = 42;
    o->threads = 1;
    o->onset_s = o->offset_s = NAN;
}

/* The seizure choice of the options. */
static void seizure_choice(const vbt_pipeline_opts *o, vbt_seizure_choice *c)
{
    vbt_seizure_choice_default(c);
    c->index = o->seizure;
    c->onset_s = o->onset_s;
    c->offset_s = o->offset_s;
    c->require = 1;
}

int vbt_pipeline_check_seizure(const vbt_patient *p, const vbt_pipeline_opts *o,
                               size_t *index, vbt_msg *msg)
{
    size_t idx = 0;
    vbt_recording *rec = NULL;
    vbt_seizure_choice c;
    vbt_bids_query q = {.sub = p->subject};
    int rc;
    if (!isnan(o->offset_s) && isnan(o->onset_s))
        return vbt__fail(msg, VBT_EINVAL, "pipeline: an offset (--offset) needs an onset "
                         "(--onset)");
    if ((rc = vbt_patient_choose_recording(p, o->task, o->run, &idx, msg)) ||
        (rc = vbt_recording_open_bids(&rec, p->recordings[idx], &q, msg)))
        return rc;
    seizure_choice(o, &c);
    rc = vbt_recording_choose_seizure(rec, &c, NULL, msg);
    vbt_recording_free(rec);
    if (!rc && index)
        *index = idx;
    return rc;
}

/* One run: the options, the output paths and the result. */
typedef struct prun {
    const vbt_patient *pat;
    const vbt_pipeline_opts *o;
    vbt_pipeline_result *res;
    vbt_msg *msg;
    char out[4096], stamps[4200];
    char d_gain[4200], d_feat[4200], d_fit[4200], d_pred[4200], d_surg[4200], d_draws[4200];
    char gain_npy[4300], aligned[4300], feat_npy[4300], x0_npy[4300], k_npy[4300],
        tau_npy[4300], summary[4300], prior[4300], rec_csv[4300], surg_csv[4300];
    char seed[32], threads[32], points[32], target[32], dt[32], init[80];
    size_t rec_idx;             /* the recording fitted (vbt_pipeline_check_seizure) */
    char sz_index[32], sz_onset[32], sz_offset[32];
    const char *stamp;          /* the running step's stamp text */
    /* the fit's chains apart: 0 the whole pipeline; PART_PREPARE or
     * PART_CHAIN stop after the fit step's part, which writes no stamp */
    int part;
    size_t chain, n_chains;
} prun;

enum { PART_ALL = 0, PART_PREPARE, PART_CHAIN };

static void join(char *buf, size_t n, const char *dir, const char *name)
{
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n)
        buf[n - 1] = '\0';
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void progress(const prun *pp, vbt_pipeline_step step, double fraction, const char *text)
{
    if (pp->o->progress)
        pp->o->progress(pp->o->progress_ctx, step, fraction, text);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* How the outputs show a path: relative to the output or patient folder. */
static const char *shown(const prun *pp, const char *path)
{
    return vbt__pipe_shown_path(path, pp->pat->dir, pp->out);
}

/* "input HEX PATH" lines of one input (PATH shown); a directory (a TVB
 * connectome folder) counts by its files, every one, sorted by name. */
static int stamp_input(const prun *pp, vbt_textbuf *st, const char *input, vbt_msg *msg)
{
    char **names = NULL, hex[65], fp[8400];
    size_t nf = 0, cap = 0;
    int rc = VBT_OK;
    if (is_dir(input)) {
        DIR *d = opendir(input);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            join(fp, sizeof fp, input, e->d_name);
            if (e->d_name[0] == '.' || !is_file(fp))
                continue;
            if (nf == cap) {
                size_t nc = cap ? 2 * cap : 64;
                char **nn = realloc(names, nc * sizeof *nn);
                if (!nn) {
                    rc = VBT_ENOMEM;
                    break;
                }
                names = nn;
                cap = nc;
            }
            if (!(names[nf] = strdup(e->d_name))) {
                rc = VBT_ENOMEM;
                break;
            }
            nf++;
        }
        if (d)
            closedir(d);
        if (rc)
            vbt__fail(msg, rc, "out of memory listing '%s'", input);
        else if (nf)
            qsort(names, nf, sizeof *names, cmp_str);
    }
    for (size_t f = 0; !rc && f < (nf ? nf : 1); f++) {
        if (nf)
            join(fp, sizeof fp, input, names[f]);
        else
            snprintf(fp, sizeof fp, "%s", input);
        if ((rc = vbt_sha256_file(fp, hex, msg)))
            break;
        vbt_textbuf_printf(st, "input %s %s\n", hex, shown(pp, fp));
    }
    for (size_t f = 0; f < nf; f++)
        free(names[f]);
    free(names);
    return rc;
}

/* A step's work: the library call, given the vbt command it is equivalent
 * to (for its provenance record); VBT_OK or a status with pp->msg set. */
typedef int (*step_fn)(prun *pp, int argc, char **argv);

/* The provenance file each step writes, relative to the output folder. */
static const char *const step_prov[VBT_PIPELINE_N_STEPS] = {
    "gain/gain.json", "features/run.json", "fit/run.json", "predict/run.json",
    "surgery/run.json", NULL};

/* Run the step fn (argv: the vbt command it is equivalent to, the settings
 * in its stamp and the command its provenance records, its paths shown)
 * unless its stamp says it is up to date: the stamp records the arguments
 * and the SHA-256 of every input (NULL-terminated).  The provenance file the
 * step wrote is then scrubbed of any path the steps' library calls recorded
 * as they opened it. */
static int step(prun *pp, vbt_pipeline_step s, char **argv_in, const char *const *inputs,
                const char *result, step_fn fn)
{
    const char *name = step_names[s];
    char stamp_path[4300];
    snprintf(stamp_path, sizeof stamp_path, "%s/%s.txt", pp->stamps, name);
    vbt_textbuf st = {0};
    int argc = 0, rc = VBT_OK;
    vbt_msg why;
    while (argv_in[argc])
        argc++;
    char **argv = malloc(((size_t)argc + 1) * sizeof *argv);
    if (!argv)
        return vbt__fail(pp->msg, VBT_ENOMEM, "step %s: out of memory", name);
    for (int i = 0; i < argc; i++) {
        argv[i] = (char *)shown(pp, argv_in[i]);
        vbt_textbuf_printf(&st, "arg %s\n", argv[i]);
    }
    argv[argc] = NULL;
    for (size_t i = 0; inputs[i] && !rc; i++)
        if ((rc = stamp_input(pp, &st, inputs[i], &why)))
            vbt__fail(pp->msg, rc, "step %s: %.1000s", name, why.text);
    if (!rc && st.oom)
        rc = vbt__fail(pp->msg, VBT_ENOMEM, "step %s: out of memory", name);
    char *old = NULL;
    size_t old_len = 0;
    if (!rc && is_file(result) && vbt_file_read_all(stamp_path, &old, &old_len, 0, &why) == 0 &&
        old_len == st.len && memcmp(old, st.s, st.len) == 0) {
        progress(pp, s, 1.0, "up to date");
        free(old);
        free(st.s);
        free(argv);
        return VBT_OK;
    }
    free(old);
    if (!rc && pp->o->cancel && *pp->o->cancel)
        rc = vbt__fail(pp->msg, VBT_EINVAL, "interrupted before step %s", name);
    if (!rc) {
        progress(pp, s, 0.0, "running");
        pp->stamp = st.oom ? NULL : st.s;
        if ((rc = fn(pp, argc, argv))) {
            memcpy(&why, pp->msg, sizeof why);
            vbt__fail(pp->msg, rc, "step %s: %.1000s", name, why.text);
        }
        if (pp->part != PART_ALL && s == VBT_PIPELINE_FIT) {
            free(st.s); /* a part of the fit: the step is not done yet */
            free(argv);
            return rc;
        }
        char prov[4400];
        if (!rc && step_prov[s]) {
            join(prov, sizeof prov, pp->out, step_prov[s]);
            rc = vbt__pipe_scrub_json(prov, pp->pat->dir, pp->out, pp->msg);
        }
        if (!rc && (rc = vbt_file_write_atomic(stamp_path, st.s, st.len, 1, pp->msg)) == 0) {
            pp->res->ran[s] = 1;
            pp->res->steps_run++;
            progress(pp, s, 1.0, "done");
        }
    }
    free(st.s);
    free(argv);
    return rc;
}

/* The fit's priors: the patient's prior.json, else the pipeline's own,
 * written into OUT only when missing or different, so that its hash (a fit
 * input) stays put. */
static int fit_prior(prun *pp)
{
    if (pp->pat->prior) {
        snprintf(pp->prior, sizeof pp->prior, "%s", pp->pat->prior);
        return VBT_OK;
    }
    join(pp->prior, sizeof pp->prior, pp->out, "prior.json");
    char *text = vbt_vep_pipeline_prior_json(&pp->o->fit), *old = NULL;
    size_t len = text ? strlen(text) : 0, old_len = 0;
    vbt_msg why;
    int rc = VBT_OK;
    if (!text)
        rc = vbt__fail(pp->msg, VBT_ENOMEM, "out of memory");
    else if (!(is_file(pp->prior) &&
               vbt_file_read_all(pp->prior, &old, &old_len, 0, &why) == 0 && old_len == len &&
               !memcmp(old, text, len)))
        rc = vbt_file_write_atomic(pp->prior, text, len, 1, pp->msg);
    free(old);
    free(text);
    return rc;
}

/* The gain matrix (vbt_gain_matrix_compute) and gain.npy, gain.tsv and
 * gain.json with the step's provenance, as `vbt gain` writes them. */
static int run_gain(prun *pp, int argc, char **argv)
{
    const vbt_patient *p = pp->pat;
    vbt_gain_opts go;
    vbt_gain_opts_default(&go);
    go.method = p->parcellation ? VBT_GAIN_VOLUME : VBT_GAIN_CENTRE;
    go.contacts = p->electrodes;
    go.connectome = p->connectome;
    if (p->parcellation) {
        go.parcellation = p->parcellation;
        go.labels = p->parcellation_labels;
        go.name_map = p->parcellation_names;
    }
    const char *roles[5][2] = {{"contacts", go.contacts}, {"connectome", go.connectome},
                               {"parcellation", go.parcellation}, {"labels", go.labels},
                               {"name-map", go.name_map}};
    vbt_gain_matrix *g = NULL;
    cJSON *prov = NULL;
    char *text = NULL;
    int rc = vbt_gain_matrix_compute(&g, &go, pp->msg);
    if (rc)
        goto out;
    prov = vbt__pipe_prov_new("gain", argc, argv);
    for (size_t k = 0; k < 5 && !rc; k++)
        if (roles[k][1])
            rc = vbt__pipe_prov_add_input(prov, roles[k][0], roles[k][1], "(directory)", pp->msg);
    if (rc)
        goto out;
    if (!(text = cJSON_PrintUnformatted(prov)))
        rc = vbt__fail(pp->msg, VBT_ENOMEM, "out of memory");
    else
        rc = vbt_gain_matrix_write(g, pp->gain_npy, text, 1, pp->msg);
out:
    free(text);
    cJSON_Delete(prov);
    vbt_gain_matrix_free(g);
    return rc;
}

/* The volume gain when the patient has a parcellation (in the contacts'
 * space), else the region-centre formula. */
static int step_gain(prun *pp)
{
    const vbt_patient *p = pp->pat;
    char *a[24] = {"vbt", "gain", "--contacts", p->electrodes, "--connectome", p->connectome,
                   "-o", pp->gain_npy, "--force", "-q", "--method"};
    const char *in[6] = {p->electrodes, p->connectome};
    size_t na = 11, ni = 2;
    if (p->parcellation) {
        a[na++] = "volume";
        a[na++] = "--parcellation";
        a[na++] = p->parcellation;
        a[na++] = "--labels";
        a[na++] = p->parcellation_labels;
        in[ni++] = p->parcellation;
        in[ni++] = p->parcellation_labels;
        if (p->parcellation_names) {
            a[na++] = "--name-map";
            a[na++] = p->parcellation_names;
            in[ni++] = p->parcellation_names;
        }
        /* vbt_gain_opts_default's placement of regions without voxels; named
         * so that a gain from before it was registered is computed again */
        a[na++] = "--centres";
        a[na++] = "registered";
    } else {
        a[na++] = "centre";
    }
    return step(pp, VBT_PIPELINE_GAIN, a, in, pp->gain_npy, run_gain);
}

/* `vbt seeg features PATIENT --sub S` at the command's defaults (monopolar
 * channels), the window and points of the preset. */
static int run_features(prun *pp, int argc, char **argv)
{
    vbt_recording *rec = NULL;
    vbt_montage *m = NULL;
    vbt_outdir *od = NULL;
    vbt_bids_query q = {.sub = pp->pat->subject};
    vbt_montage_kind kind;
    vbt_seizure_choice sc;
    double on, off;
    int rc;
    seizure_choice(pp->o, &sc);
    if ((rc = vbt_recording_open_bids(&rec, pp->pat->recordings[pp->rec_idx], &q, pp->msg)) ||
        (rc = vbt_recording_choose_seizure(rec, &sc, NULL, pp->msg)))
        goto out;
    vbt_recording_seizure(rec, &on, &off);
    if (!isnan(on) && !isnan(off) && off < on) {
        rc = vbt__fail(pp->msg, VBT_EFORMAT, "'%s': seizure offset %g s precedes the onset %g s",
                       pp->pat->dir, off, on);
        goto out;
    }
    vbt_montage_kind_parse("monopolar", &kind);
    if ((rc = vbt_montage_alloc(&m, rec, kind, NULL, 0, pp->msg)))
        goto out;
    vbt_seeg_features_job j = {.rec = rec, .m = m, .montage = "monopolar",
                               .pre_scale = pp->o->fit.pre_scale,
                               .post_scale = pp->o->fit.post_scale, .sidecars = 1,
                               .argc = argc, .argv = argv};
    vbt_features_opts_default(&j.opts);
    j.opts.n_points = pp->o->fit.points;
    if ((rc = vbt_outdir_begin(&od, pp->d_feat, 1, pp->msg)) ||
        (rc = vbt_seeg_features_run(&j, od, NULL, pp->msg)))
        goto out;
    rc = vbt_outdir_commit(od, pp->msg);
    od = NULL;
out:
    vbt_outdir_abort(od);
    vbt_montage_free(m);
    vbt_recording_free(rec);
    return rc;
}

/* The feature's window and points: vbt_vep_pipeline_preset (fitting/). */
static int step_features(prun *pp)
{
    char pre[32], post[32];
    snprintf(pre, sizeof pre, "%.15g", pp->o->fit.pre_scale);
    snprintf(post, sizeof post, "%.15g", pp->o->fit.post_scale);
    char *a[32] = {"vbt", "seeg", "features", pp->pat->dir, "--sub", pp->pat->subject,
                   "--points", pp->points, "--pre-scale", pre, "--post-scale", post,
                   "-o", pp->d_feat, "--force", "-q"};
    size_t na = 0;
    while (a[na])
        na++;
    /* the seizure's choice, when made (a run without one keeps its old stamp) */
    if (pp->o->task) {
        a[na++] = "--task";
        a[na++] = (char *)pp->o->task;
    }
    if (pp->o->run) {
        a[na++] = "--run";
        a[na++] = (char *)pp->o->run;
    }
    if (pp->o->seizure) {
        a[na++] = "--seizure";
        a[na++] = pp->sz_index;
    }
    if (!isnan(pp->o->onset_s)) {
        a[na++] = "--onset";
        a[na++] = pp->sz_onset;
    }
    if (!isnan(pp->o->offset_s)) {
        a[na++] = "--offset";
        a[na++] = pp->sz_offset;
    }
    a[na] = NULL;
    const char *in[] = {pp->pat->recordings[pp->rec_idx], NULL};
    int rc = step(pp, VBT_PIPELINE_FEATURES, a, in, pp->feat_npy, run_features);
    if (!rc && vbt__pipe_align_gain(pp->msg, pp->d_gain, pp->d_feat, pp->aligned))
        rc = VBT_EIO;
    return rc;
}

/* The fit object (fitting/vbt_fit.h) with the preset's options. */
static int run_fit(prun *pp, int argc, char **argv)
{
    vbt__pipe_fit_job j = {.o = pp->o, .connectome = pp->pat->connectome, .gain = pp->aligned,
                           .data = pp->feat_npy, .prior = pp->prior, .outdir = pp->d_fit,
                           .stamp = pp->stamp, .argc = argc, .argv = argv};
    if (pp->part == PART_PREPARE)
        return vbt__pipe_fit_prepare(&j, &pp->n_chains, pp->msg);
    if (pp->part == PART_CHAIN)
        return vbt__pipe_fit_chain(&j, pp->chain, pp->msg);
    return vbt__pipe_fit(&j, pp->msg);
}

static int step_fit(prun *pp)
{
    const vbt_vep_pipeline_preset *f = &pp->o->fit;
    char starts[32], polish[32], rounds[32], hops[32], warmup[32], draws[32], delta[32];
    snprintf(starts, sizeof starts, "%zu", f->map_starts);
    snprintf(polish, sizeof polish, "%zu", f->map_polish);
    snprintf(rounds, sizeof rounds, "%zu", f->map_hop_rounds);
    snprintf(hops, sizeof hops, "%zu", f->map_hops);
    snprintf(warmup, sizeof warmup, "%zu", f->nuts_warmup);
    snprintf(draws, sizeof draws, "%zu", f->nuts_draws);
    snprintf(delta, sizeof delta, "%.15g", f->nuts_adapt_delta);
    char *a[64] = {"vbt", "fit", "--connectome", pp->pat->connectome, "--gain", pp->aligned,
                   "--data", pp->feat_npy, "--prior", pp->prior, "--method", (char *)f->method,
                   "--obs", (char *)f->obs, "--data-norm", (char *)f->data_norm,
                   "--gain-norm", (char *)f->gain_norm, "--dt", pp->dt, "--starts", starts,
                   "--polish", polish, "--hop-rounds", rounds, "--hops", hops,
                   "--map-init", (char *)f->map_init, "--seed", pp->seed, "--threads",
                   pp->threads, "-o", pp->d_fit, "--force", "-q"};
    size_t na = 0;
    while (a[na])
        na++;
    if (na + 2 + 8 + 1 > sizeof a / sizeof *a) /* --steps N, the NUTS options, NULL */
        return vbt__fail(pp->msg, VBT_EINVAL, "pipeline: the fit's command line is too long");
    /* several steps per sample only when the points are few: the command
     * line (and so the step's identity) at the default points is unchanged */
    char nsteps[32];
    snprintf(nsteps, sizeof nsteps, "%zu", vbt_vep_pipeline_preset_steps(f));
    if (strcmp(nsteps, "1")) {
        a[na++] = "--steps";
        a[na++] = nsteps;
    }
    if (!strcmp(f->method, "nuts")) {
        char *extra[] = {"--metric", (char *)f->nuts_metric, "--warmup", warmup, "--draws",
                         draws, "--adapt-delta", delta};
        memcpy(a + na, extra, sizeof extra);
        na += sizeof extra / sizeof extra[0];
    }
    a[na] = NULL;
    const char *in[] = {pp->pat->connectome, pp->aligned, pp->feat_npy, pp->prior, NULL};
    int rc = step(pp, VBT_PIPELINE_FIT, a, in, pp->summary, run_fit);
    if (rc || pp->part != PART_ALL)
        return rc;
    vbt_connectome *cn;
    if ((rc = vbt_connectome_load(&cn, pp->pat->connectome, pp->msg)))
        return rc;
    const size_t n = cn->n;
    vbt_connectome_free(cn);
    if (vbt__pipe_extract_draws(pp->msg, pp->d_fit, n, pp->x0_npy, pp->k_npy, pp->tau_npy))
        return VBT_EIO;
    return VBT_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The draws and the model of `vbt predict` at its defaults (the 2D
 * Epileptor), started where the fit held its initial state. */
static int open_draws(prun *pp, int argc, char **argv, vbt_predict **pr)
{
    vbt_predict_opts po;
    vbt_predict_opts_default(&po);
    po.connectome = pp->pat->connectome;
    po.draws = pp->x0_npy;
    po.k_npy = pp->k_npy;
    po.tau0_npy = pp->tau_npy;
    po.argc = argc;
    po.argv = argv;
    po.spec.seed = pp->o->seed;
    po.spec.threads = (size_t)pp->o->threads;
    if (pp->init[0] && sscanf(pp->init, "%lf,%lf", &po.spec.init_x1, &po.spec.init_z) == 2)
        po.spec.init_fixed = 1;
    return vbt_predict_alloc(pr, &po, pp->msg);
}

/* `vbt predict`: propagation without surgery over the draws. */
static int run_predict(prun *pp, int argc, char **argv)
{
    vbt_predict *pr = NULL;
    vbt_outdir *od = NULL;
    vbt_surgery_result r = {0};
    int rc;
    if ((rc = open_draws(pp, argc, argv, &pr)) ||
        (rc = vbt_outdir_begin(&od, pp->d_pred, 1, pp->msg)))
        goto out;
    double t0 = now_s();
    if ((rc = vbt_surgery_run(vbt_predict_surgery(pr), NULL, 0, &r))) {
        vbt__fail(pp->msg, rc, "%s", vbt_surgery_errmsg(vbt_predict_surgery(pr)));
        goto out;
    }
    if (!(rc = vbt_predict_write(pr, &r, now_s() - t0, od, pp->msg)))
        rc = vbt_outdir_commit(od, pp->msg);
    od = NULL;
out:
    vbt_outdir_abort(od);
    vbt_surgery_result_clear(&r);
    vbt_predict_free(pr);
    return rc;
}

/* The scenarios of `vbt surgery`: none, each of the patient's resections
 * (any number), then the plan (its regions: plan.set). */
typedef struct surgery_job {
    vbt_predict_scenario *sc;
    size_t **idx, *n_idx, n;
    size_t *spare;
    vbt_plan_result plan;
    vbt_plan_opts po;
} surgery_job;

static int surgery_scenarios(prun *pp, vbt_predict *pr, surgery_job *j)
{
    const vbt_patient *p = pp->pat;
    const vbt_connectome *conn = vbt_predict_connectome(pr);
    const size_t ns = p->n_resections + 2, nr = conn->n ? conn->n : 1;
    vbt_msg why;
    int rc;
    j->sc = calloc(ns, sizeof *j->sc);
    j->idx = calloc(ns, sizeof *j->idx);
    j->n_idx = calloc(ns, sizeof *j->n_idx);
    j->spare = malloc(nr * sizeof *j->spare);
    if (!j->sc || !j->idx || !j->n_idx || !j->spare)
        return vbt__fail(pp->msg, VBT_ENOMEM, "out of memory");
    j->sc[j->n++].name = "none";
    for (size_t r = 0; r < p->n_resections; r++, j->n++) {
        j->sc[j->n].name = p->resections[r];
        if (!(j->idx[j->n] = malloc(nr * sizeof **j->idx)))
            return vbt__fail(pp->msg, VBT_ENOMEM, "out of memory");
        if ((rc = vbt_surgery_parse_regions(conn, p->resections[r], j->idx[j->n], conn->n,
                                            &j->n_idx[j->n], &why)))
            return vbt__fail(pp->msg, rc, "'%s' line %zu: %.900s", p->resections_path,
                             p->resection_lines[r], why.text);
    }
    vbt_plan_opts_default(&j->po);
    j->po.target = pp->o->target;
    j->po.spare = j->spare;
    if (p->spare && *p->spare &&
        (rc = vbt_surgery_parse_regions(conn, p->spare, j->spare, conn->n, &j->po.n_spare, &why)))
        return vbt__fail(pp->msg, rc, "'%s': %.900s", p->spare_path, why.text);
    vbt_surgery *s = vbt_predict_surgery(pr);
    if ((rc = vbt_surgery_plan(s, &j->po, &j->plan)))
        return vbt__fail(pp->msg, rc, "plan: %s", vbt_surgery_errmsg(s));
    j->sc[j->n].name = "plan";
    j->idx[j->n] = j->plan.set;
    j->n_idx[j->n++] = j->plan.n_set;
    return VBT_OK;
}

/* `vbt surgery --plan`: every scenario, then the outputs. */
static int run_surgery(prun *pp, int argc, char **argv)
{
    vbt_predict *pr = NULL;
    vbt_outdir *od = NULL;
    surgery_job j;
    memset(&j, 0, sizeof j);
    int rc;
    if ((rc = open_draws(pp, argc, argv, &pr)) || (rc = surgery_scenarios(pp, pr, &j)) ||
        (rc = vbt_outdir_begin(&od, pp->d_surg, 1, pp->msg)))
        goto out;
    double t0 = now_s();
    vbt_surgery *s = vbt_predict_surgery(pr);
    for (size_t k = 0; k < j.n; k++) {
        if (pp->o->cancel && *pp->o->cancel) {
            rc = vbt__fail(pp->msg, VBT_EINVAL, "interrupted; nothing written");
            goto out;
        }
        if ((rc = vbt_surgery_run(s, j.idx[k], j.n_idx[k], &j.sc[k].r))) {
            vbt__fail(pp->msg, rc, "scenario '%.200s': %s", j.sc[k].name,
                      vbt_surgery_errmsg(s));
            goto out;
        }
    }
    if (!(rc = vbt_predict_write_surgery(pr, j.sc, j.n, &j.plan, &j.po, now_s() - t0, od,
                                         pp->msg)))
        rc = vbt_outdir_commit(od, pp->msg);
    od = NULL;
out:
    vbt_outdir_abort(od);
    for (size_t k = 0; j.sc && k < j.n; k++)
        vbt_surgery_result_clear(&j.sc[k].r);
    for (size_t k = 0; j.idx && k < j.n; k++)
        if (j.idx[k] != j.plan.set)
            free(j.idx[k]);
    free(j.sc);
    free(j.idx);
    free(j.n_idx);
    free(j.spare);
    vbt_predict_free(pr);
    return rc;
}

static int step_predict(prun *pp)
{
    char *a[] = {"vbt", "predict", "-c", pp->pat->connectome, "-d", pp->x0_npy, "--k-npy",
                 pp->k_npy, "--tau0-npy", pp->tau_npy, "--seed", pp->seed, "--threads",
                 pp->threads, "-o", pp->d_pred, "--force", "-q",
                 pp->init[0] ? "--init-state" : NULL, pp->init, NULL};
    const char *in[] = {pp->pat->connectome, pp->x0_npy, pp->k_npy, pp->tau_npy, NULL};
    return step(pp, VBT_PIPELINE_PREDICT, a, in, pp->rec_csv, run_predict);
}

/* The patient's candidate resections (any number) and spared regions. */
static int step_surgery(prun *pp)
{
    const vbt_patient *p = pp->pat;
    char *head[] = {"vbt", "surgery", "-c", p->connectome, "-d", pp->x0_npy, "--k-npy",
                    pp->k_npy, "--tau0-npy", pp->tau_npy, "--plan", "--target", pp->target,
                    "--seed", pp->seed, "--threads", pp->threads, "-o", pp->d_surg, "--force",
                    "-q"};
    const size_t nh = sizeof head / sizeof head[0];
    char **a = malloc((nh + 5 + 2 * p->n_resections) * sizeof *a);
    if (!a)
        return vbt__fail(pp->msg, VBT_ENOMEM, "out of memory");
    memcpy(a, head, sizeof head);
    size_t na = nh;
    if (pp->init[0]) {
        a[na++] = "--init-state";
        a[na++] = pp->init;
    }
    for (size_t r = 0; r < p->n_resections; r++) {
        a[na++] = "--resect";
        a[na++] = p->resections[r];
    }
    if (p->spare && *p->spare) {
        a[na++] = "--spare";
        a[na++] = p->spare;
    }
    a[na] = NULL;
    const char *in[4] = {p->connectome, pp->x0_npy, pp->k_npy, pp->tau_npy};
    const char *in_all[7] = {in[0], in[1], in[2], in[3], NULL, NULL, NULL};
    size_t ni = 4;
    if (p->resections_path)
        in_all[ni++] = p->resections_path;
    if (p->spare_path)
        in_all[ni++] = p->spare_path;
    int rc = step(pp, VBT_PIPELINE_SURGERY, a, in_all, pp->surg_csv, run_surgery);
    free(a);
    return rc;
}

/* Paths of the run, its settings as text, the output folders. */
static int prepare(prun *pp)
{
    const vbt_pipeline_opts *o = pp->o;
    if (!o->outdir || !*o->outdir || !o->fit.method || !o->fit.points ||
        !(o->target >= 0 && o->target <= 1))
        return vbt__fail(pp->msg, VBT_EINVAL,
                         "pipeline: outdir, fit.method, fit.points and a target in [0, 1] "
                         "are required");
    int k = snprintf(pp->out, sizeof pp->out, "%s", o->outdir);
    if (k < 0 || (size_t)k >= sizeof pp->out)
        return vbt__fail(pp->msg, VBT_EINVAL, "'%s': path too long", o->outdir);
    if (vbt_mkdir_parents(pp->out, pp->msg))
        return VBT_EIO;
    join(pp->stamps, sizeof pp->stamps, pp->out, ".stamps");
    mkdir(pp->stamps, 0777);
    join(pp->d_gain, sizeof pp->d_gain, pp->out, "gain");
    join(pp->d_feat, sizeof pp->d_feat, pp->out, "features");
    join(pp->d_fit, sizeof pp->d_fit, pp->out, "fit");
    join(pp->d_pred, sizeof pp->d_pred, pp->out, "predict");
    join(pp->d_surg, sizeof pp->d_surg, pp->out, "surgery");
    join(pp->d_draws, sizeof pp->d_draws, pp->out, "draws");
    mkdir(pp->d_gain, 0777);
    mkdir(pp->d_draws, 0777);
    /* A symbolic link in OUT would send the outputs elsewhere. */
    const char *const own[] = {pp->stamps, pp->d_gain, pp->d_draws};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        if (lstat(own[i], &st) == 0 && !S_ISDIR(st.st_mode))
            return vbt__fail(pp->msg, VBT_EIO, "'%s' is a symbolic link or not a folder, "
                             "refused", own[i]);
    }
    join(pp->gain_npy, sizeof pp->gain_npy, pp->d_gain, "gain.npy");
    join(pp->aligned, sizeof pp->aligned, pp->d_draws, "gain_aligned.npy");
    join(pp->feat_npy, sizeof pp->feat_npy, pp->d_feat, "features.npy");
    join(pp->x0_npy, sizeof pp->x0_npy, pp->d_draws, "x0.npy");
    join(pp->k_npy, sizeof pp->k_npy, pp->d_draws, "K.npy");
    join(pp->tau_npy, sizeof pp->tau_npy, pp->d_draws, "tau0.npy");
    join(pp->summary, sizeof pp->summary, pp->d_fit, "summary.json");
    join(pp->rec_csv, sizeof pp->rec_csv, pp->d_pred, "recruitment.csv");
    join(pp->surg_csv, sizeof pp->surg_csv, pp->d_surg, "surgery.csv");
    snprintf(pp->seed, sizeof pp->seed, "%llu", (unsigned long long)o->seed);
    snprintf(pp->threads, sizeof pp->threads, "%ld", o->threads);
    snprintf(pp->points, sizeof pp->points, "%zu", o->fit.points);
    snprintf(pp->target, sizeof pp->target, "%.15g", o->target);
    snprintf(pp->dt, sizeof pp->dt, "%.6g", o->fit.window / (double)o->fit.points);
    snprintf(pp->sz_index, sizeof pp->sz_index, "%zu", o->seizure);
    snprintf(pp->sz_onset, sizeof pp->sz_onset, "%.15g", o->onset_s);
    snprintf(pp->sz_offset, sizeof pp->sz_offset, "%.15g", o->offset_s);
    return VBT_OK;
}

/* The region lists name regions of the connectome: checked before any step
 * runs, so that a typo fails at once, naming the file and line. */
static int check_regions(const vbt_patient *p, vbt_msg *msg)
{
    if (!p->n_resections && !(p->spare && *p->spare) && !(p->hypothesis && *p->hypothesis))
        return VBT_OK;
    vbt_connectome *conn;
    int rc = vbt_connectome_load(&conn, p->connectome, msg);
    if (!rc)
        rc = vbt_patient_check_regions(p, conn, msg);
    vbt_connectome_free(conn);
    return rc;
}

/* Every step up to the fit (or the fit's part, pp->part); the refusals to
 * guess which seizure come before anything is written. */
static int run_through_fit(prun *pp)
{
    int rc;
    if ((rc = check_regions(pp->pat, pp->msg)) ||
        (rc = vbt_pipeline_check_seizure(pp->pat, pp->o, &pp->rec_idx, pp->msg)) ||
        (rc = prepare(pp)) || (rc = step_gain(pp)) || (rc = step_features(pp)) ||
        (rc = fit_prior(pp)))
        return rc;
    return step_fit(pp);
}

int vbt_pipeline_run(const vbt_patient *p, const vbt_pipeline_opts *o,
                     vbt_pipeline_result *res, vbt_msg *msg)
{
    vbt_pipeline_result scratch;
    if (!res)
        res = &scratch;
    memset(res, 0, sizeof *res);
    if (!p || !o)
        return vbt__fail(msg, VBT_EINVAL, "pipeline: no patient or no options");
    prun *pp = calloc(1, sizeof *pp);
    if (!pp)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    *pp = (prun){.pat = p, .o = o, .res = res, .msg = msg};
    int rc;
    if ((rc = run_through_fit(pp)))
        goto out;
    vbt__pipe_held_init(pp->prior, pp->init, sizeof pp->init);
    if ((rc = step_predict(pp)) || (rc = step_surgery(pp)))
        goto out;
    progress(pp, VBT_PIPELINE_REPORT, 0.0, "running");
    if ((rc = vbt__pipe_finish(p, pp->out, o->fit.method, &res->verdict, &res->has_verdict,
                               msg)) == VBT_OK)
        progress(pp, VBT_PIPELINE_REPORT, 1.0, "done");
out:
    free(pp);
    return rc;
}

/* The steps before the fit, then the fit step's part (pp->part). */
static int run_part(const vbt_patient *p, const vbt_pipeline_opts *o, int part, size_t chain,
                    size_t *n_chains, vbt_msg *msg)
{
    vbt_pipeline_result res;
    memset(&res, 0, sizeof res);
    if (!p || !o)
        return vbt__fail(msg, VBT_EINVAL, "pipeline: no patient or no options");
    prun *pp = calloc(1, sizeof *pp);
    if (!pp)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    *pp = (prun){.pat = p, .o = o, .res = &res, .msg = msg, .part = part, .chain = chain};
    int rc = run_through_fit(pp);
    if (n_chains)
        *n_chains = pp->n_chains;
    free(pp);
    return rc;
}

int vbt_pipeline_prepare_chains(const vbt_patient *p, const vbt_pipeline_opts *o,
                                size_t *n_chains, vbt_msg *msg)
{
    size_t scratch;
    return run_part(p, o, PART_PREPARE, 0, n_chains ? n_chains : &scratch, msg);
}

int vbt_pipeline_run_chain(const vbt_patient *p, const vbt_pipeline_opts *o, size_t chain,
                           vbt_msg *msg)
{
    return run_part(p, o, PART_CHAIN, chain, NULL, msg);
}
