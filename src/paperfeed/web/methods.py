"""HEAD answered like GET, without the body (RFC 9110 9.3.2: every GET resource takes HEAD).

FastAPI routes declared with `@router.get` accept GET only, so `curl -I`, uptime monitors and
link checkers got a 405 for every page. This middleware runs a HEAD request as the GET it
mirrors (same status, headers and Content-Length) and sends no body bytes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: HEAD requests are routed as GET and their response body is dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
