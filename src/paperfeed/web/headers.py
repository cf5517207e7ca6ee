"""Security headers on every response: a strict Content-Security-Policy, no framing, no
MIME sniffing, no referrer beyond this site.

Everything a page needs is served from this origin (KaTeX, the Swagger UI of /docs, app.js,
style.css), there is no inline script or style, so the policy is `'self'` only. `data:` is
allowed for images because the stylesheets of KaTeX and Swagger UI draw icons with data:
SVGs. A response that sets its own `Content-Security-Policy` keeps it (the digest preview,
whose email HTML needs inline styles, gets a sandboxed, script-free policy that only the
preview page of this site may frame).

A response to a signed-in request (session cookie or Authorization header) is `no-store`
unless it says otherwise: pages showing a reader's library, notes or account must not be
kept by the browser, where Back after signing out (on a shared computer) showed them again.
Static files keep their own caching.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.web.pagecache import anonymous

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# HTML emails shown in the browser (framed by the digest preview page): inline styles, no
# script at all, framed only by this site.
EMAIL_PREVIEW_CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "sandbox allow-popups allow-popups-to-escape-sandbox"
        " allow-top-navigation-by-user-activation",
    ]
)
HEADERS = (
    ("content-security-policy", CSP),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


class SecurityHeaders:
    """ASGI middleware adding `HEADERS` to every HTTP response (keeping any already set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        private = not anonymous(scope) and not scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS:
                    headers.setdefault(name, value)
                if private:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
