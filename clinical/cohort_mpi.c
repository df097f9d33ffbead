/* cohort_mpi.c -- the cohort's work distribution (vbt_cohort_sched.h): a
 * threads backend, and an MPI backend (built with -Dmpi, VBT_HAVE_MPI) in
 * which rank 0 hands out tasks and gathers their statuses.
 *
 * MPI protocol (MPI_COMM_WORLD, all messages on rank 0's side):
 *   worker -> 0, TAG_RESULT: a result record {task or -1, status, reason};
 *            -1 is the first request ("nothing done yet").
 *   0 -> worker, TAG_TASK:   int64 task, or -1: no more tasks.
 *   0 -> worker, TAG_DONE:   int64 0 once every task is finished, so that
 *            workers leave run() together (and do not spin in a collective
 *            while rank 0 still computes).
 * Rank 0's main thread dispatches (the only thread that calls MPI: thread
 * level FUNNELED); one worker thread of rank 0 takes tasks from the same
 * counter.  Waiting is MPI_Iprobe plus a 2 ms sleep. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef VBT_HAVE_MPI
#include <mpi.h>
#endif

#include "internal.h"
#include "vbt_cohort_sched.h"

struct vbt_cohort_scheduler {
    vbt_cohort_scheduler_opts o;
    int mpi;             /* backend is MPI */
    int rank, size;
    int we_initialised;  /* MPI_Init_thread was ours */
};

void vbt_cohort_scheduler_opts_default(vbt_cohort_scheduler_opts *o)
{
    memset(o, 0, sizeof *o);
    o->backend = VBT_COHORT_SCHED_AUTO;
    o->n_threads = 1;
}

int vbt_cohort_sched_have_mpi(void)
{
#ifdef VBT_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

static int launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static void set_msg(vbt_msg *msg, const char *text)
{
    if (msg)
        snprintf(msg->text, sizeof msg->text, "%s", text);
}

int vbt_cohort_scheduler_alloc(vbt_cohort_scheduler **out, const vbt_cohort_scheduler_opts *o,
                               vbt_msg *msg)
{
    *out = NULL;
    if (!o || o->n_threads == 0) {
        set_msg(msg, "cohort scheduler: at least one thread");
        return VBT_EINVAL;
    }
    int mpi = o->backend == VBT_COHORT_SCHED_MPI ||
              (o->backend == VBT_COHORT_SCHED_AUTO && vbt_cohort_sched_have_mpi() &&
               launched_by_mpi());
    if (mpi && !vbt_cohort_sched_have_mpi()) {
        set_msg(msg, "cohort scheduler: this vbt was built without MPI (meson -Dmpi=enabled)");
        return VBT_EINVAL;
    }
    vbt_cohort_scheduler *s = calloc(1, sizeof *s);
    if (!s) {
        set_msg(msg, "cohort scheduler: out of memory");
        return VBT_ENOMEM;
    }
    s->o = *o;
    s->size = 1;
#ifdef VBT_HAVE_MPI
    if (mpi) {
        int inited = 0, provided = 0;
        MPI_Initialized(&inited);
        if (!inited) {
            if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
                free(s);
                set_msg(msg, "cohort scheduler: MPI_Init_thread failed");
                return VBT_EIO;
            }
            s->we_initialised = 1;
        }
        s->mpi = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &s->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &s->size);
    }
#endif
    *out = s;
    return VBT_OK;
}

void vbt_cohort_scheduler_free(vbt_cohort_scheduler *s)
{
    if (!s)
        return;
#ifdef VBT_HAVE_MPI
    if (s->we_initialised) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin)
            MPI_Finalize();
    }
#endif
    free(s);
}

const char *vbt_cohort_scheduler_backend(const vbt_cohort_scheduler *s)
{
    return s && s->mpi ? "mpi" : "threads";
}

int vbt_cohort_scheduler_rank(const vbt_cohort_scheduler *s)
{
    return s ? s->rank : 0;
}

int vbt_cohort_scheduler_size(const vbt_cohort_scheduler *s)
{
    return s ? s->size : 1;
}

/* ---- the local work queue (threads, and rank 0's own worker) ------------- */

typedef struct queue {
    pthread_mutex_t lock;
    size_t n, next, n_done;
    vbt_cohort_task_fn fn;
    void *ctx;
    int *status;
    char (*reasons)[VBT_MSG_LEN];
    const vbt_cohort_scheduler_opts *o;
    int local_done;      /* rank 0's worker thread has finished */
} queue;

/* Next task index, or n when none is left. */
static size_t take(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t k = q->next < q->n ? q->next++ : q->n;
    pthread_mutex_unlock(&q->lock);
    return k;
}

static void record(queue *q, size_t task, int status, const char *reason, int rank)
{
    pthread_mutex_lock(&q->lock);
    if (q->status)
        q->status[task] = status;
    if (q->reasons)
        snprintf(q->reasons[task], VBT_MSG_LEN, "%s", status == VBT_OK ? "" : reason);
    q->n_done++;
    if (q->o->progress)
        q->o->progress(q->o->userdata, task, status, status == VBT_OK ? "" : reason, rank,
                       q->n_done, q->n);
    pthread_mutex_unlock(&q->lock);
}

