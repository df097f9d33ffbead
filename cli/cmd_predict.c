/* cmd_predict.c -- `vbt predict -c CONN -d X0.npy -o OUTDIR`: seizure
 * propagation over posterior draws (docs/surgery.md): per region the
 * probability of being recruited, the onset-time distribution and the
 * propagation order.  Also holds the set-up shared with `vbt surgery`
 * (surgery_cli.h). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>

#include "strbuf.h"
#include "surgery_cli.h"

/* ---- shared with cmd_surgery.c ------------------------------------------------ */

/* A per-draw vector: [S] or [S, 1]. */
static int load_per_draw(const cli_parsed *p, const char *opt, size_t S, double **out)
{
    const char *path = cli_str(p, opt);
    *out = NULL;
    if (!path)
        return 0;
    vbt_array a = {0};
    vbt_msg msg;
    if (vbt_npy_read(path, &a, &msg)) {
        cli_error(p, "%s", msg.text);
        return -1;
    }
    if (!((a.ndim == 1 && a.shape[0] == S) || (a.ndim == 2 && a.shape[0] == S &&
                                               a.shape[1] == 1))) {
        cli_error(p, "--%s '%s': expected one value per draw (%zu), got an array of %zu "
                     "values in %zu dimension(s)", opt, path, S, a.size, a.ndim);
        vbt_array_clear(&a);
        return -1;
    }
    for (size_t k = 0; k < S; k++)
        if (!isfinite(a.data[k])) {
            cli_error(p, "--%s '%s': value of draw %zu is not finite", opt, path, k);
            vbt_array_clear(&a);
            return -1;
        }
    *out = a.data;
    return 0;
}

