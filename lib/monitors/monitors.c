/* monitors.c -- raw, sub-sampling and temporal-average monitors.  Sampling
 * is anchored at the start of the run (see vbt_sim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

static const vbt_monitor_type raw_type = {
    .name = "raw",
    .doc = "every step: sample i is the state after step i+1, at t = (i+1) dt",
    .uses_period = 0,
    .averages = 0,
};
static const vbt_monitor_type subsample_type = {
    .name = "subsample",
    .doc = "the instantaneous value at t = k * period, k = 1, 2, ...",
    .uses_period = 1,
    .averages = 0,
};
static const vbt_monitor_type temporal_average_type = {
    .name = "temporal_average",
    .doc = "mean of the period/dt states in ((k-1) period, k period], stamped at (k - 1/2) period",
    .uses_period = 1,
    .averages = 1,
};

const vbt_monitor_type *const vbt_monitor_raw = &raw_type;
const vbt_monitor_type *const vbt_monitor_subsample = &subsample_type;
const vbt_monitor_type *const vbt_monitor_temporal_average = &temporal_average_type;
const vbt_monitor_type *const vbt_monitor_types[] = {
    &raw_type, &subsample_type, &temporal_average_type, NULL,
};

const vbt_monitor_type *vbt_monitor_find(const char *name)
{
    for (size_t i = 0; name && vbt_monitor_types[i]; i++)
        if (strcmp(vbt_monitor_types[i]->name, name) == 0)
            return vbt_monitor_types[i];
    return NULL;
}

int vbt__monitor_init(vbt__monitor *mon, const vbt_monitor_spec *spec,
                      const vbt_model_type *m, size_t n, double dt, vbt_msg *msg)
{
    const vbt_monitor_type *T = spec->type;
    if (!T)
        return vbt__fail(msg, VBT_EINVAL, "monitor: no type given");
    mon->type = T;
    mon->n = n;
    mon->dt = dt;
    mon->istep = 1;
    if (T->uses_period) {
        double ratio = spec->period_ms / dt;
        if (!(spec->period_ms > 0.0) || !isfinite(ratio))
            return vbt__fail(msg, VBT_EINVAL, "monitor '%s': period_ms must be > 0, got %g",
                             T->name, spec->period_ms);
        double r = nearbyint(ratio);
        if (r < 1.0 || fabs(ratio - r) > 1e-6 * r || r > 1e12)
            return vbt__fail(msg, VBT_EINVAL,
                             "monitor '%s': period %g ms is not a whole multiple of dt = %g ms",
                             T->name, spec->period_ms, dt);
        mon->istep = (uint64_t)r;
    }
    if (spec->n_vars && !spec->vars)
        return vbt__fail(msg, VBT_EINVAL, "monitor '%s': %zu variables announced, none given",
                         T->name, spec->n_vars);
    size_t nv = spec->n_vars ? spec->n_vars : m->n_observed;
    if (nv == 0)
        return vbt__fail(msg, VBT_EINVAL, "monitor '%s': no variables", T->name);
    mon->n_vars = nv;
    mon->obs = calloc(nv, sizeof *mon->obs);
    if (!mon->obs)
        goto nomem;
    for (size_t v = 0; v < nv; v++) {
        const char *e = spec->n_vars ? spec->vars[v] : m->observed[v];
        vbt_msg why;
        int st = vbt_observable_parse(m, e, &mon->obs[v], &why);
        if (st)
            return vbt__fail(msg, st, "monitor '%s': %s", T->name, why.text);
    }
    uint64_t bs = spec->buffer_steps ? spec->buffer_steps : 1;
    uint64_t cap = bs / mon->istep + 1;
    if (cap > (uint64_t)SIZE_MAX / (nv * n * sizeof(double)))
        return vbt__fail(msg, VBT_ERANGE, "monitor '%s': buffer of %llu samples is too large",
                         T->name, (unsigned long long)cap);
    mon->cap = (size_t)cap;
    mon->data = malloc(mon->cap * nv * n * sizeof *mon->data);
    mon->times = malloc(mon->cap * sizeof *mon->times);
    if (T->averages)
        mon->acc = calloc(nv * n, sizeof *mon->acc);
    if (!mon->data || !mon->times || (T->averages && !mon->acc))
        goto nomem;
    return VBT_OK;
nomem:
    return vbt__fail(msg, VBT_ENOMEM, "monitor '%s': out of memory", T->name);
}

void vbt__monitor_destroy(vbt__monitor *mon)
{
    free(mon->obs);
    free(mon->acc);
    free(mon->data);
    free(mon->times);
    memset(mon, 0, sizeof *mon);
}

void vbt__monitor_reset(vbt__monitor *mon)
{
    mon->count = 0;
    if (mon->acc)
        memset(mon->acc, 0, mon->n_vars * mon->n * sizeof *mon->acc);
}

uint64_t vbt__monitor_samples_between(const vbt__monitor *mon, uint64_t s0, uint64_t n_steps)
{
    return (s0 + n_steps) / mon->istep - s0 / mon->istep;
}

void vbt__monitor_record(vbt__monitor *mon, uint64_t step, const double *x)
{
    const size_t n = mon->n, nv = mon->n_vars;
    const int due = step % mon->istep == 0;

    if (mon->type->averages) {
        /* Accumulate every step; at the end of a window emit the mean. */
        for (size_t v = 0; v < nv; v++) {
            const vbt_observable *o = &mon->obs[v];
            double *restrict a = mon->acc + v * n;
            for (size_t t = 0; t < o->n_terms; t++) {
                const double *restrict xv = x + o->var[t] * n;
                const double cf = o->coef[t];
                for (size_t k = 0; k < n; k++)
                    a[k] += cf * xv[k];
            }
        }
        if (!due)
            return;
        double *restrict out = mon->data + mon->count * nv * n;
        const double inv = 1.0 / (double)mon->istep;
        for (size_t i = 0; i < nv * n; i++) {
            out[i] = mon->acc[i] * inv;
            mon->acc[i] = 0.0;
        }
        mon->times[mon->count++] = ((double)step - 0.5 * (double)mon->istep) * mon->dt;
        return;
    }
    if (!due)
        return;
    double *out = mon->data + mon->count * nv * n;
    for (size_t v = 0; v < nv; v++)
        vbt_observable_eval(&mon->obs[v], n, x, out + v * n);
    mon->times[mon->count++] = (double)step * mon->dt;
}
