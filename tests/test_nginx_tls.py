"""docker/'s nginx run for real (Debian's nginx): HTTPS with HSTS, HTTP redirected, no version,
no query string in the access log (issue #23.14). The upstream hosts of the compose network are
replaced by a local backend; everything else is the files docker-compose mounts."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests
import urllib3

from settings import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = f"backend saw {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def self_signed_certificate(folder):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    if NGINX is None:
        pytest.fail(
            "nginx is needed to test docker/'s nginx files (apt-get install nginx; `make test` does it as root)"
        )
    work = tmp_path_factory.mktemp("nginx")
    (work / "certs").mkdir()
    self_signed_certificate(work / "certs")
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    upstream = f"127.0.0.1:{backend.server_address[1]}"
    http_port, https_port, internal_port = free_port(), free_port(), free_port()

    def local(text: str) -> str:
        for host in ("rasa1:5005", "rasa2:5005", "webapp:8080", "actions1:5055", "actions2:5055"):
            text = text.replace(host, upstream)
        return (
            text.replace("/etc/nginx/snippets/mds-locations.inc", str(work / "locations.inc"))
            .replace("/etc/nginx/certs/", str(work / "certs") + "/")
            .replace("/var/log/nginx/access.log", str(work / "access.log"))
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
            .replace("listen 5055;", f"listen 127.0.0.1:{internal_port};")
        )

    (work / "locations.inc").write_text(local((DOCKER / "nginx-locations.inc").read_text()))
    (work / "common.conf").write_text(local((DOCKER / "nginx-common.conf").read_text()))
    (work / "site.conf").write_text(local((DOCKER / "nginx-tls.conf").read_text()))
    user = "user root;\n" if os.geteuid() == 0 else ""
    (work / "nginx.conf").write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {work}/nginx.pid;\nerror_log {work}/error.log;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n  client_body_temp_path {work}/body;\n  proxy_temp_path {work}/proxy;\n"
        f"  fastcgi_temp_path {work}/fastcgi;\n  uwsgi_temp_path {work}/uwsgi;\n  scgi_temp_path {work}/scgi;\n"
        f"  include {work}/common.conf;\n  include {work}/site.conf;\n}}\n"
    )
    check = subprocess.run(
        [NGINX, "-t", "-c", str(work / "nginx.conf"), "-p", str(work)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([NGINX, "-c", str(work / "nginx.conf"), "-p", str(work)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    yield {"http": f"http://127.0.0.1:{http_port}", "https": f"https://127.0.0.1:{https_port}", "work": work}
    process.terminate()
    process.wait(timeout=10)
    backend.shutdown()


def test_https_sends_hsts_and_no_version(nginx):
    response = requests.get(nginx["https"] + "/sante", verify=False, timeout=10)
    assert response.status_code == 200 and response.text == "backend saw /sante"
    hsts = response.headers["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    assert response.headers["Server"] == "nginx", "no version advertised"


def test_http_only_redirects_to_https(nginx):
    response = requests.get(nginx["http"] + "/console?x=1", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://") and response.headers["Location"].endswith("/console?x=1")
    assert "backend" not in response.text


def test_the_access_log_keeps_no_letter_key(nginx):
    requests.get(nginx["https"] + "/lettre/HDH-2026-000001?cle=SecretKey123", verify=False, timeout=10)
    time.sleep(0.3)
    log = (nginx["work"] / "access.log").read_text()
    assert "/lettre/HDH-2026-000001" in log and "SecretKey123" not in log


def test_the_plain_http_site_is_valid_nginx(tmp_path):
    if NGINX is None:
        pytest.fail("nginx is needed (apt-get install nginx)")
    site = (
        (DOCKER / "nginx.conf")
        .read_text()
        .replace("/etc/nginx/snippets/mds-locations.inc", str(DOCKER / "nginx-locations.inc"))
    )
    (tmp_path / "site.conf").write_text(site)
    common = (DOCKER / "nginx-common.conf").read_text()
    for host in ("rasa1", "rasa2", "webapp", "actions1", "actions2"):
        common = common.replace(f"{host}:", "127.0.0.1:")
    (tmp_path / "common.conf").write_text(common)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include {tmp_path}/common.conf; include {tmp_path}/site.conf; }}\n"
    )
    check = subprocess.run(
        [NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_metrics_are_not_served_to_the_public(nginx):
    """Prometheus scrapes the containers directly: through nginx, /metrics never reaches the web app."""
    for path in ("/metrics", "/metrics?format=text"):
        response = requests.get(nginx["https"] + path, verify=False, timeout=10)
        assert response.status_code == 404 and "backend" not in response.text, path
