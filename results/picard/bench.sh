#!/usr/bin/env bash
# Picard iterations (ALGORITHMS.md §8) on 1000-step DDIM and DDPM, on digits and on the 2-D ring:
# iterations, critical-path NFE, total NFE and error vs serial, for the ParaDiGMS sliding window (windows
# 8 .. 1000, tol 1e-1 .. 1e-3, scaled per step by the DDPM variance as in §8.1) and block-wise Picard
# (10 and 40 blocks), beside Parareal (32 blocks, SRDS-like) at tol 1e-1 .. 1e-3.
#   bash results/picard/bench.sh [PINTDIFF]        (default build/pintdiff)
# Environment: NP (ranks of the parallel runs, default 2), PICARD_SCRATCH (raw .h5 files and logs, default
# /tmp/pintdiff-picard-bench; not committed), PYTHON (with h5py, numpy, matplotlib; default python3),
# RUN_TIMEOUT (seconds per mpirun, default 300).
#
# Every count reported (iterations, NFE, samples) is independent of the rank count (the Picard samples
# are bitwise the same on any number of ranks: tests/cli/test_picard.sh; Parareal's lock-step critical
# path is the same however its blocks are spread over the ranks), so everything runs on NP ranks; only
# the wall-clock column depends on NP and the machine.
#   digits: configs/digits-parareal.yaml (exact denoiser of 1797 8x8 digits, ddpm-linear, 1000 steps,
#           leading spacing), 64 samples
#   ring8:  configs/ring8.yaml (8-component 2-D mixture, vp-linear, logsnr spacing) with 1000 steps and
#           1000 samples, sample metrics against exact draws (sliced W2, MMD)
# then results/picard/analyse.py SCRATCH: bench.csv, compare.csv, table.md, picard.png here.
set -uo pipefail
cd "$(dirname "$0")/../.."
P=$(realpath "${1:-build/pintdiff}")
S=${PICARD_SCRATCH:-/tmp/pintdiff-picard-bench}
NP=${NP:-2}
PY=${PYTHON:-python3}
TMO=${RUN_TIMEOUT:-300}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
mkdir -p "$S/runs" "$S/log"
rm -f "$S"/runs/*.h5 "$S"/log/*.log   # no stale results from an earlier run
{
  echo "date=$(date -u +%FT%TZ)"
  echo "binary=$P"
  echo "version=$("$P" --version)"
  echo "repo_head_at_start=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "nproc=$(nproc)"
  echo "np=$NP"
  echo "mpirun=$(mpirun --version 2>&1 | head -1)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$S/meta.txt"
: > "$S/runs.tsv"

data_args() { # DATA: the config and its fixed settings
  case $1 in
    digits) echo "configs/digits-parareal.yaml --set batch.samples=64 --set output.metrics=false" ;;
    ring8) echo "configs/ring8.yaml --set sampler.steps=1000 --set batch.samples=1000 --set output.metrics=true" ;;
  esac
}

# run NAME NP DATA ARGS...: one pintdiff job under mpirun and timeout; logs rc and elapsed seconds
run() {
  local name=$1 np=$2 data=$3
  shift 3
  local t0 t1 rc
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  timeout "$TMO" mpirun -np "$np" "$P" run $(data_args "$data") --set output.png=false \
    --set output.log_iterations=false "$@" --set "output.file=$S/runs/$name.h5" > "$S/log/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%.3f\t%s\n' "$name" "$np" "$rc" "$(echo "$t1 - $t0" | bc)" "$*" >> "$S/runs.tsv"
  printf '%-40s np=%s rc=%s %6.1f s  %s\n' "$name" "$np" "$rc" "$(echo "$t1 - $t0" | bc)" \
    "$(grep -m1 -oE '[a-z-]+: [0-9]+ iterations, [0-9]+ NFE on the critical path' "$S/log/$name.log")"
  [ "$rc" -eq 0 ] || echo "  FAILED (rc $rc; 124 = timeout): see $S/log/$name.log"
}

t_start=$(date +%s)
for data in digits ring8; do
  for s in ddim ddpm; do
    run "$data-$s-serial" 1 "$data" --set sampler.method=serial --set sampler.solver=$s
    for w in 8 32 128 1000; do
      for tol in 1e-1 1e-2 1e-3; do
        run "$data-$s-picard-w$w-tol$tol" "$NP" "$data" --set sampler.method=picard --set sampler.fine=$s \
          --set sampler.window=$w --set sampler.tol=$tol
      done
    done
    for B in 10 40; do
      for tol in 1e-1 1e-2 1e-3; do
        run "$data-$s-block-B$B-tol$tol" "$NP" "$data" --set sampler.method=block-picard --set sampler.fine=$s \
          --set sampler.blocks=$B --set sampler.tol=$tol
      done
    done
    # Parareal at the same tolerances: 32 blocks (B ~ sqrt(N), SRDS), one coarse step per block, lock-step;
    # a stochastic fine step gets a stochastic coarse one (results/parareal/README.md, "Stochastic fine solver")
    [ $s = ddim ] && coarse=ddim || coarse=ddpm
    for tol in 1e-1 1e-2 1e-3; do
      run "$data-$s-parareal-B32-tol$tol" "$NP" "$data" --set sampler.method=parareal --set sampler.fine=$s \
        --set sampler.coarse=$coarse --set sampler.blocks=32 --set sampler.pipeline=false --set sampler.tol=$tol
    done
  done
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$S/meta.txt"
echo "bench_s=$(( $(date +%s) - t_start ))" >> "$S/meta.txt"
cat "$S/meta.txt"

echo "== analysis"
"$PY" results/picard/analyse.py "$S"
