#!/usr/bin/env python3
# Candidate verdict checks measured on a finished EZ benchmark run, without
# refitting (docs/validation.md, "Signals for the verdict"): for every
# patient of bench/validate-ez.sh's table, does each check fire, and does it
# fire more often on the wrong answers than on the right ones?
#
#   scripts/verdict-signals.py [--vbt BUILD/cli/vbt] WORK TAG
#
# WORK: bench/validate-ez.sh's folder (vc0, vc1, their -truth folders);
# TAG: the run to examine (WORK/TAG/validate-ez-all.tsv, the per-patient
# outputs under WORK/TAG/vc0 and vc1).  The EI of every recording is
# computed with `vbt seeg ei` into WORK/TAG/ei/ (kept; skipped when there).
# Channels are mapped to regions as the fit sees them (the region of
# largest |gain| in draws/gain_aligned.npy), never with the generator's
# truth, which is read only to score.  Prints, per check, the wrong and
# right answers it flags on the tuning and the held-out patients.
import argparse
import csv
import glob
import json
import os
import subprocess
import sys

import numpy as np


def read_ei(path):
    ei = {}
    with open(path) as f:
        for row in csv.DictReader(f, delimiter='\t'):
            ei[row['channel']] = float(row['ei'])
    return ei


def patient(work, tag, row, vbt):
    name = row['patient']
    sub, variant = (name[:-3], 'vc1') if name.endswith('/v1') else (name, 'vc0')
    runs = glob.glob(os.path.join(work, tag, variant, sub, 'ses-*'))
    if len(runs) != 1:
        raise SystemExit(f'verdict-signals: {name}: expected one run folder, found {len(runs)}')
    d = runs[0]
    res = json.load(open(os.path.join(d, 'results.json')))
    truth = json.load(open(os.path.join(work, variant + '-truth', sub + '.json')))
    with open(os.path.join(d, 'features', 'channels.tsv')) as f:
        ch = [r['name'] for r in csv.DictReader(f, delimiter='\t')]
    g = np.abs(np.load(os.path.join(d, 'draws', 'gain_aligned.npy')))
    if g.shape[0] != len(ch):
        raise SystemExit(f'verdict-signals: {name}: gain rows {g.shape[0]} != channels {len(ch)}')
    edf = glob.glob(os.path.join(work, variant, sub, 'ses-*', 'ieeg', '*_ieeg.edf'))
    eid = os.path.join(work, tag, 'ei', f'{variant}-{sub}')
    if not os.path.exists(os.path.join(eid, 'ei.tsv')):
        subprocess.run([vbt, 'seeg', 'ei', edf[0], '-o', eid, '--force', '-q'], check=True)
    ei = read_ei(os.path.join(eid, 'ei.tsv'))
    return dict(row=row, res=res, truth=truth, ch=ch, g=g, ei=ei)


def checks(p):
    g, n = p['g'], p['g'].shape[1]
    regs = p['res']['regions']
    pez = np.array([r['p_ez'] for r in regs], dtype=float)
    xm = np.array([r['x0_mean'] for r in regs], dtype=float)
    reg = np.argmax(g, axis=1)
    rei = np.zeros(n)
    for c, name in enumerate(p['ch']):
        rei[reg[c]] = max(rei[reg[c]], p['ei'].get(name, 0.0))
    obs = sorted(set(int(r) for r in reg))
    called = [i for i in obs if pez[i] >= 0.5]
    top = int(np.argmax(rei))
    unmoved = [i for i in obs if pez[i] < 0.1 and abs(xm[i] + 3.5) < 0.15]
    gn = g / (np.linalg.norm(g, axis=0) + 1e-300)
    cos = max([float(gn[:, c] @ gn[:, r]) for c in called for r in unmoved], default=0.0)
    near = any(regs[i]['x0_mean'] < -1.9 for i in called)
    no_onset = any(regs[i].get('onset_median') is None for i in called)
    c = {
        'the region of the highest-EI channel is not called EZ': pez[top] < 0.5,
        'a called EZ region has a regional EI < 0.3': any(rei[i] < 0.3 for i in called),
        'a region of EI >= 0.8 has P(EZ) < 0.1': any(rei[i] >= 0.8 and pez[i] < 0.1 for i in obs),
        'a called EZ and a region left at its prior: gain cosine >= 0.9': cos >= 0.9,
        'a called EZ and a region left at its prior: gain cosine >= 0.95': cos >= 0.95,
        'a called EZ region has posterior mean x0 < -1.9': near,
        'a called EZ region has no median onset': no_onset,
    }
    c['any of the three EI checks'] = any(list(c.values())[:3])
    ez = set(p['truth']['EZ']['regions'])
    ei_call = [i for i in obs if rei[i] >= 0.7]
    return c, (len([i for i in ei_call if i in ez]), len(ei_call), len([i for i in obs if i in ez]),
               top in ez)


def main():
    ap = argparse.ArgumentParser(description='candidate verdict checks on a finished EZ benchmark')
    ap.add_argument('--vbt', default=os.path.join(os.path.dirname(__file__), '..', 'build', 'cli',
                                                  'vbt'))
    ap.add_argument('work')
    ap.add_argument('tag')
    a = ap.parse_args()
    table = os.path.join(a.work, a.tag, 'validate-ez-all.tsv')
    try:
        rows = list(csv.DictReader(open(table), delimiter='\t'))
    except OSError as e:
        sys.exit(f'verdict-signals: {table}: {e.strerror}')
    pts = [patient(a.work, a.tag, r, a.vbt) for r in rows if r['status'] == 'ok']
    counts = {}
    tp = ncall = nez = top = 0
    for p in pts:
        c, (t, k, e, tp_top) = checks(p)
        tp, ncall, nez, top = tp + t, ncall + k, nez + e, top + tp_top
        wrong = p['row']['wrong'] == '1'
        for name, fired in c.items():
            v = counts.setdefault(name, {'tune': [0, 0, 0, 0], 'heldout': [0, 0, 0, 0]})
            s = v[p['row']['set']]
            s[0 if wrong else 2] += bool(fired)
            s[1 if wrong else 3] += 1
    print('check: the fit is flagged when ...\ttune: wrong flagged/wrong, right flagged/right'
          '\theld out: the same')
    for name, v in counts.items():
        t, h = v['tune'], v['heldout']
        print(f'{name}\t{t[0]}/{t[1]}, {t[2]}/{t[3]}\t{h[0]}/{h[1]}, {h[2]}/{h[3]}')
    print(f'EI alone (regional EI >= 0.7 called EZ), pooled over {len(pts)} patients: precision '
          f'{tp / max(ncall, 1):.2f}, recall {tp / max(nez, 1):.2f}; the highest-EI channel\'s '
          f'region truly EZ in {top} of {len(pts)}')


if __name__ == '__main__':
    main()
