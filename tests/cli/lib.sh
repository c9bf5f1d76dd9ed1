# Helpers for the command-line tests: count failures, never stop at the first.
set -u
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect_exit CODE DESCRIPTION -- command...   (stdout+stderr kept in $tmp/out)
expect_exit() {
  local want=$1 what=$2; shift 3
  "$@" > "$tmp/out" 2>&1
  local rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$what (exit $rc)"; else fail "$what: exit $rc, want $want"; cat "$tmp/out" >&2; fi
}
# expect_output TEXT DESCRIPTION  (in the last command's output)
expect_output() {
  if grep -qF -- "$1" "$tmp/out"; then pass "$2"; else fail "$2: no '$1' in output:"; cat "$tmp/out" >&2; fi
}
expect_no_file() {
  if [ -e "$1" ] || [ -e "$1.tmp" ]; then fail "$2: $1 (or .tmp) exists"; else pass "$2"; fi
}
finish() {
  if [ "$fails" -eq 0 ]; then echo "all passed"; exit 0; fi
  echo "$fails failed" >&2; exit 1
}
mpi() { local np=$1; shift; "$MPIEXEC" -np "$np" "$PINTDIFF" "$@"; }
