/* diagnostics.c -- R-hat, ESS, MCSE, E-BFMI and stuck chains (Vehtari et
 * al. 2021).  The autocovariance is summed directly up to the lag where
 * Geyer's initial positive sequence stops: O(n x lag) per chain, cheaper
 * than an FFT for well-mixing chains of a few thousand draws. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <gsl/gsl_cdf.h>

#include "vbt_diagnostics.h"
#include "internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double vbt_diag_quantile(const double *x, size_t n, double p, double *work)
{
    if (n == 0)
        return NAN;
    memcpy(work, x, n * sizeof *work);
    qsort(work, n, sizeof *work, cmp_double);
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1)
        return work[n - 1];
    return work[lo] + (h - (double)lo) * (work[lo + 1] - work[lo]);
}

static int all_finite_nonconstant(const double *x, size_t len)
{
    int varies = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isfinite(x[i]))
            return 0;
        varies |= x[i] != x[0];
    }
    return varies;
}

double vbt_diag_rhat_basic(const double *x, size_t m, size_t n)
{
    if (m == 0 || n < 2 || !all_finite_nonconstant(x, m * n))
        return NAN;
    double gm = 0, w = 0, vb = 0;
    double *cm = malloc(m * sizeof *cm);
    if (!cm)
        return NAN;
    for (size_t c = 0; c < m; c++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[c * n + i];
        cm[c] = s / (double)n;
        gm += cm[c];
        double v = 0;
        for (size_t i = 0; i < n; i++) {
            double d = x[c * n + i] - cm[c];
            v += d * d;
        }
        w += v / (double)(n - 1);
    }
    gm /= (double)m;
    w /= (double)m;
    for (size_t c = 0; c < m; c++)
        vb += (cm[c] - gm) * (cm[c] - gm);
    vb = m > 1 ? (double)n * vb / (double)(m - 1) : 0.0;
    free(cm);
    return sqrt((vb / w + (double)n - 1.0) / (double)n);
}

/* Mean over chains of the biased autocovariance at lag t. */
static double acov_mean(const double *x, const double *cm, size_t m, size_t n, size_t t)
{
    double s = 0;
    for (size_t c = 0; c < m; c++) {
        const double *y = x + c * n;
        double a = 0;
        for (size_t i = 0; i + t < n; i++)
            a += (y[i] - cm[c]) * (y[i + t] - cm[c]);
        s += a / (double)n;
    }
    return s / (double)m;
}

double vbt_diag_ess_basic(const double *x, size_t m, size_t n)
{
    if (m == 0 || n < 3 || !all_finite_nonconstant(x, m * n))
        return NAN;
    double *cm = malloc(m * sizeof *cm), *rho = calloc(n + 2, sizeof *rho);
    if (!cm || !rho) {
        free(cm);
        free(rho);
        return NAN;
    }
    double gm = 0;
    for (size_t c = 0; c < m; c++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[c * n + i];
        cm[c] = s / (double)n;
        gm += cm[c];
    }
    gm /= (double)m;
    double vcm = 0;
    for (size_t c = 0; c < m; c++)
        vcm += (cm[c] - gm) * (cm[c] - gm);
    vcm = m > 1 ? vcm / (double)(m - 1) : 0.0;
    double nn = (double)n;
    double mean_var = acov_mean(x, cm, m, n, 0) * nn / (nn - 1.0);
    double var_plus = mean_var * (nn - 1.0) / nn + vcm;
    /* Geyer's initial positive sequence (posterior's .ess) */
    size_t t = 0;
    double re = 1.0;
    rho[0] = re;
    double ro = 1.0 - (mean_var - acov_mean(x, cm, m, n, 1)) / var_plus;
    rho[1] = ro;
    while (t + 5 < n && !isnan(re + ro) && re + ro > 0) {
        t += 2;
        re = 1.0 - (mean_var - acov_mean(x, cm, m, n, t)) / var_plus;
        ro = 1.0 - (mean_var - acov_mean(x, cm, m, n, t + 1)) / var_plus;
        if (re + ro >= 0) {
            rho[t] = re;
            rho[t + 1] = ro;
        }
    }
    size_t max_t = t;
    if (re > 0)
        rho[max_t] = re;
    /* Geyer's initial monotone sequence */
    t = 0;
    while (t + 4 <= max_t) {
        t += 2;
        if (rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]) {
            rho[t] = (rho[t - 2] + rho[t - 1]) / 2.0;
            rho[t + 1] = rho[t];
        }
    }
    double ess = (double)m * nn;
    double sum = 0;
    for (size_t k = 0; k < max_t; k++)
        sum += rho[k];
    double tau = -1.0 + 2.0 * sum + rho[max_t];
    tau = fmax(tau, 1.0 / log10(ess));
    free(cm);
    free(rho);
    return ess / tau;
}

