#!/usr/bin/env bash
# Make sure Chromium is on this machine (the web UI's browser tests drive it with Playwright), from
# Debian's packages: Playwright's own browser download does not work offline.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "installing Chromium from the Debian packages (needed by the web UI's browser tests)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium
