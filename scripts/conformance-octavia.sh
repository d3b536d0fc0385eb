#!/usr/bin/env bash
# Run the upstream Octavia API tests (octavia_tempest_plugin.tests.api.v2, no-op
# mode) against a throwaway `neutrino up` with the reference peer's own tempest
# driver (../shared/peer/tempest.sh, TEMPEST_SUITES=octavia), summarise, and compare
# per test with the peer's baseline (real Octavia 19, no-op drivers: 489 passed).
#
#   1. the tempest venv (scripts/conformance/lib.sh): tempest 47.0.0,
#      octavia-tempest-plugin 3.5.0, openstacksdk 4.18.0 (for the peer's discovery),
#      pinned by scripts/tempest-constraints.txt
#   2. cargo build -p neutrino
#   3. neutrino up --no-data-plane in a temporary directory on three free loopback
#      ports (identity, network, --load-balancer-listen)
#   4. the peer's tempest.sh with OS_* = this cloud's admin, TEMPEST_SUITES=octavia
#      (or a narrowed regex), the peer's network extension list
#      (baseline/peer-extensions.txt) and OCTAVIA_NOOP=1: it creates the "public"
#      network, writes tempest.conf ([load_balancer] test_with_noop = true, the
#      plugin's defaults for provider and RBAC_test_type, [enforce_scope]
#      octavia = true, not_implemented_is_error = true, ...) and runs tempest
#      time-bounded
#   5. prints `conformance-octavia: N passed, N failed, N skipped` and the
#      comparison with the peer's baseline; stops neutrino (its PID only)
#
# Results: target/conformance-octavia/ — results.subunit (subunit v2), failed.txt,
# status.txt (every selected test: status, id, reason), details.txt (tracebacks and
# each failed test's requests answered 4xx/5xx),
# regressions.txt (tests the peer passed that did not pass here), summary.txt,
# selected.txt, tempest.log, tempest-sh.log, tempest-run.stderr, neutrino.log and
# the workspace (workspace/etc/tempest.conf).
#
# Exit code: 0 when the run completed (test failures are reported, not fatal),
# 1 with CONFORMANCE_STRICT=1 and any failed test or regression, 2 when setup failed.
#
# Environment:
#   CONFORMANCE_PEER_DIR     the peer tooling          (default <repo>/../shared/peer)
#   CONFORMANCE_VENV         tempest venv              (default <repo>/.venv-tempest)
#   CONFORMANCE_PYTHON       interpreter creating the venv (default python3)
#   CONFORMANCE_CONCURRENCY  tempest workers           (default 2)
#   CONFORMANCE_TIMEOUT      seconds for the whole tempest run (default 3600)
#   CONFORMANCE_REGEX        run only the octavia API tests whose id matches this
#                            regex (searched, e.g. 'test_provider' or
#                            'test_load_balancer\.LoadBalancerAPITest'; no spaces
#                            or slashes: tempest.sh takes it as one word and names
#                            its result file after it)
#   CONFORMANCE_EXCLUDE_REGEX  leave out tests matching this (TEMPEST_EXCLUDE)
#   CONFORMANCE_EXTENSIONS   api_extensions for tempest: "peer" (default, the peer's
#                            list) or "discovered" (what Neutrino's API lists)
#   CONFORMANCE_NOOP         1 (default): [load_balancer] test_with_noop = true, and
#                            neutrino up --lb-network-driver noop (as the peer's
#                            network_noop_driver: the tests send random network ids)
#   CONFORMANCE_DATA_PLANE=1 run `neutrino up` with its OVS/OVN data plane
#   CONFORMANCE_STRICT=1     exit 1 when a test failed or the peer passed more
#   CONFORMANCE_NEUTRINO_BIN use this binary instead of building one
#   OS_TEST_TIMEOUT          seconds per test (default: tempest.sh's, 600)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PEER="${CONFORMANCE_PEER_DIR:-$ROOT/../shared/peer}"
CONC="${CONFORMANCE_CONCURRENCY:-2}"
RUN_TIMEOUT="${CONFORMANCE_TIMEOUT:-3600}"
OUT="$ROOT/target/conformance-octavia"
WS="$OUT/workspace"
SUITE_RE='^octavia_tempest_plugin\.tests\.api\.v2\.'
CF_TAG=conformance-octavia
. "$ROOT/scripts/conformance/lib.sh"

[ -f "$PEER/tempest.sh" ] && [ -f "$PEER/lib/common.sh" ] \
  || die "no peer tooling at $PEER (set CONFORMANCE_PEER_DIR)"
PEER="$(cd "$PEER" && pwd)"
BASELINE=("$PEER/baseline/octavia-fullrun.subunit.gz" "$PEER/baseline/octavia-listener-rerun.subunit.gz")
for f in "${BASELINE[@]}" "$PEER/baseline/peer-extensions.txt"; do
  [ -s "$f" ] || die "missing peer baseline file $f"
