#!/usr/bin/env bash
# Several blocks per rank, advanced as one batched model call per stage: B = 16 blocks of 1000-step
# DDIM on digits (configs/digits-parareal.yaml, tol 1e-3, ddim coarse, 64 samples) on 1, 2, 4 and 16
# ranks, lock-step and pipelined, beside the serial run. Prints a TSV (results/parareal/batched.tsv).
# Usage (repo root, after a build): bash results/parareal/batched.sh > results/parareal/batched.tsv
set -u
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
P=${PINTDIFF:-build/pintdiff}
O=$(mktemp -d)
trap 'rm -rf "$O"' EXIT
row() { # ranks pipeline file
  "$P" info "$3" | awk -v np="$1" -v pipe="$2" '$1=="iterations"{k=$2} $1=="critical_path_nfe"{c=$2}
    $1=="total_nfe"{t=$2} $1=="nfe"{n=$2} $1=="wall_s"{w=$2}
    END{if (c == "") {c = n; t = n; k = "-"} printf "%s\t%s\t%s\t%s\t%s\t%s\n", np, pipe, k, c, t, w}'
}
printf 'ranks\tpipeline\titerations\tcritical_path_nfe\ttotal_nfe\twall_s\n'
common=(--quiet --set output.metrics=false --set output.png=false)
mpirun -np 1 "$P" run configs/digits-parareal.yaml "${common[@]}" --set sampler.method=serial \
  --set output.file="$O/serial.h5" >/dev/null 2>&1 && row 1 serial "$O/serial.h5"
for np in 1 2 4 16; do
  for pipe in false true; do
    f="$O/np$np-$pipe.h5"
    if mpirun -np "$np" "$P" run configs/digits-parareal.yaml "${common[@]}" --set sampler.pipeline=$pipe \
         --set output.file="$f" >/dev/null 2>&1; then row "$np" "$pipe" "$f"; else echo "np=$np pipeline=$pipe failed" >&2; fi
  done
done
