#!/usr/bin/env bash
# Install what is needed and run the whole test suite (this is what CI runs).
#
#   1. scripts/setup.sh            Debian packages + the Python venv with the openstack CLI
#   2. a throwaway PostgreSQL 15   scripts/pg-test-server.sh, stopped again on exit
#   3. cargo fmt --check, cargo clippy -D warnings      (skipped with NEUTRINO_SKIP_LINT=1)
#   4. cargo nextest run --workspace --profile ci [extra args]
#
# Extra arguments go to `cargo nextest run` (with -p, only those packages are built), e.g.
#   NEUTRINO_SKIP_LINT=1 scripts/test.sh -p neutrino-store
#   NEUTRINO_SKIP_LINT=1 scripts/test.sh -E 'test(/e2e_/)'
#
# Environment read:
#   NEUTRINO_SKIP_LINT=1       skip fmt and clippy
#   NEUTRINO_NEXTEST_PROFILE   nextest profile (default ci; see .config/nextest.toml)
#   NEUTRINO_VENV              venv location (default <repo>/.venv)
# Exported to the tests:
#   NEUTRINO_TEST_POSTGRES_URL maintenance-db URL of the throwaway server (CREATE DATABASE allowed)
#   NEUTRINO_TEST_VENV         the venv holding bin/openstack
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROFILE="${NEUTRINO_NEXTEST_PROFILE:-ci}"
# From-scratch builds (CI) are faster without incremental compilation.
if [ "${CI:-}" = true ] && [ -z "${CARGO_INCREMENTAL:-}" ]; then export CARGO_INCREMENTAL=0; fi
export CARGO_TERM_PROGRESS_WHEN=never

T0=$SECONDS
step() { echo "==> [test.sh +$((SECONDS - T0))s] $*"; }

# ------------------------------------------------------------------ setup
step "setup (scripts/setup.sh)"
bash scripts/setup.sh </dev/null
export NEUTRINO_TEST_VENV="${NEUTRINO_VENV:-$ROOT/.venv}"

# ------------------------------------------------------------------ PostgreSQL
# A state file of our own, so that stop on exit stops exactly this run's server
# (and never one a developer started by hand with the default state file).
mkdir -p target
export NEUTRINO_PG_STATE="$ROOT/target/pg-test-server.test-$$.state"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -f "$NEUTRINO_PG_STATE" ]; then
    bash scripts/pg-test-server.sh stop || { [ "$rc" -ne 0 ] || rc=1; }
  fi
  step "finished with exit code $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "start throwaway PostgreSQL (scripts/pg-test-server.sh start)"
NEUTRINO_TEST_POSTGRES_URL="$(bash scripts/pg-test-server.sh start </dev/null)"
export NEUTRINO_TEST_POSTGRES_URL
echo "    NEUTRINO_TEST_POSTGRES_URL=$NEUTRINO_TEST_POSTGRES_URL"
echo "    NEUTRINO_TEST_VENV=$NEUTRINO_TEST_VENV"

# ------------------------------------------------------------------ tools
if ! cargo nextest --version >/dev/null 2>&1; then
  step "cargo-nextest missing: cargo install cargo-nextest --locked"
  cargo install cargo-nextest --locked
fi

# The binary's crash points (load-balancer flows, the create transaction)
# for tests/lb_faults_e2e.rs; never in a production build. Clippy gets the
# same features so the test build reuses its artifacts.
FEATURES="--features neutrino/fault-injection"

# ------------------------------------------------------------------ lint
if [ "${NEUTRINO_SKIP_LINT:-0}" = 1 ]; then
  step "lint skipped (NEUTRINO_SKIP_LINT=1)"
else
  step "cargo fmt --all -- --check"
  cargo fmt --all -- --check
  # clippy shares build scripts and proc-macro builds with the test build below;
  # same features and flags, so nextest does not rebuild those.
  step "cargo clippy --workspace --all-targets $FEATURES -- -D warnings"
  cargo clippy --workspace --all-targets $FEATURES -- -D warnings
fi

# ------------------------------------------------------------------ tests
# The whole workspace, unless the arguments pick packages themselves (-p NAME).
scope=(--workspace)
for a in "$@"; do
  case "$a" in -p | -p* | --package | --package=* | --workspace) scope=() ;; esac
done
# With packages picked by the caller, the feature only applies if
# `neutrino` is among them.
features=()
if [ ${#scope[@]} -gt 0 ] || [[ " $* " == *" -p neutrino "* ]]; then
  features=($FEATURES)
fi
step "cargo nextest run ${scope[*]} ${features[*]} --profile $PROFILE $*"
cargo nextest run "${scope[@]}" "${features[@]}" --profile "$PROFILE" "$@" </dev/null