done

# ------------------------------------------------------------------ 1. tempest venv
cf_venv
log "tempest $(cf_pkg_version tempest), octavia-tempest-plugin $(cf_pkg_version octavia-tempest-plugin)"

# ------------------------------------------------------------------ 2. neutrino binary
cf_build

# ------------------------------------------------------------------ 3. neutrino up
rm -rf "$OUT"; mkdir -p "$OUT"
cf_trap
read -r IPORT NPORT LPORT < <(cf_free_ports 3) || die "no free ports"
UP_ARGS=(--network-listen "127.0.0.1:$NPORT" --load-balancer-listen "127.0.0.1:$LPORT")
# The peer's Neutron runs no agents either; the no-op tests need no packets.
[ "${CONFORMANCE_DATA_PLANE:-0}" = 1 ] || UP_ARGS+=(--no-data-plane)
# test_with_noop = true sends random network, subnet and port ids, which the
# peer's network_noop_driver takes as given: so does ours, for this run only.
[ "${CONFORMANCE_NOOP:-1}" = 1 ] && UP_ARGS+=(--lb-network-driver noop)
log "neutrino up (identity :$IPORT, network :$NPORT, load-balancer :$LPORT, data $DATA)"
cf_start_neutrino "$OUT/neutrino.log" "$IPORT" "${UP_ARGS[@]}"
code=000
for _ in $(seq 1 40); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LPORT/" || true)"
  [ "$code" = 200 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || die "the Load-balancer API on :$LPORT answers GET / with $code; see $OUT/neutrino.log"

# ------------------------------------------------------------------ 4. the peer's tempest.sh
# A workspace registered in a file of our own (tempest init refuses a name already in
# ~/.tempest/workspace.yaml); tempest.sh reuses it since it has a .stestr.conf.
"$VENV/bin/tempest" init --name neutrino-conformance-octavia --workspace-path "$OUT/workspace.yaml" \
  "$WS" > "$OUT/tempest-init.log" 2>&1 || die "tempest init failed: $(tail -3 "$OUT/tempest-init.log")"
# tempest.sh runs $PEER_HOME/venv/bin/{python,tempest}: point that at our venv.
mkdir -p "$OUT/peer-home" && ln -s "$(cd "$VENV" && pwd)" "$OUT/peer-home/venv"
if [ -n "${CONFORMANCE_REGEX:-}" ]; then
  # tempest.sh takes "re:REGEX" (one word); stestr searches it in each test id.
  RUN_RE="^(?=${SUITE_RE#^}).*?(?:$CONFORMANCE_REGEX)"
  SUITE="re:$RUN_RE"
else
  RUN_RE="$SUITE_RE"
  SUITE=octavia
fi
case "${CONFORMANCE_EXTENSIONS:-peer}" in
  peer) EXTS="$(tr -d ' \n' < "$PEER/baseline/peer-extensions.txt")" ;;
  discovered) EXTS="" ;;  # tempest.sh's default: GET /v2.0/extensions of the target
  *) die "CONFORMANCE_EXTENSIONS is peer or discovered" ;;
esac
# Only this cloud's credentials reach tempest.sh and openstacksdk (no OS_CLOUD etc.).
for v in $(compgen -e | grep '^OS_'); do [ "$v" = OS_TEST_TIMEOUT ] || unset "$v"; done
log "tempest.sh: suite $SUITE, concurrency $CONC, bound ${RUN_TIMEOUT}s, extensions ${CONFORMANCE_EXTENSIONS:-peer}"
# With real amphorae (CONFORMANCE_NOOP=0) the plugin skips every class unless
# [service_available] nova and glance are true (it expects them to boot amphora
# images); Neutrino's amphorae need neither, so that run says both are: a copy of
# the peer's script (in $OUT, beside a link to its lib/) with those lines changed.
# barbican = true too: the key manager under /key-manager is Barbican v1 (the
# TERMINATED_HTTPS tests store their certificates there and grant an ACL). The
# plugin reads that option only when barbican-tempest-plugin registers it, which
# this venv does not install yet (docs/conformance.md).
TEMPEST_SH="$PEER/tempest.sh"
if [ "${CONFORMANCE_NOOP:-1}" != 1 ]; then
  mkdir -p "$OUT/peer-amphora" && ln -sfn "$PEER/lib" "$OUT/peer-amphora/lib"
  TEMPEST_SH="$OUT/peer-amphora/tempest.sh"
  # test_with_ipv6 = false: with true the plugin looks up devstack's IPv6 subnet
  # pool, and the Network API has no subnet pools yet (Network API parity).
  sed -e 's/^nova = false$/nova = true/' -e 's/^glance = false$/glance = true/' \
    -e 's/^barbican = false$/barbican = true/' \
    -e 's/^test_with_ipv6 = true$/test_with_ipv6 = false/' \
    "$PEER/tempest.sh" > "$TEMPEST_SH" || die "cannot write $TEMPEST_SH"
