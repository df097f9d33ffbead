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
 * queue.  Waiting is MPI_Iprobe plus a 2 ms sleep.
 *
 * Tasks may have prerequisites (vbt_cohort_scheduler_run_deps): a task is
 * handed out, lowest index first, once its prerequisites have finished; a
 * rank that asks while none is ready waits on rank 0's list and is answered
 * as soon as one is (a worker thread waits on a condition variable). */
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
    int *waiting;        /* MPI rank 0: ranks waiting for a ready task (size) */
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
        if (!(s->waiting = calloc((size_t)s->size, sizeof *s->waiting))) {
            vbt_cohort_scheduler_free(s);
            set_msg(msg, "cohort scheduler: out of memory");
            return VBT_ENOMEM;
        }
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
    free(s->waiting);
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
    pthread_cond_t changed;      /* a task finished */
    size_t n, first, n_done;     /* first: the lowest task not yet handed out */
    vbt_cohort_task_fn fn;
    void *ctx;
    const size_t *dep_start, *deps;  /* prerequisites, or NULL */
    unsigned char *taken, *finished; /* per task */
    int *status;
    char (*reasons)[VBT_MSG_LEN];
    const vbt_cohort_scheduler_opts *o;
    int local_done;      /* rank 0's worker thread has finished */
} queue;

/* take(): every task has been handed out. */
#define NONE_LEFT(q) ((q)->n)
/* take(): tasks are left, none of them ready yet. */
#define NOT_READY(q) ((q)->n + 1)

static int ready(const queue *q, size_t k)
{
    if (!q->dep_start)
        return 1;
    for (size_t d = q->dep_start[k]; d < q->dep_start[k + 1]; d++)
        if (!q->finished[q->deps[d]])
            return 0;
    return 1;
}

/* The lowest task not handed out whose prerequisites have finished, marked
 * taken; NONE_LEFT or NOT_READY.  Called with the lock held. */
static size_t take_locked(queue *q)
{
    while (q->first < q->n && q->taken[q->first])
        q->first++;
    if (q->first == q->n)
        return NONE_LEFT(q);
    for (size_t k = q->first; k < q->n; k++)
        if (!q->taken[k] && ready(q, k)) {
            q->taken[k] = 1;
            return k;
        }
    return NOT_READY(q);
}

static void record(queue *q, size_t task, int status, const char *reason, int rank)
{
    pthread_mutex_lock(&q->lock);
    if (q->status)
        q->status[task] = status;
    if (q->reasons)
        snprintf(q->reasons[task], VBT_MSG_LEN, "%s", status == VBT_OK ? "" : reason);
    q->finished[task] = 1;
    q->n_done++;
    if (q->o->progress)
        q->o->progress(q->o->userdata, task, status, status == VBT_OK ? "" : reason, rank,
                       q->n_done, q->n);
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
}

static void *worker(void *arg)
{
    queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        size_t k;
        /* a prerequisite runs elsewhere: wait for a task to finish */
        while ((k = take_locked(q)) == NOT_READY(q))
            pthread_cond_wait(&q->changed, &q->lock);
        pthread_mutex_unlock(&q->lock);
        if (k == NONE_LEFT(q))
            break;
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

static size_t take(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t k = take_locked(q);
    pthread_mutex_unlock(&q->lock);
    return k;
}

/* Answer a waiting rank: a ready task, or -1 when every task has been
 * handed out; 0 (and nothing sent) while its prerequisites still run. */
static int answer(queue *q, int rank, int *stopped)
{
    size_t k = take(q);
    if (k == NOT_READY(q))
        return 0;
    int64_t t = k < q->n ? (int64_t)k : -1;
    MPI_Send(&t, 1, MPI_INT64_T, rank, TAG_TASK, MPI_COMM_WORLD);
    if (t < 0)
        ++*stopped;
    return 1;
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
    /* ranks that asked for work while none was ready, oldest first */
    int *waiting = s->waiting, n_waiting = 0;
    int stopped = 0;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        int all = q->local_done && q->n_done == q->n;
        pthread_mutex_unlock(&q->lock);
        if (all && stopped == s->size - 1)
            break;
        int served = 0;
        for (int w = 0; w < n_waiting;) {
            if (answer(q, waiting[w], &stopped)) {
                memmove(waiting + w, waiting + w + 1, (size_t)(n_waiting - w - 1) * sizeof *waiting);
                n_waiting--;
                served = 1;
            } else {
                w++;
            }
        }
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            if (!served)
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
        if (!answer(q, st.MPI_SOURCE, &stopped))
            waiting[n_waiting++] = st.MPI_SOURCE;
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

size_t vbt_cohort_scheduler_workers(const vbt_cohort_scheduler *s)
{
    if (!s)
        return 1;
    return s->mpi && s->size > 1 ? (size_t)s->size : s->o.n_threads;
}

int vbt_cohort_scheduler_run_deps(vbt_cohort_scheduler *s, size_t n, vbt_cohort_task_fn fn,
                                  void *ctx, const size_t *dep_start, const size_t *deps,
                                  int *status, char (*reasons)[VBT_MSG_LEN], vbt_msg *msg)
{
    if (!s || !fn || (n > 0 && s->rank == 0 && !status) || (dep_start && !deps)) {
        set_msg(msg, "cohort scheduler: no scheduler, task or status array");
        return VBT_EINVAL;
    }
    /* prerequisites come first: then some ready task always exists */
    for (size_t k = 0; dep_start && k < n; k++)
        for (size_t d = dep_start[k]; d < dep_start[k + 1]; d++)
            if (deps[d] >= k) {
                if (msg)
                    snprintf(msg->text, sizeof msg->text, "cohort scheduler: task %zu depends "
                             "on task %zu, not an earlier one", k, deps[d]);
                return VBT_EINVAL;
            }
    queue q;
    memset(&q, 0, sizeof q);
    q.taken = calloc(n + 1, 1);
    q.finished = calloc(n + 1, 1);
    if (!q.taken || !q.finished) {
        free(q.taken);
        free(q.finished);
        set_msg(msg, "cohort scheduler: out of memory");
        return VBT_ENOMEM;
    }
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.changed, NULL);
    q.n = n;
    q.fn = fn;
    q.ctx = ctx;
    q.dep_start = dep_start;
    q.deps = deps;
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
    pthread_cond_destroy(&q.changed);
    pthread_mutex_destroy(&q.lock);
    free(q.taken);
    free(q.finished);
    return rc;
}

int vbt_cohort_scheduler_run(vbt_cohort_scheduler *s, size_t n, vbt_cohort_task_fn fn, void *ctx,
                             int *status, char (*reasons)[VBT_MSG_LEN], vbt_msg *msg)
{
    return vbt_cohort_scheduler_run_deps(s, n, fn, ctx, NULL, NULL, status, reasons, msg);
}
