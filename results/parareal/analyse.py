#!/usr/bin/env python3
"""Analyse the Parareal benchmark of results/parareal/bench.sh.

    python3 results/parareal/analyse.py SCRATCH_DIR

Reads SCRATCH_DIR/{serial.h5, sweep/*.h5, wall/*.h5, runs.tsv, meta.txt} (written by bench.sh) and writes,
beside this script: bench.csv (one row per Parareal run of the sweep), wall.csv (the side-by-side timings
on 2 ranks) and parareal.png. Needs h5py, numpy, matplotlib (results only; not part of the build).

Error vs serial: the samples of a Parareal run minus those of the serial 1000-step DDIM run with the same
seed, over all samples x elements, in float64: error_rms = sqrt(mean(d^2)), error_max = max|d|;
samples_off = samples whose max|d| exceeds 1e-3.
runahead_nfe = total_nfe - init_nfe - sum(/convergence/nfe): model evaluations outside the K logged
iterations, i.e. fine solves that ranks started for iterations after the stop (pipelined only; how many
depends on how the OS schedules oversubscribed ranks).

Cost models (ALGORITHMS.md §7.3; n_F = 1 for DDIM; one coarse step per block, g_b NFE for block b:
1 for ddim, 2 for dpm-solver-2 except 1 for the last block, whose step ends at sigma = 0):
  model_cp_nfe   the §7.3 formulas with the measured K: not pipelined
                 sum_b g_b + sum_{k=1..K} (f + sum_{b>=k} g_b)   (f = longest block);
                 pipelined: tau(B, K) of tau(b+1, k+1) = max(tau(b, k) + f_b, tau(b, k+1) + g_b),
                 tau(0, .) = 0, tau(b, 0) = sum_{j<b} g_j  (fine solves overlap the initial sweep).
  sched_cp_nfe   the same clock replayed with the schedule mpi/parareal.c runs (one block per rank):
                 all ranks meet after the initial sweep; in iteration k a rank first runs its fine
                 solve (if its start changed in the last sweep), then its part of the sweep (receive
                 U_b, coarse if U_b changed bitwise, read off /convergence/residual, send); not
                 pipelined: all ranks meet after every iteration; pipelined: a rank starts its next
                 fine solve right after its own sweep. It should equal the measured
                 critical_path_nfe (a check of the clock), and shows what the model leaves out.
"""
import csv
import math
import os
import re
import sys

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N_STEPS = 1000
OFF_THRESHOLD = 1e-3


def read_meta(scratch):
    meta = {}
    path = os.path.join(scratch, "meta.txt")
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def read_runs(scratch):
    """name -> (np, rc, elapsed_s, loadavg_1min_before) from runs.tsv (the last entry of a name wins)."""
    runs = {}
    path = os.path.join(scratch, "runs.tsv")
    if os.path.exists(path):
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 5:
                runs[f[0]] = (int(f[1]), int(f[2]), float(f[3]), float(f[4]))
    return runs


def attr(h, k):
    v = h.attrs[k]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode()
    return v


def load(path):
    with h5py.File(path, "r") as h:
        d = {k: attr(h, k) for k in h.attrs.keys() if k != "config"}
        d["samples"] = h["samples"][...].astype(np.float64)
        if "convergence" in h:
            d["residual"] = h["convergence/residual"][...]
            d["rank_nfe"] = h["convergence/nfe"][...]
    return d


