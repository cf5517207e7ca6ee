"""The FastAPI app factory: settings, store and search are built here, never at import time.

Errors: every `PaperfeedError`, HTTP error and validation error answers JSON
(`{"error": message, "status": code}`) under /api and an HTML page elsewhere.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed.errors import PaperfeedError
from paperfeed.settings import Settings, load_settings
from paperfeed.store import open_store
from paperfeed.web.routes import ROUTERS
from paperfeed.web.templating import make_env, render

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".json")


def error_response(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    if request.url.path.startswith("/feeds/") or request.url.path.endswith(".md"):
        return PlainTextResponse(f"{status}: {message}\n", status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status)


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "body", "path"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "invalid request: " + "; ".join(parts)


def open_search(app: FastAPI, settings: Settings) -> None:
    """Attach the search service when the search package provides one."""
    try:
        search = importlib.import_module("paperfeed.search")
    except ModuleNotFoundError:
        return
    opener = getattr(search, "open_search", None)
    if opener is None:
        return
    try:
        app.state.search = opener(settings, app.state.store)
    except Exception:  # search is derived and optional: the site still serves without it
        log.exception("search unavailable")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app for `settings` (from the environment when omitted)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = open_store(settings)
        app.state.search = None
        open_search(app, settings)
        try:
            yield
        finally:
            closer = getattr(app.state.search, "close", None)
            if closer:
                closer()
            app.state.store.close()

    app = FastAPI(
        title=settings.site_name,
        description="Research-paper discovery: daily papers, trending, search, feeds. "
        "Endpoints follow the Hugging Face Papers API shapes.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.jinja = make_env()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(PaperfeedError)
    async def _paperfeed_error(request: Request, exc: PaperfeedError) -> Response:
        return error_response(request, exc.status_code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "nothing here: the page or paper does not exist"
        return error_response(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 400, validation_message(exc))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    for name in ROUTERS:
        try:
            module = importlib.import_module(f"paperfeed.web.routes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"paperfeed.web.routes.{name}":
                continue
            raise
        app.include_router(module.router)

    return app
