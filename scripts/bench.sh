#!/usr/bin/env bash
# Runs issue 4's benchmarks: builds the bench programs, starts the netref bench server, the raw
# TCP baseline server and a Python rpyc server on free loopback ports, runs W1-W6 (C++ client),
# W7 (the stock rpyc client of /usr/bin/python3) and, in the full run, callgrind's instruction
# count of a W1 call and the gnuplot chart of W1's latencies; prints the table and writes every
# figure to <build>/bench/results.json. Stops the servers it started.
#
# Usage: scripts/bench.sh [--quick] [build-dir]     (build-dir defaults to ./build)
#   --quick  a few seconds: checks that every program works (CI smoke test). It judges no
#            speed; it fails only when a program fails or a functional check does (a chain
#            that is not one round trip, lent objects that do not come back to zero).
#            It needs neither valgrind nor gnuplot.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=false
build=$root/build
for arg in "$@"; do
  case $arg in
    --quick) quick=true ;;
    -*) echo "usage: $0 [--quick] [build-dir]" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
python=/usr/bin/python3   # Debian's, which has rpyc 5.3 (another python3 may come first on PATH)
out=$build/bench
started=$(date +%s)

step() { printf '== %s\n' "$*" >&2; }

step "build (bench targets)"
mkdir -p "$out"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETREF_BUILD_BENCH=ON &&
       cmake --build "$build" -j"$(nproc)" --target netref_bench netref_bench_server raw_bench_server; } \
     >"$out/build.log" 2>&1; then
  cat "$out/build.log" >&2
  exit 1
fi
built=$(date +%s)
rm -f "$out"/{client,w7,callgrind,machine,results}.json "$out"/w1_*.dat "$out"/w1_latency.png

# Servers: each prints its port(s) on its first line. Only the PIDs started here are stopped.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
start_server() {  # start_server <name> <command...>: runs it, waits for its first line
  local name=$1
  shift
  "$@" >"$out/$name.out" 2>"$out/$name.err" &
  pids+=($!)
  for _ in $(seq 1 200); do
    if [ -s "$out/$name.out" ]; then return 0; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "$name did not start:" >&2
  cat "$out/$name.err" >&2
  exit 1
}
step "start servers"
start_server netref_server "$build/bench/netref_bench_server"
start_server raw_server "$build/bench/raw_bench_server"
start_server rpyc_server "$python" "$root/bench/python/rpyc_server.py"
read -r _ port plain_port pool_port pool_name pool_plain_port <"$out/netref_server.out"
read -r _ raw_port <"$out/raw_server.out"
read -r _ rpyc_port <"$out/rpyc_server.out"

# Where the run happens, for RESULTS.md.
"$python" - "$out/machine.json" "$quick" <<'EOF'
import json, os, platform, subprocess, sys
model = "unknown"
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
with open("/proc/meminfo") as f:
    mem_kib = int(f.readline().split()[1])
compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
json.dump({"cpu": model, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
           "kernel": platform.release(), "compiler": compiler, "build_type": "RelWithDebInfo",
           "load_average_at_start": os.getloadavg()[0], "mode": "quick" if sys.argv[2] == "true" else "full"},
          open(sys.argv[1], "w"), indent=2)
EOF

step "W1-W6: C++ client against netref and raw TCP"
quick_flag=()
if [ "$quick" = true ]; then quick_flag=(--quick); fi
"$build/bench/netref_bench" "${quick_flag[@]}" --port "$port" --plain-port "$plain_port" \
  --pool-port "$pool_port" --pool-name "$pool_name" --pool-plain-port "$pool_plain_port" \
  --raw-port "$raw_port" --out "$out"

step "W7: Python rpyc client against the netref server and the Python rpyc server"
# Alternating rounds inside one client; the best round per server (the machine's load drifts).
if [ "$quick" = true ]; then w7=(1 200 20 2); else w7=(6 1500 300 8); fi
"$python" "$root/bench/python/w7_client.py" "$port" "$rpyc_port" "${w7[@]}" >"$out/w7.json"

if [ "$quick" = false ]; then
  step "callgrind: instructions per W1 call, client and server (runs of N and 0 calls)"
  if command -v valgrind >/dev/null; then
    calls=2000
    instructions() {  # instructions <only> <calls> <port args...>
      local only=$1 n=$2
      shift 2
      valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$only.$n" \
        "$build/bench/netref_bench" --only "$only" --calls "$n" --warmup 100 "$@" >/dev/null 2>&1
      awk '/^(summary|totals):/ {print $2; exit}' "$out/callgrind.$only.$n"
    }
    netref_n=$(instructions w1-netref $calls --port "$port")
    netref_0=$(instructions w1-netref 0 --port "$port")
    raw_n=$(instructions w1-raw $calls --raw-port "$raw_port")
    raw_0=$(instructions w1-raw 0 --raw-port "$raw_port")
    # The server's side of the same calls: a bench server of its own under callgrind, stopped
    # with SIGTERM (it exits normally, so callgrind writes its counts).
    server_instructions() {  # server_instructions <calls>
      local n=$1 pid cg_port
      rm -f "$out/callgrind_server.out"
      valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.server.$n" \
        "$build/bench/netref_bench_server" >"$out/callgrind_server.out" 2>/dev/null &
      pid=$!
      for _ in $(seq 1 200); do [ -s "$out/callgrind_server.out" ] && break; sleep 0.05; done
      read -r _ cg_port _ <"$out/callgrind_server.out"
      "$build/bench/netref_bench" --only w1-netref --calls "$n" --warmup 100 --port "$cg_port" >/dev/null
      kill -TERM "$pid"
      wait "$pid" || true
      awk '/^(summary|totals):/ {print $2; exit}' "$out/callgrind.server.$n"
    }
    server_n=$(server_instructions $calls)
    server_0=$(server_instructions 0)
    "$python" - "$out/callgrind.json" "$calls" "$netref_n" "$netref_0" "$raw_n" "$raw_0" "$server_n" "$server_0" <<'EOF'
import json, sys
path, calls, nn, n0, rn, r0, sn, s0 = sys.argv[1], *map(int, sys.argv[2:])
json.dump({"w1.netref.instructions_per_call": (nn - n0) / calls,
           "w1.raw.instructions_per_call": (rn - r0) / calls,
           "w1.netref.server_instructions_per_call": (sn - s0) / calls}, open(path, "w"), indent=2)
EOF
  else
    echo "valgrind not found: no instruction counts" >&2
  fi

  step "chart: W1 latency distribution"
  if command -v gnuplot >/dev/null; then
    gnuplot -e "dir='$out'" "$root/bench/w1_latency.gp"
  else
    echo "gnuplot not found (apt-get install gnuplot-nox): no chart" >&2
  fi
fi

cleanup
trap - EXIT
step "results (build $((built - started)) s, run $(($(date +%s) - built)) s)"
"$python" "$root/bench/report.py" "$out"
echo "figures: $out/results.json"
if [ -f "$out/w1_latency.png" ]; then echo "chart:   $out/w1_latency.png"; fi
