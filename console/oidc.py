"""Single sign-on for the console (issue #22): OpenID Connect's authorization code flow, beside the
local passwords, compatible with ProConnect's documented flow.

The login page offers the button only when OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are
set. A login: a random `state` and `nonce` and a PKCE verifier (S256) are kept for this browser,
the operator authenticates at the provider, which sends the browser back to the callback with a
code. The callback checks the state (this browser's, not expired, used once), exchanges the code
(client secret and PKCE verifier) for tokens, checks the ID token (signature with the provider's
published keys, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `at_hash`), reads the user info
(ProConnect signs it: a JWT checked the same way, and its `sub` must be the ID token's), and maps the
identity to an existing operator account (console.accounts.find_sso_operator: by e-mail, else by
the `sub` stored at an earlier login). Nobody is registered by a login: an unknown identity gets a
403 page. The session is then the one a password gives (same cookie, CSRF token, eight hours,
revoked by « Se déconnecter »), with the account's own role; logging out also ends the provider's
session when it advertises an `end_session_endpoint` (ProConnect does).

Why a cookie of its own for the pending login: the console's session cookie is SameSite=Strict,
and a browser does not send such a cookie on the provider's redirect back to the callback (a
navigation started by another site). The pending login (state, nonce, verifier, where to go next)
is kept in a second signed cookie, SameSite=Lax, HttpOnly, limited to the single sign-on paths and
to ten minutes. After a successful login, the callback answers a page that moves on by itself:
that navigation starts from this site, so the Strict session cookie is sent again.

Every refusal is logged with its reason, the identity only as a keyed hash (no e-mail address or
`sub` in the logs), and counted in `mds_console_failed_logins_total{reason="sso"}`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

import settings
from console.accounts import find_sso_operator, session_version
from metrics.webapp import FAILED_LOGINS

logger = logging.getLogger(__name__)
blueprint = Blueprint("sso", __name__, url_prefix="/connexion/sso")

PENDING_COOKIE = "mds_console_sso"
PENDING_SECONDS = 600  # a login not finished within ten minutes starts again
MAX_PENDING = 3  # logins started in other tabs of the same browser
LEEWAY_SECONDS = 60  # clock skew allowed on exp, iat
METADATA_SECONDS = 3600  # the discovery document and keys are read again after an hour
KEYS_REFRESH_SECONDS = 60  # an unknown key id reloads the keys (rotation), at most once a minute
HTTP_TIMEOUT_SECONDS = 10
# No `none`, no HS*: a token must be signed with one of the provider's published keys.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
FAILED_LOGINS.labels("sso")  # the series exists from the start, at 0

REFUSALS = {
    "provider_error": "La connexion a été annulée ou refusée par le fournisseur d'identité.",
    "state": (
        "Cette réponse de connexion n'est pas valable : lien expiré, déjà utilisé ou ouvert dans un autre "
        "navigateur. Recommencez la connexion."
    ),
    "token": (
        "La connexion n'a pas pu être vérifiée (jeton d'identité non valable). Recommencez ; si cela se "
        "reproduit, prévenez l'administrateur de la console."
    ),
    "unknown": (
        "Aucun compte de la console n'est associé à cette identité. Il n'y a pas d'inscription en libre "
        "service : demandez à un administrateur de la console d'enregistrer votre adresse e-mail "
        "professionnelle sur votre compte."
    ),
    "conflict": (
        "Cette identité correspond à deux comptes différents de la console. Demandez à un administrateur "
        "de corriger les adresses e-mail des comptes."
    ),
}


class SsoRefused(Exception):
    """A login refused: `reason` is logged and selects the French message (REFUSALS)."""

    def __init__(self, reason: str, detail: str, refusal: str = "token") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.refusal = refusal


def _loggable(code: object) -> str:
    """An error code the provider or the browser sent, safe to log (no line breaks, bounded)."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "?", str(code))[:60]


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered something unusable (not the operator's fault)."""


def configured() -> bool:
    return bool(settings.oidc_issuer() and settings.oidc_client_id() and settings.oidc_client_secret())


def identity_hash(value: Optional[str]) -> str:
    """How an e-mail address or a `sub` appears in the logs: a keyed hash, enough to tell two
    attempts by the same identity apart from two different ones, never the value."""
    if not value:
        return "-"
    key = (current_app.config.get("SECRET_KEY") or "").encode()
    return hashlib.sha256(key + b"|console-sso|" + value.strip().lower().encode()).hexdigest()[:16]


@dataclass
class Provider:
    """The OpenID provider as its discovery document describes it (cached, with its keys)."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    pkce: bool
    _metadata: Dict[str, Any] = field(default_factory=dict)
    _metadata_at: float = 0.0
    _keys: Optional[KeySet] = None
    _keys_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls) -> "Provider":
        return cls(
            issuer=settings.oidc_issuer(),
            client_id=settings.oidc_client_id(),
            client_secret=settings.oidc_client_secret(),
            scopes=settings.oidc_scopes(),
            pkce=settings.oidc_pkce(),
        )

    # --- discovery and keys -------------------------------------------------------------
    def _get_json(self, url: str) -> Dict[str, Any]:
        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailable(f"{url}: {type(error).__name__}") from error
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{url}: not a JSON object")
        return data

    def metadata(self) -> Dict[str, Any]:
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata_at < METADATA_SECONDS:
                return self._metadata
        data = self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        # OpenID Connect Discovery 1.0 §4.3: the document must name exactly the issuer it was read from.
        if data.get("issuer") != self.issuer:
            raise ProviderUnavailable(f"discovery names issuer {data.get('issuer')!r}, not OIDC_ISSUER")
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not data.get(k)]
        if missing:
            raise ProviderUnavailable(f"discovery document without {', '.join(missing)}")
        with self._lock:
            self._metadata, self._metadata_at = data, time.monotonic()
            self._keys = None
        return data

    def keys(self, refresh: bool = False) -> KeySet:
        with self._lock:
            fresh = self._keys is not None and time.monotonic() - self._keys_at < METADATA_SECONDS
            if fresh and not (refresh and time.monotonic() - self._keys_at > KEYS_REFRESH_SECONDS):
                return self._keys
        data = self._get_json(self.metadata()["jwks_uri"])
        try:
            keys = KeySet.import_key_set(data)
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise ProviderUnavailable(f"unusable JWKS ({type(error).__name__})") from error
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    def algorithms(self) -> List[str]:
        advertised = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in advertised if alg in SIGNING_ALGORITHMS] or ["RS256"]

    # --- the flow -----------------------------------------------------------------------
    def _client(self, redirect_uri: str) -> OAuth2Session:
        methods = self.metadata().get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        # ProConnect documents client_id and client_secret in the token request's body.
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=self.scopes,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method=method,
            code_challenge_method="S256" if self.pkce else None,
        )

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, verifier: Optional[str]) -> str:
        extra = {"code_verifier": verifier} if verifier else {}
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=state, nonce=nonce, **extra
            )
        return url

    def exchange(self, code: str, redirect_uri: str, verifier: Optional[str]) -> Dict[str, Any]:
        """The token endpoint's answer to the code (with the PKCE verifier)."""
        extra = {"code_verifier": verifier} if verifier else {}
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(
                    self.metadata()["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    timeout=HTTP_TIMEOUT_SECONDS,
                    **extra,
                )
        except requests.RequestException as error:
            raise ProviderUnavailable(f"token endpoint: {type(error).__name__}") from error
        except Exception as error:  # authlib's OAuthError: invalid_grant (a used or expired code)…
            raise SsoRefused(
                "token_endpoint", _loggable(getattr(error, "error", None) or type(error).__name__)
            ) from error
        if not token.get("id_token") or not token.get("access_token"):
            raise SsoRefused("token_endpoint", "no id_token or access_token in the answer")
        return dict(token)

    def _decode(self, raw: str) -> jwt.Token:
        """Check a JWT's signature with the provider's keys (reloaded once if its key id is unknown)."""
        for refresh in (False, True):
            try:
                return jwt.decode(raw, self.keys(refresh=refresh), algorithms=self.algorithms())
            except InvalidKeyIdError:
                if refresh:
                    raise SsoRefused("signature", "no published key has this key id") from None
            except JoseError as error:
                raise SsoRefused("signature", type(error).__name__) from error
            except ValueError as error:  # not a compact JWS at all
                raise SsoRefused("signature", type(error).__name__) from error
        raise SsoRefused("signature", "unreachable")  # pragma: no cover

    def verify_id_token(self, raw: str, nonce: str, access_token: str) -> Dict[str, Any]:
        """The ID token's claims, once its signature and claims are checked (OpenID Connect Core
        §3.1.3.7): issuer, audience (and `azp`), expiry, issue time, nonce, access token hash."""
        token = self._decode(raw)
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
                "nonce": {"essential": True},
            },
            {"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=LEEWAY_SECONDS)
        except ExpiredTokenError as error:
            raise SsoRefused("expired", "exp is past") from error
        except (InvalidClaimError, MissingClaimError) as error:
            claim = getattr(error, "claim", None) or str(error)
            raise SsoRefused(f"claim_{claim}".replace(",", "_"), str(error)) from error
        except JoseError as error:
            raise SsoRefused("claims", type(error).__name__) from error
        if not isinstance(claims["sub"], str) or len(claims["sub"]) > 255:  # Core §2: 255 ASCII characters at most
            raise SsoRefused("claim_sub", "malformed sub")
        # The token was issued by the token endpoint during this very request: an old one is replayed.
        if claims["iat"] < time.time() - PENDING_SECONDS - LEEWAY_SECONDS:
            raise SsoRefused("claim_iat", "issued too long ago")
        return dict(claims)

    def userinfo(self, access_token: str, subject: str) -> Dict[str, Any]:
        """The user info (plain JSON, or a signed JWT as ProConnect sends it), for this `sub` only."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint:
            return {}
        try:
            response = requests.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}, timeout=HTTP_TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            raise ProviderUnavailable(f"userinfo: {type(error).__name__}") from error
        if response.status_code != 200:
            raise SsoRefused("userinfo", f"HTTP {response.status_code}")
        if response.headers.get("Content-Type", "").split(";")[0].strip() == "application/jwt":
            token = self._decode(response.text.strip())
            try:  # iss and aud when present (OpenID Connect Core §5.3.2)
                JWTClaimsRegistry(
                    leeway=LEEWAY_SECONDS, iss={"value": self.issuer}, aud={"value": self.client_id}
                ).validate(token.claims)
            except JoseError as error:
                raise SsoRefused("userinfo", type(error).__name__) from error
            info = dict(token.claims)
        else:
            try:
                info = response.json()
            except ValueError as error:
                raise SsoRefused("userinfo", "not JSON") from error
        if not isinstance(info, dict) or info.get("sub") != subject:
            # §5.3.2: a user info response for another `sub` must not be used (token substitution).
            raise SsoRefused("userinfo_sub", "the user info is about another sub")
        return info

    def end_session_url(self, id_token: str, post_logout_redirect_uri: str, state: str) -> Optional[str]:
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except ProviderUnavailable as error:
            logger.warning("console SSO logout: provider unavailable (%s)", error)
            return None
        if not endpoint:
            return None
        query = urlencode(
            {"id_token_hint": id_token, "state": state, "post_logout_redirect_uri": post_logout_redirect_uri}
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def provider() -> Provider:
    """The app's provider, created on first use (one per app: tests get a fresh one)."""
    if "console_sso_provider" not in current_app.extensions:
        current_app.extensions.setdefault("console_sso_provider", Provider.from_settings())
    return current_app.extensions["console_sso_provider"]


# --- the pending login, in its own cookie -----------------------------------------------------
def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="mes-donnees-de-sante:console-sso")


def _read_cookie() -> Dict[str, Any]:
    raw = request.cookies.get(PENDING_COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer().loads(raw, max_age=PENDING_SECONDS)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def _write_cookie(response, data: Mapping[str, Any]) -> None:
    path = url_for("console.login.sso.start")
    if not data:
        response.delete_cookie(PENDING_COOKIE, path=path)
        return
    response.set_cookie(
        PENDING_COOKIE,
        _serializer().dumps(dict(data)),
        max_age=PENDING_SECONDS,
        path=path,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )


def _live(pending: Mapping[str, Any]) -> Dict[str, Any]:
    now = time.time()
    return {
        state: login
        for state, login in pending.items()
        if isinstance(login, dict) and now - float(login.get("at") or 0) < PENDING_SECONDS
    }


class _UsedStates:
    """States already presented to the callback (hashed), remembered as long as they could be
    valid: a copy of the pending-login cookie taken before the callback cannot be used again in
    this process (the provider's single-use code stops it in any other)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: Dict[str, float] = {}

    def first_use(self, state: str) -> bool:
        key = hashlib.sha256(state.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            for old in [k for k, at in self._seen.items() if now - at > PENDING_SECONDS]:
                del self._seen[old]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def used_states() -> _UsedStates:
    if "console_sso_used_states" not in current_app.extensions:
        current_app.extensions.setdefault("console_sso_used_states", _UsedStates())
    return current_app.extensions["console_sso_used_states"]


def callback_url() -> str:
    """The redirect URI to register at the provider: PUBLIC_WEB_URL + /console/connexion/sso/retour
    (from the configuration, never from the request's Host header)."""
    return settings.public_web_url() + url_for("console.login.sso.callback")


def logged_out_url() -> str:
    """The post-logout redirect URI to register: PUBLIC_WEB_URL + /console/connexion/sso/deconnexion."""
    return settings.public_web_url() + url_for("console.login.sso.logged_out")


def _verifier() -> str:
    return secrets.token_urlsafe(64)[:96]  # RFC 7636: 43 to 128 characters


# --- routes -----------------------------------------------------------------------------------
@blueprint.post("", endpoint="start")
def start():
    """The login page's button (a form with the console's CSRF token): off to the provider."""
    from console.login import login_page, safe_return_path

    if not configured():
        return redirect(url_for("console.login.login"))
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)  # ProConnect: 32 characters at least
    verifier = _verifier() if provider().pkce else None
    try:
        url = provider().authorization_url(callback_url(), state, nonce, verifier)
    except ProviderUnavailable as error:
        logger.warning("console SSO: provider unavailable at login (%s)", error)
        return login_page(sso_error=_unavailable_message(), status=503)
    pending = _live(_read_cookie().get("pending") or {})
    for old in sorted(pending, key=lambda s: pending[s]["at"])[: max(0, len(pending) - MAX_PENDING + 1)]:
        del pending[old]
    pending[state] = {
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_return_path(request.args.get("suivant", "")) or "",
        "at": time.time(),
    }
    response = leave_for(url, "Connexion unique", "Redirection vers votre fournisseur d'identité…")
    _write_cookie(response, {**_read_cookie(), "pending": pending})
    return response


def leave_for(url: str, title: str, message: str):
    """A page that moves on to the provider by itself. Not a redirect: the page that posted the
    form allows forms to send only to this site (CSP `form-action 'self'`), which a browser also
    applies to where a form's answer redirects."""
    response = current_app.make_response(
        render_template("console/sso_leave.html", target=url, title=title, message=message)
    )
    response.headers["Refresh"] = f"0; url={url}"
    return response


def _unavailable_message() -> str:
    return (
        "Le service de connexion unique ne répond pas : réessayez dans quelques minutes, ou connectez-vous "
        "avec votre identifiant et votre mot de passe."
    )


@blueprint.get("/retour", endpoint="callback")
def callback():
    """The provider sends the browser back here with `code` and `state` (or an `error`)."""
    from console.login import login_page, throttle

    cookie = _read_cookie()
    pending = _live(cookie.get("pending") or {})
    state = request.args.get("state", "")
    login = pending.pop(state, None) if state else None
    address = request.remote_addr or "?"
    wait = throttle().reserve(address, "*sso*")
    if wait:
        FAILED_LOGINS.labels("throttled").inc()
        response = current_app.make_response(
            login_page(error=f"Trop de tentatives : réessayez dans {wait} secondes.", status=429)
        )
        _write_cookie(response, {**cookie, "pending": pending})
        return response
    try:
        if request.args.get("error"):  # the operator cancelled, or the provider refused: nothing to check
            raise SsoRefused("provider_error", _loggable(request.args["error"]), refusal="provider_error")
        if login is None or not used_states().first_use(state):
            raise SsoRefused("state", "unknown, expired, used or forged state", refusal="state")
        code = request.args.get("code", "")
        if not code:
            raise SsoRefused("no_code", "no code in the callback")
        username, token, how = _authenticate(code, login)
    except ProviderUnavailable as error:
        logger.warning("console SSO: provider unavailable (%s)", error)
        FAILED_LOGINS.labels("sso").inc()
        response = current_app.make_response(login_page(sso_error=_unavailable_message(), status=503))
        _write_cookie(response, {**cookie, "pending": pending})
        return response
    except SsoRefused as refused:
        logger.warning("console SSO refused: %s (%s)", refused.reason, refused.detail)
        FAILED_LOGINS.labels("sso").inc()
        response = current_app.make_response(
            (
                render_template("console/sso_refused.html", message=REFUSALS[refused.refusal]),
                403,
            )
        )
        _write_cookie(response, {**cookie, "pending": pending})
        return response
    throttle().succeeded(address, "*sso*")
    repository = current_app.config["REPOSITORY"]
    session.clear()
    session["operator"] = username
    session["version"] = session_version(repository, username)
    session["since"] = time.time()
    session["sso_id_token"] = token["id_token"]  # the hint ProConnect's logout asks for
    session.permanent = True
    logger.info("console SSO login: operator %s (account found by %s)", username, how)
    target = login.get("next") or url_for("console.home")
    response = current_app.make_response(render_template("console/sso_continue.html", target=target))
    # Moving on from this page is a navigation this site starts (the Strict session cookie is sent).
    response.headers["Refresh"] = f"0; url={target}"
    _write_cookie(response, {**cookie, "pending": pending})
    return response


def _authenticate(code: str, login: Mapping[str, Any]) -> Tuple[str, Dict[str, Any], str]:
    """The operator account for this code: (username, tokens, how it was found)."""
    oidc = provider()
    token = oidc.exchange(code, callback_url(), login.get("verifier"))
    claims = oidc.verify_id_token(token["id_token"], login["nonce"], token["access_token"])
    info = oidc.userinfo(token["access_token"], claims["sub"])
    email = info.get("email") if "email" in info else claims.get("email")
    verified = info.get("email_verified", claims.get("email_verified"))
    if verified is False or verified == "false" or not isinstance(email, str):
        email = None  # an address the provider says it has not verified never opens an account
    match = find_sso_operator(current_app.config["REPOSITORY"], oidc.issuer, claims["sub"], email)
    if match.username is None:
        logger.warning(
            "console SSO: no account for subject %s, e-mail %s (%s)",
            identity_hash(claims["sub"]),
            identity_hash(email),
            match.reason,
        )
        raise SsoRefused(match.reason, "no operator account", refusal=match.reason)
    return match.username, token, match.reason


@blueprint.get("/deconnexion", endpoint="logged_out")
def logged_out():
    """Where the provider sends the browser back after its own logout (post_logout_redirect_uri)."""
    from console.login import login_page

    cookie = _read_cookie()
    expected = cookie.pop("logout_state", None)
    sent = request.args.get("state", "")
    ended = bool(expected and sent and secrets.compare_digest(str(expected), sent))
    notice = (
        "Vous êtes déconnecté de la console et du fournisseur d'identité."
        if ended
        else "Vous êtes déconnecté de la console."
    )
    response = current_app.make_response(login_page(notice=notice))
    _write_cookie(response, cookie)
    return response


def logout_redirect(id_token: Optional[str]):
    """After the console's own logout: the provider's logout when the session came from it and the
    provider advertises one (the browser must go there, to end the provider's cookies), else None."""
    if not id_token or not configured():
        return None
    state = secrets.token_urlsafe(32)
    url = provider().end_session_url(id_token, logged_out_url(), state)
    if not url:
        return None
    response = leave_for(
        url, "Déconnexion", "Vous êtes déconnecté de la console ; déconnexion du fournisseur d'identité…"
    )
    _write_cookie(response, {**_read_cookie(), "logout_state": state})
    return response
