/* io_files.c -- SHA-256 of inputs, whole-file reads, atomic file writes and
 * staged output directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "internal.h"
#include "vbt_io.h"


#define IO_CHUNK (64 * 1024)
#define READ_ALL_DEFAULT_MAX ((size_t)1 << 30)

/* ---- hashing ---------------------------------------------------------- */

static void sha256_hex(struct sha256_ctx *ctx, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(ctx, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
}

void vbt_sha256_buffer(const void *buf, size_t len, char hex[65])
{
    struct sha256_ctx ctx;
    const uint8_t *p = buf;
    sha256_init(&ctx);
    /* nettle takes size_t lengths, but feeding chunks keeps this symmetric
     * with the file variant and safe for any len. */
    while (len > 0) {
        size_t n = len < IO_CHUNK ? len : IO_CHUNK;
        sha256_update(&ctx, n, p);
        p += n;
        len -= n;
    }
    sha256_hex(&ctx, hex);
}

int vbt_sha256_file(const char *path, char hex[65], vbt_msg *msg)
{
    uint8_t *chunk = NULL;
    FILE *f = NULL;
    int rc;
    struct sha256_ctx ctx;

    if (!path || !hex)
        return vbt__fail(msg, VBT_EINVAL, "sha256: NULL argument");
    hex[0] = '\0';
    f = fopen(path, "rb");
    if (!f) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
        goto fail;
    }
    chunk = malloc(IO_CHUNK);
    if (!chunk) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    sha256_init(&ctx);
    for (;;) {
        size_t n = fread(chunk, 1, IO_CHUNK, f);
        if (n > 0)
            sha256_update(&ctx, n, chunk);
        if (n < IO_CHUNK) {
            if (ferror(f)) {
                rc = vbt__fail(msg, VBT_EIO, "'%s': read error: %s", path,
                               strerror(errno));
                goto fail;
            }
            break;
        }
    }
    sha256_hex(&ctx, hex);
    free(chunk);
    fclose(f);
    return VBT_OK;

fail:
    free(chunk);
    if (f)
        fclose(f);
    return rc;
}

/* ---- input budget ----------------------------------------------------- */

size_t vbt_input_budget_bytes(void)
{
    const char *s = getenv("VBT_MAX_INPUT_BYTES");
    if (!s || !*s)
        return VBT_INPUT_BUDGET_DEFAULT;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1ULL << 10; end++; break;
    case 'm': case 'M': mult = 1ULL << 20; end++; break;
    case 'g': case 'G': mult = 1ULL << 30; end++; break;
    default: break;
    }
    if (errno || end == s || *end || v == 0 || s[0] == '-' || v > SIZE_MAX / mult)
        return VBT_INPUT_BUDGET_DEFAULT;
    return (size_t)(v * mult);
}

/* ---- whole files ------------------------------------------------------ */

int vbt_file_read_all(const char *path, char **buf, size_t *len, size_t max_bytes,
                      vbt_msg *msg)
{
    int fd = -1, rc;
    char *data = NULL;
    struct stat st;

    if (!path || !buf || !len)
        return vbt__fail(msg, VBT_EINVAL, "read: NULL argument");
    *buf = NULL;
    *len = 0;
    if (max_bytes == 0)
        max_bytes = READ_ALL_DEFAULT_MAX;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(fd, &st) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = vbt__fail(msg, VBT_EIO, "'%s' is a directory, expected a file", path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = vbt__fail(msg, VBT_EIO, "'%s' is not a regular file", path);
        goto fail;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)max_bytes
        || (uintmax_t)st.st_size >= (uintmax_t)SIZE_MAX) {
        rc = vbt__fail(msg, VBT_ERANGE, "'%s': file too large (%jd bytes, limit %zu)",
                       path, (intmax_t)st.st_size, max_bytes);
        goto fail;
    }

    size_t want = (size_t)st.st_size;
    data = malloc(want + 1);
    if (!data) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory (%zu bytes)", path, want);
        goto fail;
    }
    /* Read to EOF rather than trusting st_size alone: a file that shrinks
     * meanwhile gives a short buffer, one that grows is refused. */
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, data + got, want - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = vbt__fail(msg, VBT_EIO, "'%s': read error: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got == want) {
        char extra;
        ssize_t n;
        do {
            n = read(fd, &extra, 1);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            rc = vbt__fail(msg, VBT_EIO, "'%s': file grew while being read", path);
            goto fail;
        }
    }
    data[got] = '\0';
    close(fd);
    *buf = data;
    *len = got;
    return VBT_OK;

fail:
    free(data);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- atomic writes ---------------------------------------------------- */