static void *worker(void *arg)
{
    queue *q = arg;
    for (size_t k; (k = take(q)) < q->n;) {
        vbt_msg m;
        m.text[0] = '\0';
        int rc = q->fn(q->ctx, k, &m);
        record(q, k, rc, m.text, 0);
    }
    pthread_mutex_lock(&q->lock);
    q->local_done = 1;
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static int run_threads(queue *q, size_t n_threads, vbt_msg *msg)
{
    if (n_threads > q->n)
        n_threads = q->n;
    if (n_threads <= 1) {
        worker(q);
        return VBT_OK;
    }
    pthread_t *th = calloc(n_threads, sizeof *th);
    if (!th) {
        set_msg(msg, "cohort scheduler: out of memory");
        return VBT_ENOMEM;
    }
    size_t started = 0;
    for (; started < n_threads; started++)
        if (pthread_create(&th[started], NULL, worker, q) != 0)
            break;
    if (started == 0)
        worker(q);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    free(th);
    return VBT_OK;
}

/* ---- MPI ------------------------------------------------------------------- */

#ifdef VBT_HAVE_MPI
enum { TAG_RESULT = 7101, TAG_TASK = 7102, TAG_DONE = 7103 };

typedef struct result_rec {
    int64_t task;
    int32_t status;
    char reason[VBT_MSG_LEN];
} result_rec;

static void nap(void)
{
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}

/* Wait for a message (source, tag) without spinning. */
static void wait_for(int source, int tag, MPI_Status *st)
{
    for (int flag = 0;;) {
        MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, st);
        if (flag)
            return;
        nap();
    }
}

static int run_mpi_rank0(vbt_cohort_scheduler *s, queue *q, vbt_msg *msg)
{
    pthread_t th;
    int have_thread = q->n > 0 && pthread_create(&th, NULL, worker, q) == 0;
    if (!have_thread) {
        pthread_mutex_lock(&q->lock);
        q->local_done = 1;
        pthread_mutex_unlock(&q->lock);
    }
    int stopped = 0;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        int all = q->local_done && q->n_done == q->n;
        pthread_mutex_unlock(&q->lock);
        if (all && stopped == s->size - 1)
            break;
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            nap();
            continue;
        }
        result_rec r;
        MPI_Recv(&r, (int)sizeof r, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        if (r.task >= 0 && (size_t)r.task < q->n) {
            r.reason[VBT_MSG_LEN - 1] = '\0';
            record(q, (size_t)r.task, r.status, r.reason, st.MPI_SOURCE);
        }
        size_t k = take(q);
        int64_t t = k < q->n ? (int64_t)k : -1;
        MPI_Send(&t, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_TASK, MPI_COMM_WORLD);
        if (t < 0)
            stopped++;
    }
    if (have_thread)
        pthread_join(th, NULL);
    int64_t zero = 0;
    for (int r = 1; r < s->size; r++)
        MPI_Send(&zero, 1, MPI_INT64_T, r, TAG_DONE, MPI_COMM_WORLD);
    (void)msg;
    return VBT_OK;
}

static int run_mpi_worker(vbt_cohort_scheduler *s, queue *q)
{
    result_rec r;
    memset(&r, 0, sizeof r);
    r.task = -1;
    for (;;) {
        MPI_Send(&r, (int)sizeof r, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        MPI_Status st;
        wait_for(0, TAG_TASK, &st);
        int64_t t;
        MPI_Recv(&t, 1, MPI_INT64_T, 0, TAG_TASK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (t < 0)
            break;
        vbt_msg m;
        m.text[0] = '\0';
        memset(&r, 0, sizeof r);
        r.task = t;
        r.status = q->fn(q->ctx, (size_t)t, &m);
        snprintf(r.reason, sizeof r.reason, "%s", r.status == VBT_OK ? "" : m.text);
    }
    MPI_Status st;
    wait_for(0, TAG_DONE, &st);
    int64_t z;
    MPI_Recv(&z, 1, MPI_INT64_T, 0, TAG_DONE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    (void)s;
    return VBT_OK;
}
#endif

int vbt_cohort_scheduler_run(vbt_cohort_scheduler *s, size_t n, vbt_cohort_task_fn fn, void *ctx,
                             int *status, char (*reasons)[VBT_MSG_LEN], vbt_msg *msg)
{
    if (!s || !fn || (n > 0 && s->rank == 0 && !status)) {
        set_msg(msg, "cohort scheduler: no scheduler, task or status array");
        return VBT_EINVAL;
    }
    queue q;
    memset(&q, 0, sizeof q);
    pthread_mutex_init(&q.lock, NULL);
    q.n = n;
    q.fn = fn;
    q.ctx = ctx;
    q.status = s->rank == 0 ? status : NULL;
    q.reasons = s->rank == 0 ? reasons : NULL;
    q.o = &s->o;
    int rc;
#ifdef VBT_HAVE_MPI
    if (s->mpi && s->size > 1)
        rc = s->rank == 0 ? run_mpi_rank0(s, &q, msg) : run_mpi_worker(s, &q);
    else
#endif
        rc = run_threads(&q, s->o.n_threads, msg);
    pthread_mutex_destroy(&q.lock);
    return rc;
}
