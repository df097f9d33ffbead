/* fit_checkpoint.c -- the command-line side of `vbt fit` (fit_checkpoint.h):
 * its options as vbt_fit_opts, its inputs, the checkpoint's caller record,
 * run.json and the printed table. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fit_checkpoint.h"
#include "vbt_text.h"

/* ---- options and inputs --------------------------------------------------- */

/* Index of s in the NULL-terminated list (the option's choices, in the
 * order of the enum they name). */
static int pick(const char *s, const char *const *list)
{
    for (int k = 0; list[k]; k++)
        if (!strcmp(s, list[k]))
            return k;
    return 0;
}

void fit_options(const cli_parsed *p, vbt_fit_opts *o)
{
    static const char *const schemes[] = {"euler", "heun", "rk4", NULL};
    static const char *const obs[] = {"linear", "log", "power", "seizure", NULL};
    static const char *const dnorm[] = {"none", "power", "excess", "baseline", NULL};
    static const char *const gnorm[] = {"none", "max", "power", "power-abs", NULL};
    static const char *const metrics[] = {"diag", "dense", "laplace", NULL};
    static const char *const inits[] = {"map", "modes", "prior", NULL};
    static const char *const minits[] = {"data", "prior", NULL};
    const char *norm = cli_str(p, "normalize"), *off = cli_str(p, "offsets");
    vbt_fit_opts_default(o);
    o->sampler = vbt_sampler_find(cli_str(p, "method"));
    o->scheme = (vbt_vep_scheme)pick(cli_str(p, "scheme"), schemes);
    o->dt = cli_float(p, "dt");
    o->steps = (size_t)cli_float(p, "steps");
    o->obs = (vbt_vep_obs)pick(cli_str(p, "obs"), obs);
    o->seizure_x = cli_float(p, "seizure-x");
    o->seizure_width = cli_float(p, "seizure-width");
    o->normalize = !strcmp(norm, "max") ? VBT_NORMALIZE_MAX
                   : !strcmp(norm, "row-sum") ? VBT_NORMALIZE_ROWSUM : VBT_NORMALIZE_NONE;
    o->offsets = !off ? VBT_FIT_OFFSETS_PRIORS : !strcmp(off, "marginal")
                                                     ? VBT_FIT_OFFSETS_MARGINAL
                                                     : VBT_FIT_OFFSETS_SAMPLE;
    o->data_norm = (vbt_fit_data_norm)pick(cli_str(p, "data-norm"), dnorm);
    o->gain_norm = (vbt_fit_gain_norm)pick(cli_str(p, "gain-norm"), gnorm);
    o->baseline = (size_t)cli_float(p, "baseline");
    o->starts = (size_t)cli_float(p, "starts");
    o->map_init = (vbt_fit_map_init)pick(cli_str(p, "map-init"), minits);
    o->map_iter = (size_t)cli_float(p, "map-iter");
    o->polish = (size_t)cli_float(p, "polish");
    o->hop_rounds = (size_t)cli_float(p, "hop-rounds");
    o->hops = (size_t)cli_float(p, "hops");
    o->chains = (size_t)cli_float(p, "chains");
    o->warmup = (size_t)cli_float(p, "warmup");
    o->draws = (size_t)cli_float(p, "draws");
    o->max_depth = (size_t)cli_float(p, "max-depth");
    o->adapt_delta = cli_float(p, "adapt-delta");
    o->metric = (vbt_fit_metric)pick(cli_str(p, "metric"), metrics);
    o->init = (vbt_fit_init)pick(cli_str(p, "init"), inits);
    o->jumps = (size_t)cli_float(p, "jumps");
    o->advi_family = !strcmp(cli_str(p, "advi-family"), "fullrank") ? VBT_ADVI_FULLRANK
                                                                     : VBT_ADVI_MEANFIELD;
    o->particles = (size_t)cli_float(p, "particles");
    o->smc_ess = cli_float(p, "smc-ess");
    o->smc_moves = (size_t)cli_float(p, "smc-moves");
    o->leapfrog = (size_t)cli_float(p, "leapfrog");
    o->smc_runs = (size_t)cli_float(p, "smc-runs");
    o->threads = (size_t)p->common.threads;
    o->seed = p->common.seed;
}

