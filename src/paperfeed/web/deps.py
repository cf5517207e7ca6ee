"""Dependencies injected into routes: `StoreDep`, `SearchDep`, `SettingsDep`, `CurrentUser`, ...

Routes get every service through these typed aliases, never from `app.state` directly: the
app factory (`web/app.py`) puts the services on `app.state` and only this module reads them.

Authentication: the `pf_session` cookie (browsers) or `Authorization: Bearer <token>` (API
clients; the token comes from `POST /api/session`). A cookie-authenticated unsafe request
(POST/PUT/PATCH/DELETE) must also pass the CSRF check.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Path, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from paperfeed import accounts
from paperfeed.errors import NotFound, ServiceUnavailable, Unauthorized
from paperfeed.ingest.ids import normalize_arxiv_id
from paperfeed.models import StoredPaper, User
from paperfeed.recommend import Recommender
from paperfeed.search import SearchService
from paperfeed.settings import Settings
from paperfeed.store import Store
from paperfeed.web.security import SESSION_COOKIE, verify_csrf

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_store(request: Request) -> Store:
    """The store opened by the app's lifespan.

    This and the other dependencies that only read `app.state` are `async`: FastAPI runs a
    plain `def` dependency on a worker thread, a thread hand-off per dependency per request.
    """
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_optional_search(request: Request) -> SearchService | None:
    """The search service, or None where it could not open (pages degrade without it)."""
    search: SearchService | None = request.app.state.search
    return search


async def get_search(
    search: Annotated[SearchService | None, Depends(get_optional_search)],
) -> SearchService:
    """The search service (paperfeed.search), opened once per app; 503 where it is missing."""
    if search is None:
        raise ServiceUnavailable("search is not available on this instance yet")
    return search


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SearchDep = Annotated[SearchService, Depends(get_search)]
OptionalSearchDep = Annotated[SearchService | None, Depends(get_optional_search)]


def client_address(request: Request) -> str:
    """The client's address, the key of per-client throttles."""
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def session_token(request: Request) -> str | None:
    return _bearer(request) or request.cookies.get(SESSION_COOKIE)


async def optional_user(request: Request, store: StoreDep) -> User | None:
    """The signed-in user, or None. Cookie sessions on unsafe methods must pass CSRF."""
    if "user" in request.state._state:
        known: User | None = request.state.user
        return known
    bearer = _bearer(request)
    token = bearer or request.cookies.get(SESSION_COOKIE)
    # a database read: on a worker thread, never on the event loop (anonymous: none)
    user = await run_in_threadpool(accounts.session_user, store, token) if token else None
    if user is not None and bearer is None and request.method in UNSAFE_METHODS:
        await verify_csrf(request)
    request.state.user = user
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("sign in first")
    return user


async def csrf_protected(request: Request) -> None:
    """For forms that need no account (sign in, sign up, subscribe)."""
    await verify_csrf(request)


def get_paper_or_404(store: Store, paper_id: str) -> StoredPaper:
    """The stored paper, or a 404 naming it. Versioned and prefixed ids (`2501.19393v2`,
    `arXiv:2501.19393`) name the paper itself: the catalogue keeps the latest version."""
    item = store.get_paper(paper_id)
    if item is None:
        try:
            canonical, _ = normalize_arxiv_id(paper_id)
        except ValueError:
            canonical = paper_id
        if canonical != paper_id:
            item = store.get_paper(canonical)
    if item is None:
        raise NotFound(f"no paper {paper_id!r} in this catalogue")
    return item


def canonical_id(store: Store, paper_id: str) -> str:
    """The catalogue's id for `paper_id`: writes (API and forms) take the versioned and
    prefixed ids (`2501.19393v2`, `arXiv:2501.19393`) that reads already do; 404 for an
    unknown paper."""
    return get_paper_or_404(store, paper_id).paper.id


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]
CsrfDep = Depends(csrf_protected)


def get_recommender(request: Request) -> Recommender:
    """The "for you" recommender (paperfeed.recommend), one per app, made by its lifespan."""
    rec: Recommender = request.app.state.recommender
    return rec


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]


def rate_limited(action: str) -> Any:
    """A route dependency counting one `action` (see `accounts.ACTION_LIMITS`) for the
    signed-in user and the client; anonymous requests are left to the route (sign-in)."""

    def check(request: Request, store: StoreDep, user: OptionalUser) -> None:
        if user is not None:
            accounts.rate_limit(store, action, user=user, client=client_address(request))

    return Depends(check)


CollectionId = Annotated[int, Path(ge=1, le=2**62, description="A collection's id.")]
CommentId = Annotated[int, Path(ge=1, le=2**62, description="A comment's id.")]


def voted_ids(store: Store, user: User | None, items: list[StoredPaper]) -> set[str]:
    return store.voted_papers(user.id, [i.paper.id for i in items]) if user else set()


def sign_in_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/signin?next={quote(next_path)}", status_code=303)
