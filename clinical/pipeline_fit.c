/* pipeline_fit.c -- the pipeline's fit step: the Virtual Epileptic Patient
 * fitted by the fit object (fitting/vbt_fit.h) with the pipeline's preset,
 * its output files as `vbt fit` writes them, and run.json. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline_internal.h"
#include "vbt_fit.h"

typedef struct fit_ctx {
    const vbt_pipeline_opts *o;
    double fraction;
    int stop_at_nuts;   /* vbt__pipe_fit_prepare: stop when sampling starts */
    int stopped;        /* ... and it did */
} fit_ctx;

static int on_progress(void *ctx, const vbt_fit_progress *fp)
{
    fit_ctx *c = ctx;
    if (c->stop_at_nuts && !strcmp(fp->stage, "nuts")) {
        c->stopped = 1;
        return 1;
    }
    if (fp->fraction >= 0 && fp->fraction <= 1)
        c->fraction = fp->fraction;
    if (c->o->progress && strcmp(fp->stage, "done"))
        c->o->progress(c->o->progress_ctx, VBT_PIPELINE_FIT, c->fraction, fp->stage);
    return c->o->cancel && *c->o->cancel;
}

static void on_log(void *ctx, int level, const char *text)
{
    fit_ctx *c = ctx;
    (void)level; /* warnings begin with "WARNING: " */
    if (c->o->progress)
        c->o->progress(c->o->progress_ctx, VBT_PIPELINE_FIT, c->fraction, text);
}

/* The connectome, gain [sensor, region] and feature [time, sensor]; the
 * messages are vbt fit's. */
static int load(const vbt__pipe_fit_job *j, vbt_connectome **conn, vbt_array *gain,
                vbt_array *data, vbt_vep_priors *pr, vbt_msg *msg)
{
    int rc;
    if ((rc = vbt_connectome_load(conn, j->connectome, msg)) ||
        (rc = vbt_npy_read(j->gain, gain, msg)) || (rc = vbt_npy_read(j->data, data, msg)))
        return rc;
    size_t nr = (*conn)->n;
    if (gain->ndim != 2 || gain->shape[1] != nr)
        return vbt__fail(msg, VBT_EINVAL, "'%s': gain must be [sensor, region] with %zu "
                         "regions (the connectome's), got %zu dimension(s)%s", j->gain, nr,
                         gain->ndim, gain->ndim == 2 ? " of the wrong width" : "");
    if (data->ndim != 2 || data->shape[1] != gain->shape[0])
        return vbt__fail(msg, VBT_EINVAL, "'%s': data must be [time, sensor] with %zu sensors "
                         "(the gain's rows)", j->data, gain->shape[0]);
    vbt_fit_priors_preset(pr); /* the prior file overrides */
    return vbt_vep_priors_load_json(pr, j->prior, (const char (*)[VBT_LABEL_MAX])(*conn)->labels,
                                    nr, msg);
}

