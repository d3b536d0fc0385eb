# Shared parts of scripts/conformance.sh and scripts/conformance-octavia.sh
# (sourced, not executed): the tempest venv, the neutrino binary, a throwaway
# `neutrino up` stopped on exit, and the per-test summary.
#
# The caller sets ROOT, OUT and CF_TAG (log prefix) before sourcing; the knobs
# CONFORMANCE_VENV, CONFORMANCE_PYTHON and CONFORMANCE_NEUTRINO_BIN are read here.

VENV="${CONFORMANCE_VENV:-$ROOT/.venv-tempest}"
PYTHON="${CONFORMANCE_PYTHON:-python3}"
CONSTRAINTS="$ROOT/scripts/tempest-constraints.txt"
PY="$VENV/bin/python"
# One venv, one package set for every conformance script (so they never
# reprovision it for each other); pinned by $CONSTRAINTS.
# barbican-tempest-plugin only registers [service_available] barbican, which the
# octavia plugin reads for its TERMINATED_HTTPS tests with real amphorae.
CF_PACKAGES=(tempest neutron-tempest-plugin octavia-tempest-plugin barbican-tempest-plugin openstacksdk)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive

T0=$SECONDS
log() { echo "[$CF_TAG +$((SECONDS - T0))s] $*" >&2; }
die() { echo "[$CF_TAG] SETUP FAILED: $*" >&2; exit 2; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

# ------------------------------------------------------------------ tempest venv
# Created/updated under a lock (two scripts may share it); skipped when its stamp
# matches the constraints file and the package list.
cf_install_venv() {
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    log "apt: installing python3-venv"
    sudo_ apt-get update -qq >/dev/null && sudo_ apt-get install -y -qq python3-venv >/dev/null \
      || die "cannot install python3-venv"
  fi
  local stamp="$VENV/.conformance-installed" want attempt
  want="$( { cat "$CONSTRAINTS"; echo "${CF_PACKAGES[*]}"; } | md5sum)"
  if [ -x "$VENV/bin/tempest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "installing ${CF_PACKAGES[*]} into $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || die "cannot create venv $VENV"
  for attempt in 1 2 3; do
    if "$VENV/bin/pip" install -q -c "$CONSTRAINTS" "${CF_PACKAGES[@]}"; then
      echo "$want" > "$stamp"
      return 0
    fi
    log "pip install failed (attempt $attempt)"; sleep 10
  done
  die "pip install ${CF_PACKAGES[*]} failed"
}
cf_venv() {
  mkdir -p "$(dirname "$VENV")"
  exec 9>"${TMPDIR:-/tmp}/neutrino-conformance.$(printf '%s' "$VENV" | cksum | cut -d' ' -f1).lock"
  flock 9
  cf_install_venv
  flock -u 9
  exec 9>&-
}
cf_pkg_version() { "$VENV/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }

# ------------------------------------------------------------------ neutrino binary
# Sets BIN.
cf_build() {
  if [ -n "${CONFORMANCE_NEUTRINO_BIN:-}" ]; then
    BIN="$CONFORMANCE_NEUTRINO_BIN"
  else
    log "cargo build -p neutrino"
    cargo build -q -p neutrino || die "cargo build -p neutrino failed"
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/neutrino"
  fi
  [ -x "$BIN" ] || die "no neutrino binary at $BIN"
}

# ------------------------------------------------------------------ neutrino up
# cf_trap: a temporary data dir ($DATA) and an exit trap that stops the neutrino
# this script started (by its PID only) and removes $DATA.
NPID=""
DATA=""
cf_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$NPID" ] && kill -0 "$NPID" 2>/dev/null; then
    kill -TERM "$NPID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$NPID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$NPID" 2>/dev/null && kill -KILL "$NPID" 2>/dev/null
    wait "$NPID" 2>/dev/null
  fi
  [ -n "$DATA" ] && rm -rf "$DATA"
  exit "$rc"
}
cf_trap() {
  DATA="$(mktemp -d "${TMPDIR:-/tmp}/neutrino-conformance.XXXXXX")" || die "no temporary directory"
  trap cf_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# cf_free_ports N: N free loopback TCP ports on one line.
cf_free_ports() {
  "$PY" -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))' "$1"
}

# cf_start_neutrino LOGFILE IDENTITY_PORT [more `neutrino up` flags]: starts
# `neutrino up --data-dir $DATA ...` in the background, waits for its clouds.yaml,
# sets NPID, AUTH_URL, ADMIN_USER, ADMIN_PASSWORD, ADMIN_PROJECT, REGION.
cf_start_neutrino() {
  local logfile="$1" iport="$2"
  shift 2
  "$BIN" up --data-dir "$DATA" --identity-listen "127.0.0.1:$iport" "$@" \
    > "$logfile" 2>&1 < /dev/null &
  NPID=$!
  for _ in $(seq 1 120); do
    [ -s "$DATA/clouds.yaml" ] && [ -s "$DATA/admin-password" ] && break
    kill -0 "$NPID" 2>/dev/null || die "neutrino exited early; see $logfile"
    sleep 0.5
  done
  [ -s "$DATA/clouds.yaml" ] || die "neutrino not ready after 60s; see $logfile"
  AUTH_URL="http://127.0.0.1:$iport/v3"
  ADMIN_PASSWORD="$(cat "$DATA/admin-password")"
  ADMIN_USER="$(sed -n "s/^ *username: *'\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$DATA/clouds.yaml" | head -1)"
  ADMIN_PROJECT="$(sed -n "s/^ *project_name: *'\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$DATA/clouds.yaml" | head -1)"
  REGION="$(sed -n "s/^ *region_name: *'\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$DATA/clouds.yaml" | head -1)"
  : "${ADMIN_USER:=admin}" "${ADMIN_PROJECT:=admin}" "${REGION:=RegionOne}"
}

# ------------------------------------------------------------------ summary
# cf_summarise SUBUNIT SELECTED FAILED_OUT [summary.py options]: per-test counts
# (see scripts/conformance/summary.py) into NPASS NFAIL NSKIP; the comparison line
# (with --baseline) into CF_BASELINE_COUNTS.
cf_summarise() {
  local out
  out="$("$PY" "$ROOT/scripts/conformance/summary.py" "$@")" || die "cannot read $1"
  read -r NPASS NFAIL NSKIP <<< "$(sed -n 1p <<< "$out")"
  CF_BASELINE_COUNTS="$(sed -n 2p <<< "$out")"
}
