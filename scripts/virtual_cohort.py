# virtual_cohort.py -- the driver of scripts/make-virtual-cohort.sh (see
# there for the model and the files); plumbing only: the science is done by
# vbt (contacts localize, gain, simulate) and bench/vcohort_edf.
import concurrent.futures
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import virtual_patient as vp  # noqa: E402

SIGMA = 0.2          # log-normal individual variation of the connection weights
N_PZ = 3             # PZ regions per subject
OUTSIDE_MM = 15.0    # an outside contact takes a volume-less region centre this close
DURATION_S = 12
LOCALIZE_RADIUS_MM = 5.0  # white-matter contacts: nearest grey-matter region this close
CENTRE_MIN_MM = 5.0  # centre gain: a region is a point source never closer than this
SHAFT_SD_MM, CONTACT_SD_MM = 2.0, 1.0  # jitter gain: localisation error per axis
PARC_1MM = 'Desikan_space-MNI152NLin6_res-1x1x1.nii.gz'  # in ../shared/data/neuroparc


def jittered(pos, contacts, seed):
    """The contacts as the generator's gain sees them: displaced by a
    localisation (coregistration) error, each electrode (the name without its
    trailing digits) by N(0, SHAFT_SD_MM) per axis and each contact by
    N(0, CONTACT_SD_MM) more."""
    import random
    rng = random.Random(seed ^ 0x5EED)
    shaft = {}
    out = {}
    for c in contacts:
        e = re.sub(r'[0-9]+$', '', c)
        if e not in shaft:
            shaft[e] = [rng.gauss(0.0, SHAFT_SD_MM) for _ in range(3)]
        out[c] = [pos[c][d] + shaft[e][d] + rng.gauss(0.0, CONTACT_SD_MM) for d in range(3)]
    return out
VARIANT_SEED = 1000003  # variant k's seeds: the subject's seed + k * VARIANT_SEED
SEIZURE_SEED = 7919     # seizure k's (k >= 2, --seizures) noise seed: the seed + (k - 1) * this


def extra_runs(chans, first, n):
    """The BIDS base names of seizures 2..n of a subject (--seizures n): its next
    ictal runs with an onset event after `first` and its channels (the real
    sidecars), then,
    when it has fewer, names made from the first run with the next free run
    numbers (their sidecars copied from the first run's)."""
    later = [c[:-len('_channels.tsv')] for c in chans if c[:-len('_channels.tsv')] > first]
    names = [r[0] for r in read_tsv(first + '_channels.tsv')[1]]
    later = [b for b in later if os.path.exists(b + '_events.tsv') and
             any('onset' in ' '.join(r).lower() for r in read_tsv(b + '_events.tsv')[1]) and
             [r[0] for r in read_tsv(b + '_channels.tsv')[1]] == names]
    runs = later[:n - 1]
    taken = {c[:-len('_channels.tsv')] for c in chans}
    k = 2
    while len(runs) < n - 1:
        b = (re.sub(r'_run-[0-9]+', '_run-%02d' % k, first) if '_run-' in first
             else first + '_run-%02d' % k)
        if b not in taken and b not in runs:
            runs.append(b)
        k += 1
    return runs


def alternate_focus(region, labels, W, soz_regions, seed):
    """A new focus for a held-out variant: one region that a contact lies
    in (drawn with the variant's seed), not among the SOZ regions, and with
    probability 1/2 also the observed region most strongly connected to it
    (W[row = target][column = source]).  Sorted 0-based indices."""
    import random
    rng = random.Random(seed)
    seen = sorted({k for k in region.values() if k >= 0} - set(soz_regions))
    if not seen:
        return []
    first = rng.choice(seen)
    ez = [first]
    if rng.random() < 0.5:
        others = [k for k in seen if k != first and W[k][first] + W[first][k] > 0]
        if others:
            ez.append(max(others, key=lambda k: W[k][first] + W[first][k]))
    return sorted(ez)


def read_tsv(path):
    """Rows (lists) and header of a TSV, tolerating a byte-order mark and CRLF."""
    text = open(path, encoding='utf-8-sig').read().replace('\r\n', '\n').replace('\r', '\n')
    lines = [l for l in text.split('\n') if l.strip()]
    head = [h.strip() for h in lines[0].split('\t')]
    return head, [[c.strip() for c in l.split('\t')] for l in lines[1:]]