int surgery_cli_setup(surgery_cli *c, const cli_parsed *p)
{
    memset(c, 0, sizeof *c);
    vbt_msg msg;
    const char *conn_path = cli_str(p, "connectome"), *draws = cli_str(p, "draws");
    vbt_normalize norm;
    if (vbt_normalize_parse(cli_str(p, "normalize"), &norm) ||
        vbt_connectome_load(&c->conn, conn_path, &msg) ||
        vbt_connectome_normalize(c->conn, norm, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    const size_t n = c->conn->n;
    vbt_array a = {0};
    if (vbt_npy_read(draws, &a, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    size_t S = a.ndim == 1 ? 1 : a.shape[0], nr = a.ndim == 1 ? a.shape[0] : a.shape[1];
    if ((a.ndim != 1 && a.ndim != 2) || nr != n || S == 0) {
        cli_error(p, "draws '%s': expected [draw, region] with %zu regions (the connectome "
                     "'%s'), got %s%zu value(s) per draw", draws, n, conn_path,
                  a.ndim == 1 || a.ndim == 2 ? "" : "an array of more dimensions, ", nr);
        vbt_array_clear(&a);
        return CLI_ERROR;
    }
    c->x0 = a.data;
    c->n_draws = S;
    if (load_per_draw(p, "k-npy", S, &c->K) || load_per_draw(p, "tau0-npy", S, &c->tau0))
        return CLI_ERROR;

    vbt_surgery_spec *sp = &c->spec;
    vbt_surgery_spec_default(sp);
    int six = strcmp(cli_str(p, "model"), "epileptor") == 0;
    sp->conn = c->conn;
    sp->n_draws = S;
    sp->x0 = c->x0;
    sp->K = c->K;
    sp->K_const = cli_float(p, "K");
    sp->tau0 = c->tau0;
    sp->tau0_const = cli_str(p, "tau0") ? cli_float(p, "tau0") : six ? 2857.0 : 10.0;
    sp->I1 = cli_float(p, "I1");
    sp->model = six ? VBT_SURGERY_EPILEPTOR : VBT_SURGERY_EPILEPTOR2D;
    sp->scheme = cli_str(p, "scheme") ? cli_str(p, "scheme") : six ? "heun" : "euler";
    sp->dt = cli_str(p, "dt") ? cli_float(p, "dt") : six ? 0.05 : 0.1;
    sp->duration = cli_str(p, "duration") ? cli_float(p, "duration") : six ? 10000.0 : 100.0;
    sp->speed_mm_per_ms = cli_str(p, "speed") ? cli_float(p, "speed") : HUGE_VAL;
    sp->threshold = cli_float(p, "threshold");
    sp->healthy_x0 = cli_float(p, "healthy-x0");
    sp->init_x0_max = cli_float(p, "init-x0-max");
    if (cli_str(p, "init-state")) {
        double xz[2];
        if (cli_parse_numbers(cli_str(p, "init-state"), xz, 2) || !isfinite(xz[0]) ||
            !isfinite(xz[1])) {
            cli_error(p, "--init-state: '%s' is not two finite numbers X,Z",
                      cli_str(p, "init-state"));
            return CLI_ERROR;
        }
        sp->init_fixed = 1;
        sp->init_x1 = xz[0];
        sp->init_z = xz[1];
    }
    sp->noise = cli_float(p, "noise");
    sp->seed = p->common.seed;
    sp->batch = (size_t)cli_float(p, "batch");
    sp->threads = (size_t)p->common.threads;
    if (vbt_surgery_alloc(&c->s, sp, &msg)) {
        cli_error(p, "draws '%s': %s", draws, msg.text);
        return CLI_ERROR;
    }
    cJSON *st = c->settings = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "model", six ? "epileptor" : "epileptor2d");
    cJSON_AddStringToObject(st, "normalize", vbt_normalize_name(norm));
    cJSON_AddNumberToObject(st, "n_regions", (double)n);
    cJSON_AddNumberToObject(st, "n_draws", (double)S);
    if (c->K)
        cJSON_AddStringToObject(st, "K", "per draw (k-npy)");
    else
        cJSON_AddNumberToObject(st, "K", sp->K_const);
    if (c->tau0)
        cJSON_AddStringToObject(st, "tau0", "per draw (tau0-npy)");
    else
        cJSON_AddNumberToObject(st, "tau0", sp->tau0_const);
    cJSON_AddNumberToObject(st, "I1", sp->I1);
    cJSON_AddStringToObject(st, "scheme", sp->scheme);
    cJSON_AddNumberToObject(st, "dt", sp->dt);
    cJSON_AddNumberToObject(st, "duration", sp->duration);
    cJSON_AddNumberToObject(st, "n_steps", (double)vbt_surgery_n_steps(c->s));
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
    return CLI_OK;
}

void surgery_cli_free(surgery_cli *c)
{
    vbt_surgery_free(c->s);
    vbt_connectome_free(c->conn);
    free(c->x0);
    free(c->K);
    free(c->tau0);
    cJSON_Delete(c->settings);
    memset(c, 0, sizeof *c);
}

int surgery_cli_write_run_json(const surgery_cli *c, const cli_parsed *p, vbt_outdir *od,
                               cJSON *outputs, cJSON *extra, vbt_msg *msg)
{
    cJSON *prov = cli_provenance_new(p);
    char err[1024];
    static const char *const roles[][2] = {{"connectome", "connectome"}, {"draws", "draws"},
                                           {"k-npy", "K"}, {"tau0-npy", "tau0"}};
    int st = 0;
    for (size_t r = 0; r < sizeof roles / sizeof roles[0] && !st; r++) {
        const char *path = cli_str(p, roles[r][0]);
        struct stat sb;
        if (path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            /* A connectome directory: recorded by path, not hashed. */
            cJSON *item = cJSON_CreateObject();
            cJSON_AddStringToObject(item, "path", path);
            cJSON_AddStringToObject(item, "sha256", "directory (not hashed)");
            cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(prov, "inputs"),
                                  roles[r][1], item);
            continue;
        }
        if (path && cli_provenance_add_input(prov, roles[r][1], path, err, sizeof err)) {
            snprintf(msg->text, sizeof msg->text, "%s", err);
            st = 1;
        }
    }
    cJSON_AddNumberToObject(prov, "seed", (double)c->spec.seed);
    cJSON_AddItemToObject(prov, "settings", cJSON_Duplicate(c->settings, 1));
    cJSON_AddItemToObject(prov, "outputs", outputs);
    if (extra)
        for (cJSON *it = extra->child; it;) {
            cJSON *next = it->next;
            cJSON_AddItemToObject(prov, it->string,
                                  cJSON_DetachItemViaPointer(extra, it));
            it = next;
        }
    cJSON_Delete(extra);
    if (!st && cli_write_json(od, "run.json", prov, msg))
        st = 1;
    cJSON_Delete(prov);
    return st;
}

/* ---- vbt predict ----------------------------------------------------------------- */

static const cli_option opts[] = {
    SURGERY_CLI_OPTIONS,
};

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

static int write_predict(const surgery_cli *c, const vbt_surgery_result *r, vbt_outdir *od,
                         const cli_parsed *p, double wall, vbt_msg *msg)
{
    const size_t n = r->n_regions, S = r->n_draws;
    char path[4096];
    size_t shape[2] = {S, n};
    if (vbt_outdir_file(od, "onsets.npy", path, sizeof path) ||
        vbt_npy_write(path, r->onset, 2, shape, 0, msg))
        return 1;
    strbuf b = {0};
    sb_printf(&b, "region,label,p_recruited,onset_mean,onset_sd,onset_median,onset_q05,"
                  "onset_q95,mean_rank\n");
    for (size_t i = 0; i < n; i++) {
        sb_printf(&b, "%zu,", i);
        sb_label(&b, c->conn->labels[i]);
        sb_printf(&b, ",%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", r->p_recruited[i],
                  r->onset_mean[i], r->onset_sd[i], r->onset_median[i], r->onset_q05[i],
                  r->onset_q95[i], r->mean_rank[i]);
    }
    if (sb_write(&b, od, "recruitment.csv", msg))
        return 1;
    /* Propagation order: recruited regions by median onset (then index). */
    size_t *ord = malloc(n * sizeof *ord), m = 0;
    if (!ord) {
        snprintf(msg->text, sizeof msg->text, "out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (r->p_recruited[i] > 0.0)
            ord[m++] = i;
    sort_by(ord, m, r->onset_median);
    sb_printf(&b, "order,region,label,p_recruited,onset_median,onset_q05,onset_q95\n");
    for (size_t q = 0; q < m; q++) {
        size_t i = ord[q];
        sb_printf(&b, "%zu,%zu,", q + 1, i);
        sb_label(&b, c->conn->labels[i]);
        sb_printf(&b, ",%.17g,%.17g,%.17g,%.17g\n", r->p_recruited[i], r->onset_median[i],
                  r->onset_q05[i], r->onset_q95[i]);
    }
    free(ord);
    if (sb_write(&b, od, "order.csv", msg))
        return 1;
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
    cJSON_AddNumberToObject(t, "wall_s", wall);
    cJSON_AddNumberToObject(t, "threads", (double)p->common.threads);
    cJSON_AddNumberToObject(t, "draws_per_s", wall > 0 ? (double)S / wall : 0.0);
    return surgery_cli_write_run_json(c, p, od, outputs, extra, msg);
}

static int run(const cli_parsed *p)
{
    const char *outdir = cli_str(p, "output");
    surgery_cli c;
    vbt_outdir *od = NULL;
    vbt_surgery_result r = {0};
    vbt_msg msg;
    int rc = CLI_ERROR;
    openblas_set_num_threads(1);
    if (surgery_cli_setup(&c, p))
        goto out;
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    double t0 = cli_now();
    if (vbt_surgery_run(c.s, NULL, 0, &r)) {
        cli_error(p, "%s", vbt_surgery_errmsg(c.s));
        goto out;
    }
    double wall = cli_now() - t0;
    if (write_predict(&c, &r, od, p, wall, &msg) || vbt_outdir_commit(od, &msg)) {
        od = NULL;
        cli_error(p, "%s", msg.text);
        goto out;
    }
    od = NULL;
    size_t rec = 0;
    for (size_t i = 0; i < r.n_regions; i++)
        rec += r.p_recruited[i] > 0.0;
    cli_info(p, "%zu draws of %zu regions (%llu steps each) in %.2f s (%.1f draws/s, %ld "
                "thread(s)); %zu region(s) recruited in some draw, P(no seizure) = %.3f",
             r.n_draws, r.n_regions, (unsigned long long)vbt_surgery_n_steps(c.s), wall,
             wall > 0 ? (double)r.n_draws / wall : 0.0, p->common.threads, rec, r.p_freedom);
    printf("outputs in %s: recruitment.csv order.csv onsets.npy run.json\n", outdir);
    rc = CLI_OK;
out:
    vbt_outdir_abort(od);
    vbt_surgery_result_clear(&r);
    surgery_cli_free(&c);
    return rc;
}

static const char *const refs[] = {
    "Proix T, Bartolomei F, Chauvel P, Bernard C, Jirsa VK (2014) Permittivity coupling "
    "across brain regions determines seizure recruitment in partial epilepsy. J Neurosci "
    "34:15009.",
    "Hashemi M et al. (2020) The Bayesian Virtual Epileptic Patient. NeuroImage 217:116839.",
    NULL,
};

const cli_command cli_cmd_predict = {
    .name = "predict",
    .synopsis = "seizure propagation over posterior draws: recruitment, onsets, order",
    .description =
        "Simulates the Virtual Epileptic Patient network forward once per posterior draw of "
        "x0 (--draws, [draw, region]; optionally per-draw K and tau0) and reports, per "
        "region, the probability of being recruited (x1 rising above --threshold within "
        "--duration), the onset-time distribution over the draws in which it is recruited "
        "(mean, sd, median, 5% and 95%) and its mean rank in the propagation order.  "
        "Model: dx = 1 - x^3 - 2x^2 - z + I1, dz = (1/tau0)(4(x - x0) - z - K sum_j C_ij "
        "(x_j - x_i)) (libvbt's epileptor2d with Ks = -K, r = 1/tau0), or with --model "
        "epileptor the 6-variable Epileptor, with conduction delays when --speed is given.  "
        "Draws run in batches of --batch side by side, batches on --threads threads; draw "
        "k uses noise stream k of --seed, so results do not depend on the threads.  "
        "Writes OUTDIR/recruitment.csv, OUTDIR/order.csv (recruited regions by median "
        "onset), OUTDIR/onsets.npy ([draw, region], NaN when not recruited) and "
        "OUTDIR/run.json.  Details: docs/surgery.md.",
    .args = NULL,
    .n_args = 0,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = refs,
    .run = run,
};
