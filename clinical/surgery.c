/* surgery.c -- resections as region sets, and resection planning: the
 * smallest set of regions whose removal reaches a target probability of
 * seizure freedom over the posterior draws (vbt_surgery.h). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_surgery.h"

/* Set the handle's message (propagation.c). */
VBT_HIDDEN int vbt__surgery_fail(vbt_surgery *s, int status, const char *fmt, ...)
    VBT_PRINTF(3, 4);

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Sort and drop duplicates; returns the new length. */
static size_t sort_unique(size_t *v, size_t m)
{
    if (m == 0)
        return 0;
    qsort(v, m, sizeof *v, cmp_size);
    size_t w = 1;
    for (size_t i = 1; i < m; i++)
        if (v[i] != v[w - 1])
            v[w++] = v[i];
    return w;
}

/* The next item of a region list at *p: unquoted, the text up to the next
 * comma without surrounding spaces; quoted ("..."), the text between the
 * quotes with "" for one quote, commas included.  Copies it into item
 * (cap bytes) and moves *p past the comma.  Returns 0, or an error. */
static int next_item(const char *text, const char **p, char *item, size_t cap, int *quoted,
                     vbt_msg *msg)
{
    const char *r = *p;
    size_t il = 0;
    while (*r == ' ' || *r == '\t')
        r++;
    *quoted = *r == '"';
    if (*quoted) {
        for (r++;; r++) {
            if (!*r)
                return vbt__fail(msg, VBT_EINVAL, "region list '%s': a quote is not closed",
                                 text);
            if (*r == '"' && r[1] != '"')
                break;
            if (*r == '"')
                r++;                /* "" stands for one quote */
            if (il + 1 >= cap) {
                item[il] = '\0';
                return vbt__fail(msg, VBT_ENOTFOUND, "region list '%s': item '%.32s...' is "
                                 "too long for a label", text, item);
            }
            item[il++] = *r;
        }
        r++;
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r && *r != ',')
            return vbt__fail(msg, VBT_EINVAL, "region list '%s': text after the closing "
                             "quote of '%.*s'", text, (int)il, item);
    } else {
        const char *a = r, *e = strchr(r, ',');
        const char *b = e ? e : r + strlen(r);
        r = b;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        il = (size_t)(b - a);
        if (il >= cap)
            return vbt__fail(msg, VBT_ENOTFOUND, "region list '%s': item '%.*s...' is too "
                             "long for a label", text, 32, a);
        memcpy(item, a, il);
    }
    item[il] = '\0';
    *p = *r == ',' ? r + 1 : r;
    return VBT_OK;
}

int vbt_surgery_parse_regions(const vbt_connectome *conn, const char *text, size_t *idx,
                              size_t cap, size_t *n, vbt_msg *msg)
{
    *n = 0;
    if (!conn || !text)
        return vbt__fail(msg, VBT_EINVAL, "region list: NULL argument");
    size_t m = 0;
    const char *p = text;
    {
        const char *a = text, *b = text + strlen(text);
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (a == b || ((size_t)(b - a) == 4 && strncmp(a, "none", 4) == 0 &&
                       vbt_connectome_find_label(conn, "none") < 0))
            return VBT_OK;
    }
    for (;;) {
        char item[VBT_LABEL_MAX];
        int quoted, st = next_item(text, &p, item, sizeof item, &quoted, msg);
        if (st)
            return st;
        const size_t il = strlen(item);
        if (il == 0 && !quoted)
            return vbt__fail(msg, VBT_EINVAL, "region list '%s': empty item", text);
        long r = vbt_connectome_find_label(conn, item);
        if (r < 0) {
            size_t digits = strspn(item, "0123456789");
            if (quoted || digits != il)
                return vbt__fail(msg, VBT_ENOTFOUND, "region list '%s': unknown region label "
                                 "'%s'", text, item);
            unsigned long long u = strtoull(item, NULL, 10);
            if (il > 18 || u >= conn->n)
                return vbt__fail(msg, VBT_ERANGE, "region list '%s': index %s is out of range "
                                 "(the connectome has %zu regions, 0 to %zu)", text, item,
                                 conn->n, conn->n - 1);
            r = (long)u;
        }
        if (m >= cap)
            return vbt__fail(msg, VBT_ERANGE, "region list '%s': more than %zu regions", text,
                             cap);
        idx[m++] = (size_t)r;
        if (!*p)
            break;
    }
    *n = sort_unique(idx, m);
    return VBT_OK;
}

void vbt_plan_opts_default(vbt_plan_opts *o)
{
    *o = (vbt_plan_opts){.target = 0.9, .max_size = 4, .max_evaluations = 5000};
}

/* sum_{k=1..kmax} C(m, k), saturating at `limit` + 1. */
static size_t count_subsets(size_t m, size_t kmax, size_t limit)
{
    double total = 0.0, c = 1.0;
    for (size_t k = 1; k <= kmax; k++) {
        c = c * (double)(m - k + 1) / (double)k;
        total += c;
        if (total > (double)limit)
            return limit + 1;
    }
    return (size_t)llround(total);
}

