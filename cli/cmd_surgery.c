/* cmd_surgery.c -- `vbt surgery -c CONN -d X0.npy --resect LIST ... -o OUTDIR`:
 * virtual surgery over posterior draws (docs/surgery.md).  Compares the
 * given resections with no surgery, and with --plan searches the smallest
 * resection reaching a target probability of seizure freedom. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "surgery_cli.h"

#define MAX_SCENARIOS 64

static const cli_option opts[] = {
    SURGERY_CLI_OPTIONS,
    {.name = "resect", .short_name = 'r', .kind = CLI_TEXT, .metavar = "LIST",
     .doc = "a resection: comma-separated region indices (0-based) or labels; repeat the "
            "option to compare several (no surgery is always included)"},
    {.name = "plan", .kind = CLI_FLAG,
     .doc = "search the smallest resection reaching --target"},
    {.name = "target", .kind = CLI_FLOAT, .metavar = "P", .def = "0.9", .min = 1e-9,
     .max = 1, .doc = "[plan] probability of seizure freedom to reach"},
    {.name = "spare", .kind = CLI_TEXT, .metavar = "LIST",
     .doc = "[plan] regions never resected (eloquent cortex)"},
    {.name = "candidates", .kind = CLI_TEXT, .metavar = "LIST",
     .doc = "[plan] regions that may be resected (default: those recruited in some draw "
            "without surgery)"},
    {.name = "max-size", .kind = CLI_INT, .metavar = "K", .def = "4", .min = 1, .max = 64,
     .doc = "[plan] largest resection considered"},
    {.name = "max-evaluations", .kind = CLI_INT, .metavar = "N", .def = "5000", .min = 1,
     .max = 1e9,
     .doc = "[plan] exhaustive search when it needs at most N scenarios, else greedy"},
    {.name = "method", .kind = CLI_TEXT, .metavar = "HOW", .def = "auto",
     .choices = "auto|exhaustive|greedy", .doc = "[plan] search method"},
};

typedef struct scenario {
    char name[256];
    size_t *idx;
    size_t n;
    vbt_surgery_result r;
} scenario;

/* Every value of a repeated option, in order (cli_parse keeps the last). */
static size_t repeated(const cli_parsed *p, const char *name, char s, const char **out,
                       size_t cap)
{
    size_t m = 0, nl = strlen(name);
    for (int a = 2; a < p->argc; a++) {
        const char *arg = p->argv[a];
        const char *val = NULL;
        if (arg[0] == '-' && arg[1] == '-' && !strncmp(arg + 2, name, nl)) {
            if (arg[2 + nl] == '=')
                val = arg + 3 + nl;
            else if (arg[2 + nl] == '\0' && a + 1 < p->argc)
                val = p->argv[++a];
        } else if (arg[0] == '-' && arg[1] == s && arg[2] == '\0' && a + 1 < p->argc) {
            val = p->argv[++a];
        }
        if (val && m < cap)
            out[m++] = val;
    }
    return m;
}

static void join_regions(strbuf *b, const surgery_cli *c, const size_t *idx, size_t n,
                         int labels)
{
    for (size_t q = 0; q < n; q++) {
        if (labels)
            sb_printf(b, "%s%s", q ? ";" : "", c->conn->labels[idx[q]]);
        else
            sb_printf(b, "%s%zu", q ? ";" : "", idx[q]);
    }
}

