#!/usr/bin/env bash
# Bugs a CPU-only build cannot see, put into the GPU code one at a time: the SIM build's GPU tests must
# catch each (docs/CUDASIM.md has the table this prints). Not part of the suite (about 6 minutes on 2
# cores): bash tests/cudasim/mutations.sh [WORKDIR]
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
rm -rf "$work/tree" && mkdir -p "$work" && git -C "$src" archive HEAD | (mkdir "$work/tree" && tar -x -C "$work/tree")
cmake -S "$work/tree" -B "$work/build" -DPINTDIFF_CUDA=SIM -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$work/configure.log" || exit 1
caught=0 total=0
mutate() { # NAME FILE OLD NEW TESTS-REGEX
  local f="$work/tree/$2"; cp "$f" "$work/orig"; total=$((total + 1))
  python3 - "$f" "$3" "$4" <<'PY' || { echo "| $1 | $2 | the text to change was not found |"; return; }
import sys; p, o, n = sys.argv[1:4]; s = open(p).read(); assert o in s; open(p, "w").write(s.replace(o, n, 1))
PY
  if cmake --build "$work/build" -j"$(nproc)" > "$work/build-$1.log" 2>&1; then
    (cd "$work/build" && timeout 600 ctest -R "$5" --output-on-failure > "$work/test-$1.log" 2>&1)
    local rc=$? why
    why=$(grep -m1 -E 'cudasim: |^FAIL|FAIL: ' "$work/test-$1.log" | sed 's/^[0-9]*: //' | cut -c1-150)
    [ $rc -ne 0 ] && caught=$((caught + 1))
    echo "| $1 | $2 | $([ $rc -ne 0 ] && echo caught || echo MISSED): $why |"
  else
    echo "| $1 | $2 | did not build |"
  fi
  cp "$work/orig" "$f"
}
echo "| mutation | file | verdict, first message |"
echo "|---|---|---|"
mutate nccl-send-before-kernels mpi/transport_nccl.c "    PD_TRY(after_default_stream(ctx, w));
    ncclResult_t r = ncclGroupStart();
    for (int i = 0; i < n && issued(r); i++)
        r = ncclSend(" "    ncclResult_t r = ncclGroupStart();
    for (int i = 0; i < n && issued(r); i++)
        r = ncclSend(" 'transport_gpu'
mutate gmm-missing-team-sync src/cuda/gmm.cu "            w[k] = pd_gmm_resp(w[k], lmax);
        pd_team_sync<TEAM>();" "            w[k] = pd_gmm_resp(w[k], lmax);" 'test_gpu_models'
mutate dataset-wrong-ldb src/cuda/dataset.cu "&one, ds->rows, d, X, d," "&one, ds->rows, d, X, M," 'test_gpu_models'
mutate sqdiff-missing-syncthreads src/cuda/state_ops.cu "        if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
        __syncthreads();" "        if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];" 'test_gpu_state'
mutate copy-to-host-async src/cuda/state_ops.cu "    PD_CUDA_CHECK(ctx, cudaMemcpy(dst, src, bytes, k));" \
  "    PD_CUDA_CHECK(ctx, cudaMemcpyAsync(dst, src, bytes, k, 0));" 'transport_gpu_mpi'
mutate gmm-table-index src/cuda/gmm.cu "        const double *v = var + k * st.kst;" "        const double *v = var + gk * st.kst;" 'test_gpu_models'
mutate psld-host-table src/cuda/psld_gmm.cu "    PD_CUDA_TRY(ctx, cudaMemcpyAsync(g->tab, tab," "    g->tab = (double *)tab;
    PD_CUDA_TRY(ctx, cudaMemcpyAsync(g->tab, tab," 'test_gpu_models'
mutate team-reduce-no-barrier-before-reuse src/cuda/team_reduce.cuh "        __syncthreads(); /* sh may still be read by the team's previous reduction */
" "" 'test_gpu_models'
mutate transport-overwrite-before-wait mpi/transport_nccl.c "static pd_status nccl_wait_slot(pd_ctx *ctx, pd_transport *tp, int slot)
{
    nccl_impl *w = tp->impl;
    if (!w->pending[slot]) return PD_OK;" "static pd_status nccl_wait_slot(pd_ctx *ctx, pd_transport *tp, int slot)
{
    nccl_impl *w = tp->impl;
    w->pending[slot] = 0;
    if (!w->pending[slot]) return PD_OK;" 'transport_gpu_nccl'
echo "caught $caught of $total"
