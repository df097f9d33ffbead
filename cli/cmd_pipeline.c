/* cmd_pipeline.c -- `vbt pipeline PATIENT -o OUTDIR`: from a patient folder to
 * an epileptogenic-zone map, propagation, virtual surgery and a report.
 *
 * Steps, each a `vbt` command run in-process into its own folder of OUTDIR:
 *   gain      vbt gain --method volume (PATIENT/parcellation.nii.gz) or centre, for
 *             the contacts of the BIDS electrodes file
 *   features  vbt seeg features (the VEP feature of the seizure)
 *   fit       vbt fit (the Virtual Epileptic Patient's model)
 *   predict   vbt predict (propagation over the posterior draws)
 *   surgery   vbt surgery (PATIENT/resections.txt, one resection a line, and --plan)
 * then report.html, the figures as SVG files (figures/) and results.json.  A step whose inputs
 * (SHA-256) and arguments are those of its last completed run is skipped, so
 * a second run does nothing and an interrupted run resumes where it stopped;
 * each step's folder appears whole or not at all. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "report.h"
#include "strbuf.h"

static const cli_argument args[] = {
    {"PATIENT", CLI_FILE_IN,
     "patient folder: connectome.zip, a BIDS iEEG tree sub-*/ses-*/ieeg/ with the seizure "
     "recording (EDF), channels.tsv, events.tsv (onset), electrodes.tsv + coordsystem.json; "
     "optional resections.txt (one candidate resection a line: labels or indices), "
     "spare.txt (regions never resected) and prior.json (vbt fit's priors, e.g. a clinical "
     "EZ hypothesis; default: the pipeline's, docs/pipeline.md); see README"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUTDIR",
     .doc = "output folder (created; kept between runs so that steps can be skipped)",
     .required = 1},
    {.name = "method", .kind = CLI_TEXT, .metavar = "M", .def = "nuts",
     .choices = "map|laplace|nuts", .doc = "inference method of the fit step"},
    {.name = "points", .kind = CLI_INT, .metavar = "N", .def = "100", .min = 10, .max = 10000,
     .doc = "time points of the fitted SEEG feature"},
    {.name = "target", .kind = CLI_FLOAT, .metavar = "P", .def = "0.9", .min = 0, .max = 1,
     .doc = "probability of seizure freedom the resection plan must reach"},
};

#define MAX_DRAWS 200

/* ---- small helpers ----------------------------------------------------------- */

/* dir/name into buf; an over-long path is cut (and then not found). */
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

/* A JSON file parsed, or NULL when it is missing, unreadable or not JSON. */
static cJSON *read_json(const char *path)
{
    char *text = NULL;
    size_t len;
    vbt_msg msg;
    if (vbt_file_read_all(path, &text, &len, 0, &msg))
        return NULL;
    cJSON *root = cJSON_Parse(text);
    free(text);
    return root;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* First entry of dir whose name starts with prefix (and ends with suffix). */
static int find_entry(const char *dir, const char *prefix, const char *suffix, char *out,
                      size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    char best[512] = "";
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || (suffix && !ends_with(e->d_name, suffix)))
            continue;
        if (!best[0] || strcmp(e->d_name, best) < 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (!best[0])
        return -1;
    snprintf(out, n, "%s/%s", dir, best);
    return 0;
}

/* Split one CSV/TSV line into fields (quotes removed); returns the count. */
static size_t split(char *line, char sep, char **f, size_t max)
{
    size_t k = 0;
    char *s = line;
    while (k < max) {
        if (*s == '"') {
            s++;
            f[k++] = s;
            char *q = strchr(s, '"');
            if (!q)
                break;
            *q = '\0';
            s = q + 1;
            if (*s == sep)
                s++;
            else
                break;
        } else {
            f[k++] = s;
            char *q = strchr(s, sep);
            if (!q)
                break;
            *q = '\0';
            s = q + 1;
        }
    }
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(f[i]);
        while (l && (f[i][l - 1] == '\n' || f[i][l - 1] == '\r'))
            f[i][--l] = '\0';
    }
    return k;
}

/* ---- steps -------------------------------------------------------------------- */

typedef struct pipe {
    const cli_parsed *p;
    const char *out;
    char stamps[4096];
    int ran;                    /* steps run this time */
} pipe_t;

/* Run `argv` (a vbt command) unless its stamp says it is up to date: the
 * stamp records the arguments and the SHA-256 of every input. */
static int step(pipe_t *pp, const char *name, const cli_command *cmd, char **argv,
                const char *const *inputs, const char *result)
{
    char stamp_path[4200], err[1024];
    snprintf(stamp_path, sizeof stamp_path, "%s/%s.txt", pp->stamps, name);
    strbuf st = {0};
    int argc = 0;
    for (; argv[argc]; argc++)
        sb_printf(&st, "arg %s\n", argv[argc]);
    for (size_t i = 0; inputs[i]; i++) {
        /* A directory input (a TVB connectome folder) counts by its files. */
        char files[64][512];
        size_t nf = 0;
        if (is_dir(inputs[i])) {
            DIR *d = opendir(inputs[i]);
            struct dirent *e;
            while (d && (e = readdir(d)) && nf < 64) {
                char fp[4200];
                join(fp, sizeof fp, inputs[i], e->d_name);
                if (e->d_name[0] != '.' && is_file(fp))
                    snprintf(files[nf++], sizeof files[0], "%s", e->d_name);
            }
            if (d)
                closedir(d);
            qsort(files, nf, sizeof files[0], (int (*)(const void *, const void *))strcmp);
        }
        for (size_t f = 0; f < (nf ? nf : 1); f++) {
            char fp[4200], hex[65];
            vbt_msg msg;
            if (nf)
                join(fp, sizeof fp, inputs[i], files[f]);
            else
                snprintf(fp, sizeof fp, "%s", inputs[i]);
            if (vbt_sha256_file(fp, hex, &msg)) {
                cli_error(pp->p, "step %s: %s", name, msg.text);
                free(st.s);
                return -1;
            }
            sb_printf(&st, "input %s %s\n", hex, fp);
        }
    }
    if (st.oom) {
        cli_error(pp->p, "step %s: out of memory", name);
        free(st.s);
        return -1;
    }
    const char *stamp = st.s;
    size_t len = st.len;
    char *old = NULL;
    size_t old_len = 0;
    vbt_msg msg;
    if (is_file(result) && vbt_file_read_all(stamp_path, &old, &old_len, 0, &msg) == 0 &&
        old_len == len && memcmp(old, stamp, len) == 0) {
        cli_info(pp->p, "pipeline: %-9s up to date", name);
        free(old);
        free(st.s);
        return 0;
    }
    free(old);
    cli_info(pp->p, "pipeline: %-9s running", name);
    cli_parsed sub;
    int code = 0;
    if (cli_parse(cmd, argc, argv, 2, &sub, &code) != 0 ||
        cmd->run(&sub) != CLI_OK) {
        cli_error(pp->p, "step %s failed (see the message above)", name);
        free(st.s);
        return -1;
    }
    if (vbt_file_write_atomic(stamp_path, stamp, len, 1, &msg)) {
        snprintf(err, sizeof err, "%s", msg.text);
        cli_error(pp->p, "%s", err);
        free(st.s);
        return -1;
    }
    pp->ran++;
    free(st.s);
    return 0;
}

