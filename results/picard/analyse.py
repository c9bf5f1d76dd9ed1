#!/usr/bin/env python3
"""Picard benchmark analysis: reads the .h5 files of results/picard/bench.sh and writes, beside this
script, bench.csv (one row per run), compare.csv (the cheapest run of each method at a given accuracy),
table.md (the Markdown tables of README.md) and picard.png.

    python3 analyse.py SCRATCH      (SCRATCH: the bench's scratch folder, with runs/ and runs.tsv)

Definitions (README.md): critical-path NFE = model calls in sequence (the attribute critical_path_nfe);
total NFE = time points evaluated on all ranks (Picard's total_nfe attribute; for Parareal, whose
total_nfe counts batched calls, the block-step evaluations of ALGORITHMS.md §7.3 at the measured
iteration count); error = run samples minus serial samples over all samples x elements (float64);
moved = samples with some element off by more than 0.1 (a sample that landed elsewhere: another
training image on digits, another mode on the ring)."""
import csv
import math
import os
import re
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N_STEPS = 1000


def attr(f, name, default=None):
    v = f.attrs.get(name, default)
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def parareal_work(f, n_steps):
    """Block-step evaluations of lock-step Parareal (ALGORITHMS.md §7.3) at the measured K: the initial
    coarse sweep (B steps), then in iteration k the fine solves of blocks k-1 .. B-1 and the coarse
    steps of blocks k .. B-1 (one coarse step per block, one NFE per step)."""
    B, K = int(attr(f, "blocks")), int(attr(f, "iterations"))
    n = [b * n_steps // B for b in range(B + 1)]
    f_b = [n[b + 1] - n[b] for b in range(B)]
    work = B
    for k in range(1, K + 1):
        work += sum(f_b[k - 1:]) + (B - k)
    return work


def load_runs(scratch):
    runs = {}
    with open(os.path.join(scratch, "runs.tsv")) as fh:
        for line in fh:
            name, np_, rc, elapsed, _args = line.rstrip("\n").split("\t", 4)
            runs[name] = {"np": int(np_), "rc": int(rc), "elapsed_s": float(elapsed)}
    return runs


def describe(name):
    """digits-ddim-picard-w8-tol1e-1 -> (digits, ddim, picard, 'w8', 1e-1)"""
    m = re.fullmatch(r"([a-z0-9]+)-([a-z]+)-(serial|picard|block|parareal)(?:-(\w+)-tol([0-9.e+-]+))?", name)
    data, solver, method, size, tol = m.groups()
    if method == "serial":
        return data, solver, "serial", "", float("nan")
    return data, solver, "block-picard" if method == "block" else method, size, float(tol)


def main(scratch):
    runs = load_runs(scratch)
    serial, rows = {}, []
    for name in sorted(runs):
        path = os.path.join(scratch, "runs", name + ".h5")
        if runs[name]["rc"] != 0 or not os.path.exists(path):
            print(f"skipped {name}: rc {runs[name]['rc']}")
            continue
        data, solver, method, size, tol = describe(name)
        with h5py.File(path, "r") as f:
            x = f["samples"][:].astype(np.float64)
            row = {"data": data, "solver": solver, "method": method, "size": size, "tol": tol,
                   "ranks": runs[name]["np"], "wall_s": attr(f, "wall_s"), "commit": attr(f, "git_commit"),
                   "sw2": float(f["metrics/sw2"][()]) if "metrics/sw2" in f else math.nan,
                   "mmd2": float(f["metrics/mmd2"][()]) if "metrics/mmd2" in f else math.nan}
            if method == "serial":
                serial[(data, solver)] = (x, row)
                row.update(iterations=0, critical_nfe=N_STEPS, total_nfe=N_STEPS)
            else:
                row["iterations"] = int(attr(f, "iterations"))
                row["critical_nfe"] = int(attr(f, "critical_path_nfe"))
                row["total_nfe"] = (parareal_work(f, N_STEPS) if method == "parareal"
                                    else int(attr(f, "total_nfe")))
            row["x"] = x
        rows.append(row)
    for r in rows:
        xs, sr = serial[(r["data"], r["solver"])]
        d = r.pop("x") - xs
        r["err_rms"] = float(np.sqrt(np.mean(d * d)))
        r["err_max"] = float(np.abs(d).max())
        per_sample = np.abs(d).reshape(d.shape[0], -1).max(axis=1)
        r["moved"] = float(np.mean(per_sample > 0.1))
        r["nfe_speedup"] = N_STEPS / r["critical_nfe"]
        r["work"] = r["total_nfe"] / N_STEPS
        r["serial_wall_s"] = sr["wall_s"]
    keys = ["data", "solver", "method", "size", "tol", "ranks", "iterations", "critical_nfe", "nfe_speedup",
            "total_nfe", "work", "err_rms", "err_max", "moved", "sw2", "mmd2", "wall_s", "serial_wall_s", "commit"]
    with open(os.path.join(HERE, "bench.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    compare = best_at_accuracy(rows)
    with open(os.path.join(HERE, "compare.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["data", "solver", "target_rms", "method", "size", "tol",
                                           "critical_nfe", "nfe_speedup", "total_nfe", "err_rms", "moved"])
        w.writeheader()
        for r in compare:
            w.writerow(r)
    write_tables(rows, compare)
    plot(rows)


def best_at_accuracy(rows, targets=(1e-2, 1e-4)):
    """For each data set, solver and target: the run of each method with the fewest model calls in
    sequence among those whose RMS error vs serial is <= target and no sample of which moved (ties: less
    total work)."""
    out = []
    for data in ("digits", "ring8"):
        for solver in ("ddim", "ddpm"):
            for t in targets:
                for method in ("picard", "block-picard", "parareal"):
                    ok = [r for r in rows if (r["data"], r["solver"], r["method"]) == (data, solver, method)
                          and r["err_rms"] <= t and r["moved"] == 0]
                    if not ok:
                        out.append({"data": data, "solver": solver, "target_rms": t, "method": method,
                                    "size": "none reached it"})
                        continue
                    b = min(ok, key=lambda r: (r["critical_nfe"], r["total_nfe"]))
                    out.append({"data": data, "solver": solver, "target_rms": t, "method": method,
                                "size": b["size"], "tol": b["tol"], "critical_nfe": b["critical_nfe"],
                                "nfe_speedup": round(b["nfe_speedup"], 2), "total_nfe": b["total_nfe"],
                                "err_rms": b["err_rms"], "moved": b["moved"]})
    return out


def g(x, digits=2):
    if isinstance(x, float) and math.isnan(x):
        return "-"
    if x == 0:
        return "0"
    return f"{x:.{digits}e}" if abs(x) < 1e-2 or abs(x) >= 1e4 else f"{x:.{digits + 1}g}"


def write_tables(rows, compare):
    lines = []
    for data in ("digits", "ring8"):
        for solver in ("ddim", "ddpm"):
            sel = [r for r in rows if r["data"] == data and r["solver"] == solver]
            ser = [r for r in sel if r["method"] == "serial"][0]
            lines.append(f"\n#### {data}, {solver} (serial: 1000 NFE, {ser['wall_s']:.1f} s on 1 rank"
                         + (f", sw2 {g(ser['sw2'])}, mmd2 {g(ser['mmd2'])}" if data == "ring8" else "") + ")\n")
            head = "| method | window / blocks | tol | K | critical-path NFE | NFE speedup | total NFE | work | " \
                   "error rms | error max | moved |" + (" sw2 | mmd2 |" if data == "ring8" else "") + " wall s |"
            lines.append(head)
            lines.append("|" + "---|" * (head.count("|") - 1))
            for r in sel:
                if r["method"] == "serial":
                    continue
                cells = [r["method"], r["size"], f"{r['tol']:g}", str(r["iterations"]), str(r["critical_nfe"]),
                         f"{r['nfe_speedup']:.1f}", str(r["total_nfe"]), f"{r['work']:.1f}", g(r["err_rms"]),
                         g(r["err_max"]), f"{r['moved']:.3f}"]
                if data == "ring8":
                    cells += [g(r["sw2"]), g(r["mmd2"])]
                cells.append(f"{r['wall_s']:.1f}")
                lines.append("| " + " | ".join(cells) + " |")
    lines.append("\n#### Cheapest run of each method at a given accuracy (RMS error vs serial <= target, no sample "
                 "moved)\n")
    lines.append("| data | solver | target | method | window / blocks, tol | critical-path NFE | NFE speedup | "
                 "total NFE | error rms | moved |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for c in compare:
        if "critical_nfe" not in c:
            lines.append(f"| {c['data']} | {c['solver']} | {c['target_rms']:g} | {c['method']} | none reached it "
                         "| | | | | |")
            continue
        lines.append(f"| {c['data']} | {c['solver']} | {c['target_rms']:g} | {c['method']} | {c['size']}, "
                     f"{c['tol']:g} | {c['critical_nfe']} | {c['nfe_speedup']} | {c['total_nfe']} | "
                     f"{g(c['err_rms'])} | {c['moved']:.3f} |")
    with open(os.path.join(HERE, "table.md"), "w") as fh:
        fh.write("\n".join(lines).lstrip() + "\n")


def plot(rows):
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    style = {"picard": ("o", None), "block-picard": ("s", None), "parareal": ("^", "black")}
    wcol = {"w8": "tab:blue", "w32": "tab:orange", "w128": "tab:green", "w1000": "tab:red", "B10": "tab:brown",
            "B40": "tab:gray"}
    floor = 1e-12
    for ax, (data, solver) in zip(axes.flat, [(d, s) for d in ("digits", "ring8") for s in ("ddim", "ddpm")]):
        sel = [r for r in rows if r["data"] == data and r["solver"] == solver and r["method"] != "serial"]
        seen = set()
        for r in sel:
            marker, col = style[r["method"]]
            col = col or wcol.get(r["size"], "tab:purple")
            label = f"{r['method']} {r['size']}" if r["method"] != "parareal" else "parareal B32"
            ax.scatter(r["critical_nfe"], max(r["err_rms"], floor), marker=marker, color=col,
                       s=20 + 60 * {1e-1: 0, 1e-2: 1, 1e-3: 2}.get(r["tol"], 0), alpha=0.8,
                       label=None if label in seen else label)
            seen.add(label)
        ax.axvline(N_STEPS, color="k", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("critical-path NFE (serial: 1000)")
        ax.set_ylabel(f"RMS error vs serial (0 drawn at {floor:g})")
        ax.set_title(f"{data}, 1000-step {solver}")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Picard (sliding window, block-wise) and Parareal: sequential model calls vs error "
                 "(marker size: tol 1e-1 < 1e-2 < 1e-3)")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "picard.png"), dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
