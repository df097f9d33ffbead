/* cmd_predict.c -- `vbt predict -c CONN -d X0.npy -o OUTDIR`: seizure
 * propagation over posterior draws (docs/surgery.md): per region the
 * probability of being recruited, the onset-time distribution and the
 * propagation order, computed and written by clinical/'s vbt_predict
 * (vbt_predict.h).  Also holds the set-up shared with `vbt surgery`
 * (surgery_cli.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "surgery_cli.h"

/* ---- shared with cmd_surgery.c ------------------------------------------------ */

int surgery_cli_setup(surgery_cli *c, const cli_parsed *p)
{
    memset(c, 0, sizeof *c);
    vbt_msg msg;
    vbt_predict_opts o;
    vbt_predict_opts_default(&o);
    o.connectome = cli_str(p, "connectome");
    o.draws = cli_str(p, "draws");
    o.k_npy = cli_str(p, "k-npy");
    o.tau0_npy = cli_str(p, "tau0-npy");
    vbt_normalize_parse(cli_str(p, "normalize"), &o.normalize);
    o.argc = p->argc;
    o.argv = p->argv;
    vbt_surgery_spec *sp = &o.spec;
    int six = strcmp(cli_str(p, "model"), "epileptor") == 0;
    sp->K_const = cli_float(p, "K");
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
    if (vbt_predict_alloc(&c->pr, &o, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    c->s = vbt_predict_surgery(c->pr);
    c->conn = vbt_predict_connectome(c->pr);
    return CLI_OK;
}

void surgery_cli_free(surgery_cli *c)
{
    vbt_predict_free(c->pr);
    memset(c, 0, sizeof *c);
}

/* ---- vbt predict ----------------------------------------------------------------- */

static const cli_option opts[] = {
    SURGERY_CLI_OPTIONS,
};

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
    if (vbt_predict_write(c.pr, &r, wall, od, &msg) || vbt_outdir_commit(od, &msg)) {
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