int fit_load_inputs(const cli_parsed *p, fit_inputs *in, vbt_msg *msg)
{
    if (vbt_connectome_load(&in->conn, cli_str(p, "connectome"), msg) ||
        vbt_npy_read(cli_str(p, "gain"), &in->gain, msg) ||
        vbt_npy_read(cli_str(p, "data"), &in->data, msg))
        return -1;
    size_t nr = in->conn->n;
    if (in->gain.ndim != 2 || in->gain.shape[1] != nr) {
        snprintf(msg->text, sizeof msg->text, "'%s': gain must be [sensor, region] with %zu "
                 "regions (the connectome's), got %zu dimension(s)%s", cli_str(p, "gain"), nr,
                 in->gain.ndim, in->gain.ndim == 2 ? " of the wrong width" : "");
        return -1;
    }
    if (in->data.ndim != 2 || in->data.shape[1] != in->gain.shape[0]) {
        snprintf(msg->text, sizeof msg->text, "'%s': data must be [time, sensor] with %zu "
                 "sensors (the gain's rows)", cli_str(p, "data"), in->gain.shape[0]);
        return -1;
    }
    vbt_fit_priors_preset(&in->priors); /* the prior file and --offsets override */
    return cli_str(p, "prior") &&
                   vbt_vep_priors_load_json(&in->priors, cli_str(p, "prior"),
                                            (const char (*)[VBT_LABEL_MAX])in->conn->labels, nr,
                                            msg)
               ? -1
               : 0;
}

/* ---- identity ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "role<TAB>sha\n" for a file, "role/name<TAB>sha\n" for each regular file of
 * a directory (by name). */
static int hash_input(vbt_textbuf *b, const char *role, const char *path, vbt_msg *msg)
{
    struct stat st;
    char hex[65];
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (vbt_sha256_file(path, hex, msg))
            return -1;
        vbt_textbuf_printf(b, "%s\t%s\n", role, hex);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(msg->text, sizeof msg->text, "'%s': %s", path, strerror(errno));
        return -1;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (e->d_name[0] != '.' && (names[n] = strdup(e->d_name)))
            n++;
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char fp[4096];
        snprintf(fp, sizeof fp, "%s/%s", path, names[i]);
        if (rc == 0 && stat(fp, &st) == 0 && S_ISREG(st.st_mode)) {
            if (vbt_sha256_file(fp, hex, msg))
                rc = -1;
            else
                vbt_textbuf_printf(b, "%s/%s\t%s\n", role, names[i], hex);
        }
        free(names[i]);
    }
    return rc;
}

/* Options that do not shape the draws: where to write, how often to save,
 * whether failed diagnostics fail the exit status. */
static int ignored_option(const cli_option *o)
{
    return o->kind == CLI_FILE_IN || o->kind == CLI_FILE_OUT || !strcmp(o->name, "resume") ||
           !strcmp(o->name, "checkpoint-every") || !strcmp(o->name, "strict");
}

int fit_record_identify(fit_record *k, const cli_parsed *p, vbt_msg *msg)
{
    vbt_textbuf o = {0}, in = {0};
    snprintf(k->version, sizeof k->version, "%s", vbt_version());
    for (size_t i = 0; i < p->cmd->n_opts; i++) {
        const cli_option *op = &p->cmd->opts[i];
        if (ignored_option(op))
            continue;
        if (op->kind == CLI_INT || op->kind == CLI_FLOAT)
            vbt_textbuf_printf(&o, "%s=%.17g\n", op->name, cli_float(p, op->name));
        else if (op->kind == CLI_FLAG)
            vbt_textbuf_printf(&o, "%s=%d\n", op->name, cli_flag(p, op->name));
        else
            vbt_textbuf_printf(&o, "%s=%s\n", op->name,
                               cli_str(p, op->name) ? cli_str(p, op->name) : "");
    }
    vbt_textbuf_printf(&o, "seed=%llu\n", (unsigned long long)p->common.seed);
    int rc = -1;
    for (size_t i = 0; i < p->cmd->n_opts; i++) {
        const cli_option *op = &p->cmd->opts[i];
        if (op->kind == CLI_FILE_IN && p->values[i] && hash_input(&in, op->name, p->values[i], msg))
            goto out;
    }
    if (o.oom || in.oom || !(k->cwd = getcwd(NULL, 0)) ||
        !(k->argv = calloc((size_t)p->argc + 1, sizeof *k->argv))) {
        snprintf(msg->text, sizeof msg->text, "out of memory (or no working directory)");
        goto out;
    }
    vbt_sha256_buffer(o.s, o.len, k->options_sha);
    k->inputs = in.s ? in.s : strdup("");
    in.s = NULL;
    k->argc = p->argc;
    for (int a = 0; a < p->argc; a++)
        if (!(k->argv[a] = strdup(p->argv[a]))) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            goto out;
        }
    rc = 0;
