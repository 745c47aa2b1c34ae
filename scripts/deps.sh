#!/usr/bin/env bash
# Installs every Debian package that building, testing and `make run` need, then the npm
# packages from the committed lockfile. Idempotent: a second run installs nothing.
# `scripts/deps.sh bench` adds the peers that only `make bench` runs (prosody, ejabberd,
# nginx-rtmp, groonga, wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  # toolchain
  build-essential cmake pkg-config ccache git clang-16 libclang-rt-16-dev
  # libraries (DESIGN.md)
  libcli11-dev libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libssl-dev
  libsrtp2-dev libopus-dev librocksdb-dev libtomlplusplus-dev catch2 libsodium-dev libldap-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
  # tests and tools
  python3 mandoc socat curl openssl ca-certificates procps iproute2 iptables ffmpeg chromium
  fonts-noto-cjk
  # a real directory server for the LDAP tests (started by the tests on loopback)
  slapd ldap-utils
  # nginx as an HTTP edge cache in front of collab-stream (conf/nginx, the edge test)
  nginx
)
if [ "${1:-}" = bench ]; then
  PKGS+=(prosody ejabberd erlang-p1-sqlite3 libnginx-mod-rtmp groonga-bin wrk)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's npm conflicts with NodeSource's nodejs: add node/npm only when there is none.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Servers among the packages (slapd, prosody, ejabberd, nginx) must not start as system
  # services: tests and benchmarks run their own instances on loopback, and a packaged
  # ejabberd would try to reach the internet for certificates. policy-rc.d is Debian's switch
  # for that; it is removed again unless it was already there.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap '[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
  # ...and they stay off after a reboot too (only the units of packages installed just now).
  if command -v systemctl >/dev/null 2>&1; then
    for unit in slapd prosody ejabberd nginx; do
      case " ${missing[*]} " in *" $unit "*) systemctl disable "$unit" >/dev/null 2>&1 || true ;; esac
    done
  fi
else
  echo "deps: all ${#PKGS[@]} Debian packages present"
fi

if [ -f package-lock.json ]; then
  stamp=node_modules/.collab-lock-stamp
  if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
  fi
fi

# Browser libraries the web app serves (hls.js for the live player) go from node_modules into
# web/vendor/, so the daemons never read node_modules.
if [ -d node_modules ]; then
  scripts/vendor.sh
fi
