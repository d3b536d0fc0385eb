"""Upstream Octavia 19.0.0's own amphora REST client against Neutrino's agent.

Usage: octavia_client.py PLAN.json    (run by tests/upstream_client.rs, in the
amphora's network namespace, with the Python of the venv scripts/setup.sh makes)

Taken from the octavia 19.0.0 wheel that scripts/setup.sh unpacks, not
reimplemented:
  - octavia/amphorae/drivers/haproxy/rest_api_driver.py: the classes
    CustomHostNameCheckingAdapter, AmphoraAPIClientBase, AmphoraAPIClient1_0
    and the HaproxyAmphoraLoadBalancerDriver methods in DRIVER_METHODS, compiled
    from upstream's source (tracebacks name upstream's lines). The driver
    methods build the request bodies (post_vip_plug, post_network_plug, ...).
  - octavia.amphorae.drivers.haproxy.exceptions (check_exception and its
    classes) and octavia.amphorae.driver_exceptions.exceptions, imported; only
    webob.exc.HTTPClientError, their base class, is stubbed (no webob here).
  - the literal constants of octavia/common/constants.py (the others need
    octavia-lib, which is not installed; DELETED is octavia-lib's value).
  - amphora_agent_conf.template, rendered by render_template below (the venv
    has no jinja2; it handles exactly the constructs the template uses).
Stubbed: CONF (the options the client reads), utils.is_ipv6/is_ipv6_lla,
db_models, and the data-model objects the driver methods read (Obj).

Prints one line per step on stdout; the Rust test compares them line by line.
"""
import ast
import hashlib
import json
import logging
import os
import re
import socket
import ssl
import sys
import threading
import time
import types
import warnings
import functools
import ipaddress
from typing import Optional

import requests

plan = json.load(open(sys.argv[1]))
SRC = plan["octavia_src"]
sys.path.insert(0, SRC)
logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                    format="%(levelname)s %(name)s: %(message)s")

webob = types.ModuleType("webob")
webob.exc = types.ModuleType("webob.exc")


class HTTPClientError(Exception):
    def __init__(self, detail=None, **kwargs):
        super().__init__(detail)
        self.detail = detail


webob.exc.HTTPClientError = HTTPClientError
sys.modules.setdefault("webob", webob)
sys.modules.setdefault("webob.exc", webob.exc)

from octavia.amphorae.driver_exceptions import exceptions as driver_except  # noqa: E402
from octavia.amphorae.drivers.haproxy import exceptions as exc  # noqa: E402


def literal_constants(path):
    out = {}
    for node in ast.parse(open(path).read(), path).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


consts = types.SimpleNamespace(**literal_constants(os.path.join(SRC, "octavia/common/constants.py")))
consts.DELETED = "DELETED"  # octavia_lib.common.constants.DELETED

# Every response upstream's code checks passes through check_exception:
# remember the last one, to print what the agent answered.
_check_exception = exc.check_exception
last = types.SimpleNamespace(response=None)


def recording_check_exception(response, *args, **kwargs):
    last.response = response
    return _check_exception(response, *args, **kwargs)


exc.check_exception = recording_check_exception

DRIVER_METHODS = ["_populate_amphora_api_version", "_get_haproxy_versions",
                  "_build_net_info", "post_vip_plug", "post_network_plug",
                  "get_interface_from_ip", "upload_cert_amp",
                  "update_amphora_agent_config"]
DRV_PATH = os.path.join(SRC, "octavia/amphorae/drivers/haproxy/rest_api_driver.py")
tree = ast.parse(open(DRV_PATH).read(), DRV_PATH)
classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
driver_cls = classes["HaproxyAmphoraLoadBalancerDriver"]
driver_cls.body = [f for f in driver_cls.body
                   if isinstance(f, ast.FunctionDef) and f.name in DRIVER_METHODS]
assert sorted(f.name for f in driver_cls.body) == sorted(DRIVER_METHODS), driver_cls.body
driver_cls.bases, driver_cls.keywords, driver_cls.decorator_list = [], [], []
module = ast.Module(body=[classes["CustomHostNameCheckingAdapter"], classes["AmphoraAPIClientBase"],
                          classes["AmphoraAPIClient1_0"], driver_cls], type_ignores=[])

