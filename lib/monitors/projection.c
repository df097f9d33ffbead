/* projection.c -- SEEG and EEG monitors: a sensors x regions gain applied to
 * the window mean of a regional variable, with EEG re-referencing, the SEEG
 * bipolar montage and optional observation noise (formulas in vbt_sim.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gain_eeg.h"
#include "monitor.h"

/* Point dipoles in an infinite homogeneous medium (sigma = 1). */
static void dipole_gain(const double *sensors, size_t ns, const double *centres,
                        const double *orient, size_t nr, double *gain)
{
    const double min_d = VBT__GAIN_MIN_DIST_MM, four_pi = 4.0 * 3.14159265358979323846;
    for (size_t k = 0; k < ns; k++)
        for (size_t j = 0; j < nr; j++) {
            double d[3], d2 = 0.0, dot = 0.0;
            for (int a = 0; a < 3; a++) {
                d[a] = sensors[3 * k + a] - centres[3 * j + a];
                d2 += d[a] * d[a];
                dot += orient[3 * j + a] * d[a];
            }
            double r = sqrt(d2);
            if (r < min_d) {
                dot *= min_d / (r > 0.0 ? r : min_d);   /* the same direction, at min_d */
                r = min_d;
            }
            gain[k * nr + j] = dot / (four_pi * r * r * r);
        }
}

/* Electrode prefix length and contact number of a label ("TP12" -> 2, 12);
 * -1 when the label has no trailing number or is only digits. */
static long split_label(const char *label, size_t *plen)
{
    size_t n = strlen(label), k = n;
    while (k > 0 && isdigit((unsigned char)label[k - 1]))
        k--;
    *plen = n;
    if (k == n || k == 0 || n - k > 9)
        return -1;
    *plen = k;
    return strtol(label + k, NULL, 10);
}

