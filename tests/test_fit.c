/* test_fit.c -- the fit object (fitting/vbt_fit.h) on the small VEP problem
 * of vep_fixture.h (3 regions, 4 sensors, 60 samples, free x0 and
 * offsets): every method runs and gives a verdict that agrees with its
 * list of reasons; runs built to fail a diagnostic are "not trustworthy"
 * and say why; P(EZ) + P(PZ) + P(HZ) = 1 for every region; a NUTS run
 * stopped and resumed from its checkpoint ends with exactly the draws of an
 * uninterrupted run; the outputs are the files the object names; bad inputs
 * give a status code and a message naming the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_fit.h"
#include "vep_fixture.h"

typedef vf_fit_problem problem;

/* Small, quick settings of every method. */
static void quick_opts(vbt_fit_opts *o, const vbt_sampler_type *s)
{
    vbt_fit_opts_default(o);
    o->sampler = s;
    o->seed = 11;
    o->starts = 4;
    o->chains = 2;
    o->warmup = 150;
    o->draws = 200;
    o->particles = 64;
    o->smc_moves = 4;
    o->threads = 2;
}

static vbt_fit *run_fit(problem *p, const vbt_fit_opts *o)
{
    vbt_fit *f = NULL;
    vbt_msg msg = {{0}};
    if (vbt_fit_alloc(&f, &p->conn, &p->gain, &p->data, &p->priors, o, &msg) ||
        vbt_fit_run(f, &msg))
        fail_msg("%s: %s", o->sampler->name, msg.text);
    return f;
}

/* The verdict agrees with the reasons, and every region's class
 * probabilities add up to 1. */
static void check_verdict_and_regions(const vbt_fit *f)
{
    size_t nf = vbt_fit_n_failures(f);
    assert_int_equal(vbt_fit_trustworthy(f), nf == 0);
    for (size_t i = 0; i < nf; i++) {
        assert_non_null(vbt_fit_failure(f, i));
        assert_true(strlen(vbt_fit_failure(f, i)) > 10);
    }
    assert_null(vbt_fit_failure(f, nf));
    const vbt_fit_region *rg = vbt_fit_regions(f);
    assert_non_null(rg);
    for (size_t r = 0; r < vbt_fit_n_regions(f); r++) {
        /* fractions of one set of draws: exact up to rounding */
        assert_close(rg[r].p_ez + rg[r].p_pz + rg[r].p_hz, 1.0, 1e-12);
        assert_true(rg[r].p_ez >= 0 && rg[r].p_pz >= 0 && rg[r].p_hz >= 0);
        assert_int_equal(rg[r].cls, vbt_vep_x0_class(rg[r].x0_mean));
    }
}

static void test_every_method(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    /* the reference: PSIS-weighted Laplace draws (k-hat < 0.5 asserted) */
    double map[VF_NR + VF_NS], ref[VF_NR + VF_NS];
    vbt_vep *m = vf_problem(-3.0, p.y);
    vf_laplace_reference(m, map, ref, NULL);
    vbt_vep_free(m);
    const vbt_sampler_type *types[] = {vbt_sampler_map, vbt_sampler_laplace, vbt_sampler_nuts,
                                       vbt_sampler_advi, vbt_sampler_smc};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        vbt_fit_opts o;
        quick_opts(&o, types[k]);
        vbt_fit *f = run_fit(&p, &o);
        const size_t np = vbt_fit_n_params(f), C = vbt_fit_n_chains(f),
                     D = vbt_fit_n_draws(f);
        assert_int_equal(np, VF_NR + VF_NS); /* x0 and the offsets */
        assert_int_equal(C, types[k] == vbt_sampler_nuts ? 2 : 1);
        assert_int_equal(D, types[k] == vbt_sampler_map ? 1
                            : types[k] == vbt_sampler_smc ? 64 : 200);
        const double *d = vbt_fit_draws(f), *th = vbt_fit_draws_unconstrained(f);
        assert_non_null(d);
        assert_non_null(th);
        double nat[VF_NR + VF_NS];
        for (size_t q = 0; q < C * D * np; q++)
            assert_true(isfinite(d[q]));
        for (size_t q = 0; q < C * D; q++) {
            /* the natural draws are the unconstrained ones mapped, bit for bit */
            vbt_vep_constrain(vbt_fit_model(f), th + q * np, nat);
            assert_memory_equal(nat, d + q * np, np * sizeof *nat);
        }
        check_verdict_and_regions(f);
        /* the problem is near-Gaussian: every method's x0 (the mode, for map)
         * is within 0.1 of the reference posterior mean, under the posterior
         * sd (0.10 to 0.17) and five times the Monte Carlo error of the
         * smallest sample (64 particles: about 0.02) */
        const vbt_diag_param *dp = vbt_fit_summary(f);
        for (size_t r = 0; r < VF_NR; r++)
            assert_close(dp[r].mean, ref[r], 0.1);
        assert_int_equal(vbt_fit_laplace_result(f) != NULL, types[k] == vbt_sampler_laplace);
        assert_int_equal(vbt_fit_nuts_stats(f) != NULL, types[k] == vbt_sampler_nuts);
        assert_int_equal(isfinite(vbt_fit_log_evidence(f)), types[k] == vbt_sampler_smc);
        assert_int_equal(vbt_fit_map_mode(f) != NULL, types[k] != vbt_sampler_smc);
        vbt_fit_free(f);
    }
}

