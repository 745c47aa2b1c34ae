#!/usr/bin/env bash
# Copies the browser libraries the web app loads from node_modules (installed by `npm ci` from
# the committed lockfile) into web/vendor/, so the daemons and `make install` never read
# node_modules. Idempotent; exits 69 when a library is missing (run `make deps` first).
set -euo pipefail
cd "$(dirname "$0")/.."

dest=web/vendor

# vendor SRC DEST: copies node_modules/SRC to web/vendor/DEST when it differs.
vendor() {
  if [ ! -f "node_modules/$1" ]; then
    echo "vendor: node_modules/$1 missing (run npm ci or make deps)" >&2
    exit 69
  fi
  cmp -s "node_modules/$1" "$dest/$2" 2>/dev/null || install -D -m 0644 "node_modules/$1" "$dest/$2"
}

# hls.js: the live player (web/live/); its license travels with the code.
vendor hls.js/dist/hls.min.js hls.min.js
vendor hls.js/LICENSE hls.js.LICENSE
