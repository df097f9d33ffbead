#!/usr/bin/env python3
# Score `vbt cohort run` on a virtual cohort against its ground truth
# (scripts/make-virtual-cohort.sh), as the EZ validation benchmark does
# (bench/validate-ez.sh, docs/validation.md).
#
#   scripts/score-virtual-cohort.py [--cpu CPU.tsv] [--out PREFIX] [--split SPLIT.tsv]
#                                   RESULTS TRUTH [RESULTS TRUTH ...]
#
# RESULTS: a `vbt cohort run` output folder; TRUTH: the generator's truth
# folder (sub-ID.json) of the same dataset.  Several pairs pool several
# datasets (the cohort and its held-out variants); a patient is named
# "sub-ID" for the first pair and "sub-ID/vK" (K = the truth's variant) for
# the others.
#
# Every metric is over the regions a contact lies in (the generator's
# localisation, TRUTH contact_regions): an EZ no contact sees is neither
# counted nor findable.
# * A region is called EZ when P(EZ) > 0.5 (results.json regions p_ez).
# * precision, recall, F1: pooled over every patient's regions (micro
#   average); per-patient F1 median and quartiles beside them (a patient
#   calling nothing has precision n/a and F1 0).
# * Brier score: mean over regions of (P(EZ) - [region is EZ])^2.
# * reliability: regions with P(EZ) >= 0.8, the fraction truly EZ; and ten
#   bins of P(EZ) ([0, 0.1), ..., [0.9, 1]) with their mean P(EZ), fraction
#   EZ and count; the largest |fraction - mean P| over bins with >= 10
#   regions is "max_reliability_gap" (the goal: <= 0.1).
# * confident errors of a patient: a healthy region (the truth's HZ:
#   neither EZ nor PZ) at P(EZ) > 0.9, or a true EZ at P(EZ) < 0.1.  A PZ
#   region at P(EZ) > 0.9 is counted apart (pz_called_ez).
# * wrong answer: a patient with a confident error or F1 < 0.5 (and the
#   right answers the verdict flags too: its false alarms); flagged when
#   the fit's verdict says not trustworthy (results.json "verdict"
#   .trustworthy, else fit/summary.json "verdict" .trustworthy, else its
#   "diagnostics_passed").
# * where the errors come from (the "errors" line): each false EZ call is
#   a PZ region (recruited in the truth), a healthy region on an electrode
#   that also has a contact in a true EZ region ("next to EZ"; electrode =
#   the channel name without its trailing contact number), or a healthy
#   region elsewhere; each missed EZ either kept its prior (posterior mean
#   x0 within one prior sd of the prior mean, prior.json of the run: the
#   data did not move it) or moved without crossing the EZ threshold; and
#   "a called EZ on its electrode" says whether another region on the
#   same electrode was called EZ instead.
# * CPU seconds per patient: from --cpu (subject, variant, cpu_s rows, as
#   bench/validate-ez.sh measures them) when given.
# --split marks each subject tune or heldout (subject, set rows); the table
# is printed for all patients and for each set; --only tune|heldout scores
# that set alone (tuning never sees a held-out figure).  --out PREFIX writes
# PREFIX.tsv (one row per patient) and PREFIX.json (the summaries).
# Standard library only.
import glob
import json
import math
import re
import os
import statistics
import sys

P_EZ = 0.5
P_CONF_HI, P_CONF_LO = 0.9, 0.1
P_RELIABLE = 0.8
ERROR_KINDS = ('fp_pz', 'fp_next_to_ez', 'fp_elsewhere', 'fn_at_prior', 'fn_moved',
               'fn_neighbour_called')


def quartiles(v):
    v = sorted(v)
    if not v:
        return float('nan'), float('nan'), float('nan')
    if len(v) == 1:
        return v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4, method='inclusive')
    return q[0], statistics.median(v), q[2]


def verdict_of(res_json, run_dir):
    v = res_json.get('verdict')
    if isinstance(v, dict) and 'trustworthy' in v:
        return bool(v['trustworthy'])
    summ = os.path.join(run_dir, 'fit', 'summary.json')
    if os.path.exists(summ):
        s = json.load(open(summ))
        v = s.get('verdict')
        if isinstance(v, dict) and 'trustworthy' in v:
            return bool(v['trustworthy'])
        if 'diagnostics_passed' in s:
            return bool(s['diagnostics_passed'])
    return None


