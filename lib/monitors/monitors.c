/* monitors.c -- the monitor registry, and the raw, sub-sampling and
 * temporal-average monitors.  Sampling is anchored at the start of the run
 * (see vbt_sim.h); projections live in projection.c, BOLD in bold.c. */
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
static const vbt_monitor_type seeg_type = {
    .name = "seeg",
    .doc = "SEEG: sensors x regions gain (given, or point dipoles), optional bipolar montage; "
           "boxcar mean over ((k-1) period, k period], stamped at k period",
    .uses_period = 1,
    .averages = 1,
    .projects = 1,
};
static const vbt_monitor_type eeg_type = {
    .name = "eeg",
    .doc = "scalp EEG: sensors x regions gain (given, or dipoles with the sensors on a sphere), "
           "optional average or single-electrode reference; boxcar mean, stamped at k period",
    .uses_period = 1,
    .averages = 1,
    .projects = 1,
};

/* The Virtual Brain's FirstOrderVolterra kernel (Friston 2000). */
static const vbt_param_desc hrf_params[VBT__HRF_N] = {
    [VBT__HRF_TAU_S] = {"tau_s", 0.8, "s", 1e-6, 1e6, "signal decay time"},
    [VBT__HRF_TAU_F] = {"tau_f", 0.4, "s", 1e-6, 1e6, "feedback autoregulation time"},
    [VBT__HRF_K1] = {"k_1", 5.6, "", -1e9, 1e9, "BOLD coefficient k1"},
    [VBT__HRF_V0] = {"V_0", 0.02, "", -1e9, 1e9, "resting blood volume fraction"},
    [VBT__HRF_LENGTH] = {"hrf_length_ms", 20000.0, "ms", 4.0, 1e7, "kernel length"},
};
static const vbt_monitor_type bold_type = {
    .name = "bold",
    .doc = "BOLD as The Virtual Brain's Bold monitor: 4 ms interim means convolved with the "
           "FirstOrderVolterra HRF; default period 2000 ms",
    .uses_period = 1,
    .n_param = VBT__HRF_N,
    .params = hrf_params,
};

/* Balloon-Windkessel, TVB's analyzers/fmri_balloon defaults (seconds). */
static const vbt_param_desc bw_params[VBT__BW_N] = {
    [VBT__BW_TAU_S] = {"tau_s", 1.54, "s", 1e-6, 1e6, "signal decay time"},
    [VBT__BW_TAU_F] = {"tau_f", 1.44, "s", 1e-6, 1e6, "feedback autoregulation time"},
    [VBT__BW_TAU_O] = {"tau_o", 0.98, "s", 1e-6, 1e6, "haemodynamic transit time"},
    [VBT__BW_ALPHA] = {"alpha", 0.32, "", 1e-6, 1e6, "Grubb's vessel stiffness exponent"},
    [VBT__BW_TE] = {"TE", 0.04, "s", 0.0, 1e3, "echo time"},
    [VBT__BW_V0] = {"V0", 4.0, "", -1e9, 1e9, "resting blood volume fraction (x100)"},
    [VBT__BW_E0] = {"E0", 0.4, "", 1e-6, 1.0 - 1e-9, "resting oxygen extraction fraction"},
    [VBT__BW_EPSILON] = {"epsilon", 0.5, "", 0.0, 1e3, "intra/extravascular signal ratio"},
    [VBT__BW_NU0] = {"nu_0", 40.3, "Hz", 0.0, 1e6, "frequency offset at the outer surface"},
    [VBT__BW_R0] = {"r_0", 25.0, "Hz", 0.0, 1e6, "intravascular relaxation rate slope"},
    [VBT__BW_REVISED] = {"revised", 1.0, "", 0.0, 1.0,
                         "1: revised coefficients (Stephan 2007), 0: classical"},
    [VBT__BW_NONLINEAR] = {"nonlinear", 1.0, "", 0.0, 1.0,
                           "1: nonlinear BOLD equation, 0: linear"},
};
static const vbt_monitor_type bold_balloon_type = {
    .name = "bold_balloon",
    .doc = "BOLD from the Balloon-Windkessel ODEs (seconds), Heun's scheme at the 4 ms interim "
           "rate, driven by the interim mean; default period 2000 ms",
    .uses_period = 1,
    .n_param = VBT__BW_N,
    .params = bw_params,
};

