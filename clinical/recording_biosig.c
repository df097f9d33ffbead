/* recording_biosig.c -- the formats read through libbiosig: GDF, Micromed
 * (.trc) and Nihon Kohden (.eeg).  (BrainVision is read by vbt itself,
 * recording_brainvision.c.)
 *
 * libbiosig is not safe on hostile input: fuzzing made it segfault in
 * sread() within seconds, and its readers trust the sizes a header
 * announces.  Checking every header of every format it reads before calling
 * it would mean re-implementing those readers, so libbiosig runs in a child
 * process instead: vbt_recording_open() fork()s a reader that opens the
 * file with libbiosig, sends the header (channels, events, start) through a
 * socket, then answers requests for blocks of samples (all channels, as
 * libbiosig's sread() decodes them) until the handle is freed.  A crash, an
 * abort or an exit of libbiosig ends only the child: the parent sees the
 * socket close and reports one line, "'FILE': libbiosig failed reading it
 * (signal 11)", as VBT_EFORMAT at open or VBT_EIO on a read.  A child that
 * does not answer within BIOSIG_TIMEOUT_S seconds is killed and reported
 * the same way.  Everything the child sends is checked (counts, sizes,
 * NUL-terminated texts) as if it came from the file.
 *
 * The child's address space is capped at its size at the fork plus the
 * input budget (VBT_MAX_INPUT_BYTES, vbt_io.h) and 512 MiB, so a header that
 * declares gigabytes fails in the child instead of exhausting memory.
 *
 * The child only runs libbiosig and writes to its socket, then _exit()s: it
 * never returns into the caller's code, runs no atexit handler and closes
 * every inherited descriptor but its socket (a lock file of the caller stays
 * the caller's); its stdout and stderr go to /dev/null, so libbiosig's
 * warnings never mix with the caller's output.  glibc keeps malloc and stdio usable in the
 * child of a multithreaded process; a lock held by another thread at the
 * fork inside some other library would make the child hang, which the
 * timeout turns into an error.  Requests on one handle are serialised by
 * its own lock; different handles have different children and run in
 * parallel.  The last block range read is kept, so a montage reading its
 * channels one after the other over the same window decodes the file once.
 * Every channel is presented at the file's common sampling rate (sread()
 * returns all channels at that rate).
 *
 * Privacy: the patient fields libbiosig parses (name, birth date, id) are
 * never sent out of the child. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <biosig.h>
#include <biosig-dev.h> /* CHANNEL_TYPE's fields: biosig_channel_get_scaling() of
                           libbiosig 2.5 returns the physical minimum as the maximum */

#include "recording_internal.h"
#include "vbt_io.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VBT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VBT_ASAN 1
#endif
#ifdef VBT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* Largest block range sent at once (doubles of all channels): 64 MiB. */
#define CHUNK_VALUES ((size_t)8 << 20)
/* A block libbiosig decodes may not exceed this (doubles of all channels). */
#define MAX_BLOCK_VALUES ((size_t)32 << 20)
/* The reader may grow by the input budget (vbt_input_budget_bytes) plus
 * this, for the blocks it decodes and sends. */
#define CHILD_SLACK_BYTES ((size_t)512 << 20)
#define MAX_CHANNELS 65535
#define MAX_EVENTS 1000000
#define MAX_TEXT 255
#define BIOSIG_TIMEOUT_S 300

#define WIRE_MAGIC 0x76627462u /* "vbtb" */
#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct wire_head {
    uint32_t magic;
    int32_t status;           /* 0: opened; 1: libbiosig refused it (text follows) */
    int64_t nch, n_rec, n_smp, n_ev;
    double fs, efs, start_t;  /* start_t: seconds since 1970 (recorder's clock), NaN: none */
    uint32_t text_len;
    uint32_t pad;
} wire_head;

typedef struct wire_chan {
    char label[64], unit[16];
    double pmin, pmax, dmin, dmax;
    int32_t missing;
    int32_t pad;
} wire_chan;

typedef struct wire_event {
    double pos, dur;          /* samples at the event table's rate */
    uint32_t typ, text_len;
} wire_event;

typedef struct wire_req {
    uint64_t blk, want;
} wire_req;

