#!/usr/bin/env bash
# The whole test suite (quick start, step 2; also what CI runs):
#  1. the normal build, warnings as errors, with the CUDA backend compiled and linked (PINTDIFF_CUDA=ON;
#     GPU tests report "skipped" where there is no GPU), and CTest on it;
#  2. an ASan+UBSan build with the CUDA backend on cudasim (PINTDIFF_CUDA=SIM, tests/cudasim: the CUDA
#     runtime, cuBLAS and NCCL carried out on the CPU with CUDA's rules checked), and CTest on it: the
#     sanitizers check the C code and the GPU code paths, and the GPU tests run instead of skipping.
# Build folders: build-test/ and build-asan/ (kept between runs for speed).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
tjobs=$((2 * jobs)) # CTest: twice the cores; the tests wait on MPI start-up more than they compute
cuda_flag=-DPINTDIFF_CUDA=ON
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "run-all: no CUDA toolkit (nvcc) found; the CUDA build is required by this suite" >&2
  exit 1
fi
export OPENBLAS_NUM_THREADS=1

echo "== 1/2: normal build (-Werror, PINTDIFF_CUDA=ON)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPINTDIFF_WERROR=ON $cuda_flag > build-test.log 2>&1 \
  || { cat build-test.log; exit 1; }
cmake --build build-test -j"$jobs" >> build-test.log 2>&1 || { grep -E "error|warning" -A3 build-test.log | head -80; exit 1; }
ctest --test-dir build-test --output-on-failure -j"$tjobs"

echo "== 2/2: ASan + UBSan build, CUDA on cudasim (the GPU tests run on the CPU)"
# -O1: ASan's advice (about twice the speed of -O0 with the same reports); asserts stay on
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DPINTDIFF_WERROR=ON -DPINTDIFF_CUDA=SIM \
  -DPINTDIFF_SANITIZE=address-undefined > build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
cmake --build build-asan -j"$jobs" >> build-asan.log 2>&1 || { grep -E "error|warning" -A3 build-asan.log | head -80; exit 1; }
# Open MPI leaks at exit (PLATFORM.md §5): leak checking off; ASan/UBSan errors still fail the tests
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$tjobs" -LE slow
