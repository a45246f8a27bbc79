#!/bin/sh
# The browser tests drive Debian's Chromium. Install it when it is missing.
set -eu
CHROMIUM="${TANDEM_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "Chromium is missing at $CHROMIUM; install Debian's 'chromium' package (needs root)" >&2
    exit 1
fi
echo "Installing Debian's chromium for the browser tests..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
