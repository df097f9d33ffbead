/* seeg_features.c -- `vbt seeg features` as a library call
 * (vbt_seeg_features.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pipeline_internal.h"
#include "vbt_text.h"
#include "vbt_seeg_features.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The recording, the regions file and the sidecars that exist beside it. */
static int add_inputs(const vbt_seeg_features_job *j, cJSON *prov, vbt_msg *msg)
{
    const char *path = vbt_recording_path(j->rec);
    int rc = vbt__pipe_prov_add_input(prov, "recording", path, "", msg);
    const char *role, *comp;
    for (size_t i = 0; !rc && (comp = vbt_recording_companion(j->rec, i, &role)); i++)
        rc = vbt__pipe_prov_add_input(prov, role, comp, "", msg);
    if (!rc && j->regions)
        rc = vbt__pipe_prov_add_input(prov, "regions", j->regions, "", msg);
    const char *cut = strstr(path, "_ieeg.");
    if (rc || !cut || !j->sidecars)
        return rc;
    static const char *const sc[] = {"channels.tsv", "events.tsv", "ieeg.json"};
    for (size_t i = 0; i < 3 && !rc; i++) {
        char side[4200];
        struct stat st;
        snprintf(side, sizeof side, "%.*s_%s", (int)(cut - path), path, sc[i]);
        if (stat(side, &st) == 0)
            rc = vbt__pipe_prov_add_input(prov, sc[i], side, "", msg);
    }
    return rc;
}

static void add_seizure(cJSON *prov, vbt_recording *rec)
{
    double on, off;
    vbt_recording_seizure(rec, &on, &off);
    cJSON *s = cJSON_AddObjectToObject(prov, "seizure");
    if (isnan(on))
        cJSON_AddNullToObject(s, "onset_s");
    else
        cJSON_AddNumberToObject(s, "onset_s", on);
    if (isnan(off))
        cJSON_AddNullToObject(s, "offset_s");
    else
        cJSON_AddNumberToObject(s, "offset_s", off);
}

static int write_run_json(const vbt_seeg_features_job *j, const vbt_features_opts *o,
                          const vbt_features *f, double wall, vbt_outdir *od, vbt_msg *msg)
{
    cJSON *prov = vbt__pipe_prov_new("seeg", j->argc, j->argv);
    int rc = add_inputs(j, prov, msg);
    add_seizure(prov, j->rec);
    cJSON *fe = cJSON_AddObjectToObject(prov, "features");
    cJSON_AddStringToObject(fe, "montage", j->montage);
    cJSON_AddItemToObject(fe, "window_s",
                          cJSON_CreateDoubleArray((double[2]){f->t0_s, f->t1_s}, 2));
    cJSON_AddNumberToObject(fe, "fs_hz", vbt_montage_fs(j->m));
    cJSON_AddNumberToObject(fe, "highpass_hz", o->hp_hz);
    cJSON_AddNumberToObject(fe, "highpass_order", o->hp_order);
    cJSON_AddNumberToObject(fe, "moving_average_samples", (double)o->ma_samples);
    cJSON_AddNumberToObject(fe, "lowpass_hz", o->lp_hz);
    cJSON_AddNumberToObject(fe, "lowpass_order", o->lp_order);
    cJSON_AddNumberToObject(fe, "points", (double)o->n_points);
    cJSON_AddNumberToObject(fe, "top_k", (double)o->top_k);
    cJSON_AddStringToObject(fe, "filters", "Butterworth (bilinear, pre-warped), "
                                           "forward-backward with odd edge padding");
    cJSON *outs = cJSON_AddObjectToObject(prov, "outputs");
    cJSON_AddStringToObject(outs, "features", "features.npy");
    cJSON_AddItemToObject(outs, "shape",
                          cJSON_CreateDoubleArray((double[2]){(double)f->n_time,
                                                              (double)f->n_chan}, 2));
    cJSON_AddStringToObject(outs, "axes", "time, channel");
    cJSON_AddStringToObject(outs, "time_s", "features_time.npy");
    cJSON_AddStringToObject(outs, "channels", "channels.tsv");
    cJSON *timing = cJSON_AddObjectToObject(prov, "timing");
    cJSON_AddNumberToObject(timing, "wall_s", wall);
    char *text = rc ? NULL : cJSON_Print(prov), path[4200];
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

static int write_npy(vbt_outdir *od, const char *name, const double *d, size_t ndim,
                     const size_t *shape, vbt_msg *msg)
{
    char path[4200];
    if (vbt_outdir_file(od, name, path, sizeof path) ||
        vbt_npy_write(path, d, ndim, shape, 0, msg))
        return vbt__fail(msg, VBT_EIO, "cannot write %s", name);
    return VBT_OK;
}

int vbt_seeg_features_run(const vbt_seeg_features_job *j, vbt_outdir *od,
                          vbt_seeg_features_info *info, vbt_msg *msg)
{
    vbt_features_opts o = j->opts;
    vbt_features f = {0};
    double on, off, dur = vbt_recording_duration_s(j->rec);
    vbt_recording_seizure(j->rec, &on, &off);
    if (j->pre_scale > 0 && !isnan(on) && !isnan(off) && off > on) {
        o.pre_s = j->pre_scale * (off - on);
        o.post_s = j->post_scale * (off - on);
    }
    double t0 = isnan(on) ? 0.0 : on - o.pre_s;
    double t1 = isnan(on) ? dur : (isnan(off) ? dur : off + o.post_s);
    double tic = now_s();
    int rc = vbt_features_compute(j->m, t0, t1, &o, &f, msg);
    if (rc)
        return rc;
    double wall = now_s() - tic;
    size_t shape[2] = {f.n_time, f.n_chan};
    if ((rc = write_npy(od, "features.npy", f.data, 2, shape, msg)) ||
        (rc = write_npy(od, "features_time.npy", f.time_s, 1, shape, msg)))
        goto out;
    vbt_textbuf ch = {0};
    char path[4200];
    vbt_textbuf_printf(&ch, "index\tname\tpower\n");
    for (size_t c = 0; c < f.n_chan; c++)
        vbt_textbuf_printf(&ch, "%zu\t%s\t%.17g\n", c, vbt_montage_label(j->m, f.channel[c]),
                           f.power[c]);
    if (vbt_outdir_file(od, "channels.tsv", path, sizeof path)) {
        free(ch.s);
        rc = vbt__fail(msg, VBT_EINVAL, "output path of channels.tsv too long");
        goto out;
    }
    if ((rc = vbt_textbuf_write(&ch, path, 1, msg)) ||
        (rc = write_run_json(j, &o, &f, wall, od, msg)))
        goto out;
    if (info)
        *info = (vbt_seeg_features_info){f.n_chan, f.n_time, f.t0_s, f.t1_s, wall};
out:
    vbt_features_clear(&f);
    return rc;
}
