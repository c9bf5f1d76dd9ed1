#!/usr/bin/env bash
# pintdiff on a GPU (label gpu; exit 77, skipped, where pintdiff sees none):
#   - serial sampling on cuda == on cpu to rounding (float64 tight, float32 loose), for an ODE, an SDE
#     (noise drawn on the GPU) and a multistep solver; the stored noise and trajectory too;
#   - serial on 3 ranks sharing the GPU == 1 rank, bitwise;
#   - Parareal on cuda over NCCL on 1 rank == serial on cuda (bitwise after B iterations, within tol
#     before); on 4 ranks sharing the GPU (device.comm auto -> mpi, staged or CUDA-aware) == 1 rank,
#     bitwise, lock-step and pipelined, with states above MPI's eager limit; over NCCL on 2 ranks
#     when the node has 2 GPUs;
#   - Picard and block-Picard on cuda == serial on cuda, 4 ranks sharing the GPU == 1 rank; psld samplers
#     (augmented states) on cuda == cpu;
#   - what cannot work is refused with the key named: nccl on a shared GPU, a GPU index out of range.
. "$PD_SRC/tests/cli/lib.sh"
cd "$PD_SRC"
if ! "$PINTDIFF" check configs/ring8.yaml --set device.kind=cuda > "$tmp/probe" 2>&1; then
  echo "pintdiff sees no GPU: skipped ($(tail -1 "$tmp/probe"))"
  exit 77
fi
# attribute NAME of FILE (a string)
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)".*/\1/p' | head -1; }
expect_attr() { # FILE NAME VALUE DESCRIPTION
  local got; got=$(attr "$1" "$2")
  [ "$got" = "$3" ] && pass "$4 ($2 = $got)" || fail "$4: $2 = '$got', want '$3'"
}
run() { # NP OUT ARGS... : pintdiff run on NP ranks, output file OUT
  local np=$1 out=$2; shift 2
  "$MPIEXEC" -np "$np" "$PINTDIFF" run "$@" --set output.file="$out"
}
base=(configs/ring8.yaml --quiet --set batch.samples=1000 --set sampler.steps=64 --set sampler.spacing=logsnr
      --set output.metrics=false --set output.png=false)

# ---- serial: cuda == cpu to rounding
for solver in ddim ddpm dpmpp-2m; do
  for dt in float64 float32; do
    [ $dt = float64 ] && tol=1e-9 || tol=1e-3
    for dev in cpu cuda; do
      expect_exit 0 "serial $solver $dt on $dev" -- run 1 "$tmp/s_${solver}_${dt}_$dev.h5" "${base[@]}" \
        --set sampler.solver=$solver --set batch.dtype=$dt --set device.kind=$dev
    done
    expect_exit 0 "serial $solver $dt: cuda == cpu within $tol" -- \
      h5diff -d $tol "$tmp/s_${solver}_${dt}_cpu.h5" "$tmp/s_${solver}_${dt}_cuda.h5" /samples
  done
done
expect_attr "$tmp/s_ddim_float32_cuda.h5" device cuda "the result says where it ran"
expect_attr "$tmp/s_ddim_float32_cpu.h5" device cpu "and so does the CPU one"
# the step noise and the trajectory leave the GPU only to be written, and agree with the CPU's
for dev in cpu cuda; do
  expect_exit 0 "ddpm with noise and trajectory on $dev" -- run 1 "$tmp/n_$dev.h5" "${base[@]}" --set sampler.solver=ddpm \
    --set batch.dtype=float64 --set output.noise=true --set output.trajectory=every:16 --set device.kind=$dev
done
expect_exit 0 "stored noise: cuda == cpu within 1e-12" -- h5diff -d 1e-12 "$tmp/n_cpu.h5" "$tmp/n_cuda.h5" /trajectory/noise
expect_exit 0 "stored trajectory: cuda == cpu within 1e-9" -- h5diff -d 1e-9 "$tmp/n_cpu.h5" "$tmp/n_cuda.h5" /trajectory/x
# an exact start (drawn on the CPU, copied to the GPU)
for dev in cpu cuda; do
  expect_exit 0 "exact start on $dev" -- run 1 "$tmp/e_$dev.h5" "${base[@]}" --set sampler.start=exact \
    --set batch.dtype=float64 --set device.kind=$dev
