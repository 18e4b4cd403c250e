#!/usr/bin/env bash
# Makes throwaway certificates, starts the mutual-TLS sample server on a free loopback port,
# runs the C++ and the Python client against it, and stops the server it started (SIGTERM:
# a graceful stop).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target tls_server tls_client
certs=$(mktemp -d)
bash "$root/samples/tls/make-certs.sh" "$certs" >/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$build/samples/tls_server" "$certs" "$port" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$certs"' EXIT
for _ in $(seq 1 100); do
  if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null; then break; fi
  sleep 0.05
done
echo "== C++ client (mutual TLS)"
"$build/samples/tls_client" "$certs" "$port"
echo "== Python client (rpyc.ssl_connect)"
/usr/bin/python3 "$root/samples/tls/client.py" "$certs" "$port"
