#!/usr/bin/env bash
# Serial solver timings: seconds per step and microseconds per sample-step of every registered
# solver, on the digits data set (d = 64, exact dataset denoiser: two dgemm per evaluation) and on a
# 3072-dimensional 10-component diagonal Gaussian mixture (shape 3x32x32).
#   bash results/serial/bench.sh [BUILD_DIR]      (default build/; writes results/serial/bench.csv)
set -euo pipefail
cd "$(dirname "$0")/../.."
b=${1:-build}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
out=results/serial/bench.csv
gmm=configs/data/gmm3072.h5   # made by: pd-mkdata gmm3072 configs/data/gmm3072.h5
{
  echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
  echo "model,dim,solver,dtype,samples,steps,nfe,s_per_step,us_per_sample_step"
  "$b/pd-bench-serial" configs/data/digits.h5 dataset 256 50 3
  "$b/pd-bench-serial" "$gmm" gmm 256 50 3
} | tee "$out"
