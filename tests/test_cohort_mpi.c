/* test_cohort_mpi.c -- the cohort scheduler (clinical/vbt_cohort_sched.h).
 *
 * Without arguments: cmocka tests of the threads backend (every task exactly
 * once for 1..4 threads and more threads than tasks, statuses and reasons
 * gathered in task order, progress serialised and counted, bad arguments).
 *
 * `test_cohort_mpi --write DIR N` is the fixture of check_cohort_mpi.sh:
 * runs N tasks on the backend the environment picks (MPI under mpirun),
 * each task creating DIR/task-K.txt exclusively (a task run twice fails)
 * with content that depends only on K, tasks K % 5 == 3 failing with a
 * reason; rank 0 then writes DIR/summary.tsv.  The script compares the
 * folders written by threads and by 3 MPI ranks byte for byte. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cblas.h>
#include <cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "test_util.h"
#include "vbt.h"
#include "vbt_cohort.h"
#include "vbt_cohort_sched.h"
#include "vbt_fit.h"
#include "vbt_io.h"
#include "vep_fixture.h"

/* ---- cmocka: threads backend -------------------------------------------- */

typedef struct counts {
    int ran[64];
    size_t progress_calls, last_done;
    int progress_ok;
} counts;

static int count_task(void *ctx, size_t k, vbt_msg *msg)
{
    counts *c = ctx;
    __atomic_add_fetch(&c->ran[k], 1, __ATOMIC_SEQ_CST);
    if (k % 4 == 1) {
        snprintf(msg->text, sizeof msg->text, "task %zu refused", k);
        return VBT_EFORMAT;
    }
    return VBT_OK;
}

static void on_progress(void *ud, size_t task, int status, const char *reason, int rank,
                        size_t n_done, size_t n_tasks)
{
    counts *c = ud;
    c->progress_calls++;
    /* Serialised calls: n_done counts up by one each time. */
    if (n_done != c->last_done + 1 || rank != 0 || task >= n_tasks ||
        (status == VBT_OK) != (reason[0] == '\0'))
        c->progress_ok = 0;
    c->last_done = n_done;
}

static void run_threads(size_t n_threads, size_t n)
{
    vbt_cohort_scheduler_opts o;
    vbt_cohort_scheduler_opts_default(&o);
    assert_int_equal(o.backend, VBT_COHORT_SCHED_AUTO);
    assert_int_equal(o.n_threads, 1);
    o.backend = VBT_COHORT_SCHED_THREADS;
    o.n_threads = n_threads;
    counts c;
    memset(&c, 0, sizeof c);
    c.progress_ok = 1;
    o.progress = on_progress;
    o.userdata = &c;
    vbt_cohort_scheduler *s;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_scheduler_alloc(&s, &o, &msg), VBT_OK);
    assert_string_equal(vbt_cohort_scheduler_backend(s), "threads");
    assert_int_equal(vbt_cohort_scheduler_rank(s), 0);
    assert_int_equal(vbt_cohort_scheduler_size(s), 1);
    int status[64];
    char reasons[64][VBT_MSG_LEN];
    for (size_t k = 0; k < 64; k++) {
        status[k] = -1;
        reasons[k][0] = 'x';
    }
    assert_int_equal(vbt_cohort_scheduler_run(s, n, count_task, &c, status, reasons, &msg),
                     VBT_OK);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(c.ran[k], 1);
        if (k % 4 == 1) {
            assert_int_equal(status[k], VBT_EFORMAT);
            char want[64];
            snprintf(want, sizeof want, "task %zu refused", k);
            assert_string_equal(reasons[k], want);
        } else {
            assert_int_equal(status[k], VBT_OK);
            assert_string_equal(reasons[k], "");
        }
    }
    for (size_t k = n; k < 64; k++) {
        assert_int_equal(c.ran[k], 0);
        assert_int_equal(status[k], -1);   /* beyond n: untouched */
    }
    assert_int_equal(c.progress_calls, n);
    assert_true(c.progress_ok);
    vbt_cohort_scheduler_free(s);
}

static void threads_each_task_once(void **state)
{
    (void)state;
    for (size_t t = 1; t <= 4; t++)
        run_threads(t, 37);
    run_threads(8, 3);      /* more threads than tasks */
    run_threads(2, 0);      /* nothing to do */
}

static void bad_arguments(void **state)
{
    (void)state;
    vbt_cohort_scheduler_opts o;
    vbt_cohort_scheduler_opts_default(&o);
    vbt_cohort_scheduler *s = (vbt_cohort_scheduler *)&o;
    vbt_msg msg;
    o.n_threads = 0;
    assert_int_equal(vbt_cohort_scheduler_alloc(&s, &o, &msg), VBT_EINVAL);
    assert_null(s);
    if (!vbt_cohort_sched_have_mpi()) {
        o.n_threads = 1;
        o.backend = VBT_COHORT_SCHED_MPI;
        assert_int_equal(vbt_cohort_scheduler_alloc(&s, &o, &msg), VBT_EINVAL);
        assert_non_null(strstr(msg.text, "MPI"));
    }
    o.n_threads = 1;
    o.backend = VBT_COHORT_SCHED_THREADS;
    assert_int_equal(vbt_cohort_scheduler_alloc(&s, &o, &msg), VBT_OK);
    counts c;
    memset(&c, 0, sizeof c);
    /* rank 0 needs somewhere to put the statuses */
    assert_int_equal(vbt_cohort_scheduler_run(s, 3, count_task, &c, NULL, NULL, &msg),
                     VBT_EINVAL);
    assert_int_equal(c.ran[0], 0);
    vbt_cohort_scheduler_free(s);
    vbt_cohort_scheduler_free(NULL);
}

