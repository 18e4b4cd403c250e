#!/usr/bin/env bash
# Runs samples/async/coro_client against the counter sample's server on a free loopback port
# and checks what it prints (the cancelled race included); stops the server it started.
# Usage: run-coro-sample.sh SAMPLES_BUILD_DIR   (holding counter_server and async/coro_client)
set -euo pipefail
dir=${1:?usage: run-coro-sample.sh SAMPLES_BUILD_DIR}
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$dir/counter_server" "$port" >/dev/null 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do  # until the server accepts (bounded)
  if /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null; then break; fi
  sleep 0.05
done
out=$("$dir/async/coro_client" "$port")
echo "$out"
for expected in "add(2, 3) = 5" "counter.value = 15" "the timer won, the call was cancelled" \
                "apply(x * 2, 21) against a 10 s timer = 42" "an unexposed name, co_awaited:"; do
  if ! grep -qF "$expected" <<<"$out"; then
    echo "run-coro-sample.sh: missing: $expected" >&2
    exit 1
  fi
done
