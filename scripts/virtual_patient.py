# virtual_patient.py -- what scripts/make-sample-patient.sh and
# scripts/make-virtual-cohort.sh share when they build a virtual patient:
# the patient's connectome (the 84-region Desikan-Killiany atlas connectome,
# max-normalised, EZ -> PZ weights raised so that the PZ is recruited,
# optionally with individual variation), the `vbt simulate` configuration of
# the seizure (6-variable Epileptor, noise, conduction delays, SEEG through a
# gain matrix) and the seizure's onset and offset read from the simulated LFP
# proxy.  Standard library only (plumbing: zip, TSV, .npy header).
#
# Used as a module (import virtual_patient) or as a command:
#   python3 scripts/virtual_patient.py connectome SRC.zip OUT.zip EZ PZ [SIGMA SEED]
# with EZ, PZ comma-separated 0-based region indices.
import ast
import json
import math
import random
import struct
import sys
import zipfile

# Epileptor excitabilities of the ground truth (as the Bayesian VEP's synthetic patients).
X0_EZ, X0_PZ, X0_HZ = -1.6, -2.3, -3.5
# EZ -> PZ weight after max-normalisation.
W_EZ_PZ = 3.0


def read_weights(src_zip):
    z = zipfile.ZipFile(src_zip)
    W = [[float(v) for v in l.split()] for l in z.read('weights.txt').decode().splitlines()
         if l.strip()]
    return W


def region_labels(src_zip):
    """Region labels of a TVB connectome zip (centres.txt, first column), in order."""
    z = zipfile.ZipFile(src_zip)
    name = next(n for n in z.namelist() if n.startswith('centres'))
    rows = [l.split() for l in z.read(name).decode().splitlines() if l.strip()]
    return [r[0] for r in rows], [[float(v) for v in r[1:4]] for r in rows]


def patient_weights(W, ez, pz, sigma=0.0, seed=0):
    """Max-normalise, zero the diagonal; with sigma > 0 multiply every
    connection (i, j), i < j, and its mirror by exp(sigma g - sigma^2 / 2),
    g standard normal (log-normal individual variation with mean 1, the
    matrix stays symmetric, absent connections stay absent); then raise the
    EZ -> PZ weights (row p, column e) to W_EZ_PZ."""
    n = len(W)
    mx = max(max(r) for r in W)
    W = [[v / mx for v in r] for r in W]
    for i in range(n):
        W[i][i] = 0.0
    if sigma > 0:
        rng = random.Random(seed)
        for i in range(n):
            for j in range(i + 1, n):
                f = math.exp(sigma * rng.gauss(0.0, 1.0) - 0.5 * sigma * sigma)
                W[i][j] *= f
                W[j][i] *= f
    for p in pz:
        for e in ez:
            W[p][e] = max(W[p][e], W_EZ_PZ)
    return W


def write_connectome(src_zip, out_zip, W):
    """Copy src_zip to out_zip with weights.txt replaced by W (fixed zip dates:
    the same W gives the same bytes)."""
    z = zipfile.ZipFile(src_zip)
    o = zipfile.ZipFile(out_zip, 'w', zipfile.ZIP_DEFLATED)
    for name in z.namelist():
        data = z.read(name)
        if name == 'weights.txt':
            data = ("\n".join(" ".join("%.10g" % v for v in r) for r in W) + "\n").encode()
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        o.writestr(info, data)
    o.close()


def read_npy(path):
    """(shape, flat list of float64) of a little-endian float64 C-order .npy."""
    b = open(path, 'rb').read()
    hl = struct.unpack('<H', b[8:10])[0]
    shape = ast.literal_eval(b[10:10 + hl].decode())['shape']
    count = 1
    for s in shape:
        count *= s
    return shape, struct.unpack('<%dd' % count, b[10 + hl:10 + hl + 8 * count])


def onset_offset(lfp_npy, ez, ictal, fs_hz, quiet_s=0.5):
    """Onset: the first sample at which the LFP proxy (x2 - x1, [T][1][N]) of
    an EZ region drops below 0; offset: the first sample after the onset from
    which no region of `ictal` (EZ and PZ) is below 0 for quiet_s.  Seconds;
    None when there is no onset or no offset."""
    (T, V, N), d = read_npy(lfp_npy)
    k_on = next((k for k in range(T) for r in ez if d[k * N + r] < 0), None)
    if k_on is None:
        return None, None
    q = int(round(quiet_s * fs_hz))
    flag = [any(d[k * N + r] < 0 for r in ictal) for k in range(T)]
    k_off = next((k for k in range(k_on, T - q) if not any(flag[k:k + q])), None)
    return k_on / fs_hz, (None if k_off is None else k_off / fs_hz)


def seizure_config(description, connectome, ez_labels, pz_labels, sensors, gain_npy, seed,
                   duration_ms=10000, seeg_period_ms=2.0, lfp_period_ms=1.0, dt_ms=0.05):
    """`vbt simulate` configuration (JSON text): 6-variable Epileptor (Ks = -1,
    slow permittivity r = 1e-4, high initial z 4.2: one seizure after a
    baseline of a few seconds), difference coupling, stochastic Heun, 3 mm/ms
    conduction speed; x0 = X0_EZ / X0_PZ / X0_HZ; monitors 'lfp' (x2 - x1 per
    region) and 'seeg' (x2 - x1 through gain_npy)."""
    q = json.dumps
    return f"""{{"description": {q(description)},
 "connectome": {q(connectome)}, "normalize": "none", "speed_mm_per_ms": 3.0,
 "model": {{"name": "epileptor", "params": {{"Ks": -1.0, "r": 0.0001, "x0": {X0_HZ}}},
   "region_params": [{{"regions": {q(ez_labels)}, "x0": {X0_EZ}}},
                     {{"regions": {q(pz_labels)},
                      "x0": {X0_PZ}}}]}},
 "coupling": {{"name": "difference", "params": {{"a": 1.0}}}},
 "integrator": {{"scheme": "heun", "dt_ms": {dt_ms!r},
                "noise": {{"nsig": [0.01, 0.01, 0, 0.00015, 0.00015, 0]}}}},
 "initial": {{"constant": [-1.9, -17.0, 4.2, -1.0, 0.04, -0.17]}},
 "duration_ms": {duration_ms}, "seed": {seed},
 "monitors": [{{"kind": "temporal_average", "period_ms": {lfp_period_ms!r}, "variables": ["x2 - x1"], "name": "lfp"}},
              {{"kind": "seeg", "name": "seeg", "period_ms": {seeg_period_ms!r}, "variables": ["x2 - x1"],
               "sensors": {q(sensors)}, "gain_npy": {q(gain_npy)}}}]}}
"""


def _main(argv):
    if len(argv) >= 5 and argv[0] == 'connectome':
        src, out = argv[1], argv[2]
        ez = [int(v) for v in argv[3].split(',') if v]
        pz = [int(v) for v in argv[4].split(',') if v]
        sigma = float(argv[5]) if len(argv) > 5 else 0.0
        seed = int(argv[6]) if len(argv) > 6 else 0
        write_connectome(src, out, patient_weights(read_weights(src), ez, pz, sigma, seed))
        return 0
    sys.stderr.write(__doc__ if __doc__ else "usage: virtual_patient.py connectome SRC OUT EZ PZ\n")
    return 2


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
