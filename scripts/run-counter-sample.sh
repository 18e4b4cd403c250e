#!/usr/bin/env bash
# Builds the counter sample, starts its server on a free loopback port, runs the C++ and the
# Python client against it, and stops the server it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target counter_server counter_client
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$build/samples/counter_server" "$port" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
# Wait until the server accepts (bounded).
for _ in $(seq 1 100); do
  if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null; then break; fi
  sleep 0.05
done
echo "== C++ client"
"$build/samples/counter_client" "$port"
echo "== Python client (stock rpyc)"
/usr/bin/python3 "$root/samples/counter/client.py" "$port"