/* ---- prerequisites (vbt_cohort_scheduler_run_deps) ------------------------ */

/* 40 tasks in groups of 5: the first of a group, then three that need it,
 * then the last that needs the four before it (a subject's PREPARE, its
 * chains and the subject itself). */
enum { DEP_N = 40 };

typedef struct dep_ctx {
    size_t start[DEP_N + 1], deps[4 * DEP_N];
    int finished[DEP_N], ran[DEP_N];
    int order_ok;
} dep_ctx;

static int dep_task(void *ctx, size_t k, vbt_msg *msg)
{
    dep_ctx *d = ctx;
    for (size_t e = d->start[k]; e < d->start[k + 1]; e++)
        if (!__atomic_load_n(&d->finished[d->deps[e]], __ATOMIC_SEQ_CST))
            __atomic_store_n(&d->order_ok, 0, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&d->ran[k], 1, __ATOMIC_SEQ_CST);
    /* a little work, so that threads overlap */
    struct timespec ts = {0, (long)(k % 3) * 200000L};
    nanosleep(&ts, NULL);
    __atomic_store_n(&d->finished[k], 1, __ATOMIC_SEQ_CST);
    (void)msg;
    return VBT_OK;
}

static void make_groups(dep_ctx *d)
{
    memset(d, 0, sizeof *d);
    d->order_ok = 1;
    size_t e = 0;
    for (size_t k = 0; k < DEP_N; k++) {
        size_t g = k - k % 5;
        if (k % 5 >= 1 && k % 5 <= 3)
            d->deps[e++] = g;
        else if (k % 5 == 4)
            for (size_t j = g; j < k; j++)
                d->deps[e++] = j;
        d->start[k + 1] = e;
    }
}

static void threads_prerequisites(void **state)
{
    (void)state;
    for (size_t t = 1; t <= 4; t++) {
        dep_ctx d;
        make_groups(&d);
        vbt_cohort_scheduler_opts o;
        vbt_cohort_scheduler_opts_default(&o);
        o.backend = VBT_COHORT_SCHED_THREADS;
        o.n_threads = t;
        vbt_cohort_scheduler *s;
        vbt_msg msg;
        assert_int_equal(vbt_cohort_scheduler_alloc(&s, &o, &msg), VBT_OK);
        assert_int_equal(vbt_cohort_scheduler_workers(s), t);
        int status[DEP_N];
        assert_int_equal(vbt_cohort_scheduler_run_deps(s, DEP_N, dep_task, &d, d.start, d.deps,
                                                       status, NULL, &msg), VBT_OK);
        for (size_t k = 0; k < DEP_N; k++) {
            assert_int_equal(d.ran[k], 1);
            assert_int_equal(status[k], VBT_OK);
        }
        assert_true(d.order_ok);   /* no task started before its prerequisites ended */
        vbt_cohort_scheduler_free(s);
    }
    /* a prerequisite that is not an earlier task is refused before anything runs */
    dep_ctx d;
    make_groups(&d);
    d.deps[0] = 7;   /* task 1 would need task 7 */
    vbt_cohort_scheduler_opts o;
    vbt_cohort_scheduler_opts_default(&o);
    o.backend = VBT_COHORT_SCHED_THREADS;
    vbt_cohort_scheduler *s;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_scheduler_alloc(&s, &o, &msg), VBT_OK);
    int status[DEP_N];
    assert_int_equal(vbt_cohort_scheduler_run_deps(s, DEP_N, dep_task, &d, d.start, d.deps,
                                                   status, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "task 1 depends on task 7"));
    assert_int_equal(d.ran[0], 0);
    vbt_cohort_scheduler_free(s);
}


/* ---- the fit's chains apart (fitting/vbt_fit.h) on a small problem ---------- */

typedef vf_fit_problem problem;

/* 3 chains of 150 + 200 on 2 threads, with mode jumps (their options too
 * must be those of the whole run). */
static void chain_opts(vbt_fit_opts *o, uint64_t seed)
{
    vbt_fit_opts_default(o);
    o->sampler = vbt_sampler_nuts;
    o->seed = seed;
    o->starts = 4;
    o->chains = 3;
    o->warmup = 150;
    o->draws = 200;
    o->jumps = 1;
    o->threads = 2;
}

/* Progress: stop when sampling starts (stop < 0), or after `stop` NUTS
 * iterations. */
static int stop_at(void *ctx, const vbt_fit_progress *pr)
{
    long *stop = ctx;
    if (strcmp(pr->stage, "nuts"))
        return 0;
    return *stop < 0 || (long)pr->iteration >= *stop;
}

