#!/usr/bin/env bash
# pintdiff info on a result: provenance, datasets, metrics; the HDF5 layout of DESIGN.md §3.
. "$(dirname "$0")/lib.sh"
cd "$PD_SRC"
f="$tmp/ring.h5"
expect_exit 0 "ring8 run" -- "$MPIEXEC" -np 2 "$PINTDIFF" run configs/ring8.yaml --set batch.samples=400 --set output.file="$f"
expect_output "pintdiff: wrote $f (400 samples, 50 steps" "summary line names the file"
expect_exit 0 "info" -- "$PINTDIFF" info "$f"
for key in "method       serial" "solver       dpm-solver-2" "n_ranks      2" "status       complete" \
           "/samples" "float32 [400, 2]" "/metrics/sw2 " "/metrics/sw2_floor" "/metrics/occupancy_tv" "/metrics/mean_err" \
           "git_commit" "wall_s" "start_time"; do
  expect_output "$key" "info shows '$key'"
done
expect_exit 0 "info --config" -- "$PINTDIFF" info "$f" --config
expect_output 'solver: "dpm-solver-2"' "stored config is the resolved config"
expect_exit 2 "info on a missing file" -- "$PINTDIFF" info "$tmp/nope.h5"
expect_output "cannot open" "missing file named"
expect_exit 0 "float64 run" -- "$PINTDIFF" run configs/ring8.yaml --quiet --set batch.samples=10 --set batch.dtype=float64 --set output.file="$tmp/f64.h5"
expect_exit 0 "info float64" -- "$PINTDIFF" info "$tmp/f64.h5"
expect_output "float64 [10, 2]" "float64 states stored as float64"
# the metrics mean something: the sampler's SW2 is near the floor of two exact sample sets
sw=$(h5dump -d /metrics/sw2 "$f" | awk '/\(0\)/{print $2}')
fl=$(h5dump -d /metrics/sw2_floor "$f" | awk '/\(0\)/{print $2}')
awk -v a="$sw" -v b="$fl" 'BEGIN{exit !(a != "" && b != "" && a > 0 && a < 3*b + 0.05)}' && pass "sw2 $sw within 3x floor $fl + 0.05" || fail "sw2 $sw vs floor $fl"
# a 64-bit seed is stored unsigned
expect_exit 0 "seed 2^64-1" -- "$PINTDIFF" run configs/ring8.yaml --quiet --set batch.samples=4 \
  --set batch.seed=18446744073709551615 --set output.file="$tmp/seed.h5"
expect_exit 0 "info seed" -- "$PINTDIFF" info "$tmp/seed.h5"
expect_output "seed         18446744073709551615" "seed round-trips as uint64"
finish