/* A connectome folder's files by name with their SHA-256, as vbt fit records it. */
static int add_dir_input(cJSON *prov, const char *role, const char *path, vbt_msg *msg)
{
    cJSON *item = cJSON_CreateObject(), *files = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "path", path);
    cJSON_AddItemToObject(item, "files", files);
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(prov, "inputs"), role, item);
    DIR *d = opendir(path);
    if (!d)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot read the directory", path);
    struct dirent *e;
    int rc = VBT_OK;
    while (!rc && (e = readdir(d))) {
        char fp[4400], hex[65];
        struct stat sb;
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        if (e->d_name[0] == '.' || stat(fp, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (!(rc = vbt_sha256_file(fp, hex, msg)))
            cJSON_AddStringToObject(files, e->d_name, hex);
    }
    closedir(d);
    return rc;
}

/* run.json "options": the resolved options under vbt fit's option names. */
static void add_options(cJSON *prov, const vbt_fit_opts *o)
{
    static const char *const schemes[] = {"euler", "heun", "rk4"};
    static const char *const obs[] = {"linear", "log", "power", "seizure"};
    static const char *const dnorm[] = {"none", "power", "excess", "baseline"};
    static const char *const gnorm[] = {"none", "max", "power", "power-abs"};
    static const char *const metrics[] = {"diag", "dense", "laplace"};
    static const char *const inits[] = {"map", "modes", "prior"};
    static const char *const minits[] = {"data", "prior"};
    cJSON *ro = cJSON_AddObjectToObject(prov, "options");
    cJSON_AddStringToObject(ro, "method", o->sampler->name);
    cJSON_AddStringToObject(ro, "advi-family",
                            o->advi_family == VBT_ADVI_FULLRANK ? "fullrank" : "meanfield");
    cJSON_AddNumberToObject(ro, "particles", (double)o->particles);
    cJSON_AddNumberToObject(ro, "smc-ess", o->smc_ess);
    cJSON_AddNumberToObject(ro, "smc-moves", (double)o->smc_moves);
    cJSON_AddNumberToObject(ro, "leapfrog", (double)o->leapfrog);
    cJSON_AddNumberToObject(ro, "smc-runs", (double)o->smc_runs);
    cJSON_AddNumberToObject(ro, "chains", (double)o->chains);
    cJSON_AddNumberToObject(ro, "warmup", (double)o->warmup);
    cJSON_AddNumberToObject(ro, "draws", (double)o->draws);
    cJSON_AddNumberToObject(ro, "max-depth", (double)o->max_depth);
    cJSON_AddNumberToObject(ro, "adapt-delta", o->adapt_delta);
    cJSON_AddStringToObject(ro, "metric", metrics[o->metric]);
    cJSON_AddNumberToObject(ro, "jumps", (double)o->jumps);
    cJSON_AddStringToObject(ro, "init", inits[o->init]);
    cJSON_AddNumberToObject(ro, "starts", (double)o->starts);
    cJSON_AddStringToObject(ro, "map-init", minits[o->map_init]);
    cJSON_AddNumberToObject(ro, "map-iter", (double)o->map_iter);
    cJSON_AddNumberToObject(ro, "polish", (double)o->polish);
    cJSON_AddNumberToObject(ro, "hop-rounds", (double)o->hop_rounds);
    cJSON_AddNumberToObject(ro, "hops", (double)o->hops);
    cJSON_AddStringToObject(ro, "scheme", schemes[o->scheme]);
    cJSON_AddNumberToObject(ro, "dt", o->dt);
    cJSON_AddNumberToObject(ro, "steps", (double)o->steps);
    cJSON_AddStringToObject(ro, "obs", obs[o->obs]);
    cJSON_AddNumberToObject(ro, "seizure-x", o->seizure_x);
    cJSON_AddNumberToObject(ro, "seizure-width", o->seizure_width);
    cJSON_AddStringToObject(ro, "data-norm", dnorm[o->data_norm]);
    cJSON_AddNumberToObject(ro, "baseline", (double)o->baseline);
    cJSON_AddStringToObject(ro, "gain-norm", gnorm[o->gain_norm]);
    cJSON_AddStringToObject(ro, "normalize", vbt_normalize_name(o->normalize));
    cJSON_AddNumberToObject(ro, "threads", (double)o->threads);
}

static int write_run_json(const vbt__pipe_fit_job *j, vbt_fit *f, vbt_outdir *od,
                          vbt_msg *msg)
{
    const vbt_fit_opts *o = vbt_fit_options(f);
    cJSON *prov = vbt__pipe_prov_new("fit", j->argc, j->argv);
    const char *roles[4][2] = {{"connectome", j->connectome}, {"gain", j->gain},
                               {"data", j->data}, {"prior", j->prior}};
    int rc = VBT_OK;
    for (int k = 0; k < 4 && !rc; k++) {
        struct stat sb;
        if (stat(roles[k][1], &sb) == 0 && S_ISDIR(sb.st_mode))
            rc = add_dir_input(prov, roles[k][0], roles[k][1], msg);
        else
            rc = vbt__pipe_prov_add_input(prov, roles[k][0], roles[k][1], "", msg);
    }
    cJSON_AddNumberToObject(prov, "seed", (double)o->seed);
    add_options(prov, o);
    /* model, timing, outputs: as the library describes the fit (as vbt fit's) */
    char *rj = rc ? NULL : vbt_fit_run_json(f);
    cJSON *r = rj ? cJSON_Parse(rj) : NULL;
    free(rj);
    if (!rc && !r)
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory describing the fit");
    while (r && r->child) {
        cJSON *item = cJSON_DetachItemViaPointer(r, r->child);
        cJSON_AddItemToObject(prov, item->string, item);
    }
    cJSON_Delete(r);
    char *text = rc ? NULL : cJSON_Print(prov), path[4096];
    if (!rc && !text)
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory writing run.json");
    if (!rc && vbt_outdir_file(od, "run.json", path, sizeof path))
        rc = vbt__fail(msg, VBT_EINVAL, "output path of run.json too long");
    if (!rc) {
        size_t len = strlen(text);
        text[len] = '\n'; /* over the NUL: written by length */
        rc = vbt_file_write_atomic(path, text, len + 1, 1, msg);
    }
    free(text);
    cJSON_Delete(prov);
    return rc;
}

/* NUTS saves its run to OUTDIR.checkpoint every this many iterations of
 * each chain (and when stopped), so that a rerun after a kill resumes it. */
#define CHECKPOINT_EVERY 50

/* Arm the checkpoint (its record: the step's stamp, the arguments and the
 * inputs' SHA-256) and resume a checkpoint left by an interrupted run of the
 * same step; one left by other settings or inputs is removed.  *ck gets the
 * path. */
static int arm_checkpoint(const vbt__pipe_fit_job *j, vbt_fit *f, char *ck, size_t n,
                          vbt_msg *msg)
{
    const char *rec = j->stamp ? j->stamp : "";
    size_t rec_len = strlen(rec), old_len = 0;
    void *old = NULL;
    struct stat sb;
    vbt_msg why;
    int rc;
    if (vbt_fit_checkpoint_path(j->outdir, ck, n))
        return vbt__fail(msg, VBT_EINVAL, "fit: checkpoint path too long");
    if ((rc = vbt_fit_set_checkpoint(f, ck, CHECKPOINT_EVERY, rec, rec_len, NULL, NULL, msg)))
        return rc;
    if (stat(ck, &sb) != 0)
        return VBT_OK;
    int same = vbt_fit_checkpoint_record(ck, &old, &old_len, &why) == VBT_OK &&
               old_len == rec_len && !memcmp(old, rec, rec_len);
    free(old);
    if (same && vbt_fit_resume(f, ck, &why) == VBT_OK) {
        if (j->o->progress)
            j->o->progress(j->o->progress_ctx, VBT_PIPELINE_FIT, 0.0,
                           "resuming the interrupted fit from its checkpoint");
        return VBT_OK;
    }
    if (unlink(ck) != 0 && errno != ENOENT)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot remove the stale checkpoint: %s",
                         vbt_path_public(ck), strerror(errno));
    return VBT_OK;
}