def electrode(channel):
    """The electrode of a contact: its name without the trailing contact
    number and separators ('LAF14-3' -> 'LAF14', 'RA01' -> 'RA')."""
    e = re.sub(r'[-_ ]*[0-9]+$', '', channel)
    return e or channel


def x0_prior(run_dir):
    """(mu, sd) of the x0 prior the fit used (prior.json beside results.json)."""
    try:
        x = json.load(open(os.path.join(run_dir, 'prior.json')))['x0']
        return float(x['mu']), float(x['sd'])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def error_kinds(r, t, observed, p_ez, ez, pz, run_dir):
    """Counts of the kinds of false calls and misses (see the header)."""
    by_elec = {}
    for ch, reg in t['contact_regions'].items():
        if reg:
            by_elec.setdefault(electrode(ch), set()).add(reg)
    near = {}
    for regs in by_elec.values():
        for a in regs:
            near.setdefault(a, set()).update(regs - {a})
    x0m = {g['label']: g.get('x0_mean') for g in r['regions']}
    prior = x0_prior(run_dir)
    k = {'fp_pz': 0, 'fp_next_to_ez': 0, 'fp_elsewhere': 0, 'fn_at_prior': 0, 'fn_moved': 0,
         'fn_neighbour_called': 0}
    for lab in observed:
        called = p_ez.get(lab, 0.0) > P_EZ
        if called and lab not in ez:
            k['fp_pz' if lab in pz else
              'fp_next_to_ez' if near.get(lab, set()) & ez else 'fp_elsewhere'] += 1
        elif not called and lab in ez:
            m = x0m.get(lab)
            at_prior = prior is not None and m is not None and abs(m - prior[0]) < prior[1]
            k['fn_at_prior' if at_prior else 'fn_moved'] += 1
            k['fn_neighbour_called'] += any(p_ez.get(b, 0.0) > P_EZ for b in near.get(lab, ()))
    return k


def score_patient(res_dir, t):
    """One patient's row (dict) and its (p, is_ez) pairs; row status 'failed'
    when the cohort run has no result for it."""
    sub = t['subject']
    row = {'subject': sub, 'variant': t.get('variant', 0), 'status': 'failed'}
    sj = os.path.join(res_dir, sub, 'subject.json')
    found = sorted(glob.glob(os.path.join(res_dir, sub, '*', 'results.json')))
    if json.load(open(sj)).get('status') != 'done' or not found:
        row['reason'] = json.load(open(sj)).get('reason', 'no results.json')
        return row, []
    r = json.load(open(found[0]))
    p_ez = {g['label']: float(g.get('p_ez', 0) or 0) for g in r['regions']}
    observed = sorted({v for v in t['contact_regions'].values() if v})
    ez, pz = set(t['EZ']['labels']), set(t['PZ']['labels'])
    pairs = []
    tp = fp = fn = conf_hz = conf_ez = pz_hi = 0
    for lab in observed:
        p = p_ez.get(lab, 0.0)
        is_ez = lab in ez
        pairs.append((p, is_ez))
        called = p > P_EZ
        tp += called and is_ez
        fp += called and not is_ez
        fn += (not called) and is_ez
        conf_hz += p > P_CONF_HI and lab not in ez and lab not in pz
        conf_ez += p < P_CONF_LO and is_ez
        pz_hi += p > P_CONF_HI and lab in pz
    prec = tp / (tp + fp) if tp + fp else float('nan')
    rec = tp / (tp + fn) if tp + fn else float('nan')
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float('nan')
    trust = verdict_of(r, os.path.dirname(found[0]))
    kinds = error_kinds(r, t, observed, p_ez, ez, pz, os.path.dirname(found[0]))
    conf = conf_hz + conf_ez
    wrong = conf > 0 or not (f1 >= 0.5)
    row.update({'status': 'ok', 'n_observed': len(observed), 'n_ez_observed': tp + fn,
                'tp': tp, 'fp': fp, 'fn': fn, 'precision': prec, 'recall': rec, 'f1': f1,
                'brier': sum((p - e) ** 2 for p, e in pairs) / len(pairs) if pairs else
                float('nan'),
                'confident_healthy': conf_hz, 'confident_missed_ez': conf_ez,
                'pz_called_ez': pz_hi, 'confident_errors': conf, 'wrong': int(wrong),
                'trustworthy': trust})
    row.update(kinds)
    return row, pairs