fi
t1=$SECONDS
OS_AUTH_URL="$AUTH_URL" OS_USERNAME="$ADMIN_USER" OS_PASSWORD="$ADMIN_PASSWORD" \
OS_PROJECT_NAME="$ADMIN_PROJECT" OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
OS_REGION_NAME="$REGION" PEER_HOME="$OUT/peer-home" TEMPEST_WORKSPACE="$WS" \
TEMPEST_SUITES="$SUITE" TEMPEST_CONCURRENCY="$CONC" TEMPEST_SUITE_TIMEOUT="$RUN_TIMEOUT" \
NETWORK_API_EXTENSIONS="$EXTS" TEMPEST_EXCLUDE="${CONFORMANCE_EXCLUDE_REGEX:-}" \
OCTAVIA_NOOP="${CONFORMANCE_NOOP:-1}" \
  bash "$TEMPEST_SH" > "$OUT/tempest-sh.log" 2>&1
rc=$?
WALL=$((SECONDS - t1))
grep -v '^#' "$OUT/tempest-sh.log" | grep -F ': ' | tail -1 | sed 's/^/  tempest.sh: /' >&2
[ "$rc" -eq 0 ] || die "tempest.sh failed (rc $rc): $(tail -5 "$OUT/tempest-sh.log")"
grep -q '^load_balancer = true$' "$WS/etc/tempest.conf" \
  || die "tempest.sh found no load-balancer endpoint in the catalog (see $WS/etc/tempest.conf)"
RESULT="$(ls "$WS"/results/*.subunit 2>/dev/null | head -1)"
[ -n "$RESULT" ] || die "tempest.sh left no results (see $OUT/tempest-sh.log)"
cp "$RESULT" "$OUT/results.subunit"
cp "${RESULT%.subunit}.stderr" "$OUT/tempest-run.stderr" 2>/dev/null
cp "$WS/tempest.log" "$OUT/tempest.log" 2>/dev/null
note=""
grep -q 'TIMED OUT' "$OUT/tempest-sh.log" && note=" (TIMED OUT after ${RUN_TIMEOUT}s)"

# ------------------------------------------------------------------ 5. summary
# The selection, to count tests that never ran (a timed-out run) as failed.
LIST_ARGS=(--config-file "$WS/etc/tempest.conf" --regex "$RUN_RE" --list-tests)
[ -n "${CONFORMANCE_EXCLUDE_REGEX:-}" ] && LIST_ARGS+=(--exclude-regex "$CONFORMANCE_EXCLUDE_REGEX")
( cd "$WS" && "$VENV/bin/tempest" run "${LIST_ARGS[@]}" ) > "$OUT/tempest-list.out" 2>&1 \
  || die "tempest cannot list tests: $(tail -5 "$OUT/tempest-list.out")"
grep -E '^octavia_tempest_plugin\.' "$OUT/tempest-list.out" > "$OUT/selected.txt"
[ -s "$OUT/selected.txt" ] || die "no test selected (see $OUT/tempest-list.out)"
cf_summarise "$OUT/results.subunit" "$OUT/selected.txt" "$OUT/failed.txt" \
  --status "$OUT/status.txt" --details "$OUT/details.txt" --log "$OUT/tempest.log" \
  --baseline "${BASELINE[0]}" --baseline "${BASELINE[1]}" --regressions "$OUT/regressions.txt"
if [ $((NPASS + NFAIL + NSKIP)) -eq 0 ]; then
  tail -20 "$OUT/tempest-run.stderr" >&2
  die "tempest ran no test; see $OUT/tempest-run.stderr"
fi
read -r PEER_SEL PEER_HERE NREG NBEYOND <<< "$CF_BASELINE_COUNTS"
{
  echo "tempest run: $(wc -l < "$OUT/selected.txt") selected ($SUITE), wall ${WALL}s$note, concurrency $CONC"
  echo "conformance-octavia: $NPASS passed, $NFAIL failed, $NSKIP skipped"
  echo "peer baseline: $PEER_HERE of the $PEER_SEL selected tests the peer passed pass here;" \
       "$NREG regressions (regressions.txt); $NBEYOND pass here but not on the peer"
} > "$OUT/summary.txt"
[ -s "$OUT/failed.txt" ] && { echo "failed tests:"; sed 's/^/  /' "$OUT/failed.txt"; } >&2
log "results in $OUT$note"
sed -n '2,3p' "$OUT/summary.txt"
if [ "${CONFORMANCE_STRICT:-0}" = 1 ] && [ $((NFAIL + NREG)) -gt 0 ]; then exit 1; fi
exit 0
