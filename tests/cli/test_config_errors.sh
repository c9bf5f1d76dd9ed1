#!/usr/bin/env bash
# Bad input: each gives its message (file, line, key, what was expected), exit 2, and no result file,
# alone and under mpirun with 3 ranks (every rank exits, the message is printed once).
. "$(dirname "$0")/lib.sh"
cd "$PD_SRC"
out="$tmp/out.h5"
bad() { # bad DESCRIPTION EXPECTED-TEXT -- pintdiff-args...
  local what=$1 text=$2; shift 3
  expect_exit 2 "$what" -- "$PINTDIFF" run "$@" --set output.file="$out"
  expect_output "$text" "$what: message"
  expect_no_file "$out" "$what: no result file"
}
cfg() { local name=$1; shift; printf '%s\n' "$@" > "$tmp/$name.yaml"; echo "$tmp/$name.yaml"; }

bad "unknown key" "unknown_key.yaml:6: sampler.bogus" -- tests/cli/bad/unknown_key.yaml
bad "word for an integer" "bad_type.yaml:5: sampler.steps" -- tests/cli/bad/bad_type.yaml
bad "negative tolerance" "out_of_range.yaml:7: sampler.tol" -- tests/cli/bad/out_of_range.yaml
bad "unknown schedule" "bad_enum.yaml:3: schedule.kind" -- tests/cli/bad/bad_enum.yaml
bad "missing config file" "nope.yaml" -- "$tmp/nope.yaml"
bad "unknown section" "sampling" -- "$(cfg sect 'sampling:' '  steps: 3')"
bad "yaml syntax" "syntax.yaml" -- "$(cfg syntax 'sampler:' '  steps: [1, 2' 'batch:')"
bad "unknown solver" "sampler.solver" -- configs/default.yaml --set sampler.solver=rk99
bad "zero steps" "sampler.steps" -- configs/default.yaml --set sampler.steps=0
bad "eta out of range" "sampler.eta" -- configs/default.yaml --set sampler.eta=2
bad "bad dtype" "batch.dtype" -- configs/default.yaml --set batch.dtype=float16
bad "spacing not allowed on edm" "sampler.spacing" -- configs/default.yaml --set schedule.kind=edm --set sampler.spacing=leading
bad "missing data file" "no-such.h5" -- configs/default.yaml --set model.file=configs/data/no-such.h5
bad "gmm without parameters" "model" -- configs/default.yaml --set model.kind=gmm --set model.file=
bad "--set unknown key" "--set sampler.nope" -- configs/default.yaml --set sampler.nope=1
bad "--set without =" "--set" -- configs/default.yaml --set sampler.steps
bad "too many steps for the schedule" "sampler.steps" -- configs/default.yaml --set sampler.steps=2000

# what run would refuse, check refuses too (not just the schema)
expect_exit 2 "check: spacing repeats timesteps" -- "$PINTDIFF" check configs/default.yaml --set sampler.spacing=quadratic --set sampler.steps=500
expect_output "repeats timestep" "check: repeated timestep named"
expect_exit 2 "check: missing model file" -- "$PINTDIFF" check configs/default.yaml --set model.file=nope.h5
expect_output "model.file: cannot read nope.h5" "check: model.file named"
expect_exit 2 "check: nccl (GPUs hidden)" -- env CUDA_VISIBLE_DEVICES= "$PINTDIFF" check configs/default.yaml --set device.comm=nccl
expect_output "device.comm: nccl" "check: device.comm named"
mkdir -p "$tmp/adir.h5"
expect_exit 2 "output.file is a directory" -- "$PINTDIFF" run configs/default.yaml --set output.file="$tmp/adir.h5"
expect_output "output.file: $tmp/adir.h5 is a directory" "the directory is named before the run"
[ ! -e "$tmp/adir.png" ] && pass "no picture left beside it" || fail "a picture was left: $tmp/adir.png"

# under mpirun: every rank exits 2, one message
expect_exit 2 "3 ranks, unknown key" -- "$MPIEXEC" -np 3 "$PINTDIFF" run tests/cli/bad/unknown_key.yaml --set output.file="$out"
n=$(grep -c "sampler.bogus" "$tmp/out")
[ "$n" -eq 1 ] && pass "message printed once (not per rank)" || fail "message printed $n times"
expect_no_file "$out" "3 ranks: no result file"
expect_exit 2 "3 ranks, missing data file" -- "$MPIEXEC" -np 3 "$PINTDIFF" run configs/default.yaml --set model.file=nope.h5 --set output.file="$out"
expect_no_file "$out" "3 ranks, missing data: no result file"
# a runtime failure: an EDM prior of 1e39 overflows float32, the first step meets Inf; exit 1, the step
# and sample named, every rank stops, no file
expect_exit 1 "3 ranks, NaN/Inf in a state" -- "$MPIEXEC" -np 3 "$PINTDIFF" run configs/ring8.yaml --set schedule.kind=edm \
  --set sampler.spacing=karras --set schedule.sigma_max=1e39 --set batch.samples=30 --set output.file="$out"
expect_output "dpm-solver-2 step 0 (t = 1e+39 -> " "the failing step is named"
expect_output "NaN/Inf in sample 0, element 0" "the failing sample and element are named"
expect_no_file "$out" "runtime failure: no result file"
finish
