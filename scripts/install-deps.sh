#!/usr/bin/env bash
# Installs what netref builds, tests and runs with: Debian 12 packages only.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  g++ cmake make libasio-dev libcereal-dev zlib1g-dev libssl-dev doctest-dev \
  python3 python3-rpyc >/dev/null
