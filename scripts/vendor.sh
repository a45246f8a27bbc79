#!/bin/sh
# Copy the browser code we use from node_modules (installed from package-lock.json)
# into static/vendor, which git ignores: no third-party code is committed.
set -eu
cd "$(dirname "$0")/.."
rm -rf static/vendor
mkdir -p static/vendor
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
cp node_modules/sortablejs/Sortable.min.js static/vendor/Sortable.min.js