done
expect_exit 0 "exact start: cuda == cpu within 1e-9" -- h5diff -d 1e-9 "$tmp/e_cpu.h5" "$tmp/e_cuda.h5" /samples
# the dataset model on the GPU, and its picture written from the host
expect_exit 0 "digits, serial, cuda" -- run 1 "$tmp/digits.h5" configs/default.yaml --quiet --set sampler.method=serial \
  --set batch.samples=16 --set device.kind=cuda
[ -s "$tmp/digits.png" ] && pass "digits picture written" || fail "no digits picture"

# ---- serial over ranks sharing the GPU: the samples do not depend on the rank count
for np in 1 3; do
  expect_exit 0 "serial ddpm on $np ranks, cuda" -- run $np "$tmp/r_$np.h5" "${base[@]}" --set sampler.solver=ddpm \
    --set output.noise=true --set device.kind=cuda
done
expect_exit 0 "serial: 3 ranks on one GPU == 1 rank (bitwise)" -- h5diff "$tmp/r_1.h5" "$tmp/r_3.h5" /samples
expect_exit 0 "serial noise: 3 ranks == 1 rank (bitwise)" -- h5diff "$tmp/r_1.h5" "$tmp/r_3.h5" /trajectory/noise

# ---- Parareal on the GPU
par=(--set sampler.method=parareal --set sampler.blocks=8 --set output.log_iterations=false --set device.kind=cuda)
for fine in ddim ddpm dpmpp-2m; do
  s="$tmp/s_${fine}_float32_cuda.h5"
  expect_exit 0 "parareal $fine, 1 rank, all B iterations (comm auto)" -- run 1 "$tmp/p1x_$fine.h5" "${base[@]}" "${par[@]}" \
    --set sampler.fine=$fine --set sampler.tol=1e-300
  expect_exit 0 "parareal $fine, 1 rank, B iterations == serial on cuda (bitwise)" -- h5diff "$s" "$tmp/p1x_$fine.h5" /samples
  expect_attr "$tmp/p1x_$fine.h5" comm nccl "device.comm auto, a GPU of its own: nccl"
  expect_exit 0 "parareal $fine, 1 rank, nccl, tol 1e-5" -- run 1 "$tmp/p1_$fine.h5" "${base[@]}" "${par[@]}" \
    --set sampler.fine=$fine --set sampler.tol=1e-5 --set device.comm=nccl
  expect_exit 0 "parareal $fine, 1 rank, nccl: == serial within 1e-4" -- h5diff -d 1e-4 "$s" "$tmp/p1_$fine.h5" /samples
  for pipe in false true; do
    tag="$fine, 4 ranks on one GPU, pipeline=$pipe"
    expect_exit 0 "parareal $tag, tol 1e-5" -- run 4 "$tmp/p4_${fine}_$pipe.h5" "${base[@]}" "${par[@]}" \
      --set sampler.fine=$fine --set sampler.tol=1e-5 --set sampler.pipeline=$pipe
    expect_exit 0 "parareal $tag == 1 rank (bitwise)" -- h5diff "$tmp/p1_$fine.h5" "$tmp/p4_${fine}_$pipe.h5" /samples
  done
  expect_attr "$tmp/p4_${fine}_false.h5" comm mpi "device.comm auto, ranks sharing a GPU: mpi"
  expect_exit 0 "parareal $fine, 4 ranks, all B iterations" -- run 4 "$tmp/p4x_$fine.h5" "${base[@]}" "${par[@]}" \
    --set sampler.fine=$fine --set sampler.tol=1e-300 --set sampler.pipeline=true
  expect_exit 0 "parareal $fine, 4 ranks, B iterations == serial on cuda (bitwise)" -- h5diff "$s" "$tmp/p4x_$fine.h5" /samples
done
# device.cuda_aware_mpi: no stages the GPU states through pinned host memory whatever MPI reports
expect_exit 0 "parareal ddim, 4 ranks, device.cuda_aware_mpi=no" -- run 4 "$tmp/p4_staged.h5" "${base[@]}" "${par[@]}" \
  --set sampler.fine=ddim --set sampler.tol=1e-5 --set device.cuda_aware_mpi=no
