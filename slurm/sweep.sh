#!/bin/bash
# Submit one pintdiff job per rank count, for latency-vs-GPU-count studies:
#   slurm/sweep.sh CONFIG "1 2 4 8" [extra sbatch options...]
# Each job writes results/sweep/<config>-np<N>.h5; `pintdiff info` on each gives wall time and NFE.
set -euo pipefail
cfg=${1:?usage: slurm/sweep.sh CONFIG "N1 N2 ..." [sbatch options]}
counts=${2:?give the rank counts, e.g. "1 2 4 8"}
shift 2
name=$(basename "$cfg" .yaml)
here=$(cd "$(dirname "$0")" && pwd)
for n in $counts; do
  sbatch --ntasks="$n" "$@" "$here/sample.sbatch" "$cfg" \
    --set output.file="results/sweep/$name-np$n.h5"
done