out:
    free(o.s);
    free(in.s);
    return rc;
}

/* The line of `role` (up to the tab) in an inputs text, or NULL. */
static const char *find_line(const char *text, const char *key, size_t klen)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, klen) && l[klen] == '\t')
            return l;
    return NULL;
}

int fit_record_compare(const fit_record *k, const fit_record *now, vbt_msg *msg)
{
    if (strcmp(k->version, now->version)) {
        snprintf(msg->text, sizeof msg->text, "the checkpoint was written by vbt %s, this is "
                 "vbt %s", k->version, now->version);
        return -1;
    }
    /* every input line, both ways, so that an added or removed file counts */
    for (int pass = 0; pass < 2; pass++) {
        const char *a = pass ? now->inputs : k->inputs, *b = pass ? k->inputs : now->inputs;
        for (const char *l = a; *l;) {
            const char *tab = strchr(l, '\t'), *nl = strchr(l, '\n');
            if (!tab || !nl)
                break;
            const char *m = find_line(b, l, (size_t)(tab - l));
            if (!m || strncmp(m, l, (size_t)(nl - l + 1))) {
                char what[512];
                snprintf(what, sizeof what, "%.*s", (int)(tab - l), l);
                char *file = strchr(what, '/');
                if (file)
                    *file++ = '\0';
                snprintf(msg->text, sizeof msg->text, "the --%s input changed since the "
                         "checkpoint was written (%s%s%s)", what, file ? file : "",
                         file ? ": " : "", m ? "SHA-256 differs" : pass ? "new file" : "missing");
                return -1;
            }
            l = nl + 1;
        }
    }
    if (strcmp(k->options_sha, now->options_sha)) {
        snprintf(msg->text, sizeof msg->text, "the resolved options differ from the "
                 "checkpoint's");
        return -1;
    }
    return 0;
}

/* ---- the record's bytes: strings as u32 length + bytes, argc as u64 ---------- */

/* The record's size, and its bytes into out when out is not NULL. */
static size_t put_str(unsigned char *out, size_t at, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    if (out) {
        memcpy(out + at, &n, sizeof n);
        memcpy(out + at + sizeof n, s, n);
    }
    return at + sizeof n + n;
}

static size_t put_record(unsigned char *out, const fit_record *r)
{
    uint64_t argc = (uint64_t)r->argc;
    size_t at = put_str(out, 0, r->version);
    at = put_str(out, at, r->options_sha);
    at = put_str(out, at, r->inputs);
    at = put_str(out, at, r->cwd);
    if (out)
        memcpy(out + at, &argc, sizeof argc);
    at += sizeof argc;
    for (int a = 0; a < r->argc; a++)
        at = put_str(out, at, r->argv[a]);
    return at;
}

unsigned char *fit_record_encode(const fit_record *r, size_t *len)
{
    *len = put_record(NULL, r);
    unsigned char *b = malloc(*len);
    if (b)
        put_record(b, r);
    return b;
}

typedef struct cursor {
    const unsigned char *p, *end;
    int bad;
} cursor;

static char *get_str(cursor *r)
{
    uint32_t n = 0;
    if (r->bad || (size_t)(r->end - r->p) < sizeof n) {
        r->bad = 1;
        return NULL;
    }
    memcpy(&n, r->p, sizeof n);
    r->p += sizeof n;
    char *s = n <= (size_t)(r->end - r->p) ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    return s;
}

static void get_fixed(cursor *r, char *dst, size_t n)
{
    char *s = get_str(r);
    if (s && strlen(s) < n)
        memcpy(dst, s, strlen(s) + 1);
    else
        r->bad = 1;
    free(s);
}

