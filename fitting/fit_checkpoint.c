/* fit_checkpoint.c -- the checkpoint file of a NUTS fit (vbt_fit.h): one
 * file rewritten atomically (temporary file, fsync, rename) every
 * `every` iterations of a chain and where a stop leaves the chains.  It
 * holds what vbt_fit_resume() needs to end with the draws of an
 * uninterrupted run: the caller's record of the run, the sizes, the MAP
 * stage, the chains' starting points and metric, and each chain's sampler
 * state with its draws and sampler statistics so far.
 *
 * Layout, in this machine's byte order (a marker refuses another): magic
 * "VBTFITCK", format version, marker; the caller's record (u64 length +
 * bytes); u64 sizes (parameters, chains, draws, warm-up); the MAP stage;
 * the starting points and the initial metric; per chain its iteration, its
 * sampler state (vbt_nuts_state_save) and its post-warm-up draws and
 * statistics so far; and last the SHA-256 (hex) of everything before it,
 * so that a truncated or altered file is refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

#define MAGIC "VBTFITCK"
#define FORMAT_VERSION 5u /* 2: the MAP stage records how many starts were polished; 3: vbt
                              fit integrates the offsets out by default (a format-2 state
                              was sampled with them free); 4: each draw's accepted mode
                              jumps (--jumps), NUTS states of version 2; 5: the fit
                              object's file, the caller's identity of the run as one
                              opaque record */
#define ENDIAN 0x01020304u
#define HASH 64

