#!/usr/bin/env bash
# Installs every Debian package that building, testing and `make run` need, then the npm
# packages from the committed lockfile. Idempotent: a second run installs nothing.
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
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's npm conflicts with NodeSource's nodejs: add node/npm only when there is none.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
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