def summarise(rows, pairs, cpu):
    ok = [r for r in rows if r['status'] == 'ok']
    tp = sum(r['tp'] for r in ok)
    fp = sum(r['fp'] for r in ok)
    fn = sum(r['fn'] for r in ok)
    bins = []
    for b in range(10):
        lo, hi = b / 10, (b + 1) / 10
        sel = [(p, e) for p, e in pairs if lo <= p < hi or (b == 9 and p == 1.0)]
        bins.append({'lo': lo, 'hi': hi, 'n': len(sel),
                     'mean_p': sum(p for p, _ in sel) / len(sel) if sel else None,
                     'frac_ez': sum(e for _, e in sel) / len(sel) if sel else None})
    gaps = [abs(b['frac_ez'] - b['mean_p']) for b in bins if b['n'] >= 10]
    hi = [e for p, e in pairs if p >= P_RELIABLE]
    f1s = [r['f1'] if r['f1'] == r['f1'] else 0.0 for r in ok]
    q1, med, q3 = quartiles(f1s)
    wrong = [r for r in ok if r['wrong']]
    known = [r for r in wrong if r['trustworthy'] is not None]
    cpus = [cpu[(r['subject'], r['variant'])] for r in rows if (r['subject'], r['variant'])
            in cpu]
    return {
        'patients': len(rows), 'scored': len(ok), 'failed': len(rows) - len(ok),
        'regions': len(pairs),
        'precision': tp / (tp + fp) if tp + fp else float('nan'),
        'recall': tp / (tp + fn) if tp + fn else float('nan'),
        'f1': 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float('nan'),
        'f1_median': med, 'f1_q1': q1, 'f1_q3': q3,
        'brier': sum((p - e) ** 2 for p, e in pairs) / len(pairs) if pairs else float('nan'),
        'n_p_ge_0.8': len(hi), 'reliability_at_0.8': sum(hi) / len(hi) if hi else float('nan'),
        'max_reliability_gap': max(gaps) if gaps else float('nan'),
        'bins': bins,
        'patients_with_confident_error': sum(r['confident_errors'] > 0 for r in ok),
        'frac_without_confident_error':
            sum(r['confident_errors'] == 0 for r in ok) / len(ok) if ok else float('nan'),
        'confident_errors': sum(r['confident_errors'] for r in ok),
        'pz_called_ez': sum(r['pz_called_ez'] for r in ok),
        'wrong': len(wrong), 'wrong_flagged': sum(r['trustworthy'] is False for r in known),
        'wrong_with_verdict': len(known),
        'verdict_failed': sum(r['trustworthy'] is False for r in ok),
        'right_flagged': sum(r['trustworthy'] is False for r in ok if not r['wrong']),
        'right': sum(not r['wrong'] for r in ok),
        'errors': {k: sum(r[k] for r in ok) for k in ERROR_KINDS},
        'cpu_s_mean': sum(cpus) / len(cpus) if cpus else float('nan'),
        'cpu_s_max': max(cpus) if cpus else float('nan'),
    }


def fmt(v, d=3):
    if v is None or (isinstance(v, float) and v != v):
        return 'n/a'
    return ('%.' + str(d) + 'f') % v if isinstance(v, float) else str(v)


def print_table(name, s):
    print('%-8s %4d pts (%d failed)  P %s  R %s  F1 %s (median %s [%s, %s])  Brier %s  '
          'P>=0.8: %s of %d EZ (max bin gap %s)  conf.err %d pts (%.0f%% clean)  '
          'PZ>0.9 %d  wrong %d, flagged %d of %d (right answers flagged %d of %d)  '
          'CPU %s s (max %s)'
          % (name, s['patients'], s['failed'], fmt(s['precision']), fmt(s['recall']),
             fmt(s['f1']), fmt(s['f1_median']), fmt(s['f1_q1']), fmt(s['f1_q3']),
             fmt(s['brier'], 4), fmt(s['reliability_at_0.8']), s['n_p_ge_0.8'],
             fmt(s['max_reliability_gap']), s['patients_with_confident_error'],
             100 * s['frac_without_confident_error'] if s['scored'] else float('nan'),
             s['pz_called_ez'], s['wrong'], s['wrong_flagged'], s['wrong_with_verdict'],
             s['right_flagged'], s['right'], fmt(s['cpu_s_mean'], 1), fmt(s['cpu_s_max'], 1)))


