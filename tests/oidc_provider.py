"""A real OpenID Connect provider for the console's single sign-on tests: oidc-provider-mock
(PyPI), run as its own process from its own virtual environment (`make install` creates it from
requirements-oidc-mock.txt: it needs pydantic 2, which Rasa 3.6's environment cannot hold).

The provider names itself after the Host header it is reached by (issuer, endpoints), so the tests
reach it through `ProviderProxy`, a loopback HTTP relay that passes every request on unchanged and
keeps a copy of each, for the tests to check what the console sent (the PKCE verifier at the token
endpoint); a test may also have it hand the console another answer: a token answer the same
provider gave for another client or another login (a token substitution), or the user info of
someone else, to check that the console refuses what the provider signed but did not issue to it
for this login.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import requests

from devtools.servers import free_port, stop, wait_until_up
from settings import PROJECT_ROOT

MOCK_PYTHON = PROJECT_ROOT / "var" / "oidc-provider-mock" / "bin" / "python"
MISSING = (
    f"oidc-provider-mock is not installed in {MOCK_PYTHON.parent.parent}: run `make install` "
    "(requirements-oidc-mock.txt)"
)


@dataclass
class OidcProviderMock:
    """oidc-provider-mock listening on a free loopback port."""

    directory: Path
    token_max_age: Optional[int] = None  # seconds; negative: every token it issues is already expired
    port: int = 0
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "OidcProviderMock":
        self.port = free_port()
        log = self.directory / f"oidc-provider-mock-{self.port}.log"
        command = [str(MOCK_PYTHON), "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.token_max_age is not None:
            command.append(f"--token-max-age={self.token_max_age}")
        with open(log, "w") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
            )
        wait_until_up(f"{self.url}/.well-known/openid-configuration", self.process, log, timeout=60)
        return self

    def stop(self) -> None:
        stop(self.process)


@dataclass
class Exchange:
    method: str
    path: str
    query: Dict[str, List[str]]
    form: Dict[str, List[str]]
    status: int


@dataclass
class ProviderProxy:
    """A loopback relay in front of the provider; its address is the issuer the console uses."""

    upstream: str
    port: int = 0
    exchanges: List[Exchange] = field(default_factory=list)
    # Path end (`/oauth2/token`, `/userinfo`) -> what replaces the next JSON answer there (a dict,
    # sent as JSON, or a string, sent as `application/jwt`).
    replace_next: Dict[str, Callable[[dict], dict]] = field(default_factory=dict)
    _server: Optional[http.server.ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ProviderProxy":
        proxy = self

        class Relay(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
                answer = requests.request(
                    self.command,
                    proxy.upstream + self.path,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=15,
                )
                content = answer.content
                split = urlsplit(self.path)
                form = parse_qs(body.decode("utf-8", "replace")) if body else {}
                content_type = answer.headers.get("Content-Type")
                for end in list(proxy.replace_next):
                    if split.path.endswith(end) and answer.status_code == 200:
                        replaced = proxy.replace_next.pop(end)(answer.json())
                        if isinstance(replaced, str):  # a JWT, as ProConnect's user info
                            content, content_type = replaced.encode(), "application/jwt"
                        else:
                            content = json.dumps(replaced).encode()
                proxy.exchanges.append(
                    Exchange(self.command, split.path, parse_qs(split.query), form, answer.status_code)
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                        "content-type",
                    ):
                        self.send_header(name, value)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = _relay

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def requests_to(self, path_end: str) -> List[Exchange]:
        return [e for e in self.exchanges if e.path.endswith(path_end)]


def set_user(provider_url: str, sub: str, claims: Dict[str, object]) -> None:
    """What the provider says about this `sub` (its e-mail address…) from now on."""
    response = requests.put(f"{provider_url}/users/{quote(sub, safe='')}", json=claims, timeout=10)
    assert response.status_code == 204, response.text


def authenticate_at_provider(authorization_url: str, sub: str, deny: bool = False) -> str:
    """What the operator does on the provider's page: sign in as `sub` (or refuse). Returns where
    the provider sends the browser back (the redirect URI with `code` and `state`, or `error`)."""
    form = {"action": "deny"} if deny else {"sub": sub}
    response = requests.post(authorization_url, data=form, allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    return response.headers["Location"]


def tokens_for(
    provider_url: str, client_id: str, sub: str, nonce: str, redirect_uri: str = "http://127.0.0.1:9/retour"
) -> dict:
    """A complete token answer of the provider, for `client_id` and this login (nonce): what
    another application, or another login, receives."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email",
            "state": "another-login-state-0123456789abcdef",
            "nonce": nonce,
        }
    )
    back = authenticate_at_provider(f"{provider_url}/oauth2/authorize?{query}", sub)
    code = parse_qs(urlsplit(back).query)["code"][0]
    response = requests.post(
        f"{provider_url}/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        auth=(client_id, "another-secret"),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()
