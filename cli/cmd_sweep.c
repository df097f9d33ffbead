/* cmd_sweep.c -- `vbt sweep CONFIG.json -o OUTDIR`: many simulations that
 * differ in parameters, run in batches side by side and on threads, each
 * reduced to per-region summaries written as one table.
 *
 * Every simulation k draws its noise from stream k of the seed and runs in
 * a batch of the same size, so its numbers do not depend on the number of
 * threads or its position in a batch. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "cli.h"
#include "vbt.h"

#define CHUNK_STEPS 2048

static const cli_argument args[] = {
    {"CONFIG", CLI_FILE_IN,
     "a `vbt simulate` configuration with a \"sweep\" section (docs/sweep.md)"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUTDIR",
     .doc = "output directory (created; its parent must exist)", .required = 1},
};

typedef struct sweep {
    vbt_sim_config_opts jo;
    const char *config;
    vbt_sweep_plan plan;        /* the "sweep" section, planned */
    double *table;              /* n_sims * n_sum * n_regions */
    char err[1024];
    atomic_size_t next_batch, done_sims;
    atomic_int failed;
    pthread_mutex_t err_lock;
} sweep;

/* ---- running ---------------------------------------------------------------- */

static void worker_fail(sweep *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void worker_fail(sweep *sw, const char *fmt, ...)
{
    pthread_mutex_lock(&sw->err_lock);
    if (!atomic_load(&sw->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sw->err, sizeof sw->err, fmt, ap);
        va_end(ap);
        atomic_store(&sw->failed, 1);
    }
    pthread_mutex_unlock(&sw->err_lock);
}

static void *worker(void *arg)
{
    sweep *sw = arg;
    vbt_sim_config job;
    vbt_msg msg;
    vbt_sim_config_opts jo = sw->jo;
    jo.batch = sw->plan.batch;
    if (vbt_sim_config_load(&job, sw->config, &jo, &msg)) {
        worker_fail(sw, "%s", msg.text);
        return NULL;
    }
    const size_t n = sw->plan.n_regions, B = sw->plan.batch, L = n * B;
    vbt_monitor_spec ms = {.type = sw->plan.mon_type, .period_ms = sw->plan.mon_period,
                           .n_vars = sw->plan.n_vars, .vars = (const char *const *)sw->plan.vars, .buffer_steps = CHUNK_STEPS};
    size_t mi;
    double *buf = malloc(L * sizeof *buf);
    vbt_sweep_acc *ac = malloc(sw->plan.n_sum * L * sizeof *ac);
    if (!buf || !ac || vbt_sim_add_monitor(job.sim, &ms, &mi)) {
        worker_fail(sw, "'%s': sweep.monitor: %s", sw->config,
                    buf && ac ? vbt_sim_errmsg(job.sim) : "out of memory");
        goto out;
    }
    const size_t n_batches = (sw->plan.n_sims + B - 1) / B;
    for (;;) {
        size_t bi = atomic_fetch_add(&sw->next_batch, 1);
        if (bi >= n_batches || atomic_load(&sw->failed) || cli_interrupted)
            break;
        /* Every batch has B lanes; a short last batch repeats its first
         * simulation in the unused lanes, so all batches are alike. */
        for (size_t b = 0; b < B; b++) {
            size_t k = bi * B + b < sw->plan.n_sims ? bi * B + b : bi * B;
            vbt_sweep_plan_apply(&sw->plan, job.sim, b, k, buf);
        }
        vbt_sim_set_seed(job.sim, job.seed, bi * B);
        for (size_t i = 0; i < sw->plan.n_sum * L; i++)
            ac[i] = (vbt_sweep_acc){0.0, 0.0, 0.0};
        for (uint64_t done = 0; done < job.n_steps;) {
            uint64_t chunk = job.n_steps - done < CHUNK_STEPS ? job.n_steps - done : CHUNK_STEPS;
            if (vbt_sim_run(job.sim, chunk)) {
                worker_fail(sw, "'%s': simulation %zu: %s", sw->config, bi * B,
                            vbt_sim_errmsg(job.sim));
                goto out;
            }
            done += chunk;
            size_t T;
            const double *times;
            const double *d = vbt_sim_monitor_data(job.sim, mi, &T, &times);
            for (size_t q = 0; q < sw->plan.n_sum; q++)
                for (size_t t = 0; t < T; t++)
                    vbt_sweep_acc_update(&sw->plan.sum[q], ac + q * L,
                                         L, d + (t * sw->plan.n_vars + sw->plan.sum[q].var) * L, times[t],
                                         vbt_sim_monitor_period(job.sim, mi));
            vbt_sim_monitor_clear(job.sim, mi);
        }
        for (size_t b = 0; b < B && bi * B + b < sw->plan.n_sims; b++) {
            size_t k = bi * B + b;
            for (size_t q = 0; q < sw->plan.n_sum; q++)
                for (size_t i = 0; i < n; i++) {
                    sw->table[(k * sw->plan.n_sum + q) * n + i] =
                        vbt_sweep_acc_value(&sw->plan.sum[q], ac + q * L + i * B + b);
                }
            atomic_fetch_add(&sw->done_sims, 1);
        }
    }
out:
    free(buf);
    free(ac);
    vbt_sim_config_clear(&job);
    return NULL;
}

/* ---- outputs ------------------------------------------------------------------ */

static int write_outputs(sweep *sw, const vbt_sim_config *job, vbt_outdir *od, const cli_parsed *p,
                         double wall, vbt_msg *msg)
{
    const size_t n = sw->plan.n_regions, ncol = 1 + sw->plan.n_params + sw->plan.n_sum * n;
    char path[4096];
    double *rows = malloc(sw->plan.n_sims * ncol * sizeof *rows);
    if (!rows) {
        snprintf(msg->text, sizeof msg->text, "out of memory for the table");
        return 1;
    }
    for (size_t k = 0; k < sw->plan.n_sims; k++) {
        double *r = rows + k * ncol;
        r[0] = (double)k;
        for (size_t q = 0; q < sw->plan.n_params; q++)
            r[1 + q] = sw->plan.values[k * sw->plan.n_params + q];
        memcpy(r + 1 + sw->plan.n_params, sw->table + k * sw->plan.n_sum * n,
               sw->plan.n_sum * n * sizeof *r);
    }
    size_t shape[2] = {sw->plan.n_sims, ncol};
    int st = vbt_outdir_file(od, "table.npy", path, sizeof path) ||
             vbt_npy_write(path, rows, 2, shape, 0, msg);
    /* CSV: a header naming every column, then one row per simulation. */
    vbt_textbuf csv = {0};
    cJSON *cols = cJSON_CreateArray();
    vbt_textbuf_printf(&csv, "simulation");
    cJSON_AddItemToArray(cols, cJSON_CreateString("simulation"));
    for (size_t q = 0; q < sw->plan.n_params; q++) {
        char name[160];
        snprintf(name, sizeof name, "%s.%s%s", sw->plan.par[q].coupling ? "coupling" : "model",
                 sw->plan.par[q].name, sw->plan.par[q].n_regions ? "[regions]" : "");
        vbt_textbuf_printf(&csv, ",%s", name);
        cJSON_AddItemToArray(cols, cJSON_CreateString(name));
    }
    for (size_t q = 0; q < sw->plan.n_sum; q++)
        for (size_t i = 0; i < n; i++) {
            char name[256];
            snprintf(name, sizeof name, "%s:%s", sw->plan.sum[q].label, job->conn->labels[i]);
            vbt_textbuf_printf(&csv, ",\"%s\"", name);
            cJSON_AddItemToArray(cols, cJSON_CreateString(name));
        }
    vbt_textbuf_printf(&csv, "\n");
    for (size_t k = 0; k < sw->plan.n_sims; k++) {
        for (size_t c = 0; c < ncol; c++)
            vbt_textbuf_printf(&csv, c ? ",%.17g" : "%.17g", rows[k * ncol + c]);
        vbt_textbuf_printf(&csv, "\n");
    }
    if (!st)
        st = cli_write_text(od, "table.csv", &csv, msg);
    free(csv.s);
    free(rows);

    cJSON *prov = cli_provenance_new(p);
    char err[1024];
    if (!st && (cli_provenance_add_input(prov, "config", sw->config, err, sizeof err) ||
                cli_provenance_add_input(prov, "connectome", job->connectome_path, err,
                                         sizeof err))) {
        snprintf(msg->text, sizeof msg->text, "%s", err);
        st = 1;
    }
    cJSON_AddNumberToObject(prov, "seed", (double)job->seed);
    cJSON_AddItemToObject(prov, "resolved_config", cJSON_Duplicate(job->resolved, 1));
    cJSON *o = cJSON_AddObjectToObject(prov, "outputs");
    cJSON_AddStringToObject(o, "table", "table.npy");
    cJSON_AddStringToObject(o, "table_csv", "table.csv");
    cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray((double[]){(double)sw->plan.n_sims,
                                                                         (double)ncol}, 2));
    cJSON_AddItemToObject(o, "columns", cols);
    cJSON *t = cJSON_AddObjectToObject(prov, "timing");
    cJSON_AddNumberToObject(t, "wall_s", wall);
    cJSON_AddNumberToObject(t, "threads", (double)p->common.threads);
    cJSON_AddNumberToObject(t, "batch", (double)sw->plan.batch);
    cJSON_AddNumberToObject(t, "simulation_region_steps_per_s",
                            wall > 0 ? (double)sw->plan.n_sims * (double)n * (double)job->n_steps / wall
                                     : 0.0);
    if (!st && cli_write_json(od, "run.json", prov, msg))
        st = 1;
    cJSON_Delete(prov);
    return st;
}

