#!/bin/sh
# `make bench` drives the served app with Debian's wrk (an HTTP load tool with Lua
# scripting). Install it when it is missing.
set -eu
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "wrk is missing; install Debian's 'wrk' package (needs root)" >&2
    exit 1
fi
echo "Installing Debian's wrk for the benchmark..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq wrk >/dev/null
