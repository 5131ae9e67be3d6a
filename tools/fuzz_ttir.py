#!/usr/bin/env python3
"""Mutation fuzzer for the maiac command line: bad TTIR must never panic or hang.

usage: fuzz_ttir.py [--maiac PATH] [--count N] [--jobs J] [--seed S] [--timeout S]
                    [--out DIR] [--machine NAME|FILE] [CASE_DIR...]

Takes real TTIR (by default every case folder under tests/fixtures/kernels,
tests/fixtures/corpus and /work/shared/corpus), applies 1-3 random text
mutations (delete / duplicate / swap lines, truncate, change element types,
shapes, integer and float constants, attribute values, SSA names, swap
operands, break region structure, insert junk bytes) and runs on each mutant

  maiac check M.ttir
  maiac compile M.ttir -o M.mbin
  maiac interp M.ttir <the case's --grid/--arg/--out>
  maiac run    M.ttir <the same>

A finding is: an exit code other than 0 or 1, a panic message, a run longer
than --timeout seconds (a hang), or an exit 1 whose message has no TTIR
`line:col` (for check/compile, and for interp/run unless the error is about
the launch itself, e.g. an argument), or `interp` and `run` disagreeing
(exit code, or the bytes of the --out files; not checked with --machine,
where a kernel may legitimately not fit). Each finding's mutant is saved under
--out (default /tmp/fuzz-ttir) with a finding.txt, and a summary is printed.
The fuzzer is a tool, not part of `cargo test`.
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

ELEM_TYPES = ["f32", "f16", "bf16", "i1", "i8", "i16", "i32", "i64", "f64", "f8E4M3FN", "f8E5M2", "index"]
OPS = ["arith.addi", "arith.addf", "arith.muli", "arith.mulf", "arith.subi", "arith.divsi", "arith.remsi",
       "arith.cmpi", "arith.select", "tt.splat", "tt.broadcast", "tt.expand_dims", "tt.load", "tt.store",
       "tt.addptr", "tt.dot", "tt.reduce", "scf.for", "scf.yield", "tt.return", "arith.constant", "tt.make_range"]
JUNK = ["{", "}", "(", ")", "<", ">", ":", ",", "%", "^bb0", "\"", "\xff\xfe", "\x00", "loc(", "->", "=",
        "tensor<", "!tt.ptr<", "99999999999999999999", "-1", "0x", "#loc", "@", "dense<"]


def cases(dirs):
    out = []
    for d in dirs:
        k = os.path.join(d, "kernel.ttir")
        c = os.path.join(d, "case.json")
        if os.path.exists(k) and os.path.exists(c):
            out.append((d, open(k, encoding="utf-8", errors="replace").read(), json.load(open(c))))
    return out


def sub_random(rng, text, pattern, repl_fn):
    """Replace one random match of `pattern` in text with repl_fn(match)."""
    ms = list(re.finditer(pattern, text))
    if not ms:
        return text
    m = rng.choice(ms)
    return text[: m.start()] + repl_fn(m) + text[m.end():]


def body_lines(lines):
    """Indices of lines inside the module (not #loc definitions)."""
    return [i for i, l in enumerate(lines) if not l.startswith("#loc")] or list(range(len(lines)))


def mutate(rng, text):
    kind = rng.choice([
        "delete", "duplicate", "swap", "truncate", "type", "shape", "int", "float", "attr", "ssa",
        "operands", "region", "junk", "opname", "move",
    ])
    lines = text.split("\n")
    idx = body_lines(lines)
    if kind == "delete":
        del lines[rng.choice(idx)]
    elif kind == "duplicate":
        i = rng.choice(idx)
        lines.insert(i + rng.choice([0, 1, 2]), lines[i])
    elif kind == "swap":
        i, j = rng.choice(idx), rng.choice(idx)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "move":
        i = rng.choice(idx)
        l = lines.pop(i)
        lines.insert(rng.randrange(len(lines) + 1), l)
    elif kind == "truncate":
        return kind, text[: rng.randrange(len(text) + 1)]
    elif kind == "type":
        return kind, sub_random(rng, text, r"\b(f32|f16|bf16|i1|i8|i16|i32|i64|f8E4M3FN|f8E5M2)\b",
                                lambda m: rng.choice(ELEM_TYPES))
    elif kind == "shape":
        return kind, sub_random(rng, text, r"(?<=[<x])\d+(?=x)",
                                lambda m: str(rng.choice([0, 1, 2, 3, 7, 16, 64, 128, 1024, 4096, 65536, 1 << 31])))
    elif kind == "int":
        return kind, sub_random(rng, text, r"(?<![%#\w.])-?\d+(?= : i\d+|\b)",
                                lambda m: str(rng.choice([0, 1, -1, 2, 3, 255, -2147483648, 2147483647, 4294967296,
                                                          int(m.group(0)) * 2 + 1, 10 ** 20])))
    elif kind == "float":
        return kind, sub_random(rng, text, r"-?\d+\.\d+(e[+-]?\d+)?|0x[0-9A-Fa-f]+",
                                lambda m: rng.choice(["0.0", "-0.0", "1e309", "nan", "0x7FC00000", "0xFFFF",
                                                      "0x1", "3.4e38", "1.5"]))
    elif kind == "attr":
        return kind, sub_random(rng, text, r"(\w+) = ([^,}>]+)",
                                lambda m: m.group(1) + " = " + rng.choice(
                                    ["0 : i32", "1 : i32", "-1 : i32", "7 : i32", "true", "false", "\"x\"",
                                     "array<i32: 0>", "array<i32: 1, 0>", "array<i32: 9, 9, 9>", m.group(2) + "x",
                                     "100000 : i32", "dense<1> : tensor<2xi32>"]))
    elif kind == "ssa":
        names = re.findall(r"%[\w.]+", text)
        if names:
            a, b = rng.choice(names), rng.choice(names + ["%nope", "%0", "%arg99"])
            return kind, sub_random(rng, text, re.escape(a) + r"\b", lambda m: b)
    elif kind == "operands":
        i = rng.choice(idx)
        l = lines[i]
        ops = list(re.finditer(r"%[\w.#]+", l.split("=", 1)[1] if "=" in l else l))
        if len(ops) >= 2:
            off = l.index("=") + 1 if "=" in l else 0
            a, b = rng.sample(ops, 2)
            if a.start() > b.start():
                a, b = b, a
            seg = l[off:]
            seg = seg[: a.start()] + b.group(0) + seg[a.end(): b.start()] + a.group(0) + seg[b.end():]
            lines[i] = l[:off] + seg
    elif kind == "region":
        cand = [i for i in idx if re.search(r"[{}]\s*$|^\s*\}|\^bb|yield|return", lines[i])]
        if cand:
            i = rng.choice(cand)
            r = rng.random()
            if r < 0.4:
                del lines[i]
            elif r < 0.7:
                lines.insert(i, lines[i])
            else:
                lines.insert(i, rng.choice(["{", "}", "  ^bb1:", "  scf.yield", "  tt.return", "({", "})"]))
    elif kind == "junk":
        pos = rng.randrange(len(text) + 1)
        return kind, text[:pos] + rng.choice(JUNK) + text[pos:]
    elif kind == "opname":
        return kind, sub_random(rng, text, r"\b(arith|tt|scf|math)\.\w+", lambda m: rng.choice(OPS + ["tt.frob"]))
    return kind, "\n".join(lines)


LOCATED = re.compile(r":\d+:\d+")
LAUNCH_WORDS = ("--arg", "--grid", "--out", "argument", "npy", "grid")


def launch_args(case_dir, meta, out_dir):
    a = ["--grid", ",".join(map(str, meta["grid"]))]
    for arg in meta["args"]:
        if "file" in arg:
            a += ["--arg", f"{arg['name']}={os.path.join(case_dir, arg['file'])}"]
            if "expected" in arg:
                a += ["--out", f"{arg['name']}={os.path.join(out_dir, arg['name'] + '.npy')}"]
        else:
            a += ["--arg", f"{arg['name']}={arg['value']}"]
    return a


def run1(cmd, timeout):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        return p.returncode, p.stderr.decode("utf-8", "replace") + p.stdout.decode("utf-8", "replace")[-2000:]
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout}s"