typedef struct vi { double v; size_t i; } vi;

static int cmp_vi(const void *a, const void *b)
{
    const vi *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* Rank normalisation in place: z = Phi^-1((r - 3/8) / (S + 1/4)) with
 * average ranks for ties. */
static int z_scale(double *x, size_t S)
{
    vi *p = malloc(S * sizeof *p);
    if (!p)
        return -1;
    for (size_t i = 0; i < S; i++)
        p[i] = (vi){x[i], i};
    qsort(p, S, sizeof *p, cmp_vi);
    for (size_t i = 0; i < S;) {
        size_t j = i + 1;
        while (j < S && p[j].v == p[i].v)
            j++;
        double r = 0.5 * ((double)(i + 1) + (double)j); /* average of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            x[p[k].i] = gsl_cdf_ugaussian_Pinv((r - 0.375) / ((double)S + 0.25));
        i = j;
    }
    free(p);
    return 0;
}

/* Split each chain into its first and last floor(n/2) draws. */
static void split(const double *x, size_t m, size_t n, double *out)
{
    size_t h = n / 2;
    for (size_t c = 0; c < m; c++) {
        memcpy(out + (2 * c) * h, x + c * n, h * sizeof *out);
        memcpy(out + (2 * c + 1) * h, x + c * n + (n - h), h * sizeof *out);
    }
}

int vbt_diag_param_compute(const double *x, size_t m, size_t n, vbt_diag_param *o)
{
    if (!x || !o || m == 0 || n < 4)
        return VBT_EINVAL;
    size_t N = m * n, h = n / 2, S = 2 * m * h;
    double *work = malloc(N * sizeof *work), *sp = malloc(S * sizeof *sp);
    if (!work || !sp) {
        free(work);
        free(sp);
        return VBT_ENOMEM;
    }
    double s = 0, ss = 0;
    for (size_t i = 0; i < N; i++)
        s += x[i];
    o->mean = s / (double)N;
    for (size_t i = 0; i < N; i++)
        ss += (x[i] - o->mean) * (x[i] - o->mean);
    o->sd = N > 1 ? sqrt(ss / (double)(N - 1)) : NAN;
    o->q5 = vbt_diag_quantile(x, N, 0.05, work);
    o->q95 = vbt_diag_quantile(x, N, 0.95, work);
    o->q50 = vbt_diag_quantile(x, N, 0.50, work);
    double med = o->q50;
    int ok = all_finite_nonconstant(x, N);
    o->rhat = o->rhat_bulk = o->rhat_tail = o->ess_bulk = o->ess_tail = o->ess_mean =
        o->mcse_mean = NAN;
    if (ok) {
        split(x, m, n, sp);
        o->ess_mean = vbt_diag_ess_basic(sp, 2 * m, h);
        o->mcse_mean = o->sd / sqrt(o->ess_mean);
        if (z_scale(sp, S) == 0) {
            o->rhat_bulk = vbt_diag_rhat_basic(sp, 2 * m, h);
            o->ess_bulk = vbt_diag_ess_basic(sp, 2 * m, h);
        }
        for (size_t i = 0; i < N; i++)
            work[i] = fabs(x[i] - med);
        split(work, m, n, sp);
        if (z_scale(sp, S) == 0)
            o->rhat_tail = vbt_diag_rhat_basic(sp, 2 * m, h);
        o->rhat = fmax(o->rhat_bulk, o->rhat_tail);
        if (isnan(o->rhat_bulk) || isnan(o->rhat_tail))
            o->rhat = NAN;
        double et = INFINITY;
        for (int k = 0; k < 2; k++) {
            double q = k == 0 ? o->q5 : o->q95;
            split(x, m, n, sp);
            for (size_t i = 0; i < S; i++)
                sp[i] = sp[i] <= q ? 1.0 : 0.0;
            double e = vbt_diag_ess_basic(sp, 2 * m, h);
            et = isnan(e) ? NAN : fmin(et, e);
        }
        o->ess_tail = et;
    }
    free(work);
    free(sp);
    return VBT_OK;
}

double vbt_diag_ebfmi(const double *e, size_t n)
{
    if (n < 2)
        return NAN;
    double mean = 0, num = 0, den = 0;
    for (size_t i = 0; i < n; i++)
        mean += e[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        den += (e[i] - mean) * (e[i] - mean);
        if (i)
            num += (e[i] - e[i - 1]) * (e[i] - e[i - 1]);
    }
    return den > 0 ? num / den : NAN;
}

size_t vbt_diag_stuck_chains(const double *mean_lp, const double *stepsize, size_t m,
                             double lp_gap, double ratio, int *flags)
{
    if (!mean_lp || !flags || m == 0)
        return 0;
    if (!(lp_gap > 0))
        lp_gap = 10.0;
    if (!(ratio > 0))
        ratio = 0.1;
    double best = -HUGE_VAL, med = NAN;
    for (size_t c = 0; c < m; c++)
        if (isfinite(mean_lp[c]))
            best = fmax(best, mean_lp[c]);
    if (stepsize) {
        double *w = malloc(m * sizeof *w);
        if (w) {
            med = vbt_diag_quantile(stepsize, m, 0.5, w);
            free(w);
        }
    }
    size_t k = 0;
    for (size_t c = 0; c < m; c++) {
        flags[c] = 0;
        if (!(mean_lp[c] >= best - lp_gap))
            flags[c] |= VBT_DIAG_STUCK_LP;
        if (stepsize && isfinite(med) && !(stepsize[c] >= ratio * med))
            flags[c] |= VBT_DIAG_STUCK_STEPSIZE;
        k += flags[c] != 0;
    }
    return k;
}

size_t vbt_sbc_rank(const double *x, size_t n, size_t L, double truth)
{
    if (!x || L == 0 || L > n)
        return SIZE_MAX;
    size_t r = 0;
    for (size_t k = 0; k < L; k++)
        r += x[(size_t)((unsigned long long)k * n / L)] < truth;
    return r;
}

size_t vbt_sbc_thin(double ess, size_t n, size_t n_bins, size_t max_L)
{
    if (n_bins == 0 || n + 1 < n_bins || max_L + 1 < n_bins)
        return 0;
    size_t cap = (n < max_L ? n : max_L) + 1;
    if (!(ess >= 1.0))
        cap = n_bins;
    else if (ess < (double)cap)
        cap = (size_t)ess;
    size_t m = cap / n_bins;
    return (m ? m : 1) * n_bins - 1;
}

size_t vbt_sbc_bin(size_t rank, size_t L, size_t n_bins)
{
    size_t b = (size_t)((unsigned long long)rank * n_bins / (L + 1));
    return b < n_bins ? b : n_bins - 1;
}

int vbt_chisq_uniform(const size_t *counts, size_t n_bins, double *stat, double *p)
{
    if (!counts || n_bins < 2)
        return VBT_EINVAL;
    double total = 0;
    for (size_t b = 0; b < n_bins; b++)
        total += (double)counts[b];
    if (total <= 0)
        return VBT_EINVAL;
    double e = total / (double)n_bins, x2 = 0;
    for (size_t b = 0; b < n_bins; b++)
        x2 += ((double)counts[b] - e) * ((double)counts[b] - e) / e;
    if (stat)
        *stat = x2;
    if (p)
        *p = gsl_cdf_chisq_Q(x2, (double)(n_bins - 1));
    return VBT_OK;
}

/* ---- the verdict ------------------------------------------------------------------ */

void vbt_verdict_init(vbt_verdict *v)
{
    memset(v, 0, sizeof *v);
}

static void verdict_update(vbt_verdict *v)
{
    int ok = v->n_checks > 0;
    for (size_t i = 0; i < v->n_checks; i++)
        ok &= v->checks[i].passed != 0;
    v->trustworthy = ok;
}

int vbt_verdict_add(vbt_verdict *v, const char *name, double value, double threshold,
                    int passed, const char *fmt, ...)
{
    if (!v || !name || v->n_checks >= VBT_VERDICT_MAX_CHECKS)
        return VBT_ERANGE;
    vbt_check *c = &v->checks[v->n_checks++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->value = value;
    c->threshold = threshold;
    c->passed = passed != 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof c->reason, fmt, ap);
        va_end(ap);
    }
    verdict_update(v);
    return VBT_OK;
}

const vbt_check *vbt_verdict_find(const vbt_verdict *v, const char *name)
{
    for (size_t i = 0; v && name && i < v->n_checks; i++)
        if (!strcmp(v->checks[i].name, name))
            return &v->checks[i];
    return NULL;
}

size_t vbt_verdict_n_failed(const vbt_verdict *v)
{
    size_t n = 0;
    for (size_t i = 0; v && i < v->n_checks; i++)
        n += !v->checks[i].passed;
    return n;
}

const vbt_check *vbt_verdict_failed(const vbt_verdict *v, size_t i)
{
    for (size_t k = 0; v && k < v->n_checks; k++)
        if (!v->checks[k].passed && i-- == 0)
            return &v->checks[k];
    return NULL;
}

static void add_num_or_null(cJSON *o, const char *key, double x)
{
    if (isfinite(x))
        cJSON_AddNumberToObject(o, key, x);
    else
        cJSON_AddNullToObject(o, key);
}

char *vbt_verdict_json(const vbt_verdict *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !v) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "trustworthy", v->trustworthy);
    cJSON_AddBoolToObject(o, "point_estimate", v->point_estimate);
    cJSON *ca = cJSON_AddArrayToObject(o, "checks");
    cJSON *ra = cJSON_AddArrayToObject(o, "reasons");
    for (size_t i = 0; i < v->n_checks; i++) {
        const vbt_check *c = &v->checks[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", c->name);
        add_num_or_null(e, "value", c->value);
        add_num_or_null(e, "threshold", c->threshold);
        cJSON_AddBoolToObject(e, "passed", c->passed);
        cJSON_AddStringToObject(e, "reason", c->reason);
        cJSON_AddItemToArray(ca, e);
        if (!c->passed)
            cJSON_AddItemToArray(ra, cJSON_CreateString(c->reason));
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

int vbt_verdict_parse(vbt_verdict *v, const char *json, vbt_msg *msg)
{
    vbt_verdict_init(v);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(o, "checks"), *c;
    if (!cJSON_IsObject(o) || !cJSON_IsArray(ca)) {
        cJSON_Delete(o);
        return vbt__fail(msg, VBT_EFORMAT, "verdict: not an object with a \"checks\" array");
    }
    cJSON_ArrayForEach(c, ca) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name"),
                    *val = cJSON_GetObjectItemCaseSensitive(c, "value"),
                    *th = cJSON_GetObjectItemCaseSensitive(c, "threshold"),
                    *ps = cJSON_GetObjectItemCaseSensitive(c, "passed"),
                    *rs = cJSON_GetObjectItemCaseSensitive(c, "reason");
        if (!cJSON_IsString(n) || !cJSON_IsBool(ps)) {
            cJSON_Delete(o);
            return vbt__fail(msg, VBT_EFORMAT, "verdict: a check without a name or passed");
        }
        vbt_verdict_add(v, n->valuestring, cJSON_IsNumber(val) ? val->valuedouble : NAN,
                        cJSON_IsNumber(th) ? th->valuedouble : NAN, cJSON_IsTrue(ps), "%s",
                        cJSON_IsString(rs) ? rs->valuestring : "");
    }
    v->point_estimate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "point_estimate"));
    const cJSON *tw = cJSON_GetObjectItemCaseSensitive(o, "trustworthy");
    if (cJSON_IsBool(tw) && !cJSON_IsTrue(tw))
        v->trustworthy = 0; /* never more trusting than the writer */
    cJSON_Delete(o);
    return VBT_OK;
}

