#!/usr/bin/env python3
"""Generates the reference tables the `maiac_ir::numerics` tests compare against.

Every table is produced by `ml_dtypes` (numpy's own float16 for f16), the
reference implementation of the OCP 8/6/4-bit formats, except the MX block
quantization, which this script implements independently from the OCP MX
v1.0 text (ml_dtypes only does the element rounding).

Run (deterministic: re-running rewrites identical files):

    python3 -m venv /tmp/np && /tmp/np/bin/pip install numpy ml_dtypes
    /tmp/np/bin/python tools/numerics/gen_tables.py

Output, in ir/tests/data/numerics/ (all little-endian, no headers; the
layout is also recorded in manifest.json):

- decode_<fmt>.bin   for every code 0..2^bits, the f32 bit pattern (u32) of
                     the decoded value;
- encode_inputs.bin  f32 bit patterns (u32): all 65,536 bf16-representable
                     patterns, 65,536 random patterns, then hand-picked edge
                     cases (every format's values, midpoints between adjacent
                     values and one f32 ulp either side, boundaries, specials);
- encode_<fmt>.bin   the code `astype` gives for each input (u8 for <= 8-bit
                     formats, u16 for f16/bf16): round to nearest even, the
                     format's own overflow rule;
- mx_inputs.bin      MX blocks of 32 f32 values (u32 bit patterns);
- mx_<elem>.bin      per block: the E8M0 scale code, then 32 element codes.
"""

import json
import pathlib

import ml_dtypes
import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[2] / "ir" / "tests" / "data" / "numerics"

# name (as `FloatFormat::name()` spells it) -> numpy dtype
FORMATS = {
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(ml_dtypes.bfloat16),
    "f8E4M3FN": np.dtype(ml_dtypes.float8_e4m3fn),
    "f8E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "f8E4M3FNUZ": np.dtype(ml_dtypes.float8_e4m3fnuz),
    "f8E5M2FNUZ": np.dtype(ml_dtypes.float8_e5m2fnuz),
    "f6E3M2FN": np.dtype(ml_dtypes.float6_e3m2fn),
    "f6E2M3FN": np.dtype(ml_dtypes.float6_e2m3fn),
    "f4E2M1FN": np.dtype(ml_dtypes.float4_e2m1fn),
    "f8E8M0FNU": np.dtype(ml_dtypes.float8_e8m0fnu),
}
CODE_BITS = {
    "f16": 16, "bf16": 16, "f8E4M3FN": 8, "f8E5M2": 8, "f8E4M3FNUZ": 8, "f8E5M2FNUZ": 8,
    "f6E3M2FN": 6, "f6E2M3FN": 6, "f4E2M1FN": 4, "f8E8M0FNU": 8,
}

# OCP MX element formats: name -> (dtype, emax (exponent of the max normal),
# max normal, code written for the elements of a NaN block).
MX_ELEMENTS = {
    "e4m3": (ml_dtypes.float8_e4m3fn, 8, 448.0, 0x7F),
    "e5m2": (ml_dtypes.float8_e5m2, 15, 57344.0, 0x7E),
    "e3m2": (ml_dtypes.float6_e3m2fn, 4, 28.0, 0x00),
    "e2m3": (ml_dtypes.float6_e2m3fn, 2, 7.5, 0x00),
    "e2m1": (ml_dtypes.float4_e2m1fn, 2, 6.0, 0x00),
}
MX_BLOCK = 32
MX_BLOCKS = 1280
E8M0_NAN = 0xFF

rng = np.random.default_rng(20240611)


def code_dtype(name):
    return np.uint16 if CODE_BITS[name] == 16 else np.uint8


def all_codes(name):
    return np.arange(1 << CODE_BITS[name], dtype=np.uint32).astype(code_dtype(name))


def decode(name, codes):
    return codes.view(FORMATS[name]).astype(np.float32)


def f32(values):
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def exact_f32(values):
    """The values that f32 represents exactly (the rest are dropped)."""
    values = np.asarray(values, dtype=np.float64)
    as32 = values.astype(np.float32)
    keep = np.isfinite(as32) & (as32.astype(np.float64) == values)
    return as32[keep]


def neighbours(values):
    """`values` and the adjacent f32 on either side of each."""
    values = np.asarray(values, dtype=np.float32)
    up = np.nextafter(values, np.float32(np.inf))
    down = np.nextafter(values, np.float32(-np.inf))
    return np.concatenate([values, up, down])


