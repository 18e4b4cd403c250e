#!/usr/bin/env bash
# W1 (sync add, one call at a time) with metrics on and off, for bench/RESULTS.md:
#  1. latency: rounds alternate between a bench server and client without metrics and a pair
#     with them (netref_bench_server --metrics: calls counted per method, /metrics served and
#     scraped over HTTP every 10 ms; netref_bench --metrics: the client counts its calls too);
#  2. callgrind's instructions per call, client and server, with and without (runs of N and 0
#     calls; the server counting without the scraper, whose cost depends on time, not calls).
# Stops only the servers it started.
#
# Usage: scripts/bench-metrics.sh [build-dir] [rounds] [calls-per-round]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-6}
calls=${3:-20000}
out=$build/bench/metrics
mkdir -p "$out"
cmake --build "$build" -j2 --target netref_bench netref_bench_server >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
bench=$build/bench/netref_bench
server=$build/bench/netref_bench_server

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
start() {  # start <name> <args...>: prints the default port once the server says "ports"
  local name=$1
  shift
  "$server" "$@" >"$out/$name.out" 2>"$out/$name.err" &
  pids+=($!)
  for _ in $(seq 1 200); do [ -s "$out/$name.out" ] && break; sleep 0.05; done
  read -r _ port _ <"$out/$name.out"
  echo "$port"
}
off_port=$(start off)
on_port=$(start on --metrics)

echo "== W1 latency, $rounds alternating rounds of $calls calls (median_us per round)" >&2
: >"$out/w1.txt"
for r in $(seq 1 "$rounds"); do
  off=$("$bench" --only w1-netref --calls "$calls" --warmup 500 --port "$off_port" | awk '{print $3}')
  on=$("$bench" --only w1-netref --calls "$calls" --warmup 500 --port "$on_port" --metrics | awk '{print $3}')
  echo "$off $on" | tee -a "$out/w1.txt" >&2
done
grep -q "scrape failed" "$out/on.err" && { echo "a scrape failed" >&2; exit 1; }
scrapes=$(curl -s "http://127.0.0.1:$(awk '/^metrics/ {print $2}' "$out/on.err")/metrics" |
          awk '/^netref_server_calls_total\{method="add"\}/ {print $2}')
echo "server counted add calls: $scrapes" >&2

if command -v valgrind >/dev/null; then
  echo "== callgrind instructions per W1 call" >&2
  n=2000
  client_ins() {  # client_ins <calls> [--metrics]
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.client.$1${2:-}" \
      "$bench" --only w1-netref --calls "$1" --warmup 100 --port "$off_port" ${2:-} >/dev/null 2>&1
    awk '/^(summary|totals):/ {print $2; exit}' "$out/cg.client.$1${2:-}"
  }
  server_ins() {  # server_ins <calls> [--metrics-unscraped]
    local pid cg_port
    rm -f "$out/cg_server.out"
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.server.$1${2:-}" "$server" ${2:-} >"$out/cg_server.out" 2>/dev/null &
    pid=$!
    for _ in $(seq 1 400); do [ -s "$out/cg_server.out" ] && break; sleep 0.05; done
    read -r _ cg_port _ <"$out/cg_server.out"
    "$bench" --only w1-netref --calls "$1" --warmup 100 --port "$cg_port" >/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    awk '/^(summary|totals):/ {print $2; exit}' "$out/cg.server.$1${2:-}"
  }
  c_off=$(( ($(client_ins $n) - $(client_ins 0)) / n ))
  c_on=$(( ($(client_ins $n --metrics) - $(client_ins 0 --metrics)) / n ))
  s_off=$(( ($(server_ins $n) - $(server_ins 0)) / n ))
  s_on=$(( ($(server_ins $n --metrics-unscraped) - $(server_ins 0 --metrics-unscraped)) / n ))
  echo "client off $c_off on $c_on; server off $s_off on $s_on" | tee "$out/callgrind.txt" >&2
fi
