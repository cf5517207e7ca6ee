"""CSRF tokens and session cookies.

CSRF: a signed double-submit token bound to the session. A random value lives in the
HttpOnly `pf_csrf` cookie; forms carry `[value, binding]` signed with the instance secret
(field `csrf_token`, or header `X-CSRF-Token` for fetch calls), where `binding` is a hash of
the session cookie (empty before sign-in). A POST passes only when the signature is valid,
the value matches the cookie and the binding matches the request's session, so another site
can neither read nor forge it, a token planted together with its cookie (cookie tossing)
does not fit the victim's session, and signing in (or out) voids every earlier token; the
`pf_csrf` value is also replaced at sign-in. Every form, and every cookie-authenticated
POST/PUT/DELETE, is checked; Bearer-token API calls carry no ambient credentials and need
no token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from paperfeed.errors import Forbidden
from paperfeed.settings import Settings

CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "pf_session"
SESSION_MAX_AGE = 30 * 86400


def _signer(request: Request) -> URLSafeSerializer:
    signer = getattr(request.app.state, "csrf_signer", None)
    if signer is None:
        settings: Settings = request.app.state.settings
        signer = URLSafeSerializer(settings.resolved_secret(), salt="paperfeed-csrf")
        request.app.state.csrf_signer = signer
    return signer


def _binding(session: str | None) -> str:
    """What ties a CSRF token to one session (or to having none)."""
    return hashlib.sha256(f"csrf-binding:{session or ''}".encode()).hexdigest()[:32]


def _session_cookie(request: Request) -> str | None:
    fresh: str | None = getattr(request.state, "new_session", None)
    return fresh or request.cookies.get(SESSION_COOKIE)


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms (creates the cookie value when missing)."""
    value = getattr(request.state, "new_csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf = value
    return _signer(request).dumps([value, _binding(_session_cookie(request))])


def anonymous_csrf(request: Request) -> tuple[str, str | None]:
    """For a visitor without a session: the token for this page's forms, and the new
    `pf_csrf` cookie value to send when the visitor has none yet (else None)."""
    value = request.cookies.get(CSRF_COOKIE)
    new = None
    if not value:
        value = new = secrets.token_urlsafe(24)
    return _signer(request).dumps([value, _binding(None)]), new


def csrf_cookie_header(settings: Settings, value: str) -> tuple[bytes, bytes]:
    """The raw `Set-Cookie` header `set_csrf_cookie` sends for `value`."""
    response = Response()
    response.set_cookie(
        CSRF_COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=settings.cookies_secure,
        max_age=SESSION_MAX_AGE,
    )
    return response.raw_headers[-1]


def rotate_csrf(request: Request) -> None:
    """A new CSRF cookie value for this response (at sign-in): older tokens stop working."""
    request.state.new_csrf = secrets.token_urlsafe(24)


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the CSRF cookie if `csrf_token` or `rotate_csrf` made a new one for it."""
    value = getattr(request.state, "new_csrf", None)
    if value:
        settings: Settings = request.app.state.settings
        response.raw_headers.append(csrf_cookie_header(settings, value))


async def verify_csrf(request: Request) -> None:
    """Raise 403 unless the request carries a valid token for its CSRF cookie and session."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        token = field if isinstance(field, str) else None
    cookie = request.cookies.get(CSRF_COOKIE)
    if not token or not cookie:
        raise Forbidden("missing CSRF token; reload the page and try again")
    try:
        value = _signer(request).loads(token)
    except BadSignature:
        raise Forbidden("invalid CSRF token; reload the page and try again") from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, str) for v in value)
        or not hmac.compare_digest(value[0], cookie)
        or not hmac.compare_digest(value[1], _binding(request.cookies.get(SESSION_COOKIE)))
    ):
        raise Forbidden("CSRF token does not match; reload the page and try again")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Start a browser session; the CSRF cookie is replaced in the same response."""
    settings: Settings = request.app.state.settings
    request.state.new_session = token
    rotate_csrf(request)
    set_csrf_cookie(request, response)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookies_secure,
        max_age=SESSION_MAX_AGE,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirect targets.

    Browsers drop tabs and newlines inside a URL and read `\\` as `/`, so `/\t/evil.example`
    or `/\\evil.example` would leave the site: any control character, space or backslash
    makes the target refused, as does anything with a scheme or a host.
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target)
    ):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