/* Split path into a malloc'd directory ("." when none) and a pointer to the
 * base name inside path. */
static int split_path(const char *path, char **dir, const char **base, vbt_msg *msg)
{
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    if (*b == '\0' || !strcmp(b, ".") || !strcmp(b, ".."))
        return vbt__fail(msg, VBT_EINVAL, "'%s': not a file name", path);
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    if (slash && dlen == 0)
        dlen = 1; /* "/name": the parent is the root */
    char *d = malloc(dlen + 1);
    if (!d)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    if (slash)
        memcpy(d, slash == path ? "/" : path, dlen);
    else
        d[0] = '.';
    d[dlen] = '\0';
    *dir = d;
    *base = b;
    return VBT_OK;
}

/* "<dir>/.<base><tag><pid>-XXXXXX", malloc'd.  The pid names the owner, so
 * that a later run can remove what a killed one left (sweep_stale). */
static char *hidden_name(const char *dir, const char *base, const char *tag)
{
    size_t n = strlen(dir) + strlen(base) + strlen(tag) + 40;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/.%s%s%ld-XXXXXX", dir, base, tag, (long)getpid());
    return s;
}

/* Create dir and its missing parents (mkdir -p); 0 or -1 with errno. */
static int mkdir_parents(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p)
        return -1;
    memcpy(p, dir, n + 1);
    for (char *c = p + 1; ; c++) {
        if (*c == '/' || *c == '\0') {
            char save = *c;
            *c = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                free(p);
                errno = e;
                return -1;
            }
            *c = save;
            if (save == '\0')
                break;
        }
    }
    free(p);
    if (stat(dir, &st) != 0)
        return -1;
    return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
}

int vbt_mkdir_parents(const char *dir, vbt_msg *msg)
{
    if (!dir || !*dir)
        return vbt__fail(msg, VBT_EINVAL, "mkdir: empty name");
    if (mkdir_parents(dir) != 0)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot create directory: %s", dir,
                         strerror(errno));
    return VBT_OK;
}

/* umask() can only be read by setting it, which races with other threads;
 * Linux reports it in /proc, so ask there first. */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned int m;
            if (sscanf(line, "Umask: %o", &m) == 1) {
                fclose(f);
                return (mode_t)m;
            }
        }
        fclose(f);
    }
    mode_t m = umask(022);
    umask(m);
    return m;
}

/* Best effort: make a rename durable.  Failure here loses nothing that the
 * caller could act on. */
static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int exists_error(const char *path, vbt_msg *msg)
{
    return vbt__fail(msg, VBT_EEXIST, "'%s' exists (use --force to overwrite)", path);
}

int vbt__atomic_open(const char *path, int overwrite, FILE **f, char **tmp,
                     vbt_msg *msg)
{
    char *dir = NULL, *t = NULL;
    const char *base;
    int fd = -1, rc;
    struct stat st;

    *f = NULL;
    *tmp = NULL;
    if ((rc = split_path(path, &dir, &base, msg)) != VBT_OK)
        return rc;
    if (lstat(path, &st) == 0) {
        if (!overwrite) {
            rc = exists_error(path, msg);
            goto fail;
        }
        if (S_ISLNK(st.st_mode)) {
            rc = vbt__fail(msg, VBT_EIO, "'%s' is a symbolic link, refused", path);
            goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = vbt__fail(msg, VBT_EIO, "'%s' is a directory", path);
            goto fail;
        }
    }
    t = hidden_name(dir, base, ".tmp-");
    if (!t) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    fd = mkstemp(t);
    if (fd < 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': cannot create temporary file in '%s': %s",
                       path, dir, strerror(errno));
        goto fail;
    }
    if (fchmod(fd, 0666 & ~current_umask()) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': chmod: %s", path, strerror(errno));
        goto fail;
    }
    *f = fdopen(fd, "wb");
    if (!*f) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': %s", path, strerror(errno));
        goto fail;
    }
    free(dir);
    *tmp = t;
    return VBT_OK;

fail:
    if (fd >= 0) {
        close(fd);
        unlink(t);
    }
    free(t);
    free(dir);
    return rc;
}

void vbt__atomic_discard(FILE *f, char *tmp)
{
    if (f)
        fclose(f);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
}

