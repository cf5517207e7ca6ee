"""CSRF tokens and session cookies.

CSRF: a signed double-submit token. A random value lives in the HttpOnly `pf_csrf` cookie;
forms carry it signed with the instance secret (field `csrf_token`, or header
`X-CSRF-Token` for fetch calls). A POST passes only when the signature is valid and the
value matches the cookie, so another site can neither read nor forge it. Every form, and
every cookie-authenticated POST/PUT/DELETE, is checked; Bearer-token API calls carry no
ambient credentials and need no token.
"""

from __future__ import annotations

import hmac
import secrets

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


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms (creates the cookie value when missing)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf = value
    return _signer(request).dumps(value)


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the CSRF cookie if `csrf_token` had to create one for this response."""
    value = getattr(request.state, "new_csrf", None)
    if value:
        settings: Settings = request.app.state.settings
        response.set_cookie(
            CSRF_COOKIE,
            value,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            max_age=SESSION_MAX_AGE,
        )


async def verify_csrf(request: Request) -> None:
    """Raise 403 unless the request carries a valid token matching its CSRF cookie."""
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
    if not isinstance(value, str) or not hmac.compare_digest(value, cookie):
        raise Forbidden("CSRF token does not match; reload the page and try again")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings: Settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=SESSION_MAX_AGE,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirect targets."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default
