#!/usr/bin/env bash
# Install pintdiff into a temporary prefix, then build and run a program that uses it through
# find_package(pintdiff): the exported CMake package, the installed headers and the library.
set -euo pipefail
build=${1:?build dir}; src=${2:?source dir}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
test -f "$tmp/prefix/include/pintdiff/pintdiff.h" && test -f "$tmp/prefix/include/pintdiff/version.h"
cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/cfg.log" 2>&1 \
  || { cat "$tmp/cfg.log"; exit 1; }
cmake --build "$tmp/consumer" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
LD_LIBRARY_PATH="$tmp/prefix/lib:${LD_LIBRARY_PATH:-}" "$tmp/consumer/consumer"
echo "package test: passed"
