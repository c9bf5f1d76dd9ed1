#!/usr/bin/env python3
"""Analyse the integrator benchmark of results/integrators/bench.sh.

    python3 results/integrators/analyse.py SCRATCH_DIR

Reads SCRATCH_DIR/{gauss/gauss.csv, ring8/*.h5, ring8-li/*.h5, ring8-psld/*.h5, digits/*.h5, parareal/*.h5, runs.tsv,
meta.txt}
and writes, beside this script: gauss.csv, dist.csv, parareal.csv, integrators.png; prints the Markdown tables of
README.md (also written to SCRATCH_DIR/tables.md). Needs numpy, matplotlib, h5py (results only, not the build).

gauss.csv   the rows of pd-bench-integrators (schedule, solver, N, nfe, metric, value, order) plus
            order_nlogn = log(|e_prev| / |e|) / log((N / log N) / (N_prev / log N_prev)): the order in the step
            count measured against N / log N, the natural variable of the li schedule with T = N (its steps in
            log-SNR shrink like log T / T); on the other schedules it is only a second reading of the same data.
dist.csv    one row per CLI run: dataset (ring8, ring8-li, ring8-psld, digits), solver (spec), N, nfe, the
            /metrics of the file (the numbers `pintdiff info` prints; psld: of the x half), and for ring8 the
            pathwise RMS distance of the samples to the reference run (dpm-solver-2, 1000 steps, same exact
            start), for ring8-psld that of the x half to the psld-nvv 4000-step run (same prior start),
            and path_median_vs_ref, the median over samples of the Euclidean distance to the reference sample
            (the RMS counts the few samples that the coarse run sends to another component; the median does
            not); deterministic solvers only: a stochastic solver's samples are not a function of the start;
            wall_s, git_commit.
parareal.csv one row per Parareal run: coarse, coarse_steps, blocks, iterations K, stop (tol / k=B), the first and
            final maximum block residual, critical_path_nfe, NFE speedup = serial steps / critical_path_nfe,
            init_nfe, total_nfe, error (rms, max) of the samples vs the serial 1000-step DDIM run, git_commit.
"""
import csv
import glob
import math
import os
import re
import sys
from collections import defaultdict

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEDULES = ["vp-linear uniform", "vp-linear logsnr", "ddpm-linear linspace", "li c0=2 c1=4 T=N"]
PSLD_SCHEDULE = "psld uniform"
PSLD_STOCHASTIC = ["psld-em", "psld-sscs", "psld-noba", "psld-roba"]
PSLD_DETERMINISTIC = ["psld-ode-euler", "psld-rvv", "psld-nvv"]
STOCHASTIC = {"ddpm", "ddim:eta=1", "li-ddpm", "accel-ddpm"} | set(PSLD_STOCHASTIC)
DIST_SETS = ("ring8", "ring8-li", "ring8-psld", "digits")
# colours per solver family; baselines dark and dashed
STYLE = {
    "ddim": ("k", "-", "o"),
    "euler": ("0.6", ":", "x"),
    "heun": ("tab:olive", "-", "^"),
    "dpm-solver-2": ("tab:green", "-", "s"),
    "dpmpp-2m": ("tab:cyan", "-", "D"),
    "li-ddim": ("0.4", "--", "v"),
    "accel-ddim": ("tab:red", "-", "o"),
    "conjugate-ddim:conj_lambda=-2": ("tab:purple", ":", "<"),
    "conjugate-ddim:conj_lambda=-1": ("tab:purple", "-", "<"),
    "conjugate-ddim:conj_lambda=-0.5": ("tab:pink", "-", ">"),
    "conjugate-ddim:conj_lambda=0.5": ("tab:brown", "-", ">"),
    "conjugate-ddim:conj_lambda=1": ("tab:brown", ":", "<"),
    "conjugate-2": ("tab:olive", "--", "P"),
    "conjugate-2:conj_lambda=-1": ("tab:blue", "-", "P"),
    "conjugate-2:conj_lambda=-0.5": ("tab:blue", "--", "X"),
    "conjugate-2:conj_lambda=0.5": ("tab:blue", ":", "X"),
    "ddpm": ("k", "--", "o"),
    "ddim:eta=1": ("0.6", ":", "x"),
    "li-ddpm": ("0.4", "--", "v"),
    "accel-ddpm": ("tab:orange", "-", "o"),
    "psld-em": ("k", "--", "o"),
    "psld-sscs": ("0.5", "--", "s"),
    "psld-noba": ("tab:purple", "-", "^"),
    "psld-roba": ("tab:red", "-", "o"),
    "psld-ode-euler": ("k", "-", "o"),
    "psld-nvv": ("tab:purple", "-.", "v"),
    "psld-rvv": ("tab:red", "-.", "s"),
}