def main(argv):
    cpu_path = out = split_path = None
    only = 'all'
    pos = []
    i = 0
    while i < len(argv):
        if argv[i] in ('--cpu', '--out', '--split', '--only') and i + 1 < len(argv):
            if argv[i] == '--only':
                only = argv[i + 1]
            elif argv[i] == '--cpu':
                cpu_path = argv[i + 1]
            elif argv[i] == '--out':
                out = argv[i + 1]
            else:
                split_path = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if not pos or len(pos) % 2:
        sys.stderr.write('usage: score-virtual-cohort.py [--cpu F] [--out PREFIX] [--split F] '
                         'RESULTS TRUTH [RESULTS TRUTH ...]\n')
        return 2
    cpu = {}
    if cpu_path and os.path.exists(cpu_path):
        for line in open(cpu_path):
            f = line.rstrip('\n').split('\t')
            if len(f) >= 3 and f[0].startswith('sub-'):
                try:
                    cpu[(f[0], int(f[1]))] = float(f[2])
                except ValueError:
                    pass  # a run that was killed before its time was written
    split = {}
    if split_path:
        for line in open(split_path):
            f = line.split()
            if len(f) >= 2 and f[0].startswith('sub-'):
                split[f[0]] = f[1]
    rows, allpairs = [], []
    for k in range(0, len(pos), 2):
        res, truth = pos[k], pos[k + 1]
        for tp in sorted(glob.glob(os.path.join(truth, 'sub-*.json'))):
            t = json.load(open(tp))
            if not os.path.exists(os.path.join(res, t['subject'], 'subject.json')):
                continue  # not run, or still running (subject.json is written last)
            row, pairs = score_patient(res, t)
            v = row['variant']
            row['set'] = 'heldout' if v else split.get(row['subject'], 'heldout')
            row['patient'] = row['subject'] + ('/v%d' % v if v else '')
            row['cpu_s'] = cpu.get((row['subject'], v), float('nan'))
            if only != 'all' and row['set'] != only:
                continue
            rows.append(row)
            allpairs.append((row, pairs))
    cols = ['patient', 'set', 'status', 'n_observed', 'n_ez_observed', 'tp', 'fp', 'fn',
            'precision', 'recall', 'f1', 'brier', 'confident_healthy', 'confident_missed_ez',
            'pz_called_ez', 'confident_errors', 'wrong', 'trustworthy'] + list(ERROR_KINDS) + [
            'cpu_s']
    summaries = {}
    groups = [('all', lambda r: True)]
    if split or any(r['variant'] for r in rows):
        groups += [('tune', lambda r: r['set'] == 'tune'),
                   ('heldout', lambda r: r['set'] == 'heldout')]
    for name, keep in groups:
        sel = [(r, p) for r, p in allpairs if keep(r)]
        summaries[name] = summarise([r for r, _ in sel], [x for _, p in sel for x in p], cpu)
    for name, s in summaries.items():
        print_table(name, s)
    e = summaries['all']['errors']
    print('# errors (all): false EZ %d = %d PZ + %d healthy next to an EZ + %d healthy '
          'elsewhere;  missed EZ %d = %d at the prior + %d moved (%d with a called EZ on '
          'their electrode)' % (e['fp_pz'] + e['fp_next_to_ez'] + e['fp_elsewhere'],
                                e['fp_pz'], e['fp_next_to_ez'], e['fp_elsewhere'],
                                e['fn_at_prior'] + e['fn_moved'], e['fn_at_prior'],
                                e['fn_moved'], e['fn_neighbour_called']))
    print('# reliability bins (all): ' + '  '.join(
        '[%.1f,%.1f) n=%d P=%s EZ=%s' % (b['lo'], b['hi'], b['n'], fmt(b['mean_p'], 2),
                                          fmt(b['frac_ez'], 2))
        for b in summaries['all']['bins'] if b['n']))
    if out:
        with open(out + '.tsv', 'w') as f:
            f.write('\t'.join(cols) + '\n')
            for r in rows:
                f.write('\t'.join(fmt(r.get(c), 4) if isinstance(r.get(c), float) else
                                  ('n/a' if r.get(c) is None else str(r.get(c))) for c in cols)
                        + '\n')

        def clean(o):
            if isinstance(o, float) and not math.isfinite(o):
                return None
            if isinstance(o, dict):
                return {k: clean(v) for k, v in o.items()}
            if isinstance(o, list):
                return [clean(v) for v in o]
            return o
        json.dump(clean({'schema': 'vbt.validate_ez/1', 'thresholds':
                         {'p_ez_call': P_EZ, 'confident_high': P_CONF_HI,
                          'confident_low': P_CONF_LO, 'reliability': P_RELIABLE},
                         'summaries': summaries,
                         'patients': [{c: r.get(c) for c in cols} for r in rows]}),
                  open(out + '.json', 'w'), indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
