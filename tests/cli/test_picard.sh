#!/usr/bin/env bash
# Picard iterations (ALGORITHMS.md §8): the ParaDiGMS sliding window (`picard`) and block-wise Picard
# (`block-picard`) == serial within tol, and bitwise once converged to the last bit, for an ODE (ddim) and
# an SDE (ddpm) step on 1, 2 and 4 ranks; the samples do not depend on the rank count (the composition
# runs along the ranks in the serial order); the window only moves forward; the NFE bookkeeping adds up;
# the final trajectory is the serial one; bad settings exit 2 naming the key; a failure on one rank stops
# every rank and leaves no file.
. "$(dirname "$0")/lib.sh"
cd "$PD_SRC"
base=(configs/ring8.yaml --quiet --set batch.samples=40 --set sampler.steps=48 --set sampler.spacing=logsnr
      --set output.metrics=false --set output.png=false --set output.log_iterations=false)
pic=(--set sampler.method=picard --set sampler.window=12)
blk=(--set sampler.method=block-picard --set sampler.blocks=4)
run() { local np=$1; shift; "$MPIEXEC" -np "$np" "$PINTDIFF" run "${base[@]}" "$@"; }
attr() { h5dump -a "/$2" "$1" 2>/dev/null | grep -oE '\(0\): [0-9.e+-]+' | head -1 | awk '{print $2}'; }
vec() { h5dump -d "$2" -w 0 "$1" | sed -n '/DATA {/,/}/p' | grep -oE '\): .*' | sed 's/): //' | tr -d ' ' | tr ',' '\n' | grep .; }

for fine in ddim ddpm; do
  expect_exit 0 "serial $fine" -- run 1 --set sampler.solver=$fine --set output.file="$tmp/s_$fine.h5"
  for np in 1 2 4; do
    for m in pic blk; do
      [ $m = pic ] && args=("${pic[@]}") || args=("${blk[@]}")
      tag="${args[1]#sampler.method=} $fine np=$np"
      expect_exit 0 "$tag, tol 1e-5" -- run $np "${args[@]}" --set sampler.fine=$fine --set sampler.tol=1e-5 \
        --set output.file="$tmp/${m}_${fine}_$np.h5"
      expect_exit 0 "$tag: == serial within 1e-4" -- h5diff -d 1e-4 "$tmp/s_$fine.h5" "$tmp/${m}_${fine}_$np.h5" /samples
      # converged to the last bit: picard with a tiny tol, block-picard with tol 1e-300 (every block runs until
      # no state changes, at most its length M_b, after which it is exact)
      [ $m = pic ] && t=1e-12 || t=1e-300
      expect_exit 0 "$tag, tol $t" -- run $np "${args[@]}" --set sampler.fine=$fine --set sampler.tol=$t \
        --set output.file="$tmp/x_${m}_${fine}_$np.h5"
      expect_exit 0 "$tag, tol $t: == serial bitwise" -- h5diff "$tmp/s_$fine.h5" "$tmp/x_${m}_${fine}_$np.h5" /samples
      # a loose tol stops early (not the serial sample): still the same bits on any rank count
      expect_exit 0 "$tag, tol 1e-2" -- run $np "${args[@]}" --set sampler.fine=$fine --set sampler.tol=1e-2 \
        --set output.file="$tmp/l_${m}_${fine}_$np.h5"
      [ $np -gt 1 ] && expect_exit 0 "$tag, tol 1e-2: == 1 rank (bitwise)" -- \
        h5diff "$tmp/l_${m}_${fine}_1.h5" "$tmp/l_${m}_${fine}_$np.h5" /samples
    done
  done
done
# the whole grid as one block iterated to its length: exact (ALGORITHMS.md §8.2, K = M_b)
expect_exit 0 "block-picard, one block, max_iters = N" -- run 3 --set sampler.method=block-picard --set sampler.blocks=1 \
  --set sampler.max_iters=48 --set sampler.tol=1e-300 --set sampler.fine=ddpm --set output.file="$tmp/one.h5"
expect_exit 0 "one block of N steps: == serial bitwise" -- h5diff "$tmp/s_ddpm.h5" "$tmp/one.h5" /samples

# the log: the window moves forward only, one model call per iteration on the critical path, the points
# evaluated add up to total_nfe, at most N iterations
f="$tmp/pic_ddpm_4.h5"
ws=$(vec "$f" /convergence/window_start)
[ -n "$ws" ] && echo "$ws" | awk 'NR > 1 && $1 < prev {bad = 1} {prev = $1} END {exit bad}' \
  && pass "window_start non-decreasing ($(echo $ws | tr ' ' ,))" || fail "window_start not monotone: $ws"
