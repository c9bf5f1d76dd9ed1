#!/usr/bin/env bash
# device.kind / device.comm / device.gpu from the command line, on any machine: GPUs are hidden
# (CUDA_VISIBLE_DEVICES empty), so what needs one is refused with exit 2, the key named, the message
# printed once, no file left; auto falls back to cpu and mpi, and the result file says so.
. "$(dirname "$0")/lib.sh"
cd "$PD_SRC"
export CUDA_VISIBLE_DEVICES=
out="$tmp/out.h5"
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)".*/\1/p' | head -1; }
small=(configs/ring8.yaml --set batch.samples=40 --set sampler.steps=16 --set output.metrics=false
       --set output.png=false)
refused() { # DESCRIPTION TEXT NP -- pintdiff run args...
  local what=$1 text=$2 np=$3; shift 4
  expect_exit 2 "$what" -- "$MPIEXEC" -np "$np" "$PINTDIFF" run --quiet "$@" --set output.file="$out"
  expect_output "$text" "$what: message"
  local n; n=$(grep -c -F -- "$text" "$tmp/out")
  [ "$n" -eq 1 ] && pass "$what: said once" || fail "$what: said $n times"
  expect_no_file "$out" "$what: no result file"
}
refused "cuda without a GPU" "device.kind: cuda" 1 -- "${small[@]}" --set device.kind=cuda
refused "cuda without a GPU, 3 ranks" "device.kind: cuda" 3 -- "${small[@]}" --set device.kind=cuda
refused "nccl on cpu" "device.comm: nccl" 1 -- "${small[@]}" \
  --set device.kind=cpu --set device.comm=nccl
refused "nccl, auto kind, no GPU" "device.comm: nccl" 3 -- "${small[@]}" --set sampler.method=parareal --set device.comm=nccl
refused "negative GPU index" "device.gpu" 1 -- "${small[@]}" --set device.gpu=-2
refused "zero timeout" "device.timeout" 1 -- "${small[@]}" --set device.timeout=0
# check refuses what run would refuse on this machine
expect_exit 2 "check: cuda without a GPU" -- "$PINTDIFF" check "${small[@]}" --set device.kind=cuda
expect_output "device.kind: cuda" "check: device.kind named"
expect_exit 2 "check: nccl without a GPU" -- "$PINTDIFF" check "${small[@]}" --set device.comm=nccl
expect_output "device.comm: nccl" "check: device.comm named"
expect_exit 0 "check: device.gpu is read only on cuda" -- "$PINTDIFF" check "${small[@]}" --set device.gpu=7
expect_output "gpu: 7" "check: device.gpu printed"
# auto: cpu and mpi, recorded in the result
expect_exit 0 "auto, serial, 2 ranks" -- "$MPIEXEC" -np 2 "$PINTDIFF" run --quiet "${small[@]}" --set output.file="$tmp/s.h5"
[ "$(attr "$tmp/s.h5" device)/$(attr "$tmp/s.h5" comm)" = cpu/mpi ] && pass "serial recorded as cpu/mpi" \
  || fail "serial recorded as $(attr "$tmp/s.h5" device)/$(attr "$tmp/s.h5" comm)"
expect_exit 0 "auto, parareal, 2 ranks, comm mpi" -- "$MPIEXEC" -np 2 "$PINTDIFF" run --quiet "${small[@]}" \
  --set sampler.method=parareal --set device.comm=mpi --set output.log_iterations=false --set output.file="$tmp/p.h5"
[ "$(attr "$tmp/p.h5" device)/$(attr "$tmp/p.h5" comm)" = cpu/mpi ] && pass "parareal recorded as cpu/mpi" \
  || fail "parareal recorded as $(attr "$tmp/p.h5" device)/$(attr "$tmp/p.h5" comm)"
finish
