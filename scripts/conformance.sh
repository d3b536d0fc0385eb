#!/usr/bin/env bash
# Run the upstream tempest Network API tests for networks, subnets and ports against
# a throwaway `neutrino up`, and summarise the result.
#
#   1. a venv with tempest and its plugins from PyPI (pinned by
#      scripts/tempest-constraints.txt; shared with scripts/conformance-octavia.sh,
#      see scripts/conformance/lib.sh); skipped when its stamp matches
#   2. cargo build -p neutrino
#   3. neutrino up in a temporary directory, on two free loopback ports
#   4. a flat external network "public" (+ IPv4/IPv6 subnets) for the tests that
#      look for one, and a tempest workspace + tempest.conf for this cloud
#   5. tempest run: scripts/conformance/include.txt minus scripts/conformance/exclude.txt
#      (an exclusion marked "[needs EXT]" lapses when the cloud lists EXT),
#      time-bounded, concurrency 2
#   6. prints `conformance: N passed, N failed, N skipped`, stops neutrino
#
# Results: target/conformance/ — results.subunit (subunit v2), failed.txt,
# summary.txt, tempest.log, neutrino.log, the workspace (workspace/etc/tempest.conf).
#
# Exit code: 0 when the run completed (test failures are reported, not fatal),
# 1 with CONFORMANCE_STRICT=1 and any failed test, 2 when setup failed.
#
# Environment:
#   CONFORMANCE_VENV         tempest venv                  (default <repo>/.venv-tempest)
#   CONFORMANCE_PYTHON       interpreter creating the venv (default python3)
#   CONFORMANCE_CONCURRENCY  tempest workers               (default 2)
#   CONFORMANCE_TIMEOUT      seconds for the whole tempest run (default 1800)
#   CONFORMANCE_REGEX        run only tests matching this regex (within the selection)
#   CONFORMANCE_INCLUDE / CONFORMANCE_EXCLUDE  other stestr include/exclude list files
#                            (e.g. for neutron_tempest_plugin, when installed in the venv)
#   CONFORMANCE_STRICT=1     exit 1 when a test failed
#   CONFORMANCE_NEUTRINO_BIN use this binary instead of building one
#   OS_TEST_TIMEOUT          seconds per test (default 300)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INCLUDE="${CONFORMANCE_INCLUDE:-$ROOT/scripts/conformance/include.txt}"
EXCLUDE="${CONFORMANCE_EXCLUDE:-$ROOT/scripts/conformance/exclude.txt}"
CONC="${CONFORMANCE_CONCURRENCY:-2}"
RUN_TIMEOUT="${CONFORMANCE_TIMEOUT:-1800}"
export OS_TEST_TIMEOUT="${OS_TEST_TIMEOUT:-300}"
OUT="$ROOT/target/conformance"
WS="$OUT/workspace"
CF_TAG=conformance
# venv, build, neutrino up/stop and the summary, shared with conformance-octavia.sh
. "$ROOT/scripts/conformance/lib.sh"

# ------------------------------------------------------------------ 1. tempest venv
cf_venv
log "tempest $(cf_pkg_version tempest)"

# ------------------------------------------------------------------ 2. neutrino binary
cf_build

# ------------------------------------------------------------------ 3. neutrino up
rm -rf "$OUT"; mkdir -p "$OUT"
cf_trap
read -r IPORT NPORT < <(cf_free_ports 2) || die "no free ports"
log "neutrino up (identity 127.0.0.1:$IPORT, network 127.0.0.1:$NPORT, data $DATA)"
cf_start_neutrino "$OUT/neutrino.log" "$IPORT" --network-listen "127.0.0.1:$NPORT"

# ------------------------------------------------------------------ 4. cloud discovery + tempest.conf
# Plain HTTP (stdlib) so the discovery does not depend on an SDK: an admin token, the
# network endpoint from the catalog, the extension list, and the public network.
DISCOVERY="$(AUTH_URL="$AUTH_URL" OS_USERNAME="$ADMIN_USER" OS_PASSWORD="$ADMIN_PASSWORD" \
  OS_PROJECT_NAME="$ADMIN_PROJECT" OUT="$OUT" "$PY" - <<'PYEOF'
