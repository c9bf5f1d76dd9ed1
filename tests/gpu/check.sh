#!/usr/bin/env bash
# GPU check in one go, for a machine with a GPU (e.g. a lent H100: 16 cores; ~8 minutes budgeted):
# configure and build Release with the CUDA backend, run every test labelled gpu, and keep all of it.
#
#   OUT=/path/to/out tests/gpu/check.sh        # from the repository root (or anywhere)
#
# Environment: OUT (output folder, default ./gpu-check-out), BUILD (build folder, default
# ./build-gpu-check), JOBS (build jobs, default nproc), PD_CUDA_ARCH (default: the GPU's compute
# capability from nvidia-smi, else "80;90"). PD_CHECK_SIM=1: a rehearsal without a GPU, on cudasim
# (docs/CUDASIM.md) with small sizes, so that a script or tool error shows before a GPU's scarce
# minutes are spent (its timings are CPU timings of a simulator: meaningless). Everything printed also goes to $OUT: env.txt,
# configure.log, build.log, ctest.log, LastTest.log, summary.txt. Exit status: 0 when the build and
# every gpu test passed (skips count as failures here: this script is for machines with a GPU).
set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$PWD/gpu-check-out}
BUILD=${BUILD:-$PWD/build-gpu-check}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
t_start=$(date +%s)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
[ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH

say() { echo "== $*" | tee -a "$OUT/summary.txt"; }
elapsed() { echo $(( $(date +%s) - t_start )); }
: > "$OUT/summary.txt"

# ---- the machine: what the results were measured on
{
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  cores: $(nproc)"
  echo "source: $SRC"
  nvidia-smi 2>&1 || echo "nvidia-smi: not found"
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv 2>&1 || true
  nvcc --version 2>&1 | tail -2 || echo "nvcc: not found"
  grep -h "define NCCL_\(MAJOR\|MINOR\|PATCH\)" /usr/local/cuda/include/nccl.h /usr/include/nccl.h 2>/dev/null
  mpirun --version 2>&1 | head -1 || echo "mpirun: not found"
  ompi_info --parsable --all 2>/dev/null | grep -E "mpi_built_with_cuda_support:value" || echo "ompi_info: no CUDA line"
  cmake --version | head -1
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

arch=${PD_CUDA_ARCH:-}
if [ -z "$arch" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  arch=${cap:-"80;90"}
fi

# ---- configure and build (Release, CUDA required; the rehearsal: cudasim)
sim=${PD_CHECK_SIM:-0}
if [ "$sim" = 1 ]; then
  say "REHEARSAL on cudasim (PD_CHECK_SIM=1): no GPU, small sizes, timings meaningless"
  export PD_CUDASIM_DEVICES=1
  cuda_args=(-DPINTDIFF_CUDA=SIM)
else
  cuda_args=(-DPINTDIFF_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$arch")
fi
say "configure (${cuda_args[*]}) into $BUILD"
timeout 180 cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" > "$OUT/configure.log" 2>&1
rc=$?
tail -5 "$OUT/configure.log"
if [ $rc -ne 0 ]; then say "FAILED: configure (exit $rc, see configure.log)"; cat "$OUT/configure.log"; exit 1; fi
say "build -j$JOBS"
timeout 360 cmake --build "$BUILD" -j "$JOBS" > "$OUT/build.log" 2>&1
rc=$?
grep -E "error|warning:" "$OUT/build.log" | head -40
if [ $rc -ne 0 ]; then say "FAILED: build (exit $rc, see build.log)"; tail -60 "$OUT/build.log"; exit 1; fi
say "built in $(elapsed) s"

# ---- the gpu tests, one at a time (they share the GPU), each with its own CTest timeout
say "ctest -L gpu"
(cd "$BUILD" && timeout 420 ctest -L gpu --output-on-failure) 2>&1 | tee "$OUT/ctest.log"
rc=${PIPESTATUS[0]}
cp "$BUILD/Testing/Temporary/LastTest.log" "$OUT/LastTest.log" 2>/dev/null
skipped=$(grep -c "(Skipped)" "$OUT/ctest.log")
grep -E "tests passed|tests failed" "$OUT/ctest.log" | tee -a "$OUT/summary.txt"
[ "$skipped" -gt 0 ] && say "WARNING: $skipped gpu tests skipped (no GPU seen?)"
status=0
if [ $rc -ne 0 ] || [ "$skipped" -gt 0 ]; then status=1; fi
say "tests done at $(elapsed) s: $([ $status -eq 0 ] && echo PASSED || echo FAILED)"

# =====================================================================================================
# TIMING RUNS (only after the tests passed): the card's peaks, per-step time over batch sizes 1..4096 on
# digits and the 3072-dim mixture (GPU, and the 16-core CPU for reference), and 1000-step DDIM on digits
# serial vs Parareal (16 blocks batched on one GPU; 4 ranks sharing it). CSVs under $OUT/timing;
# results/gpu/README.md says how to read them. About 3-4 minutes on an H100.
timing_runs() {
  local b="$BUILD" d="$SRC/configs/data" t="$OUT/timing" hdr
  local gemm_n=8192 batches=1,4,16,64,256,1024,4096 steps_ds=50 steps_gmm=20 sizes="64 1024" psteps=()
  [ "$sim" = 1 ] && { gemm_n=256; batches=1,16; steps_ds=2; steps_gmm=2; sizes=16; psteps=(--set sampler.steps=64); }
  hdr="model,dim,device,dtype,batch,solver,s_per_step,s_per_eval,flop_per_eval,gflops,bytes_per_eval,gbytes_per_s"
  say "timing: the card's peaks (D2D copy, DGEMM, SGEMM)"
  timeout 60 "$b/pd-bench-device" --peak $gemm_n | tee "$t/peak.csv"
  say "timing: per-step time over batch sizes, GPU then CPU (16 cores, OpenBLAS threads = cores)"
  echo "$hdr" > "$t/steps.csv"
  for dt in float32 float64; do
    timeout 120 "$b/pd-bench-device" "$d/digits.h5" dataset cuda $dt $steps_ds $batches | tee -a "$t/steps.csv"
    timeout 120 "$b/pd-bench-device" "$d/gmm3072.h5" gmm cuda $dt $steps_gmm $batches | tee -a "$t/steps.csv"
  done
  OPENBLAS_NUM_THREADS=$(nproc) timeout 120 "$b/pd-bench-device" "$d/digits.h5" dataset cpu float32 20 1,16,256,1024 \
    | tee -a "$t/steps.csv"
  OPENBLAS_NUM_THREADS=$(nproc) timeout 120 "$b/pd-bench-device" "$d/gmm3072.h5" gmm cpu float32 5 1,16,256 \
    | tee -a "$t/steps.csv"
  say "timing: 1000-step DDIM on digits, serial vs Parareal with 16 blocks batched on one GPU (64 and 1024 samples)"
  echo "samples,method,ranks,wall_s,iterations,critical_path_nfe,total_nfe" > "$t/parareal.csv"
  for S in $sizes; do
    for run in "serial 1" "parareal 1" "parareal 4"; do
      set -- $run
      f="$t/p_${S}_$1_$2.h5"
      timeout 150 mpirun -np "$2" "$b/pintdiff" run "$SRC/configs/digits-parareal.yaml" --quiet --set device.kind=cuda \
        --set device.comm=mpi --set sampler.method="$1" --set batch.samples="$S" --set output.metrics=false \
        --set output.png=false --set output.file="$f" "${psteps[@]}" || { echo "run $S $run failed"; continue; }
      "$b/pintdiff" info "$f" | awk -v S="$S" -v m="$1" -v r="$2" '$1=="wall_s"{w=$2} $1=="iterations"{k=$2}
        $1=="critical_path_nfe"{c=$2} $1=="total_nfe"{t=$2} $1=="nfe"{n=$2}
        END{if (c == "") {c = n; t = n; k = "-"} printf "%s,%s,%s,%s,%s,%s,%s\n", S, m, r, w, k, c, t}' | tee -a "$t/parareal.csv"
    done
    h5diff -d 1e-3 "$t/p_${S}_serial_1.h5" "$t/p_${S}_parareal_1.h5" /samples > /dev/null 2>&1 \
      && echo "S=$S: parareal on GPU == serial on GPU within 1e-3" || echo "S=$S: parareal vs serial differ by > 1e-3"
  done
  rm -f "$t"/p_*.h5
}
if [ $status -eq 0 ]; then
  mkdir -p "$OUT/timing"
  timing_runs 2>&1 | tee "$OUT/timing/timing.log"
fi
# =====================================================================================================

say "total $(elapsed) s; outputs in $OUT"
exit $status
