/* cmd_surgery.c -- `vbt surgery -c CONN -d X0.npy --resect LIST ... -o OUTDIR`:
 * virtual surgery over posterior draws (docs/surgery.md).  Compares the
 * given resections with no surgery, and with --plan searches the smallest
 * resection reaching a target probability of seizure freedom.  The outputs
 * are written by clinical/'s vbt_predict (vbt_predict.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "surgery_cli.h"

#define MAX_SCENARIOS 64

static const cli_option opts[] = {
    SURGERY_CLI_OPTIONS,
    {.name = "resect", .short_name = 'r', .kind = CLI_TEXT, .metavar = "LIST",
     .doc = "a resection: comma-separated region indices (0-based) or labels (a label "
            "holding a comma in double quotes); repeat the "
            "option to compare several (no surgery is always included)"},
    {.name = "plan", .kind = CLI_FLAG,
     .doc = "search the smallest resection reaching --target"},
    {.name = "target", .kind = CLI_FLOAT, .metavar = "P", .def = "0.9", .min = 1e-9,
     .max = 1, .when = "plan", .doc = "probability of seizure freedom to reach"},
    {.name = "spare", .kind = CLI_TEXT, .metavar = "LIST",
     .when = "plan", .doc = "regions never resected (eloquent cortex)"},
    {.name = "candidates", .kind = CLI_TEXT, .metavar = "LIST",
     .when = "plan", .doc = "regions that may be resected (default: those recruited in some draw "
            "without surgery)"},
    {.name = "max-size", .kind = CLI_INT, .metavar = "K", .def = "4", .min = 1, .max = 64,
     .when = "plan", .doc = "largest resection considered"},
    {.name = "max-evaluations", .kind = CLI_INT, .metavar = "N", .def = "5000", .min = 1,
     .max = 1e9,
     .when = "plan", .doc = "exhaustive search when it needs at most N scenarios, else greedy"},
    {.name = "method", .kind = CLI_TEXT, .metavar = "HOW", .def = "auto",
     .choices = "auto|exhaustive|greedy", .when = "plan", .doc = "search method"},
};

/* A scenario's name (the resection as given, at most 255 bytes) and regions. */
typedef struct scenario {
    char name[256];
    size_t *idx;
    size_t n;
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

static int run(const cli_parsed *p)
{
    const char *outdir = cli_str(p, "output");
    surgery_cli c;
    vbt_outdir *od = NULL;
    vbt_msg msg;
    scenario sc[MAX_SCENARIOS + 2];
    vbt_predict_scenario res[MAX_SCENARIOS + 2];
    size_t ns = 0, spare[4096], cand[4096], n_spare = 0, n_cand = 0;
    vbt_plan_result *plan = NULL;
    vbt_plan_opts po;
    int rc = CLI_ERROR, do_plan = cli_flag(p, "plan");
    memset(sc, 0, sizeof sc);
    memset(res, 0, sizeof res);
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
        res[k].name = sc[k].name;
        if (vbt_surgery_run(c.s, sc[k].idx, sc[k].n, &res[k].r)) {
            cli_error(p, "scenario '%s': %s", sc[k].name, vbt_surgery_errmsg(c.s));
            goto out;
        }
        cli_info(p, "scenario %-20s P(seizure freedom) = %.3f (%.2f s)", sc[k].name,
                 res[k].r.p_freedom, res[k].r.wall_s);
    }
    double wall = cli_now() - t0;
    if (vbt_predict_write_surgery(c.pr, res, ns, plan, &po, wall, od, &msg) ||
        vbt_outdir_commit(od, &msg)) {
        od = NULL;
        cli_error(p, "%s", msg.text);
        goto out;
    }
    od = NULL;
    /* the name last: a resection's region list can be long */
    printf("%8s %10s  %s\n", "resected", "P(free)", "scenario");
    for (size_t k = 0; k < ns; k++)
        printf("%8zu %10.3f  %s\n", res[k].r.n_resected, res[k].r.p_freedom, sc[k].name);
    if (plan) {
        char *set = vbt_predict_join_regions(c.pr, plan->set, plan->n_set, 1);
        printf("plan (%s search over %zu candidates, %zu scenarios): %s {%s}, "
               "P(seizure freedom) = %.3f, target %.3g\n",
               plan->method == VBT_PLAN_EXHAUSTIVE ? "exhaustive" : "greedy",
               plan->n_candidates, plan->n_evaluations,
               plan->reached ? "resect" : "target not reached; best found",
               set ? set : "", plan->p_freedom, po.target);
        free(set);
    }
    printf("outputs in %s: surgery.csv regions.csv run.json\n", outdir);
    rc = CLI_OK;
out:
    vbt_outdir_abort(od);
    for (size_t k = 0; k < ns; k++) {
        free(sc[k].idx);
        vbt_surgery_result_clear(&res[k].r);
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
