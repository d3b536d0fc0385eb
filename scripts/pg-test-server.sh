#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests: fresh cluster in a temp dir, loopback only,
# trust auth, durability off (fsync, synchronous_commit, full_page_writes).
#
#   scripts/pg-test-server.sh start    start one; prints  postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-test-server.sh url      print the URL of the running one (exit 1 if none)
#   scripts/pg-test-server.sh status   say whether it runs
#   scripts/pg-test-server.sh stop     stop exactly the server `start` started and delete its dir
#
# Typical local use:
#   export NEUTRINO_TEST_POSTGRES_URL="$(scripts/pg-test-server.sh start)"
#   cargo nextest run ...
#   scripts/pg-test-server.sh stop
#
# Environment:
#   NEUTRINO_PG_STATE  state file naming the server (default <repo>/target/pg-test-server.state);
#                      use different ones to run several servers side by side.
#   NEUTRINO_PG_PORT   first port to probe (default 55432)
#   TMPDIR             parent of the server's temp dir (default /tmp)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${NEUTRINO_PG_STATE:-$ROOT/target/pg-test-server.state}"
FIRST_PORT="${NEUTRINO_PG_PORT:-55432}"
PGBIN=/usr/lib/postgresql/15/bin

log() { echo "[pg-test-server] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# PostgreSQL refuses to run as root: as root, run its tools as the `postgres` OS user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_binaries() {
  [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "$PGBIN/initdb missing: run scripts/setup.sh (as root) first"
  log "installing postgresql-15"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null
  [ -x "$PGBIN/initdb" ] || die "postgresql-15 install did not provide $PGBIN/initdb"
}

# Loads PGDIR PORT PID URL from the state file; returns 1 if there is none.
load_state() {
  [ -f "$STATE" ] || return 1
  PGDIR="" PORT="" PID="" URL=""
  # shellcheck disable=SC1090
  . "$STATE"
  [ -n "$PGDIR" ] && [ -n "$PID" ]
}

# True if the recorded PID is still the postmaster of the recorded data dir.
server_alive() {
  [ -n "${PID:-}" ] && [ -d "/proc/$PID" ] || return 1
  [ -f "$PGDIR/data/postmaster.pid" ] || return 1
  [ "$(head -n1 "$PGDIR/data/postmaster.pid")" = "$PID" ]
}

port_free() {
  # Nothing listening on it (any address), per ss from iproute2; bash's /dev/tcp as fallback.
  if command -v ss >/dev/null 2>&1; then
    [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
  fi
}

pick_parent_dir() {
  local parent="${TMPDIR:-/tmp}"
  parent="${parent%/}"
  [ -n "$parent" ] || parent=/tmp
  mkdir -p "$parent"
  # The postgres user must be able to reach the directory (TMPDIR under /root would not do).
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$parent" 2>/dev/null; then
    log "postgres cannot traverse $parent, using /tmp instead"
    parent=/tmp
  fi
  printf '%s' "$parent"
}

cleanup_dir() {
  local dir="$1"
  case "$dir" in
    */neutrino-pg.*) rm -rf -- "$dir" ;;
    *) log "refusing to delete unexpected dir '$dir'" ;;
  esac
}

cmd_start() {
  if load_state; then
    if server_alive; then
      log "already running (pid $PID, $PGDIR) for state file $STATE"
      echo "$URL"
      return 0
    fi
    log "previous server (pid $PID) is gone; cleaning up its dir"
    cleanup_dir "$PGDIR"
    rm -f "$STATE"
  fi
  ensure_binaries
  mkdir -p "$(dirname "$STATE")"

  # dir/data stay global: the EXIT trap below needs them.
  local parent
  parent="$(pick_parent_dir)"
  dir="$(mktemp -d "$parent/neutrino-pg.XXXXXXXX")"
  data="$dir/data"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"

  # A failure from here on must not leave the dir (or a server) behind.
  trap 'as_pg "$PGBIN/pg_ctl" stop -D "$data" -m immediate >/dev/null 2>&1 || true; cleanup_dir "$dir"' EXIT

  (cd "$dir" && as_pg "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale \
      --no-sync --no-instructions >"$dir/initdb.log" 2>&1) \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

  cat > "$data/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$data/pg_hba.conf"; fi

  local port=$FIRST_PORT tries=0
  while :; do
    tries=$((tries + 1))
    [ "$tries" -le 50 ] || die "no free port found from $FIRST_PORT"
    if ! port_free "$port"; then port=$((port + 1)); continue; fi
    cat > "$data/postgresql.auto.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
log_min_error_statement = panic
EOF
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$data/postgresql.auto.conf"; fi
    if (cd "$dir" && as_pg "$PGBIN/pg_ctl" start -D "$data" -l "$dir/server.log" -w -t 60 -s \
          </dev/null >/dev/null 2>&1); then
      break
    fi
    # Lost a race for the port to someone else: try the next one; anything else is fatal.
    if grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets' "$dir/server.log" 2>/dev/null; then
      log "port $port was taken, trying the next one"
      : > "$dir/server.log"
      port=$((port + 1))
      continue
    fi
    cat "$dir/server.log" >&2 || true
    die "pg_ctl start failed"
  done

  local pid url
  pid="$(head -n1 "$data/postmaster.pid")"
  url="postgres://postgres@127.0.0.1:$port/postgres"
  {
    printf 'PGDIR=%q\n' "$dir"
    printf 'PORT=%q\n' "$port"
    printf 'PID=%q\n' "$pid"
    printf 'URL=%q\n' "$url"
  } > "$STATE.tmp"
  mv "$STATE.tmp" "$STATE"
  trap - EXIT
  log "started pid $pid on 127.0.0.1:$port, dir $dir"
  echo "$url"
}

cmd_stop() {
  if ! load_state; then
    log "no server recorded in $STATE; nothing to stop"
    return 0
  fi
  if server_alive; then
    if ! as_pg "$PGBIN/pg_ctl" stop -D "$PGDIR/data" -m fast -w -t 30 -s >/dev/null 2>&1; then
      log "pg_ctl stop failed; sending SIGQUIT then SIGKILL to pid $PID"
      kill -QUIT "$PID" 2>/dev/null || true
      for _ in $(seq 1 50); do [ -d "/proc/$PID" ] || break; sleep 0.1; done
      kill -KILL "$PID" 2>/dev/null || true
    fi
    for _ in $(seq 1 100); do [ -d "/proc/$PID" ] || break; sleep 0.1; done
    [ -d "/proc/$PID" ] && die "pid $PID still running"
    log "stopped pid $PID"
  else
    log "server pid $PID was not running"
  fi
  cleanup_dir "$PGDIR"
  rm -f "$STATE"
}

cmd_url() {
  if load_state && server_alive; then
    echo "$URL"
  else
    die "no running server recorded in $STATE (run: scripts/pg-test-server.sh start)"
  fi
}

cmd_status() {
  if load_state && server_alive; then
    echo "running: pid $PID, port $PORT, $URL, dir $PGDIR"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) cmd_url ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
