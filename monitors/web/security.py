"""Who is looking at the dashboard, and what they may do (issue 12).

- The centre logs in with one password (env MONITOR_SERVE_PASSWORD, or `[serve] password_hash`); its session is a
  signed cookie. With no password configured the dashboard is bound to loopback (`monitor serve` refuses any other
  host) and whoever reaches it is the centre.
- Each unit acts through its own link: `/u/{unit}?token=…`, the token an HMAC of the unit's name under the
  dashboard's secret (no accounts to manage for 50 units). A token opens that unit's pages and nothing else.
- Every form carries a CSRF token bound to the viewer (the HMAC of the viewer's identity), checked on POST.
- The secret: env MONITOR_SERVE_SECRET, else a random one kept in the database (`web_state`), made once.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.loader import ENV_SERVE_PASSWORD
from storage.models import WebState

ENV_SERVE_SECRET = "MONITOR_SERVE_SECRET"
SESSION_COOKIE = "monitor_session"
SESSION_SECONDS = 12 * 3600
PBKDF2_ITERATIONS = 200_000


@dataclass(frozen=True)
class Viewer:
    """The person a request acts for: the centre (all units), one unit (its token), or nobody yet."""

    kind: str  # centre | unit | anonymous
    unit: str = ""

    @property
    def identity(self) -> str:
        return f"{self.kind}:{self.unit}"

    @property
    def label(self) -> str:
        """Who did it, as the 整改 history says it."""
        return {"centre": "区大数据服务中心", "unit": self.unit}.get(self.kind, "访客")

    def may_see(self, unit: str) -> bool:
        return self.kind == "centre" or (self.kind == "unit" and self.unit == unit)


def hash_password(password: str, salt: str | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """`pbkdf2_sha256$200000$<salt>$<hex>`: what `[serve] password_hash` holds."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("ascii"), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    return hmac.compare_digest(hash_password(password, salt, int(iterations)).rsplit("$", 1)[1], digest)


def login_configured(settings: Settings) -> bool:
    """Whether the centre has a password: the condition for serving on an address other than loopback."""
    return bool(os.environ.get(ENV_SERVE_PASSWORD) or settings.serve.password_hash)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class Security:
    """The dashboard's keys: signs unit tokens, sessions and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, password: str = "", password_hash: str = "") -> None:
        self.secret = secret
        self.password = password
        self.password_hash = password_hash

    @classmethod
    def for_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> Security:
        secret = os.environ.get(ENV_SERVE_SECRET)
        return cls(secret.encode("utf-8") if secret else stored_secret(sessions),
                   os.environ.get(ENV_SERVE_PASSWORD, ""), settings.serve.password_hash)

    @property
    def open_access(self) -> bool:
        """No password configured: the dashboard is on loopback and everyone reaching it is the centre."""
        return not (self.password or self.password_hash)

    def _sign(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}\0{value}".encode("utf-8"), hashlib.sha256).digest())[:32]

    def unit_token(self, unit: str) -> str:
        return self._sign("unit", unit)

    def unit_token_valid(self, unit: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.unit_token(unit), token)

    def check_password(self, password: str) -> bool:
        if self.password:
            return hmac.compare_digest(self.password.encode("utf-8"), password.encode("utf-8"))
        return bool(self.password_hash) and password_matches(password, self.password_hash)

    def session_cookie(self, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_SECONDS)
        return f"centre.{expires}.{self._sign('session', str(expires))}"

    def session_valid(self, cookie: str | None, now: float | None = None) -> bool:
        try:
            kind, expires, signature = (cookie or "").split(".")
        except ValueError:
            return False
        return (kind == "centre" and expires.isdigit() and int(expires) > (now or time.time())
                and hmac.compare_digest(self._sign("session", expires), signature))

    def csrf_token(self, viewer: Viewer) -> str:
        return self._sign("csrf", viewer.identity)

    def csrf_valid(self, viewer: Viewer, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(viewer), token)


def stored_secret(sessions: sessionmaker[Session]) -> bytes:
    """The dashboard's random secret, made on first use and kept in the database (so unit links stay valid)."""
    with sessions.begin() as session:
        row = session.scalar(select(WebState).where(WebState.key == "secret"))
        if row is None:
            row = WebState(key="secret", value=secrets.token_hex(32))
            session.add(row)
        return row.value.encode("ascii")


def unit_page_links(settings: Settings, session: Session, units: list[str]) -> dict[str, str]:
    """Each unit's own dashboard link (`[serve] public_url` + `/u/{unit}?token=…`) for its emails: none when no
    public address is set, or when the dashboard has no secret yet (it makes one the first time it is served).
    Reads only."""
    base = settings.serve.public_url.rstrip("/")
    secret = os.environ.get(ENV_SERVE_SECRET) or session.scalar(select(WebState.value).where(WebState.key == "secret"))
    if not base or not secret:
        return {}
    security = Security(secret.encode("utf-8") if os.environ.get(ENV_SERVE_SECRET) else secret.encode("ascii"))
    return {unit: f"{base}/u/{quote(unit, safe='')}?token={security.unit_token(unit)}" for unit in units}