/* The pipeline's priors for vbt fit (docs/pipeline.md): every region
 * x0 ~ N(-3.5, 0.25), healthy unless the data say otherwise (BVEP 2022's
 * healthy mean; prior mass 0.036 above the PZ threshold per region, so that
 * regions no contact sees do not make draws seize); the window starts at
 * rest, so the initial state is held at (x, z) = (-2, 4) (a free z_init lets
 * a region delay its own onset instead of being recruited); tau0 ~ N(10, 5)
 * on (2, inf) absorbs the seizure's duration; amp (power per seizing region,
 * in units of the largest feature rise) log-normal(0, 3); eps >= 0.05, a
 * floor for model error (without it the fit tunes healthy regions' resting
 * states to time the recruitment).  Written only when missing or different,
 * so that its hash (a fit input) stays put. */
static int write_default_prior(pipe_t *pp, const char *path)
{
    static const char text[] =
        "{\"x0\": {\"mu\": -3.5, \"sd\": 0.15},\n"
        " \"x_init\": {\"mu\": -2.0, \"sd\": 1, \"fixed\": true},\n"
        " \"z_init\": {\"mu\": 4.0, \"sd\": 0.5, \"fixed\": true},\n"
        " \"tau0\": {\"dist\": \"normal\", \"mu\": 10, \"sd\": 5, \"lower\": 2, "
        "\"fixed\": false},\n"
        " \"amp\": {\"dist\": \"lognormal\", \"mu\": 0, \"sd\": 3},\n"
        " \"eps\": {\"dist\": \"normal\", \"mu\": 0, \"sd\": 1, \"lower\": 0.05}}\n";
    char *old = NULL;
    size_t len = 0;
    vbt_msg msg;
    if (is_file(path) && vbt_file_read_all(path, &old, &len, 0, &msg) == 0 &&
        len == sizeof text - 1 && !memcmp(old, text, len)) {
        free(old);
        return 0;
    }
    free(old);
    if (vbt_file_write_atomic(path, text, sizeof text - 1, 1, &msg)) {
        cli_error(pp->p, "%s", msg.text);
        return -1;
    }
    return 0;
}

/* Gain rows in the feature's channel order: the fit needs them aligned. */
static int align_gain(pipe_t *pp, const char *gain_dir, const char *feat_dir, const char *out_npy)
{
    char path[4200];
    vbt_msg msg;
    vbt_array g = {0};
    char *gt = NULL, *ct = NULL;
    size_t gl, cl;
    int st = -1;
    join(path, sizeof path, gain_dir, "gain.npy");
    if (vbt_npy_read(path, &g, &msg) || g.ndim != 2) {
        cli_error(pp->p, "%s", g.ndim == 2 ? msg.text : "gain: expected a 2-d array");
        goto out;
    }
    join(path, sizeof path, gain_dir, "gain.tsv");
    if (vbt_file_read_all(path, &gt, &gl, 0, &msg))
        goto fail_msg;
    join(path, sizeof path, feat_dir, "channels.tsv");
    if (vbt_file_read_all(path, &ct, &cl, 0, &msg))
        goto fail_msg;
    /* gain.tsv: "row name ..." ; channels.tsv: "index name power" */
    const size_t nreg = g.shape[1], nsens = g.shape[0];
    char (*gname)[64] = calloc(nsens, sizeof *gname);
    size_t ng = 0;
    for (char *line = strtok(gt, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[8];
        if (split(line, '\t', f, 8) < 2 || !strcmp(f[0], "row"))
            continue;
        if (ng < nsens)
            snprintf(gname[ng++], 64, "%s", f[1]);
    }
    size_t nch = 0;
    double *ag = malloc(nsens * nreg * sizeof *ag);
    for (char *line = strtok(ct, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[8];
        if (split(line, '\t', f, 8) < 2 || !strcmp(f[0], "index"))
            continue;
        size_t r = 0;
        while (r < ng && strcmp(gname[r], f[1]))
            r++;
        if (r == ng) {
            cli_error(pp->p, "features channel '%s' has no contact in the electrodes file", f[1]);
            free(gname);
            free(ag);
            goto out;
        }
        memcpy(ag + nch * nreg, g.data + r * nreg, nreg * sizeof *ag);
        nch++;
    }
    size_t shape[2] = {nch, nreg};
    st = vbt_npy_write(out_npy, ag, 2, shape, 1, &msg) ? -1 : 0;
    if (st)
        cli_error(pp->p, "%s", msg.text);
    free(gname);
    free(ag);
    goto out;
fail_msg:
    cli_error(pp->p, "%s", msg.text);
out:
    vbt_array_clear(&g);
    free(gt);
    free(ct);
    return st;
}

/* Whether a Laplace fit's summaries used its PSIS weights (summary.json
 * diagnostics.weights "psis"). */
static int psis_weights_used(const cJSON *summary)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(summary, "diagnostics"), "weights");
    return cJSON_IsString(w) && !strcmp(w->valuestring, "psis");
}

