"""HEAD answered like GET, without the body (RFC 9110 9.3.2: every GET resource takes HEAD).

FastAPI routes declared with `@router.get` accept GET only, so `curl -I`, uptime monitors and
link checkers got a 405 for every page. This middleware runs a HEAD request as the GET it
mirrors (same status, headers and Content-Length) and sends no body bytes. A 405's `Allow`
header lists every method the path takes (`allowed_methods`), HEAD included where GET is.
"""

from __future__ import annotations

from collections.abc import Sequence

import fastapi.routing
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route takes at this request's path, for a 405's `Allow` header
    (Starlette names only the first route whose path matched), with HEAD wherever GET is."""
    # Newer FastAPI keeps included routers whole; `iter_route_contexts` walks their routes
    # (with their prefixes) as OpenAPI does. Older versions copied the routes into the app.
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    methods: set[str] = set()
    for route in walk(routes) if walk is not None else routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(scope)[0] != Match.NONE:
            methods |= set(route_methods)
    if "GET" in methods:
        methods.add("HEAD")  # HeadAsGet answers it
    return sorted(methods, key=lambda m: (*METHOD_ORDER, m).index(m))
