/* gain_eeg.c -- the analytic scalp-EEG gain: dipoles seen from sensors moved
 * onto a sphere around the regions (TVB's EEG monitor).  It lives in lib/
 * because the eeg monitor computes it when no gain is given; vbt_gain_eeg()
 * (connectomes/) is the public entry. */
#include <math.h>
#include <string.h>

#include "gain_eeg.h"

#define FOUR_PI (4.0 * 3.14159265358979323846)

static int check_finite(const double *a, size_t n, const char *what, vbt_msg *msg)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return vbt__fail(msg, VBT_ENUMERIC, "gain: %s row %zu is not finite", what,
                             i / 3 + 1);
    return VBT_OK;
}

int vbt__gain_eeg(const double *sensors, size_t ns, const double *centres,
                  const double *orientations, size_t nr, double min_dist_mm, double *gain,
                  vbt_msg *msg)
{
    if (!sensors || !gain || ns == 0 || nr == 0)
        return vbt__fail(msg, VBT_EINVAL, "gain: no sensors or no regions");
    if (!(min_dist_mm > 0) || !isfinite(min_dist_mm))
        return vbt__fail(msg, VBT_EINVAL, "gain: minimum distance must be > 0 mm, got %g",
                         min_dist_mm);
    int rc = check_finite(sensors, 3 * ns, "sensor", msg);
    if (rc || (rc = check_finite(centres, 3 * nr, "region centre", msg)) ||
        (orientations && (rc = check_finite(orientations, 3 * nr, "orientation", msg))))
        return rc;
    double c[3] = {0, 0, 0}, R = 0;
    for (size_t r = 0; r < nr; r++)
        for (int d = 0; d < 3; d++)
            c[d] += centres[3 * r + d] / (double)nr;
    for (size_t r = 0; r < nr; r++) {
        double dx = centres[3 * r] - c[0], dy = centres[3 * r + 1] - c[1],
               dz = centres[3 * r + 2] - c[2];
        R = fmax(R, sqrt(dx * dx + dy * dy + dz * dz));
    }
    R *= VBT__GAIN_EEG_RADIUS_FACTOR;
    for (size_t s = 0; s < ns; s++) {
        const double *q = sensors + 3 * s;
        double len = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
        if (!(len > 0))
            return vbt__fail(msg, VBT_EINVAL, "gain: EEG sensor %zu is at the origin and has "
                             "no direction", s + 1);
        double sp[3] = {R * q[0] / len + c[0], R * q[1] / len + c[1], R * q[2] / len + c[2]};
        for (size_t r = 0; r < nr; r++) {
            const double *x = centres + 3 * r;
            double o[3];
            if (orientations) {
                memcpy(o, orientations + 3 * r, sizeof o);
            } else {
                double rad[3] = {x[0] - c[0], x[1] - c[1], x[2] - c[2]};
                double rl = sqrt(rad[0] * rad[0] + rad[1] * rad[1] + rad[2] * rad[2]);
                for (int d = 0; d < 3; d++)
                    o[d] = rl > 0 ? rad[d] / rl : 0.0;
            }
            double d[3] = {sp[0] - x[0], sp[1] - x[1], sp[2] - x[2]};
            double dist = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            if (dist < min_dist_mm)
                dist = min_dist_mm;
            gain[s * nr + r] = (o[0] * d[0] + o[1] * d[1] + o[2] * d[2]) /
                               (FOUR_PI * dist * dist * dist);
        }
    }
    return VBT_OK;
}