static const char g_rec[] = "record of the run";

/* A fit of the problem, resumed from `from` when it is not NULL, with its
 * checkpoint at `ck` and progress stopping at `stop` (0: never). */
static vbt_fit *fit_of(problem *p, uint64_t seed, const char *ck, const char *from, long *stop)
{
    vbt_fit_opts o;
    chain_opts(&o, seed);
    vbt_fit *f = NULL;
    vbt_msg msg = {{0}};
    if (vbt_fit_alloc(&f, &p->conn, &p->gain, &p->data, &p->priors, &o, &msg) ||
        (ck && vbt_fit_set_checkpoint(f, ck, 50, g_rec, sizeof g_rec, NULL, NULL, &msg)) ||
        (from && vbt_fit_resume(f, from, &msg)))
        fail_msg("fit set-up: %s", msg.text);
    if (stop && *stop)
        vbt_fit_set_progress(f, stop_at, stop);
    return f;
}

/* The MAP stage and starts saved (the run stopped as sampling starts). */
static void prepare_run(problem *p, uint64_t seed, const char *setup)
{
    long stop = -1;
    vbt_fit *f = fit_of(p, seed, setup, NULL, &stop);
    vbt_msg msg;
    assert_int_not_equal(vbt_fit_run(f, &msg), VBT_OK);
    assert_non_null(strstr(msg.text, "interrupted"));
    vbt_fit_free(f);
    assert_true(tu_exists(setup));
}

static void fit_chains_apart(void **state)
{
    (void)state;
    problem p;
    vf_fit_problem_make(&p);
    char *dir = tu_mkdtemp(), setup[4200], ch[3][4200], other[4200], merged[4200];
    tu_fmt(setup, sizeof setup, "%s/fit.checkpoint", dir);
    tu_fmt(other, sizeof other, "%s/other.checkpoint", dir);
    tu_fmt(merged, sizeof merged, "%s/merged.checkpoint", dir);
    for (size_t c = 0; c < 3; c++)
        tu_fmt(ch[c], sizeof ch[c], "%s/fit.chain%zu.checkpoint", dir, c + 1);
    vbt_msg msg;
    (void)vf_laplace_reference; /* the fixture's, used by other programs */
    vbt_fit *whole = fit_of(&p, 11, NULL, NULL, NULL);
    assert_int_equal(vbt_fit_run(whole, &msg), VBT_OK);

    prepare_run(&p, 11, setup);
    /* chain 2 stopped after 120 of its 350 iterations, then resumed from its own file */
    long stop = 120;
    vbt_fit *f = fit_of(&p, 11, ch[1], setup, &stop);
    assert_int_equal(vbt_fit_run_chain(f, 1, ch[1], &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "interrupted"));
    vbt_fit_free(f);
    size_t it = 0, total = 0;
    assert_int_equal(vbt_fit_checkpoint_chain(ch[1], 1, &it, &total, &msg), VBT_OK);
    assert_int_equal(it, 120);
    assert_int_equal(total, 350);
    f = fit_of(&p, 11, ch[1], ch[1], NULL);
    assert_int_equal(vbt_fit_run_chain(f, 1, ch[1], &msg), VBT_OK);
    vbt_fit_free(f);
    for (size_t c = 0; c < 3; c += 2) {
        f = fit_of(&p, 11, ch[c], setup, NULL);
        assert_int_equal(vbt_fit_run_chain(f, c, ch[c], &msg), VBT_OK);
        assert_int_equal(vbt_fit_run(f, &msg), VBT_EINVAL);   /* once per handle */
        vbt_fit_free(f);
    }
    for (size_t c = 0; c < 3; c++) {
        assert_int_equal(vbt_fit_checkpoint_chain(ch[c], c, &it, &total, &msg), VBT_OK);
        assert_int_equal(it, total);
    }

    /* refused: a chain that has not ended, another run, the wrong count */
    const char *bad1[3] = {ch[0], ch[0], ch[2]};
    assert_int_equal(vbt_fit_merge_chains(bad1, 3, merged, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "chain 2 has not ended"));
    prepare_run(&p, 12, other);
    const char *bad2[3] = {ch[0], ch[1], other};
    assert_int_equal(vbt_fit_merge_chains(bad2, 3, merged, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "holds another run"));
    assert_int_equal(vbt_fit_merge_chains(bad2, 2, merged, &msg), VBT_EINVAL);
    assert_false(tu_exists(merged));
    /* refused: a fit not resumed, a chain out of range */
    f = fit_of(&p, 11, NULL, NULL, NULL);
    assert_int_equal(vbt_fit_run_chain(f, 0, ch[0], &msg), VBT_EINVAL);
    vbt_fit_free(f);
    f = fit_of(&p, 11, NULL, setup, NULL);
    assert_int_equal(vbt_fit_run_chain(f, 3, ch[0], &msg), VBT_EINVAL);
    vbt_fit_free(f);

    /* merged and resumed: the whole run's draws, statistics and verdict, bit for bit */
    const char *good[3] = {ch[0], ch[1], ch[2]};
    assert_int_equal(vbt_fit_merge_chains(good, 3, merged, &msg), VBT_OK);
    f = fit_of(&p, 11, NULL, merged, NULL);
    assert_int_equal(vbt_fit_run(f, &msg), VBT_OK);
    const size_t C = vbt_fit_n_chains(whole), D = vbt_fit_n_draws(whole);
    assert_int_equal(vbt_fit_n_chains(f), C);
    assert_memory_equal(vbt_fit_draws(f), vbt_fit_draws(whole),
                        C * D * vbt_fit_n_params(whole) * sizeof(double));
    for (size_t q = 0; q < C * D; q++) {   /* field by field: the struct has padding */
        const vbt_nuts_stats *a = &vbt_fit_nuts_stats(f)[q], *b = &vbt_fit_nuts_stats(whole)[q];
        assert_true(a->lp == b->lp && a->accept_stat == b->accept_stat &&
                    a->stepsize == b->stepsize && a->energy == b->energy);
        assert_true(a->treedepth == b->treedepth && a->divergent == b->divergent &&
                    a->n_leapfrog == b->n_leapfrog && a->jumps == b->jumps);
    }
    for (size_t c = 0; c < C; c++) {
        const vbt_nuts_chain_info *a = &vbt_fit_nuts_info(f)[c], *b = &vbt_fit_nuts_info(whole)[c];
        assert_true(a->stepsize == b->stepsize);
        assert_int_equal(a->divergences, b->divergences);
        assert_int_equal(a->n_leapfrog, b->n_leapfrog);
        assert_int_equal(a->jumps_accepted, b->jumps_accepted);
    }
    assert_int_equal(vbt_fit_n_failures(f), vbt_fit_n_failures(whole));
    for (size_t r = 0; r < VF_NR; r++)
        assert_true(vbt_fit_regions(f)[r].p_ez == vbt_fit_regions(whole)[r].p_ez);
    vbt_fit_free(f);
    vbt_fit_free(whole);
    tu_rmtree(dir);
    free(dir);
}