import json, os, urllib.request

def call(method, url, body=None, token=None):
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers, (json.loads(r.read() or b"null"))

auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": os.environ["OS_USERNAME"], "domain": {"id": "default"},
            "password": os.environ["OS_PASSWORD"]}}},
        "scope": {"project": {"name": os.environ["OS_PROJECT_NAME"],
                              "domain": {"id": "default"}}}}}
headers, body = call("POST", os.environ["AUTH_URL"] + "/auth/tokens", auth)
token = headers["X-Subject-Token"]
net_url = next(e["url"] for s in body["token"]["catalog"] if s["type"] == "network"
               for e in s["endpoints"] if e["interface"] == "public").rstrip("/")
v2 = net_url + "/v2.0"
exts = sorted(e["alias"] for e in call("GET", v2 + "/extensions", token=token)[1]["extensions"])
net = call("POST", v2 + "/networks", {"network": {
    "name": "public", "router:external": True, "shared": False,
    "provider:network_type": "flat", "provider:physical_network": "public"}}, token)[1]["network"]
call("POST", v2 + "/subnets", {"subnet": {
    "network_id": net["id"], "name": "public-subnet", "ip_version": 4,
    "cidr": "172.24.4.0/24", "gateway_ip": "172.24.4.1", "enable_dhcp": False,
    "allocation_pools": [{"start": "172.24.4.10", "end": "172.24.4.250"}]}}, token)
call("POST", v2 + "/subnets", {"subnet": {
    "network_id": net["id"], "name": "public-subnet-v6", "ip_version": 6,
    "cidr": "2001:db8::/64", "gateway_ip": "2001:db8::2", "enable_dhcp": False}}, token)
with open(os.path.join(os.environ["OUT"], "extensions.txt"), "w") as f:
    f.write("\n".join(exts) + "\n")
print(f"PUBLIC_NET_ID={net['id']}")
print(f"EXTS={','.join(exts)}")
PYEOF
)" || die "cloud discovery failed (neutrino log: $OUT/neutrino.log)"
eval "$DISCOVERY"
[ -n "${PUBLIC_NET_ID:-}" ] && [ -n "${EXTS:-}" ] || die "cloud discovery returned nothing"
log "extensions: $EXTS"

# A registry file of our own: tempest init refuses a name already in ~/.tempest/workspace.yaml.
# Floating IPs come with the L3 "router" extension.
case ",$EXTS," in *,router,*) FLOATING_IPS=true ;; *) FLOATING_IPS=false ;; esac
"$VENV/bin/tempest" init --name neutrino-conformance --workspace-path "$OUT/workspace.yaml" "$WS" \
  > "$OUT/tempest-init.log" 2>&1 || die "tempest init failed: $(tail -3 "$OUT/tempest-init.log")"
mkdir -p "$WS/tmp" "$WS/lock"
# Feature flags say what Neutrino has: tests needing an extension it does not list
# skip (api_extensions), and so do those needing any other service.
cat > "$WS/etc/tempest.conf" <<EOF
[DEFAULT]
log_file = tempest.log
debug = true

[auth]
use_dynamic_credentials = true
tempest_roles = member
admin_username = $ADMIN_USER
admin_password = $ADMIN_PASSWORD
admin_project_name = $ADMIN_PROJECT
admin_domain_name = Default
# The selected tests make their own networks (BaseNetworkTest asks for none);
# isolated networks would only add a network, subnet and router per credential.
create_isolated_networks = false

[identity]
uri_v3 = $AUTH_URL
auth_version = v3
region = $REGION
v3_endpoint_type = public
admin_role = admin
default_domain_id = default

[identity-feature-enabled]
api_v2 = false
api_v3 = true

[service_available]
neutron = true
nova = false
glance = false
cinder = false
swift = false
horizon = false
heat = false
designate = false
barbican = false
placement = false
load_balancer = false