/* K and tau0 at a MAP fit's mode (summary.json map.mode), else vbt fit's
 * fixed values 1 and 10 when the fit held them. */
static void map_mode_scalars(const cJSON *summary, double *K, double *tau0)
{
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(summary, "map"), "mode");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(mode, "K"),
                *t = cJSON_GetObjectItemCaseSensitive(mode, "tau0");
    *K = cJSON_IsNumber(k) ? k->valuedouble : 1.0;
    *tau0 = cJSON_IsNumber(t) ? t->valuedouble : 10.0;
}

/* Posterior draws of x0 [draw, region], K and tau0 [draw] from the fit. */
static int extract_draws(pipe_t *pp, const char *fit_dir, size_t n, const char *x0_npy,
                         const char *k_npy, const char *tau_npy)
{
    char path[4200];
    vbt_msg msg;
    char *csv = NULL;
    size_t len;
    vbt_array d = {0};
    int st = -1;
    join(path, sizeof path, fit_dir, "summary.csv");
    if (vbt_file_read_all(path, &csv, &len, 0, &msg)) {
        cli_error(pp->p, "%s", msg.text);
        return -1;
    }
    join(path, sizeof path, fit_dir, "summary.json");
    cJSON *summary = read_json(path);
    /* parameter order = rows of summary.csv */
    long *x0i = calloc(n, sizeof *x0i), ki = -1, ti = -1;
    size_t row = 0;
    for (size_t i = 0; i < n; i++)
        x0i[i] = -1;
    for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[4];
        if (split(line, ',', f, 4) < 1 || row++ == 0)
            continue;
        size_t k = row - 2;
        unsigned idx;
        if (sscanf(f[0], "x0[%u]", &idx) == 1 && idx >= 1 && idx <= n)
            x0i[idx - 1] = (long)k;
        else if (!strcmp(f[0], "K"))
            ki = (long)k;
        else if (!strcmp(f[0], "tau0"))
            ti = (long)k;
    }
    join(path, sizeof path, fit_dir, "draws.npy");
    double *x0 = NULL, *kd = NULL, *td = NULL;
    size_t D = 1, P = 0;
    if (is_file(path)) {
        if (vbt_npy_read(path, &d, &msg) || d.ndim != 3) {
            cli_error(pp->p, "%s: expected [chain, draw, parameter]", path);
            goto out;
        }
        D = d.shape[0] * d.shape[1];
        P = d.shape[2];
    }
    /* At most MAX_DRAWS draws go on to the forward simulations: enough for
     * probabilities to 0.01, and planning stays fast.  Evenly spaced; for a
     * Laplace fit whose PSIS weights the summaries used, a systematic
     * resample by those weights (u = 1/2: deterministic), so that the
     * predictions follow the same posterior as the fit's probabilities. */
    const size_t keep = D > MAX_DRAWS ? MAX_DRAWS : D;
    x0 = malloc(keep * n * sizeof *x0);
    kd = malloc(keep * sizeof *kd);
    td = malloc(keep * sizeof *td);
    size_t *pick = malloc(keep * sizeof *pick);
    double *lw = NULL;
    if (!x0 || !kd || !td || !pick) {
        free(pick);
        cli_error(pp->p, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < keep; k++)
        pick[k] = k * D / keep;
    if (P && psis_weights_used(summary)) {
        vbt_array w = {0};
        join(path, sizeof path, fit_dir, "log_weights.npy");
        if (vbt_npy_read(path, &w, &msg) == 0 && w.ndim == 1 && w.shape[0] == D &&
            (lw = malloc(D * sizeof *lw)) != NULL) {
            double mx = -HUGE_VAL, tot = 0.0, c = 0.0;
            for (size_t j = 0; j < D; j++)
                mx = fmax(mx, w.data[j]);
            for (size_t j = 0; j < D; j++)
                tot += lw[j] = isfinite(w.data[j]) ? exp(w.data[j] - mx) : 0.0;
            size_t j = 0;
            c = tot > 0 ? lw[0] / tot : 1.0;
            for (size_t k = 0; k < keep && tot > 0; k++) {
                double u = ((double)k + 0.5) / (double)keep;
                while (u > c && j + 1 < D)
                    c += lw[++j] / tot;
                pick[k] = j;
            }
        }
        vbt_array_clear(&w);
        free(lw);
    }
    if (P) {
        for (size_t k = 0; k < keep; k++) {
            size_t s = pick[k];
            for (size_t i = 0; i < n; i++)
                x0[k * n + i] = x0i[i] >= 0 ? d.data[s * P + (size_t)x0i[i]] : -3.5;
            kd[k] = ki >= 0 ? d.data[s * P + (size_t)ki] : 1.0;
            td[k] = ti >= 0 ? d.data[s * P + (size_t)ti] : 10.0; /* vbt fit's fixed tau0 */
        }
        D = keep;
    } else {
        /* MAP: the mode is the one "draw" (regions.csv has its x0). */
        char *rc = NULL;
        size_t rl;
        join(path, sizeof path, fit_dir, "regions.csv");
        if (vbt_file_read_all(path, &rc, &rl, 0, &msg)) {
            cli_error(pp->p, "%s", msg.text);
            goto out;
        }
        size_t r = 0;
        for (char *line = strtok(rc, "\n"); line; line = strtok(NULL, "\n")) {
            char *f[12];
            if (split(line, ',', f, 12) < 3 || !strcmp(f[0], "region"))
                continue;
            if (r < n)
                x0[r++] = atof(f[2]);
        }
        free(rc);
        map_mode_scalars(summary, &kd[0], &td[0]);
    }
    free(pick);
    size_t sx[2] = {D, n}, sk[1] = {D};
    if (vbt_npy_write(x0_npy, x0, 2, sx, 1, &msg) || vbt_npy_write(k_npy, kd, 1, sk, 1, &msg) ||
        vbt_npy_write(tau_npy, td, 1, sk, 1, &msg)) {
        cli_error(pp->p, "%s", msg.text);
        goto out;
    }
    st = 0;
out:
    free(x0i);
    free(x0);
    free(kd);
    free(td);
    free(csv);
    cJSON_Delete(summary);
    vbt_array_clear(&d);
    return st;
}

