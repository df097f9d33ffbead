/* cmd_simulate.c -- `vbt simulate CONFIG.json -o OUTDIR`. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <edflib.h>

#include "cli.h"
#include "vbt.h"

/* Steps per chunk: monitors are drained to disk between chunks, which bounds
 * memory, lets the progress bar move and lets Ctrl-C stop cleanly. */
#define CHUNK_STEPS 4096

static const cli_argument args[] = {
    {"CONFIG", CLI_FILE_IN, "simulation configuration (JSON; schema in docs/simulate-config.md)"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUTDIR",
     .doc = "output directory (created; its parent must exist)", .required = 1},
};

static const char *const refs[] = {
    "Jirsa VK et al. (2014) On the nature of seizure dynamics. Brain 137:2210-2230.",
    "Proix T et al. (2014) Permittivity coupling across brain regions determines seizure "
    "recruitment in partial epilepsy. J Neurosci 34:15009-15021.",
    "Sanz Leon P et al. (2013) The Virtual Brain: a simulator of primate brain network "
    "dynamics. Front Neuroinform 7:10.",
    NULL,
};

typedef struct writers {
    vbt_npy_writer *data[16], *time[16];
} writers;

static void writers_abort(writers *w, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        vbt_npy_writer_abort(w->data[k]);
        vbt_npy_writer_abort(w->time[k]);
        w->data[k] = w->time[k] = NULL;
    }
}

/* Move the samples buffered by every monitor into its .npy files. */
static int drain(vbt_sim_config *job, writers *w, vbt_msg *msg)
{
    for (size_t k = 0; k < job->n_mon; k++) {
        size_t idx = job->mon[k].index, count;
        const double *times;
        const double *d = vbt_sim_monitor_data(job->sim, idx, &count, &times);
        size_t per = vbt_sim_monitor_n_vars(job->sim, idx) *
                     vbt_sim_monitor_n_channels(job->sim, idx);
        if (count && (vbt_npy_writer_append(w->data[k], d, count * per, msg) ||
                      vbt_npy_writer_append(w->time[k], times, count, msg)))
            return -1;
        vbt_sim_monitor_clear(job->sim, idx);
    }
    return 0;
}

/* ---- EDF+ copies of the seeg / eeg monitors --------------------------------
 * Model units are arbitrary: the file holds them times a power of ten,
 * `scale`, that brings the largest |value| into [1000, 10000) (so the 8-
 * character header bounds keep their digits), in the unit "au"; run.json and
 * the header's recording field give the scale.  Each signal's physical range
 * is its data range, widened by 0.1 % and rounded outwards to 8 characters;
 * 16-bit samples rounded to the nearest level, so a sample read back is
 * within half the resolution (physmax - physmin) / 65535.  Data
 * records hold a whole number of samples of about one second; when the
 * samples do not fill the last record it is padded with the last sample
 * (edf_padded_samples in run.json). */

typedef struct edf_info {
    double scale, record_s;
    size_t padded, spr;
} edf_info;

/* x rounded up (up = 1) or down to a decimal that fits 8 characters; *pass
 * gets the value to hand to EDFlib, a quarter of the last digit further from
 * zero, because EDFlib truncates when it prints the header (-9.69521 would
 * become -9.69520). */
static double edf_bound(double x, int up, double *pass)
{
    char buf[64];
    for (int d = 6; d >= 0; d--) {
        double f = pow(10.0, d), y = (up ? ceil(x * f) : floor(x * f)) / f;
        snprintf(buf, sizeof buf, "%.*f", d, y);
        if (strlen(buf) <= 8) {
            y = strtod(buf, NULL);
            *pass = y + copysign(0.25 / f, y);
            return y;
        }
    }
    *pass = up ? 99999999.0 : -9999999.0;
    return *pass;
}

/* EDF headers are ASCII: "A´1" -> "A'1", other non-ASCII characters -> '_'. */
static void edf_label(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && k + 1 < n; p++) {
        if (*p < 0x80) {
            out[k++] = (char)*p;
        } else if ((*p & 0xC0) == 0xC0) {
            out[k++] = (p[0] == 0xC2 && p[1] == 0xB4) ? '\'' : '_';
        }
    }
    out[k] = '\0';
}

