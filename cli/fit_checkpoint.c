/* fit_checkpoint.c -- the checkpoint file of `vbt fit` (fit_checkpoint.h).
 *
 * Layout, in this machine's byte order (a marker refuses another): magic
 * "VBTFITCK", format version, marker; strings (u32 length + bytes): vbt
 * version, options hash, inputs, working directory, the command line; u64
 * sizes (parameters, chains, draws, warm-up); the MAP stage; the starting
 * points and the initial metric; per chain its iteration, its sampler state
 * (vbt_nuts_state_save) and its post-warm-up draws and statistics so far;
 * and last the SHA-256 (hex) of everything before it. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fit_checkpoint.h"
#include "strbuf.h"

#define MAGIC "VBTFITCK"
#define FORMAT_VERSION 4u /* 2: the MAP stage records how many starts were polished; 3: vbt
                              fit integrates the offsets out by default (a format-2 state
                              was sampled with them free); 4: each draw's accepted mode
                              jumps (--jumps), NUTS states of version 2 */
#define ENDIAN 0x01020304u
#define HASH 64

int fit_ckpt_path(const char *outdir, char *buf, size_t n)
{
    size_t len = strlen(outdir);
    while (len > 1 && outdir[len - 1] == '/')
        len--;
    int k = snprintf(buf, n, "%.*s.checkpoint", (int)len, outdir);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* ---- identity ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "role<TAB>sha\n" for a file, "role/name<TAB>sha\n" for each regular file of
 * a directory (by name). */
static int hash_input(strbuf *b, const char *role, const char *path, vbt_msg *msg)
{
    struct stat st;
    char hex[65];
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (vbt_sha256_file(path, hex, msg))
            return -1;
        sb_printf(b, "%s\t%s\n", role, hex);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(msg->text, sizeof msg->text, "'%s': %s", path, strerror(errno));
        return -1;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (e->d_name[0] != '.' && (names[n] = strdup(e->d_name)))
            n++;
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char fp[4096];
        snprintf(fp, sizeof fp, "%s/%s", path, names[i]);
        if (rc == 0 && stat(fp, &st) == 0 && S_ISREG(st.st_mode)) {
            if (vbt_sha256_file(fp, hex, msg))
                rc = -1;
            else
                sb_printf(b, "%s/%s\t%s\n", role, names[i], hex);
        }
        free(names[i]);
    }
    return rc;
}

/* Options that do not shape the draws: where to write, how often to save,
 * whether failed diagnostics fail the exit status. */
static int ignored_option(const cli_option *o)
{
    return o->kind == CLI_FILE_IN || o->kind == CLI_FILE_OUT || !strcmp(o->name, "resume") ||
           !strcmp(o->name, "checkpoint-every") || !strcmp(o->name, "strict");
}

int fit_ckpt_identify(fit_ckpt *k, const cli_parsed *p, size_t np, size_t chains,
                      size_t draws, size_t warmup, vbt_msg *msg)
{
    strbuf o = {0}, in = {0};
    snprintf(k->version, sizeof k->version, "%s", vbt_version());
    for (size_t i = 0; i < p->cmd->n_opts; i++) {
        const cli_option *op = &p->cmd->opts[i];
        if (ignored_option(op))
            continue;
        if (op->kind == CLI_INT || op->kind == CLI_FLOAT)
            sb_printf(&o, "%s=%.17g\n", op->name, cli_float(p, op->name));
        else if (op->kind == CLI_FLAG)
            sb_printf(&o, "%s=%d\n", op->name, cli_flag(p, op->name));
        else
            sb_printf(&o, "%s=%s\n", op->name, cli_str(p, op->name) ? cli_str(p, op->name) : "");
    }
    sb_printf(&o, "seed=%llu\n", (unsigned long long)p->common.seed);
    int rc = -1;
    for (size_t i = 0; i < p->cmd->n_opts; i++) {
        const cli_option *op = &p->cmd->opts[i];
        if (op->kind == CLI_FILE_IN && p->values[i] && hash_input(&in, op->name, p->values[i], msg))
            goto out;
    }
    if (o.oom || in.oom || !(k->cwd = getcwd(NULL, 0)) ||
        !(k->argv = calloc((size_t)p->argc + 1, sizeof *k->argv))) {
        snprintf(msg->text, sizeof msg->text, "out of memory (or no working directory)");
        goto out;
    }
    vbt_sha256_buffer(o.s, o.len, k->options_sha);
    k->inputs = in.s ? in.s : strdup("");
    in.s = NULL;
    k->argc = p->argc;
    for (int a = 0; a < p->argc; a++)
        if (!(k->argv[a] = strdup(p->argv[a]))) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            goto out;
        }
    k->np = np;
    k->chains = chains;
    k->draws = draws;
    k->warmup = warmup;
    rc = 0;
