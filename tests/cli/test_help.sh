#!/usr/bin/env bash
# --help, --version, unknown commands and options.
. "$(dirname "$0")/lib.sh"
expect_exit 0 "pintdiff --help" -- "$PINTDIFF" --help
expect_output "run CONFIG" "help lists run"
expect_output "info RESULT.h5" "help lists info"
expect_exit 0 "pintdiff --version" -- "$PINTDIFF" --version
expect_output "pintdiff 0." "version printed"
for c in run check info config-doc; do
  expect_exit 0 "pintdiff $c --help" -- "$PINTDIFF" $c --help
done
expect_exit 2 "unknown command" -- "$PINTDIFF" frobnicate
expect_output "unknown command 'frobnicate'" "unknown command named"
expect_exit 2 "no command" -- "$PINTDIFF"
expect_exit 2 "unknown option" -- "$PINTDIFF" run x.yaml --frob
expect_output "unknown option '--frob'" "unknown option named"
expect_exit 2 "run without CONFIG" -- "$PINTDIFF" run
expect_output "missing CONFIG" "missing CONFIG said"
expect_exit 2 "--set without a value" -- "$PINTDIFF" check "$PD_SRC/configs/default.yaml" --set
finish