expect_exit 0 "parareal ddim, 4 ranks, staged == 1 rank (bitwise)" -- h5diff "$tmp/p1_ddim.h5" "$tmp/p4_staged.h5" /samples
expect_attr "$tmp/p4_staged.h5" mpi_gpu_states staged "the result says how the states went over MPI"
# boundaries stored from the GPU agree with the CPU's (three iterations on both)
for dev in cpu cuda; do
  expect_exit 0 "parareal boundaries on $dev" -- run 2 "$tmp/b_$dev.h5" "${base[@]}" "${par[@]}" --set device.kind=$dev \
    --set batch.dtype=float64 --set sampler.tol=1e-300 --set sampler.max_iters=3 --set output.trajectory=boundaries
done
expect_exit 0 "boundaries: cuda == cpu within 1e-9" -- h5diff -d 1e-9 "$tmp/b_cpu.h5" "$tmp/b_cuda.h5" /convergence/boundaries
# NCCL between ranks needs a GPU per rank: with two, 2 ranks == 1 rank; with one, a clear refusal
"$MPIEXEC" -np 2 "$PINTDIFF" run "${base[@]}" "${par[@]}" --set sampler.fine=ddim --set sampler.tol=1e-5 \
  --set device.comm=nccl --set output.file="$tmp/p2n.h5" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -qF "device.comm: nccl needs one GPU per rank" "$tmp/out"; then
  pass "2 ranks, nccl, one GPU: refused, key named ($(grep -o 'node .* GPU' "$tmp/out" | head -1))"
else
  [ $rc -eq 0 ] && pass "2 ranks over nccl" || { fail "2 ranks over nccl: exit $rc"; cat "$tmp/out" >&2; }
  expect_exit 0 "2 ranks over nccl == 1 rank (bitwise)" -- h5diff "$tmp/p1_ddim.h5" "$tmp/p2n.h5" /samples
  expect_attr "$tmp/p2n.h5" comm nccl "2 ranks, 2 GPUs: nccl"
fi
expect_exit 2 "nccl with device.gpu forcing a shared GPU" -- run 2 "$tmp/g0.h5" "${base[@]}" "${par[@]}" \
  --set device.comm=nccl --set device.gpu=0
expect_output "device.comm: nccl needs one GPU per rank" "shared GPU: key named"
expect_no_file "$tmp/g0.h5" "shared GPU: no result file"
# Picard on the GPU: the window's points batched per rank, the affine steps along the chain (1 rank over
# NCCL, 4 ranks sharing the GPU over mpi) == serial on cuda; psld (augmented states, the psld-gmm kernel)
# serial cuda == cpu
for m in picard block-picard; do
  pic=(--set sampler.method=$m --set sampler.fine=ddpm --set sampler.window=16 --set sampler.blocks=4
       --set sampler.tol=1e-12 --set batch.dtype=float32 --set output.log_iterations=false --set device.kind=cuda)
  expect_exit 0 "$m on cuda, 1 rank (comm auto)" -- run 1 "$tmp/k1_$m.h5" "${base[@]}" "${pic[@]}"
  expect_exit 0 "$m on cuda, 4 ranks sharing the GPU" -- run 4 "$tmp/k4_$m.h5" "${base[@]}" "${pic[@]}" --set device.comm=mpi
  expect_exit 0 "$m: 1 rank == serial ddpm float32 on cuda within 1e-5" -- \
    h5diff -d 1e-5 "$tmp/s_ddpm_float32_cuda.h5" "$tmp/k1_$m.h5" /samples
  expect_exit 0 "$m: 4 ranks == 1 rank (bitwise)" -- h5diff "$tmp/k1_$m.h5" "$tmp/k4_$m.h5" /samples
done
ps=(configs/ring8.yaml --quiet --set schedule.kind=psld --set sampler.spacing=uniform --set sampler.steps=50
    --set batch.samples=500 --set batch.dtype=float64 --set output.metrics=false --set output.png=false)
for sv in psld-roba psld-nvv psld-sscs; do
  for dev in cpu cuda; do
    expect_exit 0 "psld $sv on $dev" -- run 1 "$tmp/ps_${sv}_$dev.h5" "${ps[@]}" --set sampler.solver=$sv --set device.kind=$dev
  done
  expect_exit 0 "psld $sv: cuda == cpu within 1e-9" -- h5diff -d 1e-9 "$tmp/ps_${sv}_cpu.h5" "$tmp/ps_${sv}_cuda.h5" /samples
done
expect_exit 2 "device.gpu beyond the GPUs" -- run 1 "$tmp/g9.h5" "${base[@]}" --set device.kind=cuda --set device.gpu=4096
expect_output "device.gpu: 4096" "device.gpu named"
finish