LOG = logging.getLogger("octavia.amphorae.drivers.haproxy.rest_api_driver")
retry_log = []


class RetryLog(logging.Handler):
    def emit(self, record):
        if isinstance(record.args, dict) and "exception" in record.args:
            retry_log.append(record.args["exception"])


LOG.addHandler(RetryLog())

CONF = types.SimpleNamespace(
    haproxy_amphora=types.SimpleNamespace(
        client_cert=plan["client_cert"], server_ca=plan["server_ca"],
        bind_port=plan["bind_port"], lb_network_interface="o-hm0",
        rest_request_conn_timeout=10, rest_request_read_timeout=60,
        # The agent process may still be starting: wait as the controller
        # waits for a booting amphora.
        connection_max_retries=40, connection_retry_interval=0.25),
    amphora_agent=types.SimpleNamespace(agent_tls_protocol="TLSv1.2"))
ns = dict(
    functools=functools, hashlib=hashlib, json=json, os=os, ssl=ssl, time=time,
    warnings=warnings, Optional=Optional, requests=requests, LOG=LOG, CONF=CONF,
    consts=consts, exc=exc, driver_except=driver_except,
    utils=types.SimpleNamespace(
        is_ipv6_lla=lambda ip: ipaddress.ip_address(ip).version == 6
        and ipaddress.ip_address(ip).is_link_local,
        is_ipv6=lambda ip: ipaddress.ip_address(ip).version == 6),
    db_models=types.SimpleNamespace(Amphora=object),
)
exec(compile(module, DRV_PATH, "exec"), ns)


class Driver(ns["HaproxyAmphoraLoadBalancerDriver"]):
    def __init__(self):
        # Upstream's __init__ makes these two clients, and a certificate
        # manager and templaters that the methods used here do not touch.
        self.clients = {"base": ns["AmphoraAPIClientBase"](),
                        "1.0": ns["AmphoraAPIClient1_0"]()}


class Obj(types.SimpleNamespace):
    """A data-model object: attributes, and to_dict() as octavia's models."""

    def to_dict(self, recurse=False):
        def conv(v):
            if isinstance(v, Obj):
                return v.to_dict(recurse) if recurse else v
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v
        return {k: conv(v) for k, v in vars(self).items()}


def subnet(s):
    return Obj(cidr=s["cidr"], gateway_ip=s["gateway"],
               host_routes=[Obj(destination=r["destination"], nexthop=r["nexthop"])
                            for r in s["host_routes"]])


def render_template(path, values):
    """The amphora_agent_conf.template constructs: {# #}, {{ x }},
    {{ x|join(', ') }}, {% if x -%} ... {% endif -%}."""
    text = re.sub(r"\{#.*?#\}\n?", "", open(path).read(), flags=re.S)

    def if_block(m):
        return m.group(2) if values[m.group(1)] else ""
    text = re.sub(r"\{% if (\w+) -%\}\n?(.*?)\{% endif -%\}\n?", if_block, text, flags=re.S)

    def expr(m):
        name, filt = m.group(1), m.group(2)
        v = values[name]
        if filt:
            sep = re.fullmatch(r"join\('(.*)'\)", filt).group(1)
            return sep.join(str(x) for x in v)
        return str(v)
    text = re.sub(r"\{\{ (\w+)(?:\|([^}]*?))? \}\}", expr, text)
    assert "{" not in text, f"unrendered construct in {path}: {text}"
    return text


def say(*parts):
    print(*parts, flush=True)


def answer():
    r = last.response
    body = r.json()
    return f"{r.status_code} {body.get('details') or body.get('message')}"


def through_vip(timeout=5.0):
    """One TCP connection to the VIP's listener; what it answers."""
    deadline = time.time() + timeout
    while True:
        try:
            with socket.create_connection((plan["vip"]["ip"], plan["listener_port"]), 2) as s:
                s.settimeout(5)
                data = b""
                while chunk := s.recv(1024):
                    data += chunk
                return data.decode().strip()
        except ConnectionRefusedError:
            if time.time() > deadline:
                return "refused"
            time.sleep(0.1)


