/* pipeline_draws.c -- the pipeline's glue between steps: the gain rows in
 * the feature's channel order (the fit's gain), the posterior draws the
 * forward simulations use, and the fit's held initial state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline_internal.h"
#include "vbt_text.h"

#define MAX_DRAWS VBT__PIPE_MAX_DRAWS

/* dir/name into buf; an over-long path is cut (and then not found). */
static void join(char *buf, size_t n, const char *dir, const char *name)
{
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n)
        buf[n - 1] = '\0';
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

size_t vbt__pipe_record(char **pos, char sep, char **f, size_t max)
{
    size_t n = vbt_csv_record(pos, sep, f, max);
    return n == 1 && !*f[0] ? 0 : n;
}

/* A JSON file parsed, or NULL when it is missing, unreadable or not JSON. */
cJSON *vbt__pipe_read_json(const char *path)
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

/* Gain rows in the feature's channel order: the fit needs them aligned. */
int vbt__pipe_align_gain(vbt_msg *err, const char *gain_dir, const char *feat_dir,
                         const char *out_npy)
{
    char path[4200];
    vbt_msg msg;
    vbt_array g = {0};
    char *gt = NULL, *ct = NULL;
    size_t gl, cl;
    int st = -1;
    join(path, sizeof path, gain_dir, "gain.npy");
    if (vbt_npy_read(path, &g, &msg) || g.ndim != 2) {
        vbt__fail(err, VBT_EIO, "%s", g.ndim == 2 ? msg.text : "gain: expected a 2-d array");
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
    char (*gname)[64] = calloc(nsens ? nsens : 1, sizeof *gname);
    double *ag = malloc((nsens ? nsens : 1) * nreg * sizeof *ag);
    size_t ng = 0, nch = 0;
    if (!gname || !ag) {
        free(gname);
        free(ag);
        st = vbt__fail(err, VBT_ENOMEM, "out of memory");
        goto out;
    }
    for (char *pos = gt; pos && *pos;) {
        char *f[8];
        if (vbt__pipe_record(&pos, '\t', f, 8) < 2 || !strcmp(f[0], "row"))
            continue;
        if (ng < nsens)
            snprintf(gname[ng++], 64, "%s", f[1]);
    }
    for (char *pos = ct; pos && *pos;) {
        char *f[8];
        if (vbt__pipe_record(&pos, '\t', f, 8) < 2 || !strcmp(f[0], "index"))
            continue;
        size_t r = 0;
        while (r < ng && strcmp(gname[r], f[1]))
            r++;
        if (r == ng || nch == nsens) {
            vbt__fail(err, VBT_EIO, "features channel '%s' has no contact in the electrodes "
                      "file", f[1]);
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
        vbt__fail(err, VBT_EIO, "%s", msg.text);
    free(gname);
    free(ag);
    goto out;
fail_msg:
    vbt__fail(err, VBT_EIO, "%s", msg.text);
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
int vbt__pipe_extract_draws(vbt_msg *err, const char *fit_dir, size_t n, const char *x0_npy,
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
        vbt__fail(err, VBT_EIO, "%s", msg.text);
        return -1;
    }
    join(path, sizeof path, fit_dir, "summary.json");
    cJSON *summary = vbt__pipe_read_json(path);
    /* parameter order = rows of summary.csv */
    long *x0i = calloc(n, sizeof *x0i), ki = -1, ti = -1;
    size_t row = 0;
    for (size_t i = 0; i < n; i++)
        x0i[i] = -1;
    for (char *pos = csv; pos && *pos;) {
        char *f[4];
        if (vbt__pipe_record(&pos, ',', f, 4) < 1 || row++ == 0)
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
            vbt__fail(err, VBT_EIO, "%s: expected [chain, draw, parameter]", path);
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
        vbt__fail(err, VBT_EIO, "out of memory");
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
            vbt__fail(err, VBT_EIO, "%s", msg.text);
            goto out;
        }
        size_t r = 0;
        for (char *pos = rc; pos && *pos;) {
            char *f[12];
            if (vbt__pipe_record(&pos, ',', f, 12) < 3 || !strcmp(f[0], "region"))
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
        vbt__fail(err, VBT_EIO, "%s", msg.text);
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

/* "X,Z" when the fit's priors hold both x_init and z_init fixed (at their
 * mu), so that predict and surgery start where the fitted model did; ""
 * otherwise (they then start at a rest state). */
void vbt__pipe_held_init(const char *prior, char *buf, size_t n)
{
    buf[0] = '\0';
    cJSON *root = vbt__pipe_read_json(prior);
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