typedef struct wire_rep {
    int64_t got, rows, cols;  /* got < 1: sread failed */
} wire_rep;

typedef struct biosig_state {
    pid_t pid;
    int sock;                 /* -1 once the child is gone */
    pthread_mutex_t lock;
    size_t spr, n_blocks, n_cols;
    size_t c_first, c_n;      /* cached block range, c_n == 0: none */
    double *c_data;           /* c_n * spr rows x n_cols, column-major */
    size_t c_cap;             /* values allocated in c_data */
    size_t f_blk, f_want;     /* the last request libbiosig failed, f_want 0: none */
    char why[96];             /* why the child is gone */
} biosig_state;

/* ---- the child ------------------------------------------------------------------ */

static int send_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int recv_child(int fd, void *p, size_t n)
{
    char *b = p;
    while (n > 0) {
        ssize_t r = recv(fd, b, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t a = 0, n = src ? strnlen(src, 4096) : 0;
    while (a < n && src[a] == ' ')
        a++;
    while (n > a && src[n - 1] == ' ')
        n--;
    size_t k = n - a < cap - 1 ? n - a : cap - 1;
    memset(dst, 0, cap);
    if (k)
        memcpy(dst, src + a, k);
}

static void child_main(const char *path, int fd)
{
    wire_head hd;
    memset(&hd, 0, sizeof hd);
    hd.magic = WIRE_MAGIC;
    hd.start_t = NAN;
    HDRTYPE *h = sopen(path, "r", NULL);
    if (!h || biosig_check_error(h)) {
        char *why = h ? biosig_get_errormsg(h) : NULL;
        char text[MAX_TEXT + 1];
        copy_field(text, sizeof text, why && *why ? why : "open failed");
        hd.status = 1;
        hd.text_len = (uint32_t)strlen(text);
        send_all(fd, &hd, sizeof hd);
        send_all(fd, text, hd.text_len);
        return;
    }
    hd.nch = biosig_get_number_of_channels(h);
    hd.n_rec = (int64_t)biosig_get_number_of_records(h);
    hd.n_smp = (int64_t)biosig_get_number_of_samples(h);
    hd.fs = biosig_get_samplerate(h);
    hd.efs = biosig_get_eventtable_samplerate(h);
    hd.n_ev = (int64_t)biosig_get_number_of_events(h);
    if (hd.n_ev > MAX_EVENTS)
        hd.n_ev = MAX_EVENTS + 1; /* the parent refuses it */
    gdf_time g = biosig_get_startdatetime_gdf(h);
    if (g > 0)
        hd.start_t = gdf_time2t_time(g);
    if (send_all(fd, &hd, sizeof hd))
        return;
    if (hd.nch < 1 || hd.nch > MAX_CHANNELS || hd.n_ev > MAX_EVENTS)
        return;
    for (int64_t i = 0; i < hd.nch; i++) {
        wire_chan wc;
        memset(&wc, 0, sizeof wc);
        CHANNEL_TYPE *c = biosig_get_channel(h, (int)i);
        if (c) {
            copy_field(wc.label, sizeof wc.label, biosig_channel_get_label(c));
            copy_field(wc.unit, sizeof wc.unit, biosig_channel_get_physdim(c));
            wc.pmin = c->PhysMin;
            wc.pmax = c->PhysMax;
            wc.dmin = c->DigMin;
            wc.dmax = c->DigMax;
        } else {
            wc.missing = 1;
        }
        if (send_all(fd, &wc, sizeof wc))
            return;
    }
    for (int64_t i = 0; i < hd.n_ev; i++) {
        uint16_t typ = 0, chn = 0;
        uint32_t pos = 0, dur = 0;
        const char *desc = NULL;
        wire_event we = {NAN, NAN, 0, 0};
        char text[MAX_TEXT + 1] = "";
        if (!biosig_get_nth_event(h, (size_t)i, &typ, &pos, &chn, &dur, NULL, &desc)) {
            we.pos = pos;
            we.dur = dur;
            we.typ = typ;
            copy_field(text, sizeof text, desc);
            we.text_len = (uint32_t)strlen(text);
        }
        if (send_all(fd, &we, sizeof we) || send_all(fd, text, we.text_len))
            return;
    }
    size_t spr = hd.n_rec > 0 ? (size_t)(hd.n_smp / hd.n_rec) : 0;
    wire_req rq;
    while (recv_child(fd, &rq, sizeof rq) == 0) {
        wire_rep rp = {0, 0, 0};
        biosig_reset_flag(h, BIOSIG_FLAG_ROW_BASED_CHANNELS | BIOSIG_FLAG_UCAL |
                                 BIOSIG_FLAG_OVERFLOWDETECTION);
        size_t got = sread(NULL, (size_t)rq.blk, (size_t)rq.want, h);
        biosig_data_type *d = NULL;
        size_t rows = 0, cols = 0;
        if (got >= 1 && got <= rq.want && !biosig_get_datablock(h, &d, &rows, &cols) && d &&
            rows >= got * spr) {
            rp.got = (int64_t)got;
            rp.rows = (int64_t)(got * spr);
            rp.cols = (int64_t)cols;
        }
        if (send_all(fd, &rp, sizeof rp))
            break;
        for (size_t c = 0; rp.got > 0 && c < cols; c++)
            if (send_all(fd, d + c * rows, (size_t)rp.rows * sizeof *d))
                return;
    }
    sclose(h);
    destructHDR(h);
}

/* Cap the child's address space at what it uses now plus the input budget
 * and CHILD_SLACK_BYTES, so that a header declaring gigabytes makes
 * libbiosig's allocation fail in the child instead of taking the machine's
 * memory. */
static void limit_memory(size_t budget)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    if (pages <= 0 || page <= 0 || getrlimit(RLIMIT_AS, &rl) != 0)
        return;
    rlim_t want = (rlim_t)pages * (rlim_t)page + (rlim_t)budget + (rlim_t)CHILD_SLACK_BYTES;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    rl.rlim_cur = want;
    setrlimit(RLIMIT_AS, &rl);
}

/* ---- the parent ------------------------------------------------------------------ */

/* Wait for the child to end (killing it first when kill_it) and say why
 * it ended. */
static void reap(biosig_state *b, int kill_it, const char *timeout_why)
{
    if (b->sock >= 0) {
        close(b->sock);
        b->sock = -1;
    }
    if (b->pid <= 0)
        return;
    if (kill_it)
        kill(b->pid, SIGKILL);
    int st = 0;
    pid_t r;
    do
        r = waitpid(b->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    b->pid = 0;
    if (timeout_why)
        snprintf(b->why, sizeof b->why, "%s", timeout_why);
    else if (r < 0)
        snprintf(b->why, sizeof b->why, "its reader process ended");
    else if (WIFSIGNALED(st))
        snprintf(b->why, sizeof b->why, "signal %d", WTERMSIG(st));
    else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        snprintf(b->why, sizeof b->why, "exit status %d", WEXITSTATUS(st));
    else
        snprintf(b->why, sizeof b->why, "its reader process ended");
}

/* Receive exactly n bytes from the child, or 0 bytes left when it ends or
 * does not answer in time (the child is then reaped, b->why says why). */
static int recv_parent(biosig_state *b, void *p, size_t n)
{
    char *c = p;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (n > 0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double left = BIOSIG_TIMEOUT_S - ((double)(t.tv_sec - t0.tv_sec) +
                                          1e-9 * (double)(t.tv_nsec - t0.tv_nsec));
        if (left <= 0) {
            reap(b, 1, "no answer in " STR(BIOSIG_TIMEOUT_S) " s");
            return -1;
        }
        struct pollfd pf = {b->sock, POLLIN, 0};
        int pr = poll(&pf, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        ssize_t r = pr > 0 ? recv(b->sock, c, n, 0) : -1;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            reap(b, 1, NULL);
            return -1;
        }
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static void biosig_close(vbt_recording *rec)
{
    biosig_state *b = rec->be;
    if (!b)
        return;
    reap(b, 1, NULL);
    pthread_mutex_destroy(&b->lock);
    free(b->c_data);
    free(b);
    rec->be = NULL;
}

/* Blocks [blk, blk + want) into the cache. */
static int fetch(vbt_recording *rec, biosig_state *b, size_t blk, size_t want)
{
    b->c_n = 0;
    if (b->sock < 0)
        return -1;
    if (b->f_want && b->f_blk == blk && b->f_want == want)
        return 1;
    wire_req rq = {blk, want};
    if (send_all(b->sock, &rq, sizeof rq)) {
        reap(b, 1, NULL);
        return -1;
    }
    wire_rep rp;
    if (recv_parent(b, &rp, sizeof rp))
        return -1;
    if (rp.got < 1) {
        /* a montage asks again for every channel: answer from memory */
        b->f_blk = blk;
        b->f_want = want;
        return 1;
    }
    if ((uint64_t)rp.got > want || (uint64_t)rp.rows != (uint64_t)rp.got * b->spr ||
        (uint64_t)rp.cols != b->n_cols) {
        reap(b, 1, "it answered with a block of the wrong size");
        return -1;
    }
    size_t values = (size_t)rp.rows * b->n_cols;
    if (values > b->c_cap) {
        double *d = realloc(b->c_data, values * sizeof *d);
        if (!d) {
            reap(b, 1, "out of memory");
            return -1;
        }
        b->c_data = d;
        b->c_cap = values;
    }
    if (recv_parent(b, b->c_data, values * sizeof *b->c_data))
        return -1;
    (void)rec;
    b->c_first = blk;
    b->c_n = (size_t)rp.got;
    return 0;
}

static int biosig_read(vbt_recording *rec, size_t ch, int64_t first, size_t n, double *out)
{
    biosig_state *b = rec->be;
    size_t col = rec->chan[ch].file_signal;
    size_t max_blocks = CHUNK_VALUES / (b->spr * b->n_cols);
    if (max_blocks < 1)
        max_blocks = 1;
    int rc = VBT_OK;
    pthread_mutex_lock(&b->lock);
    size_t done = 0;
    while (done < n) {
        size_t pos = (size_t)first + done;
        size_t blk = pos / b->spr;
        if (!(b->c_n && blk >= b->c_first && blk < b->c_first + b->c_n)) {
            size_t want = (pos + (n - done) + b->spr - 1) / b->spr - blk;
            if (want > max_blocks)
                want = max_blocks;
            int f = fetch(rec, b, blk, want);
            if (f < 0) {
                rc = vbt__fail(&rec->err, VBT_EIO, "'%s': libbiosig failed reading it (%s)",
                               rec->path, b->why);
                break;
            }
            if (f > 0) {
                rc = vbt__fail(&rec->err, VBT_EIO,
                               "'%s': channel '%s': libbiosig cannot read sample %zu", rec->path,
                               rec->chan[ch].label, pos);
                break;
            }
        }
        size_t rows = b->c_n * b->spr;
        size_t i0 = pos - b->c_first * b->spr;
        size_t take = rows - i0 < n - done ? rows - i0 : n - done;
        memcpy(out + done, b->c_data + col * rows + i0, take * sizeof *out);
        done += take;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* Start the reader child; 0 and b->pid, b->sock set, else a message. */
static int spawn(biosig_state *b, const char *path, vbt_msg *msg)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot start the libbiosig reader (%s)", path,
                         strerror(errno));
    size_t budget = vbt_input_budget_bytes();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return vbt__fail(msg, VBT_EIO, "'%s': cannot start the libbiosig reader (%s)", path,
                         strerror(e));
    }
    if (pid == 0) {
        /* a fault in libbiosig must kill this process, not run the caller's
         * (or a sanitizer's, or a fuzzer's) handlers */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS,
                                   SIGALRM, SIGTERM, SIGINT, SIGXCPU};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
#ifdef VBT_ASAN
        /* under a fuzzer, its death callback would report the child's
         * failure as a crash of the fuzzed process */
        __sanitizer_set_death_callback(NULL);
#endif
        limit_memory(budget);
        int fd = sv[1];
        if (fd > 3)
            close_range(3, (unsigned)fd - 1, 0);
        close_range((unsigned)fd + 1, ~0U, 0);
        /* libbiosig prints warnings on stdout and stderr: they would break
         * the caller's output (JSON on stdout, one error line on stderr) */
        int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (dn >= 0) {
            dup2(dn, 1);
            dup2(dn, 2);
            if (dn > 2)
                close(dn);
        }
        child_main(path, fd);
        _exit(0);
    }
    close(sv[1]);
    b->pid = pid;
    b->sock = sv[0];
    return VBT_OK;
}

static int biosig_open_as(vbt_recording *rec, const char *path, const char *fmt_name,
                          vbt_msg *msg)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a regular file", path);
    biosig_state *b = calloc(1, sizeof *b);
    if (!b)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    b->sock = -1;
    pthread_mutex_init(&b->lock, NULL);
    rec->be = b;
    rec->close = biosig_close;
    rec->read = biosig_read;
    int rc = spawn(b, path, msg);
    if (rc)
        return rc;
    wire_head hd;
    if (recv_parent(b, &hd, sizeof hd) || hd.magic != WIRE_MAGIC)
        goto died;
    if (hd.status != 0) {
        char why[MAX_TEXT + 1];
        if (hd.text_len > MAX_TEXT || recv_parent(b, why, hd.text_len))
            goto died;
        why[hd.text_len] = '\0';
        for (char *p = why; *p; p++) /* libbiosig's words, not the file's bytes */
            if (*p < 0x20 || *p > 0x7E)
                *p = '?';
        /* Debian 12's libbiosig 2.5 has no Micromed reader at all (no TRC
         * signature in the library): say so rather than "not supported" */
        if (!strcmp(fmt_name, "Micromed") && strstr(why, "not supported"))
            return vbt__fail(msg, VBT_EFORMAT,
                             "'%s': Micromed TRC cannot be read: the installed libbiosig does "
                             "not support it (libbiosig: %s); export the recording as EDF",
                             path, why);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': cannot read as %s (libbiosig: %s)", path,
                         fmt_name, why[0] ? why : "open failed");
    }
    if (hd.nch < 1 || hd.nch > MAX_CHANNELS || hd.n_rec < 1 || hd.n_smp < hd.n_rec ||
        hd.n_smp % hd.n_rec || !(hd.fs > 0) || !isfinite(hd.fs) || hd.n_ev < 0 ||
        hd.n_ev > MAX_EVENTS)
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': %s header gives %lld channels, %lld samples in %lld blocks at "
                         "%g Hz, %lld events", path, fmt_name, (long long)hd.nch,
                         (long long)hd.n_smp, (long long)hd.n_rec, hd.fs, (long long)hd.n_ev);
    b->spr = (size_t)(hd.n_smp / hd.n_rec);
    b->n_blocks = (size_t)hd.n_rec;
    b->n_cols = (size_t)hd.nch;
    if (b->spr > MAX_BLOCK_VALUES / b->n_cols)
        return vbt__fail(msg, VBT_EFORMAT,
                         "'%s': libbiosig decodes it in blocks of %zu samples of %zu channels, "
                         "more than vbt reads at once", path, b->spr, b->n_cols);
    rec->n_chan = b->n_cols;
    rec->chan = calloc(b->n_cols, sizeof *rec->chan);
    if (!rec->chan)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    for (size_t i = 0; i < b->n_cols; i++) {
        wire_chan wc;
        if (recv_parent(b, &wc, sizeof wc))
            goto died;
        if (wc.missing)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': channel %zu missing", path, i + 1);
        wc.label[sizeof wc.label - 1] = '\0';
        wc.unit[sizeof wc.unit - 1] = '\0';
        vbt_rec_channel *o = &rec->chan[i];
        snprintf(o->label, sizeof o->label, "%s", wc.label);
        snprintf(o->unit, sizeof o->unit, "%s", wc.unit);
        vbt__rec_guess(o->label, o->type, o->group);
        o->fs_hz = hd.fs;
        o->n_samples = hd.n_smp;
        o->phys_min = wc.pmin;
        o->phys_max = wc.pmax;
        o->dig_min = isfinite(wc.dmin) && fabs(wc.dmin) < 2e9 ? (int)wc.dmin : 0;
        o->dig_max = isfinite(wc.dmax) && fabs(wc.dmax) < 2e9 ? (int)wc.dmax : 0;
        o->file_signal = i;
        for (int k = 0; k < 3; k++)
            o->xyz[k] = NAN;
    }
    rec->record_s = (double)b->spr / hd.fs;
    rec->duration_s = (double)hd.n_smp / hd.fs;
    snprintf(rec->format, sizeof rec->format, "%s", fmt_name);
    /* GDF time: days since year 0 in 32.32 fixed point (20 us steps), the
     * recorder's local clock; libbiosig truncates to a step (12 s reads
     * 11.999983 s), so the time is rounded to 0.1 ms */
    if (isfinite(hd.start_t) && fabs(hd.start_t) < 1e13) {
        double tq = floor(hd.start_t * 1e4 + 0.5);
        time_t secs = (time_t)floor(tq / 1e4);
        struct tm t;
        if (gmtime_r(&secs, &t))
            rec->start = (vbt_datetime){t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                                        t.tm_min, t.tm_sec, (tq - (double)secs * 1e4) / 1e4};
    }
    double efs = hd.efs > 0 && isfinite(hd.efs) ? hd.efs : hd.fs;
    for (int64_t i = 0; i < hd.n_ev; i++) {
        wire_event we;
        char text[MAX_TEXT + 1];
        if (recv_parent(b, &we, sizeof we) || we.text_len > MAX_TEXT ||
            recv_parent(b, text, we.text_len))
            goto died;
        text[we.text_len] = '\0';
        if (!isfinite(we.pos) || !isfinite(we.dur))
            continue;
        char code[32];
        if (!text[0])
            snprintf(code, sizeof code, "event 0x%04x", (unsigned)(we.typ & 0xFFFF));
        if (vbt__rec_add_annotation(rec, we.pos / efs, we.dur > 0 ? we.dur / efs : -1.0,
                                    text[0] ? text : code))
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    }
    for (size_t i = 0; i < rec->n_ann; i++)
        if (vbt__is_seizure_text(rec->ann[i].text)) {
            rec->sz_onset = rec->ann[i].onset_s;
            rec->sz_offset = rec->ann[i].duration_s > 0
                                 ? rec->ann[i].onset_s + rec->ann[i].duration_s
                                 : NAN;
            break;
        }
    return VBT_OK;