/* ---- results.json and the report ------------------------------------------------ */

static double num_or_nan(const char *s)
{
    if (!s || !*s || !strcmp(s, "nan") || !strcmp(s, "NaN"))
        return NAN;
    return atof(s);
}

/* Precision and recall of the fit against a list of regions (a clinical
 * hypothesis or a synthetic patient's ground truth): the predicted set is
 * P(EZ) > 0.5 for zone "EZ", P(EZ) + P(PZ) > 0.5 for zone "EZ+PZ" (the
 * epileptogenic network).  Precision is null when nothing is predicted,
 * recall when the list is empty. */
static cJSON *evaluate(const report_region *reg, size_t n, const char *against,
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

/* A region list as the patient folder writes it (hypothesis.txt, spare.txt,
 * one line of resections.txt): lines and '#' comments become one comma list,
 * in place, without empty items or trailing separators. */
static void region_list_text(char *text)
{
    int comment = 0;
    for (char *c = text; *c; c++) {
        if (*c == '\n' || *c == '\r') {
            comment = 0;
            *c = ',';
        } else if (comment || *c == '#') {
            comment = 1;
            *c = ' ';
        }
    }
    char *w = text;
    for (char *r = text; *r; r++) {
        if ((*r == ',' || *r == ' ' || *r == '\t') && (w == text || w[-1] == ','))
            continue;
        *w++ = *r;
    }
    while (w > text && (w[-1] == ',' || w[-1] == ' ' || w[-1] == '\t'))
        w--;
    *w = '\0';
}

/* results.json "evaluation": against PATIENT/hypothesis.txt (the clinical EZ
 * hypothesis: labels or indices, comma- or line-separated) and against
 * ground_truth.json (EZ, and EZ + PZ).  -1 with a message on a bad file. */
static int add_evaluation(pipe_t *pp, cJSON *res, const char *patient,
                          const vbt_connectome *conn, const report_region *reg, size_t n)
{
    char path[4200];
    vbt_msg msg;
    cJSON *ev = cJSON_AddArrayToObject(res, "evaluation");
    unsigned char *set = calloc(n, 1);
    size_t *idx = malloc(n * sizeof *idx);
    int st = -1;
    if (!set || !idx) {
        cli_error(pp->p, "out of memory");
        goto out;
    }
    join(path, sizeof path, patient, "hypothesis.txt");
    if (is_file(path)) {
        char *text = NULL;
        size_t len, k = 0;
        if (vbt_file_read_all(path, &text, &len, (size_t)1 << 20, &msg)) {
            cli_error(pp->p, "%s", msg.text);
            goto out;
        }
        region_list_text(text);
        int bad = vbt_surgery_parse_regions(conn, text, idx, n, &k, &msg);
        free(text);
        if (bad) {
            cli_error(pp->p, "'%s': %s", path, msg.text);
            goto out;
        }
        for (size_t i = 0; i < k; i++)
            set[idx[i]] = 1;
        cJSON_AddItemToArray(ev, evaluate(reg, n, "hypothesis.txt", "EZ", set));
    }
    int has_truth = 0;
    for (size_t i = 0; i < n; i++)
        has_truth |= reg[i].truth != 0;
    if (has_truth) {
        for (size_t i = 0; i < n; i++)
            set[i] = reg[i].truth == 1;
        cJSON_AddItemToArray(ev, evaluate(reg, n, "ground_truth.json", "EZ", set));
        for (size_t i = 0; i < n; i++)
            set[i] = reg[i].truth != 0;
        cJSON_AddItemToArray(ev, evaluate(reg, n, "ground_truth.json", "EZ+PZ", set));
    }
    st = 0;
out:
    free(set);
    free(idx);
    return st;
}

static int finish(pipe_t *pp, const char *patient, const char *conn_path, const char *method,
                  const char *fitd, const char *predd, const char *surgd, const char *featd)
{
    char path[4200];
    vbt_msg msg;
    vbt_connectome *conn = NULL;
    int st = -1;
    if (vbt_connectome_load(&conn, conn_path, &msg)) {
        cli_error(pp->p, "%s", msg.text);
        return -1;
    }
    const size_t n = conn->n;
    report_region *reg = calloc(n, sizeof *reg);
    report_scenario scen[64];
    size_t nscen = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(reg[i].label, sizeof reg[i].label, "%s", conn->labels[i]);
        reg[i].onset_median = reg[i].onset_q5 = reg[i].onset_q95 = NAN;
    }
    /* ground truth of a sample patient, when shipped */
    char *text = NULL;
    size_t len;
    join(path, sizeof path, patient, "ground_truth.json");
    cJSON *gt = is_file(path) ? read_json(path) : NULL;
    const char *zones[2] = {"EZ", "PZ"};
    for (int z = 0; z < 2 && gt; z++) {
        cJSON *rs = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(gt, zones[z]), "regions");
        for (cJSON *it = rs ? rs->child : NULL; it; it = it->next)
            if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < (double)n)
                reg[(size_t)it->valuedouble].truth = z + 1;
    }
    cJSON_Delete(gt);
    /* fit: regions.csv region,label,x0_mean,x0_sd,x0_q5,x0_q95,p_ez,p_pz,p_hz,class */
    join(path, sizeof path, fitd, "regions.csv");
    if (vbt_file_read_all(path, &text, &len, 0, &msg) == 0) {
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            char *f[12];
            if (split(line, ',', f, 12) < 9 || !strcmp(f[0], "region"))
                continue;
            size_t r = (size_t)atol(f[0]);
            if (r >= n)
                continue;
            reg[r].x0_mean = atof(f[2]);
            reg[r].x0_q5 = atof(f[4]);
            reg[r].x0_q95 = atof(f[5]);
            reg[r].p_ez = atof(f[6]);
            reg[r].p_pz = atof(f[7]);
            reg[r].p_hz = atof(f[8]);
        }
    }
    free(text);
    text = NULL;
    /* predict: recruitment.csv region,label,p_recruited,onset_mean,onset_sd,onset_median,... */
    join(path, sizeof path, predd, "recruitment.csv");
    if (vbt_file_read_all(path, &text, &len, 0, &msg) == 0) {
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            char *f[12];
            if (split(line, ',', f, 12) < 8 || !strcmp(f[0], "region"))
                continue;
            size_t r = (size_t)atol(f[0]);
            if (r >= n)
                continue;
            reg[r].p_recruited = atof(f[2]);
            reg[r].onset_median = num_or_nan(f[5]);
            reg[r].onset_q5 = num_or_nan(f[6]);
            reg[r].onset_q95 = num_or_nan(f[7]);
        }
    }
    free(text);
    text = NULL;
    /* surgery: surgery.csv scenario,resected,resected_indices,n_resected,p_seizure_freedom,... */
    join(path, sizeof path, surgd, "surgery.csv");
    if (vbt_file_read_all(path, &text, &len, 0, &msg) == 0) {
        for (char *line = strtok(text, "\n"); line && nscen < 64; line = strtok(NULL, "\n")) {
            char *f[8];
            if (split(line, ',', f, 8) < 5 || !strcmp(f[0], "scenario"))
                continue;
            snprintf(scen[nscen].name, sizeof scen[0].name, "%s", f[0]);
            scen[nscen].n_resected = atoi(f[3]);
            scen[nscen].p_freedom = atof(f[4]);
            nscen++;
        }
    }
    free(text);
    text = NULL;
    char plan[1024] = "";
    cJSON *sj = NULL, *fj = NULL;
    join(path, sizeof path, surgd, "run.json");
    sj = read_json(path);
    cJSON *pj = cJSON_GetObjectItemCaseSensitive(sj, "plan");
    if (pj) {
        size_t pl = 0;
        cJSON *m = cJSON_GetObjectItemCaseSensitive(pj, "method");
        cJSON *pf = cJSON_GetObjectItemCaseSensitive(pj, "p_seizure_freedom");
        pl += (size_t)snprintf(plan, sizeof plan, "Resection plan (%s search): resect {",
                               cJSON_IsString(m) ? m->valuestring : "?");
        cJSON *rs = cJSON_GetObjectItemCaseSensitive(pj, "resect");
        for (cJSON *it = rs ? rs->child : NULL; it && pl < sizeof plan - 80; it = it->next) {
            cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
            pl += (size_t)snprintf(plan + pl, sizeof plan - pl, "%s%s", it == rs->child ? "" : ", ",
                                   cJSON_IsString(lab) ? lab->valuestring : "?");
        }
        snprintf(plan + pl, sizeof plan - pl, "}, P(seizure freedom) = %.3f",
                 cJSON_IsNumber(pf) ? pf->valuedouble : NAN);
    }
    join(path, sizeof path, fitd, "summary.json");
    fj = read_json(path);
    cJSON *diag = cJSON_GetObjectItemCaseSensitive(fj, "diagnostics");
    /* feature and posterior predictive */
    vbt_array feat = {0}, pred = {0};
    char (*chan)[64] = NULL;
    /* the feature as the fit saw it (the predictive's units), else as computed */
    const char *feat_label = "SEEG power above baseline as fitted";
    join(path, sizeof path, fitd, "data.npy");
    if (vbt_npy_read(path, &feat, &msg)) {
        feat_label = "SEEG feature (log power)";
        join(path, sizeof path, featd, "features.npy");
        vbt_npy_read(path, &feat, &msg);
    }
    join(path, sizeof path, fitd, "predictive.npy");
    vbt_npy_read(path, &pred, &msg);
    if (feat.ndim == 2) {
        chan = calloc(feat.shape[1], sizeof *chan);
        join(path, sizeof path, featd, "channels.tsv");
        if (vbt_file_read_all(path, &text, &len, 0, &msg) == 0) {
            size_t c = 0;
            for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char *f[4];
                if (split(line, '\t', f, 4) >= 2 && strcmp(f[0], "index") && c < feat.shape[1])
                    snprintf(chan[c++], 64, "%s", f[1]);
            }
        }
        free(text);
        text = NULL;
    }
    int pred_ok = pred.ndim == 3 && pred.shape[0] == 3 && feat.ndim == 2 &&
                  pred.shape[1] == feat.shape[0] && pred.shape[2] == feat.shape[1];
    /* results.json: the machine-readable answer (schema in docs/pipeline.md) */
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "schema", "vbt.results/1");
    cJSON_AddStringToObject(res, "vbt_version", vbt_version());
    cJSON_AddStringToObject(res, "patient", patient);
    cJSON_AddStringToObject(res, "method", method);
    cJSON *ra = cJSON_AddArrayToObject(res, "regions");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)i);
        cJSON_AddStringToObject(o, "label", reg[i].label);
        cJSON_AddNumberToObject(o, "p_ez", reg[i].p_ez);
        cJSON_AddNumberToObject(o, "p_pz", reg[i].p_pz);
        cJSON_AddNumberToObject(o, "p_hz", reg[i].p_hz);
        cJSON_AddNumberToObject(o, "x0_mean", reg[i].x0_mean);
        cJSON_AddNumberToObject(o, "x0_q5", reg[i].x0_q5);
        cJSON_AddNumberToObject(o, "x0_q95", reg[i].x0_q95);
        cJSON_AddNumberToObject(o, "p_recruited", reg[i].p_recruited);
        const char *onk[3] = {"onset_median", "onset_q5", "onset_q95"};
        const double onv[3] = {reg[i].onset_median, reg[i].onset_q5, reg[i].onset_q95};
        for (int q = 0; q < 3; q++) {
            if (isnan(onv[q]))
                cJSON_AddNullToObject(o, onk[q]);
            else
                cJSON_AddNumberToObject(o, onk[q], onv[q]);
        }
        cJSON_AddItemToArray(ra, o);
    }
    cJSON *sa = cJSON_AddArrayToObject(res, "surgery");
    for (size_t k = 0; k < nscen; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "resection", scen[k].name);
        cJSON_AddNumberToObject(o, "n_regions", scen[k].n_resected);
        cJSON_AddNumberToObject(o, "p_seizure_freedom", scen[k].p_freedom);
        cJSON_AddItemToArray(sa, o);
    }
    if (pj)
        cJSON_AddItemToObject(res, "plan", cJSON_Duplicate(pj, 1));
    if (diag)
        cJSON_AddItemToObject(res, "diagnostics", cJSON_Duplicate(diag, 1));
    char *rtxt = NULL;
    if (add_evaluation(pp, res, patient, conn, reg, n))
        goto out;
    rtxt = cJSON_Print(res);
    join(path, sizeof path, pp->out, "results.json");
    if (!rtxt || vbt_file_write_atomic(path, rtxt, strlen(rtxt), 1, &msg)) {
        cli_error(pp->p, "%s", rtxt ? msg.text : "out of memory");
        goto out;
    }
    /* report */
    char prov[2048], err[1024];
    snprintf(prov, sizeof prov, "<p>Each step's folder holds its own <code>run.json</code> "
             "(command, vbt version, seed, SHA-256 of every input).  Steps: "
             "<code>gain/</code>, <code>features/</code>, <code>fit/</code>, "
             "<code>predict/</code>, <code>surgery/</code>; machine-readable results in "
             "<code>results.json</code>.</p>");
    report_eval ev[8];
    size_t n_ev = 0;
    const cJSON *evj;
    cJSON_ArrayForEach(evj, cJSON_GetObjectItemCaseSensitive(res, "evaluation")) {
        if (n_ev == sizeof ev / sizeof ev[0])
            break;
        report_eval *e = &ev[n_ev++];
        snprintf(e->against, sizeof e->against, "%s",
                 cJSON_GetObjectItemCaseSensitive(evj, "against")->valuestring);
        snprintf(e->zone, sizeof e->zone, "%s",
                 cJSON_GetObjectItemCaseSensitive(evj, "zone")->valuestring);
        e->n_list = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(evj, "regions"));
        e->n_pred = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(evj, "predicted"));
        e->tp = (size_t)cJSON_GetObjectItemCaseSensitive(evj, "true_positives")->valuedouble;
    }
    report_input in = {
        .patient = patient, .outdir = pp->out, .method = method, .version = vbt_version(),
        .conn = conn, .n = n, .regions = reg, .n_scen = nscen, .scen = scen,
        .plan_text = plan[0] ? plan : NULL,
        .feature = feat.ndim == 2 ? feat.data : NULL, .pred = pred_ok ? pred.data : NULL,
        .feature_label = feat_label,
        .T = feat.ndim == 2 ? feat.shape[0] : 0, .S = feat.ndim == 2 ? feat.shape[1] : 0,
        .chan = chan, .eval = ev, .n_eval = n_ev, .fit_summary = fj,
        .provenance_html = prov,
    };
    if (report_write(&in, err, sizeof err)) {
        cli_error(pp->p, "report: %s", err);
        goto out;
    }
    st = 0;
