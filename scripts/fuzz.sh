#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan) in build-fuzz, replays every checked-in
# corpus and regression input, then fuzzes each target for a bounded time on a copy of its
# corpus, so the tree stays clean. Fails on any crash, leak, timeout or out-of-memory and
# prints the saved input's path (under build-fuzz/fuzz-out/<target>/).
#
# Usage: scripts/fuzz.sh [SECONDS]       SECONDS per target, default 60; 0 replays only
#        scripts/fuzz.sh --merge SECONDS  fuzz, then add what raised coverage to fuzz/corpus/
# Limits: -timeout=5 (a slow input is a bug; one slow only once is re-run, see below), -rss_limit_mb=2048, and -malloc_limit_mb=128: no
# single allocation may come near it while every cap in the harnesses is at most 16 MiB, so an
# allocation sized by a peer's length field before checking it fails the run (R1).
# Needs clang-14 and libclang-rt-14-dev (llvm-14 for symbolized stacks). Environment:
#   NETREF_FUZZ_TARGETS="frame brine"  a subset;  JOBS=n  build parallelism (default 2)
#
# A crash found here becomes a regression: copy the input to fuzz/regressions/<target>/ and
# replay it with build-fuzz/fuzz/<target>_replay (NETREF_FUZZ_TRACE=1 makes harnesses talk).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
merge=false
if [ "${1:-}" = "--merge" ]; then
  merge=true
  shift
fi
seconds=${1:-60}
targets=${NETREF_FUZZ_TARGETS:-"frame inflate brine exception session lent_table send_queue"}
build="$root/build-fuzz"
out="$build/fuzz-out"
jobs=${JOBS:-2}

export CC=${CC:-clang-14} CXX=${CXX:-clang++-14}
symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || echo /usr/lib/llvm-14/bin/llvm-symbolizer)
if [ -x "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH="$symbolizer"; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== configure and build $build ($CXX)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETREF_BUILD_FUZZ=ON \
  -DNETREF_BUILD_TESTS=OFF -DNETREF_BUILD_SAMPLES=OFF -DNETREF_BUILD_BENCH=OFF -DNETREF_INSTALL=OFF \
  -DNETREF_SANITIZE=fuzzer-no-link,address,undefined >/dev/null
build_targets=()
for t in $targets; do build_targets+=("${t}_fuzz" "${t}_replay"); done
cmake --build "$build" -j"$jobs" --target "${build_targets[@]}"

failed=()
for t in $targets; do
  echo "== replay $t: fuzz/corpus/$t fuzz/regressions/$t"
  mkdir -p "$root/fuzz/regressions/$t"
  if ! "$build/fuzz/${t}_replay" "$root/fuzz/corpus/$t" "$root/fuzz/regressions/$t" >"$build/replay-$t.log" 2>&1; then
    tail -n 40 "$build/replay-$t.log"
    echo "!! $t: replay failed on $(grep '^input ' "$build/replay-$t.log" | tail -n 1 | cut -c7-)"
    failed+=("$t (replay)")
  else
    tail -n 1 "$build/replay-$t.log"
  fi
done
if [ "$seconds" = 0 ]; then
  if [ ${#failed[@]} -ne 0 ]; then echo "FAILED: ${failed[*]}"; exit 1; fi
  echo "all corpora replayed"
  exit 0
fi

for t in $targets; do
  work="$out/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "$root/fuzz/corpus/$t/." "$work/corpus/"
  echo "== fuzz $t for ${seconds}s"
  set +e
  (cd "$work" && "$build/fuzz/${t}_fuzz" corpus -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -malloc_limit_mb=128 -artifact_prefix="$work/artifacts/" -print_final_stats=1 >fuzz.log 2>&1)
  rc=$?
  set -e
  { grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/fuzz.log" || true; } | tr '\n' ' '
  echo
  # libFuzzer saves an input that once took 10 s or more as slow-unit-*, even when the machine,
  # not the input, stalled. Such an input fails the run only if it is slow again on a replay.
  for slow in $(find "$work/artifacts" -type f -name 'slow-unit-*' | sort); do
    started=$(date +%s%N)
    if "$build/fuzz/${t}_fuzz" -runs=3 -timeout=5 -rss_limit_mb=2048 -malloc_limit_mb=128 "$slow" >"$slow.log" 2>&1 &&
       [ $(( ($(date +%s%N) - started) / 1000000 )) -lt 5000 ]; then
      echo "   $t: $(basename "$slow") ran 3 times in $(( ($(date +%s%N) - started) / 1000000 )) ms on replay: the machine stalled, not the input"
      rm -f "$slow" "$slow.log"
    fi
  done
  crashers=$(find "$work/artifacts" -type f ! -name '*.log' | sort)
  if [ $rc -ne 0 ] || [ -n "$crashers" ]; then
    { grep -E 'ERROR|invariant|SUMMARY|^  ' "$work/fuzz.log" || true; } | head -n 20
    echo "!! $t: exit $rc; crashing input(s):"
    for c in $crashers; do echo "   $c"; done
    failed+=("$t")
    continue
  fi
  if [ "$merge" = true ]; then
    before=$(ls "$root/fuzz/corpus/$t" | wc -l)
    # Edges only (no hit counters): the checked-in corpus stays small.
    "$build/fuzz/${t}_fuzz" -merge=1 -use_counters=0 "$root/fuzz/corpus/$t" "$work/corpus" >"$work/merge.log" 2>&1
    echo "   merged into fuzz/corpus/$t: $before -> $(ls "$root/fuzz/corpus/$t" | wc -l) inputs"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all fuzz targets ran clean"
