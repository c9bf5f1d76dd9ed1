#!/usr/bin/env bash
# Parareal == serial: within tol, and bitwise after B iterations (ALGORITHMS.md §7.1), for an ODE
# (ddim), an SDE (ddpm) and a multistep (dpmpp-2m) fine solver, pipelined and not, on 1, 2 and 4
# ranks (4 ranks: 2 blocks each); the samples do not depend on the rank count; a rank's blocks take one
# model call per stage together (NFE per iteration, digits bitwise); residuals shrink; a
# failure on one rank stops every rank with the message and leaves no file.
. "$(dirname "$0")/lib.sh"
cd "$PD_SRC"
base=(configs/ring8.yaml --quiet --set batch.samples=60 --set sampler.steps=64 --set sampler.spacing=logsnr
      --set output.metrics=false)
par=(--set sampler.method=parareal --set sampler.blocks=4 --set output.log_iterations=false)
for fine in ddim ddpm dpmpp-2m; do
  expect_exit 0 "serial $fine" -- "$MPIEXEC" -np 1 "$PINTDIFF" run "${base[@]}" --set sampler.solver=$fine \
    --set output.file="$tmp/s_$fine.h5"
  for np in 1 2 4; do
    [ $np -eq 4 ] && blocks=8 || blocks=4
    for pipe in false true; do
      tag="$fine np=$np B=$blocks pipeline=$pipe"
      expect_exit 0 "parareal $tag, tol 1e-5" -- "$MPIEXEC" -np $np "$PINTDIFF" run "${base[@]}" "${par[@]}" \
        --set sampler.fine=$fine --set sampler.blocks=$blocks --set sampler.pipeline=$pipe --set sampler.tol=1e-5 \
        --set output.file="$tmp/p_${fine}_${np}_$pipe.h5"
      expect_exit 0 "$tag: == serial within 1e-4" -- h5diff -d 1e-4 "$tmp/s_$fine.h5" "$tmp/p_${fine}_${np}_$pipe.h5" /samples
      expect_exit 0 "parareal $tag, all B iterations" -- "$MPIEXEC" -np $np "$PINTDIFF" run "${base[@]}" "${par[@]}" \
        --set sampler.fine=$fine --set sampler.blocks=$blocks --set sampler.pipeline=$pipe --set sampler.tol=1e-300 \
        --set output.file="$tmp/x_${fine}_${np}_$pipe.h5"
      expect_exit 0 "$tag: after B iterations == serial bitwise" -- h5diff "$tmp/s_$fine.h5" "$tmp/x_${fine}_${np}_$pipe.h5" /samples
    done
  done
  # the same config (same B) on 1, 2 and 4 ranks gives the same samples, bitwise
  for np in 2 4; do
    expect_exit 0 "$fine B=4 on $np ranks" -- "$MPIEXEC" -np $np "$PINTDIFF" run "${base[@]}" "${par[@]}" \
      --set sampler.fine=$fine --set sampler.tol=1e-5 --set output.file="$tmp/r_${fine}_$np.h5"
    expect_exit 0 "$fine: $np ranks == 1 rank (bitwise)" -- h5diff "$tmp/p_${fine}_1_false.h5" "$tmp/r_${fine}_$np.h5" /samples
  done
done

# a rank's blocks advance together, one model call per solver stage: on 1 rank with B = 4 blocks of 16
# ddim steps each iteration costs 16 fine calls plus one coarse call per block whose start moved (3, 2,
# 1, 0): 19 18 17 16, where block after block would cost 67 50 33 16
f="$tmp/batched.h5"
expect_exit 0 "1 rank, 4 blocks, B iterations" -- "$MPIEXEC" -np 1 "$PINTDIFF" run "${base[@]}" "${par[@]}" \
  --set sampler.fine=ddim --set sampler.tol=1e-300 --set output.file="$f"
nfe=$(h5dump -d /convergence/nfe -w 0 "$f" | grep -oE '\(0\): .*' | sed 's/(0): //' | tr -d ' ')
[ "$nfe" = "19,18,17,16" ] && pass "batched blocks: model calls per iteration $nfe" \
  || fail "batched blocks: model calls per iteration '$nfe', expected 19,18,17,16"
# the same on the digits data set, whose denoiser is a matrix product over the whole batch: 4 blocks in
# one call on 1 rank == one block per rank on 4 ranks == serial, bitwise
dig=(configs/default.yaml --quiet --set batch.samples=32 --set sampler.steps=40 --set output.metrics=false
     --set output.png=false --set output.log_iterations=false --set sampler.blocks=4 --set sampler.tol=1e-300)
