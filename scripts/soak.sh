#!/usr/bin/env bash
# Runs the soak workloads K1-K3 of docs/FAULTS.md (issue 5): builds netref_soak and its server,
# then runs 1,000,000 calls each returning a fresh netref (K1), 1,000,000 calls each throwing
# (K2) and 100,000 short connections of 10 netref calls (K3) against a ThreadPoolServer child
# process on a loopback port. Prints each workload's table; fails when a check fails (lent
# objects, netrefs, pending requests, descriptors, threads, server VmRSS within 5%).
#
# Usage: scripts/soak.sh [--short] [build-dir]     (build-dir defaults to ./build)
#   --short  20,000 calls and 2,000 connections, a few seconds (CI, after the benchmark smoke
#            run in scripts/test.sh): every counter is checked, the RSS ratio only reported.
# The full run takes a few minutes on two cores; figures in bench/RESULTS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
short=()
build=$root/build
for arg in "$@"; do
  case $arg in
    --short) short=(--short) ;;
    -*) echo "usage: $0 [--short] [build-dir]" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done

echo "== build (soak targets)" >&2
mkdir -p "$build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETREF_BUILD_BENCH=ON &&
       cmake --build "$build" -j"$(nproc)" --target netref_soak netref_soak_server; } \
     >"$build/soak-build.log" 2>&1; then
  cat "$build/soak-build.log" >&2
  exit 1
fi

echo "== soak: K1, K2, K3${short:+ (short)}" >&2
started=$(date +%s)
status=0
"$build/bench/netref_soak" "${short[@]}" || status=$?
echo "== soak took $(($(date +%s) - started)) s" >&2
exit $status
