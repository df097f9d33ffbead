/* cmd_simulate.c -- `vbt simulate CONFIG.json -o OUTDIR`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cli.h"
#include "sim_job.h"

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
static int drain(sim_job *job, writers *w, vbt_msg *msg)
{
    for (size_t k = 0; k < job->n_mon; k++) {
        size_t idx = job->mon[k].index, count;
        const double *times;
        const double *d = vbt_sim_monitor_data(job->sim, idx, &count, &times);
        size_t per = vbt_sim_monitor_n_vars(job->sim, idx) * vbt_sim_n_regions(job->sim);
        if (count && (vbt_npy_writer_append(w->data[k], d, count * per, msg) ||
                      vbt_npy_writer_append(w->time[k], times, count, msg)))
            return -1;
        vbt_sim_monitor_clear(job->sim, idx);
    }
    return 0;
}

static int run(const cli_parsed *p)
{
    const char *config = p->args[0], *outdir = cli_str(p, "output");
    char err[1024];
    sim_job job;
    vbt_outdir *od = NULL;
    writers w = {{0}, {0}};
    vbt_msg msg;
    cJSON *prov = NULL;
    int rc = CLI_ERROR;

    openblas_set_num_threads((int)p->common.threads);
    sim_job_opts jo = {.seed_override = p->common.seed_given ? (long long)p->common.seed : -1,
                       .buffer_steps = CHUNK_STEPS};
    if (sim_job_load(&job, config, &jo, err, sizeof err)) {
        cli_error(p, "%s", err);
        sim_job_free(&job);
        return CLI_ERROR;
    }
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        sim_job_free(&job);
        return CLI_ERROR;
    }
    const size_t n = vbt_sim_n_regions(job.sim);
    for (size_t k = 0; k < job.n_mon; k++) {
        size_t idx = job.mon[k].index;
        char name[96], path[4096];
        size_t shape[3] = {(size_t)vbt_sim_monitor_samples_for(job.sim, idx, job.n_steps),
                           vbt_sim_monitor_n_vars(job.sim, idx), n};
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

    /* Provenance sidecar. */
    prov = cli_provenance_new(p);
    if (cli_provenance_add_input(prov, "config", config, err, sizeof err) ||
        cli_provenance_add_input(prov, "connectome", job.connectome_path, err, sizeof err) ||
        (job.history_path &&
         cli_provenance_add_input(prov, "history_npy", job.history_path, err, sizeof err))) {
        cli_error(p, "%s", err);
        goto fail;
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
        double shape[3] = {(double)vbt_sim_monitor_samples_for(job.sim, idx, job.n_steps),
                           (double)vbt_sim_monitor_n_vars(job.sim, idx), (double)n};
        cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray(shape, 3));
        cJSON_AddStringToObject(o, "axes", "time, variable, region");
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
    char *text = cJSON_Print(prov);
    char path[4096];
    if (!text || vbt_outdir_file(od, "run.json", path, sizeof path)) {
        free(text);
        cli_error(p, "out of memory");
        goto fail;
    }
    size_t tl = strlen(text);
    text[tl] = '\n';
    int st = vbt_file_write_atomic(path, text, tl + 1, 0, &msg);
    free(text);
    if (st)
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
        printf(" %s.npy %s_time.npy", job.mon[k].name, job.mon[k].name);
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
    sim_job_free(&job);
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
        "(k - 1/2) period."
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
