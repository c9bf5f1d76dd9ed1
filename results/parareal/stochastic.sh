#!/usr/bin/env bash
# Parareal with a stochastic fine solver (ALGORITHMS.md §7.2): 1000-step DDPM (fixed_small) on the
# 8-component ring (configs/ring8.yaml, vp-linear, logsnr grid), B = 16 blocks on 16 ranks, tol 1e-3,
# with three coarse propagators: deterministic DDIM; DDPM driven by the fine draw where its step starts
# (sampler.coarse_noise: start); DDPM driven by the fine steps' aggregated noise (aggregate).
#   bash results/parareal/stochastic.sh [PINTDIFF]     -> results/parareal/stochastic.csv
set -uo pipefail
cd "$(dirname "$0")/../.."
P=$(realpath "${1:-build/pintdiff}")
S=${PARAREAL_SCRATCH:-/tmp/pintdiff-parareal-bench}/stochastic
mkdir -p "$S"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
base=(configs/ring8.yaml --quiet --set sampler.steps=1000 --set batch.samples=500 --set output.metrics=false)
timeout 300 "$P" run "${base[@]}" --set sampler.solver=ddpm --set output.file="$S/serial.h5" || exit 1
out=results/parareal/stochastic.csv
echo "# bash results/parareal/stochastic.sh; $(date -u +%FT%TZ); $("$P" --version); 16 ranks on $(nproc) cores (NFE, not wall time)" > "$out"
echo "coarse,coarse_noise,iterations,critical_path_nfe,serial_nfe,nfe_speedup,max_abs_error_vs_serial" >> "$out"
attr() { h5dump -a "/$2" "$1" | grep -oE '\(0\): [-0-9.e+]+' | awk '{print $2}'; }
for v in "ddim start" "ddpm start" "ddpm aggregate"; do
  set -- $v
  f="$S/$1-$2.h5"
  timeout 300 mpirun -np 16 "$P" run "${base[@]}" --set sampler.method=parareal --set sampler.fine=ddpm \
    --set sampler.coarse=$1 --set sampler.coarse_noise=$2 --set sampler.blocks=16 --set sampler.tol=1e-3 \
    --set output.file="$f" || exit 1
  K=$(attr "$f" iterations); cp=$(attr "$f" critical_path_nfe)
  err=$(h5diff -v -d 0 "$S/serial.h5" "$f" /samples 2>/dev/null | awk '$1 ~ /^\[/ {d=$NF; if (d<0) d=-d; if (d>m) m=d} END {printf "%.3e", m+0}')
  echo "$1,$2,$K,$cp,1000,$(awk -v c="$cp" 'BEGIN{printf "%.2f", 1000/c}'),$err" >> "$out"
done
column -t -s, "$out"
