#!/usr/bin/env bash
# Make sure a Java runtime >= 17 is on this machine (DynamoDB Local, which the tests start, runs on
# it), from Debian's packages: default-jre-headless is openjdk-17-jre-headless on Debian 12.
set -euo pipefail
major() { java -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p'; }
if command -v java >/dev/null 2>&1 && [ "$(major)" -ge 17 ] 2>/dev/null; then
  exit 0
fi
echo "installing Java from the Debian packages (DynamoDB Local runs on it in the tests)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq default-jre-headless >/dev/null
[ "$(major)" -ge 17 ]
