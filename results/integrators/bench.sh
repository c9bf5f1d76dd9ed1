#!/usr/bin/env bash
# Integrators of issue 6 beside their baselines (docs/INTEGRATORS.md): orders on the closed-form Gaussian,
# distribution error vs NFE on the 8-component ring and on digits, and each as Parareal's coarse solver.
#   bash results/integrators/bench.sh            (builds nothing: expects $PINTDIFF_BUILD, default build/)
# Environment: PINTDIFF_BUILD (binary directory with pintdiff and pd-bench-integrators), PYTHON (with numpy,
# matplotlib, h5py; default python3), INTEGRATORS_SCRATCH (raw .h5 files and logs, default
# /tmp/pintdiff-integrators-bench, not committed), RUN_TIMEOUT (seconds per mpirun, default 300),
# RING_SAMPLES (default 4000), DIGITS_SAMPLES (default 500), PARAREAL_SAMPLES (default 64),
# DIST_NP (ranks per ring8/digits run, default 1), LANES (such runs at once, default 2).
#
# 1. pd-bench-integrators (tools/bench_integrators.c): N(0.7, 0.5^2), d = 1, four VP schedules and psld
#    (the psld-* samplers on the psld-gmm model, exact 2x2 law), N = 10 .. 640;
# 2. ring8 (configs/ring8.yaml: vp-linear, logsnr spacing), float64 states, exact start, N = 10 20 50 100 200,
#    and a fine reference run (dpm-solver-2, 1000 steps) for the pathwise error;
# 3. ring8 on the li schedule (T = N, c0 = 2, c1 = 4: our choice, the paper gives none; spacing leading,
#    steps = T so that the grid is the schedule), the accelerated samplers and their baselines;
# 4. ring8 on the psld schedule (uniform in t, 1 -> 1e-3), the psld-* samplers, prior start (exact is not
#    offered on psld), and a fine reference run (psld-nvv, 4000 steps) for the pathwise error of x;
#    (digits has no psld run: psld needs a gmm data model, the exact PSLD score is only known for mixtures);
# 5. digits (configs/default.yaml with sampler.method=serial: ddpm-linear, leading), exact start;
# 6. Parareal on digits (configs/digits-parareal.yaml: 1000-step DDIM fine, tol 1e-3), B = 8 blocks on 8 ranks
#    (oversubscribed), not pipelined, coarse = each solver below, 1 and 4 coarse steps per block;
# 7. results/integrators/analyse.py: gauss.csv, dist.csv, parareal.csv, integrators.png.
# Sections 2-5 run DIST_NP = 1 rank per run, LANES = 2 runs at a time: a run's samples and metrics do not
# depend on the number of ranks (Philox keyed by global sample index; checked bitwise), and the metrics,
# which cost most of a run, are computed on one rank, so two 1-rank runs use the 2 cores better than one
# 2-rank run. Parareal runs one at a time.
#
# A solver is written NAME[:key=value]... where key is a sampler.* config key (conj_lambda, eta): add
# solvers to the lists below.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(realpath "${PINTDIFF_BUILD:-build}")
P=$BUILD/pintdiff
S=${INTEGRATORS_SCRATCH:-/tmp/pintdiff-integrators-bench}
PY=${PYTHON:-python3}
TMO=${RUN_TIMEOUT:-300}
RING_SAMPLES=${RING_SAMPLES:-4000}
DIGITS_SAMPLES=${DIGITS_SAMPLES:-500}
PARAREAL_SAMPLES=${PARAREAL_SAMPLES:-64}
DIST_NP=${DIST_NP:-1}
LANES=${LANES:-2}

GAUSS_SOLVERS=(ddim euler heun dpm-solver-2 dpmpp-2m li-ddim accel-ddim
  conjugate-ddim:conj_lambda=-2 conjugate-ddim:conj_lambda=-1 conjugate-ddim:conj_lambda=-0.5
  conjugate-ddim:conj_lambda=0.5 conjugate-ddim:conj_lambda=1
  conjugate-2 conjugate-2:conj_lambda=-1 conjugate-2:conj_lambda=-0.5 conjugate-2:conj_lambda=0.5
  ddpm ddim:eta=1 li-ddpm accel-ddpm
  psld-em psld-sscs psld-noba psld-roba psld-ode-euler psld-rvv psld-nvv)
DIST_SOLVERS=(ddim conjugate-ddim:conj_lambda=-1 conjugate-ddim:conj_lambda=-0.5 conjugate-ddim:conj_lambda=0.5
  accel-ddim li-ddim dpm-solver-2 conjugate-2 conjugate-2:conj_lambda=-1 dpmpp-2m ddpm li-ddpm accel-ddpm)