/* ---- a cohort of one subject whose fit's chains run apart ------------------ */

/* The sample patient's seizure as subject T01 of a BIDS-iEEG dataset in
 * dir (ds004100's layout, as tests/test_cohort.c makes it). */
static void make_cohort(const char *d)
{
    char p[4096], q[4096], ieeg[4096], base[4200], srcd[4096];
    tu_fmt(p, sizeof p, "%s/participants.tsv", d);
    tu_write_file(p, "participant_id\toutcome\tengel\ttherapy\timplant\n"
                     "sub-T01\tS\t1A\tRESECTION\tSEEG\n");
    tu_fmt(srcd, sizeof srcd, "%s", tu_path(tu_samples_dir(), "patient/sub-vep01/ses-01/ieeg"));
    tu_fmt(ieeg, sizeof ieeg, "%s/sub-T01/ses-presurgery/ieeg", d);
    const char *parts[] = {"sub-T01", "ses-presurgery", "ieeg"};
    tu_fmt(p, sizeof p, "%s", d);
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(p);
        snprintf(p + l, sizeof p - l, "/%s", parts[k]);
        mkdir(p, 0777);
    }
    tu_fmt(base, sizeof base, "%s/sub-T01_ses-presurgery_task-ictal_acq-seeg_run-01", ieeg);
    const char *copies[][2] = {
        {"sub-vep01_ses-01_task-seizure_run-01_ieeg.edf", "%s_ieeg.edf"},
        {"sub-vep01_ses-01_space-IXI549Space_electrodes.tsv",
         "%s/../sub-T01_ses-presurgery_space-IXI549Space_electrodes.tsv"},
        {"sub-vep01_ses-01_space-IXI549Space_coordsystem.json",
         "%s/../sub-T01_ses-presurgery_space-IXI549Space_coordsystem.json"}};
    for (size_t k = 0; k < 3; k++) {
        tu_fmt(q, sizeof q, "%s/%s", srcd, copies[k][0]);
        if (k == 0)
            tu_fmt(p, sizeof p, "%s_ieeg.edf", base);
        else
            tu_fmt(p, sizeof p, "%s/%s", ieeg, strrchr(copies[k][1], '/') + 1);
        size_t n;
        char *b = tu_slurp(q, &n);
        assert_non_null(b);
        tu_write_bytes(p, b, n);
        free(b);
    }
    /* channels: the sample's, the first 4 soz, the next 4 resected */
    tu_fmt(q, sizeof q, "%s/sub-vep01_ses-01_task-seizure_run-01_channels.tsv", srcd);
    char *t = tu_slurp(q, NULL);
    assert_non_null(t);
    size_t cap = strlen(t) * 2 + 256, o = 0, line = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    o += (size_t)snprintf(out, cap, "name\ttype\tstatus\tstatus_description\n");
    for (char *save = NULL, *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (line++ == 0)
            continue;
        char *tab = strchr(l, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        const char *desc = line <= 5 ? "soz" : line <= 9 ? "resect" : "n/a";
        o += (size_t)snprintf(out + o, cap - o, "%s\tSEEG\tgood\t%s\n", l, desc);
    }
    free(t);
    tu_fmt(p, sizeof p, "%s_channels.tsv", base);
    tu_write_file(p, out);
    free(out);
    tu_fmt(p, sizeof p, "%s_events.tsv", base);
    tu_write_file(p, "onset\tduration\ttrial_type\n3.204\t0.0\tSZ_Onset\n5.268\t0.0\tSz End\n");
}