int vbt_fit_checkpoint_path(const char *outdir, char *buf, size_t n)
{
    if (!outdir || !buf)
        return VBT_EINVAL;
    size_t len = strlen(outdir);
    while (len > 1 && outdir[len - 1] == '/')
        len--;
    int k = snprintf(buf, n, "%.*s.checkpoint", (int)len, outdir);
    return k < 0 || (size_t)k >= n ? VBT_ERANGE : VBT_OK;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *v, size_t n)
{
    if (b->oom || n == 0)
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

static void put_map(bytes *b, const fit_ckpt *k)
{
    const size_t np = k->np;
    put_f64s(b, &k->mr.best_lp, 1);
    put_u64(b, k->mr.best_start);
    put_u64(b, k->mr.n_best);
    put_u64(b, k->mr.n_converged);
    put_u64(b, k->mr.n_polished);
    put_u64(b, k->starts);
    put_f64s(b, &k->map_wall, 1);
    put_f64s(b, k->map, np);
    put_f64s(b, k->lp_starts, k->starts);
    put_f64s(b, k->th_starts, k->starts * np);
    put_u64(b, (uint64_t)k->laplace_ok);
    put_str(b, k->laplace_msg);
}

static void put_chain(bytes *b, const fit_ckpt *k, size_t c)
{
    const size_t np = k->np, D = k->draws;
    size_t len = k->state[c] ? k->state_len[c] : 0, nd = done_draws(k, k->iter[c]);
    if (!k->state[c])
        nd = 0;
    put_u64(b, k->iter[c]);
    put_u64(b, len);
    if (len)
        put(b, k->state[c], len);
    put_u64(b, nd);
    put_f64s(b, k->th + c * D * np, nd * np);
    for (size_t d = 0; d < nd; d++) {
        const vbt_nuts_stats *s = &k->stats[c * D + d];
        double f[4] = {s->lp, s->accept_stat, s->stepsize, s->energy};
        put_f64s(b, f, 4);
        put_u64(b, (uint64_t)(int64_t)s->treedepth);
        put_u64(b, (uint64_t)(int64_t)s->divergent);
        put_u64(b, s->n_leapfrog);
        put_u64(b, (uint64_t)(int64_t)s->jumps);
    }
}

int fit__ckpt_write(fit_ckpt *k, vbt_msg *msg)
{
    bytes b = {0};
    uint32_t head[2] = {FORMAT_VERSION, ENDIAN};
    put(&b, MAGIC, 8);
    put(&b, head, sizeof head);
    put_u64(&b, k->record_len);
    put(&b, k->record, k->record_len);
    put_u64(&b, k->np);
    put_u64(&b, k->chains);
    put_u64(&b, k->draws);
    put_u64(&b, k->warmup);
    put_u64(&b, (uint64_t)k->has_map);
    if (k->has_map)
        put_map(&b, k);
    put_f64s(&b, k->inits, k->chains * k->np);
    put_u64(&b, k->cov != NULL);
    if (k->cov)
        put_f64s(&b, k->cov, k->np * k->np);
    for (size_t c = 0; c < k->chains; c++)
        put_chain(&b, k, c);
    char hex[65];
    if (!b.oom)
        vbt_sha256_buffer(b.p, b.len, hex);
    put(&b, hex, HASH);
    int st;
    if (b.oom)
        st = vbt__fail(msg, VBT_ENOMEM, "'%.900s': out of memory", k->path);
    else
        st = vbt_file_write_atomic(k->path, b.p, b.len, 1, msg);
    free(b.p);
    return st;
}

int fit__ckpt_on_state(void *ctx, size_t c, size_t iteration, const void *state, size_t len)
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
    if (fit__ckpt_write(k, &msg)) {
        if (!k->warned)
            fit__log(k->fit, VBT_FIT_LOG_WARNING, "WARNING: cannot write the checkpoint "
                     "(sampling goes on): %s", msg.text);
        k->warned = 1;
    } else if (k->on_saved) {
        size_t total = 0;
        for (size_t i = 0; i < k->chains; i++)
            total += k->iter[i];
        k->on_saved(k->saved_ctx, total);
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
    if (n)
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

/* A string into a fixed buffer. */
static void get_fixed(cursor *r, char *dst, size_t n)
{
    uint32_t len = 0;
    get(r, &len, sizeof len);
    if (r->bad || len >= n || len > (size_t)(r->end - r->p)) {
        r->bad = 1;
        return;
    }
    get(r, dst, len);
    dst[len] = '\0';
}

static void get_map(cursor *r, fit_ckpt *k)
{
    get(r, &k->mr.best_lp, sizeof(double));
    k->mr.best_start = get_u64(r);
    k->mr.n_best = get_u64(r);
    k->mr.n_converged = get_u64(r);
    k->mr.n_polished = get_u64(r);
    k->starts = get_u64(r);
    get(r, &k->map_wall, sizeof(double));
    if (k->starts > 1u << 20)
        r->bad = 1;
    k->map = get_f64s(r, k->np);
    k->lp_starts = get_f64s(r, k->starts);
    k->th_starts = get_f64s(r, k->starts * k->np);
    k->laplace_ok = get_u64(r) != 0;
    get_fixed(r, k->laplace_msg, sizeof k->laplace_msg);
}

static void get_chain(cursor *r, fit_ckpt *k, size_t c)
{
    const size_t np = k->np, D = k->draws;
    k->iter[c] = get_u64(r);
    size_t sl = get_u64(r);
    if (sl) {
        if (r->bad || sl > (size_t)(r->end - r->p) || !(k->state[c] = malloc(sl))) {
            r->bad = 1;
            return;
        }
        k->state_len[c] = sl;
        get(r, k->state[c], sl);
    }
    size_t nd = get_u64(r);
    if (nd != (sl ? done_draws(k, k->iter[c]) : 0) ||
        nd * np > (size_t)(r->end - r->p) / sizeof(double)) {
        r->bad = 1;
        return;
    }
    get(r, k->th + c * D * np, nd * np * sizeof(double));
    for (size_t d = 0; d < nd; d++) {
        vbt_nuts_stats *s = &k->stats[c * D + d];
        double f[4];
        get(r, f, sizeof f);
        s->lp = f[0];
        s->accept_stat = f[1];
        s->stepsize = f[2];
        s->energy = f[3];
        s->treedepth = (int)(int64_t)get_u64(r);
        s->divergent = (int)(int64_t)get_u64(r);
        s->n_leapfrog = get_u64(r);
        s->jumps = (int)(int64_t)get_u64(r);
    }
}

static void get_body(cursor *r, fit_ckpt *k)
{
    size_t rl = get_u64(r);
    if (r->bad || rl > (size_t)(r->end - r->p) || !(k->record = malloc(rl ? rl : 1))) {
        r->bad = 1;
        return;
    }
    k->record_len = rl;
    get(r, k->record, rl);
    k->np = get_u64(r);
    k->chains = get_u64(r);
    k->draws = get_u64(r);
    k->warmup = get_u64(r);
    size_t np = k->np, C = k->chains, D = k->draws;
    if (r->bad || np == 0 || np > 1u << 20 || C == 0 || C > FIT_MAXCH || D > 1u << 30)
        r->bad = 1;
    k->has_map = !r->bad && get_u64(r) != 0;
    if (k->has_map)
        get_map(r, k);
    k->inits = get_f64s(r, C * np);
    if (get_u64(r))
        k->cov = get_f64s(r, np * np);
    if (!r->bad) {
        k->th = calloc(C * D * np + 1, sizeof *k->th);
        k->stats = calloc(C * D + 1, sizeof *k->stats);
        k->owns_draws = 1;
        if (!k->th || !k->stats)
            r->bad = 1;
    }
    for (size_t c = 0; c < C && !r->bad; c++)
        get_chain(r, k, c);
}

int fit__ckpt_read(fit_ckpt *k, const char *path, vbt_msg *msg)
{
    char *buf = NULL;
    size_t len = 0;
    int st = vbt_file_read_all(path, &buf, &len, (size_t)1 << 40, msg);
    if (st)
        return st;
    uint32_t head[2] = {0};
    char hex[65];
    if (len < 8 + sizeof head + HASH || memcmp(buf, MAGIC, 8)) {
        st = vbt__fail(msg, VBT_EFORMAT, "'%s' is not a vbt fit checkpoint", path);
        goto out;
    }
    memcpy(head, buf + 8, sizeof head);
    if (head[0] != FORMAT_VERSION || head[1] != ENDIAN) {
        st = vbt__fail(msg, VBT_EFORMAT, "'%s': checkpoint format %u%s, this vbt reads %u", path,
                       (unsigned)head[0], head[1] != ENDIAN ? " of another byte order" : "",
                       FORMAT_VERSION);
        goto out;
    }
    vbt_sha256_buffer(buf, len - HASH, hex);
    if (memcmp(hex, buf + len - HASH, HASH)) {
        st = vbt__fail(msg, VBT_EFORMAT, "'%s': truncated or corrupt checkpoint (checksum "
                       "mismatch)", path);
        goto out;
    }
    cursor r = {(const unsigned char *)buf + 8 + sizeof head,
                (const unsigned char *)buf + len - HASH, 0};
    get_body(&r, k);
    if (r.bad || r.p != r.end) {
        st = vbt__fail(msg, VBT_EFORMAT, "'%s': truncated or corrupt checkpoint", path);
        goto out;
    }
    if (!(k->path = strdup(path)))
        st = vbt__fail(msg, VBT_ENOMEM, "out of memory");
out:
    free(buf);
    return st;
}

void fit__ckpt_clear(fit_ckpt *k)
{
    if (!k)
        return;
    free(k->path);
    free(k->record);
    free(k->map);
    free(k->lp_starts);
    free(k->th_starts);
    free(k->inits);
    free(k->cov);
    for (size_t c = 0; c < FIT_MAXCH; c++)
        free(k->state[c]);
    if (k->owns_draws) {
        free(k->th);
        free(k->stats);
    }
    if (k->lock_ready)
        pthread_mutex_destroy(&k->lock);
    memset(k, 0, sizeof *k);
}

/* ---- the API ----------------------------------------------------------------- */

int vbt_fit_set_checkpoint(vbt_fit *f, const char *path, size_t every, const void *record,
                           size_t len, vbt_fit_checkpoint_fn on_saved, void *ctx,
                           vbt_msg *msg)
{
    if (!f || !path || (len && !record))
        return vbt__fail(msg, VBT_EINVAL, "fit checkpoint: NULL argument");
    if (f->ran)
        return vbt__fail(msg, VBT_EINVAL, "fit checkpoint: set after the run");
    if (!f->ck && !(f->ck = calloc(1, sizeof *f->ck)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    fit_ckpt *k = f->ck;
    char *p = strdup(path);
    unsigned char *rec = malloc(len ? len : 1);
    if (!p || !rec) {
        free(p);
        free(rec);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(rec, record, len);
    free(k->path);
    free(k->record);
    k->path = p;
    k->record = rec;
    k->record_len = len;
    k->every = every;
    k->on_saved = on_saved;
    k->saved_ctx = ctx;
    k->fit = f;
    k->np = f->np;
    k->chains = f->n_chains;
    k->draws = f->n_draws;
    k->warmup = f->o.warmup;
    return VBT_OK;
}

int vbt_fit_checkpoint_record(const char *path, void **record, size_t *len, vbt_msg *msg)
{
    if (!path || !record || !len)
        return vbt__fail(msg, VBT_EINVAL, "fit checkpoint: NULL argument");
    *record = NULL;
    *len = 0;
    fit_ckpt k;
    memset(&k, 0, sizeof k);
    int st = fit__ckpt_read(&k, path, msg);
    if (!st) {
        *record = k.record;
        *len = k.record_len;
        k.record = NULL;
    }
    fit__ckpt_clear(&k);
    return st;
}

int vbt_fit_resume(vbt_fit *f, const char *path, vbt_msg *msg)
{
    if (!f || !path)
        return vbt__fail(msg, VBT_EINVAL, "fit resume: NULL argument");
    if (f->ran)
        return vbt__fail(msg, VBT_EINVAL, "fit resume: after the run");
    if (!f->is_nuts)
        return vbt__fail(msg, VBT_EINVAL, "fit resume: only a NUTS run has a checkpoint");
    fit_ckpt *k = calloc(1, sizeof *k);
    if (!k)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    int st = fit__ckpt_read(k, path, msg);
    if (!st && (k->np != f->np || k->chains != f->n_chains || k->draws != f->n_draws ||
                k->warmup != f->o.warmup))
        st = vbt__fail(msg, VBT_EINVAL, "the resolved options differ from the checkpoint's");
    if (st) {
        fit__ckpt_clear(k);
        free(k);
        return st;
    }
    if (f->ck) {
        /* the interval and hook set by vbt_fit_set_checkpoint */
        k->every = f->ck->every;
        k->on_saved = f->ck->on_saved;
        k->saved_ctx = f->ck->saved_ctx;
        fit__ckpt_clear(f->ck);
        free(f->ck);
    }
    k->fit = f;
    f->ck = k;
    f->resumed = 1;
    return VBT_OK;
}
