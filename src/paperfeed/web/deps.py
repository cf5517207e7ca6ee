"""Dependencies injected into routes: `StoreDep`, `SettingsDep`, `CurrentUser`, ...

Authentication: the `pf_session` cookie (browsers) or `Authorization: Bearer <token>` (API
clients; the token comes from `POST /api/session`). A cookie-authenticated unsafe request
(POST/PUT/PATCH/DELETE) must also pass the CSRF check.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from paperfeed import accounts
from paperfeed.errors import ServiceUnavailable, Unauthorized
from paperfeed.models import User
from paperfeed.settings import Settings
from paperfeed.store import Store
from paperfeed.web.security import SESSION_COOKIE, verify_csrf

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def session_token(request: Request) -> str | None:
    return _bearer(request) or request.cookies.get(SESSION_COOKIE)


async def optional_user(request: Request) -> User | None:
    """The signed-in user, or None. Cookie sessions on unsafe methods must pass CSRF."""
    if "user" in request.state._state:
        return request.state.user
    bearer = _bearer(request)
    token = bearer or request.cookies.get(SESSION_COOKIE)
    user = accounts.session_user(request.app.state.store, token)
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


def get_search(request: Request) -> Any:
    """The search service (paperfeed.search), opened once per app."""
    search = getattr(request.app.state, "search", None)
    if search is None:
        raise ServiceUnavailable("search is not available on this instance yet")
    return search


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]
CsrfDep = Depends(csrf_protected)
SearchDep = Annotated[Any, Depends(get_search)]
