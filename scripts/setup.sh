#!/usr/bin/env bash
# Install what the test suite needs on this machine.  Idempotent: safe to rerun,
# and a rerun on a provisioned machine takes about a second.
#
#   1. Debian packages (only those missing; `apt-get update` only if something is):
#      postgresql-15, postgresql-client-15, iproute2, dnsutils (dig, for the DNS
#      responder tests), dnsmasq-base (the DNS benchmark's comparison),
#      openvswitch-switch, ovn-central and ovn-host (the data plane `neutrino up`
#      runs), ethtool (offloads of plugged veths), iputils-ping (data-plane tests),
#      haproxy (`haproxy -c` of the rendered load-balancer configuration, and the
#      amphorae's), keepalived (ACTIVE_STANDBY amphorae), openssl (TLS tests),
#      and python3-venv if `python3 -m venv` cannot work.
#   2. A Python virtualenv at $NEUTRINO_VENV (default <repo>/.venv) holding
#      python-openstackclient, openstacksdk, python-octaviaclient and
#      python-barbicanclient, pinned by scripts/python-constraints.txt; and octavia
#      19.0.0's source (the wheel, unpacked under the venv) for the agent's
#      wire-compatibility test.
#      pip is skipped when the venv's stamp matches the constraints file.
#
# Environment:
#   NEUTRINO_VENV    where the venv goes                (default <repo>/.venv)
#   NEUTRINO_PYTHON  interpreter that creates the venv  (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NEUTRINO_VENV:-$ROOT/.venv}"
PYTHON="${NEUTRINO_PYTHON:-python3}"
CONSTRAINTS="$ROOT/scripts/python-constraints.txt"
PY_PKGS=(python-openstackclient openstacksdk python-octaviaclient python-barbicanclient)
DEB_PKGS=(postgresql-15 postgresql-client-15 iproute2 dnsutils dnsmasq-base
  openvswitch-switch ovn-central ovn-host ethtool iputils-ping isc-dhcp-client haproxy openssl keepalived)