def edge_cases(name):
    """Each finite value of the format, the midpoints between adjacent
    values (where ties are decided) with one f32 ulp either side, the
    overflow threshold and the subnormal boundaries, with both signs."""
    values = decode(name, all_codes(name)).astype(np.float64)
    finite = np.unique(np.abs(values[np.isfinite(values)]))
    if name == "f8E8M0FNU":
        # No zero: the value below the smallest is the flush region.
        finite = np.concatenate([[0.0], finite])
    if CODE_BITS[name] == 16:
        # Keep the smallest subnormals, the subnormal/normal boundary, the top
        # of the range and a random sample.
        boundary = int(np.searchsorted(finite, ml_dtypes.finfo(FORMATS[name]).tiny))
        pick = np.zeros(len(finite), dtype=bool)
        pick[:200] = True
        pick[boundary - 40 : boundary + 40] = True
        pick[-200:] = True
        pick[rng.choice(len(finite), 500, replace=False)] = True
        index = np.nonzero(pick)[0]
        lo = np.minimum(index, len(finite) - 2)
        mids = (finite[lo] + finite[lo + 1]) / 2
        points = np.concatenate([finite[index], mids])
    else:
        mids = (finite[:-1] + finite[1:]) / 2
        points = np.concatenate([finite, mids])
    # Beyond the max normal: half an ulp (the overflow tie), one and two ulps.
    top, below = finite[-1], finite[-2]
    ulp = top - below
    points = np.concatenate([points, [top + ulp / 2, top + ulp, top + 2 * ulp, 2 * top, 4 * top]])
    # Below the smallest subnormal: half of it (ties to zero) and a quarter.
    smallest = finite[finite > 0][0]
    points = np.concatenate([points, [smallest / 2, smallest / 4, smallest * 0.75]])
    points = neighbours(exact_f32(points))
    return np.concatenate([points, -points])


def specials():
    bits = np.array(
        [
            0x00000000, 0x80000000, 0x7F800000, 0xFF800000,  # ±0, ±Inf
            0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001,  # NaNs: quiet, signalling
            0x7FBFFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FE00000,
            0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,  # f32 subnormal boundaries
            0x7F7FFFFF, 0xFF7FFFFF, 0x00400000, 0x3F800000,
        ],
        dtype=np.uint32,
    )
    return bits.view(np.float32)


def encode_inputs():
    bf16_patterns = (np.arange(1 << 16, dtype=np.uint32) << 16).view(np.float32)
    random_patterns = rng.integers(0, 1 << 32, size=1 << 16, dtype=np.uint64).astype(np.uint32)
    edges = np.concatenate([edge_cases(name) for name in FORMATS] + [specials()])
    edges_bits = np.unique(edges.view(np.uint32))
    return np.concatenate([bf16_patterns.view(np.uint32), random_patterns, edges_bits])


def encode(name, inputs_bits):
    values = inputs_bits.view(np.float32)
    with np.errstate(all="ignore"):
        return values.astype(FORMATS[name]).view(code_dtype(name))


# ---------------------------------------------------------------- MX ------


def mx_reference(block, elem):
    """OCP MX v1.0 conversion of one block, written from the spec:
    shared_exp = floor(log2(max |v|)) - emax_elem, clamped to E8M0's
    [-127, 127]; P_i = RNE(v_i / 2^shared_exp) clamped to max normal.
    maiac's choices where the spec is silent: an all-zero block gets the
    smallest scale (code 0); a block holding Inf or NaN gets the NaN scale
    and every element the format's NaN code (FP8) or +0 (FP6/FP4)."""
    dtype, emax, max_normal, nan_code = MX_ELEMENTS[elem]
    wide = block.astype(np.float64)
    if not np.all(np.isfinite(wide)):
        return E8M0_NAN, np.full(MX_BLOCK, nan_code, dtype=np.uint8)
    amax = np.max(np.abs(wide))
    if amax == 0.0:
        shared = -127
    else:
        _, e = np.frexp(amax)  # amax = m * 2^e with m in [0.5, 1)
        shared = int(e) - 1 - emax
        shared = max(-127, min(127, shared))
    scaled = wide / np.float64(2.0) ** shared  # exact in f64
    # Saturating round to nearest even == round of the value clamped to max.
    scaled = np.clip(scaled, -max_normal, max_normal)
    # Exact in f32 unless far below every element subnormal (then 0 anyway);
    # going through f32 keeps ml_dtypes from rounding twice from f64.
    codes = scaled.astype(np.float32).astype(dtype).view(np.uint8)
    return shared + 127, codes


