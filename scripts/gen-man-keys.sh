#!/usr/bin/env bash
# Regenerates the key reference of man/collab.toml.5 from the config registry.
set -euo pipefail
cd "$(dirname "$0")/.."
admin=${COLLAB_BIN_DIR:-build/release/bin}/collab-admin
gen=$("$admin" __complete keys-mdoc)
python3 - "$gen" <<'PY'
import re, sys
p = "man/collab.toml.5"
s = open(p).read()
begin, end = '.\\" BEGIN GENERATED KEYS\n', '.\\" END GENERATED KEYS'
i, j = s.index(begin) + len(begin), s.index(end)
open(p, "w").write(s[:i] + sys.argv[1] + "\n" + s[j:])
PY