# digits: the ring8 list less conjugate-ddim lambda = -0.5 and conjugate-2 lambda = 0 (= heun), to keep the
# script under 10 minutes: digits cannot rank deterministic samplers (all on the SW2 floor), and lambda = -1
# and 0.5 show what lambda != 0 does there
DIGITS_SOLVERS=(ddim conjugate-ddim:conj_lambda=-1 conjugate-ddim:conj_lambda=0.5 accel-ddim li-ddim dpm-solver-2
  conjugate-2:conj_lambda=-1 dpmpp-2m ddpm li-ddpm accel-ddpm)
# psld: baselines em, sscs (stochastic) and ode-euler (deterministic), then the splitting schemes
PSLD_SOLVERS=(psld-em psld-sscs psld-noba psld-roba psld-ode-euler psld-rvv psld-nvv)
PSLD_REF_STEPS=4000
LI_SOLVERS=(ddim accel-ddim li-ddim dpm-solver-2 ddpm li-ddpm accel-ddpm)
DIST_STEPS=(10 20 50 100 200)
COARSE_SOLVERS=(ddim conjugate-ddim:conj_lambda=-1 conjugate-ddim:conj_lambda=-0.5 conjugate-ddim:conj_lambda=0.5
  accel-ddim dpmpp-2m dpm-solver-2)
