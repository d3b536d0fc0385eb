"""Drives the agent with upstream Octavia 19.0.0's own REST client.

Usage: octavia_client.py <octavia source dir> <agent port> <haproxy port>

The classes AmphoraAPIClientBase and AmphoraAPIClient1_0 are taken verbatim
from octavia/amphorae/drivers/haproxy/rest_api_driver.py (the wheel from
`pip download octavia==19.0.0 --no-deps`) and executed with these stubs in
place of their imports (no oslo/webob/DB install):
  - CONF: only the haproxy_amphora options request() reads (bind_port, TLS
    paths = None, timeouts, 3 retries x 1 s);
  - LOG: logging; consts: the 4 timeout-dict keys and AMP_ACTION_*;
  - exc.check_exception: upstream's logic (raise for status >= 400 unless
    ignored), exc.NotFound; driver_except.TimeOutException/AmpConnectionRetry;
  - utils.is_ipv6_lla / is_ipv6 via ipaddress; db_models.Amphora: a plain
    object (id, lb_network_ip, api_version);
  - CustomHostNameCheckingAdapter: requests' HTTPAdapter;
  - _base_url: overridden to http:// (the agent runs without TLS here).
"""
import functools, hashlib, ipaddress, json, logging, os, ssl, sys, time, types, warnings
from typing import Optional
import requests

src_dir, agent_port, hap_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# Optional: --tls CLIENT_CERT CA NEW_SERVER_BUNDLE AMPHORA_ID = talk HTTPS
# through upstream's own CustomHostNameCheckingAdapter (client cert = the
# controller's cert+key PEM, CA = the LB CA, hostname check = amphora id),
# and rotate the agent's certificate to NEW_SERVER_BUNDLE.
tls = None
if len(sys.argv) > 4 and sys.argv[4] == "--tls":
    tls = dict(client_cert=sys.argv[5], server_ca=sys.argv[6], new_bundle=sys.argv[7],
               amphora_id=sys.argv[8])
path = os.path.join(src_dir, "octavia/amphorae/drivers/haproxy/rest_api_driver.py")
lines = open(path).read().splitlines(True)
start = next(i for i, l in enumerate(lines) if l.startswith("class AmphoraAPIClientBase"))
end = next((i for i in range(start + 1, len(lines))
            if lines[i][:1].strip() and not lines[i].startswith("class AmphoraAPIClient1_0")
            and i > next(j for j, l in enumerate(lines) if l.startswith("class AmphoraAPIClient1_0"))),
           len(lines))
code = "".join(lines[start:end])
if tls:
    a_start = next(i for i, l in enumerate(lines) if l.startswith("class CustomHostNameCheckingAdapter"))
    a_end = next(i for i in range(a_start + 1, len(lines)) if lines[i].startswith("class "))
    code = "".join(lines[a_start:a_end]) + code

class HTTPError(Exception):
    def __init__(self, r):
        super().__init__(f"{r.status_code} {r.text}")
        self.response = r

def check_exception(response, ignore=tuple(), log_error=True):
    status_code = response.status_code
    if status_code >= 400 and status_code not in ignore:
        raise HTTPError(response)
    return response