/* ---- the chains apart (vbt_pipeline_prepare_chains, vbt_pipeline_run_chain) ---- */

/* OUTDIR.chainK.checkpoint (K 1-based): chain K-1 run alone. */
static int chain_path(const vbt__pipe_fit_job *j, size_t chain, char *buf, size_t n,
                      vbt_msg *msg)
{
    size_t len = strlen(j->outdir);
    while (len > 1 && j->outdir[len - 1] == '/')
        len--;
    int k = snprintf(buf, n, "%.*s.chain%zu.checkpoint", (int)len, j->outdir, chain + 1);
    if (k < 0 || (size_t)k >= n)
        return vbt__fail(msg, VBT_EINVAL, "fit: checkpoint path too long");
    return VBT_OK;
}

/* 1 when the checkpoint `path` exists and records this step's stamp. */
static int stamp_matches(const vbt__pipe_fit_job *j, const char *path)
{
    const char *rec = j->stamp ? j->stamp : "";
    size_t rec_len = strlen(rec), old_len = 0;
    void *old = NULL;
    struct stat sb;
    vbt_msg why;
    if (stat(path, &sb) != 0)
        return 0;
    int same = vbt_fit_checkpoint_record(path, &old, &old_len, &why) == VBT_OK &&
               old_len == rec_len && !memcmp(old, rec, rec_len);
    free(old);
    return same;
}

