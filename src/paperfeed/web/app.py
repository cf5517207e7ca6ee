"""The FastAPI app factory: settings and store are built here, never at import time."""

from __future__ import annotations

import html
import importlib
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from paperfeed.errors import PaperfeedError
from paperfeed.settings import Settings, load_settings
from paperfeed.store import open_store
from paperfeed.web.routes import ROUTERS


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app for `settings` (from the environment when omitted)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = open_store(settings)
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="paperfeed", lifespan=lifespan, docs_url="/docs")
    app.state.settings = settings

    @app.exception_handler(PaperfeedError)
    async def _paperfeed_error(request: Request, exc: PaperfeedError):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.message}, status_code=exc.status_code)
        return HTMLResponse(
            f"<h1>{exc.status_code}</h1><p>{html.escape(exc.message)}</p>", status_code=exc.status_code
        )

    included = False
    for name in ROUTERS:
        try:
            module = importlib.import_module(f"paperfeed.web.routes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"paperfeed.web.routes.{name}":
                continue
            raise
        app.include_router(module.router)
        included = True

    if not included:

        @app.get("/", response_class=HTMLResponse)
        def placeholder() -> str:
            return "<!doctype html><title>paperfeed</title><h1>paperfeed is running</h1>"

    return app