export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
T0=$SECONDS
log() { echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# One setup at a time per venv (two test runs started together must not race pip).
LOCK="${TMPDIR:-/tmp}/neutrino-setup.$(printf '%s' "$VENV" | cksum | cut -d' ' -f1).lock"
exec 9>"$LOCK"
if ! flock -n 9; then
  log "another setup holds $LOCK, waiting"
  flock 9
fi

# ------------------------------------------------------------------ Debian packages
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_wait() {  # another process may hold dpkg's lock (unattended upgrades): wait up to ~10 min
  command -v fuser >/dev/null || return 0
  local i
  for i in $(seq 1 120); do
    fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1 || return 0
    [ "$i" -eq 1 ] && log "dpkg/apt lock held by another process, waiting"
    sleep 5
  done
}

apt_install() {
  local attempt updated=0
  for attempt in 1 2 3 4; do
    apt_wait
    if [ "$updated" -eq 0 ]; then
      if sudo_ apt-get update -qq >/dev/null; then updated=1; else sleep 10; continue; fi
    fi
    if sudo_ apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
      return 0
    fi
    log "apt-get install failed (attempt $attempt), retrying"
    sleep 10
  done
  die "could not install Debian packages: $*"
}

python_can_venv() { "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; }

missing=()
for p in "${DEB_PKGS[@]}"; do deb_installed "$p" || missing+=("$p"); done
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  [ "$PYTHON" = python3 ] || die "NEUTRINO_PYTHON=$PYTHON not found"
  missing+=(python3 python3-venv)
elif ! python_can_venv; then
  missing+=(python3-venv)
fi
if ((${#missing[@]})); then
  log "apt: installing ${missing[*]}"
  apt_install "${missing[@]}"
else
  log "apt: ${DEB_PKGS[*]} already installed"
fi
python_can_venv || die "'$PYTHON -m venv' does not work (no venv/ensurepip module)"
T1=$SECONDS

# ------------------------------------------------------------------ Python venv
venv_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; }

if ! venv_ok; then
  [ -e "$VENV" ] && { log "venv: $VENV is broken, recreating"; rm -rf "$VENV"; }
  log "venv: creating $VENV with $("$PYTHON" -V 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.neutrino-provisioned"
want_stamp="$({
  printf '%s\n' "${PY_PKGS[@]}"
  "$VENV/bin/python" -V 2>&1
  sha256sum < "$CONSTRAINTS" | cut -d' ' -f1
})"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && [ -x "$VENV/bin/openstack" ]; then
  log "pip: venv already matches scripts/python-constraints.txt, skipping"
else
  log "pip: installing ${PY_PKGS[*]} (constrained by scripts/python-constraints.txt)"
  rm -f "$STAMP"
  ok=0
  for attempt in 1 2 3; do
    if "$VENV/bin/python" -m pip install -q -c "$CONSTRAINTS" "${PY_PKGS[@]}"; then ok=1; break; fi
    log "pip install failed (attempt $attempt), retrying"
    sleep 5
  done
  [ "$ok" -eq 1 ] || die "pip install failed"
  printf '%s\n' "$want_stamp" > "$STAMP"
fi
T2=$SECONDS

# ------------------------------------------------------------------ verify
ver="$("$VENV/bin/openstack" --version 2>&1)" || die "$VENV/bin/openstack --version failed: $ver"
log "verify: $ver; PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}')"
log "done in $((SECONDS - T0))s (apt $((T1 - T0))s, python $((T2 - T1))s)"

# ------------------------------------------------------------------ upstream Octavia source
# crates/amphora-agent/tests/upstream_client.rs drives the amphora agent with
# upstream Octavia 19.0.0's own REST client (AmphoraAPIClient1_0 and
# CustomHostNameCheckingAdapter in octavia/amphorae/drivers/haproxy/
# rest_api_driver.py), loaded from the source. The wheel is only unpacked,
# not installed (its dependencies would pull in half of OpenStack): the test
# compiles the few classes it needs and imports their modules with the
# oslo.* libraries the venv already has.
# Unpacked beside the venv, into a temporary directory renamed into place, so
# an interrupted run leaves nothing that looks complete; skipped when present.
OCTAVIA_VERSION=19.0.0
OCTAVIA_SRC="$VENV/share/octavia-$OCTAVIA_VERSION"
if [ -f "$OCTAVIA_SRC/octavia/amphorae/drivers/haproxy/rest_api_driver.py" ]; then
  log "octavia: $OCTAVIA_SRC already unpacked, skipping"
else
  log "octavia: downloading octavia==$OCTAVIA_VERSION (wheel, no dependencies) into $OCTAVIA_SRC"
  dl="$(mktemp -d)"
  ok=0
  for attempt in 1 2 3; do
    if "$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: \
      -d "$dl" "octavia==$OCTAVIA_VERSION"; then ok=1; break; fi
    log "pip download failed (attempt $attempt), retrying"
    sleep 5
  done
  [ "$ok" -eq 1 ] || die "pip download octavia==$OCTAVIA_VERSION failed"
  wheels=("$dl"/octavia-"$OCTAVIA_VERSION"-*.whl)
  [ -f "${wheels[0]}" ] || die "no octavia $OCTAVIA_VERSION wheel in $dl"
  rm -rf "$OCTAVIA_SRC.partial"
  mkdir -p "$OCTAVIA_SRC.partial"
  "$VENV/bin/python" -m zipfile -e "${wheels[0]}" "$OCTAVIA_SRC.partial"
  rm -rf "$OCTAVIA_SRC"
  mv "$OCTAVIA_SRC.partial" "$OCTAVIA_SRC"
  rm -rf "$dl"
  [ -f "$OCTAVIA_SRC/octavia/amphorae/drivers/haproxy/rest_api_driver.py" ] \
    || die "$OCTAVIA_SRC holds no rest_api_driver.py"
fi