def mx_blocks():
    blocks = []
    kinds = [
        "lognormal", "wide", "zeros_mixed", "all_zero", "tiny", "huge",
        "grid_ties", "special", "powers", "subnormal_max",
    ]
    for i in range(MX_BLOCKS):
        kind = kinds[i % len(kinds)]
        if kind == "lognormal":
            scale = np.float64(2.0) ** rng.integers(-100, 100)
            b = rng.standard_normal(MX_BLOCK) * scale
        elif kind == "wide":
            b = rng.choice([-1, 1], MX_BLOCK) * np.float64(2.0) ** rng.uniform(-60, 60, MX_BLOCK)
        elif kind == "zeros_mixed":
            b = rng.standard_normal(MX_BLOCK) * 2.0 ** rng.integers(-20, 20)
            b[rng.random(MX_BLOCK) < 0.5] = 0.0
            b[rng.random(MX_BLOCK) < 0.2] = -0.0
        elif kind == "all_zero":
            b = np.where(rng.random(MX_BLOCK) < 0.5, 0.0, -0.0)
        elif kind == "tiny":
            # f32 subnormals and small normals: the shared exponent clamps at -127.
            b = rng.standard_normal(MX_BLOCK) * 2.0 ** rng.integers(-149, -110)
        elif kind == "huge":
            b = rng.uniform(-1, 1, MX_BLOCK) * 2.0 ** rng.integers(100, 128)
            b[rng.integers(MX_BLOCK)] = rng.choice([-1, 1]) * 3.4028234663852886e38
        elif kind == "grid_ties":
            # Exact midpoints of the element grids after scaling (ties to even),
            # with a power-of-two max setting the scale.
            s = rng.integers(-30, 30)
            units = rng.integers(-64, 64, MX_BLOCK) + 0.5
            b = units * np.float64(2.0) ** (s - rng.integers(0, 6, MX_BLOCK))
            b[0] = np.float64(2.0) ** (s + 6)
        elif kind == "special":
            b = rng.standard_normal(MX_BLOCK)
            b[rng.integers(MX_BLOCK)] = rng.choice([np.inf, -np.inf, np.nan])
        elif kind == "powers":
            b = rng.choice([-1, 1], MX_BLOCK) * np.float64(2.0) ** rng.integers(-10, 10, MX_BLOCK)
            b[rng.integers(MX_BLOCK)] *= 1.9999999
        else:  # subnormal_max: the largest magnitude is itself an f32 subnormal
            b = rng.integers(-(1 << 20), 1 << 20, MX_BLOCK) * np.float64(2.0) ** -149
        blocks.append(f32(b))
    return np.stack(blocks)


# -------------------------------------------------------------- main ------


def write(name, array):
    path = OUT / name
    path.write_bytes(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
    return {"file": name, "dtype": str(array.dtype), "count": int(array.size)}


def main():
    np.seterr(all="ignore")
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": "tools/numerics/gen_tables.py",
        "numpy": np.__version__,
        "ml_dtypes": ml_dtypes.__version__,
        "decode": {},
        "encode": {},
        "mx": {},
    }
    for name in FORMATS:
        decoded = decode(name, all_codes(name))
        manifest["decode"][name] = write(f"decode_{name}.bin", decoded.view(np.uint32))

    inputs = encode_inputs()
    manifest["encode_inputs"] = write("encode_inputs.bin", inputs)
    for name in FORMATS:
        manifest["encode"][name] = write(f"encode_{name}.bin", encode(name, inputs))

    blocks = mx_blocks()
    manifest["mx_inputs"] = write("mx_inputs.bin", blocks.view(np.uint32))
    for elem in MX_ELEMENTS:
        rows = []
        for block in blocks:
            scale, codes = mx_reference(block, elem)
            rows.append(np.concatenate([[scale], codes]).astype(np.uint8))
        manifest["mx"][elem] = write(f"mx_{elem}.bin", np.stack(rows))

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1e6:.2f} MB, to {OUT}")


if __name__ == "__main__":
    main()