out:
    free(rtxt);
    cJSON_Delete(res);
    cJSON_Delete(sj);
    cJSON_Delete(fj);
    free(chan);
    vbt_array_clear(&feat);
    vbt_array_clear(&pred);
    free(reg);
    vbt_connectome_free(conn);
    return st;
}

/* "X,Z" when the fit's priors hold both x_init and z_init fixed (at their
 * mu), so that predict and surgery start where the fitted model did; ""
 * otherwise (they then start at a rest state). */
static void held_initial_state(const char *prior, char *buf, size_t n)
{
    buf[0] = '\0';
    cJSON *root = read_json(prior);
    const cJSON *xi = cJSON_GetObjectItemCaseSensitive(root, "x_init"),
                *zi = cJSON_GetObjectItemCaseSensitive(root, "z_init");
    const cJSON *xm = cJSON_GetObjectItemCaseSensitive(xi, "mu"),
                *zm = cJSON_GetObjectItemCaseSensitive(zi, "mu");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(xi, "fixed")) &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(zi, "fixed")) && cJSON_IsNumber(xm) &&
        cJSON_IsNumber(zm))
        snprintf(buf, n, "%.17g,%.17g", xm->valuedouble, zm->valuedouble);
    cJSON_Delete(root);
}

/* The patient's region lists (resections.txt, one scenario a line; spare.txt)
 * name regions of the connectome: checked before any step runs, so that a
 * typo fails at once, naming the file and line, instead of after the fit.
 * 0, or -1 with the error reported. */