static cJSON *region_array(const surgery_cli *c, const size_t *idx, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t q = 0; q < n; q++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)idx[q]);
        cJSON_AddStringToObject(o, "label", c->conn->labels[idx[q]]);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static int write_surgery(const surgery_cli *c, scenario *sc, size_t ns,
                         const vbt_plan_result *plan, const vbt_plan_opts *po,
                         vbt_outdir *od, const cli_parsed *p, double wall, vbt_msg *msg)
{
    const size_t n = c->conn->n;
    strbuf b = {0};
    sb_printf(&b, "scenario,resected,resected_indices,n_resected,p_seizure_freedom,"
                  "mean_recruited_regions\n");
    for (size_t k = 0; k < ns; k++) {
        strbuf lab = {0};
        join_regions(&lab, c, sc[k].r.resected, sc[k].r.n_resected, 1);
        sb_label(&b, sc[k].name);
        sb_printf(&b, ",");
        sb_label(&b, lab.s ? lab.s : "");
        free(lab.s);
        sb_printf(&b, ",");
        join_regions(&b, c, sc[k].r.resected, sc[k].r.n_resected, 0);
        sb_printf(&b, ",%zu,%.17g,%.17g\n", sc[k].r.n_resected, sc[k].r.p_freedom,
                  sc[k].r.mean_recruited);
    }
    if (sb_write(&b, od, "surgery.csv", msg))
        return 1;
    sb_printf(&b, "scenario,region,label,resected,p_recruited,onset_median,onset_q05,"
                  "onset_q95,mean_rank\n");
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < n; i++) {
            const vbt_surgery_result *r = &sc[k].r;
            sb_label(&b, sc[k].name);
            sb_printf(&b, ",%zu,", i);
            sb_label(&b, c->conn->labels[i]);
            sb_printf(&b, ",%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", r->is_resected[i],
                      r->p_recruited[i], r->onset_median[i], r->onset_q05[i],
                      r->onset_q95[i], r->mean_rank[i]);
        }
    if (sb_write(&b, od, "regions.csv", msg))
        return 1;
    cJSON *outputs = cJSON_CreateObject();
    cJSON_AddStringToObject(outputs, "scenarios", "surgery.csv");
    cJSON_AddStringToObject(outputs, "regions", "regions.csv");
    cJSON *extra = cJSON_CreateObject();
    cJSON *sa = cJSON_AddArrayToObject(extra, "scenarios");
    for (size_t k = 0; k < ns; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", sc[k].name);
        cJSON_AddItemToObject(o, "resected", region_array(c, sc[k].r.resected,
                                                          sc[k].r.n_resected));
        cJSON_AddNumberToObject(o, "p_seizure_freedom", sc[k].r.p_freedom);
        cJSON_AddNumberToObject(o, "mean_recruited_regions", sc[k].r.mean_recruited);
        cJSON_AddItemToArray(sa, o);
    }
    if (plan) {
        cJSON *pj = cJSON_AddObjectToObject(extra, "plan");
        cJSON_AddStringToObject(pj, "method", plan->method == VBT_PLAN_EXHAUSTIVE
                                                  ? "exhaustive" : "greedy");
        cJSON_AddBoolToObject(pj, "reached", plan->reached);
        cJSON_AddNumberToObject(pj, "target", po->target);
        cJSON_AddItemToObject(pj, "resect", region_array(c, plan->set, plan->n_set));
        cJSON_AddNumberToObject(pj, "p_seizure_freedom", plan->p_freedom);
        cJSON_AddNumberToObject(pj, "p_seizure_freedom_without_surgery",
                                plan->p_freedom_none);
        cJSON_AddItemToObject(pj, "spared", region_array(c, po->spare, po->n_spare));
        cJSON_AddItemToObject(pj, "candidates",
                              region_array(c, plan->candidates, plan->n_candidates));
        cJSON_AddNumberToObject(pj, "max_size", (double)po->max_size);
        cJSON_AddNumberToObject(pj, "max_evaluations", (double)po->max_evaluations);
        cJSON_AddNumberToObject(pj, "scenarios_simulated", (double)plan->n_evaluations);
    }
    cJSON *t = cJSON_AddObjectToObject(extra, "timing");
    cJSON_AddNumberToObject(t, "wall_s", wall);
    cJSON_AddNumberToObject(t, "threads", (double)p->common.threads);
    return surgery_cli_write_run_json(c, p, od, outputs, extra, msg);
}