we=$(vec "$f" /convergence/window_end)
sum_w=$(paste <(echo "$ws") <(echo "$we") | awk '{s += $2 - $1} END {print s}')
sum_nfe=$(vec "$f" /convergence/nfe | awk '{s += $1} END {print s}')
it=$(attr "$f" iterations); cp=$(attr "$f" critical_path_nfe); tot=$(attr "$f" total_nfe)
[ "$cp" = "$it" ] && pass "critical-path NFE = iterations ($it)" || fail "critical path $cp, iterations $it"
[ "$tot" = "$sum_w" ] && [ "$tot" = "$sum_nfe" ] && pass "total NFE $tot = sum of windows = sum of /convergence/nfe" \
  || fail "total NFE $tot, windows $sum_w, /convergence/nfe $sum_nfe"
[ "$it" -le 48 ] && [ "$(echo "$ws" | wc -l)" = "$it" ] && pass "iterations $it <= N, one row each" || fail "iterations '$it'"
expect_exit 0 "info" -- "$PINTDIFF" info "$f"
expect_output "method       picard" "method recorded"
expect_output "window       12" "window recorded"
expect_output "max residual  window" "convergence table with the window"
expect_output "/convergence/window_start" "window_start dataset"
expect_output "/convergence/wait_s" "wait_s dataset"
# block-picard: a huge tol accepts every block after one iteration
expect_exit 0 "block-picard, tol 1e300" -- run 2 "${blk[@]}" --set sampler.tol=1e300 --set output.file="$tmp/b1.h5"
[ "$(attr "$tmp/b1.h5" iterations)" = 4 ] && pass "one iteration per block" \
  || fail "iterations $(attr "$tmp/b1.h5" iterations), expected 4"
[ "$(vec "$tmp/b1.h5" /convergence/block | tr '\n' ,)" = "0,1,2,3," ] && pass "/convergence/block" || fail "/convergence/block"

# the final trajectory (output.trajectory) is the serial one once converged, from whichever rank kept it
expect_exit 0 "serial trajectory" -- run 1 --set sampler.solver=ddim --set output.trajectory=every:5 \
  --set output.file="$tmp/st.h5"
for np in 1 3; do
  expect_exit 0 "picard trajectory, $np ranks" -- run $np "${pic[@]}" --set sampler.window=7 --set sampler.tol=1e-12 \
    --set output.trajectory=every:5 --set output.file="$tmp/pt_$np.h5"
  expect_exit 0 "picard trajectory == serial ($np ranks)" -- h5diff "$tmp/st.h5" "$tmp/pt_$np.h5" /trajectory/x
done

# bad settings: exit 2, the key named, no file
bad() { # DESCRIPTION TEXT -- args
  local what=$1 text=$2; shift 3
  expect_exit 2 "$what" -- run 2 "$@" --set output.file="$tmp/bad.h5"
  expect_output "$text" "$what: message names it"
  expect_no_file "$tmp/bad.h5" "$what: no file"
}
bad "non-affine solver" "sampler.fine: picard iterates a one-step affine solver" -- "${pic[@]}" --set sampler.fine=dpmpp-2m
bad "block-picard without blocks" "sampler.blocks: block-picard needs 1 .. 48 blocks" -- \
  --set sampler.method=block-picard
bad "more blocks than steps" "sampler.blocks: block-picard needs 1 .. 48 blocks" -- "${blk[@]}" --set sampler.blocks=49
bad "negative window" "sampler.window" -- "${pic[@]}" --set sampler.window=-1
bad "zero tol" "sampler.tol" -- "${pic[@]}" --set sampler.tol=0
bad "pipelined picard" "sampler.pipeline: picard has no pipelined variant" -- "${pic[@]}" --set sampler.pipeline=true
bad "boundaries" "output.trajectory: boundaries are stored by sampler.method: parareal only" -- "${pic[@]}" \
  --set output.trajectory=boundaries
expect_exit 2 "check refuses it too" -- "$PINTDIFF" check configs/ring8.yaml --set sampler.method=block-picard \
  --set sampler.fine=heun --set sampler.blocks=2
expect_output "sampler.fine: block-picard iterates a one-step affine solver" "check names sampler.fine"

# a failure (an EDM prior of 1e39 overflows float32) stops every rank, reported once, no file
for m in picard block-picard; do
  expect_exit 1 "$m, NaN, 3 ranks" -- "$MPIEXEC" -np 3 "$PINTDIFF" run configs/ring8.yaml --set sampler.method=$m \
    --set sampler.blocks=3 --set sampler.window=6 --set schedule.kind=edm --set sampler.spacing=karras \
    --set schedule.sigma_max=1e39 --set batch.samples=10 --set sampler.steps=12 --set output.file="$tmp/nan.h5"
  expect_output "NaN/Inf" "$m: the failure is reported"
  n=$(grep -c 'NaN/Inf' "$tmp/out"); [ "$n" -eq 1 ] && pass "$m: said once" || fail "$m: said $n times"
  expect_no_file "$tmp/nan.h5" "$m: no result file after the failure"
done
finish