static int check_region_files(pipe_t *pp, const char *patient, const char *conn_path)
{
    static const char *const files[2] = {"resections.txt", "spare.txt"};
    char path[4300];
    vbt_connectome *conn = NULL;
    vbt_msg msg;
    size_t *idx = NULL;
    char *text = NULL;
    int st = -1;
    for (int f = 0; f < 2; f++) {
        join(path, sizeof path, patient, files[f]);
        if (!is_file(path))
            continue;
        size_t len, line = 0;
        if (!conn && vbt_connectome_load(&conn, conn_path, &msg)) {
            cli_error(pp->p, "%s", msg.text);
            goto out;
        }
        if (!idx && !(idx = malloc(conn->n * sizeof *idx))) {
            cli_error(pp->p, "out of memory");
            goto out;
        }
        if (vbt_file_read_all(path, &text, &len, (size_t)1 << 20, &msg)) {
            cli_error(pp->p, "%s", msg.text);
            goto out;
        }
        /* resections.txt: each line a list; spare.txt: the whole file one list */
        for (char *l = f == 0 ? strtok(text, "\n") : text; l;
             l = f == 0 ? strtok(NULL, "\n") : NULL) {
            size_t k;
            line++;
            region_list_text(l);
            if (*l && vbt_surgery_parse_regions(conn, l, idx, conn->n, &k, &msg)) {
                if (f == 0)
                    cli_error(pp->p, "'%s' line %zu: %s", path, line, msg.text);
                else
                    cli_error(pp->p, "'%s': %s", path, msg.text);
                goto out;
            }
        }
        free(text);
        text = NULL;
    }
    st = 0;
out:
    free(text);
    free(idx);
    vbt_connectome_free(conn);
    return st;
}

