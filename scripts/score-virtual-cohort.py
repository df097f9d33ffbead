#!/usr/bin/env python3
# Score `vbt cohort run` on the virtual cohort against its ground truth
# (scripts/make-virtual-cohort.sh): per subject, the F1 of the EZ map
# (P(EZ) > 0.5) against the true EZ, confident errors (regions healthy in
# the truth, neither EZ nor PZ, with P(EZ) > 0.9), and the fit's verdict;
# then the F1 median and quartiles, the confident errors, the fraction of
# failed verdicts and of failed subjects.
#
#   scripts/score-virtual-cohort.py RESULTS TRUTH
# RESULTS: the `vbt cohort run` output folder; TRUTH: the generator's truth
# folder (sub-ID.json).  Standard library only.
import glob
import json
import os
import statistics
import sys


def quartiles(v):
    v = sorted(v)
    if not v:
        return float('nan'), float('nan'), float('nan')
    if len(v) == 1:
        return v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4, method='inclusive')
    return q[0], statistics.median(v), q[2]


def main(res, truth_dir):
    rows, f1s, n_conf, n_fail, n_verdict_fail, n_verdict = [], [], 0, 0, 0, 0
    for tp in sorted(glob.glob(os.path.join(truth_dir, 'sub-*.json'))):
        t = json.load(open(tp))
        sub = t['subject']
        sj = os.path.join(res, sub, 'subject.json')
        if not os.path.exists(sj):
            continue
        status = json.load(open(sj)).get('status')
        found = sorted(glob.glob(os.path.join(res, sub, '*', 'results.json')))
        if status != 'done' or not found:
            n_fail += 1
            rows.append((sub, 'failed', '', '', ''))
            continue
        r = json.load(open(found[0]))
        ez = set(t['EZ']['labels'])
        pz = set(t['PZ']['labels'])
        pred = {g['label'] for g in r['regions'] if g.get('p_ez', 0) > 0.5}
        conf = [g['label'] for g in r['regions']
                if g.get('p_ez', 0) > 0.9 and g['label'] not in ez | pz]
        tp_ = len(pred & ez)
        p = tp_ / len(pred) if pred else float('nan')
        rc = tp_ / len(ez)
        f1 = 0.0 if tp_ == 0 else 2 * p * rc / (p + rc)
        f1s.append(f1)
        n_conf += len(conf)
        verdict = None
        summ = os.path.join(os.path.dirname(found[0]), 'fit', 'summary.json')
        if os.path.exists(summ):
            verdict = json.load(open(summ)).get('diagnostics_passed')
        if verdict is not None:
            n_verdict += 1
            n_verdict_fail += not verdict
        rows.append((sub, 'ok', '%.3f' % f1, str(len(conf)), str(verdict)))
    print('subject\tstatus\tf1\tconfident_errors\tverdict')
    for r in rows:
        print('\t'.join(r))
    q1, med, q3 = quartiles(f1s)
    print('# subjects scored %d, failed %d; F1 median %.3f (quartiles %.3f, %.3f); '
          'confident errors (healthy region P(EZ) > 0.9) %d in %d subjects; '
          'failed verdicts %d of %d' % (len(f1s), n_fail, med, q1, q3, n_conf, len(f1s),
                                        n_verdict_fail, n_verdict))
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.stderr.write('usage: score-virtual-cohort.py RESULTS TRUTH\n')
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