def blocks(B, N=N_STEPS):
    nb = [(b * N) // B for b in range(B + 1)]
    return [nb[b + 1] - nb[b] for b in range(B)]


def coarse_nfe(coarse, B):
    if coarse == "ddim" or coarse == "dpmpp-2m":
        return [1] * B
    if coarse in ("dpm-solver-2", "heun"):
        return [2] * (B - 1) + [1]  # the last block's step ends at sigma = 0: one evaluation
    raise ValueError(coarse)


def model_cp(B, K, coarse, pipeline):
    fb, g = blocks(B), coarse_nfe(coarse, B)
    if not pipeline:
        return sum(g) + sum(max(fb) + sum(g[k:]) for k in range(1, K + 1))
    tau = [[0] * (K + 1) for _ in range(B + 1)]
    for b in range(1, B + 1):
        tau[b][0] = tau[b - 1][0] + g[b - 1]
    for k in range(1, K + 1):
        for b in range(B):
            tau[b + 1][k] = max(tau[b][k - 1] + fb[b], tau[b][k] + g[b])
    return tau[B][K]


def sched_cp(B, K, coarse, pipeline, res):
    """Replay of mpi/parareal.c's NFE clock with one block per rank (rank b owns block b). The start of
    block b >= 1 changed in the sweep of iteration k iff res[k-1, b-1] != 0 (the residual is the RMS
    change of block b-1's end state, which is block b's start): only then does the sweep run a coarse
    solve for block b, and only then is block b's fine solve redone in iteration k+1."""
    fb, g = blocks(B), coarse_nfe(coarse, B)

    def changed(b, k):  # start of block b changed in the sweep of iteration k (0: the initial sweep)
        return k == 0 or (b >= 1 and res[k - 1, b - 1] != 0.0)

    t0 = sum(g)  # initial coarse chain, then all ranks meet (allreduce of the clock)
    s = [t0] * B  # clock of rank b after its sweep of the previous iteration
    for k in range(1, K + 1):
        e = [s[b] + (fb[b] if changed(b, k - 1) else 0) for b in range(B)]
        prev = None
        for b in range(B):
            t = e[b] if prev is None else max(e[b], prev)
            t += g[b] if changed(b, k) else 0
            s[b] = t
            prev = t
        if not pipeline:
            m = max(s)
            s = [m] * B
    return s[B - 1] if pipeline else s[0]


def err(x, ref):
    d = x - ref
    per = np.abs(d).reshape(d.shape[0], -1).max(axis=1)
    return math.sqrt(float(np.mean(d * d))), float(np.abs(d).max()), int((per > OFF_THRESHOLD).sum())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    scratch = sys.argv[1]
    meta, runs = read_meta(scratch), read_runs(scratch)
    ref = load(os.path.join(scratch, "serial.h5"))
    serial_nfe, serial_wall = int(ref["nfe"]), float(ref["wall_s"])
    assert int(ref["steps"]) == N_STEPS and serial_nfe == N_STEPS

    rows = []
    for coarse in ("ddim", "dpm-solver-2"):
        for pipe in ("false", "true"):
            for B in (2, 4, 8, 16, 32):
                name = f"B{B}-{coarse}-pipe-{pipe}"
                path = os.path.join(scratch, "sweep", name + ".h5")
                rc = runs.get("sweep/" + name, (B, None, None, None))[1]
                row = dict(B=B, ranks=B, pipeline=pipe, coarse=coarse, serial_nfe=serial_nfe,
                           serial_wall_s=f"{serial_wall:.3f}")
                if not os.path.exists(path):
                    row.update(stop=f"failed rc={rc}")
                    rows.append(row)
                    continue
                d = load(path)
                assert int(d["blocks"]) == B and int(d["n_ranks"]) == B and str(d["coarse"]) == coarse
                assert bool(int(d["pipeline"])) == (pipe == "true")
                K = int(d["iterations"])
                res = d["residual"].max(axis=1)
                tol = float(d["tol"])
                e_rms, e_max, off = err(d["samples"], ref["samples"])
                cp = int(d["critical_path_nfe"])
                row.update(
                    iterations=K,
                    stop="k=B (exact)" if K == B else ("tol" if res[-1] < tol else "max_iters"),
                    final_max_residual=f"{res[-1]:.3e}",
                    critical_path_nfe=cp,
                    nfe_speedup=f"{serial_nfe / cp:.3f}",
                    init_nfe=int(d["init_nfe"]),
                    model_cp_nfe=model_cp(B, K, coarse, pipe == "true"),
                    sched_cp_nfe=sched_cp(B, K, coarse, pipe == "true", d["residual"]),
                    total_nfe=int(d["total_nfe"]),
                    runahead_nfe=int(d["total_nfe"]) - int(d["init_nfe"]) - int(d["rank_nfe"].sum()),
                    wall_s=f"{float(d['wall_s']):.3f}",
                    error_rms=f"{e_rms:.3e}",
                    error_max=f"{e_max:.3e}",
                    samples_off=off,
                    commit=d["git_commit"],
                )
                row["_res"] = res
                rows.append(row)

    cols = ["B", "ranks", "pipeline", "coarse", "iterations", "stop", "final_max_residual", "critical_path_nfe",
            "serial_nfe", "nfe_speedup", "init_nfe", "model_cp_nfe", "sched_cp_nfe", "total_nfe", "runahead_nfe", "wall_s",
            "serial_wall_s", "error_rms", "error_max", "samples_off", "commit"]
    with open(os.path.join(HERE, "bench.csv"), "w", newline="") as f:
        f.write(f"# bash results/parareal/bench.sh {meta.get('binary', '?')}; {meta.get('date', '?')}; "
                f"{meta.get('version', '?')}; {meta.get('cpu', '?')}, {meta.get('nproc', '?')} cores, ranks "
                f"oversubscribed; samples={meta.get('samples', '?')}; loadavg {meta.get('loadavg_start', '?')} -> "
                f"{meta.get('loadavg_end', '?')}; sweep+timing {meta.get('bench_s', '?')} s\n")
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)

    # side by side on 2 ranks
    wall = []
    ref_best = None
    for cfg, np_, label in (("serial-np1", 1, "serial, 1 rank"), ("serial-np2", 2, "serial, 2 ranks (samples split)"),
                            ("B2-ddim-pipe-false", 2, "parareal B=2, not pipelined"),
                            ("B2-ddim-pipe-true", 2, "parareal B=2, pipelined")):
        ws, ext, cps, its, emax, loads = [], [], [], [], [], []
        r = 1
        while os.path.exists(os.path.join(scratch, "wall", f"{cfg}-r{r}.h5")):
            d = load(os.path.join(scratch, "wall", f"{cfg}-r{r}.h5"))
            ws.append(float(d["wall_s"]))
            info = runs.get(f"wall/{cfg}-r{r}", (0, 0, float("nan"), float("nan")))
            ext.append(info[2])
            loads.append(info[3])
            cps.append(int(d.get("critical_path_nfe", d["nfe"])))
            its.append(int(d.get("iterations", 0)))
            emax.append(err(d["samples"], ref["samples"])[1])
            r += 1
        if not ws:
            wall.append(dict(run=label, ranks=np_, repeats=0))
            continue
        best = min(ws)
        if cfg == "serial-np1":
            ref_best = best
        wall.append(dict(run=label, ranks=np_, repeats=len(ws), wall_s_each=" ".join(f"{x:.3f}" for x in ws),
                         wall_s_best=f"{best:.3f}", elapsed_s_best=f"{min(ext):.3f}",
                         speedup_vs_serial_1rank=f"{ref_best / best:.3f}" if ref_best else "",
                         iterations=its[0], critical_path_nfe=cps[0], error_max=f"{max(emax):.3e}",
                         loadavg_before=" ".join(f"{x:.2f}" for x in loads)))
    with open(os.path.join(HERE, "wall.csv"), "w", newline="") as f:
        f.write(f"# bash results/parareal/bench.sh; {meta.get('date', '?')}; {meta.get('version', '?')}; "
                f"{meta.get('cpu', '?')}, {meta.get('nproc', '?')} cores; wall_s = the job's wall_s attribute "
                f"(set-up, sampling, writing; not mpirun start-up); elapsed_s = the whole mpirun; best of the repeats; "
                f"loadavg_before = 1-min load average of the shared machine before each repeat\n")
        w = csv.DictWriter(f, fieldnames=["run", "ranks", "repeats", "wall_s_each", "wall_s_best", "elapsed_s_best",
                                          "speedup_vs_serial_1rank", "iterations", "critical_path_nfe",
                                          "error_max", "loadavg_before"])
        w.writeheader()
        for r in wall:
            w.writerow(r)

    plot(rows, serial_nfe, meta)
    for r in rows:
        print(" ".join(f"{c}={r.get(c, '')}" for c in cols[:16]))
    for r in wall:
        print(r)