static char g_conn[4096], g_par[4096], g_lab[4096], g_nm[4096];

/* A short NUTS fit of 4 chains: small enough for a test, long enough
 * (200 iterations) for a checkpoint (every 50) to be written mid-chain. */
static void cohort_opts(vbt_cohort_run_opts *o, const char *out)
{
    vbt_cohort_run_opts_default(o);
    snprintf(g_conn, sizeof g_conn, "%s/connectivity_84_desikan.zip", tu_samples_dir());
    snprintf(g_par, sizeof g_par, "%s/neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz",
             tu_samples_dir());
    snprintf(g_lab, sizeof g_lab, "%s/neuroparc/Desikan.csv", tu_samples_dir());
    snprintf(g_nm, sizeof g_nm, "%s/desikan70_to_dk84.tsv", tu_samples_dir());
    o->outdir = out;
    o->atlas.connectome = g_conn;
    o->atlas.parcellation = g_par;
    o->atlas.labels = g_lab;
    o->atlas.names = g_nm;
    o->pipeline.fit.method = "nuts";
    o->pipeline.fit.points = 60;
    o->pipeline.fit.map_starts = 8;
    o->pipeline.fit.map_hop_rounds = 0; /* a short search, for the test's time */
    o->pipeline.fit.nuts_warmup = 100;
    o->pipeline.fit.nuts_draws = 100;
}

typedef struct task_ctx {
    const vbt_cohort *c;
    const vbt_cohort_plan *p;
    const vbt_cohort_run_opts *o;
} task_ctx;

static int cohort_task_fn(void *ctx, size_t k, vbt_msg *msg)
{
    const task_ctx *t = ctx;
    return vbt_cohort_task_run(t->c, &t->p->tasks[k], t->o, msg);
}

/* ---- comparing two output folders ------------------------------------------- */

/* What holds a duration measured while running: it differs between any
 * two runs, split or not (test_pipeline's resume test leaves these files
 * out for that reason).  JSON: the members below; a record of inputs
 * ("inputs": {"NAME.json": {"sha256"}}) hashes such files, which are
 * compared here member by member instead; report.html: the "wall (s)"
 * column of the per-chain table. */
static int timing_key(const char *k)
{
    static const char *const keys[] = {"timing", "wall_s", "map_s", "nuts_s", "smc_s",
                                       "draws_per_s", NULL};
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(k, keys[i]))
            return 1;
    return 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

static void strip_timing(cJSON *j)
{
    for (cJSON *c = j ? j->child : NULL, *next; c; c = next) {
        next = c->next;
        if (c->string && timing_key(c->string)) {
            cJSON_DeleteItemFromObjectCaseSensitive(j, c->string);
            continue;
        }
        if (c->string && !strcmp(c->string, "inputs") && cJSON_IsObject(c))
            for (cJSON *in = c->child; in; in = in->next)
                if (in->string && ends_with(in->string, ".json"))
                    cJSON_DeleteItemFromObjectCaseSensitive(in, "sha256");
        strip_timing(c);
    }
}

/* The cells of the "wall (s)" column of report.html's tables emptied, in
 * place (the text gets shorter). */
static void strip_wall_column(char *html)
{
    for (char *t = strstr(html, "<th>wall (s)</th>"); t; t = strstr(t + 1, "<th>wall (s)</th>")) {
        char *row = t;
        while (row > html && strncmp(row, "<tr>", 4))
            row--;
        size_t col = 0;
        for (char *h = strstr(row, "<th>"); h && h < t; h = strstr(h + 1, "<th>"))
            col++;
        char *end = strstr(t, "</table>");
        for (char *r = strstr(t, "<tr>"); r && end && r < end; r = strstr(r + 1, "<tr>")) {
            char *cell = r;
            for (size_t k = 0; cell && k <= col; k++)
                cell = strstr(cell + 1, "<td");
            char *open = cell ? strchr(cell, '>') : NULL, *close = cell ? strstr(cell, "</td>") : NULL;
            if (open && close && close < end) {
                size_t cut = (size_t)(close - open - 1);
                memmove(open + 1, close, strlen(close) + 1);
                end -= cut;
            }
        }
    }
}

/* 0 when a and b hold the same bytes, timing aside (see above); else 1
 * with the file named. */
