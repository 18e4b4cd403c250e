#!/usr/bin/env bash
# The cluster sample (samples/cluster): starts etcd (own temporary data directory, free
# loopback ports) and three cluster_server instances registered in it, runs cluster_client
# while it kills the instance the client is using (SIGKILL) and restarts it, and shows the
# client carrying on. Everything it started is stopped by PID. Exits non-zero when the client
# did not carry on, 77 when etcd is not installed.
#
#   scripts/run-cluster-sample.sh [BUILD_DIR]            builds the sample in BUILD_DIR (./build)
#   scripts/run-cluster-sample.sh --no-build BIN_DIR     runs BIN_DIR/cluster_{server,client}
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == --no-build ]]; then
  bin=${2:?--no-build needs the directory of cluster_server}
else
  build=${1:-$root/build}
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target cluster_server cluster_client
  bin=$build/samples
fi
etcd_program=/usr/bin/etcd
if [[ ! -x $etcd_program ]]; then
  echo "SKIP: no etcd at $etcd_program (apt-get install etcd-server)"
  exit 77
fi

tmp=$(mktemp -d)
declare -A pids=()  # what we started, by role; stopped by PID at exit
cleanup() {
  for role in "${!pids[@]}"; do kill "${pids[$role]}" 2>/dev/null || true; done
  for role in "${!pids[@]}"; do wait "${pids[$role]}" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Polls a condition every 50 ms for at most $1 seconds; fails naming what it waited for.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 $((seconds * 20))); do
    if "$@"; then return 0; fi
    sleep 0.05
  done
  echo "run-cluster-sample: gave up waiting for $what" >&2
  return 1
}
# How many instances of CLUSTER etcd lists (etcd's JSON gateway; keys are base64).
etcd_instances() {
  /usr/bin/python3 - "$etcd_url" <<'PY'
import base64, json, sys, urllib.request
prefix = b"netref/services/CLUSTER/"
end = prefix[:-1] + bytes([prefix[-1] + 1])
body = json.dumps({"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(end).decode(),
                   "count_only": True}).encode()
try:
    with urllib.request.urlopen(sys.argv[1] + "/v3/kv/range", body, timeout=1) as reply:
        print(json.load(reply).get("count", "0"))
except OSError:
    print(-1)
PY
}
etcd_lists() { [[ $(etcd_instances) == "$1" ]]; }
etcd_up() { [[ $(etcd_instances) != -1 ]]; }
client_calls() { grep -c '^call [0-9]*:' "$tmp/client.log" || true; }
client_made_calls() { (($(client_calls) >= $1)); }
client_reconnected() { grep -q '^reconnected to' "$tmp/client.log"; }

client_port=$(free_port)
peer_port=$(free_port)
etcd_url=http://127.0.0.1:$client_port
"$etcd_program" --name cluster-sample --data-dir "$tmp/etcd" \
  --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "cluster-sample=http://127.0.0.1:$peer_port" \
  --logger zap --log-outputs stderr --log-level warn >"$tmp/etcd.log" 2>&1 &
pids[etcd]=$!
wait_for 10 "etcd at $etcd_url" etcd_up
echo "== etcd serving at $etcd_url (pid ${pids[etcd]})"

ports=()
start_server() {  # $1: index
  "$bin/cluster_server" --port "${ports[$1]}" --name CLUSTER --etcd "$etcd_url" --ttl 2 >>"$tmp/server$1.log" 2>&1 &
  pids[server$1]=$!
}
for i in 0 1 2; do
  ports[i]=$(free_port)
  start_server "$i"
done
wait_for 10 "three instances in etcd" etcd_lists 3
echo "== three instances: 127.0.0.1:${ports[0]} 127.0.0.1:${ports[1]} 127.0.0.1:${ports[2]}"

"$bin/cluster_client" --name CLUSTER --etcd "$etcd_url" --calls 40 --interval 50 >"$tmp/client.log" 2>&1 &
client_pid=$!
pids[client]=$client_pid
wait_for 10 "the client's first calls" client_made_calls 5

# The instance the client is on now: the one its last call reached.
victim_port=$(grep '^call [0-9]*:' "$tmp/client.log" | tail -1 | sed -E 's/^call [0-9]+: 127\.0\.0\.1:([0-9]+).*/\1/')
victim=""
for i in 0 1 2; do [[ ${ports[i]} == "$victim_port" ]] && victim=$i; done
[[ -n $victim ]] || { echo "run-cluster-sample: cannot tell which instance the client uses" >&2; exit 1; }
kill -KILL "${pids[server$victim]}"
wait "${pids[server$victim]}" 2>/dev/null || true
echo "== killed 127.0.0.1:$victim_port (SIGKILL) under the client"
wait_for 10 "the client to reconnect" client_reconnected
start_server "$victim"
echo "== restarted 127.0.0.1:$victim_port"

status=0
wait "$client_pid" || status=$?
unset 'pids[client]'
echo "== the client's output"
cat "$tmp/client.log"
calls_after=$(sed -n '/^reconnected to/,$p' "$tmp/client.log" | grep -c '^call [0-9]*:' || true)
if ((status != 0)) || ((calls_after == 0)); then
  echo "run-cluster-sample: FAILED: the client did not carry on (exit $status, $calls_after calls after the reconnect)" >&2
  exit 1
fi
echo "== the client carried on: $calls_after calls answered after the reconnect"