ns = dict(
    functools=functools, hashlib=hashlib, json=json, os=os, ssl=ssl, time=time,
    warnings=warnings, Optional=Optional, requests=requests,
    LOG=logging.getLogger("octavia-client"),
    CONF=types.SimpleNamespace(haproxy_amphora=types.SimpleNamespace(
        client_cert=tls and tls["client_cert"], server_ca=tls and tls["server_ca"],
        bind_port=agent_port,
        rest_request_conn_timeout=10, rest_request_read_timeout=60,
        connection_max_retries=3, connection_retry_interval=1,
        lb_network_interface="o-hm0"),
        amphora_agent=types.SimpleNamespace(agent_tls_protocol="TLSv1.2")),
    consts=types.SimpleNamespace(
        REQ_CONN_TIMEOUT="req_conn_timeout", REQ_READ_TIMEOUT="req_read_timeout",
        CONN_MAX_RETRIES="conn_max_retries", CONN_RETRY_INTERVAL="conn_retry_interval",
        AMP_ACTION_START="start", AMP_ACTION_STOP="stop", AMP_ACTION_RELOAD="reload"),
    exc=types.SimpleNamespace(check_exception=check_exception, NotFound=type("NotFound", (Exception,), {})),
    driver_except=types.SimpleNamespace(
        TimeOutException=type("TimeOutException", (Exception,), {}),
        AmpConnectionRetry=type("AmpConnectionRetry", (Exception,), {})),
    utils=types.SimpleNamespace(
        is_ipv6_lla=lambda ip: ipaddress.ip_address(ip).version == 6 and ipaddress.ip_address(ip).is_link_local,
        is_ipv6=lambda ip: ipaddress.ip_address(ip).version == 6),
    db_models=types.SimpleNamespace(Amphora=object),
    CustomHostNameCheckingAdapter=requests.adapters.HTTPAdapter,
)
if tls:
    del ns["CustomHostNameCheckingAdapter"]  # upstream's own, from the source
exec(compile(code, path, "exec"), ns)

if tls:
    Client = ns["AmphoraAPIClient1_0"]  # upstream's https:// _base_url
else:
    class Client(ns["AmphoraAPIClient1_0"]):
        def _base_url(self, ip, api_version=None):
            return f"http://{ip}:{agent_port}/" + (f"{api_version}/" if api_version else "")

amp = types.SimpleNamespace(id=tls["amphora_id"] if tls else "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f",
                            lb_network_ip="127.0.0.1", api_version="1.0")
lb_id = "9b8f0c2e-7e0e-4d39-8e3e-0f4e5d6c7b8a"
c = Client()

print("api_version:", c.get_api_version(amp))
amp.api_version = "1.0"
info = c.get_info(amp)
print("info:", info)
assert info["api_version"] == "1.0" and info["haproxy_version"]
cfg = f"""global
    daemon
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend 3f2a1b0c-1111-2222-3333-444455556666
    bind 127.0.0.1:{hap_port}
    default_backend pool
backend pool
    server m1 127.0.0.1:9
"""
print("upload_config:", c.upload_config(amp, lb_id, cfg).status_code)
print("reload:", c.reload_listener(amp, lb_id).json())
import socket
for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", hap_port), 1).close(); break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("haproxy not listening")
print("listeners:", c.get_all_listeners(amp))
pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
print("upload_cert_pem:", c.upload_cert_pem(amp, lb_id, "abc.pem", pem).status_code)
md5 = c.get_cert_md5sum(amp, lb_id, "abc.pem")
assert md5 == hashlib.md5(pem).hexdigest(), md5
print("get_cert_md5sum ok:", md5)
if tls:
    new_bundle = open(tls["new_bundle"], "rb").read()
    print("update_cert_for_rotation:", c.update_cert_for_rotation(amp, new_bundle).status_code)
    # A new connection must now be served the new certificate.
    c.session.close()
    ctx = ssl.create_default_context(cafile=tls["server_ca"])
    ctx.check_hostname = False
    ctx.load_cert_chain(tls["client_cert"])
    with socket.create_connection(("127.0.0.1", agent_port)) as s, ctx.wrap_socket(s) as t:
        served = t.getpeercert(binary_form=True)
    want = ssl.PEM_cert_to_DER_cert(new_bundle.decode().split("-----END CERTIFICATE-----")[0]
                                    + "-----END CERTIFICATE-----\n")
    assert served == want, "the agent still serves the old certificate"
    print("new certificate served: ok")
    print("info after rotation:", c.get_info(amp)["api_version"])
else:
    print("update_cert_for_rotation:", c.update_cert_for_rotation(amp, pem).status_code)
print("update_agent_config:", c.update_agent_config(amp, "[DEFAULT]\ndebug = False\n").status_code)
print("get_interface:", c.get_interface(amp, "127.0.0.1"))
print("delete_cert_pem:", c.delete_cert_pem(amp, lb_id, "abc.pem").status_code)
print("delete_listener:", c.delete_listener(amp, lb_id).status_code)
print("ALL OK")