died:
    if (b->sock >= 0)
        reap(b, 1, "it sent a malformed header");
    return vbt__fail(msg, VBT_EFORMAT, "'%s': libbiosig failed reading it (%s)", path, b->why);
}

/* ---- the formats --------------------------------------------------------------- */

static int sniff_gdf(const unsigned char *h, size_t n)
{
    return n >= 4 && memcmp(h, "GDF ", 4) == 0;
}

static int sniff_micromed(const unsigned char *h, size_t n)
{
    return n >= 10 && memcmp(h, "* MICROMED", 10) == 0;
}

static int sniff_nihon_kohden(const unsigned char *h, size_t n)
{
    static const char *const magic[] = {"EEG-1100", "EEG-1200", "EEG-2100", "DAE-2100",
                                        "QI-403A", "QI-173A", "EEG-1000", "EEG-4100"};
    for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++) {
        size_t k = strlen(magic[i]);
        if (n >= k && memcmp(h, magic[i], k) == 0)
            return 1;
    }
    return 0;
}

#define BIOSIG_OPENER(fn, label)                                              \
    static int fn(vbt_recording *rec, const char *path, vbt_msg *msg)       \
    {                                                                         \
        return biosig_open_as(rec, path, label, msg);                         \
    }
BIOSIG_OPENER(open_gdf, "GDF")
BIOSIG_OPENER(open_micromed, "Micromed")
BIOSIG_OPENER(open_nihon_kohden, "NihonKohden")

static const vbt__rec_format fmt_gdf = {
    .name = "GDF", .extensions = ".gdf", .sniff = sniff_gdf, .open = open_gdf};
static const vbt__rec_format fmt_micromed = {
    .name = "Micromed TRC", .extensions = ".trc", .sniff = sniff_micromed,
    .open = open_micromed};
static const vbt__rec_format fmt_nihon_kohden = {
    .name = "Nihon Kohden", .extensions = ".eeg", .sniff = sniff_nihon_kohden,
    .open = open_nihon_kohden};

const vbt__rec_format *const vbt__biosig_formats[] = {
    &fmt_gdf, &fmt_micromed, &fmt_nihon_kohden, NULL,
};