const vbt_monitor_type *const vbt_monitor_raw = &raw_type;
const vbt_monitor_type *const vbt_monitor_subsample = &subsample_type;
const vbt_monitor_type *const vbt_monitor_temporal_average = &temporal_average_type;
const vbt_monitor_type *const vbt_monitor_seeg = &seeg_type;
const vbt_monitor_type *const vbt_monitor_eeg = &eeg_type;
const vbt_monitor_type *const vbt_monitor_bold = &bold_type;
const vbt_monitor_type *const vbt_monitor_bold_balloon = &bold_balloon_type;
const vbt_monitor_type *const vbt_monitor_types[] = {
    &raw_type, &subsample_type, &temporal_average_type, &seeg_type, &eeg_type, &bold_type,
    &bold_balloon_type, NULL,
};

const vbt_monitor_type *vbt_monitor_find(const char *name)
{
    for (size_t i = 0; name && vbt_monitor_types[i]; i++)
        if (strcmp(vbt_monitor_types[i]->name, name) == 0)
            return vbt_monitor_types[i];
    return NULL;
}

static int is_bold(const vbt_monitor_type *T)
{
    return T == &bold_type || T == &bold_balloon_type;
}

/* Defaults of the type's tunables, then the spec's values by name. */
static int set_params(vbt__monitor *mon, const vbt_monitor_spec *spec, vbt_msg *msg)
{
    const vbt_monitor_type *T = mon->type;
    for (size_t i = 0; i < T->n_param; i++)
        mon->par[i] = T->params[i].def;
    if (spec->n_params && (!spec->param_names || !spec->param_values))
        return vbt__fail(msg, VBT_EINVAL, "monitor '%s': %zu parameters announced, none given",
                         T->name, spec->n_params);
    for (size_t k = 0; k < spec->n_params; k++) {
        const char *name = spec->param_names[k];
        double v = spec->param_values[k];
        size_t i = 0;
        while (i < T->n_param && (!name || strcmp(T->params[i].name, name) != 0))
            i++;
        if (i == T->n_param)
            return vbt__fail(msg, VBT_ENOTFOUND, "monitor '%s': no parameter '%s'%s", T->name,
                             name ? name : "(null)",
                             T->n_param ? "" : " (this monitor has none)");
        if (!isfinite(v) || v < T->params[i].lo || v > T->params[i].hi)
            return vbt__fail(msg, VBT_EINVAL, "monitor '%s': parameter %s = %g outside [%g, %g]",
                             T->name, name, v, T->params[i].lo, T->params[i].hi);
        mon->par[i] = v;
    }
    return VBT_OK;
}

