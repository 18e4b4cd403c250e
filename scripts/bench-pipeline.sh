#!/usr/bin/env bash
# Promise pipelining next to Cap'n Proto's (issue 14 item 10): runs bench_pipeline and, when it
# was built (Cap'n Proto found at configure time), bench_capnp_pipeline, one after the other,
# twice (netref, capnp, netref, capnp), so that both are measured in the same window; prints
# every table, with the load average before each run. Builds nothing: build the two targets
# first, e.g.
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETREF_BUILD_BENCH=ON
#   cmake --build build --target bench_pipeline bench_capnp_pipeline
#
# Usage: scripts/bench-pipeline.sh [--quick] BUILD_DIR
#   --quick  passed to both programs (300 chains per row instead of 5,000)
set -euo pipefail
quick=()
build=
for arg in "$@"; do
  case $arg in
    --quick) quick=(--quick) ;;
    -*) echo "usage: $0 [--quick] BUILD_DIR" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
if [ -z "$build" ]; then
  echo "usage: $0 [--quick] BUILD_DIR" >&2
  exit 2
fi
netref_bench=$build/bench/bench_pipeline
capnp_bench=$build/bench/bench_capnp_pipeline
if [ ! -x "$netref_bench" ]; then
  echo "$0: $netref_bench not found: build the bench_pipeline target first" >&2
  exit 1
fi
if [ ! -x "$capnp_bench" ]; then
  echo "$0: $capnp_bench not built (Cap'n Proto not found at configure time): netref only" >&2
  capnp_bench=
fi

for round in 1 2; do
  printf '== round %s: netref (bench_pipeline)    load average: %s\n' "$round" "$(cut -d' ' -f1-3 /proc/loadavg)"
  "$netref_bench" "${quick[@]}"
  if [ -n "$capnp_bench" ]; then
    printf '== round %s: Cap'"'"'n Proto (bench_capnp_pipeline)    load average: %s\n' "$round" \
      "$(cut -d' ' -f1-3 /proc/loadavg)"
    "$capnp_bench" "${quick[@]}"
  fi
done
printf '== done    load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