static void test_failed_diagnostics(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    /* 2 chains of 20 draws after 10 warm-up iterations: the ESS cannot
     * reach 100 per chain (at most 40 draws in all) */
    vbt_fit_opts o;
    quick_opts(&o, vbt_sampler_nuts);
    o.warmup = 10;
    o.draws = 20;
    vbt_fit *f = run_fit(&p, &o);
    assert_false(vbt_fit_trustworthy(f));
    int ess = 0;
    for (size_t i = 0; i < vbt_fit_n_failures(f); i++)
        ess |= strstr(vbt_fit_failure(f, i), "ESS < 200") != NULL;
    assert_true(ess);
    check_verdict_and_regions(f);
    /* the chains are still used: failing diagnostics are not errors */
    assert_int_equal(vbt_fit_n_chains_used(f), 2);
    vbt_fit_free(f);
}

/* NUTS from the caller's starting points (the reference mode, unit
 * metric): no MAP stage, and the same posterior. */
static void test_caller_inits(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    double map[VF_NR + VF_NS], ref[VF_NR + VF_NS], inits[2 * (VF_NR + VF_NS)];
    vbt_vep *m = vf_problem(-3.0, p.y);
    vf_laplace_reference(m, map, ref, NULL);
    vbt_vep_free(m);
    memcpy(inits, map, sizeof map);
    memcpy(inits + VF_NR + VF_NS, map, sizeof map);
    vbt_fit_opts o;
    quick_opts(&o, vbt_sampler_nuts);
    vbt_fit *f = NULL;
    vbt_msg msg = {{0}};
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, &p.priors, &o, &msg), VBT_OK);
    assert_int_equal(vbt_fit_set_inits(f, inits, NULL, &msg), VBT_OK);
    assert_int_equal(vbt_fit_run(f, &msg), VBT_OK);
    assert_null(vbt_fit_map_mode(f));
    assert_null(vbt_fit_map_result(f));
    const vbt_diag_param *dp = vbt_fit_summary(f);
    for (size_t r = 0; r < VF_NR; r++)
        assert_close(dp[r].mean, ref[r], 0.1); /* as in test_every_method */
    check_verdict_and_regions(f);
    assert_int_equal(vbt_fit_set_inits(f, inits, NULL, &msg), VBT_EINVAL); /* after the run */
    vbt_fit_free(f);
    /* only for NUTS */
    quick_opts(&o, vbt_sampler_advi);
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, &p.priors, &o, &msg), VBT_OK);
    assert_int_equal(vbt_fit_set_inits(f, inits, NULL, &msg), VBT_EINVAL);
    vbt_fit_free(f);
}

/* Stops the run after `after` progress calls. */
static int stop_after(void *ctx, const vbt_fit_progress *pr)
{
    int *left = ctx;
    return !strcmp(pr->stage, "nuts") && --*left <= 0;
}