int vbt__atomic_commit(const char *path, FILE *f, char *tmp, int overwrite,
                       vbt_msg *msg)
{
    int rc;
    char *dir = NULL;
    const char *base;

    if (fflush(f) != 0 || ferror(f)) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': write failed: %s", path, strerror(errno));
        goto fail;
    }
    if (fsync(fileno(f)) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': fsync failed: %s", path, strerror(errno));
        goto fail;
    }
    int crc = fclose(f);
    f = NULL;
    if (crc != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': close failed: %s", path, strerror(errno));
        goto fail;
    }

    if (overwrite) {
        if (rename(tmp, path) != 0) {
            rc = vbt__fail(msg, VBT_EIO, "'%s': rename failed: %s", path,
                           strerror(errno));
            goto fail;
        }
    } else if (link(tmp, path) == 0) {
        /* link() fails if the target appeared since open: no race. */
        unlink(tmp);
    } else if (errno == EEXIST) {
        rc = exists_error(path, msg);
        goto fail;
    } else {
        /* File systems without hard links: fall back to check + rename. */
        struct stat st;
        if (lstat(path, &st) == 0) {
            rc = exists_error(path, msg);
            goto fail;
        }
        if (rename(tmp, path) != 0) {
            rc = vbt__fail(msg, VBT_EIO, "'%s': rename failed: %s", path,
                           strerror(errno));
            goto fail;
        }
    }
    free(tmp);
    if (split_path(path, &dir, &base, NULL) == VBT_OK)
        fsync_dir(dir);
    free(dir);
    return VBT_OK;

fail:
    vbt__atomic_discard(f, tmp);
    return rc;
}

int vbt_file_write_atomic(const char *path, const void *buf, size_t len,
                          int overwrite, vbt_msg *msg)
{
    FILE *f;
    char *tmp;
    int rc;

    if (!path || (!buf && len > 0))
        return vbt__fail(msg, VBT_EINVAL, "write: NULL argument");
    if ((rc = vbt__atomic_open(path, overwrite, &f, &tmp, msg)) != VBT_OK)
        return rc;
    if (len > 0 && fwrite(buf, 1, len, f) != len) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': write failed: %s", path, strerror(errno));
        vbt__atomic_discard(f, tmp);
        return rc;
    }
    return vbt__atomic_commit(path, f, tmp, overwrite, msg);
}

/* ---- output directories ----------------------------------------------- */

struct vbt_outdir {
    char *final;   /* as given, without trailing slashes */
    char *parent;
    char *name;
    char *staging;
    int overwrite;
    vbt_dirlock *lock;
};

struct vbt_dirlock {
    char *path;    /* "<parent>/.<name>.lock" */
    int fd;
};

/* Remove a tree without following symbolic links; returns 0 on success. */
static int rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *sub = malloc(n);
        if (!sub) {
            rc = -1;
            break;
        }
        snprintf(sub, n, "%s/%s", path, e->d_name);
        if (rmtree(sub) != 0)
            rc = -1;
        free(sub);
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

static void outdir_free(vbt_outdir *od)
{
    if (!od)
        return;
    free(od->final);
    free(od->parent);
    free(od->name);
    free(od->staging);
    vbt_dirlock_release(od->lock);
    free(od);
}

/* ---- locks ------------------------------------------------------------- */

/* The pid written in a lock file, or 0. */
static long lock_owner(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int vbt_dirlock_acquire(vbt_dirlock **lkp, const char *path, vbt_msg *msg)
{
    char *dir = NULL;
    const char *base;
    vbt_dirlock *lk = NULL;
    int rc;

    if (!lkp || !path || !*path) {
        if (lkp)
            *lkp = NULL;
        return vbt__fail(msg, VBT_EINVAL, "lock: empty name");
    }
    *lkp = NULL;
    size_t plen = strlen(path);
    char *clean = strdup(path);
    if (!clean)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    for (; plen > 1 && clean[plen - 1] == '/'; plen--)
        clean[plen - 1] = '\0';
    if ((rc = split_path(clean, &dir, &base, msg)) != VBT_OK)
        goto fail;
    lk = calloc(1, sizeof *lk);
    size_t n = strlen(dir) + strlen(base) + 8;
    if (!lk || !(lk->path = malloc(n))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    snprintf(lk->path, n, "%s/.%s.lock", dir, base);
    lk->fd = -1;
    if (mkdir_parents(dir) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': cannot create parent directory '%s': %s", clean,
                       dir, strerror(errno));
        goto fail;
    }
    /* flock() locks die with their process, so the lock of a killed run is
     * simply taken over.  The file is unlinked on release; a run that
     * locked an unlinked file retries on the new one. */
    for (int tries = 0; ; tries++) {
        struct stat a, b;
        lk->fd = open(lk->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (lk->fd < 0) {
            rc = vbt__fail(msg, VBT_EIO, "'%s': cannot create lock file '%s': %s", clean,
                           lk->path, strerror(errno));
            goto fail;
        }
        if (flock(lk->fd, LOCK_EX | LOCK_NB) != 0) {
            long pid = lock_owner(lk->fd);
            if (pid > 0)
                rc = vbt__fail(msg, VBT_EIO, "'%s' is in use by another vbt run "
                               "(process %ld holds '%s')", clean, pid, lk->path);
            else
                rc = vbt__fail(msg, VBT_EIO, "'%s' is in use by another vbt run "
                               "(lock '%s')", clean, lk->path);
            goto fail;
        }
        if (fstat(lk->fd, &a) == 0 && stat(lk->path, &b) == 0 && a.st_dev == b.st_dev
            && a.st_ino == b.st_ino)
            break;
        close(lk->fd);
        lk->fd = -1;
        if (tries > 100) {
            rc = vbt__fail(msg, VBT_EIO, "'%s': cannot take lock '%s'", clean, lk->path);
            goto fail;
        }
    }
    char pid[32];
    int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(lk->fd, 0) != 0 || pwrite(lk->fd, pid, (size_t)k, 0) != k) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': cannot write lock file '%s': %s", clean,
                       lk->path, strerror(errno));
        goto fail;
    }
    free(dir);
    free(clean);
    *lkp = lk;
    return VBT_OK;

