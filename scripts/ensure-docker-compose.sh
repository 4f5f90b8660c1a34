#!/usr/bin/env bash
# Make sure docker-compose (1.29, Debian's package) is on this machine: the tests validate
# compose.yaml with `docker-compose config`, which needs no Docker engine.
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi
echo "installing docker-compose from the Debian packages (the tests validate compose.yaml)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
command -v docker-compose >/dev/null