static void test_checkpoint_resume(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    char *dir = tu_mkdtemp();
    char ck[4096];
    assert_int_equal(vbt_fit_checkpoint_path(tu_path(dir, "out/"), ck, sizeof ck), VBT_OK);
    assert_string_equal(ck, tu_path(dir, "out.checkpoint"));
    vbt_fit_opts o;
    quick_opts(&o, vbt_sampler_nuts);
    vbt_fit *whole = run_fit(&p, &o);
    const size_t n = vbt_fit_n_chains(whole) * vbt_fit_n_draws(whole) * vbt_fit_n_params(whole);

    /* stopped a third of the way: fails, and leaves its checkpoint */
    vbt_fit *f = NULL;
    vbt_msg msg = {{0}};
    const char rec[] = "the caller's record";
    int left = 2 * 350 / 3;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, &p.priors, &o, &msg), VBT_OK);
    assert_int_equal(vbt_fit_set_checkpoint(f, ck, 50, rec, sizeof rec, NULL, NULL, &msg),
                     VBT_OK);
    vbt_fit_set_progress(f, stop_after, &left);
    assert_int_not_equal(vbt_fit_run(f, &msg), VBT_OK);
    assert_non_null(strstr(msg.text, "interrupted"));
    vbt_fit_free(f);
    assert_true(tu_exists(ck));
    void *back = NULL;
    size_t len = 0;
    assert_int_equal(vbt_fit_checkpoint_record(ck, &back, &len, &msg), VBT_OK);
    assert_int_equal(len, sizeof rec);
    assert_memory_equal(back, rec, len);
    free(back);

    /* resumed on one thread: the draws of the uninterrupted run, bit for bit */
    o.threads = 1;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, &p.priors, &o, &msg), VBT_OK);
    assert_int_equal(vbt_fit_resume(f, ck, &msg), VBT_OK);
    assert_true(vbt_fit_resumed(f));
    assert_int_equal(vbt_fit_run(f, &msg), VBT_OK);
    assert_memory_equal(vbt_fit_draws(f), vbt_fit_draws(whole), n * sizeof(double));
    assert_int_equal(vbt_fit_n_failures(f), vbt_fit_n_failures(whole));
    vbt_fit_free(f);

    /* a run set up otherwise is refused */
    o.draws = 150;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, &p.priors, &o, &msg), VBT_OK);
    assert_int_equal(vbt_fit_resume(f, ck, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "differ from the checkpoint"));
    vbt_fit_free(f);
    /* a damaged file is refused */
    size_t fl = 0;
    char *bytes = tu_slurp(ck, &fl);
    bytes[fl / 2] ^= 1;
    tu_write_bytes(ck, bytes, fl);
    free(bytes);
    assert_int_equal(vbt_fit_checkpoint_record(ck, &back, &len, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "corrupt"));
    vbt_fit_free(whole);
    tu_rmtree(dir);
    free(dir);
}