/* When every chain was run apart and has ended (files of this step's
 * stamp), their files merged into the fit's checkpoint, which the run then
 * resumes; otherwise nothing (the fit runs, or resumes, in one piece). */
static int merge_chains(const vbt__pipe_fit_job *j, size_t n, vbt_msg *msg)
{
    char paths[VBT_FIT_MAX_CHAINS][4200], ck[4200];
    const char *pp[VBT_FIT_MAX_CHAINS];
    int rc;
    if (n == 0 || n > VBT_FIT_MAX_CHAINS)
        return VBT_OK;
    for (size_t c = 0; c < n; c++) {
        size_t it = 0, total = 1;
        vbt_msg why;
        if ((rc = chain_path(j, c, paths[c], sizeof paths[c], msg)))
            return rc;
        if (!stamp_matches(j, paths[c]) ||
            vbt_fit_checkpoint_chain(paths[c], c, &it, &total, &why) || it != total)
            return VBT_OK;
        pp[c] = paths[c];
    }
    if (vbt_fit_checkpoint_path(j->outdir, ck, sizeof ck))
        return vbt__fail(msg, VBT_EINVAL, "fit: checkpoint path too long");
    if ((rc = vbt_fit_merge_chains(pp, n, ck, msg)))
        return rc;
    if (j->o->progress)
        j->o->progress(j->o->progress_ctx, VBT_PIPELINE_FIT, 0.0,
                       "merged the chains run apart");
    return VBT_OK;
}

/* The chains' files removed once the fit's outputs are committed. */
static int remove_chain_files(const vbt__pipe_fit_job *j, size_t n, vbt_msg *msg)
{
    char p[4200];
    for (size_t c = 0; c < n; c++) {
        int rc = chain_path(j, c, p, sizeof p, msg);
        if (rc)
            return rc;
        if (unlink(p) != 0 && errno != ENOENT)
            return vbt__fail(msg, VBT_EIO, "'%s': cannot remove the checkpoint: %s",
                             vbt_path_public(p), strerror(errno));
    }
    return VBT_OK;
}

/* The fit set up (inputs loaded, options of the preset) with the step's
 * progress and log. */
static int fit_setup(const vbt__pipe_fit_job *j, fit_ctx *ctx, vbt_connectome **conn,
                     vbt_array *gain, vbt_array *data, vbt_fit **f, vbt_msg *msg)
{
    vbt_vep_priors pr;
    vbt_fit_opts fo;
    int rc;
    if ((rc = vbt_vep_pipeline_preset_fit_opts(&j->o->fit, &fo, msg)))
        return rc;
    fo.seed = j->o->seed;
    fo.threads = (size_t)j->o->threads;
    if ((rc = load(j, conn, gain, data, &pr, msg)) ||
        (rc = vbt_fit_alloc(f, *conn, gain, data, &pr, &fo, msg)))
        return rc;
    vbt_fit_set_log(*f, on_log, ctx);
    vbt_fit_set_progress(*f, on_progress, ctx);
    return VBT_OK;
}

int vbt__pipe_fit_prepare(const vbt__pipe_fit_job *j, size_t *n_chains, vbt_msg *msg)
{
    char ck[4200];
    vbt_connectome *conn = NULL;
    vbt_array gain = {0}, data = {0};
    vbt_fit *f = NULL;
    fit_ctx ctx = {.o = j->o, .stop_at_nuts = 1};
    vbt_fit_opts fo;
    int rc;
    *n_chains = 0;
    if ((rc = vbt_vep_pipeline_preset_fit_opts(&j->o->fit, &fo, msg)))
        return rc;
    if (strcmp(fo.sampler->name, "nuts"))
        return VBT_OK; /* no chains: the fit runs in one piece */
    if (vbt_fit_checkpoint_path(j->outdir, ck, sizeof ck))
        return vbt__fail(msg, VBT_EINVAL, "fit: checkpoint path too long");
    if (stamp_matches(j, ck)) {
        *n_chains = fo.chains; /* prepared before */
        return VBT_OK;
    }
    if ((rc = fit_setup(j, &ctx, &conn, &gain, &data, &f, msg)) ||
        (rc = arm_checkpoint(j, f, ck, sizeof ck, msg)))
        goto out;
    rc = vbt_fit_run(f, msg);
    if (rc && ctx.stopped && stamp_matches(j, ck)) {
        rc = VBT_OK; /* stopped as sampling started, as asked */
        *n_chains = vbt_fit_n_chains(f);
    } else if (!rc) {
        rc = vbt__fail(msg, VBT_EINVAL, "fit: the run ended without sampling");
    }
out:
    vbt_fit_free(f);
    vbt_connectome_free(conn);
    vbt_array_clear(&gain);
    vbt_array_clear(&data);
    return rc;
}

