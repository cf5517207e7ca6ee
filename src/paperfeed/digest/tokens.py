"""Signed, expiring links in emails: confirm, manage, unsubscribe, preview.

Each token is signed with the instance secret (itsdangerous) and salted by purpose, so a
manage token cannot confirm and vice versa. Tokens name the subscriber id *and* address, so
a token outlives neither a removed subscription nor an address change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.errors import BadRequest
from paperfeed.settings import Settings

Purpose = Literal["confirm", "manage"]
MAX_AGE = {"confirm": 7 * 86400, "manage": 400 * 86400}


class InvalidLink(BadRequest):
    """A tampered, truncated or expired link."""


@dataclass(frozen=True, slots=True)
class LinkClaims:
    subscriber_id: int
    email: str
    extra: dict[str, Any]


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.resolved_secret(), salt=f"paperfeed.digest.{purpose}")


class Links:
    """Builds and checks the links of one instance (one serializer per purpose, reused)."""

    def __init__(self, settings: Settings) -> None:
        self.base = settings.base_url.rstrip("/")
        self._s = {p: _serializer(settings, p) for p in ("confirm", "manage")}

    def token(self, purpose: Purpose, subscriber_id: int, email: str, **extra: Any) -> str:
        return self._s[purpose].dumps({"s": subscriber_id, "e": email, **extra})

    def check(self, purpose: Purpose, token: str | None) -> LinkClaims:
        if not token:
            raise InvalidLink("This link is incomplete: the token is missing.")
        try:
            data = self._s[purpose].loads(token, max_age=MAX_AGE[purpose])
        except SignatureExpired:
            raise InvalidLink(
                "This link has expired. Subscribe again, or use the link in a newer email."
            ) from None
        except BadSignature:
            raise InvalidLink(
                "This link is invalid: it was changed or cut short. Copy the whole link from "
                "the email."
            ) from None
        extra = {k: v for k, v in data.items() if k not in ("s", "e")}
        return LinkClaims(subscriber_id=int(data["s"]), email=str(data["e"]), extra=extra)

    def url(self, path: str, token: str) -> str:
        return f"{self.base}{path}?{urlencode({'token': token})}"

    def paper_url(self, paper_id: str) -> str:
        return f"{self.base}/papers/{paper_id}"
