/* bold.c -- BOLD monitors: The Virtual Brain's HRF-kernel Bold monitor and
 * the Balloon-Windkessel model, both fed with 4 ms interim means of the
 * observed variable (formulas in vbt_sim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

#define INTERIM_MS 4.0          /* TVB's stock period: 2^-2 samples per ms */

int vbt__bold_init(vbt__monitor *mon, vbt_msg *msg)
{
    const size_t nvn = mon->n_vars * mon->n;
    double ni = nearbyint(INTERIM_MS / mon->dt);
    mon->ni = ni < 1.0 ? 1 : (uint64_t)ni;
    if (mon->type == vbt_monitor_bold_balloon) {
        mon->bw = malloc(4 * nvn * sizeof *mon->bw);
        if (!mon->bw)
            return vbt__fail(msg, VBT_ENOMEM, "monitor 'bold_balloon': out of memory");
        return VBT_OK;
    }
    const double *p = mon->par;
    const double tau_s = p[VBT__HRF_TAU_S], tau_f = p[VBT__HRF_TAU_F];
    const double w2 = 1.0 / tau_f - 1.0 / (4.0 * tau_s * tau_s);
    if (!(w2 > 0.0))
        return vbt__fail(msg, VBT_EINVAL, "monitor 'bold': the kernel needs 1/tau_f > "
                         "1/(4 tau_s^2), got tau_s = %g s, tau_f = %g s", tau_s, tau_f);
    const double len_ms = p[VBT__HRF_LENGTH];
    mon->ns = (size_t)ceil(len_ms / INTERIM_MS);
    if (mon->ns > SIZE_MAX / sizeof(double) / (nvn ? nvn : 1))
        return vbt__fail(msg, VBT_ERANGE, "monitor 'bold': stock too large");
    mon->kernel = malloc(mon->ns * sizeof *mon->kernel);
    mon->stock = malloc(mon->ns * nvn * sizeof *mon->stock);
    if (!mon->kernel || !mon->stock)
        return vbt__fail(msg, VBT_ENOMEM, "monitor 'bold': out of memory");
    const double w = sqrt(w2), h = len_ms / 1000.0 / (double)mon->ns;
    for (size_t k = 0; k < mon->ns; k++) {
        const double t = (double)k * h;
        mon->kernel[k] = 1.0 / 3.0 * exp(-0.5 * t / tau_s) * sin(w * t) / w;
    }
    return VBT_OK;
}

void vbt__bold_reset(vbt__monitor *mon)
{
    const size_t nvn = mon->n_vars * mon->n;
    if (mon->stock)
        memset(mon->stock, 0, mon->ns * nvn * sizeof *mon->stock);
    if (mon->bw) {
        /* rest: s = 0, f = v = q = 1 */
        for (size_t i = 0; i < nvn; i++) {
            mon->bw[i] = 0.0;
            mon->bw[nvn + i] = mon->bw[2 * nvn + i] = mon->bw[3 * nvn + i] = 1.0;
        }
    }
}

/* Balloon-Windkessel right-hand side (per second) for one lane. */
static void bw_rhs(const double *p, double u, const double y[4], double d[4])
{
    const double s = y[0], f = y[1], v = y[2], q = y[3];
    const double E0 = p[VBT__BW_E0], tau_o = p[VBT__BW_TAU_O];
    const double va = pow(v, 1.0 / p[VBT__BW_ALPHA]);
    d[0] = u - s / p[VBT__BW_TAU_S] - (f - 1.0) / p[VBT__BW_TAU_F];
    d[1] = s;
    d[2] = (f - va) / tau_o;
    d[3] = (f * (1.0 - pow(1.0 - E0, 1.0 / f)) / E0 - va * q / v) / tau_o;
}

