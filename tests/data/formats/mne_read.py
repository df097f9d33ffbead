#!/usr/bin/env python3
"""Read BrainVision files with MNE (Debian python3-mne), the independent
oracle of tests/test_recording.c for vbt's own BrainVision reader.

    mne_read.py OUT_PREFIX FILE.vhdr [FILE.vhdr ...]

For the k-th header writes OUT_PREFIX<k>.bin (the samples in microvolts,
float64 little-endian, channel after channel) and OUT_PREFIX<k>.txt:
"sfreq X", "n_times N", one "ch NAME" per channel and one
"ann ONSET DURATION DESCRIPTION" per annotation (MNE's description is
"type/description").  Exits 3 when MNE cannot be imported."""
import sys

try:
    import mne
except ImportError:
    sys.exit(3)

mne.set_log_level("ERROR")
prefix = sys.argv[1]
for k, path in enumerate(sys.argv[2:]):
    raw = mne.io.read_raw_brainvision(path, preload=True)
    data = raw.get_data() * 1e6  # volts to microvolts
    data.astype("<f8").tofile("%s%d.bin" % (prefix, k))
    with open("%s%d.txt" % (prefix, k), "w", encoding="utf-8") as f:
        f.write("sfreq %.17g\n" % raw.info["sfreq"])
        f.write("n_times %d\n" % raw.n_times)
        for name in raw.ch_names:
            f.write("ch %s\n" % name)
        for a in raw.annotations:
            f.write("ann %.17g %.17g %s\n" % (a["onset"], a["duration"], a["description"]))
