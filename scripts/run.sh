#!/usr/bin/env bash
# make run: a development suite on 127.0.0.1. Creates ./var/collab.toml and state under ./var on
# the first start (with collab-admin init, the verb admins use), starts the three daemons, prints
# their URLs, and on Ctrl-C stops them all and exits 0 when they drained cleanly.
#   COLLAB_BIN_DIR       where the binaries are (default build/release/bin)
#   COLLAB_VAR_DIR       development state (default ./var)
#   COLLAB_RUN_INIT_ARGS extra collab-admin options for the first init (e.g. -o chatd.listen=...)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${COLLAB_BIN_DIR:-$root/build/release/bin}" && pwd)
var=${COLLAB_VAR_DIR:-$root/var}
mkdir -p "$var"
var=$(cd "$var" && pwd)
conf=$var/collab.toml
admin=("$bin/collab-admin" -c "$conf")

if [ ! -f "$conf" ]; then
  # shellcheck disable=SC2086
  "${admin[@]}" ${COLLAB_RUN_INIT_ARGS:-} init --state-dir "$var/lib" --run-dir "$var/run" \
    --web-dir "$root/web" --key-file "$var/token.key" >/dev/null || exit $?
  echo "created a development configuration in $conf"
fi
"${admin[@]}" config check >/dev/null || exit $?

pids=()
stopping=0
interrupted=0
stop_all() {
  stopping=1
  interrupted=1
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
}
trap stop_all INT TERM

for d in chatd sfu stream; do
  "$bin/collab-$d" -c "$conf" &
  pids+=($!)
done

# Wait (bounded) until every daemon answers on its control socket.
ready=0
for _ in $(seq 1 300); do
  if "${admin[@]}" status >/dev/null 2>&1; then ready=1; break; fi
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || break 2; done
  sleep 0.1
done
if [ $ready != 1 ]; then
  echo "collab: a daemon failed to start; stopping" >&2
  stop_all
  wait
  exit 69
fi

url() {  # first HTTP listener of a daemon, as a URL
  "${admin[@]}" --json status "$1" | sed -n 's/.*"kind":"http","address":"\([^"]*\)","tls":\([a-z]*\).*/\2 \1/p' |
    { read -r tls addr; [ "$tls" = true ] && echo "https://$addr/" || echo "http://$addr/"; }
}
# A first administrator account for the web app, once: its password is kept (mode 0600) in
# ./var/admin-password so a later `make run` can show where to find it.
pwfile="$var/admin-password"
if [ ! -s "$pwfile" ] && ! "${admin[@]}" user show admin >/dev/null 2>&1; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$pwfile")
  if ! "${admin[@]}" user add admin --name Administrator --role admin --password-stdin < "$pwfile" >/dev/null; then
    echo "collab: could not create the first admin account" >&2
    rm -f "$pwfile"
  fi
fi
cat <<MSG

collab is running (development configuration: $conf)
  chat and web app   $(url chatd)chat/  (log in as admin, password in $pwfile)
  meetings (sfu)     $(url sfu)echo  (WebRTC self-test: your camera, sent back)
  live streaming     $(url stream)  (watch at /live/ on the chat address, logged in;
                     publish: $bin/collab-stream -c $conf publish NAME FILE --loop)
  admin              $bin/collab-admin -c $conf status
Press Ctrl-C to stop.

MSG

rc=0
for p in "${pids[@]}"; do
  while :; do
    interrupted=0
    wait "$p"; code=$?
    # A trapped signal makes wait return early (128+N); wait again for the daemon's own status.
    [ $interrupted = 1 ] && continue
    break
  done
  if [ $stopping = 0 ]; then
    # Exit 0 means the daemon drained on a signal (Ctrl-C reaches the daemons before our trap runs).
    [ $code -ne 0 ] && echo "collab: a daemon exited ($code); stopping the others" >&2
    stop_all
  fi
  [ $code -ne 0 ] && rc=$code
done
[ $rc -eq 0 ] && echo "collab stopped"
exit $rc