int fit_record_decode(fit_record *k, const void *rec, size_t len, const char *path,
                      vbt_msg *msg)
{
    cursor r = {rec, (const unsigned char *)rec + len, 0};
    uint64_t argc = 0;
    get_fixed(&r, k->version, sizeof k->version);
    get_fixed(&r, k->options_sha, sizeof k->options_sha);
    k->inputs = get_str(&r);
    k->cwd = get_str(&r);
    if (!r.bad && (size_t)(r.end - r.p) >= sizeof argc) {
        memcpy(&argc, r.p, sizeof argc);
        r.p += sizeof argc;
    } else {
        r.bad = 1;
    }
    if (!r.bad && argc >= 2 && argc < 4096 && (k->argv = calloc(argc + 1, sizeof *k->argv))) {
        k->argc = (int)argc;
        for (uint64_t a = 0; a < argc; a++)
            k->argv[a] = get_str(&r);
    } else {
        r.bad = 1;
    }
    if (r.bad || r.p != r.end) {
        snprintf(msg->text, sizeof msg->text, "'%s': truncated or corrupt checkpoint", path);
        return -1;
    }
    return 0;
}

void fit_record_clear(fit_record *k)
{
    if (!k)
        return;
    free(k->inputs);
    free(k->cwd);
    if (k->argv)
        for (int a = 0; a < k->argc; a++)
            free(k->argv[a]);
    free(k->argv);
    memset(k, 0, sizeof *k);
}

/* ---- run.json ------------------------------------------------------------------ */

/* Provenance of an input that may be a directory (a TVB connectome):
 * then the SHA-256 of every regular file in it, by name. */
static int add_input(cJSON *prov, const char *role, const char *path, char *err, size_t n)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_provenance_add_input(prov, role, path, err, n);
    cJSON *inputs = cJSON_GetObjectItemCaseSensitive(prov, "inputs");
    cJSON *item = cJSON_CreateObject(), *files = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "path", vbt_path_public(path));
    cJSON_AddItemToObject(item, "files", files);
    cJSON_AddItemToObject(inputs, role, item);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, n, "'%s': cannot read the directory", path);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char fp[4096], hex[65];
        vbt_msg msg;
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        if (e->d_name[0] == '.' || stat(fp, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (vbt_sha256_file(fp, hex, &msg)) {
            snprintf(err, n, "%s", msg.text);
            closedir(d);
            return -1;
        }
        cJSON_AddStringToObject(files, e->d_name, hex);
    }
    closedir(d);
    return 0;
}

static void add_options(cJSON *prov, const cli_parsed *p)
{
    cJSON *ro = cJSON_AddObjectToObject(prov, "options");
    for (size_t k = 0; k < p->cmd->n_opts; k++) {
        const cli_option *o = &p->cmd->opts[k];
        if (o->kind == CLI_FILE_IN || o->kind == CLI_FILE_OUT)
            continue;
        if (o->kind == CLI_FLAG)
            cJSON_AddBoolToObject(ro, o->name, cli_flag(p, o->name));
        else if (o->kind == CLI_INT || o->kind == CLI_FLOAT)
            cJSON_AddNumberToObject(ro, o->name, cli_float(p, o->name));
        else
            cJSON_AddStringToObject(ro, o->name, cli_str(p, o->name));
    }
    cJSON_AddNumberToObject(ro, "threads", (double)p->common.threads);
}

cJSON *fit_provenance(const cli_parsed *p, vbt_fit *f, const char *resumed_from, char *err,
                      size_t n)
{
    cJSON *prov = cli_provenance_new(p);
    const char *roles[4] = {"connectome", "gain", "data", "prior"};
    for (int k = 0; k < 4; k++)
        if (cli_str(p, roles[k]) && add_input(prov, roles[k], cli_str(p, roles[k]), err, n)) {
            cJSON_Delete(prov);
            return NULL;
        }
    cJSON_AddNumberToObject(prov, "seed", (double)p->common.seed);
    add_options(prov, p);
    /* model, timing, outputs: as the library describes the fit */
    char *rj = vbt_fit_run_json(f);
    cJSON *r = rj ? cJSON_Parse(rj) : NULL;
    free(rj);
    if (!r) {
        snprintf(err, n, "out of memory describing the fit");
        cJSON_Delete(prov);
        return NULL;
    }
    while (r->child) {
        cJSON *item = cJSON_DetachItemViaPointer(r, r->child);
        cJSON_AddItemToObject(prov, item->string, item);
    }
    cJSON_Delete(r);
    if (resumed_from)
        cJSON_AddStringToObject(prov, "resumed_from", vbt_path_public(resumed_from));
    return prov;
}