def plot(rows, serial_nfe, meta):
    ok = [r for r in rows if "critical_path_nfe" in r]
    Bs = [2, 4, 8, 16, 32]
    style = {("ddim", "false"): dict(color="C0", marker="o", ls="-"),
             ("ddim", "true"): dict(color="C0", marker="s", ls="--"),
             ("dpm-solver-2", "false"): dict(color="C3", marker="o", ls="-"),
             ("dpm-solver-2", "true"): dict(color="C3", marker="s", ls="--")}

    def label(c, p):
        return f"coarse {c}, {'pipelined' if p == 'true' else 'not pipelined'}"

    fig, ax = plt.subplots(2, 2, figsize=(12.5, 9.5))
    a = ax[0, 0]
    for (c, p), st in style.items():
        sel = sorted((r for r in ok if r["coarse"] == c and r["pipeline"] == p), key=lambda r: r["B"])
        a.plot([r["B"] for r in sel], [r["critical_path_nfe"] for r in sel], label=label(c, p), **st)
        a.plot([r["B"] for r in sel], [r["model_cp_nfe"] for r in sel], color=st["color"], ls=st["ls"],
               marker="x", lw=0.8, alpha=0.5, ms=7)
    a.axhline(serial_nfe, color="k", lw=1.2)
    a.text(2, serial_nfe * 1.04, f"serial DDIM: {serial_nfe} NFE", fontsize=9)
    a.plot([], [], color="gray", marker="x", lw=0.8, alpha=0.6, label="§7.3 cost model at the measured K")
    a.set(xscale="log", xticks=Bs, xticklabels=Bs, xlabel="blocks B (= ranks)", ylabel="NFE on the critical path",
          title="Critical-path NFE (1000-step DDIM fine solver)", ylim=(0, serial_nfe * 1.15))
    a.xaxis.set_minor_formatter(NullFormatter())
    a.legend(fontsize=8, loc="lower left")
    a.grid(alpha=0.3)

    a = ax[0, 1]
    for (c, p), st in style.items():
        sel = sorted((r for r in ok if r["coarse"] == c and r["pipeline"] == p), key=lambda r: r["B"])
        a.plot([r["B"] for r in sel], [float(r["nfe_speedup"]) for r in sel], label=label(c, p), **st)
    a.axhline(1.0, color="k", lw=1.2)
    a.set(xscale="log", xticks=Bs, xticklabels=Bs, xlabel="blocks B (= ranks)",
          ylabel="serial NFE / critical-path NFE", title="NFE speedup (ideal: one core per rank)")
    a.xaxis.set_minor_formatter(NullFormatter())
    a.legend(fontsize=8)
    a.grid(alpha=0.3)

    a = ax[1, 0]
    w = 0.18
    for i, (c, p) in enumerate(style):
        sel = sorted((r for r in ok if r["coarse"] == c and r["pipeline"] == p), key=lambda r: r["B"])
        xs = [Bs.index(r["B"]) + (i - 1.5) * w for r in sel]
        a.bar(xs, [r["iterations"] for r in sel], width=w, color=style[(c, p)]["color"],
              alpha=1.0 if p == "false" else 0.45, label=label(c, p))
    a.plot(range(3), Bs[:3], "k_", ms=30, mew=1.5, label="K = B (the exact serial result; no gain possible)")
    for i in (3, 4):
        a.text(i, 8.6, f"K = B = {Bs[i]}\n(off scale)", ha="center", fontsize=8)
    a.set(xticks=range(len(Bs)), xticklabels=Bs, xlabel="blocks B", ylabel="iterations K to tol 1e-3",
          title="Iterations K to tol 1e-3 (pipelined: same K)", ylim=(0, 14))
    a.legend(fontsize=8, loc="upper left", ncol=2)
    a.grid(alpha=0.3, axis="y")

    a = ax[1, 1]
    cols = {4: "C2", 8: "C1", 16: "C4", 32: "C5"}
    for r in ok:
        if r["pipeline"] != "false" or r["B"] not in cols:
            continue
        res = r["_res"]
        a.semilogy(range(1, len(res) + 1), np.maximum(res, 1e-30), color=cols[r["B"]],
                   ls="-" if r["coarse"] == "ddim" else "--", marker="o" if r["coarse"] == "ddim" else "^",
                   label=f"B={r['B']}, coarse {r['coarse']}")
    a.axhline(1e-3, color="k", lw=1, ls=":")
    a.set_ylim(1e-7, 1.0)
    a.text(1, 1.3e-3, "tol", fontsize=9)
    a.set(xlabel="iteration k", ylabel="max over blocks of RMS change of the block end state",
          title="Convergence (not pipelined; pipelined is identical)")
    a.legend(fontsize=8, ncol=2, loc="lower left")
    a.grid(alpha=0.3)

    fig.suptitle(f"Parareal on digits, 1000-step DDIM, {meta.get('samples', '?')} samples, "
                 f"{meta.get('version', '')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "parareal.png"), dpi=110)


if __name__ == "__main__":
    main()