static int plan_exhaustive(vbt_surgery *s, const vbt_plan_opts *o, size_t kmax,
                           vbt_plan_result *out)
{
    const size_t m = out->n_candidates;
    size_t pos[64], set[64];
    double best_any = -1.0;
    for (size_t k = 1; k <= kmax; k++) {
        double best_k = -1.0;
        for (size_t q = 0; q < k; q++)
            pos[q] = q;
        for (;;) {
            for (size_t q = 0; q < k; q++)
                set[q] = out->candidates[pos[q]];
            double pf;
            int st = vbt_surgery_freedom(s, set, k, &pf, NULL);
            if (st)
                return st;
            out->n_evaluations++;
            /* Strictly better only: the first in lexicographic order wins ties. */
            if (pf >= o->target && pf > best_k) {
                best_k = pf;
                out->n_set = k;
                memcpy(out->set, set, k * sizeof *set);
                out->p_freedom = pf;
                out->reached = 1;
            }
            if (!out->reached && pf > best_any) {
                best_any = pf;
                out->n_set = k;
                memcpy(out->set, set, k * sizeof *set);
                out->p_freedom = pf;
            }
            /* next combination of k positions out of m */
            size_t q = k;
            while (q > 0 && pos[q - 1] == m - k + q - 1)
                q--;
            if (q == 0)
                break;
            pos[q - 1]++;
            for (size_t r = q; r < k; r++)
                pos[r] = pos[r - 1] + 1;
        }
        if (out->reached)
            return VBT_OK;
    }
    return VBT_OK;
}

static int plan_greedy(vbt_surgery *s, const vbt_plan_opts *o, size_t kmax,
                       vbt_plan_result *out)
{
    const size_t m = out->n_candidates;
    size_t set[64];
    unsigned char *used = calloc(m, 1);
    if (!used)
        return vbt__surgery_fail(s, VBT_ENOMEM, "plan: out of memory");
    for (size_t k = 1; k <= kmax; k++) {
        double best_pf = -1.0, best_mr = HUGE_VAL;
        size_t best = m;
        for (size_t c = 0; c < m; c++) {
            if (used[c])
                continue;
            set[k - 1] = out->candidates[c];
            double pf, mr;
            int st = vbt_surgery_freedom(s, set, k, &pf, &mr);
            if (st) {
                free(used);
                return st;
            }
            out->n_evaluations++;
            /* candidates are in increasing index order: ties keep the lowest */
            if (pf > best_pf || (pf == best_pf && mr < best_mr)) {
                best_pf = pf;
                best_mr = mr;
                best = c;
            }
        }
        used[best] = 1;
        set[k - 1] = out->candidates[best];
        out->n_set = k;
        memcpy(out->set, set, k * sizeof *set);
        out->p_freedom = best_pf;
        if (best_pf >= o->target) {
            out->reached = 1;
            break;
        }
    }
    free(used);
    qsort(out->set, out->n_set, sizeof *out->set, cmp_size);
    return VBT_OK;
}

int vbt_surgery_plan(vbt_surgery *s, const vbt_plan_opts *o, vbt_plan_result *out)
{
    const size_t n = vbt_surgery_n_regions(s);
    memset(out, 0, sizeof *out);
    if (!o || !(o->target > 0.0 && o->target <= 1.0) || o->max_size == 0 ||
        o->max_size > 64 || o->max_evaluations == 0)
        return vbt__surgery_fail(s, VBT_EINVAL, "plan: need 0 < target <= 1, 1 <= max_size <= 64 "
                                           "and max_evaluations >= 1");
    unsigned char *spared = calloc(n, 1), *is_cand = calloc(n, 1);
    if (!spared || !is_cand) {
        free(spared);
        free(is_cand);
        return vbt__surgery_fail(s, VBT_ENOMEM, "plan: out of memory");
    }
    int st = VBT_OK;
    for (size_t q = 0; q < o->n_spare; q++) {
        if (o->spare[q] >= n) {
            st = vbt__surgery_fail(s, VBT_ERANGE, "plan: spared region %zu is out of range "
                                   "(%zu regions)", o->spare[q], n);
            goto out;
        }
        spared[o->spare[q]] = 1;
    }
    vbt_surgery_result none;
    st = vbt_surgery_run(s, NULL, 0, &none);
    if (st)
        goto out;
    out->p_freedom_none = none.p_freedom;
    for (size_t i = 0; i < n; i++)
        is_cand[i] = o->candidates ? 0 : none.p_recruited[i] > 0.0;
    vbt_surgery_result_clear(&none);
    for (size_t q = 0; o->candidates && q < o->n_candidates; q++) {
        if (o->candidates[q] >= n) {
            st = vbt__surgery_fail(s, VBT_ERANGE, "plan: candidate region %zu is out of "
                                   "range (%zu regions)", o->candidates[q], n);
            goto out;
        }
        is_cand[o->candidates[q]] = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (is_cand[i] && !spared[i]) {
            if (out->n_candidates == sizeof out->candidates / sizeof out->candidates[0]) {
                st = vbt__surgery_fail(s, VBT_ERANGE, "plan: more than %zu candidate regions",
                                       out->n_candidates);
                goto out;
            }
            out->candidates[out->n_candidates++] = i;
        }
    out->p_freedom = out->p_freedom_none;
    size_t m = out->n_candidates, kmax = o->max_size < m ? o->max_size : m;
    size_t count = count_subsets(m, kmax, o->max_evaluations);
    out->method = o->force_method ? o->force
                                  : count <= o->max_evaluations ? VBT_PLAN_EXHAUSTIVE
                                                                : VBT_PLAN_GREEDY;
    if (out->p_freedom_none >= o->target) {
        out->reached = 1;
        goto out;
    }
    if (kmax == 0)
        goto out;
    st = out->method == VBT_PLAN_EXHAUSTIVE ? plan_exhaustive(s, o, kmax, out)
                                            : plan_greedy(s, o, kmax, out);
out:
    free(spared);
    free(is_cand);
    return st;
}