def number(s):
    try:
        v = float(s)
        return v if math.isfinite(v) else None
    except ValueError:
        return None


def seed_of(sub):
    return zlib.crc32(sub.encode()) & 0x7fffffff


def subject_job(ctx, sub):
    """Generate one subject; returns (sub, truth dict or None, reason)."""
    root, vbt, edf, ds, out, truth_dir, gain_method, variant, n_seizures, duration_s = ctx
    sdir = os.path.join(ds, sub)
    chans = sorted(glob.glob(os.path.join(sdir, 'ses-*', 'ieeg', '*_task-ictal*_channels.tsv')))
    run = None
    for c in chans:
        ev = c[:-len('_channels.tsv')] + '_events.tsv'
        if os.path.exists(ev) and any('onset' in ' '.join(r).lower() for r in read_tsv(ev)[1]):
            run = c[:-len('_channels.tsv')]
            break
    if run is None:
        return sub, None, 'no ictal run with an onset event'
    ieeg_dir = os.path.dirname(run)
    head, rows = read_tsv(run + '_channels.tsv')
    col = {h: i for i, h in enumerate(head)}
    channels = [r[col['name']] for r in rows]
    types = [r[col['type']].upper() if 'type' in col else 'SEEG' for r in rows]
    desc = [r[col['status_description']].lower() if 'status_description' in col
            and len(r) > col['status_description'] else 'n/a' for r in rows]
    soz = {channels[i] for i in range(len(rows)) if 'soz' in desc[i]}
    if not soz:
        return sub, None, 'no SOZ channel'
    elec = glob.glob(os.path.join(ieeg_dir, '*_electrodes.tsv'))
    if not elec:
        return sub, None, 'no electrodes.tsv'
    eh, er = read_tsv(elec[0])
    ec = {h: i for i, h in enumerate(eh)}
    pos = {}
    for r in er:
        xyz = [number(r[ec[k]]) if len(r) > ec[k] else None for k in 'xyz']
        if None not in xyz:
            pos[r[ec['name']]] = xyz
    if pos and max(abs(v) for p in pos.values() for v in p) <= 1.0:
        pos = {k: [1000.0 * v for v in p] for k, p in pos.items()}  # really metres
    contacts = [c for c, t in zip(channels, types) if c in pos and t in ('SEEG', 'ECOG')]
    if not contacts:
        return sub, None, 'no contact with coordinates'
    js = json.load(open(run + '_ieeg.json'))
    fs = float(js['SamplingFrequency'])
    line_hz = js.get('PowerLineFrequency', 0)
    line_hz = float(line_hz) if isinstance(line_hz, (int, float)) else 0.0
    seed = seed_of(sub) + variant * VARIANT_SEED

    tmp = tempfile.mkdtemp(prefix='vcohort-')
    try:
        # The contacts in mm as a BIDS electrodes.tsv (labels may hold blanks:
        # 'EEG LG 52-Ref'), space as the real one, units corrected.
        sensors = os.path.join(tmp, 'contacts_electrodes.tsv')
        with open(sensors, 'w') as f:
            f.write('name\tx\ty\tz\n')
            for c in contacts:
                f.write('%s\t%.4f\t%.4f\t%.4f\n' % ((c,) + tuple(pos[c])))
        space = 'fsaverage'
        cs = glob.glob(os.path.join(ieeg_dir, '*_coordsystem.json'))
        if cs:
            space = json.load(open(cs[0])).get('iEEGCoordinateSystem', space)
        json.dump({'iEEGCoordinateSystem': space, 'iEEGCoordinateUnits': 'mm'},
                  open(os.path.join(tmp, 'contacts_coordsystem.json'), 'w'))
        ds_ = os.path.join(root, 'data-samples')
        parc = os.path.join(ds_, 'neuroparc', 'Desikan_space-MNI152NLin6_res-2x2x2.nii.gz')
        plabels = os.path.join(ds_, 'neuroparc', 'Desikan.csv')
        nmap = os.path.join(ds_, 'desikan70_to_dk84.tsv')
        atlas = os.path.join(ds_, 'connectivity_84_desikan.zip')
        names = {}
        for l in open(nmap):
            if l.strip() and not l.startswith('#'):
                a, b = l.rstrip('\n').split('\t')[:2]
                names[a] = b
        # Labels without a connectome region (white matter, corpus callosum)
        # count as unlabelled, so a contact there takes the nearest region
        # within LOCALIZE_RADIUS_MM.
        grey = os.path.join(tmp, 'labels.csv')
        with open(grey, 'w') as f:
            for l in open(plabels):
                if l.strip() and names.get(l.strip().split(',', 1)[1], '-') != '-':
                    f.write(l)
        loc = os.path.join(tmp, 'loc.tsv')
        subprocess.run([vbt, 'contacts', 'localize', sensors, '--parcellation', parc,
                        '--labels', grey, '--radius', '%g' % LOCALIZE_RADIUS_MM, '-o', loc,
                        '-q', '--force', '--force-space'], check=True, capture_output=True)
        labels, centres = vp.region_labels(atlas)
        # The connectome's centres are not in the atlas's space (BVEP's
        # centres lie about 22 mm below MNI's): the regions the volume lacks
        # are placed where `vbt gain` places their point sources, at their
        # centres registered onto the atlas (gain.json centre_fallback_mm).
        reg = os.path.join(tmp, 'registered.npy')
        subprocess.run([vbt, 'gain', '--contacts', sensors, '--method', 'volume',
                        '--parcellation', parc, '--labels', plabels, '--name-map', nmap,
                        '--connectome', atlas, '-o', reg, '-q', '--force', '--force-space'],
                       check=True, capture_output=True)
        rg = json.load(open(os.path.join(tmp, 'registered.json')))['gain']
        for name, xyz in zip(rg.get('centre_fallback', []), rg.get('centre_fallback_mm', [])):
            centres[labels.index(name)] = xyz
        index = {l: i for i, l in enumerate(labels)}
        in_volume = {names[a] for a in names if names[a] in index}
        lh, lr = read_tsv(loc)
        lc = {h: i for i, h in enumerate(lh)}
        region_col = 'region'
        region = {}
        for r in lr:
            c, rn = r[lc['name']], r[lc[region_col]]
            k = index.get(names.get(rn, ''), -1)
            if k < 0:
                p = pos[c]
                best = min(((sum((p[d] - centres[j][d]) ** 2 for d in range(3)), j)
                            for j in range(len(labels)) if labels[j] not in in_volume))
                if best[0] <= OUTSIDE_MM ** 2:
                    k = best[1]
            region[c] = k
        ez = sorted({region[c] for c in soz if region.get(c, -1) >= 0})
        if not ez:
            return sub, None, 'SOZ contacts in no region'
        W = vp.patient_weights(vp.read_weights(atlas), [], [], SIGMA, seed)
        if variant:
            ez = alternate_focus(region, labels, W, ez, seed)
            if not ez:
                return sub, None, 'no contact outside the SOZ regions for a new focus'
        strength = sorted(((-sum(W[p][e] for e in ez), p) for p in range(len(W)) if p not in ez))
        pz = sorted(p for _, p in strength[:N_PZ])
        W = vp.patient_weights(vp.read_weights(atlas), ez, pz, SIGMA, seed)
        conn = os.path.join(tmp, 'connectome.zip')
        vp.write_connectome(atlas, conn, W)
        gain = os.path.join(tmp, 'gain.npy')
        if gain_method == 'volume':
            subprocess.run([vbt, 'gain', '--contacts', sensors, '--method', 'volume',
                            '--parcellation', parc, '--labels', plabels, '--name-map', nmap,
                            '--connectome', conn, '-o', gain, '-q', '--force'],
                           check=True, capture_output=True)
        elif gain_method == 'jitter':
            # Not the gain the fit assumes (vbt cohort run: the volume gain
            # of the 2 mm atlas at the listed positions): the volume gain of
            # the 1 mm atlas at positions displaced by a localisation error.
            moved = os.path.join(tmp, 'moved_electrodes.tsv')
            jp = jittered(pos, contacts, seed)
            with open(moved, 'w') as f:
                f.write('name\tx\ty\tz\n')
                for c in contacts:
                    f.write('%s\t%.4f\t%.4f\t%.4f\n' % ((c,) + tuple(jp[c])))
            shutil.copyfile(os.path.join(tmp, 'contacts_coordsystem.json'),
                            os.path.join(tmp, 'moved_coordsystem.json'))
            p1 = os.path.join(root, '..', 'shared', 'data', 'neuroparc', PARC_1MM)
            subprocess.run([vbt, 'gain', '--contacts', moved, '--method', 'volume',
                            '--parcellation', p1 if os.path.exists(p1) else parc,
                            '--labels', plabels, '--name-map', nmap, '--force-space',
                            '--connectome', conn, '-o', gain, '-q', '--force'],
                           check=True, capture_output=True)
        else:
            # every region a point source at its centre
            subprocess.run([vbt, 'gain', '--contacts', sensors, '--method', 'centre',
                            '--connectome', conn, '--min-distance', '%g' % CENTRE_MIN_MM,
                            '-o', gain, '-q', '--force'], check=True, capture_output=True)
        period = 1000.0 / fs
        # --seizures N: seizures 2..N of the same virtual patient (the same
        # connectome, gain, EZ/PZ, sampling rate and line noise; noise seeds
        # seed + (k - 1) * SEIZURE_SEED) as its next runs.
        runs = [run] + (extra_runs(chans, run, n_seizures) if n_seizures > 1 else [])
        seizures = []
        for k, run_k in enumerate(runs):
            seed_k = seed + k * SEIZURE_SEED
            src = run_k if os.path.exists(run_k + '_ieeg.json') else run
            dt = period / max(1, round(period / 0.05))
            cfg = os.path.join(tmp, 'seizure.json')
            open(cfg, 'w').write(vp.seizure_config(
                'vbt virtual cohort: 6-variable Epileptor, noise, delays; SEEG through the %s gain'
                % gain_method,
                conn, [labels[e] for e in ez], [labels[p] for p in pz], sensors, gain, seed_k,
                duration_ms=duration_s * 1000, seeg_period_ms=period, lfp_period_ms=period,
                dt_ms=dt))
            sim = os.path.join(tmp, 'sim')
            t0 = time.time()
            # A run that diverges (a state variable became infinite) is run again
            # with the step halved, up to twice.
            for attempt in range(3):
                try:
                    subprocess.run([vbt, 'simulate', cfg, '-o', sim, '-q', '--force'], check=True,
                                   capture_output=True)
                    break
                except subprocess.CalledProcessError as e:
                    if attempt == 2 or b'infinite' not in (e.stderr or b''):
                        raise
                    dt /= 2
                    open(cfg, 'w').write(vp.seizure_config(
                        'vbt virtual cohort: 6-variable Epileptor, noise, delays; SEEG through the '
                        '%s gain' % gain_method, conn, [labels[e] for e in ez], [labels[p] for p in pz],
                        sensors, gain, seed_k, duration_ms=duration_s * 1000, seeg_period_ms=period,
                        lfp_period_ms=period, dt_ms=dt))
            sim_s = time.time() - t0
            onset, offset = vp.onset_offset(os.path.join(sim, 'lfp.npy'), ez, ez + pz, fs)
            if onset is None:
                return sub, None, 'the simulated EZ did not seize' + (' (seizure %d)' % (k + 1) if k else '')
            simrun = json.load(open(os.path.join(sim, 'run.json')))
            simch = simrun['outputs']['seeg']['channels']
            col_of = {c: i for i, c in enumerate(simch)}
            chanmap = os.path.join(tmp, 'chanmap.tsv')
            with open(chanmap, 'w') as f:
                for c in channels:
                    f.write('%s\t%d\n' % (c, col_of.get(c, -1)))
            dst = os.path.join(out, os.path.relpath(ieeg_dir, ds))
            os.makedirs(dst, exist_ok=True)
            base = os.path.join(dst, os.path.basename(run_k))
            subprocess.run([edf, os.path.join(sim, 'seeg.npy'), chanmap, '%g' % fs, str(seed_k),
                            '%g' % line_hz, base + '_ieeg.edf'], check=True, capture_output=True)
            T = vp.read_npy(os.path.join(sim, 'seeg.npy'))[0][0]
            dur = (T // int(fs)) if fs == int(fs) else duration_s
            if offset is None or offset >= dur:
                offset = dur - 1.0 / fs
            if not variant:
                shutil.copyfile(src + '_channels.tsv', base + '_channels.tsv')
            else:
                # A held-out variant's new focus: 'soz' moves to the contacts in
                # its EZ regions (the rest of status_description is kept).
                sd = col.get('status_description')
                with open(base + '_channels.tsv', 'w') as f:
                    f.write('\t'.join(head) + '\n')
                    for i, r in enumerate(rows):
                        r = list(r) + ['n/a'] * (len(head) - len(r))
                        if sd is not None:
                            toks = [t for t in r[sd].strip('"').replace(',', ' ').split()
                                    if t.lower() not in ('soz', 'n/a')]
                            if region.get(channels[i], -1) in ez:
                                toks.append('soz')
                            r[sd] = ','.join(toks) if toks else 'n/a'
                        f.write('\t'.join(r) + '\n')
            for e in elec + glob.glob(os.path.join(ieeg_dir, '*_coordsystem.json')):
                shutil.copyfile(e, os.path.join(dst, os.path.basename(e)))
            text = open(src + '_ieeg.json').read()
            text = re.sub(r'("RecordingDuration"\s*:\s*)[0-9.eE+-]+', r'\g<1>%g' % dur, text)
            open(base + '_ieeg.json', 'w').write(text)
            with open(base + '_events.tsv', 'w', encoding='utf-8-sig') as f:
                f.write('onset\tduration\ttrial_type\tvalue\tsample\n')
                f.write('%.3f\t0.0\tsz onset\t2\t%d\n' % (onset, round(onset * fs)))
                f.write('%.3f\t0.0\tsz offset\t1\t%d\n' % (offset, round(offset * fs)))
            seizures.append({'run': os.path.relpath(base + '_ieeg.edf', out), 'seed': seed_k,
                             'dt_ms': dt, 'onset_s': round(onset, 6),
                             'offset_s': round(offset, 6), 'simulate_wall_s': round(sim_s, 1)})
            if k == 0:
                first = (base, onset, offset, dt, sim_s, dur)
        base, onset, offset, dt, sim_s, dur = first
        ses = os.path.dirname(dst)
        with open(os.path.join(ses, '%s_%s_scans.tsv' % (sub, os.path.basename(ses))), 'w') as f:
            f.write('filename\tacq_time\n')
            for r in runs:
                f.write('ieeg/%s_ieeg.edf\tn/a\n' % os.path.basename(r))
        truth = {
            'subject': sub, 'run': os.path.relpath(base + '_ieeg.edf', out),
            'connectome': 'data-samples/connectivity_84_desikan.zip, max-normalised, '
                          'log-normal variation sigma %g, EZ -> PZ weights raised to %g'
                          % (SIGMA, vp.W_EZ_PZ),
            'seed': seed, 'variant': variant,
            'focus': 'SOZ regions' if not variant else 'alternate (held-out variant)',
            'gain': {'volume': 'volume (the fit\'s own)',
                     'jitter': 'volume on the 1 mm atlas, contacts displaced by N(0, %g mm) per '
                               'electrode and N(0, %g mm) per contact, per axis'
                               % (SHAFT_SD_MM, CONTACT_SD_MM),
                     'centre': 'centre (point sources, min distance %g mm)' % CENTRE_MIN_MM
                     }[gain_method],
            'sampling_frequency_hz': fs, 'dt_ms': dt, 'duration_s': dur,
            'EZ': {'regions': ez, 'labels': [labels[e] for e in ez], 'x0': vp.X0_EZ},
            'PZ': {'regions': pz, 'labels': [labels[p] for p in pz], 'x0': vp.X0_PZ},
            'HZ': {'x0': vp.X0_HZ},
            'soz_channels': sorted(soz) if not variant else
                            sorted(c for c in channels if region.get(c, -1) in ez),
            'contact_regions': {c: (labels[k] if k >= 0 else None) for c, k in region.items()},
            'onset_s': round(onset, 6), 'offset_s': round(offset, 6),
            'simulate_wall_s': round(sim_s, 1),
        }
        if len(seizures) > 1:
            truth['seizures'] = seizures
        with open(os.path.join(truth_dir, sub + '.json'), 'w') as f:
            json.dump(truth, f, indent=1)
        return sub, truth, ''
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b'').decode(errors='replace').strip().splitlines()
        return sub, None, '%s failed: %s' % (os.path.basename(e.cmd[0]) + ' ' + e.cmd[1],
                                            (err[-1].replace(tmp, '.') if err else 'exit %d' % e.returncode))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    root, vbt, edf, ds, out, truth_dir, jobs, only, gain_method, variant = argv[:10]
    variant = int(variant)
    n_seizures = int(argv[10]) if len(argv) > 10 else 1
    duration_s = float(argv[11]) if len(argv) > 11 and argv[11] else DURATION_S
    duration_s = int(duration_s) if duration_s == int(duration_s) else duration_s
    head, rows = read_tsv(os.path.join(ds, 'participants.tsv'))
    subs = [r[0].strip() for r in rows if r and r[0].strip()]
    if only:
        want = set(s.strip() for s in only.split(','))
        subs = [s for s in subs if s in want]
    present = [s for s in subs if os.path.isdir(os.path.join(ds, s))]
    for f in ('participants.tsv', 'participants.json'):
        if os.path.exists(os.path.join(ds, f)):
            shutil.copyfile(os.path.join(ds, f), os.path.join(out, f))
    json.dump({'Name': 'vbt virtual cohort on the implantations of OpenNeuro ds004100',
               'BIDSVersion': '1.8.0', 'DatasetType': 'raw',
               'License': 'CC0 (sidecars of ds004100); signals simulated by vbt',
               'GeneratedBy': [{'Name': 'vbt scripts/make-virtual-cohort.sh'}],
               'SourceDatasets': [{'DOI': '10.18112/openneuro.ds004100.v1.1.3'}]},
              open(os.path.join(out, 'dataset_description.json'), 'w'), indent=2)
    ctx = (root, vbt, edf, ds, out, truth_dir, gain_method, variant, n_seizures, duration_s)
    t0 = time.time()
    done, skipped = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=int(jobs)) as ex:
        for sub, truth, why in ex.map(lambda s: subject_job(ctx, s), present):
            if truth:
                done.append(truth)
                sys.stderr.write('virtual cohort: %s: EZ %s, onset %.2f s\n'
                                 % (sub, ','.join(truth['EZ']['labels']), truth['onset_s']))
            else:
                skipped.append((sub, why))
                sys.stderr.write('virtual cohort: %s: skipped (%s)\n' % (sub, why))
    for s in subs:
        if s not in present:
            skipped.append((s, 'listed in participants.tsv, no files'))
    # truth.tsv lists every subject generated into this TRUTH folder (also by
    # earlier runs with --subjects); a subject skipped now loses its old truth.
    for s, _ in skipped:
        if os.path.exists(os.path.join(truth_dir, s + '.json')):
            os.remove(os.path.join(truth_dir, s + '.json'))
    done = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(truth_dir, 'sub-*.json')))]
    with open(os.path.join(truth_dir, 'truth.tsv'), 'w') as f:
        f.write('participant_id\tn_ez\tez\tpz\tonset_s\toffset_s\tsimulate_wall_s\n')
        for t in done:
            f.write('%s\t%d\t%s\t%s\t%.3f\t%.3f\t%.1f\n' % (
                t['subject'], len(t['EZ']['regions']), ','.join(t['EZ']['labels']),
                ','.join(t['PZ']['labels']), t['onset_s'], t['offset_s'], t['simulate_wall_s']))
    with open(os.path.join(truth_dir, 'skipped.tsv'), 'w') as f:
        f.write('participant_id\treason\n')
        for s, why in skipped:
            f.write('%s\t%s\n' % (s, why))
    sys.stderr.write('virtual cohort: %d subjects in %s, %d skipped (%s), %.0f s\n'
                     % (len(done), out, len(skipped), os.path.join(truth_dir, 'skipped.tsv'),
                        time.time() - t0))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