static int same_content(const char *a, const char *b, const char *rel)
{
    size_t la, lb;
    char *ta = tu_slurp(a, &la), *tb = tu_slurp(b, &lb);
    int diff = !ta || !tb;
    if (!diff && ends_with(rel, ".json")) {
        cJSON *ja = cJSON_Parse(ta), *jb = cJSON_Parse(tb);
        strip_timing(ja);
        strip_timing(jb);
        char *pa = ja ? cJSON_PrintUnformatted(ja) : NULL;
        char *pb = jb ? cJSON_PrintUnformatted(jb) : NULL;
        diff = !pa || !pb || strcmp(pa, pb) != 0;
        free(pa);
        free(pb);
        cJSON_Delete(ja);
        cJSON_Delete(jb);
    } else if (!diff) {
        if (ends_with(rel, ".html")) {
            strip_wall_column(ta);
            strip_wall_column(tb);
            la = strlen(ta);
            lb = strlen(tb);
        }
        diff = la != lb || memcmp(ta, tb, la) != 0;
    }
    if (diff)
        fprintf(stderr, "differs: %s\n", rel);
    free(ta);
    free(tb);
    return diff;
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The sorted entries of dir (malloc'd names), *n of them. */
static char **list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            v = realloc(v, cap * sizeof *v);
            assert_non_null(v);
        }
        v[(*n)++] = strdup(e->d_name);
    }
    if (d)
        closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_names);
    return v;
}

/* Number of differences between the trees a and b (names, link targets,
 * contents); *files counts the regular files compared. */
static int compare_trees(const char *a, const char *b, const char *rel, size_t *files)
{
    size_t na, nb;
    char **ea = list_dir(a, &na), **eb = list_dir(b, &nb);
    int bad = 0;
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(ea[i], eb[j]);
        if (c) {
            fprintf(stderr, "only in %s: %s/%s\n", c < 0 ? "the first" : "the second", rel,
                    c < 0 ? ea[i] : eb[j]);
            bad++;
            c < 0 ? i++ : j++;
            continue;
        }
        char pa[4096], pb[4096], r[4096];
        tu_fmt(pa, sizeof pa, "%s/%s", a, ea[i]);
        tu_fmt(pb, sizeof pb, "%s/%s", b, eb[j]);
        tu_fmt(r, sizeof r, "%s/%s", rel, ea[i]);
        struct stat sa, sb;
        if (lstat(pa, &sa) || lstat(pb, &sb) || (sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
            fprintf(stderr, "differs in kind: %s\n", r);
            bad++;
        } else if (S_ISDIR(sa.st_mode)) {
            bad += compare_trees(pa, pb, r, files);
        } else if (S_ISLNK(sa.st_mode)) {
            char la[4096] = "", lb[4096] = "";
            ssize_t ka = readlink(pa, la, sizeof la - 1), kb = readlink(pb, lb, sizeof lb - 1);
            if (ka < 0 || kb < 0 || strcmp(la, lb)) {
                fprintf(stderr, "link differs: %s\n", r);
                bad++;
            }
        } else {
            ++*files;
            bad += same_content(pa, pb, r);
        }
        i++;
        j++;
    }
    for (size_t k = 0; k < na; k++)
        free(ea[k]);
    for (size_t k = 0; k < nb; k++)
        free(eb[k]);
    free(ea);
    free(eb);
    return bad;
}

/* The whole cohort (its one subject) through the scheduler the environment
 * picks, chains apart when there are more workers than subjects; 0 or 1. */
static int run_cohort(const char *ds, const char *out, size_t jobs)
{
    vbt_cohort *c = NULL;
    vbt_msg msg;
    vbt_cohort_scheduler *s = NULL;
    vbt_cohort_plan *plan = NULL;
    int rc = 1, *status = NULL;
    if (vbt_cohort_load(&c, ds, &msg))
        goto fail;
    vbt_cohort_run_opts o;
    cohort_opts(&o, out);
    vbt_cohort_scheduler_opts so;
    vbt_cohort_scheduler_opts_default(&so);
    so.n_threads = jobs;
    size_t todo[1] = {0};
    if (vbt_cohort_scheduler_alloc(&s, &so, &msg) ||
        vbt_cohort_plan_alloc(&plan, c, todo, 1, &o, vbt_cohort_scheduler_workers(s) > 1, &msg))
        goto fail;
    status = calloc(plan->n_tasks + 1, sizeof *status);
    if (!status)
        goto fail;
    task_ctx t = {c, plan, &o};
    if (vbt_cohort_scheduler_run_deps(s, plan->n_tasks, cohort_task_fn, &t, plan->dep_start,
                                      plan->deps, status, NULL, &msg))
        goto fail;
    rc = 0;
    if (vbt_cohort_scheduler_rank(s) == 0) {
        fprintf(stderr, "cohort fixture: %zu task(s) on %zu worker(s), backend %s\n",
                plan->n_tasks, vbt_cohort_scheduler_workers(s), vbt_cohort_scheduler_backend(s));
        for (size_t k = 0; k < plan->n_tasks; k++)
            if (plan->tasks[k].kind == VBT_COHORT_TASK_SUBJECT && status[k] != VBT_OK) {
                fprintf(stderr, "cohort fixture: the subject failed\n");
                rc = 1;
            }
    }
    goto out;
fail:
    fprintf(stderr, "cohort fixture: %s\n", msg.text);
out:
    free(status);
    vbt_cohort_plan_free(plan);
    vbt_cohort_scheduler_free(s);
    vbt_cohort_free(c);
    return rc;
}

/* ---- chains apart: same bytes, and a kill -9 in a chain --------------------- */

static void on_note(void *ctx, vbt_pipeline_step step, double fraction, const char *text)
{
    (void)fraction;
    if (step == VBT_PIPELINE_FIT && text && strstr(text, "resuming at iteration "))
        *(int *)ctx = 1;
}

static int run_task(const vbt_cohort *c, const vbt_cohort_plan *p, vbt_cohort_task_kind kind,
                    size_t chain, const vbt_cohort_run_opts *o)
{
    for (size_t k = 0; k < p->n_tasks; k++)
        if (p->tasks[k].kind == kind && (kind != VBT_COHORT_TASK_CHAIN || p->tasks[k].chain == chain)) {
            vbt_msg m;
            int rc = vbt_cohort_task_run(c, &p->tasks[k], o, &m);
            if (rc)
                print_message("task %zu: %s\n", k, m.text);
            return rc;
        }
    return -1;
}

/* One subject (4 chains) run whole, and run as its parts (PREPARE, 4
 * CHAINs, SUBJECT) with chain 1 killed (SIGKILL) once it has written a
 * checkpoint (every 50 of its 200 iterations): the rerun resumes chain 1 where its file left it, leaves the
 * chain that had ended untouched, and every output file equals the whole
 * run's (timings aside); the chains' files are gone at the end. */
static void chains_apart_resume(void **state)
{
    (void)state;
    char *d = tu_mkdtemp(), ds[4200], a[4200], b[4200], rdir[4300], cf[4400], cf2[4400];
    tu_fmt(ds, sizeof ds, "%s/ds", d);
    tu_fmt(a, sizeof a, "%s/whole", d);
    tu_fmt(b, sizeof b, "%s/apart", d);
    mkdir(ds, 0777);
    mkdir(a, 0777);
    mkdir(b, 0777);
    make_cohort(ds);
    vbt_cohort *c = NULL;
    vbt_msg msg;
    assert_int_equal(vbt_cohort_load(&c, ds, &msg), VBT_OK);
    tu_fmt(rdir, sizeof rdir, "%s/sub-T01/%s", b, c->subjects[0].runs[0].name);
    tu_fmt(cf, sizeof cf, "%s/fit.chain1.checkpoint", rdir);
    tu_fmt(cf2, sizeof cf2, "%s/fit.chain2.checkpoint", rdir);
    vbt_cohort_run_opts oa, ob;
    cohort_opts(&oa, a);
    assert_int_equal(vbt_cohort_subject_run(c, 0, &oa, &msg), VBT_OK);

    cohort_opts(&ob, b);
    int resumed = 0;
    ob.pipeline.progress = on_note;
    ob.pipeline.progress_ctx = &resumed;
    size_t todo[1] = {0};
    vbt_cohort_plan *p;
    assert_int_equal(vbt_cohort_plan_alloc(&p, c, todo, 1, &ob, 1, &msg), VBT_OK);
    assert_int_equal(p->n_tasks, 6);   /* prepare, 4 chains, the subject */
    assert_int_equal(p->tasks[0].kind, VBT_COHORT_TASK_PREPARE);
    assert_int_equal(p->tasks[5].kind, VBT_COHORT_TASK_SUBJECT);
    assert_int_equal(p->dep_start[6] - p->dep_start[5], 5);
    /* unsplit: one task per subject */
    vbt_cohort_plan *p1;
    assert_int_equal(vbt_cohort_plan_alloc(&p1, c, todo, 1, &ob, 0, &msg), VBT_OK);
    assert_int_equal(p1->n_tasks, 1);
    vbt_cohort_plan_free(p1);

    /* a chain before its MAP stage: nothing to run from */
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_CHAIN, 0, &ob), VBT_OK);
    assert_false(tu_exists(cf));
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_PREPARE, 0, &ob), VBT_OK);
    assert_true(tu_exists(tu_path(rdir, "fit.checkpoint")));
    assert_false(tu_exists(tu_path(rdir, "fit/summary.json")));
    /* chain 2 to its end */
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_CHAIN, 1, &ob), VBT_OK);
    size_t it = 0, total = 0;
    assert_int_equal(vbt_fit_checkpoint_chain(cf2, 1, &it, &total, &msg), VBT_OK);
    assert_int_equal(total, 200);
    assert_int_equal(it, total);
    struct stat s2;
    assert_int_equal(stat(cf2, &s2), 0);
    size_t l2;
    char *b2 = tu_slurp(cf2, &l2);

    /* chain 1 killed after its first checkpoint (iteration 50 of 200) */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(run_task(c, p, VBT_COHORT_TASK_CHAIN, 0, &ob) ? 1 : 0);
    tu_kill_when_exists(pid, cf, "chain 1");
    assert_int_equal(vbt_fit_checkpoint_chain(cf, 0, &it, &total, &msg), VBT_OK);
    assert_true(it >= 50 && it < total);   /* a checkpoint every 50 iterations */

    /* the rerun: the chain that ended is left alone, chain 1 resumes */
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_CHAIN, 1, &ob), VBT_OK);
    struct stat s2b;
    assert_int_equal(stat(cf2, &s2b), 0);
    assert_true(s2b.st_mtim.tv_sec == s2.st_mtim.tv_sec &&
                s2b.st_mtim.tv_nsec == s2.st_mtim.tv_nsec);
    size_t l2b;
    char *b2b = tu_slurp(cf2, &l2b);
    assert_int_equal(l2, l2b);
    assert_memory_equal(b2, b2b, l2);
    free(b2);
    free(b2b);
    assert_int_equal(resumed, 0);
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_CHAIN, 0, &ob), VBT_OK);
    assert_int_equal(resumed, 1);
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_CHAIN, 2, &ob), VBT_OK);
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_CHAIN, 3, &ob), VBT_OK);
    assert_int_equal(run_task(c, p, VBT_COHORT_TASK_SUBJECT, 0, &ob), VBT_OK);
    /* merged, finished, cleaned up */
    assert_false(tu_exists(cf));
    assert_false(tu_exists(cf2));
    assert_false(tu_exists(tu_path(rdir, "fit.checkpoint")));
    size_t files = 0;
    assert_int_equal(compare_trees(a, b, ".", &files), 0);
    assert_true(files > 40);
    /* and the comparison does see a difference in the draws */
    char dr[4400];
    tu_fmt(dr, sizeof dr, "%s/fit/draws.npy", rdir);
    size_t ld;
    char *bd = tu_slurp(dr, &ld);
    assert_non_null(bd);
    bd[ld - 1] ^= 1;
    tu_write_bytes(dr, bd, ld);
    free(bd);
    files = 0;
    assert_int_equal(compare_trees(a, b, ".", &files), 1);
    vbt_cohort_plan_free(p);
    vbt_cohort_free(c);
    tu_rmtree(d);
    free(d);
}

