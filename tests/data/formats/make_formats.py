#!/usr/bin/env python3
"""Write tests/data/formats/source.edf (EDF+C) and source.vhdr/.vmrk/.eeg
(BrainVision Core Data Format 1.0, INT_16, 0.1 uV resolution) byte by byte,
independently of vbt, EDFlib and libbiosig, from the same analytic signals,
and convert source.edf into GDF with biosig-tools' save2gdf.  Run once from
this folder; the outputs are committed.  See README.md."""
import math
import subprocess

FS, SECONDS = 256, 8
LABELS = ["A1", "A2", "B1", "EEG Cz"]
PMIN, PMAX, DMIN, DMAX = -1000.0, 1000.0, -32768, 32767
ANNOTS = [(0.0, None, ""), (3.0, 2.5, "Seizure onset"), (6.25, None, "artefact")]


def signal(c, i):
    t = i / FS
    return 200.0 * math.sin(2 * math.pi * (3 + 4 * c) * t) + 50.0 * c - 20.0 * t


def field(v, n):
    s = str(v).encode("ascii")
    assert len(s) <= n, (v, n)
    return s + b" " * (n - len(s))


def tal(rec):
    out = b"+%d\x14\x14\x00" % rec
    for on, du, text in ANNOTS[1:]:
        if int(on) == rec:
            out += b"+" + (b"%g" % on)
            if du is not None:
                out += b"\x15" + (b"%g" % du)
            out += b"\x14" + text.encode() + b"\x14\x00"
    return out


ANN_SPR = 30  # 60 bytes a record
ns = len(LABELS) + 1
hdr = field("0", 8) + field("X X X X", 80) + field("Startdate 02-MAR-2021 X X X", 80)
hdr += field("02.03.21", 8) + field("10.11.12", 8) + field(256 * (ns + 1), 8)
hdr += field("EDF+C", 44) + field(SECONDS, 8) + field(1, 8) + field(ns, 4)
labels = LABELS + ["EDF Annotations"]
hdr += b"".join(field(l, 16) for l in labels)
hdr += b"".join(field("", 80) for _ in labels)
hdr += b"".join(field("uV", 8) for _ in LABELS) + field("", 8)
hdr += b"".join(field(PMIN, 8) for _ in LABELS) + field(-1, 8)
hdr += b"".join(field(PMAX, 8) for _ in LABELS) + field(1, 8)
hdr += b"".join(field(DMIN, 8) for _ in labels)
hdr += b"".join(field(DMAX, 8) for _ in labels)
hdr += b"".join(field("", 80) for _ in labels)
hdr += b"".join(field(FS, 8) for _ in LABELS) + field(ANN_SPR, 8)
hdr += b"".join(field("", 32) for _ in labels)
assert len(hdr) == 256 * (ns + 1)
gain = (PMAX - PMIN) / (DMAX - DMIN)
data = b""
for r in range(SECONDS):
    for c in range(len(LABELS)):
        for i in range(FS):
            d = round((signal(c, r * FS + i) - PMIN) / gain + DMIN)
            data += int(d).to_bytes(2, "little", signed=True)
    a = tal(r)
    assert len(a) <= 2 * ANN_SPR
    data += a + b"\x00" * (2 * ANN_SPR - len(a))
with open("source.edf", "wb") as f:
    f.write(hdr + data)

# BrainVision: multiplexed int16, value = digital x resolution (uV)
RES = 0.1
vhdr = """Brain Vision Data Exchange Header File Version 1.0
; written by tests/data/formats/make_formats.py

[Common Infos]
Codepage=UTF-8
DataFile=source.eeg
MarkerFile=source.vmrk
DataFormat=BINARY
DataOrientation=MULTIPLEXED
NumberOfChannels=%d
; Sampling interval in microseconds
SamplingInterval=%g

[Binary Infos]
BinaryFormat=INT_16

[Channel Infos]
""" % (len(LABELS), 1e6 / FS)
for c, l in enumerate(LABELS):
    vhdr += "Ch%d=%s,,%g,\u00b5V\n" % (c + 1, l, RES)
with open("source.vhdr", "w", encoding="utf-8") as f:
    f.write(vhdr)
with open("source.eeg", "wb") as f:
    for i in range(FS * SECONDS):
        for c in range(len(LABELS)):
            f.write(round(signal(c, i) / RES).to_bytes(2, "little", signed=True))
vmrk = """Brain Vision Data Exchange Marker File, Version 1.0

[Common Infos]
Codepage=UTF-8
DataFile=source.eeg

[Marker Infos]
Mk1=New Segment,,1,1,0,20210302101112394531
"""
k = 2
for on, du, text in ANNOTS[1:]:
    vmrk += "Mk%d=Comment,%s,%d,%d,0\n" % (k, text, round(on * FS) + 1,
                                          round((du or 0) * FS) or 1)
    k += 1
with open("source.vmrk", "w", encoding="utf-8") as f:
    f.write(vmrk)
subprocess.run(["save2gdf", "-f=GDF", "source.edf", "source.gdf"], check=True)