fail:
    if (lk) {
        if (lk->fd >= 0)
            close(lk->fd);
        free(lk->path);
        free(lk);
    }
    free(dir);
    free(clean);
    return rc;
}

void vbt_dirlock_release(vbt_dirlock *lk)
{
    if (!lk)
        return;
    /* Unlink while still holding the lock: a waiter then sees a different
     * inode and retries. */
    (void)unlink(lk->path);
    close(lk->fd);
    free(lk->path);
    free(lk);
}

/* 1 when the process that owns a ".<name><tag><pid>-XXXXXX" entry is gone. */
static int owner_dead(const char *rest)
{
    char *end;
    errno = 0;
    long pid = strtol(rest, &end, 10);
    if (errno || end == rest || *end != '-' || pid <= 0)
        return 0;
    if (pid == (long)getpid())
        return 0;
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH;
    /* Killed but not yet reaped by its parent: a zombie ("Z" in Linux's
     * /proc/PID/stat, after the parenthesised command name). */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/* Remove the staging folders and set-aside trees (".<name>.tmp-<pid>-*",
 * ".<name>.old-<pid>-*") that runs killed before commit left in parent.
 * Called with the lock held, so no live vbt run owns them; the pid check
 * is a second guard (an owner still alive is left alone). */
static void sweep_stale(const char *parent, const char *name)
{
    static const char *const tags[] = {".tmp-", ".old-"};
    DIR *d = opendir(parent);
    if (!d)
        return;
    size_t nl = strlen(name);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        if (s[0] != '.' || strncmp(s + 1, name, nl))
            continue;
        for (size_t t = 0; t < 2; t++) {
            size_t tl = strlen(tags[t]);
            if (strncmp(s + 1 + nl, tags[t], tl) || !owner_dead(s + 1 + nl + tl))
                continue;
            size_t n = strlen(parent) + strlen(s) + 2;
            char *p = malloc(n);
            if (p) {
                snprintf(p, n, "%s/%s", parent, s);
                (void)rmtree(p);
                free(p);
            }
        }
    }
    closedir(d);
}

int vbt_outdir_begin(vbt_outdir **odp, const char *final_dir, int overwrite,
                     vbt_msg *msg)
{
    vbt_outdir *od = NULL;
    const char *base;
    int rc;
    struct stat st;

    if (!odp || !final_dir || !*final_dir) {
        if (odp)
            *odp = NULL;
        return vbt__fail(msg, VBT_EINVAL, "output directory: empty name");
    }
    *odp = NULL;
    od = calloc(1, sizeof *od);
    if (!od)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", final_dir);
    od->overwrite = overwrite;
    od->final = strdup(final_dir);
    if (!od->final) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", final_dir);
        goto fail;
    }
    /* "out/" names the same directory as "out". */
    for (size_t n = strlen(od->final); n > 1 && od->final[n - 1] == '/'; n--)
        od->final[n - 1] = '\0';
    if ((rc = split_path(od->final, &od->parent, &base, msg)) != VBT_OK)
        goto fail;
    od->name = strdup(base);
    if (!od->name) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", final_dir);
        goto fail;
    }

    /* `-o runs/p1/out`: create runs/p1 as needed. */
    if (mkdir_parents(od->parent) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': cannot create parent directory '%s': %s",
                       od->final, od->parent, strerror(errno));
        goto fail;
    }
    if ((rc = vbt_dirlock_acquire(&od->lock, od->final, msg)) != VBT_OK)
        goto fail;
    sweep_stale(od->parent, od->name);
    if (lstat(od->final, &st) == 0) {
        if (!overwrite) {
            rc = exists_error(od->final, msg);
            goto fail;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = vbt__fail(msg, VBT_EINVAL, "'%s' exists and is not a directory",
                           od->final);
            goto fail;
        }
    }
    if (stat(od->parent, &st) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': parent directory '%s': %s", od->final,
                       od->parent, strerror(errno));
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': parent '%s' is not a directory",
                       od->final, od->parent);
        goto fail;
    }
    od->staging = hidden_name(od->parent, od->name, ".tmp-");
    if (!od->staging) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", final_dir);
        goto fail;
    }
    if (!mkdtemp(od->staging)) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': cannot create staging directory in '%s': %s",
                       od->final, od->parent, strerror(errno));
        free(od->staging);
        od->staging = NULL;
        goto fail;
    }
    /* mkdtemp makes 0700; outputs are meant to be as readable as files. */
    (void)chmod(od->staging, 0777 & ~current_umask());
    *odp = od;
    return VBT_OK;