def serve_member():
    m = plan["member_server"]
    srv = socket.create_server((m["ip"], m["port"]))

    def loop():
        while True:
            conn, _ = srv.accept()
            with conn:
                conn.sendall(m["answer"].encode() + b"\n")
    threading.Thread(target=loop, daemon=True).start()


serve_member()
driver = Driver()
client = driver.clients["1.0"]
amp = Obj(id=plan["amphora_id"], lb_network_ip=plan["lb_network_ip"], api_version=None,
          status="ALLOCATED", vrrp_ip=plan["vip"]["vrrp_ip"], ha_ip=plan["vip"]["ip"],
          vrrp_port_id=plan["vip"]["port_id"])
lb_id, listener_id = plan["lb_id"], plan["listener_id"]

# Version discovery and info, as amp_wait_ready and the template selection do.
say("api_version:", ".".join(map(str, driver._populate_amphora_api_version(amp))))
say("haproxy version:", ".".join(driver._get_haproxy_versions(amp)))

# post_vip_plug, with the VRRP port, VIP subnet and an additional VIP.
v = plan["vip"]
vrrp_port = Obj(id=v["port_id"], mac_address=v["mac"], network=Obj(mtu=v["mtu"]))
lb = Obj(vip=Obj(ip_address=v["ip"], vnic_type="normal"))
extra = [Obj(ip_address=a["ip"], subnet=subnet(a)) for a in plan["additional_vips"]]
driver.post_vip_plug(amp, lb, {}, vrrp_port, subnet(v), additional_vip_data=extra)
say("post_vip_plug:", answer())
# Again: the agent's 409, which the driver takes as "already plugged".
driver.post_vip_plug(amp, lb, {}, vrrp_port, subnet(v), additional_vip_data=extra)
say("post_vip_plug again:", answer())

# post_network_plug of a member port, then of the same port with another address.
mp = plan["member_port"]


def member_port(ip):
    return Obj(id=mp["port_id"], mac_address=mp["mac"], network=Obj(mtu=mp["mtu"]),
               vnic_type="normal",
               fixed_ips=[Obj(ip_address=ip, subnet=subnet(mp["subnet"]))])


driver.post_network_plug(amp, member_port(mp["ip"]), {})
say("post_network_plug:", answer())
driver.post_network_plug(amp, member_port(mp["new_ip"]), {})
say("post_network_plug (new fixed IP):", answer())
for ip in (v["vrrp_ip"], mp["new_ip"]):
    say(f"get_interface_from_ip {ip}:", driver.get_interface_from_ip(amp, ip))

# haproxy: upload, start through reload, traffic through the VIP to the member.
ms = plan["member_server"]
cfg = f"""global
    daemon
    maxconn 100

defaults
    mode tcp
    timeout connect 5s
    timeout client 5s
    timeout server 5s

frontend {listener_id}
    bind {v["ip"]}:{plan["listener_port"]}
    default_backend {plan["pool_id"]}:{listener_id}

backend {plan["pool_id"]}:{listener_id}
    server {plan["member_id"]} {ms["ip"]}:{ms["port"]}
"""
say("upload_config:", client.upload_config(amp, lb_id, cfg).status_code)
r = client.reload_listener(amp, lb_id)
say("reload_listener:", r.status_code, json.dumps(r.json()["details"]))
say("through the VIP:", through_vip())
say("get_all_listeners:", json.dumps(client.get_all_listeners(amp), sort_keys=True))
try:
    client.upload_config(amp, lb_id, "global\n    no-such-keyword\n")
    say("upload_config (invalid): accepted")
except exc.InvalidRequest:
    say("upload_config (invalid):", last.response.status_code, last.response.json()["message"])
say("through the VIP after the refused config:", through_vip())