double vbt_ppc_coverage(const double *y, const double *lo, const double *hi, size_t T,
                        size_t S, double *per_sensor)
{
    if (!T || !S)
        return NAN;
    size_t all = 0;
    for (size_t s = 0; s < S; s++) {
        size_t in = 0;
        for (size_t t = 0; t < T; t++) {
            size_t q = t * S + s;
            /* a NaN anywhere compares false: outside */
            in += (size_t)(y[q] >= lo[q] && y[q] <= hi[q]);
        }
        if (per_sensor)
            per_sensor[s] = (double)in / (double)T;
        all += in;
    }
    return (double)all / (double)(T * S);
}

/* Modes k and b agree: the same EZ set, every x0 within tol. */
static int modes_agree(const double *a, const double *b, size_t nr, double ez_x0, double tol)
{
    for (size_t r = 0; r < nr; r++)
        if ((a[r] >= ez_x0) != (b[r] >= ez_x0) || !(fabs(a[r] - b[r]) <= tol))
            return 0;
    return 1;
}

double vbt_map_mode_gap(const double *lp, const double *x0, size_t n, size_t n_regions,
                        double ez_x0, double x0_tol, size_t *disagree)
{
    size_t best = SIZE_MAX, other = SIZE_MAX;
    if (disagree)
        *disagree = SIZE_MAX;
    for (size_t k = 0; k < n; k++)
        if (isfinite(lp[k]) && (best == SIZE_MAX || lp[k] > lp[best]))
            best = k;
    if (best == SIZE_MAX)
        return NAN;
    for (size_t k = 0; k < n; k++) {
        if (k == best || !isfinite(lp[k]) ||
            modes_agree(x0 + best * n_regions, x0 + k * n_regions, n_regions, ez_x0, x0_tol))
            continue;
        if (other == SIZE_MAX || lp[k] > lp[other])
            other = k;
    }
    if (other == SIZE_MAX)
        return INFINITY;
    if (disagree)
        *disagree = other;
    return lp[best] - lp[other];
}