static void test_outputs(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    vbt_fit_opts o;
    quick_opts(&o, vbt_sampler_laplace);
    vbt_fit *f = run_fit(&p, &o);
    char *dir = tu_mkdtemp();
    const char *out = tu_path(dir, "fit");
    char outdir[4096];
    snprintf(outdir, sizeof outdir, "%s", out);
    vbt_msg msg = {{0}};
    assert_int_equal(vbt_fit_write_dir(f, outdir, 0, &msg), VBT_OK);
    size_t n = 0;
    for (const char *const *name = vbt_fit_output_names(f); *name; name++, n++)
        if (!strchr(*name, '*'))
            assert_true(tu_exists(tu_path(outdir, *name)));
    assert_true(tu_exists(tu_path(outdir, "draws_chain1.csv")));
    assert_true(tu_exists(tu_path(outdir, "log_weights.npy")));
    /* every file named, and nothing else: the named ones plus one chain CSV */
    assert_int_equal(tu_count_entries(outdir), (int)n);
    /* not over an existing directory unless asked */
    assert_int_equal(vbt_fit_write_dir(f, outdir, 0, &msg), VBT_EEXIST);
    assert_int_equal(vbt_fit_write_dir(f, outdir, 1, &msg), VBT_OK);
    vbt_fit_free(f);
    tu_rmtree(dir);
    free(dir);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    vbt_fit_opts o;
    quick_opts(&o, vbt_sampler_map);
    vbt_fit *f = (vbt_fit *)&p; /* overwritten with NULL on failure */
    vbt_msg msg = {{0}};
    assert_int_equal(vbt_fit_alloc(&f, NULL, &p.gain, &p.data, NULL, &o, &msg), VBT_EINVAL);
    assert_null(f);
    assert_non_null(strstr(msg.text, "connectome"));
    /* the gain's width is not the connectome's */
    vbt_array g2 = p.gain;
    g2.shape[1] = VF_NR - 1;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &g2, &p.data, NULL, &o, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "gain must be [sensor, region] with 3 regions"));
    /* the data's sensors are not the gain's */
    vbt_array d2 = p.data;
    d2.shape[0] = VF_NT * VF_NS / 3;
    d2.shape[1] = 3;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &d2, NULL, &o, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "data must be [time, sensor] with 4 sensors"));
    /* options not from vbt_fit_opts_default, or out of range */
    vbt_fit_opts bad = o;
    bad.version = 0;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, NULL, &bad, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "options version"));
    bad = o;
    bad.chains = VBT_FIT_MAX_CHAINS + 1;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, NULL, &bad, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "--chains is at most 64"));
    bad = o;
    bad.sampler = NULL;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, NULL, &bad, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "no sampler"));
    /* a zero gain cannot be normalised */
    memset(p.g, 0, sizeof p.g);
    bad = o;
    bad.gain_norm = VBT_FIT_GAIN_MAX;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, NULL, &bad, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "the gain is zero"));
    bad.gain_norm = VBT_FIT_GAIN_POWER;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, NULL, &bad, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "gain row 1 is zero"));
    /* a feature that never rises above its baseline cannot be scaled */
    memcpy(p.g, vf_G, sizeof vf_G);
    for (size_t k = 0; k < VF_NT * VF_NS; k++)
        p.y[k] = 0.25;
    bad = o;
    bad.data_norm = VBT_FIT_DATA_POWER;
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, NULL, &bad, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "never rises above its baseline"));
    /* run twice, write before a run, NULL handles */
    vf_fit_problem_make(&p);
    assert_int_equal(vbt_fit_alloc(&f, &p.conn, &p.gain, &p.data, &p.priors, &o, &msg), VBT_OK);
    char *dir = tu_mkdtemp();
    assert_int_equal(vbt_fit_write_dir(f, tu_path(dir, "x"), 0, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "has not run"));
    assert_int_equal(vbt_fit_resume(f, tu_path(dir, "none.checkpoint"), &msg),
                     VBT_EINVAL); /* map has no checkpoint */
    assert_int_equal(vbt_fit_run(f, &msg), VBT_OK);
    assert_int_equal(vbt_fit_run(f, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "twice"));
    vbt_fit_free(f);
    vbt_fit_free(NULL);
    assert_int_equal(vbt_fit_run(NULL, &msg), VBT_EINVAL);
    assert_int_equal(vbt_fit_checkpoint_record(tu_path(dir, "none"), &(void *){0},
                                               &(size_t){0}, &msg), VBT_EIO);
    tu_rmtree(dir);
    free(dir);
}


/* The failed checks of the verdict are the failures, in order; every check
 * has a name and a sentence. */
static void check_verdict_object(const vbt_fit *f)
{
    const vbt_verdict *v = vbt_fit_verdict(f);
    assert_non_null(v);
    assert_int_equal(v->trustworthy, vbt_fit_trustworthy(f));
    assert_int_equal(vbt_verdict_n_failed(v), vbt_fit_n_failures(f));
    for (size_t i = 0; i < vbt_fit_n_failures(f); i++)
        assert_string_equal(vbt_verdict_failed(v, i)->reason, vbt_fit_failure(f, i));
    for (size_t i = 0; i < v->n_checks; i++) {
        assert_true(strlen(v->checks[i].name) > 0);
        assert_true(strlen(v->checks[i].reason) > 10);
    }
}

static const vbt_check *must_find(const vbt_fit *f, const char *name)
{
    const vbt_check *c = vbt_verdict_find(vbt_fit_verdict(f), name);
    if (!c)
        fail_msg("no check '%s' in the verdict", name);
    return c;
}

/* A NUTS fit of the well-specified fixture passes every check it can: its
 * data were made by the fitted model with the fitted noise (eps 0.1), so
 * the predictive band holds about 90 % of them, the MAP modes agree and the
 * true x0 lie well inside the prior's 99 %.  The same fit on 4000 draws
 * passes R-hat and ESS too (checked by test_every_method's consistency and
 * here by name). */
