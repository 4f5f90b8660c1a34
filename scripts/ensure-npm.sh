#!/usr/bin/env bash
# Make sure npm is on this machine (it installs the test tools of package-lock.json), from Debian's
# packages when it is missing.
set -euo pipefail
if command -v npm >/dev/null 2>&1; then
  exit 0
fi
echo "installing npm from the Debian packages (it installs DynamoDB Local for the tests)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
command -v npm >/dev/null