int vbt__monitor_init(vbt__monitor *mon, const vbt_monitor_spec *spec,
                      const vbt_model_type *m, size_t nr, size_t B, double dt,
                      const uint64_t *seed, const uint64_t *stream, vbt_msg *msg)
{
    const vbt_monitor_type *T = spec->type;
    if (!T)
        return vbt__fail(msg, VBT_EINVAL, "monitor: no type given");
    mon->type = T;
    mon->nr = nr;
    mon->B = B;
    mon->n = nr * B;
    mon->width = mon->n;
    mon->dt = dt;
    mon->istep = 1;
    mon->seed = seed;
    mon->stream = stream;
    const size_t n = mon->n;
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
    if (!spec->n_vars && (T->projects || is_bold(T)) && nv > 1)
        nv = 1;                 /* the model's first observed expression */
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
    int st = set_params(mon, spec, msg);
    if (st)
        return st;
    if (T->projects) {
        if ((st = vbt__projection_init(mon, spec, msg)))
            return st;
    } else if (spec->n_sensors || spec->gain || spec->bipolar || spec->obs_noise != 0.0 ||
               (spec->reference && *spec->reference)) {
        return vbt__fail(msg, VBT_EINVAL, "monitor '%s': sensors, gain, reference, bipolar "
                         "and obs_noise belong to the seeg and eeg monitors", T->name);
    }
    if (is_bold(T) && (st = vbt__bold_init(mon, msg)))
        return st;
    uint64_t bs = spec->buffer_steps ? spec->buffer_steps : 1;
    uint64_t cap = bs / mon->istep + 1;
    if (cap > (uint64_t)SIZE_MAX / (nv * mon->width * sizeof(double)))
        return vbt__fail(msg, VBT_ERANGE, "monitor '%s': buffer of %llu samples is too large",
                         T->name, (unsigned long long)cap);
    mon->cap = (size_t)cap;
    mon->data = malloc(mon->cap * nv * mon->width * sizeof *mon->data);
    mon->times = malloc(mon->cap * sizeof *mon->times);
    const int accumulates = T->averages || is_bold(T);
    if (accumulates)
        mon->acc = calloc(nv * n, sizeof *mon->acc);
    if (!mon->data || !mon->times || (accumulates && !mon->acc))
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
    free(mon->gain);
    free(mon->chan);
    free(mon->rng);
    free(mon->z);
    free(mon->kernel);
    free(mon->stock);
    free(mon->bw);
    memset(mon, 0, sizeof *mon);
}

void vbt__monitor_reset(vbt__monitor *mon)
{
    mon->count = 0;
    if (mon->acc)
        memset(mon->acc, 0, mon->n_vars * mon->n * sizeof *mon->acc);
    if (mon->rng)
        for (size_t b = 0; b < mon->B; b++)
            vbt_rng_init(&mon->rng[b], *mon->seed, ((uint64_t)1 << 62) + *mon->stream + b);
    if (is_bold(mon->type))
        vbt__bold_reset(mon);
}

uint64_t vbt__monitor_samples_between(const vbt__monitor *mon, uint64_t s0, uint64_t n_steps)
{
    return (s0 + n_steps) / mon->istep - s0 / mon->istep;
}

void vbt__monitor_accumulate(vbt__monitor *mon, const double *x)
{
    const size_t n = mon->n;
    for (size_t v = 0; v < mon->n_vars; v++) {
        const vbt_observable *o = &mon->obs[v];
        double *restrict a = mon->acc + v * n;
        for (size_t t = 0; t < o->n_terms; t++) {
            const double *restrict xv = x + o->var[t] * n;
            const double cf = o->coef[t];
            for (size_t k = 0; k < n; k++)
                a[k] += cf * xv[k];
        }
    }
}

void vbt__monitor_record(vbt__monitor *mon, uint64_t step, const double *x)
{
    const size_t n = mon->n, nv = mon->n_vars;
    const int due = step % mon->istep == 0;

    if (is_bold(mon->type)) {
        vbt__bold_record(mon, step, x);
        return;
    }
    if (mon->type->averages) {
        /* Accumulate every step; at the end of a window emit the mean. */
        vbt__monitor_accumulate(mon, x);
        if (!due)
            return;
        double *restrict out = mon->data + mon->count * nv * mon->width;
        const double inv = 1.0 / (double)mon->istep;
        for (size_t i = 0; i < nv * n; i++)
            mon->acc[i] *= inv;
        if (mon->type->projects) {
            vbt__projection_sample(mon, mon->acc, out);
            mon->times[mon->count++] = (double)step * mon->dt;
        } else {
            memcpy(out, mon->acc, nv * n * sizeof *out);
            mon->times[mon->count++] = ((double)step - 0.5 * (double)mon->istep) * mon->dt;
        }
        memset(mon->acc, 0, nv * n * sizeof *mon->acc);
        return;
    }
    if (!due)
        return;
    double *out = mon->data + mon->count * nv * n;
    for (size_t v = 0; v < nv; v++)
        vbt_observable_eval(&mon->obs[v], n, x, out + v * n);
    mon->times[mon->count++] = (double)step * mon->dt;
}