int vbt__pipe_fit_chain(const vbt__pipe_fit_job *j, size_t chain, vbt_msg *msg)
{
    char ck[4200], cf[4200];
    vbt_connectome *conn = NULL;
    vbt_array gain = {0}, data = {0};
    vbt_fit *f = NULL;
    fit_ctx ctx = {.o = j->o};
    const char *rec = j->stamp ? j->stamp : "";
    const char *from;
    int rc;
    if (vbt_fit_checkpoint_path(j->outdir, ck, sizeof ck) ||
        (rc = chain_path(j, chain, cf, sizeof cf, msg)))
        return vbt__fail(msg, VBT_EINVAL, "fit: checkpoint path too long");
    if (stamp_matches(j, cf)) {
        size_t it = 0, total = 1;
        if ((rc = vbt_fit_checkpoint_chain(cf, chain, &it, &total, msg)))
            return rc;
        if (it == total)
            return VBT_OK; /* this chain has ended */
        from = cf;         /* resumed after a kill */
    } else if (stamp_matches(j, ck)) {
        from = ck;
    } else {
        return vbt__fail(msg, VBT_EINVAL, "fit: no MAP stage to run chain %zu from "
                         "(vbt_pipeline_prepare_chains first)", chain + 1);
    }
    if ((rc = fit_setup(j, &ctx, &conn, &gain, &data, &f, msg)) ||
        (rc = vbt_fit_set_checkpoint(f, cf, CHECKPOINT_EVERY, rec, strlen(rec), NULL, NULL,
                                     msg)) ||
        (rc = vbt_fit_resume(f, from, msg)))
        goto out;
    rc = vbt_fit_run_chain(f, chain, cf, msg);
out:
    vbt_fit_free(f);
    vbt_connectome_free(conn);
    vbt_array_clear(&gain);
    vbt_array_clear(&data);
    return rc;
}

int vbt__pipe_fit(const vbt__pipe_fit_job *j, vbt_msg *msg)
{
    char ck[4200];
    vbt_connectome *conn = NULL;
    vbt_array gain = {0}, data = {0};
    vbt_fit *f = NULL;
    vbt_outdir *od = NULL;
    fit_ctx ctx = {.o = j->o};
    int rc;
    if ((rc = fit_setup(j, &ctx, &conn, &gain, &data, &f, msg)) ||
        (rc = merge_chains(j, vbt_fit_n_chains(f), msg)) ||
        (rc = arm_checkpoint(j, f, ck, sizeof ck, msg)) || (rc = vbt_fit_run(f, msg)) ||
        (rc = vbt_outdir_begin(&od, j->outdir, 1, msg)) || (rc = vbt_fit_write(f, od, msg)) ||
        (rc = write_run_json(j, f, od, msg)))
        goto out;
    rc = vbt_outdir_commit(od, msg);
    od = NULL;
    if (!rc && unlink(ck) != 0 && errno != ENOENT)
        rc = vbt__fail(msg, VBT_EIO, "'%s': cannot remove the checkpoint: %s",
                       vbt_path_public(ck), strerror(errno));
    if (!rc)
        rc = remove_chain_files(j, vbt_fit_n_chains(f), msg);
out:
    vbt_outdir_abort(od);
    vbt_fit_free(f);
    vbt_connectome_free(conn);
    vbt_array_clear(&gain);
    vbt_array_clear(&data);
    return rc;
}