out:
    free(o.s);
    free(in.s);
    return rc;
}

/* The line of `role` (up to the tab) in an inputs text, or NULL. */
static const char *find_line(const char *text, const char *key, size_t klen)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, klen) && l[klen] == '\t')
            return l;
    return NULL;
}

int fit_ckpt_compare(const fit_ckpt *k, const fit_ckpt *now, vbt_msg *msg)
{
    if (strcmp(k->version, now->version)) {
        snprintf(msg->text, sizeof msg->text, "the checkpoint was written by vbt %s, this is "
                 "vbt %s", k->version, now->version);
        return -1;
    }
    /* every input line, both ways, so that an added or removed file counts */
    for (int pass = 0; pass < 2; pass++) {
        const char *a = pass ? now->inputs : k->inputs, *b = pass ? k->inputs : now->inputs;
        for (const char *l = a; *l;) {
            const char *tab = strchr(l, '\t'), *nl = strchr(l, '\n');
            if (!tab || !nl)
                break;
            const char *m = find_line(b, l, (size_t)(tab - l));
            if (!m || strncmp(m, l, (size_t)(nl - l + 1))) {
                char what[512];
                snprintf(what, sizeof what, "%.*s", (int)(tab - l), l);
                char *file = strchr(what, '/');
                if (file)
                    *file++ = '\0';
                snprintf(msg->text, sizeof msg->text, "the --%s input changed since the "
                         "checkpoint was written (%s%s%s)", what, file ? file : "",
                         file ? ": " : "", m ? "SHA-256 differs" : pass ? "new file" : "missing");
                return -1;
            }
            l = nl + 1;
        }
    }
    if (strcmp(k->options_sha, now->options_sha) || k->np != now->np ||
        k->chains != now->chains || k->draws != now->draws || k->warmup != now->warmup) {
        snprintf(msg->text, sizeof msg->text, "the resolved options differ from the "
                 "checkpoint's");
        return -1;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *v, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, v, n);
    b->len += n;
}

