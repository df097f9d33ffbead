/* vbt_cohort_sched.h -- where the tasks of a cohort (its subjects) run: on
 * the threads of one process, or on the ranks of an MPI job
 * (`mpirun -n N vbt cohort run ...`), behind one interface.
 *
 *   vbt_cohort_scheduler_opts so;  vbt_cohort_scheduler_opts_default(&so);
 *   so.n_threads = jobs;
 *   vbt_cohort_scheduler *s;  vbt_cohort_scheduler_alloc(&s, &so, &msg);
 *   vbt_cohort_scheduler_run(s, n_subjects, run_one, ctx, status, reasons, &msg);
 *   if (vbt_cohort_scheduler_rank(s) == 0) { collect, score, write cohort.csv }
 *   vbt_cohort_scheduler_free(s);
 *
 * Every task runs exactly once, in one process.  Rank 0 hands the tasks out
 * in order (0, 1, ...) to whichever rank asks first, works on them itself
 * too (a worker thread beside the dispatcher), and gathers each task's
 * status and one-line reason.  Which rank ran a task never changes what the
 * task writes, so a task whose output depends only on its index (a cohort
 * subject: its own seeds and OUT/sub-ID/ folder on a file system every rank
 * sees) gives the same bytes with threads and with any number of ranks.
 * The MPI backend exists when vbt was built with MPI (meson -Dmpi=auto,
 * on when Open MPI is found); VBT_COHORT_SCHED_AUTO picks it only when the
 * process was started by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
 * PMIX_RANK in the environment), so a plain `vbt cohort run` never
 * initialises MPI.  Waiting ranks poll with millisecond sleeps rather than
 * spinning, so a rank that waits does not take a core from one that works. */
#ifndef VBT_COHORT_SCHED_H
#define VBT_COHORT_SCHED_H

#include <stddef.h>

#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vbt_cohort_sched_backend {
    VBT_COHORT_SCHED_AUTO = 0,   /* MPI when launched by mpirun and built with MPI, else threads */
    VBT_COHORT_SCHED_THREADS,
    VBT_COHORT_SCHED_MPI         /* VBT_EUNSUPPORTED-like failure (VBT_EINVAL) when not built with MPI */
} vbt_cohort_sched_backend;

/* Called on rank 0 after each task finishes (serialised: never two calls at
 * once): the task, its status (VBT_OK or an error code), its reason ("" when
 * ok), the rank that ran it (0 with threads) and how many tasks are done. */
typedef void (*vbt_cohort_sched_progress)(void *userdata, size_t task, int status,
                                          const char *reason, int rank, size_t n_done,
                                          size_t n_tasks);

typedef struct vbt_cohort_scheduler_opts {
    vbt_cohort_sched_backend backend;  /* VBT_COHORT_SCHED_AUTO */
    size_t n_threads;                  /* tasks at once in this process (threads backend): 1 */
    vbt_cohort_sched_progress progress;/* NULL */
    void *userdata;
} vbt_cohort_scheduler_opts;
void vbt_cohort_scheduler_opts_default(vbt_cohort_scheduler_opts *o);

/* One task: returns VBT_OK or an error code with msg set (one line). */
typedef int (*vbt_cohort_task_fn)(void *ctx, size_t task, vbt_msg *msg);

typedef struct vbt_cohort_scheduler vbt_cohort_scheduler;

/* 1 when this libvbt was built with MPI. */
int vbt_cohort_sched_have_mpi(void);

/* Start a scheduler; the MPI backend initialises MPI (thread level
 * FUNNELED) unless the program already did, and _free() finalises it when
 * it did.  Errors: VBT_EINVAL (MPI asked for but not built in, n_threads 0). */
int vbt_cohort_scheduler_alloc(vbt_cohort_scheduler **out, const vbt_cohort_scheduler_opts *o,
                               vbt_msg *msg);
void vbt_cohort_scheduler_free(vbt_cohort_scheduler *s);

/* "threads" or "mpi". */
const char *vbt_cohort_scheduler_backend(const vbt_cohort_scheduler *s);
/* This process's rank and the number of ranks (0 and 1 with threads). */
int vbt_cohort_scheduler_rank(const vbt_cohort_scheduler *s);
int vbt_cohort_scheduler_size(const vbt_cohort_scheduler *s);

/* Run tasks 0 .. n-1, each once.  Every rank calls it with the same n, fn
 * and an equivalent ctx.  On rank 0, status[n] gets each task's status and,
 * when reasons is not NULL, reasons[n] its one-line reason ("" when ok);
 * on the other ranks status and reasons may be NULL and are not written.
 * Returns VBT_OK when every task ran (whatever their statuses), else an
 * error of the scheduling itself (VBT_ENOMEM, VBT_EIO for MPI). */
int vbt_cohort_scheduler_run(vbt_cohort_scheduler *s, size_t n, vbt_cohort_task_fn fn, void *ctx,
                             int *status, char (*reasons)[VBT_MSG_LEN], vbt_msg *msg);

/* Tasks with prerequisites: task k starts only once every task
 * deps[dep_start[k] .. dep_start[k + 1] - 1] has finished (whatever its
 * status: a task sees for itself whether what it needs is there).  Each
 * prerequisite must be an earlier task (index < k), so that some task is
 * always ready; among the ready tasks the lowest index goes first.
 * dep_start (n + 1 entries) NULL: no prerequisites, as
 * vbt_cohort_scheduler_run.  A rank or thread that asks while no task is
 * ready waits (without spinning) until one is.  Every rank calls it with
 * the same n, dependencies, fn and an equivalent ctx.  Errors as
 * vbt_cohort_scheduler_run, and VBT_EINVAL for a prerequisite that is not
 * an earlier task. */
int vbt_cohort_scheduler_run_deps(vbt_cohort_scheduler *s, size_t n, vbt_cohort_task_fn fn,
                                  void *ctx, const size_t *dep_start, const size_t *deps,
                                  int *status, char (*reasons)[VBT_MSG_LEN], vbt_msg *msg);

/* How many tasks run at once: the ranks (MPI, rank 0's worker included), or
 * n_threads.  The same on every rank. */
size_t vbt_cohort_scheduler_workers(const vbt_cohort_scheduler *s);

#ifdef __cplusplus
}
#endif
#endif
