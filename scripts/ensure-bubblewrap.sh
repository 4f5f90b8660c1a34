#!/usr/bin/env bash
# Make sure bubblewrap (the sandbox for strategy runs) and setpriv are on this machine.
set -euo pipefail
# libseccomp2: the sandbox's seccomp filter is built with it (bubblewrap does not need it).
if command -v bwrap >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 \
  && ldconfig -p | grep -q 'libseccomp\.so\.2'; then
  exit 0
fi
echo "installing bubblewrap from the Debian packages (the sandbox for strategy code)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq bubblewrap util-linux libseccomp2 >/dev/null
command -v bwrap >/dev/null
