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
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vbt.h"
#include "vbt_cohort_sched.h"

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
    if (argc == 2 && strcmp(argv[1], "--have-mpi") == 0)
        return vbt_cohort_sched_have_mpi() ? 0 : 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_each_task_once),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
