#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-16 into build/fuzz (make fuzz), or runs one target
# for a while: scripts/fuzz.sh run NAME [SECONDS].
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
dir=build/fuzz
case "${1:-build}" in
  build)
    CC=clang-16 CXX=clang++-16 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCOLLAB_FUZZ=ON >/dev/null
    cmake --build "$dir" -j "$JOBS"
    ;;
  run)
    name=$2; secs=${3:-60}
    mkdir -p "$dir/corpus/$name"
    seeds=tests/fuzz/corpus/$name
    "$dir/bin/${name}_fuzz" -max_total_time="$secs" "$dir/corpus/$name" $( [ -d "$seeds" ] && echo "$seeds" )
    ;;
  *) echo "usage: scripts/fuzz.sh build | run NAME [SECONDS]" >&2; exit 64 ;;
esac
