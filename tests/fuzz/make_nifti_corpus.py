#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_nifti: tiny NIfTI-1 label volumes (4 x 4 x 3,
int16 or float32, labels 0..3) and broken variants. Run from the source root:
    python3 tests/fuzz/make_nifti_corpus.py tests/fuzz/corpus_nifti
"""
import struct
import sys


def nifti(dims, datatype, bitpix, values, pixdim=(1.0, 2.0, 2.0, 2.0), qform=1, sform=1,
          srow=None, vox_offset=352.0, magic=b"n+1\0"):
    h = bytearray(348)
    struct.pack_into("<i", h, 0, 348)
    dim = [len(dims)] + list(dims) + [1] * (7 - len(dims))
    struct.pack_into("<8h", h, 40, *dim)
    struct.pack_into("<hh", h, 70, datatype, bitpix)
    struct.pack_into("<8f", h, 76, pixdim[0], *pixdim[1:], 1.0, 1.0, 1.0, 1.0)
    struct.pack_into("<f", h, 108, vox_offset)
    struct.pack_into("<f", h, 112, 1.0)  # scl_slope
    struct.pack_into("<hh", h, 252, qform, sform)
    srow = srow or [[2, 0, 0, -4], [0, 2, 0, -4], [0, 0, 2, -3]]
    for k, row in enumerate(srow):
        struct.pack_into("<4f", h, 280 + 16 * k, *row)
    h[344:348] = magic
    fmt = {4: "h", 16: "f", 2: "B", 8: "i"}[datatype]
    body = struct.pack("<%d%s" % (len(values), fmt), *values)
    return bytes(h) + b"\0" * 4 + body


def main(out):
    n = 4 * 4 * 3
    labels = [(i % 4) for i in range(n)]
    files = {
        "valid_int16.nii": nifti((4, 4, 3), 4, 16, labels),
        "valid_float32.nii": nifti((4, 4, 3), 16, 32, [float(v) for v in labels]),
        "valid_uint8_label_absent.nii": nifti((4, 4, 3), 2, 8, [v % 3 for v in labels]),
        "invalid_float_fraction.nii": nifti((4, 4, 3), 16, 32, [v + 0.5 for v in labels]),
        "invalid_4d_frames.nii": nifti((4, 4, 3, 2), 4, 16, labels * 2),
        "invalid_singular_affine.nii": nifti((4, 4, 3), 4, 16, labels, qform=0,
                                             srow=[[0, 0, 0, 0]] * 3),
        "analyze_no_magic.nii": nifti((4, 4, 3), 4, 16, labels, magic=b"xx1\0"),  # read as ANALYZE 7.5
    }
    files["invalid_truncated.nii"] = files["valid_int16.nii"][:352 + 40]
    # a header that claims 8e9 voxels over 48 of data: refused before allocation
    files["invalid_huge_dims.nii"] = nifti((2000, 2000, 2000), 4, 16, labels)
    files["invalid_header_only.nii"] = files["valid_int16.nii"][:200]
    for name, data in files.items():
        with open(f"{out}/{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
