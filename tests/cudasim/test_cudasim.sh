#!/usr/bin/env bash
# cudasim must stop each program that breaks a CUDA rule, saying which rule (test_cudasim.cu, MODE).
#   test_cudasim.sh PATH/TO/test_cudasim
set -u
bin=$1
fails=0
# in an ASan build, leave SIGSEGV to cudasim's handler, which names the device allocation
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0
expect_stop() { # MODE MESSAGE
  local out rc
  out=$("$bin" "$1" 2>&1); rc=$?
  if [ $rc -ne 0 ] && grep -q "$2" <<<"$out" && ! grep -q "not stopped" <<<"$out"; then
    echo "ok: $1 stopped (exit $rc): $(grep -m1 "$2" <<<"$out")"
  else
    echo "FAIL: $1: exit $rc, want a stop saying '$2'; got:"; head -5 <<<"$out"; fails=$((fails + 1))
  fi
}
expect_stop host-touch "host code touched device memory"
expect_stop overrun "access outside a device allocation"
expect_stop divergent "threads wait at different barriers"
expect_stop host-arg "is not device memory"
expect_stop two-barriers "threads wait at different barriers"
expect_stop gemm-range "B (8 x 9, ld 8) is not a device range"
[ $fails -eq 0 ] && echo "test_cudasim.sh: all passed" || echo "test_cudasim.sh: $fails FAILED"
exit $((fails != 0))
