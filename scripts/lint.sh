#!/usr/bin/env bash
# make lint: man pages (mandoc), shell scripts (bash -n), and formatting of changed C++ files.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
for m in man/*.[578]; do
  out=$(mandoc -T lint -W warning "$m" 2>&1 | grep -v "referenced manual not found")
  [ -z "$out" ] || { echo "$out"; rc=1; }
done
for s in scripts/*.sh .ci/run completions/bash/*; do
  bash -n "$s" || rc=1
done
if command -v clang-format >/dev/null; then
  files=$(git ls-files '*.cpp' '*.hpp')
  # shellcheck disable=SC2086
  clang-format --dry-run $files 2>&1 | grep -q warning && { echo "clang-format: run clang-format -i on the files above"; clang-format --dry-run $files 2>&1 | grep warning | head -20; }
fi
exit $rc
