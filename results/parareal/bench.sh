#!/usr/bin/env bash
# Parareal / SRDS benchmark on digits (ALGORITHMS.md §7): 1000-step DDIM (eta = 0) as the fine solver,
# configs/digits-parareal.yaml, tol 1e-3 (RMS change of a block's end state between two iterations).
#   bash results/parareal/bench.sh [PINTDIFF]        (default build/pintdiff)
# Environment: SAMPLES (default 64, the same for every row), PARAREAL_SCRATCH (raw .h5 files and logs,
# default /tmp/pintdiff-parareal-bench; not committed), PYTHON (with h5py, numpy, matplotlib; default
# python3), RUN_TIMEOUT (seconds per mpirun, default 300), REPEATS (side-by-side timing, default 3).
#
# 1. serial reference: sampler.method=serial, solver ddim, 1000 steps, 1 rank;
# 2. side by side on 2 ranks (= 2 cores here), REPEATS times each, interleaved: serial on 1 rank,
#    serial on 2 ranks (samples split across ranks), Parareal B = 2 not pipelined and pipelined
#    (before the sweep, so that the load of the oversubscribed runs does not linger);
# 3. sweep: Parareal for B = 2 4 8 16 32 blocks on np = B ranks (oversubscribed on this machine),
#    pipeline false/true, coarse ddim and dpm-solver-2 (one coarse step per block, SRDS c = 1);
# 4. results/parareal/analyse.py: bench.csv, wall.csv, parareal.png.
set -uo pipefail
cd "$(dirname "$0")/../.."
P=$(realpath "${1:-build/pintdiff}")
S=${PARAREAL_SCRATCH:-/tmp/pintdiff-parareal-bench}
SAMPLES=${SAMPLES:-64}
PY=${PYTHON:-python3}
TMO=${RUN_TIMEOUT:-300}
REPEATS=${REPEATS:-3}
CFG=configs/digits-parareal.yaml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
mkdir -p "$S/sweep" "$S/wall" "$S/log"
rm -f "$S/serial.h5" "$S"/sweep/*.h5 "$S"/wall/*.h5 "$S"/log/*.log   # no stale results from an earlier run
COMMON=(--set output.png=false --set output.metrics=false --set "batch.samples=$SAMPLES")
SERIAL=(--set sampler.method=serial --set sampler.solver=ddim)

{
  echo "date=$(date -u +%FT%TZ)"
  echo "binary=$P"
  echo "version=$("$P" --version)"
  echo "repo_head_at_start=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "nproc=$(nproc)"
  echo "mpirun=$(mpirun --version 2>&1 | head -1)"
  echo "samples=$SAMPLES"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$S/meta.txt"
: > "$S/runs.tsv"

# run NAME NP ARGS...: one pintdiff job under mpirun and timeout; logs rc and elapsed seconds
run() {
  local name=$1 np=$2
  shift 2
  local t0 t1 rc load
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  timeout "$TMO" mpirun -np "$np" "$P" run "$CFG" "${COMMON[@]}" "$@" > "$S/log/${name//\//_}.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%.3f\t%s\t%s\n' "$name" "$np" "$rc" "$(echo "$t1 - $t0" | bc)" "$load" "$*" >> "$S/runs.tsv"
  printf '%-28s np=%-2s rc=%s %6.1f s  %s\n' "$name" "$np" "$rc" "$(echo "$t1 - $t0" | bc)" \
    "$(grep -m1 -o 'parareal: [0-9]* iterations, [0-9]* NFE on the critical path' "$S/log/${name//\//_}.log")"
  [ "$rc" -eq 0 ] || echo "  FAILED (rc $rc; 124 = timeout): see $S/log/${name//\//_}.log"
}

t_start=$(date +%s)
echo "== serial reference (1 rank)"
run serial 1 "${SERIAL[@]}" --set "output.file=$S/serial.h5"

echo "== side by side on 2 ranks, $REPEATS repeats (interleaved)"
for r in $(seq 1 "$REPEATS"); do
  run "wall/serial-np1-r$r" 1 "${SERIAL[@]}" --set "output.file=$S/wall/serial-np1-r$r.h5"
  run "wall/serial-np2-r$r" 2 "${SERIAL[@]}" --set "output.file=$S/wall/serial-np2-r$r.h5"
  for pipe in false true; do
    run "wall/B2-ddim-pipe-$pipe-r$r" 2 --set sampler.blocks=2 --set sampler.coarse=ddim \
      --set sampler.pipeline="$pipe" --set sampler.tol=1e-3 --set "output.file=$S/wall/B2-ddim-pipe-$pipe-r$r.h5"
  done
done
echo "== sweep: np = B ranks, oversubscribed on $(nproc) cores"
for coarse in ddim dpm-solver-2; do
  for pipe in false true; do
    for B in 2 4 8 16 32; do
      run "sweep/B$B-$coarse-pipe-$pipe" "$B" --set sampler.blocks="$B" --set sampler.coarse="$coarse" \
        --set sampler.pipeline="$pipe" --set sampler.tol=1e-3 --set "output.file=$S/sweep/B$B-$coarse-pipe-$pipe.h5"
    done
  done
done

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$S/meta.txt"
echo "bench_s=$(( $(date +%s) - t_start ))" >> "$S/meta.txt"
cat "$S/meta.txt"

echo "== analysis"
"$PY" results/parareal/analyse.py "$S"
