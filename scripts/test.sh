#!/usr/bin/env bash
# Builds netref and runs the whole test suite: unit, integration, Python rpyc interop and the
# find_package consumer in a release build, then the suite again under ASan+UBSan (leak checks
# on) and under TSan, each in its own build tree. Any failure or sanitizer report fails the run.
# Usage: scripts/test.sh [--quick]   (--quick: the release build only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=false
if [ "${1:-}" = "--quick" ]; then quick=true; fi
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
jobs=$(nproc)

run_tree() {  # run_tree <dir> <cmake args...>
  local dir=$1
  shift
  echo "== $(basename "$dir"): configure, build, test"
  cmake -S "$root" -B "$dir" -DNETREF_WERROR=$werror "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 300)
}

run_tree "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$quick" = true ]; then exit 0; fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
sanitized=(-DCMAKE_BUILD_TYPE=Debug -DNETREF_BUILD_SAMPLES=OFF -DNETREF_BUILD_BENCH=OFF -DNETREF_INSTALL=OFF)
run_tree "$root/build-asan" "${sanitized[@]}" -DNETREF_SANITIZE=address,undefined
run_tree "$root/build-tsan" "${sanitized[@]}" -DNETREF_SANITIZE=thread
echo "all test trees passed"