/* Samples per data record: a whole number of samples in a whole number of
 * 10 us units, about one second, preferably dividing the sample count. */
static int edf_record(double period_ms, size_t count, size_t *spr, long *units)
{
    size_t k0 = 0;
    for (size_t k = (size_t)ceil(1.0 / period_ms - 1e-9); k <= 100000; k++) {
        double u = (double)k * period_ms * 100.0;
        if (k > 0 && fabs(u - nearbyint(u)) < 1e-6 * u) {
            k0 = k;
            break;
        }
    }
    if (!k0 || (double)k0 * period_ms > 60000.0)
        return -1;
    size_t mmax = (size_t)floor(1000.0 / ((double)k0 * period_ms) + 1e-9);
    if (mmax < 1)
        mmax = 1;
    size_t best = 0;
    if (count % k0 == 0)
        for (size_t m = mmax; m >= 1 && !best; m--)
            if ((count / k0) % m == 0)
                best = m;
    /* records shorter than 0.1 s only when they avoid padding anything but tiny files */
    if (!best || ((double)(best * k0) * period_ms < 100.0 && (double)count * period_ms > 1000.0))
        best = mmax;
    *spr = best * k0;
    *units = (long)nearbyint((double)*spr * period_ms * 100.0);
    return 0;
}

/* Write <stem>.edf from the closed <stem>.npy [T][nv][nch] (batch 1), through
 * a temporary name in the staging directory. */