fail:
    outdir_free(od);
    return rc;
}

const char *vbt_outdir_path(const vbt_outdir *od)
{
    return od ? od->staging : NULL;
}

int vbt_outdir_file(const vbt_outdir *od, const char *name, char *buf, size_t n)
{
    if (!od || !name || !buf || n == 0)
        return VBT_EINVAL;
    int k = snprintf(buf, n, "%s/%s", od->staging, name);
    if (k < 0 || (size_t)k >= n) {
        buf[0] = '\0';
        return VBT_ERANGE;
    }
    return VBT_OK;
}

int vbt_outdir_commit(vbt_outdir *od, vbt_msg *msg)
{
    char *old = NULL;
    int rc;
    struct stat st;

    if (!od)
        return vbt__fail(msg, VBT_EINVAL, "output directory: NULL handle");
    if (lstat(od->final, &st) == 0) {
        if (!od->overwrite) {
            /* Appeared after begin. */
            rc = exists_error(od->final, msg);
            goto fail;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = vbt__fail(msg, VBT_EINVAL, "'%s' exists and is not a directory",
                           od->final);
            goto fail;
        }
        /* Move the old tree aside first so that a failure below can put it
         * back; renaming over the empty placeholder reserves a unique name. */
        old = hidden_name(od->parent, od->name, ".old-");
        if (!old) {
            rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", od->final);
            goto fail;
        }
        if (!mkdtemp(old)) {
            rc = vbt__fail(msg, VBT_EIO, "'%s': cannot create directory in '%s': %s",
                           od->final, od->parent, strerror(errno));
            free(old);
            old = NULL;
            goto fail;
        }
        if (rename(od->final, old) != 0) {
            rc = vbt__fail(msg, VBT_EIO, "'%s': cannot move old directory aside: %s",
                           od->final, strerror(errno));
            rmdir(old);
            free(old);
            old = NULL;
            goto fail;
        }
    }
    if (rename(od->staging, od->final) != 0) {
        rc = vbt__fail(msg, VBT_EIO, "'%s': rename failed: %s", od->final,
                       strerror(errno));
        if (old && rename(old, od->final) == 0) {
            free(old);
            old = NULL;
        }
        goto fail;
    }
    fsync_dir(od->parent);
    if (old) {
        /* The new output is in place; a leftover hidden .old tree is untidy
         * but not an error of this commit. */
        (void)rmtree(old);
        free(old);
    }
    outdir_free(od);
    return VBT_OK;

fail:
    /* The handle is freed either way, so nothing could clean the staging
     * directory later.  An old tree that could not be restored is kept. */
    (void)rmtree(od->staging);
    free(old);
    outdir_free(od);
    return rc;
}

void vbt_outdir_abort(vbt_outdir *od)
{
    if (!od)
        return;
    (void)rmtree(od->staging);
    outdir_free(od);
}

const char *vbt_path_public(const char *path)
{
    if (path[0] != '/')
        return path;
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) {
        size_t n = strlen(cwd);
        if (!strcmp(path, cwd))
            return ".";
        if (n > 1 && !strncmp(path, cwd, n) && path[n] == '/' && path[n + 1])
            return path + n + 1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return "(a folder outside the working directory)"; /* often a patient's name */
    const char *base = path + strlen(path);
    while (base > path && base[-1] == '/')
        base--;
    while (base > path && base[-1] != '/')
        base--;
    return *base ? base : ".";
}