/* One Heun step of every lane with the interim means u held fixed. */
static void bw_step(vbt__monitor *mon, const double *u)
{
    const size_t nvn = mon->n_vars * mon->n;
    const double h = (double)mon->ni * mon->dt / 1000.0;     /* s */
    double *bw = mon->bw;
    for (size_t i = 0; i < nvn; i++) {
        double y[4] = {bw[i], bw[nvn + i], bw[2 * nvn + i], bw[3 * nvn + i]}, d1[4], d2[4],
               yp[4];
        bw_rhs(mon->par, u[i], y, d1);
        for (int k = 0; k < 4; k++)
            yp[k] = y[k] + h * d1[k];
        bw_rhs(mon->par, u[i], yp, d2);
        for (int k = 0; k < 4; k++)
            bw[k * nvn + i] = y[k] + 0.5 * h * (d1[k] + d2[k]);
    }
}

static void bw_bold(const vbt__monitor *mon, double *out)
{
    const size_t nvn = mon->n_vars * mon->n;
    const double *p = mon->par, *bw = mon->bw;
    const double E0 = p[VBT__BW_E0], TE = p[VBT__BW_TE], eps = p[VBT__BW_EPSILON];
    double k1, k2, k3;
    if (p[VBT__BW_REVISED] >= 0.5) {
        k1 = 4.3 * p[VBT__BW_NU0] * E0 * TE;
        k2 = eps * p[VBT__BW_R0] * E0 * TE;
        k3 = 1.0 - eps;
    } else {
        k1 = 7.0 * E0;
        k2 = 2.0 * E0;
        k3 = 1.0 - eps;
    }
    const double V0 = p[VBT__BW_V0];
    const int nonlinear = p[VBT__BW_NONLINEAR] >= 0.5;
    for (size_t i = 0; i < nvn; i++) {
        const double v = bw[2 * nvn + i], q = bw[3 * nvn + i];
        out[i] = nonlinear ? V0 * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))
                           : V0 * ((k1 + k2) * (1.0 - q) + (k3 - k2) * (1.0 - v));
    }
}

void vbt__bold_record(vbt__monitor *mon, uint64_t step, const double *x)
{
    const size_t nvn = mon->n_vars * mon->n, ns = mon->ns;
    vbt__monitor_accumulate(mon, x);
    if (step % mon->ni == 0) {
        const double inv = 1.0 / (double)mon->ni;
        for (size_t i = 0; i < nvn; i++)
            mon->acc[i] *= inv;
        if (mon->bw) {
            bw_step(mon, mon->acc);
        } else {
            /* TVB: stock[((step // ni) % Ns) - 1] = mean(interim) */
            const size_t slot = (size_t)((step / mon->ni + ns - 1) % ns);
            memcpy(mon->stock + slot * nvn, mon->acc, nvn * sizeof *mon->acc);
        }
        memset(mon->acc, 0, nvn * sizeof *mon->acc);
    }
    if (step % mon->istep != 0)
        return;
    double *restrict out = mon->data + mon->count * nvn;
    if (mon->bw) {
        bw_bold(mon, out);
    } else {
        /* Newest slot r = (j mod Ns) - 1 gets G[Ns-1], slot r-1 gets G[0]:
         * stock[(r - 1 - m) mod Ns] is weighted by G[m]. */
        const double k1V0 = mon->par[VBT__HRF_K1] * mon->par[VBT__HRF_V0];
        const uint64_t j = step / mon->ni;
        size_t idx = (size_t)((j % ns + 2 * ns - 2) % ns);      /* (r - 1) mod Ns */
        memset(out, 0, nvn * sizeof *out);
        for (size_t m = 0; m < ns; m++) {
            const double g = mon->kernel[m];
            const double *restrict st = mon->stock + idx * nvn;
            for (size_t i = 0; i < nvn; i++)
                out[i] += g * st[i];
            idx = idx ? idx - 1 : ns - 1;
        }
        for (size_t i = 0; i < nvn; i++)
            out[i] = (out[i] - 1.0) * k1V0;
    }
    mon->times[mon->count++] = (double)step * mon->dt;
}