/* ---- the command ------------------------------------------------------------------ */

static int run(const cli_parsed *p)
{
    const char *patient = p->args[0], *out = cli_str(p, "output"),
               *method = cli_str(p, "method");
    pipe_t pp = {.p = p, .out = out};
    char conn[4200], ieeg[4200], sub[4200], ses[4200], elec[4200], subname[256];
    if (!is_dir(patient)) {
        cli_error(p, "'%s': not a patient folder", patient);
        return CLI_ERROR;
    }
    join(conn, sizeof conn, patient, "connectome.zip");
    if (!is_file(conn))
        join(conn, sizeof conn, patient, "connectome");
    if (!is_file(conn) && !is_dir(conn)) {
        cli_error(p, "'%s': no connectome.zip or connectome/ (build one with 'vbt connectome "
                     "build')", patient);
        return CLI_ERROR;
    }
    if (find_entry(patient, "sub-", NULL, sub, sizeof sub) || !is_dir(sub) ||
        find_entry(sub, "ses-", NULL, ses, sizeof ses)) {
        cli_error(p, "'%s': no BIDS sub-*/ses-* folder", patient);
        return CLI_ERROR;
    }
    join(ieeg, sizeof ieeg, ses, "ieeg");
    if (find_entry(ieeg, "sub-", "_electrodes.tsv", elec, sizeof elec)) {
        cli_error(p, "'%s': no *_electrodes.tsv", ieeg);
        return CLI_ERROR;
    }
    snprintf(subname, sizeof subname, "%s", strrchr(sub, '/') + 1 + 4);
    if (check_region_files(&pp, patient, conn))
        return CLI_ERROR;
    if (mkdir(out, 0777) && errno != EEXIST) {
        cli_error(p, "'%s': %s", out, strerror(errno));
        return CLI_ERROR;
    }
    snprintf(pp.stamps, sizeof pp.stamps, "%s/.stamps", out);
    mkdir(pp.stamps, 0777);

    char d_gain[4200], d_feat[4200], d_fit[4200], d_pred[4200], d_surg[4200], d_draws[4200];
    char gain_npy[4300], aligned[4300], feat_npy[4300], x0_npy[4300], k_npy[4300],
        tau_npy[4300];
    join(d_gain, sizeof d_gain, out, "gain");
    join(d_feat, sizeof d_feat, out, "features");
    join(d_fit, sizeof d_fit, out, "fit");
    join(d_pred, sizeof d_pred, out, "predict");
    join(d_surg, sizeof d_surg, out, "surgery");
    join(d_draws, sizeof d_draws, out, "draws");
    mkdir(d_gain, 0777);
    mkdir(d_draws, 0777);
    join(gain_npy, sizeof gain_npy, d_gain, "gain.npy");
    join(aligned, sizeof aligned, d_draws, "gain_aligned.npy");
    join(feat_npy, sizeof feat_npy, d_feat, "features.npy");
    join(x0_npy, sizeof x0_npy, d_draws, "x0.npy");
    join(k_npy, sizeof k_npy, d_draws, "K.npy");
    join(tau_npy, sizeof tau_npy, d_draws, "tau0.npy");
    char seed[32], threads[32];
    snprintf(seed, sizeof seed, "%llu",
             (unsigned long long)(p->common.seed_given ? p->common.seed : 42));
    snprintf(threads, sizeof threads, "%ld", p->common.threads);
    char *q = "-q";

    /* The volume gain when the patient has a parcellation (in the contacts'
     * space), else the region-centre formula. */
    char parc[4200], plab[4200], pmap[4200];
    join(parc, sizeof parc, patient, "parcellation.nii.gz");
    if (!is_file(parc))
        join(parc, sizeof parc, patient, "parcellation.nii");
    join(plab, sizeof plab, patient, "parcellation_labels.tsv");
    if (!is_file(plab))
        join(plab, sizeof plab, patient, "parcellation_labels.csv");
    join(pmap, sizeof pmap, patient, "parcellation_names.tsv");
    int volume = is_file(parc);
    if (volume && !is_file(plab)) {
        cli_error(p, "'%s': parcellation.nii.gz needs parcellation_labels.tsv (or .csv)",
                  patient);
        return CLI_ERROR;
    }
    char *a_gain[20] = {"vbt", "gain", "--contacts", elec, "--connectome", conn, "-o", gain_npy,
                        "--force", q, "--method"};
    const char *i_gain[6] = {elec, conn};
    size_t ng = 11, ni = 2;
    if (volume) {
        char *extra[] = {"volume", "--parcellation", parc, "--labels", plab, "--name-map", pmap};
        size_t ne = is_file(pmap) ? 7 : 5;
        for (size_t k = 0; k < ne; k++)
            a_gain[ng++] = extra[k];
        i_gain[ni++] = parc;
        i_gain[ni++] = plab;
        if (ne == 7)
            i_gain[ni++] = pmap;
    } else {
        a_gain[ng++] = "centre";
    }
    if (step(&pp, "gain", &cli_cmd_gain, a_gain, i_gain, gain_npy))
        return CLI_ERROR;

    char rec[4300];
    if (find_entry(ieeg, "sub-", "_ieeg.edf", rec, sizeof rec)) {
        cli_error(p, "'%s': no *_ieeg.edf recording", ieeg);
        return CLI_ERROR;
    }
    /* The window spans 0.69 seizure durations before the onset and 0.5 after the
     * offset: with --dt 0.175 at 100 points the seizure lasts 8 model time units
     * and starts 5.5 units in, as the 2D Epileptor's does from (x, z) = (-2, 4)
     * at x0 = -1.6 and tau0 = 10 (docs/pipeline.md). */
    char *a_feat[] = {"vbt", "seeg", "features", (char *)patient, "--sub", subname, "--points",
                      (char *)cli_str(p, "points"), "--pre-scale", "0.69", "--post-scale", "0.5",
                      "-o", d_feat, "--force", q, NULL};
    const char *i_feat[] = {rec, NULL};
    if (step(&pp, "features", &cli_cmd_seeg, a_feat, i_feat, feat_npy) ||
        align_gain(&pp, d_gain, d_feat, aligned))
        return CLI_ERROR;

    char summary[4300];
    join(summary, sizeof summary, d_fit, "summary.json");
    /* The fit's priors: the patient's prior.json, else the pipeline's own
     * (written once into OUTDIR; docs/pipeline.md). */
    char prior[4300], dt[32];
    join(prior, sizeof prior, patient, "prior.json");
    if (!is_file(prior)) {
        join(prior, sizeof prior, out, "prior.json");
        if (write_default_prior(&pp, prior))
            return CLI_ERROR;
    }
    snprintf(dt, sizeof dt, "%.6g", 17.5 / (double)cli_float(p, "points"));
    char *a_fit[] = {"vbt", "fit", "--connectome", conn, "--gain", aligned, "--data", feat_npy,
                     "--prior", prior, "--method", (char *)method, "--obs", "seizure",
                     "--data-norm", "excess", "--gain-norm", "power-abs", "--dt", dt,
                     "--starts", "256", "--map-init", "data", "--seed", seed, "--threads",
                     threads, "-o", d_fit, "--force", q, NULL, NULL, NULL, NULL, NULL, NULL,
                     NULL, NULL, NULL};
    if (!strcmp(method, "nuts")) {
        /* NUTS from the best mode with the Laplace covariance as a fixed metric
         * (docs/fitting.md: on the sample patient, R-hat <= 1.007, 0 divergences,
         * 17 s for 4 chains on 2 threads) */
        char *extra[] = {"--metric", "laplace", "--warmup", "500", "--draws", "1000",
                         "--adapt-delta", "0.95"};
        size_t at = 0;
        while (a_fit[at])
            at++;
        memcpy(a_fit + at, extra, sizeof extra);
    }
    const char *i_fit[] = {conn, aligned, feat_npy, prior, NULL};
    if (step(&pp, "fit", &cli_cmd_fit, a_fit, i_fit, summary))
        return CLI_ERROR;
    vbt_connectome *cn;
    vbt_msg msg;
    if (vbt_connectome_load(&cn, conn, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    const size_t n = cn->n;
    vbt_connectome_free(cn);
    if (extract_draws(&pp, d_fit, n, x0_npy, k_npy, tau_npy))
        return CLI_ERROR;

    char rec_csv[4300];
    join(rec_csv, sizeof rec_csv, d_pred, "recruitment.csv");
    char init[80];
    held_initial_state(prior, init, sizeof init);
    char *a_pred[] = {"vbt", "predict", "-c", conn, "-d", x0_npy, "--k-npy", k_npy,
                      "--tau0-npy", tau_npy, "--seed", seed, "--threads", threads, "-o", d_pred,
                      "--force", q, init[0] ? "--init-state" : NULL, init, NULL};
    const char *i_pred[] = {conn, x0_npy, k_npy, tau_npy, NULL};
    if (step(&pp, "predict", &cli_cmd_predict, a_pred, i_pred, rec_csv))
        return CLI_ERROR;

    /* Candidate resections (one a line, '#' comments) and spared regions from the patient folder. */
    char *a_surg[96] = {"vbt", "surgery", "-c", conn, "-d", x0_npy, "--k-npy", k_npy,
                        "--tau0-npy", tau_npy, "--plan", "--target", (char *)cli_str(p, "target"),
                        "--seed", seed, "--threads", threads, "-o", d_surg, "--force", q};
    size_t na = 21;
    if (init[0]) {
        a_surg[na++] = "--init-state";
        a_surg[na++] = init;
    }
    char *lines = NULL, *spare = NULL, rpath[4300], spath[4300];
    size_t len;
    join(rpath, sizeof rpath, patient, "resections.txt");
    join(spath, sizeof spath, patient, "spare.txt");
    if (is_file(rpath) && vbt_file_read_all(rpath, &lines, &len, 0, &msg) == 0)
        for (char *l = strtok(lines, "\n\r"); l && na < 90; l = strtok(NULL, "\n\r")) {
            region_list_text(l); /* one scenario: its comment and blanks dropped */
            if (*l) {
                a_surg[na++] = "--resect";
                a_surg[na++] = l;
            }
        }
    if (is_file(spath) && vbt_file_read_all(spath, &spare, &len, 0, &msg) == 0) {
        region_list_text(spare);
        if (*spare) {
            a_surg[na++] = "--spare";
            a_surg[na++] = spare;
        }
    }
    a_surg[na] = NULL;
    char surg_csv[4300];
    join(surg_csv, sizeof surg_csv, d_surg, "surgery.csv");
    const char *i_surg[] = {conn, x0_npy, k_npy, tau_npy, is_file(rpath) ? rpath : NULL,
                            is_file(spath) ? spath : NULL, NULL};
    if (!i_surg[4]) {
        i_surg[4] = i_surg[5];
        i_surg[5] = NULL;
    }
    int bad = step(&pp, "surgery", &cli_cmd_surgery, a_surg, i_surg, surg_csv);
    free(lines);
    free(spare);
    if (bad || finish(&pp, patient, conn, method, d_fit, d_pred, d_surg, d_feat))
        return CLI_ERROR;
    cli_info(p, "pipeline: %d step(s) run, the others were up to date", pp.ran);
    printf("report: %s/report.html\nresults: %s/results.json\n", out, out);
    return CLI_OK;
}

const cli_command cli_cmd_pipeline = {
    .name = "pipeline",
    .synopsis = "from a patient folder to an EZ map, propagation, virtual surgery and a report",
    .description =
        "Runs, in OUTDIR, the gain matrix of the patient's SEEG contacts (vbt gain), the SEEG "
        "feature of the seizure (vbt seeg features), the Bayesian fit of the Virtual Epileptic "
        "Patient (vbt fit), seizure propagation over the posterior draws (vbt predict) and "
        "virtual surgery with a resection plan (vbt surgery), then writes report.html (one "
        "self-contained page with every figure), figures/*.svg and results.json (schema "
        "vbt.results/1).  A step whose inputs and arguments have not changed since it last "
        "completed is skipped: a second run does nothing, an interrupted run resumes.",
    .args = args,
    .n_args = 1,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = NULL,
    .run = run,
};