int vbt__projection_init(vbt__monitor *mon, const vbt_monitor_spec *spec, vbt_msg *msg)
{
    const char *name = mon->type->name;
    const int eeg = mon->type == vbt_monitor_eeg;
    const size_t ns = spec->n_sensors, nr = mon->nr;
    double *g = NULL;
    int st;

    if (ns == 0 || !spec->sensor_labels)
        return vbt__fail(msg, VBT_EINVAL, "monitor '%s': no sensors (labels) given", name);
    for (size_t k = 0; k < ns; k++)
        if (!spec->sensor_labels[k] || !*spec->sensor_labels[k] ||
            strlen(spec->sensor_labels[k]) >= VBT_LABEL_MAX)
            return vbt__fail(msg, VBT_EINVAL, "monitor '%s': sensor %zu has no label or one "
                             "longer than %d bytes", name, k, VBT_LABEL_MAX - 1);
    if (eeg && spec->bipolar)
        return vbt__fail(msg, VBT_EINVAL, "monitor 'eeg': the bipolar montage is for seeg");
    if (!eeg && spec->reference && *spec->reference)
        return vbt__fail(msg, VBT_EINVAL, "monitor 'seeg': no reference (as TVB's iEEG); use "
                         "the bipolar montage");
    if (!(spec->obs_noise >= 0.0) || !isfinite(spec->obs_noise))
        return vbt__fail(msg, VBT_EINVAL, "monitor '%s': obs_noise must be >= 0, got %g", name,
                         spec->obs_noise);
    if (ns > SIZE_MAX / sizeof(double) / (nr ? nr : 1))
        return vbt__fail(msg, VBT_ERANGE, "monitor '%s': gain too large", name);
    g = malloc(ns * nr * sizeof *g);
    if (!g)
        goto nomem;
    if (spec->gain) {
        memcpy(g, spec->gain, ns * nr * sizeof *g);
    } else {
        if (!spec->sensor_pos_mm || !spec->centres_mm || (!eeg && !spec->orientations)) {
            free(g);
            return vbt__fail(msg, VBT_EINVAL, "monitor '%s': no gain given, and the analytic "
                             "gain needs sensor positions, region centres%s", name,
                             eeg ? "" : " and orientations");
        }
        if (eeg) {
            if ((st = vbt__gain_eeg(spec->sensor_pos_mm, ns, spec->centres_mm, spec->orientations,
                                    nr, VBT__GAIN_MIN_DIST_MM, g, msg))) {
                free(g);
                return st;
            }
        } else {
            dipole_gain(spec->sensor_pos_mm, ns, spec->centres_mm, spec->orientations, nr, g);
        }
    }
    /* Unusable sensors: a non-finite entry zeroes its row (TVB). */
    for (size_t k = 0; k < ns; k++) {
        int bad = 0;
        for (size_t j = 0; j < nr; j++)
            bad |= !isfinite(g[k * nr + j]);
        if (bad)
            memset(g + k * nr, 0, nr * sizeof *g);
    }

    size_t nch = ns;
    if (spec->bipolar) {
        /* Pairs overwrite g in place: pair p < sensor index of its first contact. */
        nch = 0;
        mon->chan = malloc(ns * sizeof *mon->chan);
        if (!mon->chan)
            goto nomem;
        for (size_t i = 0; i + 1 < ns; i++) {
            size_t la, lb;
            const char *a = spec->sensor_labels[i], *b = spec->sensor_labels[i + 1];
            long na = split_label(a, &la), nb = split_label(b, &lb);
            if (na < 0 || nb != na + 1 || la != lb || strncmp(a, b, la) != 0)
                continue;
            for (size_t j = 0; j < nr; j++)
                g[nch * nr + j] = g[i * nr + j] - g[(i + 1) * nr + j];
            snprintf(mon->chan[nch], VBT__CHANNEL_MAX, "%s-%s", a, b);
            nch++;
        }
        if (nch == 0) {
            free(g);
            return vbt__fail(msg, VBT_EINVAL, "monitor 'seeg': bipolar montage: no two "
                             "consecutive contacts of one electrode (A1, A2)");
        }
    } else {
        mon->chan = malloc(ns * sizeof *mon->chan);
        if (!mon->chan)
            goto nomem;
        for (size_t k = 0; k < ns; k++)
            snprintf(mon->chan[k], VBT__CHANNEL_MAX, "%s", spec->sensor_labels[k]);
        const char *ref = spec->reference;
        if (ref && strcmp(ref, "average") == 0) {
            for (size_t j = 0; j < nr; j++) {
                double mean = 0.0;
                for (size_t k = 0; k < ns; k++)
                    mean += g[k * nr + j];
                mean /= (double)ns;
                for (size_t k = 0; k < ns; k++)
                    g[k * nr + j] -= mean;
            }
        } else if (ref && *ref) {
            size_t r = 0;
            while (r < ns && strcmp(spec->sensor_labels[r], ref) != 0)
                r++;
            if (r == ns) {
                free(g);
                return vbt__fail(msg, VBT_ENOTFOUND, "monitor 'eeg': reference '%s' is neither "
                                 "\"average\" nor a sensor label", ref);
            }
            /* Subtract row r from every row, row r itself last. */
            for (size_t k = 0; k < ns; k++)
                if (k != r)
                    for (size_t j = 0; j < nr; j++)
                        g[k * nr + j] -= g[r * nr + j];
            memset(g + r * nr, 0, nr * sizeof *g);
        }
    }
    mon->gain = g;
    mon->n_ch = nch;
    mon->width = nch * mon->B;
    mon->obs_noise = spec->obs_noise;
    if (spec->obs_noise > 0.0) {
        mon->rng = calloc(mon->B, sizeof *mon->rng);
        mon->z = malloc(nch * sizeof *mon->z);
        if (!mon->rng || !mon->z)
            return vbt__fail(msg, VBT_ENOMEM, "monitor '%s': out of memory", name);
    }
    return VBT_OK;
nomem:
    free(g);
    return vbt__fail(msg, VBT_ENOMEM, "monitor '%s': out of memory", name);
}

void vbt__projection_sample(vbt__monitor *mon, const double *mean, double *out)
{
    const size_t nr = mon->nr, B = mon->B, nch = mon->n_ch, n = mon->n;
    for (size_t v = 0; v < mon->n_vars; v++) {
        const double *restrict m = mean + v * n;
        double *restrict o = out + v * mon->width;
        memset(o, 0, mon->width * sizeof *o);
        for (size_t c = 0; c < nch; c++) {
            const double *restrict gc = mon->gain + c * nr;
            double *restrict oc = o + c * B;
            for (size_t r = 0; r < nr; r++) {
                const double w = gc[r];
                const double *restrict mr = m + r * B;
                for (size_t b = 0; b < B; b++)
                    oc[b] += w * mr[b];
            }
        }
        if (!mon->rng)
            continue;
        for (size_t b = 0; b < B; b++) {
            vbt_rng_normal(&mon->rng[b], mon->z, nch);
            for (size_t c = 0; c < nch; c++)
                o[c * B + b] += mon->obs_noise * mon->z[c];
        }
    }
}
