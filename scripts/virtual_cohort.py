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
    root, vbt, edf, ds, out, truth_dir = ctx
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
    seed = seed_of(sub)

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
        strength = sorted(((-sum(W[p][e] for e in ez), p) for p in range(len(W)) if p not in ez))
        pz = sorted(p for _, p in strength[:N_PZ])
        W = vp.patient_weights(vp.read_weights(atlas), ez, pz, SIGMA, seed)
        conn = os.path.join(tmp, 'connectome.zip')
        vp.write_connectome(atlas, conn, W)
        gain = os.path.join(tmp, 'gain.npy')
        subprocess.run([vbt, 'gain', '--contacts', sensors, '--method', 'volume',
                        '--parcellation', parc, '--labels', plabels, '--name-map', nmap,
                        '--connectome', conn, '-o', gain, '-q', '--force'],
                       check=True, capture_output=True)
        period = 1000.0 / fs
        dt = period / max(1, round(period / 0.05))
        cfg = os.path.join(tmp, 'seizure.json')
        open(cfg, 'w').write(vp.seizure_config(
            'vbt virtual cohort: 6-variable Epileptor, noise, delays; SEEG through the volume gain',
            conn, [labels[e] for e in ez], [labels[p] for p in pz], sensors, gain, seed,
            duration_ms=DURATION_S * 1000, seeg_period_ms=period, lfp_period_ms=period,
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
                    'volume gain', conn, [labels[e] for e in ez], [labels[p] for p in pz],
                    sensors, gain, seed, duration_ms=DURATION_S * 1000, seeg_period_ms=period,
                    lfp_period_ms=period, dt_ms=dt))
        sim_s = time.time() - t0
        onset, offset = vp.onset_offset(os.path.join(sim, 'lfp.npy'), ez, ez + pz, fs)
        if onset is None:
            return sub, None, 'the simulated EZ did not seize'
        simrun = json.load(open(os.path.join(sim, 'run.json')))
        simch = simrun['outputs']['seeg']['channels']
        col_of = {c: i for i, c in enumerate(simch)}
        chanmap = os.path.join(tmp, 'chanmap.tsv')
        with open(chanmap, 'w') as f:
            for c in channels:
                f.write('%s\t%d\n' % (c, col_of.get(c, -1)))
        dst = os.path.join(out, os.path.relpath(ieeg_dir, ds))
        os.makedirs(dst, exist_ok=True)
        base = os.path.join(dst, os.path.basename(run))
        subprocess.run([edf, os.path.join(sim, 'seeg.npy'), chanmap, '%g' % fs, str(seed),
                        '%g' % line_hz, base + '_ieeg.edf'], check=True, capture_output=True)
        T = vp.read_npy(os.path.join(sim, 'seeg.npy'))[0][0]
        dur = (T // int(fs)) if fs == int(fs) else DURATION_S
        if offset is None or offset >= dur:
            offset = dur - 1.0 / fs
        shutil.copyfile(run + '_channels.tsv', base + '_channels.tsv')
        for e in elec + glob.glob(os.path.join(ieeg_dir, '*_coordsystem.json')):
            shutil.copyfile(e, os.path.join(dst, os.path.basename(e)))
        text = open(run + '_ieeg.json').read()
        text = re.sub(r'("RecordingDuration"\s*:\s*)[0-9.eE+-]+', r'\g<1>%g' % dur, text)
        open(base + '_ieeg.json', 'w').write(text)
        with open(base + '_events.tsv', 'w', encoding='utf-8-sig') as f:
            f.write('onset\tduration\ttrial_type\tvalue\tsample\n')
            f.write('%.3f\t0.0\tsz onset\t2\t%d\n' % (onset, round(onset * fs)))
            f.write('%.3f\t0.0\tsz offset\t1\t%d\n' % (offset, round(offset * fs)))
        ses = os.path.dirname(dst)
        with open(os.path.join(ses, '%s_%s_scans.tsv' % (sub, os.path.basename(ses))), 'w') as f:
            f.write('filename\tacq_time\n')
            f.write('ieeg/%s_ieeg.edf\tn/a\n' % os.path.basename(run))
        truth = {
            'subject': sub, 'run': os.path.relpath(base + '_ieeg.edf', out),
            'connectome': 'data-samples/connectivity_84_desikan.zip, max-normalised, '
                          'log-normal variation sigma %g, EZ -> PZ weights raised to %g'
                          % (SIGMA, vp.W_EZ_PZ),
            'seed': seed, 'sampling_frequency_hz': fs, 'dt_ms': dt, 'duration_s': dur,
            'EZ': {'regions': ez, 'labels': [labels[e] for e in ez], 'x0': vp.X0_EZ},
            'PZ': {'regions': pz, 'labels': [labels[p] for p in pz], 'x0': vp.X0_PZ},
            'HZ': {'x0': vp.X0_HZ},
            'soz_channels': sorted(soz),
            'contact_regions': {c: (labels[k] if k >= 0 else None) for c, k in region.items()},
            'onset_s': round(onset, 6), 'offset_s': round(offset, 6),
            'simulate_wall_s': round(sim_s, 1),
        }
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
    root, vbt, edf, ds, out, truth_dir, jobs, only = argv
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
    ctx = (root, vbt, edf, ds, out, truth_dir)
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
