#!/usr/bin/env bash
# make bench: runs every bench/<name>/run script (each starts and stops its own peers on
# loopback and appends dated results to bench/RESULTS.md). Never part of make test.
set -uo pipefail
cd "$(dirname "$0")/.."
export COLLAB_BIN_DIR=${COLLAB_BIN_DIR:-$PWD/build/release/bin}
rc=0
found=0
for runner in bench/*/run; do
  [ -x "$runner" ] || continue
  found=1
  echo "== $runner"
  "$runner" || rc=$?
done
[ $found = 1 ] || echo "no benchmarks yet"
exit $rc