static int write_edf(const vbt_sim_config *job, size_t k, const char *npy, const char *edf,
                     edf_info *info, char *err, size_t errlen)
{
    const vbt_sim *sim = job->sim;
    const size_t idx = job->mon[k].index, nv = vbt_sim_monitor_n_vars(sim, idx),
                 nch = vbt_sim_monitor_n_channels(sim, idx), nsig = nv * nch;
    const double period = vbt_sim_monitor_period(sim, idx);
    vbt_array a = {0};
    vbt_msg msg;
    double *lo = NULL, *hi = NULL, *lo_pass = NULL, *hi_pass = NULL;
    short *buf = NULL;
    char tmp[4200];
    int h = -1, rc = -1;

    if (nsig > EDFLIB_MAXSIGNALS) {
        snprintf(err, errlen, "monitor '%s': %zu signals, EDF+ (EDFlib) takes at most %d; set "
                 "\"edf\": false or record fewer variables", job->mon[k].name, nsig,
                 EDFLIB_MAXSIGNALS);
        return -1;
    }
    if (vbt_npy_read(npy, &a, &msg)) {
        snprintf(err, errlen, "%s", msg.text);
        return -1;
    }
    const size_t T = a.ndim == 3 ? a.shape[0] : 0;
    long units;
    if (T == 0 || a.shape[1] != nv || a.shape[2] != nch) {
        snprintf(err, errlen, "monitor '%s': no samples to write as EDF (duration shorter than "
                 "the period %g ms); set \"edf\": false", job->mon[k].name, period);
        goto out;
    }
    if (edf_record(period, T, &info->spr, &units)) {
        snprintf(err, errlen, "monitor '%s': period %g ms gives no EDF data record of a whole "
                 "number of samples and 10 us units up to 60 s; set \"edf\": false",
                 job->mon[k].name, period);
        goto out;
    }
    double amax = 0.0;
    for (size_t i = 0; i < a.size; i++) {
        if (!isfinite(a.data[i])) {
            snprintf(err, errlen, "monitor '%s': non-finite samples, no EDF written",
                     job->mon[k].name);
            goto out;
        }
        amax = fmax(amax, fabs(a.data[i]));
    }
    info->scale = 1.0;
    if (amax > 0.0) {
        int e = 3 - (int)floor(log10(amax));
        info->scale = pow(10.0, e);
        while (amax * info->scale >= 10000.0)
            info->scale /= 10.0;
        while (amax * info->scale < 1000.0)
            info->scale *= 10.0;
    }
    lo = malloc(nsig * sizeof *lo);
    hi = malloc(nsig * sizeof *hi);
    lo_pass = malloc(nsig * sizeof *lo_pass);
    hi_pass = malloc(nsig * sizeof *hi_pass);
    buf = malloc(info->spr * sizeof *buf);
    if (!lo || !hi || !lo_pass || !hi_pass || !buf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < nsig; s++) {
        double mn = HUGE_VAL, mx = -HUGE_VAL;
        for (size_t t = 0; t < T; t++) {
            double x = a.data[t * nsig + s] * info->scale;
            mn = fmin(mn, x);
            mx = fmax(mx, x);
        }
        double pad = 1e-3 * (mx - mn) + 1e-3;
        lo[s] = edf_bound(mn - pad, 0, &lo_pass[s]);
        hi[s] = edf_bound(mx + pad, 1, &hi_pass[s]);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", edf);
    h = edfopen_file_writeonly(tmp, EDFLIB_FILETYPE_EDFPLUS, (int)nsig);
    if (h < 0) {
        snprintf(err, errlen, "'%s.edf': EDFlib cannot open it for writing (error %d)",
                 job->mon[k].name, h);
        goto out;
    }
    char rec[80];
    snprintf(rec, sizeof rec, "au=model x%g", info->scale);     /* ~30 characters fit */
    int bad = edf_set_datarecord_duration(h, (int)units) || edf_set_patientname(h, "simulation") ||
              edf_set_patientcode(h, "X") || edf_set_equipment(h, "vbt") ||
              edf_set_recording_additional(h, rec) ||
              edf_set_startdatetime(h, 1985, 1, 1, 0, 0, 0);
    for (size_t s = 0; s < nsig && !bad; s++) {
        char lab[VBT_LABEL_MAX], full[VBT_LABEL_MAX + 32];
        edf_label(vbt_sim_monitor_channel(sim, idx, s % nch), lab, sizeof lab);
        if (nv > 1)
            snprintf(full, sizeof full, "%s#%zu", lab, s / nch);
        else
            snprintf(full, sizeof full, "%s", lab);
        full[16] = '\0';
        bad = edf_set_samplefrequency(h, (int)s, (int)info->spr) ||
              edf_set_physical_maximum(h, (int)s, hi_pass[s]) ||
              edf_set_physical_minimum(h, (int)s, lo_pass[s]) ||
              edf_set_digital_maximum(h, (int)s, 32767) ||
              edf_set_digital_minimum(h, (int)s, -32768) || edf_set_label(h, (int)s, full) ||
              edf_set_physical_dimension(h, (int)s, "au");
    }
    const size_t n_rec = (T + info->spr - 1) / info->spr;
    info->padded = n_rec * info->spr - T;
    info->record_s = (double)units * 1e-5;
    for (size_t r = 0; r < n_rec && !bad; r++)
        for (size_t s = 0; s < nsig && !bad; s++) {
            /* Our own rounding to the nearest level: EDFlib's physical
             * writer truncates and is off by up to 2 levels. */
            const double lsb = (hi[s] - lo[s]) / 65535.0;
            for (size_t i = 0; i < info->spr; i++) {
                size_t t = r * info->spr + i;
                double x = a.data[(t < T ? t : T - 1) * nsig + s] * info->scale;
                double d = nearbyint((x - lo[s]) / lsb) - 32768.0;
                buf[i] = (short)(d < -32768.0 ? -32768.0 : d > 32767.0 ? 32767.0 : d);
            }
            bad = edfwrite_digital_short_samples(h, buf) != 0;
        }
    int cst = edfclose_file(h);
    h = -1;
    if (bad || cst != 0) {
        snprintf(err, errlen, "'%s.edf': EDFlib failed to write the file", job->mon[k].name);
        remove(tmp);
        goto out;
    }
    /* The samples were rounded against lo, hi: the header must say so. */
    struct edf_hdr_struct *hd = calloc(1, sizeof *hd);
    int hbad = !hd || edfopen_file_readonly(tmp, hd, EDFLIB_DO_NOT_READ_ANNOTATIONS) != 0;
    for (size_t s = 0; s < nsig && !hbad; s++) {
        const double tol = 1e-9 * (hi[s] - lo[s]);
        hbad = fabs(hd->signalparam[s].phys_min - lo[s]) > tol ||
               fabs(hd->signalparam[s].phys_max - hi[s]) > tol;
    }
    if (hd && hd->handle >= 0 && hd->filetype >= 0)
        edfclose_file(hd->handle);
    free(hd);
    if (hbad) {
        snprintf(err, errlen, "'%s.edf': the header's physical ranges differ from those "
                 "written (EDFlib)", job->mon[k].name);
        remove(tmp);
        goto out;
    }
    if (rename(tmp, edf) != 0) {
        snprintf(err, errlen, "'%s.edf': cannot rename the temporary file into place: %s",
                 job->mon[k].name, strerror(errno));
        remove(tmp);
        goto out;
    }
    rc = 0;
out:
    free(lo);
    free(hi);
    free(lo_pass);
    free(hi_pass);
    free(buf);
    vbt_array_clear(&a);
    return rc;
}

static int run(const cli_parsed *p)
{
    const char *config = p->args[0], *outdir = cli_str(p, "output");
    char err[1024];
    vbt_sim_config job;
    vbt_outdir *od = NULL;
    writers w = {{0}, {0}};
    edf_info edfs[VBT_SIM_CONFIG_MAX_MONITORS];
    vbt_msg msg;
    cJSON *prov = NULL;
    int rc = CLI_ERROR;

    openblas_set_num_threads((int)p->common.threads);
    vbt_sim_config_opts jo;
    vbt_sim_config_opts_default(&jo);
    jo.seed_override = p->common.seed_given ? (long long)p->common.seed : -1;
    jo.buffer_steps = CHUNK_STEPS;
    if (vbt_sim_config_load(&job, config, &jo, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        vbt_sim_config_clear(&job);
        return CLI_ERROR;
    }
    const size_t n = vbt_sim_n_regions(job.sim);
    for (size_t k = 0; k < job.n_mon; k++) {
        size_t idx = job.mon[k].index;
        char name[96], path[4096];
        size_t shape[3] = {(size_t)vbt_sim_monitor_samples_for(job.sim, idx, job.n_steps),
                           vbt_sim_monitor_n_vars(job.sim, idx),
                           vbt_sim_monitor_n_channels(job.sim, idx)};
        snprintf(name, sizeof name, "%s.npy", job.mon[k].name);
        if (vbt_outdir_file(od, name, path, sizeof path) ||
            vbt_npy_writer_open(&w.data[k], path, 3, shape, 0, &msg))
            goto fail_msg;
        snprintf(name, sizeof name, "%s_time.npy", job.mon[k].name);
        if (vbt_outdir_file(od, name, path, sizeof path) ||
            vbt_npy_writer_open(&w.time[k], path, 1, shape, 0, &msg))
            goto fail_msg;
    }

    cli_install_signal_handlers();
    cli_progress pr;
    cli_progress_begin(&pr, p, "simulate");
    double t0 = cli_now();
    for (uint64_t done = 0; done < job.n_steps;) {
        uint64_t chunk = job.n_steps - done < CHUNK_STEPS ? job.n_steps - done : CHUNK_STEPS;
        if (vbt_sim_run(job.sim, chunk)) {
            cli_progress_end(&pr);
            cli_error(p, "'%s': %s", config, vbt_sim_errmsg(job.sim));
            goto fail;
        }
        done += chunk;
        if (drain(&job, &w, &msg))
            goto fail_msg;
        if (cli_interrupted) {
            cli_progress_end(&pr);
            cli_error(p, "interrupted at t = %g ms; nothing written", vbt_sim_time(job.sim));
            goto fail;
        }
        char extra[64];
        snprintf(extra, sizeof extra, "t = %.0f ms", vbt_sim_time(job.sim));
        cli_progress_update(&pr, (double)done / (double)job.n_steps, extra);
    }
    double wall = cli_now() - t0;
    cli_progress_end(&pr);
    for (size_t k = 0; k < job.n_mon; k++) {
        int st = vbt_npy_writer_close(w.data[k], &msg);
        w.data[k] = NULL;
        if (st)
            goto fail_msg;
        st = vbt_npy_writer_close(w.time[k], &msg);
        w.time[k] = NULL;
        if (st)
            goto fail_msg;
    }
    for (size_t k = 0; k < job.n_mon; k++) {
        char name[96], npy[4096], edf[4096];
        if (!job.mon[k].edf)
            continue;
        snprintf(name, sizeof name, "%s.npy", job.mon[k].name);
        vbt_outdir_file(od, name, npy, sizeof npy);
        snprintf(name, sizeof name, "%s.edf", job.mon[k].name);
        if (vbt_outdir_file(od, name, edf, sizeof edf) ||
            write_edf(&job, k, npy, edf, &edfs[k], err, sizeof err)) {
            cli_error(p, "'%s': %s", config, err);
            goto fail;
        }
    }

    /* Provenance sidecar. */
    prov = cli_provenance_new(p);
    if (cli_provenance_add_input(prov, "config", config, err, sizeof err) ||
        cli_provenance_add_input(prov, "connectome", job.connectome_path, err, sizeof err) ||
        (job.history_path &&
         cli_provenance_add_input(prov, "history_npy", job.history_path, err, sizeof err))) {
        cli_error(p, "%s", err);
        goto fail;
    }
    for (size_t k = 0; k < job.n_mon; k++) {
        char role[96];
        snprintf(role, sizeof role, "%s.sensors", job.mon[k].name);
        if (job.mon[k].sensors_path &&
            cli_provenance_add_input(prov, role, job.mon[k].sensors_path, err, sizeof err)) {
            cli_error(p, "%s", err);
            goto fail;
        }
        snprintf(role, sizeof role, "%s.gain_npy", job.mon[k].name);
        if (job.mon[k].gain_path &&
            cli_provenance_add_input(prov, role, job.mon[k].gain_path, err, sizeof err)) {
            cli_error(p, "%s", err);
            goto fail;
        }
    }
    cJSON_AddNumberToObject(prov, "seed", (double)job.seed);
    cJSON_AddItemToObject(prov, "resolved_config", job.resolved);
    job.resolved = NULL;
    cJSON *sim = cJSON_AddObjectToObject(prov, "simulation");
    cJSON_AddNumberToObject(sim, "n_regions", (double)n);
    cJSON_AddNumberToObject(sim, "n_steps", (double)job.n_steps);
    cJSON_AddNumberToObject(sim, "history_horizon_steps", (double)vbt_sim_horizon(job.sim));
    cJSON_AddBoolToObject(sim, "conduction_delays", vbt_sim_has_delays(job.sim));
    cJSON *labels = cJSON_AddArrayToObject(sim, "region_labels");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(job.conn->labels[i]));
    cJSON *outs = cJSON_AddObjectToObject(prov, "outputs");
    for (size_t k = 0; k < job.n_mon; k++) {
        size_t idx = job.mon[k].index;
        char name[96];
        cJSON *o = cJSON_AddObjectToObject(outs, job.mon[k].name);
        snprintf(name, sizeof name, "%s.npy", job.mon[k].name);
        cJSON_AddStringToObject(o, "data", name);
        snprintf(name, sizeof name, "%s_time.npy", job.mon[k].name);
        cJSON_AddStringToObject(o, "time_ms", name);
        const size_t nch = vbt_sim_monitor_n_channels(job.sim, idx);
        const int proj = vbt_sim_monitor_type(job.sim, idx)->projects;
        double shape[3] = {(double)vbt_sim_monitor_samples_for(job.sim, idx, job.n_steps),
                           (double)vbt_sim_monitor_n_vars(job.sim, idx), (double)nch};
        cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray(shape, 3));
        cJSON_AddStringToObject(o, "axes", proj ? "time, variable, channel"
                                                : "time, variable, region");
        if (proj) {
            cJSON *ch = cJSON_AddArrayToObject(o, "channels");
            for (size_t c = 0; c < nch; c++)
                cJSON_AddItemToArray(ch, cJSON_CreateString(vbt_sim_monitor_channel(job.sim,
                                                                                    idx, c)));
        }
        if (job.mon[k].edf) {
            snprintf(name, sizeof name, "%s.edf", job.mon[k].name);
            cJSON *e = cJSON_AddObjectToObject(o, "edf");
            cJSON_AddStringToObject(e, "file", name);
            cJSON_AddStringToObject(e, "unit", "au");
            cJSON_AddNumberToObject(e, "scale", edfs[k].scale);
            cJSON_AddNumberToObject(e, "record_s", edfs[k].record_s);
            cJSON_AddNumberToObject(e, "samples_per_record", (double)edfs[k].spr);
            cJSON_AddNumberToObject(e, "padded_samples", (double)edfs[k].padded);
        }
        cJSON *vars = cJSON_AddArrayToObject(o, "variables");
        for (size_t v = 0; v < vbt_sim_monitor_n_vars(job.sim, idx); v++)
            cJSON_AddItemToArray(vars, cJSON_CreateString(vbt_sim_monitor_var(job.sim, idx, v)));
        cJSON_AddNumberToObject(o, "period_ms", vbt_sim_monitor_period(job.sim, idx));
    }
    cJSON *timing = cJSON_AddObjectToObject(prov, "timing");
    cJSON_AddNumberToObject(timing, "wall_s", wall);
    cJSON_AddNumberToObject(timing, "region_steps_per_s",
                            wall > 0 ? (double)job.n_steps * (double)n / wall : 0.0);
    cJSON_AddNumberToObject(timing, "threads", (double)p->common.threads);
    if (cli_write_json(od, "run.json", prov, &msg))
        goto fail_msg;
    if (vbt_outdir_commit(od, &msg)) {
        od = NULL;
        goto fail_msg;
    }
    od = NULL;
    cli_info(p, "simulated %g ms of %zu regions (%llu steps) in %.2f s, %.2f M region-steps/s",
             job.duration_ms, n, (unsigned long long)job.n_steps, wall,
             wall > 0 ? (double)job.n_steps * (double)n / wall / 1e6 : 0.0);
    printf("outputs in %s:", outdir);
    for (size_t k = 0; k < job.n_mon; k++)
        printf(" %s.npy %s_time.npy%s%s%s", job.mon[k].name, job.mon[k].name,
               job.mon[k].edf ? " " : "", job.mon[k].edf ? job.mon[k].name : "",
               job.mon[k].edf ? ".edf" : "");
    printf(" run.json\n");
    rc = CLI_OK;
    goto out;

fail_msg:
    cli_error(p, "%s", msg.text);
fail:
    writers_abort(&w, job.n_mon);
    vbt_outdir_abort(od);
    od = NULL;
out:
    cJSON_Delete(prov);
    vbt_sim_config_clear(&job);
    return rc;
}