static void put_u64(bytes *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_f64s(bytes *b, const double *v, size_t n) { put(b, v, n * sizeof *v); }

static void put_str(bytes *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    put(b, &n, sizeof n);
    put(b, s, n);
}

/* Post-warm-up draws a chain has made after `iter` transitions. */
static size_t done_draws(const fit_ckpt *k, size_t iter)
{
    size_t d = iter > k->warmup ? iter - k->warmup : 0;
    return d < k->draws ? d : k->draws;
}

int fit_ckpt_write(fit_ckpt *k, vbt_msg *msg)
{
    bytes b = {0};
    uint32_t head[2] = {FORMAT_VERSION, ENDIAN};
    put(&b, MAGIC, 8);
    put(&b, head, sizeof head);
    put_str(&b, k->version);
    put_str(&b, k->options_sha);
    put_str(&b, k->inputs);
    put_str(&b, k->cwd);
    put_u64(&b, (uint64_t)k->argc);
    for (int a = 0; a < k->argc; a++)
        put_str(&b, k->argv[a]);
    size_t np = k->np, C = k->chains, D = k->draws;
    put_u64(&b, np);
    put_u64(&b, C);
    put_u64(&b, D);
    put_u64(&b, k->warmup);
    put_u64(&b, (uint64_t)k->has_map);
    if (k->has_map) {
        put_f64s(&b, &k->mr.best_lp, 1);
        put_u64(&b, k->mr.best_start);
        put_u64(&b, k->mr.n_best);
        put_u64(&b, k->mr.n_converged);
        put_u64(&b, k->mr.n_polished);
        put_u64(&b, k->starts);
        put_f64s(&b, &k->map_wall, 1);
        put_f64s(&b, k->map, np);
        put_f64s(&b, k->lp_starts, k->starts);
        put_f64s(&b, k->th_starts, k->starts * np);
        put_u64(&b, (uint64_t)k->laplace_ok);
        put_str(&b, k->laplace_msg);
    }
    put_f64s(&b, k->inits, C * np);
    put_u64(&b, k->cov != NULL);
    if (k->cov)
        put_f64s(&b, k->cov, np * np);
    for (size_t c = 0; c < C; c++) {
        size_t len = k->state[c] ? k->state_len[c] : 0, nd = done_draws(k, k->iter[c]);
        if (!k->state[c])
            nd = 0;
        put_u64(&b, k->iter[c]);
        put_u64(&b, len);
        if (len)
            put(&b, k->state[c], len);
        put_u64(&b, nd);
        put_f64s(&b, k->th + c * D * np, nd * np);
        for (size_t d = 0; d < nd; d++) {
            const vbt_nuts_stats *s = &k->stats[c * D + d];
            double f[4] = {s->lp, s->accept_stat, s->stepsize, s->energy};
            put_f64s(&b, f, 4);
            put_u64(&b, (uint64_t)(int64_t)s->treedepth);
            put_u64(&b, (uint64_t)(int64_t)s->divergent);
            put_u64(&b, s->n_leapfrog);
            put_u64(&b, (uint64_t)(int64_t)s->jumps);
        }
    }
    char hex[65];
    if (!b.oom)
        vbt_sha256_buffer(b.p, b.len, hex);
    put(&b, hex, HASH);
    int rc = -1;
    if (b.oom)
        snprintf(msg->text, sizeof msg->text, "'%.900s': out of memory", k->path);
    else
        rc = vbt_file_write_atomic(k->path, b.p, b.len, 1, msg) ? -1 : 0;
    free(b.p);
    return rc;
}

int fit_ckpt_on_state(void *ctx, size_t c, size_t iteration, const void *state, size_t len)
{
    fit_ckpt *k = ctx;
    pthread_mutex_lock(&k->lock);
    if (k->state_len[c] != len || !k->state[c]) {
        unsigned char *q = realloc(k->state[c], len);
        if (!q) {
            pthread_mutex_unlock(&k->lock);
            return 0;
        }
        k->state[c] = q;
        k->state_len[c] = len;
    }
    memcpy(k->state[c], state, len);
    k->iter[c] = iteration;
    vbt_msg msg = {{0}};
    if (fit_ckpt_write(k, &msg)) {
        if (!k->warned)
            cli_error(k->p, "WARNING: cannot write the checkpoint (sampling goes on): %s",
                      msg.text);
        k->warned = 1;
    } else if (k->stop_after > 0) {
        /* test hook: die as a kill would, right after a checkpoint */
        size_t total = 0;
        for (size_t i = 0; i < k->chains; i++)
            total += k->iter[i];
        if (total >= (size_t)k->stop_after)
            _exit(CLI_ERROR);
    }
    pthread_mutex_unlock(&k->lock);
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct cursor {
    const unsigned char *p, *end;
    int bad;
} cursor;

static void get(cursor *r, void *v, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(v, 0, n);
        return;
    }
    memcpy(v, r->p, n);
    r->p += n;
}

static uint64_t get_u64(cursor *r)
{
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}

/* n doubles into a fresh array (NULL when bad or out of memory). */
static double *get_f64s(cursor *r, size_t n)
{
    if (r->bad || n > (size_t)(r->end - r->p) / sizeof(double)) {
        r->bad = 1;
        return NULL;
    }
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        r->bad = 1;
        return NULL;
    }
    get(r, v, n * sizeof *v);
    return v;
}

static char *get_str(cursor *r)
{
    uint32_t n = 0;
    get(r, &n, sizeof n);
    if (r->bad || n > (size_t)(r->end - r->p)) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    get(r, s, n);
    s[n] = '\0';
    return s;
}

/* A string into a fixed buffer. */
static void get_fixed(cursor *r, char *dst, size_t n)
{
    char *s = get_str(r);
    if (s && strlen(s) < n)
        memcpy(dst, s, strlen(s) + 1);
    else
        r->bad = 1;
    free(s);
}