static void test_verdict_passes(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    vbt_fit_opts o;
    quick_opts(&o, vbt_sampler_nuts);
    o.warmup = 300;
    o.draws = 500;
    vbt_fit *f = run_fit(&p, &o);
    check_verdict_object(f);
    const vbt_verdict *v = vbt_fit_verdict(f);
    for (size_t i = 0; i < v->n_checks; i++)
        if (!v->checks[i].passed)
            fail_msg("check %s failed: %s", v->checks[i].name, v->checks[i].reason);
    assert_true(v->trustworthy);
    const char *names[] = {"rhat", "ess_bulk", "ess_tail", "divergences", "treedepth", "ebfmi",
                           "stuck_chains", "multimodal_regions", "map_modes", "ppc_coverage",
                           "ppc_coverage_sensor", "prior_data_conflict", NULL};
    for (size_t i = 0; names[i]; i++)
        must_find(f, names[i]);
    assert_true(must_find(f, "rhat")->value <= 1.01);
    assert_close(must_find(f, "ess_bulk")->threshold, 200, 0); /* 100 per chain */
    /* nominal 0.9: with 240 points, 4 sd of a binomial proportion is 0.08;
     * the band's own Monte Carlo error (200 draws) widens it a little */
    double all;
    const double *per = vbt_fit_ppc_coverage(f, &all);
    assert_non_null(per);
    assert_true(all > 0.8 && all <= 1.0);
    assert_close(must_find(f, "ppc_coverage")->value, all, 0);
    assert_null(vbt_verdict_find(v, "point_estimate"));
    assert_false(v->point_estimate);
    vbt_fit_free(f);
}

/* Fits that must fail, each for its own reason. */
static void test_verdict_fails(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    vbt_fit_opts o;

    /* too few draws: ESS (as test_failed_diagnostics), the check's value is
     * the worst ESS and below its threshold */
    quick_opts(&o, vbt_sampler_nuts);
    o.warmup = 10;
    o.draws = 20;
    vbt_fit *f = run_fit(&p, &o);
    check_verdict_object(f);
    const vbt_check *c = must_find(f, "ess_bulk");
    assert_false(c->passed);
    assert_true(c->value < c->threshold);
    assert_non_null(strstr(c->reason, "ESS < 200"));
    vbt_fit_free(f);

    /* deliberately wrong data: sensor 1 jumps by 1.5 halfway through, which
     * no x0 can produce (its offset can only take the mean step, leaving
     * residuals of 0.75 against a noise sd of 0.1): that sensor's points
     * all leave the 5-95 % band */
    problem w;
    vf_fit_problem_make(&w);
    for (size_t t = VF_NT / 2; t < VF_NT; t++)
        w.y[t * VF_NS + 0] += 1.5;
    quick_opts(&o, vbt_sampler_laplace);
    f = run_fit(&w, &o);
    check_verdict_object(f);
    assert_false(vbt_fit_trustworthy(f));
    c = must_find(f, "ppc_coverage_sensor");
    assert_false(c->passed);
    assert_true(c->value < 0.2);
    double all;
    const double *per = vbt_fit_ppc_coverage(f, &all);
    assert_true(per[0] < 0.2);
    assert_true(per[1] > 0.5 && per[2] > 0.5);
    vbt_fit_free(f);

    /* prior-data conflict: a prior x0 ~ N(-6, 0.3) (99 %: [-6.77, -5.23])
     * for data made at x0 = -2.8, -3.2, -3.0 (vep_fixture.h): the data pull
     * the posterior median out of that range */
    vf_fit_problem_make(&w);
    w.priors.x0 = (vbt_vep_group_prior){.mu = -6.0, .sd = 0.3};
    quick_opts(&o, vbt_sampler_laplace);
    f = run_fit(&w, &o);
    check_verdict_object(f);
    c = must_find(f, "prior_data_conflict");
    assert_false(c->passed);
    assert_true(c->value >= 1);
    assert_non_null(strstr(c->reason, "x0["));
    vbt_fit_free(f);

    /* MAP only: a point estimate, never trustworthy, no predictive checks */
    quick_opts(&o, vbt_sampler_map);
    f = run_fit(&p, &o);
    check_verdict_object(f);
    const vbt_verdict *v = vbt_fit_verdict(f);
    assert_true(v->point_estimate);
    assert_false(v->trustworthy);
    c = must_find(f, "point_estimate");
    assert_false(c->passed);
    assert_non_null(strstr(c->reason, "point estimate only"));
    assert_null(vbt_verdict_find(v, "ppc_coverage"));
    assert_null(vbt_fit_ppc_coverage(f, &all));
    assert_true(isnan(all));
    must_find(f, "map_modes");
    vbt_fit_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_method),
        cmocka_unit_test(test_failed_diagnostics),
        cmocka_unit_test(test_verdict_passes),
        cmocka_unit_test(test_verdict_fails),
        cmocka_unit_test(test_caller_inits),
        cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