def style(s):
    return STYLE.get(s, ("tab:blue", "-", "*"))


def short(s):
    return s.replace("conjugate-ddim:conj_lambda=", "conj λ=").replace("conjugate-2:conj_lambda=", "conj-2 λ=")


def read_meta(scratch):
    meta = {}
    p = os.path.join(scratch, "meta.txt")
    if os.path.exists(p):
        for line in open(p):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def attr(h, k, default=None):
    if k not in h.attrs:
        return default
    v = h.attrs[k]
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(())[()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode()
    return v


# ----- Gaussian -----


def gauss(scratch):
    src = os.path.join(scratch, "gauss", "gauss.csv")
    header = [l for l in open(src) if l.startswith("#")]
    rows = list(csv.DictReader(l for l in open(src) if not l.startswith("#")))
    prev = {}
    for r in rows:
        r["N"], r["nfe"], r["value"] = int(r["N"]), int(r["nfe"]), float(r["value"])
        key = (r["schedule"], r["solver"], r["metric"])
        o = ""
        if key in prev and prev[key][1] != 0 and r["value"] != 0:
            n0, v0 = prev[key]
            x0, x1 = n0 / math.log(n0), r["N"] / math.log(r["N"])
            o = f"{math.log(abs(v0) / abs(r['value'])) / math.log(x1 / x0):.3f}"
        r["order_nlogn"] = o
        prev[key] = (r["N"], r["value"])
    out = os.path.join(HERE, "gauss.csv")
    with open(out, "w", newline="") as f:
        for l in header:
            f.write(l)
        w = csv.writer(f)
        cols = ["schedule", "solver", "N", "nfe", "metric", "value", "order", "order_nlogn"]
        w.writerow(cols)
        for r in rows:
            w.writerow([r["schedule"], r["solver"], r["N"], r["nfe"], r["metric"], f"{r['value']:.6e}", r["order"],
                        r["order_nlogn"]])
    g = defaultdict(list)
    for r in rows:
        g[(r["schedule"], r["solver"], r["metric"])].append(r)
    return g


def gauss_tables(g):
    md = []
    solvers = []
    for (s, sol, m) in g:
        if s in SCHEDULES and sol not in solvers:
            solvers.append(sol)

    def cell(s, sol, m, N):
        for r in g.get((s, sol, m), []):
            if r["N"] == N:
                return r
        return None

    md.append("### Observed orders, N = 320 → 640 (deterministic: path_rms; stochastic: tv)\n")
    md.append("| solver | " + " | ".join(SCHEDULES) + " | li, vs N/log N |")
    md.append("| --- |" + " ---: |" * (len(SCHEDULES) + 1))
    for sol in solvers:
        m = "tv" if sol in STOCHASTIC else "path_rms"
        cells = []
        for s in SCHEDULES:
            r = cell(s, sol, m, 640)
            cells.append(r["order"] if r and r["order"] else "—")
        r = cell(SCHEDULES[3], sol, m, 640)
        cells.append(r["order_nlogn"] if r and r["order_nlogn"] else "—")
        md.append(f"| {sol} | " + " | ".join(cells) + " |")
    md.append("")
    for s in SCHEDULES:
        md.append(f"### {s}: error at N = 10, 40, 160, 640 (deterministic: path_rms; stochastic: tv), "
                  "orders per doubling\n")
        md.append("| solver | NFE at N = 640 | N = 10 | 40 | 160 | 640 | orders 10→20 … 320→640 |")
        md.append("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for sol in solvers:
            m = "tv" if sol in STOCHASTIC else "path_rms"
            rs = g.get((s, sol, m), [])
            if not rs:
                continue
            by = {r["N"]: r for r in rs}
            vals = [f"{abs(by[N]['value']):.2e}" if N in by else "—" for N in (10, 40, 160, 640)]
            orders = " ".join(r["order"] for r in rs if r["order"])
            md.append(f"| {sol} | {by[640]['nfe'] if 640 in by else '—'} | " + " | ".join(vals) + f" | {orders} |")
        md.append("")
    md.append("### Stochastic solvers: relative error of the final variance (signed) and TV, exact law\n")
    md.append("| schedule | solver | var_rel N = 10 | 40 | 160 | 640 | tv N = 640 | kl N = 640 |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in SCHEDULES:
        for sol in solvers:
            if sol not in STOCHASTIC or sol == "ddim:eta=1":
                continue
            by = {r["N"]: r for r in g.get((s, sol, "var_rel"), [])}
            tv = {r["N"]: r for r in g.get((s, sol, "tv"), [])}
            kl = {r["N"]: r for r in g.get((s, sol, "kl"), [])}
            vals = [f"{by[N]['value']:+.2e}" if N in by else "—" for N in (10, 40, 160, 640)]
            md.append(f"| {s} | {sol} | " + " | ".join(vals) +
                      f" | {tv[640]['value']:.2e} | {kl[640]['value']:.2e} |")
    md.append("")
    return md


def at_nfe(rs, nfe):
    """|value| at a given NFE by log-log interpolation between the measured points (None outside them)"""
    pts = sorted((r["nfe"], abs(r["value"])) for r in rs)
    for (n0, v0), (n1, v1) in zip(pts, pts[1:]):
        if n0 <= nfe <= n1 and v0 > 0 and v1 > 0:
            if n0 == n1:
                return v0
            f = math.log(nfe / n0) / math.log(n1 / n0)
            return math.exp(math.log(v0) + f * (math.log(v1) - math.log(v0)))
    for n, v in pts:
        if n == nfe:
            return v
    return None


def psld_tables(g):
    """the PSLD Gaussian tables: KL / TV vs NFE (em baseline), pathwise error vs NFE (ode-euler baseline)"""
    md = []
    s = PSLD_SCHEDULE
    Ns = sorted({r["N"] for (sch, sol, m), rs in g.items() if sch == s for r in rs})
    if not Ns:
        return md
    for title, sols, metrics, base in (
            ("stochastic samplers: KL / TV of the x-marginal (exact law)", PSLD_STOCHASTIC, ("kl", "tv"),
             "psld-em"),
            ("deterministic samplers: pathwise RMS error of x / TV of the x-marginal (exact law)", PSLD_DETERMINISTIC,
             ("path_rms", "tv"), "psld-ode-euler")):
        md.append(f"### PSLD Gaussian, {title}\n")
        md.append("| solver | NFE / step | " + " | ".join(f"N = {N}" for N in Ns) + " | order 320→640 |")
        md.append("| --- | ---: |" + " ---: |" * (len(Ns) + 1))
        for sol in sols:
            by = [{r["N"]: r for r in g.get((s, sol, m), [])} for m in metrics]
            if not by[0]:
                continue
            cells = [" / ".join(f"{abs(b[N]['value']):.2e}" for b in by) if N in by[0] else "—" for N in Ns]
            per = by[0][Ns[-1]]["nfe"] // Ns[-1] if Ns[-1] in by[0] else "—"
            orders = " / ".join(b[Ns[-1]]["order"] if Ns[-1] in b and b[Ns[-1]]["order"] else "—" for b in by)
            md.append(f"| {sol} | {per} | " + " | ".join(cells) + f" | {orders} |")
        md.append("")
        # equal NFE: ratio of each to the baseline, log-log interpolated where a solver has no run at that NFE
        nfes = [20, 40, 80, 160, 320, 640]
        md.append(f"At equal NFE ({' and '.join(metrics)}), with the ratio to {base}; log-log interpolation between "
                  "measured N where a solver has no run at that NFE:\n")
        md.append("| solver | metric | " + " | ".join(f"NFE {n}" for n in nfes) + " |")
        md.append("| --- | --- |" + " ---: |" * len(nfes))
        for metric in metrics:
            brs = g.get((s, base, metric), [])
            for sol in sols:
                rs = g.get((s, sol, metric), [])
                if not rs:
                    continue
                cells = []
                for n in nfes:
                    v, b = at_nfe(rs, n), at_nfe(brs, n)
                    cells.append("—" if v is None else
                                 f"{v:.2e}" + ("" if sol == base or not b else f" ({v / b:.2g}×)"))
                md.append(f"| {sol} | {metric} | " + " | ".join(cells) + " |")
        md.append("")
    return md


# ----- CLI runs -----

SPEC_RE = re.compile(r"^(?P<spec>.+)-N(?P<N>\d+)\.h5$")


def untag(t):
    """file tag -> spec: conjugate-ddim_conj_lambda=-1 -> conjugate-ddim:conj_lambda=-1"""
    return t.replace("_conj_lambda=", ":conj_lambda=").replace("_eta=", ":eta=")


def dist(scratch):
    rows = []
    refs = {}
    for ds in ("ring8", "ring8-psld"):
        rp = os.path.join(scratch, ds, "reference.h5")
        if os.path.exists(rp):
            with h5py.File(rp, "r") as h:
                refs[ds] = h["samples"][...].astype(np.float64)
                if ds == "ring8-psld":  # (x, m) rows: keep x, the first half
                    refs[ds] = refs[ds][:, :refs[ds].shape[1] // 2]
    for ds in DIST_SETS:
        for path in sorted(glob.glob(os.path.join(scratch, ds, "*.h5"))):
            m = SPEC_RE.match(os.path.basename(path))
            if not m:
                continue
            spec = untag(m.group("spec"))
            with h5py.File(path, "r") as h:
                r = dict(dataset=ds, solver=spec, N=int(m.group("N")), nfe=attr(h, "nfe"), wall_s=attr(h, "wall_s"),
                         git_commit=attr(h, "git_commit"))
                for k in ("sw2", "sw2_floor", "mmd2", "mmd2_floor", "occupancy_tv", "mean_err", "cov_err",
                          "nearest_row_mean", "nearest_row_max"):
                    r[k] = float(h["metrics"][k][()]) if "metrics" in h and k in h["metrics"] else ""
                r["path_rms_vs_ref"] = r["path_median_vs_ref"] = ""
                if ds in refs and spec.split(":")[0] not in STOCHASTIC:
                    x = h["samples"][...].astype(np.float64)
                    if ds == "ring8-psld":
                        x = x[:, :x.shape[1] // 2]
                    r["path_rms_vs_ref"] = float(np.sqrt(np.mean((x - refs[ds]) ** 2)))
                    r["path_median_vs_ref"] = float(np.median(np.sqrt(np.sum((x - refs[ds]) ** 2, axis=1))))
            rows.append(r)
    order = {d: i for i, d in enumerate(DIST_SETS)}
    rows.sort(key=lambda r: (order[r["dataset"]], r["solver"], r["N"]))
    cols = ["dataset", "solver", "N", "nfe", "sw2", "sw2_floor", "mmd2", "mmd2_floor", "occupancy_tv", "mean_err",
            "cov_err", "nearest_row_mean", "nearest_row_max", "path_rms_vs_ref", "path_median_vs_ref", "wall_s",
            "git_commit"]
    with open(os.path.join(HERE, "dist.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([f"{r[c]:.6g}" if isinstance(r[c], float) else r[c] for c in cols])
    return rows


def dist_tables(rows, dist_solvers):
    md = []
    by = defaultdict(dict)
    for r in rows:
        by[(r["dataset"], r["solver"])][r["N"]] = r
    Ns = sorted({r["N"] for r in rows})
    for ds, what, keys in (
            ("ring8", "SW2 / occupancy TV / pathwise RMS vs the 1000-step dpm-solver-2 run",
             ("sw2", "occupancy_tv", "path_rms_vs_ref")),
            ("ring8-li", "SW2 / occupancy TV", ("sw2", "occupancy_tv")),
            ("ring8-psld", "SW2 / occupancy TV of x / pathwise RMS of x / median pathwise distance of x, vs the "
             "4000-step psld-nvv run", ("sw2", "occupancy_tv", "path_rms_vs_ref", "path_median_vs_ref")),
            ("digits", "SW2 / mean distance to the nearest training image", ("sw2", "nearest_row_mean"))):
        sols = [s for s in dist_solvers if (ds, s) in by]
        if not sols:
            continue
        floor = next(iter(by[(ds, sols[0])].values()))
        md.append(f"### {ds}: {what} (floors: SW2 {floor['sw2_floor']:.3f}"
                  + (f", MMD² {floor['mmd2_floor']:.1e}" if floor['mmd2_floor'] != "" else "") + ")\n")
        md.append("| solver | " + " | ".join(f"N = {N}" for N in Ns) + " |")
        md.append("| --- |" + " --- |" * len(Ns))
        for s in sols:
            cells = []
            for N in Ns:
                r = by[(ds, s)].get(N)
                if not r:
                    cells.append("—")
                    continue
                parts = []
                for k in keys:
                    v = r[k]
                    parts.append("—" if v == "" else f"{v:.3f}" if k in ("sw2", "occupancy_tv") else
                                 "0" if v == 0 else f"{v:.1e}")
                cells.append(" / ".join(parts) + (f" ({r['nfe']})" if r["nfe"] != N else ""))
            md.append(f"| {s} | " + " | ".join(cells) + " |")
        md.append("")
    md.append("NFE in brackets where it differs from N.\n")
    for ds, k in (("ring8", "path_rms_vs_ref"), ("ring8-psld", "path_rms_vs_ref"),
                  ("ring8-psld", "path_median_vs_ref")):
        lines = []
        for s in dist_solvers:
            rs = sorted((r for r in by.get((ds, s), {}).values() if r[k] not in ("", 0)), key=lambda r: r["N"])
            if len(rs) < 2:
                continue
            o = [math.log(a[k] / b[k]) / math.log(b["N"] / a["N"]) for a, b in zip(rs, rs[1:])]
            lines.append(f"{s} " + " ".join(f"{v:.2f}" for v in o))
        if lines:
            what = "RMS" if k == "path_rms_vs_ref" else "median distance"
            md.append(f"{ds}: observed orders of the pathwise {what} between successive N "
                      f"({'→'.join(str(N) for N in Ns)}, in N): " + "; ".join(lines) + ".\n")
    return md


# ----- Parareal -----


def parareal(scratch):
    rows = []
    sp = os.path.join(scratch, "parareal", "serial.h5")
    ser = None
    if os.path.exists(sp):
        with h5py.File(sp, "r") as h:
            ser = h["samples"][...].astype(np.float64)
            serial_steps = attr(h, "steps")
    for path in sorted(glob.glob(os.path.join(scratch, "parareal", "*-c*.h5"))):
        m = re.match(r"^(?P<spec>.+)-c(?P<cs>\d+)\.h5$", os.path.basename(path))
        if not m:
            continue
        with h5py.File(path, "r") as h:
            B = int(attr(h, "blocks"))
            K = int(attr(h, "iterations"))
            res = h["convergence/residual"][...].max(axis=1)
            x = h["samples"][...].astype(np.float64)
            d = x - ser if ser is not None else np.full_like(x, np.nan)
            cp = int(attr(h, "critical_path_nfe"))
            rows.append(dict(coarse=untag(m.group("spec")), coarse_steps=int(m.group("cs")), blocks=B, iterations=K,
                             stop="tol" if res[-1] < 1e-3 else "k=B (exact)" if K >= B else "max_iters",
                             first_residual=f"{res[0]:.3e}", final_residual=f"{res[-1]:.3e}",
                             residuals=" ".join(f"{v:.1e}" for v in res),
                             critical_path_nfe=cp, nfe_speedup=f"{serial_steps / cp:.2f}",
                             init_nfe=int(attr(h, "init_nfe")), total_nfe=int(attr(h, "total_nfe")),
                             error_rms=f"{np.sqrt(np.mean(d ** 2)):.3e}", error_max=f"{np.max(np.abs(d)):.3e}",
                             git_commit=attr(h, "git_commit")))
    rows.sort(key=lambda r: (r["coarse_steps"], r["coarse"] != "ddim", r["coarse"]))
    cols = ["coarse", "coarse_steps", "blocks", "iterations", "stop", "first_residual", "final_residual",
            "critical_path_nfe", "nfe_speedup", "init_nfe", "total_nfe", "error_rms", "error_max", "residuals",
            "git_commit"]
    with open(os.path.join(HERE, "parareal.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([r[c] for c in cols])
    md = ["### Parareal on digits: 1000-step DDIM fine, B = 8 blocks on 8 ranks, tol 1e-3\n",
          "| coarse | coarse steps / block | K | stop | max residual per iteration | critical-path NFE | NFE speedup |"
          " init NFE | total NFE | error max vs serial |",
          "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        md.append(f"| {r['coarse']} | {r['coarse_steps']} | {r['iterations']} | {r['stop']} | {r['residuals']} | "
                  f"{r['critical_path_nfe']} | {r['nfe_speedup']} | {r['init_nfe']} | {r['total_nfe']} | "
                  f"{r['error_max']} |")
    md.append("")
    return rows, md


# ----- figure -----


def slope_guides(ax, x, y, slopes):
    """dotted lines of the given slopes through the upper right of the data"""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(x) == 0:
        return
    x0, x1 = x.min(), x.max()
    y1 = np.nanmax(y) * 0.6
    for s, ls in zip(slopes, (":", "-.")):
        xs = np.array([x0 * 2, x1])
        ax.plot(xs, y1 * (xs / xs[0]) ** (-s), color="0.5", ls=ls, lw=1)
        ax.text(xs[1], y1 * (xs[1] / xs[0]) ** (-s), f" N^-{s:g}", fontsize=7, color="0.4", va="center")


def plot(g, drows, prows, meta, dist_solvers):
    fig, axes = plt.subplots(5, 4, figsize=(22, 25))
    # rows 1-2: the Gaussian
    for j, s in enumerate(SCHEDULES):
        for i, (metric, pick, slopes) in enumerate(
                (("path_rms", lambda sol: sol not in STOCHASTIC, (1, 2)),
                 ("tv", lambda sol: sol in STOCHASTIC or sol in ("ddim", "accel-ddim"), (0.5, 1)))):
            ax = axes[i, j]
            allx, ally = [], []
            for (sch, sol, m), rs in g.items():
                if sch != s or m != metric or not pick(sol) or sol == "ddim:eta=1":
                    continue
                x = [r["nfe"] for r in rs]
                y = [abs(r["value"]) for r in rs]
                c, ls, mk = style(sol)
                ax.loglog(x, y, color=c, ls=ls, marker=mk, ms=4, label=short(sol))
                allx += x
                ally += y
            slope_guides(ax, allx, ally, slopes)
            ax.set_title(f"Gaussian, {s}: " + ("pathwise RMS error vs exact flow" if metric == "path_rms"
                                               else "TV(law of x_N, exact)"), fontsize=9)
            ax.set_xlabel("NFE")
            ax.grid(True, which="both", alpha=0.3)
            if j == 0:
                ax.legend(fontsize=6, ncol=2)
    # row 3: ring8
    by = defaultdict(list)
    for r in drows:
        by[(r["dataset"], r["solver"])].append(r)
    panels = [(axes[2, 0], "ring8", "sw2", "ring8 (vp-linear logsnr): SW2 vs exact draws"),
              (axes[2, 1], "ring8", "path_rms_vs_ref", "ring8: pathwise RMS vs 1000-step dpm-solver-2 (same start)"),
              (axes[2, 2], "ring8-li", "sw2", "ring8 on li (T = N, c0 = 2, c1 = 4): SW2"),
              (axes[2, 3], "digits", "sw2", "digits (ddpm-linear leading): SW2 vs the data set"),
              (axes[3, 0], "digits", "nearest_row_mean",
               "digits: mean distance to the nearest training image (0 drawn at 1e-12)"),
              (axes[4, 2], "ring8-psld", "sw2", "ring8 on psld (uniform t, prior start): SW2 of x vs exact draws"),
              (axes[4, 3], "ring8-psld", "path_rms_vs_ref",
               "ring8 on psld: path error of x vs 4000-step psld-nvv (RMS; dotted: median)")]
    for ax, ds, k, title in panels:
        floor = None
        for s in dist_solvers:
            rs = [r for r in by.get((ds, s), []) if r[k] != ""]
            if not rs:
                continue
            c, ls, mk = style(s)
            ys = [max(r[k], 1e-12) for r in rs]
            ax.plot([r["nfe"] for r in rs], ys, color=c, ls=ls, marker=mk, ms=4, label=short(s))
            if k + "_floor" in rs[0] and rs[0][k + "_floor"] != "":
                floor = rs[0][k + "_floor"]
        if floor is not None:
            ax.axhline(floor, color="0.3", lw=2, alpha=0.4, label="floor (exact vs exact)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("NFE")
        ax.grid(True, which="both", alpha=0.3)
        if ds == "ring8-psld" and k == "path_rms_vs_ref":
            for s in dist_solvers:
                rs = [r for r in by.get((ds, s), []) if r["path_median_vs_ref"] != ""]
                if rs:
                    c, _, mk = style(s)
                    ax.plot([r["nfe"] for r in rs], [r["path_median_vs_ref"] for r in rs], color=c, ls=":",
                            marker=mk, ms=3, alpha=0.7)
        if ds == "ring8-psld":
            ax.legend(fontsize=6)
        if k == "path_rms_vs_ref":
            xs = np.array([20.0, 200.0])
            for sl, ls in ((1, ":"), (2, "-.")):
                ax.plot(xs, 0.5 * (xs / xs[0]) ** (-sl), color="0.5", ls=ls, lw=1)
                ax.text(xs[1], 0.5 * (xs[1] / xs[0]) ** (-sl), f" N^-{sl}", fontsize=7, color="0.4")
    # Parareal residual histories
    ax = axes[3, 1]
    for r in prows:
        res = [float(v) for v in r["residuals"].split()]
        c, _, mk = style(r["coarse"])
        ax.semilogy(range(1, len(res) + 1), res, color=c, ls="-" if r["coarse_steps"] == 1 else "--", marker=mk, ms=4,
                    label=f"{short(r['coarse'])} ×{r['coarse_steps']}")
    ax.axhline(1e-3, color="k", lw=1, ls=":")
    ax.set_xlabel("iteration k")
    ax.set_title("Parareal digits B = 8: max block residual (solid: 1 coarse step/block, dashed: 4)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    axes[2, 0].legend(fontsize=6, ncol=2)
    # row 4, right: Parareal
    ax = axes[3, 2]
    labels = [f"{short(r['coarse'])}\n×{r['coarse_steps']}" for r in prows]
    xs = np.arange(len(prows))
    ax.bar(xs, [r["critical_path_nfe"] for r in prows],
           color=[style(r["coarse"])[0] for r in prows], alpha=0.8)
    ax.axhline(1000, color="k", ls="--", lw=1, label="serial 1000")
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=6, rotation=60)
    ax.set_title("Parareal digits B = 8: critical-path NFE (coarse solver × steps/block)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[3, 3]
    ax.bar(xs, [r["iterations"] for r in prows], color=[style(r["coarse"])[0] for r in prows], alpha=0.8)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=6, rotation=60)
    ax.set_title("Parareal digits B = 8: iterations to tol 1e-3", fontsize=9)
    # row 5, left: the PSLD Gaussian
    for ax, sols, metric, title in (
            (axes[4, 0], PSLD_STOCHASTIC, "kl", "Gaussian, psld uniform: KL(law of x_N, exact), stochastic"),
            (axes[4, 1], PSLD_DETERMINISTIC, "path_rms",
             "Gaussian, psld uniform: pathwise RMS of x vs RK4 flow, deterministic")):
        allx, ally = [], []
        for sol in sols:
            rs = g.get((PSLD_SCHEDULE, sol, metric), [])
            if not rs:
                continue
            x = [r["nfe"] for r in rs]
            y = [abs(r["value"]) for r in rs]
            c, ls, mk = style(sol)
            ax.loglog(x, y, color=c, ls=ls, marker=mk, ms=4, label=sol)
            allx += x
            ally += y
        slope_guides(ax, allx, [v for v in ally if v < 10], (1, 2))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("NFE")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle(f"pintdiff integrators (issue 6), {meta.get('version', '')} {meta.get('date', '')}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(os.path.join(HERE, "integrators.png"), dpi=80)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    scratch = sys.argv[1]
    meta = read_meta(scratch)
    g = gauss(scratch)
    drows = dist(scratch)
    dist_solvers = []
    for r in drows:
        if r["solver"] not in dist_solvers:
            dist_solvers.append(r["solver"])
    # table order: as bench.sh lists them
    pref = ["ddim", "conjugate-ddim:conj_lambda=-1", "conjugate-ddim:conj_lambda=-0.5",
            "conjugate-ddim:conj_lambda=0.5", "accel-ddim", "li-ddim", "dpm-solver-2", "conjugate-2",
            "conjugate-2:conj_lambda=-1", "dpmpp-2m", "ddpm", "li-ddpm", "accel-ddpm"] + PSLD_STOCHASTIC + \
        PSLD_DETERMINISTIC
    dist_solvers.sort(key=lambda s: pref.index(s) if s in pref else len(pref))
    prows, pmd = parareal(scratch)
    md = gauss_tables(g) + psld_tables(g) + dist_tables(drows, dist_solvers) + pmd
    text = "\n".join(md)
    print(text)
    with open(os.path.join(scratch, "tables.md"), "w") as f:
        f.write(text + "\n")
    plot(g, drows, prows, meta, dist_solvers)


if __name__ == "__main__":
    main()