int fit_ckpt_read(fit_ckpt *k, const char *path, vbt_msg *msg)
{
    char *buf = NULL;
    size_t len = 0;
    snprintf(k->path, sizeof k->path, "%s", path);
    if (vbt_file_read_all(path, &buf, &len, (size_t)1 << 40, msg))
        return -1;
    int rc = -1;
    uint32_t head[2] = {0};
    char hex[65];
    if (len < 8 + sizeof head + HASH || memcmp(buf, MAGIC, 8)) {
        snprintf(msg->text, sizeof msg->text, "'%s' is not a vbt fit checkpoint", path);
        goto out;
    }
    memcpy(head, buf + 8, sizeof head);
    if (head[0] != FORMAT_VERSION || head[1] != ENDIAN) {
        snprintf(msg->text, sizeof msg->text, "'%s': checkpoint format %u%s, this vbt reads %u",
                 path, (unsigned)head[0], head[1] != ENDIAN ? " of another byte order" : "",
                 FORMAT_VERSION);
        goto out;
    }
    vbt_sha256_buffer(buf, len - HASH, hex);
    if (memcmp(hex, buf + len - HASH, HASH)) {
        snprintf(msg->text, sizeof msg->text, "'%s': truncated or corrupt checkpoint "
                 "(checksum mismatch)", path);
        goto out;
    }
    cursor r = {(const unsigned char *)buf + 8 + sizeof head,
                (const unsigned char *)buf + len - HASH, 0};
    get_fixed(&r, k->version, sizeof k->version);
    get_fixed(&r, k->options_sha, sizeof k->options_sha);
    k->inputs = get_str(&r);
    k->cwd = get_str(&r);
    uint64_t argc = get_u64(&r);
    if (!r.bad && argc >= 2 && argc < 4096 && (k->argv = calloc(argc + 1, sizeof *k->argv))) {
        k->argc = (int)argc;
        for (uint64_t a = 0; a < argc; a++)
            k->argv[a] = get_str(&r);
    } else {
        r.bad = 1;
    }
    k->np = get_u64(&r);
    k->chains = get_u64(&r);
    k->draws = get_u64(&r);
    k->warmup = get_u64(&r);
    size_t np = k->np, C = k->chains, D = k->draws;
    if (r.bad || np == 0 || np > 1u << 20 || C == 0 || C > CKPT_MAXCH || D > 1u << 30)
        r.bad = 1;
    k->has_map = !r.bad && get_u64(&r) != 0;
    if (k->has_map) {
        get(&r, &k->mr.best_lp, sizeof(double));
        k->mr.best_start = get_u64(&r);
        k->mr.n_best = get_u64(&r);
        k->mr.n_converged = get_u64(&r);
        k->mr.n_polished = get_u64(&r);
        k->starts = get_u64(&r);
        get(&r, &k->map_wall, sizeof(double));
        if (k->starts > 1u << 20)
            r.bad = 1;
        k->map = get_f64s(&r, np);
        k->lp_starts = get_f64s(&r, k->starts);
        k->th_starts = get_f64s(&r, k->starts * np);
        k->laplace_ok = get_u64(&r) != 0;
        get_fixed(&r, k->laplace_msg, sizeof k->laplace_msg);
    }
    k->inits = get_f64s(&r, C * np);
    if (get_u64(&r))
        k->cov = get_f64s(&r, np * np);
    if (!r.bad) {
        k->th = calloc(C * D * np + 1, sizeof *k->th);
        k->stats = calloc(C * D + 1, sizeof *k->stats);
        k->owns_draws = 1;
        if (!k->th || !k->stats)
            r.bad = 1;
    }
    for (size_t c = 0; c < C && !r.bad; c++) {
        k->iter[c] = get_u64(&r);
        size_t sl = get_u64(&r);
        if (sl) {
            if (sl > (size_t)(r.end - r.p) || !(k->state[c] = malloc(sl))) {
                r.bad = 1;
                break;
            }
            k->state_len[c] = sl;
            get(&r, k->state[c], sl);
        }
        size_t nd = get_u64(&r);
        if (nd != (sl ? done_draws(k, k->iter[c]) : 0) ||
            nd * np > (size_t)(r.end - r.p) / sizeof(double)) {
            r.bad = 1;
            break;
        }
        get(&r, k->th + c * D * np, nd * np * sizeof(double));
        for (size_t d = 0; d < nd; d++) {
            vbt_nuts_stats *s = &k->stats[c * D + d];
            double f[4];
            get(&r, f, sizeof f);
            s->lp = f[0];
            s->accept_stat = f[1];
            s->stepsize = f[2];
            s->energy = f[3];
            s->treedepth = (int)(int64_t)get_u64(&r);
            s->divergent = (int)(int64_t)get_u64(&r);
            s->n_leapfrog = get_u64(&r);
            s->jumps = (int)(int64_t)get_u64(&r);
        }
    }
    if (r.bad || r.p != r.end) {
        snprintf(msg->text, sizeof msg->text, "'%s': truncated or corrupt checkpoint", path);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

void fit_ckpt_clear(fit_ckpt *k)
{
    if (!k)
        return;
    free(k->inputs);
    free(k->cwd);
    if (k->argv)
        for (int a = 0; a < k->argc; a++)
            free(k->argv[a]);
    free(k->argv);
    free(k->map);
    free(k->lp_starts);
    free(k->th_starts);
    free(k->inits);
    free(k->cov);
    for (size_t c = 0; c < CKPT_MAXCH; c++)
        free(k->state[c]);
    if (k->owns_draws) {
        free(k->th);
        free(k->stats);
    }
    if (k->lock_ready)
        pthread_mutex_destroy(&k->lock);
    memset(k, 0, sizeof *k);
}