static int run(const cli_parsed *p)
{
    const char *outdir = cli_str(p, "output");
    surgery_cli c;
    vbt_outdir *od = NULL;
    vbt_msg msg;
    scenario sc[MAX_SCENARIOS + 2];
    size_t ns = 0, spare[4096], cand[4096], n_spare = 0, n_cand = 0;
    vbt_plan_result *plan = NULL;
    vbt_plan_opts po;
    int rc = CLI_ERROR, do_plan = cli_flag(p, "plan");
    memset(sc, 0, sizeof sc);
    openblas_set_num_threads(1);
    const char *lists[MAX_SCENARIOS + 1];
    size_t nl = repeated(p, "resect", 'r', lists, MAX_SCENARIOS + 1);
    if (nl > MAX_SCENARIOS) {
        cli_error(p, "at most %d --resect scenarios", MAX_SCENARIOS);
        return CLI_ERROR;
    }
    if (nl == 0 && !do_plan) {
        cli_error(p, "nothing to do: give --resect LIST (repeatable) and/or --plan");
        return CLI_ERROR;
    }
    if (surgery_cli_setup(&c, p))
        goto out;
    const size_t n = c.conn->n;
    snprintf(sc[ns++].name, sizeof sc[0].name, "none");
    for (size_t q = 0; q < nl; q++, ns++) {
        snprintf(sc[ns].name, sizeof sc[ns].name, "%s", lists[q]);
        sc[ns].idx = malloc(n * sizeof *sc[ns].idx);
        if (!sc[ns].idx || vbt_surgery_parse_regions(c.conn, lists[q], sc[ns].idx, n,
                                                     &sc[ns].n, &msg)) {
            cli_error(p, "--resect: %s", sc[ns].idx ? msg.text : "out of memory");
            ns++;
            goto out;
        }
    }
    vbt_plan_opts_default(&po);
    if (do_plan) {
        const char *sp = cli_str(p, "spare"), *cd = cli_str(p, "candidates");
        if (sp && vbt_surgery_parse_regions(c.conn, sp, spare, 4096, &n_spare, &msg)) {
            cli_error(p, "--spare: %s", msg.text);
            goto out;
        }
        if (cd && vbt_surgery_parse_regions(c.conn, cd, cand, 4096, &n_cand, &msg)) {
            cli_error(p, "--candidates: %s", msg.text);
            goto out;
        }
        po.target = cli_float(p, "target");
        po.max_size = (size_t)cli_float(p, "max-size");
        po.max_evaluations = (size_t)cli_float(p, "max-evaluations");
        po.spare = spare;
        po.n_spare = n_spare;
        po.candidates = cd ? cand : NULL;
        po.n_candidates = n_cand;
        const char *m = cli_str(p, "method");
        po.force_method = strcmp(m, "auto") != 0;
        po.force = strcmp(m, "greedy") == 0 ? VBT_PLAN_GREEDY : VBT_PLAN_EXHAUSTIVE;
    }
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    cli_install_signal_handlers();
    double t0 = cli_now();
    if (do_plan) {
        plan = calloc(1, sizeof *plan);
        if (!plan || vbt_surgery_plan(c.s, &po, plan)) {
            cli_error(p, "plan: %s", plan ? vbt_surgery_errmsg(c.s) : "out of memory");
            goto out;
        }
        snprintf(sc[ns].name, sizeof sc[ns].name, "plan");
        sc[ns].idx = malloc((plan->n_set ? plan->n_set : 1) * sizeof *sc[ns].idx);
        if (!sc[ns].idx) {
            cli_error(p, "out of memory");
            goto out;
        }
        memcpy(sc[ns].idx, plan->set, plan->n_set * sizeof *plan->set);
        sc[ns++].n = plan->n_set;
    }
    for (size_t k = 0; k < ns; k++) {
        if (cli_interrupted) {
            cli_error(p, "interrupted; nothing written");
            goto out;
        }
        if (vbt_surgery_run(c.s, sc[k].idx, sc[k].n, &sc[k].r)) {
            cli_error(p, "scenario '%s': %s", sc[k].name, vbt_surgery_errmsg(c.s));
            goto out;
        }
        cli_info(p, "scenario %-20s P(seizure freedom) = %.3f (%.2f s)", sc[k].name,
                 sc[k].r.p_freedom, sc[k].r.wall_s);
    }
    double wall = cli_now() - t0;
    if (write_surgery(&c, sc, ns, plan, &po, od, p, wall, &msg) ||
        vbt_outdir_commit(od, &msg)) {
        od = NULL;
        cli_error(p, "%s", msg.text);
        goto out;
    }
    od = NULL;
    /* the name last: a resection's region list can be long */
    printf("%8s %10s  %s\n", "resected", "P(free)", "scenario");
    for (size_t k = 0; k < ns; k++)
        printf("%8zu %10.3f  %s\n", sc[k].r.n_resected, sc[k].r.p_freedom, sc[k].name);
    if (plan) {
        strbuf b = {0};
        join_regions(&b, &c, plan->set, plan->n_set, 1);
        printf("plan (%s search over %zu candidates, %zu scenarios): %s {%s}, "
               "P(seizure freedom) = %.3f, target %.3g\n",
               plan->method == VBT_PLAN_EXHAUSTIVE ? "exhaustive" : "greedy",
               plan->n_candidates, plan->n_evaluations,
               plan->reached ? "resect" : "target not reached; best found",
               b.s ? b.s : "", plan->p_freedom, po.target);
        free(b.s);
    }
    printf("outputs in %s: surgery.csv regions.csv run.json\n", outdir);
    rc = CLI_OK;
out:
    vbt_outdir_abort(od);
    for (size_t k = 0; k < ns; k++) {
        free(sc[k].idx);
        vbt_surgery_result_clear(&sc[k].r);
    }
    free(plan);
    surgery_cli_free(&c);
    return rc;
}

static const char *const refs[] = {
    "The Virtual Brain, tutorial 3, Modeling epilepsy: modeling surgical resection.",
    "An S, Bartolomei F, Guye M, Jirsa V (2019) Optimization of surgical intervention "
    "outside the epileptogenic zone in the Virtual Epileptic Patient (VEP). PLoS Comput "
    "Biol 15:e1007051.",
    NULL,
};

const cli_command cli_cmd_surgery = {
    .name = "surgery",
    .synopsis = "virtual surgery over posterior draws: P(seizure freedom), planning",
    .description =
        "Re-simulates every posterior draw of x0 (--draws) after each resection given with "
        "--resect (repeatable; no surgery is always the first scenario).  A resection, as "
        "in The Virtual Brain's recipe, removes every connection to and from the resected "
        "regions and gives them the healthy excitability --healthy-x0.  A draw is "
        "seizure-free when no remaining region is recruited (x1 above --threshold) within "
        "--duration; P(seizure freedom) is the fraction of such draws.  With --plan, the "
        "smallest set of --candidates (default: regions recruited without surgery), "
        "excluding --spare, that reaches --target: exhaustive over all subsets up to "
        "--max-size when that needs at most --max-evaluations scenarios, else greedy; the "
        "method used is printed and recorded.  Writes OUTDIR/surgery.csv (one row per "
        "scenario), OUTDIR/regions.csv (P(recruited) and onsets per scenario and region) "
        "and OUTDIR/run.json (with the plan).  The model options are those of `vbt "
        "predict`; details in docs/surgery.md.",
    .args = NULL,
    .n_args = 0,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = refs,
    .run = run,
};