/* ---- the fixture of check_cohort_mpi.sh ----------------------------------- */

static int write_task(void *ctx, size_t k, vbt_msg *msg)
{
    const char *dir = ctx;
    char path[4096];
    snprintf(path, sizeof path, "%s/task-%03zu.txt", dir, k);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        snprintf(msg->text, sizeof msg->text, "task %zu: %s", k,
                 errno == EEXIST ? "ran twice" : strerror(errno));
        return VBT_EIO;
    }
    FILE *f = fdopen(fd, "w");
    uint64_t x = 0x9e3779b97f4a7c15ull * (k + 1);
    for (int i = 0; i < 100; i++) {
        x ^= x >> 31;
        x *= 0xbf58476d1ce4e5b9ull;
        fprintf(f, "%016llx\n", (unsigned long long)x);
    }
    fclose(f);
    if (k % 5 == 3) {
        snprintf(msg->text, sizeof msg->text, "task %zu refused on purpose", k);
        return VBT_EFORMAT;
    }
    return VBT_OK;
}

static int fixture(const char *dir, size_t n)
{
    vbt_cohort_scheduler_opts o;
    vbt_cohort_scheduler_opts_default(&o);
    o.n_threads = 2;
    vbt_cohort_scheduler *s;
    vbt_msg msg;
    if (vbt_cohort_scheduler_alloc(&s, &o, &msg) != VBT_OK) {
        fprintf(stderr, "%s\n", msg.text);
        return 1;
    }
    int *status = calloc(n + 1, sizeof *status);
    char (*reasons)[VBT_MSG_LEN] = calloc(n + 1, sizeof *reasons);
    int rc = vbt_cohort_scheduler_run(s, n, write_task, (void *)dir, status, reasons, &msg);
    if (rc == VBT_OK && vbt_cohort_scheduler_rank(s) == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/summary.tsv", dir);
        FILE *f = fopen(path, "w");
        for (size_t k = 0; f && k < n; k++)
            fprintf(f, "%zu\t%d\t%s\n", k, status[k], reasons[k]);
        if (f)
            fclose(f);
        fprintf(stderr, "fixture: %zu tasks on %d rank(s), backend %s\n", n,
                vbt_cohort_scheduler_size(s), vbt_cohort_scheduler_backend(s));
    }
    free(status);
    free(reasons);
    vbt_cohort_scheduler_free(s);
    return rc == VBT_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write") == 0)
        return fixture(argv[2], (size_t)strtoul(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "--make-cohort") == 0) {
        make_cohort(argv[2]);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "--cohort") == 0) {
        openblas_set_num_threads(1);
        return run_cohort(argv[2], argv[3], (size_t)strtoul(argv[4], NULL, 10));
    }
    if (argc == 4 && strcmp(argv[1], "--compare") == 0) {
        size_t files = 0;
        int bad = compare_trees(argv[2], argv[3], ".", &files);
        fprintf(stderr, "compared %zu file(s): %d difference(s)\n", files, bad);
        return bad || files == 0 ? 1 : 0;
    }
    if (argc == 2 && strcmp(argv[1], "--have-mpi") == 0)
        return vbt_cohort_sched_have_mpi() ? 0 : 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_each_task_once),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(threads_prerequisites),
        cmocka_unit_test(fit_chains_apart),
        cmocka_unit_test(chains_apart_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