const cli_command cli_cmd_simulate = {
    .name = "simulate",
    .synopsis = "run a network simulation described by a JSON configuration",
    .description =
        "Loads the connectome, plans the simulator (integer conduction delays, history "
        "buffer, coupling), runs it for duration_ms and writes one pair of files per "
        "monitor: OUTDIR/<name>.npy (float64, [time, variable, region]) and "
        "OUTDIR/<name>_time.npy (ms), plus OUTDIR/run.json with the resolved "
        "configuration, vbt version, seed, SHA-256 of every input and the wall time."
        "\n\n"
        "Sampling starts at t = 0: raw sample i is the state after step i+1 at "
        "t = (i+1) dt; subsample takes the state at t = k*period; temporal_average "
        "takes the mean of the period/dt states in ((k-1) period, k period], stamped at "
        "(k - 1/2) period.  The observation models: seeg and eeg project a variable "
        "through a sensors x regions gain ([time, variable, channel], boxcar mean stamped at "
        "k*period) and also write OUTDIR/<name>.edf (EDF+); bold is TVB's HRF-kernel BOLD or "
        "the Balloon-Windkessel model (docs/simulate-config.md)."
        "\n\n"
        "Outputs appear all at once: they are written into a hidden staging directory "
        "beside OUTDIR and renamed into place when complete, so a failure or Ctrl-C "
        "leaves nothing behind.",
    .args = args,
    .n_args = 1,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = refs,
    .run = run,
};