for np in 1 4; do
  expect_exit 0 "digits, 4 blocks on $np ranks" -- "$MPIEXEC" -np $np "$PINTDIFF" run "${dig[@]}" \
    --set output.file="$tmp/dig_$np.h5"
done
expect_exit 0 "digits serial" -- "$MPIEXEC" -np 1 "$PINTDIFF" run "${dig[@]}" --set sampler.method=serial \
  --set output.file="$tmp/dig_s.h5"
expect_exit 0 "digits: 4 blocks batched on 1 rank == 4 ranks (bitwise)" -- h5diff "$tmp/dig_1.h5" "$tmp/dig_4.h5" /samples
expect_exit 0 "digits: batched Parareal after B iterations == serial (bitwise)" -- h5diff "$tmp/dig_s.h5" "$tmp/dig_1.h5" /samples

# an augmented state (psld: (x, m) per element, the psld-gmm score model) goes through the same driver:
# bitwise the serial run after B iterations, for a stochastic and a deterministic splitting sampler
ps=(configs/ring8.yaml --quiet --set schedule.kind=psld --set sampler.spacing=uniform --set sampler.steps=32
    --set batch.samples=40 --set output.metrics=false --set output.png=false --set output.log_iterations=false)
for f in psld-roba psld-rvv; do
  expect_exit 0 "psld serial $f" -- "$MPIEXEC" -np 1 "$PINTDIFF" run "${ps[@]}" --set sampler.solver=$f \
    --set output.file="$tmp/ps_$f.h5"
  expect_exit 0 "psld parareal $f, 2 ranks, B iterations" -- "$MPIEXEC" -np 2 "$PINTDIFF" run "${ps[@]}" \
    --set sampler.method=parareal --set sampler.fine=$f --set sampler.coarse=psld-ode-euler --set sampler.blocks=4 \
    --set sampler.tol=1e-300 --set output.file="$tmp/pp_$f.h5"
  expect_exit 0 "psld $f: Parareal == serial bitwise" -- h5diff "$tmp/ps_$f.h5" "$tmp/pp_$f.h5" /samples
done
expect_exit 2 "psld with a non-psld solver refused" -- "$MPIEXEC" -np 1 "$PINTDIFF" run "${ps[@]}" \
  --set sampler.solver=ddim --set output.file="$tmp/bad_ps.h5"
expect_output "sampler.solver: ddim cannot run on schedule.kind psld" "the message names the key and the way out"

# pipelined == lock-step bitwise when both stop early on tol, with states above MPI's eager limit
# (1000 samples x 2 x 4 bytes): a boundary state still in flight must never be overwritten
for fine in dpmpp-2m ddpm; do
  for pipe in false true; do
    expect_exit 0 "$fine 1000 samples, 4 ranks, 8 blocks, pipeline=$pipe" -- "$MPIEXEC" -np 4 "$PINTDIFF" run "${base[@]}" \
      "${par[@]}" --set batch.samples=1000 --set sampler.fine=$fine --set sampler.blocks=8 --set sampler.pipeline=$pipe \
      --set sampler.tol=1e-3 --set output.file="$tmp/big_${fine}_$pipe.h5"
  done
  expect_exit 0 "$fine: pipelined == lock-step (bitwise, early stop)" -- h5diff "$tmp/big_${fine}_false.h5" "$tmp/big_${fine}_true.h5" /samples
done
# with a multistep fine solver the run may stop after iteration 1 (no infinite residual from the coarse pass)
expect_exit 0 "dpmpp-2m, tol 1e300: one iteration" -- "$MPIEXEC" -np 2 "$PINTDIFF" run "${base[@]}" "${par[@]}" \
  --set sampler.fine=dpmpp-2m --set sampler.tol=1e300 --set output.file="$tmp/one.h5"
expect_exit 0 "info" -- "$PINTDIFF" info "$tmp/one.h5"
expect_output "iterations   1" "stopped after iteration 1"

