#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build pintdiff, run the embedded default job
# (configs/default.yaml: the digits data set) on 4 MPI ranks on the CPU, and say where the result is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPINTDIFF_CUDA=AUTO > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j"$(nproc)" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "quickstart: built build/pintdiff ($(build/pintdiff --version))"
mpi/pintdiff-mpirun 4 run configs/default.yaml
build/pintdiff info results/default.h5
echo "quickstart: result file results/default.h5, picture results/default.png"