static void sweep_free(sweep *sw)
{
    vbt_sweep_plan_clear(&sw->plan);
    free(sw->table);
    pthread_mutex_destroy(&sw->err_lock);
}

static int run(const cli_parsed *p)
{
    const char *outdir = cli_str(p, "output");
    sweep sw;
    memset(&sw, 0, sizeof sw);
    pthread_mutex_init(&sw.err_lock, NULL);
    sw.config = p->args[0];
    vbt_sim_config_opts_default(&sw.jo);
    sw.jo.seed_override = p->common.seed_given ? (long long)p->common.seed : -1;
    sw.jo.buffer_steps = CHUNK_STEPS;
    sw.jo.sweep = 1;
    /* One threaded pool of simulations: BLAS stays single-threaded. */
    openblas_set_num_threads(1);
    vbt_sim_config job;
    vbt_outdir *od = NULL;
    vbt_msg msg;
    int rc = CLI_ERROR;
    if (vbt_sim_config_load(&job, sw.config, &sw.jo, &msg)) {
        cli_error(p, "%s", msg.text);
        sweep_free(&sw);
        return CLI_ERROR;
    }
    if (vbt_sweep_plan_load(&sw.plan, &job, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    sw.table = calloc(sw.plan.n_sims * sw.plan.n_sum * sw.plan.n_regions, sizeof *sw.table);
    if (!sw.table) {
        cli_error(p, "out of memory for %zu simulations", sw.plan.n_sims);
        goto out;
    }
    if (sw.plan.batch > sw.plan.n_sims)
        sw.plan.batch = sw.plan.n_sims;
    /* Threads take whole batches.  The batch is shrunk (a simulation's
     * numbers do not depend on its batch) so that every thread gets the same
     * number of batches: with 7 batches of 16 on 2 threads one thread would
     * run 4 and the other wait after 3; 8 batches of 13 keep both busy to the
     * end.  With fewer batches than threads this gives each thread one, and
     * no thread is started without a batch to run. */
    size_t nt = (size_t)p->common.threads;
    if (nt > 1) {
        const size_t nb = (sw.plan.n_sims + sw.plan.batch - 1) / sw.plan.batch;
        const size_t per_thread = (nb + nt - 1) / nt;
        sw.plan.batch = (sw.plan.n_sims + nt * per_thread - 1) / (nt * per_thread);
    }
    if (nt > (sw.plan.n_sims + sw.plan.batch - 1) / sw.plan.batch)
        nt = (sw.plan.n_sims + sw.plan.batch - 1) / sw.plan.batch;
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    cli_install_signal_handlers();
    pthread_t th[1024];
    double t0 = cli_now();
    size_t started = 0;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, worker, &sw) != 0)
            break;
    if (started == 0) {
        worker(&sw);
    } else {
        cli_progress pr;
        cli_progress_begin(&pr, p, "sweep");
        while (atomic_load(&sw.done_sims) < sw.plan.n_sims && !atomic_load(&sw.failed) &&
               !cli_interrupted) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            char extra[64];
            snprintf(extra, sizeof extra, "%zu of %zu simulations", atomic_load(&sw.done_sims),
                     sw.plan.n_sims);
            cli_progress_update(&pr, (double)atomic_load(&sw.done_sims) / (double)sw.plan.n_sims,
                                extra);
        }
        for (size_t t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        cli_progress_end(&pr);
    }
    double wall = cli_now() - t0;
    if (atomic_load(&sw.failed)) {
        cli_error(p, "%s", sw.err);
        goto out;
    }
    if (cli_interrupted) {
        cli_error(p, "interrupted; nothing written");
        goto out;
    }
    if (write_outputs(&sw, &job, od, p, wall, &msg) || vbt_outdir_commit(od, &msg)) {
        od = NULL;
        cli_error(p, "%s", msg.text);
        goto out;
    }
    od = NULL;
    cli_info(p, "%zu simulations of %zu regions (%llu steps each) in %.2f s, %.2f M "
                "simulation-region-steps/s, %zu thread(s), batches of %zu",
             sw.plan.n_sims, sw.plan.n_regions, (unsigned long long)job.n_steps, wall,
             wall > 0 ? (double)sw.plan.n_sims * (double)sw.plan.n_regions * (double)job.n_steps / wall / 1e6
                      : 0.0,
             (size_t)p->common.threads, sw.plan.batch);
    printf("outputs in %s: table.npy table.csv run.json\n", outdir);
    rc = CLI_OK;
out:
    vbt_outdir_abort(od);
    vbt_sim_config_clear(&job);
    sweep_free(&sw);
    return rc;
}

const cli_command cli_cmd_sweep = {
    .name = "sweep",
    .synopsis = "run many simulations that differ in parameters and tabulate summaries",
    .description =
        "Runs the simulation of CONFIG (a `vbt simulate` configuration) for every point of "
        "its \"sweep\" section: a grid (every combination), a list (values paired "
        "position by position) or random draws (uniform in given ranges) of model or "
        "coupling parameters, for every region or chosen regions.  Simulations run in "
        "batches side by side (simulation index innermost, for the vectoriser) on "
        "--threads threads; simulation k uses noise stream k of the seed, so the results "
        "do not depend on the number of threads or the batch position.  Each simulation is "
        "reduced to per-region summaries (mean, variance, min, max, time above or below a "
        "threshold, onset time) of a monitor's variables, written as OUTDIR/table.npy and "
        "OUTDIR/table.csv (one row per simulation: its index, its parameter values, then "
        "every summary for every region) with OUTDIR/run.json.  The schema is in "
        "docs/sweep.md.",
    .args = args,
    .n_args = 1,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .run = run,
};
