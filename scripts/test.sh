#!/usr/bin/env bash
# Builds netref and runs the whole test suite: unit, integration, fault injection, Python rpyc
# interop and the find_package and subproject consumers in a release build; the release tree's
# .deb (scripts/package-test.sh: contents, consumers built against it with CMake and with
# pkg-config); a smoke run of the benchmark programs (no speed is judged) and a short run of
# the soak programs (K1-K3); then the suite again under ASan+UBSan (leak checks on) and under
# TSan, each in its own build tree; then the libFuzzer targets (clang-14): corpus replay and a
# bounded run of each. Any failure or sanitizer report fails the run.
# Usage: scripts/test.sh [--quick]   (--quick: the release build and its tests only)
# NETREF_FUZZ_SECONDS: seconds per fuzz target (default 25).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=false
if [ "${1:-}" = "--quick" ]; then quick=true; fi
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
jobs=$(nproc)

started=$SECONDS
elapsed() { echo "   ($(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s since the start)"; }

run_tree() {  # run_tree <dir> <cmake args...>
  local dir=$1
  shift
  echo "== $(basename "$dir"): configure, build, test"; elapsed
  cmake -S "$root" -B "$dir" -DNETREF_WERROR=$werror "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 300)
}

run_tree "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETREF_BUILD_BENCH=ON
if [ "$quick" = true ]; then exit 0; fi
echo "== package: the release tree's .deb, its contents, a consumer built against it (CMake, pkg-config)"
bash "$root/scripts/package-test.sh" "$root/build"
echo "== benchmark smoke run"
bash "$root/scripts/bench.sh" --quick "$root/build"
echo "== soak short run (K1-K3: counters back to baseline, descriptors and threads steady)"
bash "$root/scripts/soak.sh" --short "$root/build"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
sanitized=(-DCMAKE_BUILD_TYPE=Debug -DNETREF_BUILD_SAMPLES=OFF -DNETREF_BUILD_BENCH=OFF -DNETREF_INSTALL=OFF)
run_tree "$root/build-asan" "${sanitized[@]}" -DNETREF_SANITIZE=address,undefined
run_tree "$root/build-tsan" "${sanitized[@]}" -DNETREF_SANITIZE=thread
if [ -f "$root/scripts/fuzz.sh" ]; then
  echo "== fuzz: replay the corpora, then ${NETREF_FUZZ_SECONDS:-25} s per target"
  bash "$root/scripts/fuzz.sh" "${NETREF_FUZZ_SECONDS:-25}"
fi
echo "all test trees passed"; elapsed
