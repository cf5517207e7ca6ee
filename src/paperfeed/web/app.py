"""The FastAPI app factory: settings, store and search are built here, never at import time.

Errors: every `PaperfeedError`, HTTP error and validation error answers JSON
(`{"error": message, "status": code}`) under /api and an HTML page elsewhere.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, closing, contextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from paperfeed.digest import start_scheduler
from paperfeed.errors import PaperfeedError
from paperfeed.housekeeping import purge
from paperfeed.ingest.harvest_schedule import start_harvest_scheduler
from paperfeed.recommend import Recommender
from paperfeed.search import SearchService, open_search
from paperfeed.settings import Settings, load_settings
from paperfeed.store import Store, open_store
from paperfeed.store.failures import storage_error
from paperfeed.web.bodies import errors_message
from paperfeed.web.headers import SecurityHeaders
from paperfeed.web.methods import HeadAsGet, allowed_methods
from paperfeed.web.pagecache import PageCache
from paperfeed.web.routes import (
    accounts,
    admin,
    api,
    curation,
    feeds,
    library,
    pages,
    recommend,
    subscriptions,
)
from paperfeed.web.schemas import truthful_openapi
from paperfeed.web.templating import make_env, render

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SWAGGER_STATIC = Path(fastapi_offline.__file__).parent / "static"


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".json")


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if wants_json(request):
        body = {"error": message, "status": status}
        return JSONResponse(body, status_code=status, headers=headers)
    if request.url.path.startswith("/feeds/") or request.url.path.endswith(".md"):
        return PlainTextResponse(f"{status}: {message}\n", status_code=status, headers=headers)
    return render(request, "error.html", {"status": status, "message": message}, status, headers)


def validation_message(exc: RequestValidationError) -> str:
    return errors_message(exc.errors())


def open_search_or_none(settings: Settings, store: Store) -> SearchService | None:
    """The search service; None when it cannot open (the site still serves without it)."""
    try:
        return open_search(settings, store)
    except Exception:  # search is derived and rebuildable: log it, serve the rest
        log.exception("search unavailable")
        return None


def one_blas_thread() -> None:
    """Numpy's BLAS on one thread in a serving process: requests already run in parallel
    (request threads, worker processes), and a multi-threaded BLAS in each of them fought
    for the same cores (the exact nearest-neighbour scan of 9.8k vectors: 2.6 ms on one
    thread, 13.8 ms with OpenBLAS's default 2 on the loaded 2-core machine)."""
    threadpool_limits(limits=1, user_api="blas")


GIL_SWITCH_S = 0.0005


def short_gil_switch() -> None:
    """Hand the GIL between request threads every 0.5 ms instead of Python's 5 ms: a request
    coming back from SQLite, ONNX Runtime or numpy (which release it) waited up to 5 ms
    behind another request's Python code. On the cold mix at 8 connections (2 workers, 2
    cores) p99 was 129-135 ms instead of 153-162 ms, req/s the same within noise
    (benchmarks/RESULTS.md, "Web load")."""
    sys.setswitchinterval(GIL_SWITCH_S)


@contextmanager
def digest_schedule(settings: Settings) -> Iterator[None]:
    """The daily digest job (`digest/scheduler.py`) on its own store, for as long as it runs."""
    store = open_store(settings)
    scheduler = start_scheduler(settings, store)
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.stop()
        if scheduler is None or not scheduler.running:
            store.close()  # else a send is still finishing: the daemon thread keeps it


def create_app(settings: Settings | None = None, *, background_jobs: bool = False) -> FastAPI:
    """Build the web app for `settings` (from the environment when omitted).

    `background_jobs` runs the daily digest schedule while the app runs (`paperfeed serve`).
    """
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        one_blas_thread()
        short_gil_switch()
        with ExitStack() as jobs:
            store = jobs.enter_context(closing(open_store(settings)))
            purge(store)  # expired sessions, sign-ups, ... (also daily, after the digest run)
            search = open_search_or_none(settings, store)
            if search is not None:
                jobs.callback(search.close)
            harvester = start_harvest_scheduler(settings, store)  # followed sources, daily
            if harvester is not None:
                jobs.callback(harvester.stop)
            if background_jobs:
                jobs.enter_context(digest_schedule(settings))
            app.state.store = store
            app.state.search = search
            recommender = Recommender(store, search)
            jobs.callback(recommender.close)  # its background trainer
            app.state.recommender = recommender
            yield

    app = FastAPI(
        title=settings.site_name,
        description="Research-paper discovery: daily papers, trending, search, feeds. "
        "Endpoints follow the Hugging Face Papers API shapes.",
        lifespan=lifespan,
        docs_url=None,  # served below from local assets, under the CSP
        redoc_url=None,
    )
    app.state.settings = settings
    app.openapi = lambda: truthful_openapi(app)  # type: ignore[method-assign]
    app.state.jinja = make_env()
    app.add_middleware(PageCache, settings=settings)  # inner: cached pages get the headers too
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)  # outermost: HEAD is the GET it mirrors, cache and all
    # Swagger UI's files ship in the fastapi-offline wheel: /docs loads nothing from a CDN.
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_STATIC), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        return render(request, "docs.html", {"openapi_url": app.openapi_url})

    @app.exception_handler(PaperfeedError)
    async def _paperfeed_error(request: Request, exc: PaperfeedError) -> Response:
        return error_response(request, exc.status_code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "nothing here: the page or paper does not exist"
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and "Allow" in headers:
            allowed = allowed_methods(app.router.routes, request.scope)
            headers["Allow"] = ", ".join(allowed) or headers["Allow"]
        return error_response(request, exc.status_code, message, headers or None)

    async def _disk_problem(request: Request, exc: Exception) -> Response:
        problem = storage_error(exc, settings.data_dir)
        if problem is None:
            raise exc
        log.error("%s", problem.message)
        return error_response(request, problem.status_code, problem.message)

    app.add_exception_handler(OSError, _disk_problem)
    app.add_exception_handler(sqlite3.OperationalError, _disk_problem)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 400, validation_message(exc))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    # library before api: its /api/papers/{id}/note|read|library routes must win over the
    # catch-all /api/papers/{id}
    for module in (
        library,
        recommend,
        api,
        curation,
        admin,
        pages,
        accounts,
        feeds,
        subscriptions,
    ):
        app.include_router(module.router)

    return app