/* ---- the printed table ------------------------------------------------------------ */

/* A number as summary.json holds it and reads back: non-finite is null, 0. */
static double jv(double v)
{
    return isfinite(v) ? v : 0.0;
}

static void print_chains(vbt_fit *f)
{
    const vbt_fit_chain *ch = vbt_fit_chains(f);
    printf("\n%-5s %9s %10s %6s %7s %8s %6s %s\n", "chain", "stepsize", "mean lp", "div",
           "maxdep", "E-BFMI", "wall", "status");
    for (size_t c = 0; c < vbt_fit_n_chains(f); c++)
        printf("%-5d %9.4g %10.2f %6d %7d %8.3f %6.1f %s\n", (int)c + 1, jv(ch[c].stepsize),
               jv(ch[c].mean_lp), (int)ch[c].divergences, (int)ch[c].max_treedepth_hits,
               isfinite(ch[c].ebfmi) ? ch[c].ebfmi : NAN, jv(ch[c].wall_s),
               ch[c].stuck ? "STUCK (excluded)" : "ok");
}

static void print_table(const cli_parsed *p, vbt_fit *f, const vbt_connectome *conn)
{
    const vbt_diag_param *dp = vbt_fit_summary(f);
    const vbt_fit_region *rg = vbt_fit_regions(f);
    const char *method = cli_str(p, "method");
    vbt_vep *m = vbt_fit_model(f);
    printf("%-14s %10s %9s %10s %10s %10s %7s %8s %8s\n", "parameter", "mean", "sd", "5%", "50%",
           "95%", "R-hat", "ESS_bulk", "ESS_tail");
    for (size_t i = 0; i < vbt_fit_n_params(f); i++)
        printf("%-14s %10.4g %9.3g %10.4g %10.4g %10.4g %7.3f %8.0f %8.0f\n",
               vbt_vep_param_name(m, i), dp[i].mean, dp[i].sd, dp[i].q5, dp[i].q50, dp[i].q95,
               dp[i].rhat, dp[i].ess_bulk, dp[i].ess_tail);
    printf("\n%-6s %-9s %7s %7s %9s %s\n", "region", "class", "P(EZ)", "P(PZ)", "x0", "label");
    for (size_t r = 0; r < vbt_fit_n_regions(f); r++)
        printf("%-6d %-9s %7.3f %7.3f %9.3f %s\n", (int)r + 1, vbt_vep_class_name(rg[r].cls),
               jv(rg[r].p_ez), jv(rg[r].p_pz), jv(rg[r].x0_mean), conn->labels[r]);
    if (!strcmp(method, "nuts"))
        print_chains(f);
    const vbt_vep_laplace_result *lr = vbt_fit_laplace_result(f);
    if (lr)
        printf("\nPSIS k-hat %.3f, ESS %.1f of %zu draws\n", lr->khat, lr->ess,
               vbt_fit_n_draws(f));
    const vbt_smc_result *sr = vbt_fit_smc_result(f);
    if (sr)
        printf("\nSMC: log evidence %.4f, %zu tempering steps, HMC acceptance %.2f, step size "
               "%.3g, %zu particles\n", sr->log_evidence, sr->n_steps, sr->mean_accept,
               sr->step_size, vbt_fit_n_draws(f));
    printf("\noutputs in %s (%.2f s)\n", cli_str(p, "output"), vbt_fit_get_timing(f).wall_s);
}

void fit_print(const cli_parsed *p, vbt_fit *f, const vbt_connectome *conn)
{
    if (!p->common.quiet)
        print_table(p, f, conn);
    if (vbt_fit_trustworthy(f)) {
        cli_info(p, "diagnostics passed");
        return;
    }
    fprintf(stderr, "vbt fit: WARNING: DIAGNOSTICS FAILED -- do not trust these results as "
                    "they stand:\n");
    for (size_t i = 0; i < vbt_fit_n_failures(f); i++)
        fprintf(stderr, "  * %s\n", vbt_fit_failure(f, i));
}