def judge(sub, rc, msg):
    if rc is None:
        return "hang"
    if rc not in (0, 1):
        return f"exit {rc}"
    if "panicked" in msg or "RUST_BACKTRACE" in msg:
        return "panic"
    if rc == 1:
        if not msg.strip():
            return "exit 1 without a message"
        if not LOCATED.search(msg):
            if sub in ("interp", "run") and any(w in msg for w in LAUNCH_WORDS):
                return None
            return "exit 1 without line:col"
    return None


def fuzz_one(n, args, corpus, machine):
    rng = random.Random(args.seed * 1_000_003 + n)
    case_dir, text, meta = rng.choice(corpus)
    kinds = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        k, text = mutate(rng, text)
        kinds.append(k)
    work = tempfile.mkdtemp(prefix="fz-")
    try:
        k = os.path.join(work, "kernel.ttir")
        with open(k, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        mach = ["--machine", machine] if machine else []
        results = []
        rc, msg = run1([args.maiac, "check", k], args.timeout)
        results.append(("check", rc, msg))
        if rc == 0:
            rc, msg = run1([args.maiac, "compile", k, "-o", os.path.join(work, "k.mbin")] + mach, args.timeout)
            results.append(("compile", rc, msg))
            outs = {}
            for sub in ("interp", "run"):
                extra = mach if sub == "run" else []
                d = os.path.join(work, sub)
                os.makedirs(d)
                rc, msg = run1([args.maiac, sub, k] + launch_args(case_dir, meta, d) + extra, args.timeout)
                results.append((sub, rc, msg))
                outs[sub] = (rc, {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))})
        findings = [(s, judge(s, rc, m), m) for s, rc, m in results if judge(s, rc, m)]
        if len(results) == 4 and not machine:
            (irc, iout), (rrc, rout) = outs["interp"], outs["run"]
            if irc != rrc:
                findings.append(("run", f"interp exits {irc} but run exits {rrc}", results[2][2] + results[3][2]))
            elif irc == 0 and iout != rout:
                findings.append(("run", "run writes different bytes than interp", ""))
        if findings:
            dest = os.path.join(args.out, f"m{n:06d}")
            os.makedirs(dest, exist_ok=True)
            shutil.copy(k, dest)
            with open(os.path.join(dest, "finding.txt"), "w") as f:
                f.write(f"case: {case_dir}\nmutations: {kinds}\n")
                for s, why, m in findings:
                    f.write(f"--- {s}: {why}\n{m[-3000:]}\n")
        return n, kinds, [r[:2] for r in results], [(s, w, m) for s, w, m in findings]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maiac", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")),
                                                    "release", "maiac"))
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--out", default="/tmp/fuzz-ttir")
    ap.add_argument("--machine", default=None)
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    dirs = args.cases or sorted(glob.glob(os.path.join(REPO, "tests/fixtures/kernels/*")) +
                                glob.glob(os.path.join(REPO, "tests/fixtures/corpus/*")) +
                                glob.glob("/work/shared/corpus/*"))
    corpus = cases(dirs)
    if not corpus:
        sys.exit("no case folders (kernel.ttir + case.json) found")
    os.makedirs(args.out, exist_ok=True)
    stats = {}
    nfind = 0
    reasons = {}
    with ThreadPoolExecutor(args.jobs) as ex:
        for n, kinds, results, findings in ex.map(lambda i: fuzz_one(i, args, corpus, args.machine),
                                                  range(args.count)):
            for s, rc in results:
                stats[(s, rc)] = stats.get((s, rc), 0) + 1
            if findings:
                nfind += 1
                for s, why, m in findings:
                    first = next((l for l in m.splitlines() if l.strip()), "")[:150]
                    reasons.setdefault((s, why), []).append((n, first))
                    print(f"FINDING m{n:06d} {kinds} {s}: {why}: {first}", flush=True)
    print("\nexit codes:", {f"{s}:{rc}": c for (s, rc), c in sorted(stats.items(), key=str)})
    print(f"{nfind} of {args.count} mutants gave findings (saved under {args.out})")
    for (s, why), items in sorted(reasons.items()):
        print(f"  {s}: {why}: {len(items)}  e.g. m{items[0][0]:06d}: {items[0][1]}")
    sys.exit(1 if nfind else 0)


if __name__ == "__main__":
    main()