COARSE_STEPS=(1 4)
PARAREAL_BLOCKS=8

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
mkdir -p "$S/gauss" "$S/ring8" "$S/ring8-li" "$S/ring8-psld" "$S/digits" "$S/parareal" "$S/log"
rm -f "$S"/*/*.h5 "$S"/log/*.log "$S/gauss/gauss.csv" "$S/tables.md"   # no stale results from an earlier run
{
  echo "date=$(date -u +%FT%TZ)"
  echo "build=$BUILD"
  echo "version=$("$P" --version | tr '\n' ' ')"
  echo "repo_head_at_start=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "worktree_dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -c .)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "nproc=$(nproc)"
  echo "ring_samples=$RING_SAMPLES digits_samples=$DIGITS_SAMPLES parareal_samples=$PARAREAL_SAMPLES"
  echo "dist_np=$DIST_NP lanes=$LANES"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$S/meta.txt"
: > "$S/runs.tsv"

# spec_args SPEC: the --set options of NAME[:key=value]... (the solver key is set by the caller)
spec_args() {
  local IFS=:
  local -a parts
  read -ra parts <<< "$1"
  for kv in "${parts[@]:1}"; do printf -- '--set\nsampler.%s\n' "$kv"; done
}
# file-name form of a spec: conjugate-ddim:conj_lambda=-1 -> conjugate-ddim_conj_lambda=-1
tag() { echo "${1//:/_}"; }

# run NAME NP CONFIG ARGS...: one pintdiff job under mpirun and timeout; rc and elapsed s to runs.tsv
run() {
  local name=$1 np=$2 cfg=$3
  shift 3
  local t0 t1 rc log="$S/log/${name//\//_}.log"
  t0=$(date +%s.%N)
  timeout "$TMO" mpirun -np "$np" "$P" run "$cfg" --set output.png=false "$@" > "$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%.3f\t%s\n' "$name" "$np" "$rc" "$(echo "$t1 - $t0" | bc)" "$*" >> "$S/runs.tsv"
  printf '%-58s np=%-2s rc=%s %6.1f s\n' "$name" "$np" "$rc" "$(echo "$t1 - $t0" | bc)"
  [ "$rc" -eq 0 ] || echo "  FAILED (rc $rc; 124 = timeout): see $log"
}
# lane ARGS...: `run ARGS...` in the background once fewer than LANES such runs are going; `wait` ends a section
lane() {
  while [ "$(jobs -rp | wc -l)" -ge "$LANES" ]; do wait -n; done
  run "$@" &
}

t_start=$(date +%s)
echo "== 1. Gaussian: pd-bench-integrators"
t_sec=$(date +%s)
"$BUILD/pd-bench-integrators" "${GAUSS_SOLVERS[@]}" > "$S/gauss/gauss.csv" 2> "$S/log/gauss.log"
echo "pd-bench-integrators rc=$? ($(grep -vc '^#' "$S/gauss/gauss.csv") lines)"
cat "$S/log/gauss.log"
echo "section_gauss_s=$(( $(date +%s) - t_sec ))" >> "$S/meta.txt"

echo "== 2. ring8 (vp-linear, logsnr), $RING_SAMPLES samples, float64, exact start"
RING=(--set sampler.start=exact --set batch.dtype=float64 --set "batch.samples=$RING_SAMPLES")
t_sec=$(date +%s)
lane ring8/reference "$DIST_NP" configs/ring8.yaml "${RING[@]}" --set sampler.solver=dpm-solver-2 \
  --set sampler.steps=1000 --set "output.file=$S/ring8/reference.h5"
for spec in "${DIST_SOLVERS[@]}"; do
  mapfile -t extra < <(spec_args "$spec")
  for N in "${DIST_STEPS[@]}"; do
    lane "ring8/$(tag "$spec")-N$N" "$DIST_NP" configs/ring8.yaml "${RING[@]}" --set "sampler.solver=${spec%%:*}" \
      "${extra[@]}" --set "sampler.steps=$N" --set "output.file=$S/ring8/$(tag "$spec")-N$N.h5"
  done
done
wait
echo "section_ring8_s=$(( $(date +%s) - t_sec ))" >> "$S/meta.txt"

echo "== 3. ring8 on the li schedule (T = N, c0 = 2, c1 = 4)"
t_sec=$(date +%s)
for spec in "${LI_SOLVERS[@]}"; do
  mapfile -t extra < <(spec_args "$spec")
  for N in "${DIST_STEPS[@]}"; do
    lane "ring8-li/$(tag "$spec")-N$N" "$DIST_NP" configs/ring8.yaml "${RING[@]}" --set schedule.kind=li \
      --set "schedule.train_steps=$N" --set schedule.li_c0=2 --set schedule.li_c1=4 --set sampler.spacing=leading \
      --set "sampler.solver=${spec%%:*}" "${extra[@]}" --set "sampler.steps=$N" \
      --set "output.file=$S/ring8-li/$(tag "$spec")-N$N.h5"
  done
done
wait
echo "section_ring8_li_s=$(( $(date +%s) - t_sec ))" >> "$S/meta.txt"

echo "== 4. ring8 on the psld schedule (uniform in t), $RING_SAMPLES samples, float64, prior start"
t_sec=$(date +%s)
PSLD=(--set schedule.kind=psld --set sampler.spacing=uniform --set batch.dtype=float64
  --set "batch.samples=$RING_SAMPLES")
lane ring8-psld/reference "$DIST_NP" configs/ring8.yaml "${PSLD[@]}" --set sampler.solver=psld-nvv \
  --set "sampler.steps=$PSLD_REF_STEPS" --set "output.file=$S/ring8-psld/reference.h5"
for spec in "${PSLD_SOLVERS[@]}"; do
  mapfile -t extra < <(spec_args "$spec")
  for N in "${DIST_STEPS[@]}"; do
    lane "ring8-psld/$(tag "$spec")-N$N" "$DIST_NP" configs/ring8.yaml "${PSLD[@]}" \
      --set "sampler.solver=${spec%%:*}" "${extra[@]}" --set "sampler.steps=$N" \
      --set "output.file=$S/ring8-psld/$(tag "$spec")-N$N.h5"
  done
done
wait
echo "section_ring8_psld_s=$(( $(date +%s) - t_sec ))" >> "$S/meta.txt"

echo "== 5. digits (ddpm-linear, leading), $DIGITS_SAMPLES samples, exact start"
t_sec=$(date +%s)
for spec in "${DIGITS_SOLVERS[@]}"; do
  mapfile -t extra < <(spec_args "$spec")
  for N in "${DIST_STEPS[@]}"; do
    lane "digits/$(tag "$spec")-N$N" "$DIST_NP" configs/default.yaml --set sampler.method=serial \
      --set sampler.start=exact --set "batch.samples=$DIGITS_SAMPLES" --set "sampler.solver=${spec%%:*}" \
      "${extra[@]}" --set "sampler.steps=$N" --set "output.file=$S/digits/$(tag "$spec")-N$N.h5"
  done
done
wait
echo "section_digits_s=$(( $(date +%s) - t_sec ))" >> "$S/meta.txt"

echo "== 6. Parareal on digits: B = $PARAREAL_BLOCKS on $PARAREAL_BLOCKS ranks, tol 1e-3, $PARAREAL_SAMPLES samples"
t_sec=$(date +%s)
PAR=(--set "sampler.blocks=$PARAREAL_BLOCKS" --set sampler.tol=1e-3 --set sampler.pipeline=false
  --set output.metrics=false --set "batch.samples=$PARAREAL_SAMPLES")
run parareal/serial 1 configs/digits-parareal.yaml --set sampler.method=serial --set sampler.solver=ddim \
  --set output.metrics=false --set "batch.samples=$PARAREAL_SAMPLES" --set "output.file=$S/parareal/serial.h5"
for cs in "${COARSE_STEPS[@]}"; do
  for spec in "${COARSE_SOLVERS[@]}"; do
    mapfile -t extra < <(spec_args "$spec")
    run "parareal/$(tag "$spec")-c$cs" "$PARAREAL_BLOCKS" configs/digits-parareal.yaml "${PAR[@]}" \
      --set "sampler.coarse=${spec%%:*}" "${extra[@]}" --set "sampler.coarse_steps=$cs" \
      --set "output.file=$S/parareal/$(tag "$spec")-c$cs.h5"
  done
done

echo "section_parareal_s=$(( $(date +%s) - t_sec ))" >> "$S/meta.txt"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$S/meta.txt"
echo "bench_s=$(( $(date +%s) - t_start ))" >> "$S/meta.txt"
cat "$S/meta.txt"

echo "== 7. analysis"
"$PY" results/integrators/analyse.py "$S"
