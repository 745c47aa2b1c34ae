#!/usr/bin/env bash
# make test: installs dependencies, builds the fuzz targets (clang-16) and the tests and daemons
# (GCC with ASan/UBSan unless SANITIZE=0), then runs every tier through one ctest invocation so
# the count printed at the end covers unit, integration and fuzz-smoke tests.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

scripts/deps.sh

scripts/fuzz.sh build

if [ "${SANITIZE:-1}" = "1" ]; then
  dir=build/asan
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCOLLAB_SANITIZE=ON -DCOLLAB_FUZZ_BIN_DIR="$PWD/build/fuzz/bin" >/dev/null
else
  dir=build/test
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOLLAB_FUZZ_BIN_DIR="$PWD/build/fuzz/bin" >/dev/null
fi
cmake --build "$dir" -j "$JOBS"

# Leak checking stays on; our own code must not leak. halt_on_error keeps failures loud.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$dir"
ctest --output-on-failure -j "$JOBS" --timeout 600
