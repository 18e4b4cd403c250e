#!/usr/bin/env bash
# Runs the peer RPC harness (../shared/peers beside this repository: rawtcp, Thrift, Ice,
# Cap'n Proto, gRPC and netref itself, each client and server a process of its own) against
# this tree's netref: builds the libraries and installs them into PREFIX, builds the harness
# into PEERS_BUILD (its build.sh apt-installs the peers' Debian packages that are missing, so
# it needs root the first time), then runs its run_all.sh, which prints one Markdown table
# with the load average before and after.
#
# Usage: scripts/peers.sh PREFIX PEERS_BUILD [SYSTEM...]
#   PREFIX       where netref is installed (a CMake prefix)
#   PEERS_BUILD  the harness's binaries and logs; keep it, later runs reuse it
#   SYSTEM       run_all.sh's names (default: rawtcp netref-nozlib thrift ice capnp grpc)
# env: PEERS_DIR (default: ../shared/peers beside the repository), NETREF_INSTALL_BUILD (the
#      CMake build dir for the install, default PEERS_BUILD/netref-install-build), and the
#      harness's own (RUN_BUDGET, CLIENT_TIMEOUT, BENCH_W*).
# The harness is not part of this repository: without it this script says so and exits 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS_DIR:-$root/../shared/peers}
if [ ! -x "$peers/build.sh" ] || [ ! -x "$peers/run_all.sh" ]; then
  echo "peers.sh: no peer harness at $peers (it is not part of this repository); nothing to do"
  exit 0
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 PREFIX PEERS_BUILD [SYSTEM...]" >&2
  exit 2
fi
prefix=$1
peers_build=$2
shift 2
systems=("$@")
if [ ${#systems[@]} -eq 0 ]; then systems=(rawtcp netref-nozlib thrift ice capnp grpc); fi
peers=$(cd "$peers" && pwd)
mkdir -p "$prefix" "$peers_build"
prefix=$(cd "$prefix" && pwd)
peers_build=$(cd "$peers_build" && pwd)
install_build=${NETREF_INSTALL_BUILD:-$peers_build/netref-install-build}

step() { printf '== %s\n' "$*" >&2; }

step "netref $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '(no git)'): build and install into $prefix"
# Only the libraries: what find_package(netref) needs.
cmake -S "$root" -B "$install_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETREF_INSTALL=ON \
  -DNETREF_BUILD_TESTS=OFF -DNETREF_BUILD_SAMPLES=OFF -DNETREF_BUILD_BENCH=OFF >/dev/null
nice -n 10 cmake --build "$install_build" -j"$(nproc)"
cmake --install "$install_build" --prefix "$prefix" >/dev/null

step "peer harness: build.sh into $peers_build"
started=$(date +%s)
status=0
# A peer that fails to build is reported (build.sh prints why) and the others still run.
(cd "$peers" && PEERS_BUILD="$peers_build" NETREF_PREFIX="$prefix" ./build.sh) || status=$?
built=$(date +%s)
step "build.sh took $((built - started)) s$([ $status -eq 0 ] || echo ", exit $status: see the FAILED lines above")"

step "peer harness: run_all.sh ${systems[*]}"
(cd "$peers" && PEERS_BUILD="$peers_build" ./run_all.sh "${systems[@]}")
step "run_all.sh took $(($(date +%s) - built)) s"
exit "$status"
