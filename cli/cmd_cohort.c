/* cmd_cohort.c -- `vbt cohort summarize DIR -o COHORT.csv`: one row per
 * patient from the results.json (schema vbt.results/1) that `vbt pipeline`
 * writes, for trial analyses across hundreds of patients. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "strbuf.h"
#include "vbt.h"

static const cli_argument args[] = {
    {"ACTION", CLI_TEXT, "summarize"},
    {"DIR", CLI_FILE_IN,
     "a pipeline output folder, or a folder whose sub-folders are pipeline outputs"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "COHORT.csv",
     .doc = "the table to write", .required = 1},
};

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One patient's row; 0, or -1 with a message on a malformed file. */
static int summarize(const cli_parsed *p, const char *path, strbuf *b)
{
    char *text;
    size_t len;
    vbt_msg msg;
    if (vbt_file_read_all(path, &text, &len, 0, &msg)) {
        cli_error(p, "%s", msg.text);
        return -1;
    }
    cJSON *r = cJSON_Parse(text);
    free(text);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(r, "schema");
    if (!cJSON_IsString(schema) || strncmp(schema->valuestring, "vbt.results/", 12)) {
        cli_error(p, "'%s': not a vbt results.json (schema vbt.results/1)", path);
        cJSON_Delete(r);
        return -1;
    }
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(r, "patient");
    const cJSON *meth = cJSON_GetObjectItemCaseSensitive(r, "method");
    sb_label(b, cJSON_IsString(pat) ? pat->valuestring : "");
    sb_printf(b, ",");
    sb_label(b, path);
    sb_printf(b, ",");
    sb_label(b, cJSON_IsString(meth) ? meth->valuestring : "");
    /* EZ and PZ regions at posterior probability above 0.5 */
    strbuf ez = {0}, pz = {0};
    size_t n_ez = 0, n_pz = 0, n_reg = 0;
    const cJSON *regs = cJSON_GetObjectItemCaseSensitive(r, "regions");
    for (const cJSON *it = regs ? regs->child : NULL; it; it = it->next, n_reg++) {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
        const char *l = cJSON_IsString(lab) ? lab->valuestring : "?";
        if (num(it, "p_ez") > 0.5) {
            sb_printf(&ez, "%s%s", n_ez++ ? ";" : "", l);
        } else if (num(it, "p_pz") > 0.5) {
            sb_printf(&pz, "%s%s", n_pz++ ? ";" : "", l);
        }
    }
    sb_printf(b, ",%zu,%zu,", n_reg, n_ez);
    sb_label(b, ez.s ? ez.s : "");
    sb_printf(b, ",%zu,", n_pz);
    sb_label(b, pz.s ? pz.s : "");
    free(ez.s);
    free(pz.s);
    /* the resection plan */
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(r, "plan");
    strbuf pl = {0};
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(plan, "resect");
    size_t k = 0;
    for (const cJSON *it = rs ? rs->child : NULL; it; it = it->next, k++) {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
        sb_printf(&pl, "%s%s", k ? ";" : "", cJSON_IsString(lab) ? lab->valuestring : "?");
    }
    sb_printf(b, ",");
    sb_label(b, pl.s ? pl.s : "");
    free(pl.s);
    const cJSON *reached = cJSON_GetObjectItemCaseSensitive(plan, "reached");
    sb_printf(b, ",%.6g,%s", num(plan, "p_seizure_freedom"),
        cJSON_IsBool(reached) ? (cJSON_IsTrue(reached) ? "true" : "false") : "");
    const cJSON *diag = cJSON_GetObjectItemCaseSensitive(r, "diagnostics");
    sb_printf(b, ",%.6g", num(diag, "psis_khat"));
    /* precision and recall of the EZ against the clinical hypothesis and of
     * EZ + PZ against a ground truth, when the pipeline had them */
    double hp = NAN, hr = NAN, tp = NAN, tr = NAN;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(r, "evaluation"), *e;
    cJSON_ArrayForEach(e, ev) {
        const cJSON *ag = cJSON_GetObjectItemCaseSensitive(e, "against");
        const cJSON *zo = cJSON_GetObjectItemCaseSensitive(e, "zone");
        if (!cJSON_IsString(ag) || !cJSON_IsString(zo))
            continue;
        if (!strcmp(ag->valuestring, "hypothesis.txt") && !strcmp(zo->valuestring, "EZ")) {
            hp = num(e, "precision");
            hr = num(e, "recall");
        } else if (!strcmp(ag->valuestring, "ground_truth.json") &&
                   !strcmp(zo->valuestring, "EZ+PZ")) {
            tp = num(e, "precision");
            tr = num(e, "recall");
        }
    }
    sb_printf(b, ",%.6g,%.6g,%.6g,%.6g\n", hp, hr, tp, tr);
    cJSON_Delete(r);
    return 0;
}

static int run_summarize(const cli_parsed *p)
{
    const char *dir = p->args[1], *out = cli_str(p, "output");
    strbuf b = {0};
    sb_printf(&b, "patient,results,method,n_regions,n_ez,ez_regions,n_pz,pz_regions,plan,"
            "plan_p_seizure_freedom,plan_reached,psis_khat,hypothesis_precision,"
            "hypothesis_recall,truth_precision,truth_recall\n");
    char path[4200];
    size_t rows = 0;
    int rc = CLI_ERROR;
    snprintf(path, sizeof path, "%s/results.json", dir);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (summarize(p, path, &b))
            goto out;
        rows++;
    } else {
        DIR *d = opendir(dir);
        struct dirent *e;
        char names[4096][256];
        size_t nn = 0;
        while (d && (e = readdir(d)) && nn < 4096)
            if (e->d_name[0] != '.')
                snprintf(names[nn++], sizeof names[0], "%s", e->d_name);
        if (d)
            closedir(d);
        qsort(names, nn, sizeof names[0], (int (*)(const void *, const void *))strcmp);
        for (size_t i = 0; i < nn; i++) {
            int k = snprintf(path, sizeof path, "%s/%s/results.json", dir, names[i]);
            if (k < 0 || (size_t)k >= sizeof path || stat(path, &st) != 0)
                continue;
            if (summarize(p, path, &b))
                goto out;
            rows++;
        }
    }
    if (rows == 0) {
        cli_error(p, "'%s': no results.json here or in its sub-folders", dir);
        goto out;
    }
    vbt_msg msg;
    if (vbt_file_write_atomic(out, b.s, b.len, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    cli_info(p, "%zu patient(s) summarised", rows);
    printf("%s\n", out);
    rc = CLI_OK;
out:
    free(b.s);
    return rc;
}

static const cli_subcommand actions[] = {
    {"summarize", run_summarize},
};

const cli_command cli_cmd_cohort = {
    .name = "cohort",
    .synopsis = "gather many patients' pipeline results into one table",
    .description =
        "summarize: reads DIR/results.json, or DIR/*/results.json for a cohort, and writes one "
        "CSV row per patient: the EZ and PZ regions at posterior probability above 0.5, the "
        "resection plan with its probability of seizure freedom and whether it reached the "
        "target, the fit's Pareto k, and the precision and recall of the EZ against the "
        "patient's clinical hypothesis (hypothesis.txt) and of EZ + PZ against a synthetic "
        "patient's ground truth (nan when absent).  Rows are in folder-name order.",
    .args = args,
    .n_args = 2,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .run = cli_run_subcommand,
    .subcommands = actions,
    .n_subcommands = sizeof actions / sizeof actions[0],
};