# Listener certificates.
pem = plan["listener_pem"].encode()
say("upload_cert_pem:", client.upload_cert_pem(amp, lb_id, f"{listener_id}.pem", pem).status_code)
say("get_cert_md5sum:", client.get_cert_md5sum(amp, lb_id, f"{listener_id}.pem"))

# The agent's configuration, as upstream's AmphoraConfigUpdate renders it.
hb = plan["heartbeat"]
agent_conf = render_template(
    os.path.join(SRC, "octavia/amphorae/backends/agent/templates/amphora_agent_conf.template"),
    dict(debug=False, administrative_log_facility=1, user_log_facility=0,
         base_cert_dir="/var/lib/octavia/certs", base_path="/var/lib/octavia",
         bind_host="::", bind_port=plan["bind_port"], haproxy_cmd="/usr/sbin/haproxy",
         controller_list=hb["controller_ip_port_list"],
         heartbeat_interval=hb["heartbeat_interval"], heartbeat_key=hb["heartbeat_key"],
         agent_server_ca="/etc/octavia/certs/client_ca.pem",
         agent_server_cert="/etc/octavia/certs/server.pem", agent_server_network_dir=None,
         agent_request_read_timeout=180, amphora_id=amp.id,
         amphora_udp_driver="keepalived_lvs", agent_tls_protocol="TLSv1.2",
         topology="SINGLE"))
driver.update_amphora_agent_config(amp, agent_conf.encode())
say("update_amphora_agent_config:", last.response.status_code)

# Server certificate rotation: new connections are served the new one.
new_bundle = open(plan["new_server_bundle"], "rb").read()
driver.upload_cert_amp(amp, new_bundle)
say("upload_cert_amp:", last.response.status_code)
client.session.close()
ctx = ssl.create_default_context(cafile=plan["server_ca"])
ctx.check_hostname = False
ctx.load_cert_chain(plan["client_cert"])
with socket.create_connection((plan["lb_network_ip"], plan["bind_port"])) as s, \
        ctx.wrap_socket(s) as t:
    served = t.getpeercert(binary_form=True)
say("served certificate md5:", hashlib.md5(served).hexdigest())
say("get_info after rotation:", client.get_info(amp)["api_version"])

# mTLS: upstream's adapter refuses an agent whose certificate names another
# amphora; the agent refuses a client without a certificate.
# A fresh client (its own connection pool): the controller connecting to
# amphora WRONG at this address, where our amphora answers.
wrong = Obj(id=plan["wrong_amphora_id"], lb_network_ip=plan["lb_network_ip"], api_version="1.0")
retry_log.clear()
try:
    ns["AmphoraAPIClient1_0"]().get_info(wrong, timeout_dict={consts.CONN_MAX_RETRIES: 1,
                                                               consts.CONN_RETRY_INTERVAL: 0})
    say("wrong amphora id: answered")
except driver_except.TimeOutException:
    cause = retry_log[-1] if retry_log else None
    name_check = isinstance(cause, requests.exceptions.SSLError) and re.search(
        r"match|mismatch", str(cause))
    say("wrong amphora id:", "refused, certificate name mismatch" if name_check else repr(cause))
bare = requests.Session()
adapter = ns["CustomHostNameCheckingAdapter"]()
adapter.uuid = amp.id
bare.mount("https://", adapter)
try:
    bare.get(f"https://{plan['lb_network_ip']}:{plan['bind_port']}/1.0/info",
             verify=plan["server_ca"], timeout=10)
    say("no client certificate: answered")
except requests.exceptions.ConnectionError as e:
    print("no client certificate:", repr(e), file=sys.stderr)
    say("no client certificate: refused")

# Clean-up calls.
say("delete_cert_pem:", client.delete_cert_pem(amp, lb_id, f"{listener_id}.pem").status_code)
say("get_cert_md5sum after delete:",
    client.get_cert_md5sum(amp, lb_id, f"{listener_id}.pem", ignore=(404,)))
say("delete_listener:", client.delete_listener(amp, lb_id).status_code)
say("through the VIP after delete_listener:", through_vip(timeout=0.5))
say("ALL OK")