[network]
region = $REGION
endpoint_type = public
public_network_id = $PUBLIC_NET_ID
floating_network_name = public
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
project_network_v6_cidr = 2001:db8:8000::/48
project_network_v6_mask_bits = 64
build_timeout = 60
build_interval = 1

[network-feature-enabled]
api_extensions = $EXTS
ipv6 = true
ipv6_subnet_attributes = true
port_security = true
floating_ips = $FLOATING_IPS
port_admin_state_change = true

[neutron_plugin_options]
available_type_drivers = flat,vlan,vxlan,geneve
provider_vlans = foo,
provider_net_base_segm_id = 1
specify_floating_ip_address_available = false

[oslo_concurrency]
lock_path = $WS/lock

[validation]
run_validation = false

[enforce_scope]
neutron = true
keystone = true
EOF

# ------------------------------------------------------------------ 5. tempest run
# Exclusions marked "[needs EXT,...]" lapse once the cloud lists all those extensions.
"$PY" - "$EXCLUDE" "$EXTS" > "$OUT/exclude.txt" <<'PYEOF' || die "cannot read $EXCLUDE"
import re, sys
exts = set(sys.argv[2].split(","))
for line in open(sys.argv[1]):
    m = re.search(r"\[needs ([^\]]+)\]", line.split("#", 1)[1] if "#" in line else "")
    if m and all(e.strip() in exts for e in m.group(1).split(",")):
        continue
    sys.stdout.write(line)
PYEOF
# The selection as an explicit list (stestr ORs --regex with an include list, so
# CONFORMANCE_REGEX narrows the list here instead).
( cd "$WS" && "$VENV/bin/tempest" run --config-file "$WS/etc/tempest.conf" \
    --include-list "$INCLUDE" --exclude-list "$OUT/exclude.txt" --list-tests ) \
  > "$OUT/tempest-list.out" 2>&1 || die "tempest cannot list tests: $(tail -5 "$OUT/tempest-list.out")"
grep -E '^[a-z_]+(\.[A-Za-z0-9_]+)+\[' "$OUT/tempest-list.out" | grep -E -- "${CONFORMANCE_REGEX:-.}" > "$OUT/selected.txt"
[ -s "$OUT/selected.txt" ] || die "no test selected (see $OUT/tempest-list.out)"
log "tempest run: $(wc -l < "$OUT/selected.txt") tests, concurrency $CONC, bound ${RUN_TIMEOUT}s"
t1=$SECONDS
( cd "$WS" && TMPDIR="$WS/tmp" timeout --signal=TERM --kill-after=30 "$RUN_TIMEOUT" \
    "$VENV/bin/tempest" run --config-file "$WS/etc/tempest.conf" --load-list "$OUT/selected.txt" \
    --concurrency "$CONC" --subunit ) > "$OUT/results.subunit" 2> "$OUT/tempest-run.stderr"
rc=$?
note=""
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then note=" (TIMED OUT after ${RUN_TIMEOUT}s)"; fi
cp "$WS/tempest.log" "$OUT/tempest.log" 2>/dev/null

# ------------------------------------------------------------------ 6. summary
cf_summarise "$OUT/results.subunit" "$OUT/selected.txt" "$OUT/failed.txt"
if [ $((NPASS + NFAIL + NSKIP)) -eq 0 ]; then
  tail -20 "$OUT/tempest-run.stderr" >&2
  die "tempest ran no test (rc $rc); see $OUT/tempest-run.stderr"
fi
{
  echo "tempest run: rc $rc, wall $((SECONDS - t1))s$note, concurrency $CONC"
  echo "conformance: $NPASS passed, $NFAIL failed, $NSKIP skipped"
} > "$OUT/summary.txt"
[ -s "$OUT/failed.txt" ] && { echo "failed tests:"; sed 's/^/  /' "$OUT/failed.txt"; } >&2
log "results in $OUT$note"
echo "conformance: $NPASS passed, $NFAIL failed, $NSKIP skipped"
if [ "${CONFORMANCE_STRICT:-0}" = 1 ] && [ "$NFAIL" -gt 0 ]; then exit 1; fi
exit 0