# a stochastic coarse solver driven by the fine steps' aggregated noise (ALGORITHMS.md §7.2): same
# answer (within tol; bitwise after B iterations), and it starts closer than the fine draw at the start
for cn in start aggregate; do
  expect_exit 0 "ddpm fine, ddpm coarse, coarse_noise $cn" -- "$MPIEXEC" -np 2 "$PINTDIFF" run "${base[@]}" "${par[@]}" \
    --set sampler.fine=ddpm --set sampler.coarse=ddpm --set sampler.coarse_noise=$cn --set sampler.tol=1e-5 \
    --set output.file="$tmp/cn_$cn.h5"
  expect_exit 0 "coarse_noise $cn: == serial within 1e-4" -- h5diff -d 1e-4 "$tmp/s_ddpm.h5" "$tmp/cn_$cn.h5" /samples
  expect_exit 0 "ddpm coarse, coarse_noise $cn, B iterations" -- "$MPIEXEC" -np 2 "$PINTDIFF" run "${base[@]}" "${par[@]}" \
    --set sampler.fine=ddpm --set sampler.coarse=ddpm --set sampler.coarse_noise=$cn --set sampler.tol=1e-300 \
    --set output.file="$tmp/cnx_$cn.h5"
  expect_exit 0 "coarse_noise $cn: bitwise after B iterations" -- h5diff "$tmp/s_ddpm.h5" "$tmp/cnx_$cn.h5" /samples
done
# aggregation needs solvers whose noise is one affine term (accel-ddpm draws two half noises)
expect_exit 2 "aggregate with a non-affine fine solver refused" -- "$MPIEXEC" -np 2 "$PINTDIFF" run "${base[@]}" "${par[@]}" \
  --set sampler.fine=accel-ddpm --set sampler.coarse=ddpm --set sampler.coarse_noise=aggregate --set output.file="$tmp/agg.h5"
expect_output "aggregate needs one-step affine fine and coarse solvers" "the message says which solvers qualify"
expect_no_file "$tmp/agg.h5" "no result file"
r1() { h5dump -d /convergence/residual -w 0 "$1" | grep -oE '\(0,0\): .*' | sed 's/(0,0): //' | tr ',' '\n' | sort -g | tail -1; }
a=$(r1 "$tmp/cn_aggregate.h5"); b=$(r1 "$tmp/cn_start.h5")
awk -v a="$a" -v b="$b" 'BEGIN{exit !(a < b)}' && pass "aggregated noise: first residual $a < $b" \
  || fail "aggregated noise did not start closer: $a vs $b"

# the convergence log: B = 4 blocks, iterations <= 4, residuals shrinking, boundaries stored
f="$tmp/log.h5"
expect_exit 0 "parareal with boundaries" -- "$MPIEXEC" -np 2 "$PINTDIFF" run "${base[@]}" "${par[@]}" --set sampler.fine=ddim \
  --set sampler.tol=1e-6 --set output.trajectory=boundaries --set output.file="$f"
expect_exit 0 "info shows the convergence table" -- "$PINTDIFF" info "$f"
expect_output "convergence (max residual" "convergence table printed"
expect_output "method       parareal" "method recorded"
expect_output "/convergence/residual" "residual dataset"
expect_output "/convergence/nfe" "nfe dataset"
expect_output "/convergence/wait_s" "wait_s dataset"
expect_output "/convergence/boundaries" "boundaries dataset"
res=$(h5dump -d /convergence/residual -w 0 "$f" | sed -n '/DATA {/,/}/p' | grep -oE '\([0-9]+,0\): .*' | sed 's/([0-9]*,0): //')
first=$(echo "$res" | head -1 | tr ',' '\n' | sort -g | tail -1)
last=$(echo "$res" | tail -1 | tr ',' '\n' | sort -g | tail -1)
awk -v a="$first" -v b="$last" 'BEGIN{exit !(b < a / 100)}' && pass "max residual shrinks 100x: $first -> $last" \
  || fail "residuals did not shrink 100x: first $first, last $last"
# the run stops within B iterations
n_it=$(h5dump -a /iterations "$f" | grep -oE '\(0\): [0-9]+' | awk '{print $2}')
[ -n "$n_it" ] && [ "$n_it" -le 4 ] && pass "iterations $n_it <= B" || fail "iterations '$n_it'"

# a failure on one rank (an EDM prior of 1e39 overflows float32 in the first block) stops every rank
expect_exit 1 "parareal, NaN in block 0, 3 ranks" -- "$MPIEXEC" -np 3 "$PINTDIFF" run configs/ring8.yaml \
  --set sampler.method=parareal --set schedule.kind=edm --set sampler.spacing=karras --set schedule.sigma_max=1e39 \
  --set batch.samples=10 --set output.file="$tmp/nan.h5"
expect_output "NaN/Inf" "the failure is reported"
expect_no_file "$tmp/nan.h5" "no result file after the failure"
expect_exit 2 "more ranks than blocks" -- "$MPIEXEC" -np 3 "$PINTDIFF" run "${base[@]}" "${par[@]}" --set sampler.blocks=2 \
  --set output.file="$tmp/few.h5"
expect_output "sampler.blocks: 2 blocks for 3 ranks" "too few blocks named"
finish
