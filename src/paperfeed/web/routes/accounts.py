"""Sign up, sign in, sign out (HTML forms), and API sessions for scripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed import accounts
from paperfeed.errors import BadRequest, Conflict, ServiceUnavailable, TooManyRequests
from paperfeed.models import User
from paperfeed.store import Store
from paperfeed.web.deps import (
    CsrfDep,
    CurrentUser,
    OptionalUser,
    SettingsDep,
    StoreDep,
    client_address,
    session_token,
)
from paperfeed.web.schemas import error_responses
from paperfeed.web.security import clear_session_cookie, safe_next, set_session_cookie
from paperfeed.web.templating import render

router = APIRouter()


@router.get("/signin", response_class=HTMLResponse, include_in_schema=False)
def signin_page(request: Request, user: OptionalUser, next: str = "/") -> Response:
    return render(request, "signin.html", {"mode": "signin", "next": safe_next(next)})


@router.get("/signup", response_class=HTMLResponse, include_in_schema=False)
def signup_page(request: Request, user: OptionalUser, next: str = "/") -> Response:
    return render(request, "signin.html", {"mode": "signup", "next": safe_next(next)})


def _signed_in(request: Request, store: Store, user: User | None, next_path: str) -> Response:
    """Redirect with a new session cookie; for `user` None (sign-up of a known address
    without mail) the same answer with a session that opens nothing."""
    token = accounts.start_session(store, user) if user else accounts.decoy_session_token(store)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/signin", include_in_schema=False, dependencies=[CsrfDep])
def signin_form(
    request: Request,
    store: StoreDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        user = accounts.sign_in(
            store, email=email, password=password, client=client_address(request)
        )
    except (BadRequest, TooManyRequests) as exc:
        context = {"mode": "signin", "next": safe_next(next), "error": exc.message, "email": email}
        return render(request, "signin.html", context, exc.status_code, exc.headers)
    return _signed_in(request, store, user, next)


SIGNUP_SENT = (
    "Check your inbox: we sent an email to that address. If it is new here, the email has a "
    "link that creates your account (it works once, for 24 hours); if it already has an "
    "account, the email says so and nothing was changed."
)


@router.post("/signup", include_in_schema=False, dependencies=[CsrfDep])
def signup_form(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)],
    name: Annotated[str, Form(max_length=80)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """The same answer for new and known addresses. With mail the email tells which;
    without mail (no PAPERFEED_SMTP_URL) a new address's account is created at once and a
    known address gets the same redirect and cookie, with a session that opens nothing."""
    client = client_address(request)
    try:
        if settings.smtp_url:
            accounts.start_sign_up(
                settings,
                store,
                email=email,
                password=password,
                name=name,
                client=client,
                next_path=safe_next(next),
            )
            return render(request, "signin.html", {"mode": "sent", "message": SIGNUP_SENT})
        user = accounts.sign_up(store, email=email, password=password, name=name, client=client)
    except (BadRequest, Conflict, TooManyRequests, ServiceUnavailable) as exc:
        context = {"mode": "signup", "next": safe_next(next), "error": exc.message, "email": email}
        return render(request, "signin.html", context, exc.status_code, exc.headers)
    return _signed_in(request, store, user, next)


@router.get("/signup/verify", response_class=HTMLResponse, include_in_schema=False)
def signup_verify_page(
    request: Request, token: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    """The emailed link shows a button (link scanners must not create accounts)."""
    return render(request, "signin.html", {"mode": "verify", "token": token})


@router.post("/signup/verify", include_in_schema=False, dependencies=[CsrfDep])
def signup_verify(
    request: Request, store: StoreDep, token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    try:
        user, next_path = accounts.finish_sign_up(store, token)
    except (BadRequest, Conflict) as exc:
        context = {"mode": "verify", "error": exc.message, "token": ""}
        return render(request, "signin.html", context, exc.status_code, exc.headers)
    return _signed_in(request, store, user, next_path)


@router.post("/signout", include_in_schema=False, dependencies=[CsrfDep])
def signout(request: Request, store: StoreDep) -> Response:
    accounts.end_session(store, session_token(request))
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response)
    return response


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=accounts.MAX_PASSWORD)


@router.post("/api/session", tags=["accounts"], responses=error_responses(400, 429))
def api_sign_in(request: Request, store: StoreDep, body: Credentials) -> JSONResponse:
    """Sign in from a script: returns a token for `Authorization: Bearer <token>`."""
    user = accounts.sign_in(
        store, email=body.email, password=body.password, client=client_address(request)
    )
    token = accounts.start_session(store, user)
    return JSONResponse(
        {"token": token, "user": {"name": user.name, "email": user.email, "role": user.role}}
    )


@router.get("/api/whoami", tags=["accounts"])
def whoami(user: CurrentUser) -> dict[str, str]:
    """The signed-in account (HF's /api/whoami-v2 in spirit)."""
    return {"name": user.name, "email": user.email, "role": user.role}


@router.delete("/api/session", status_code=204, tags=["accounts"])
def api_sign_out(request: Request, store: StoreDep, user: CurrentUser) -> Response:
    accounts.end_session(store, session_token(request))
    return Response(status_code=204)
