"""Digest subscriptions: subscribe (form + JSON), confirm, manage, one-click unsubscribe,
preview, and saved searches for signed-in users. Thin over `paperfeed.digest.subscriptions`.

Links from emails carry a signed token, which is the credential: those endpoints need no
cookie and no CSRF token (RFC 8058 one-click unsubscribe posts from the mail provider).
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from paperfeed import accounts
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.send import preview_digest
from paperfeed.email_address import normalize_email
from paperfeed.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable, TooManyRequests
from paperfeed.models import Subscriber, User
from paperfeed.search import MAX_QUERY_CHARS
from paperfeed.settings import Settings
from paperfeed.store import Store
from paperfeed.web.bodies import parse_body
from paperfeed.web.deps import (
    CsrfDep,
    CurrentUser,
    OptionalUser,
    SettingsDep,
    StoreDep,
    client_address,
)
from paperfeed.web.headers import EMAIL_PREVIEW_CSP
from paperfeed.web.schemas import error_responses
from paperfeed.web.templating import render

router = APIRouter()

SUBSCRIBE_LIMIT_PER_CLIENT = 10  # per hour
WINDOW_S = 3600.0
ACCEPTED = (
    "Thanks! If the address can receive mail, a confirmation link is on its way. "
    "Nothing is sent until you click it."
)
Token = Annotated[str | None, Query(max_length=1000)]


def _subscribe(request: Request, store: Store, settings: Any, **fields: Any) -> None:
    """Throttle per client, then subscribe (the per-address mail limit is in the service)."""
    limit = [(f"subscribe:client:{client_address(request)}", SUBSCRIBE_LIMIT_PER_CLIENT)]
    if not store.throttle_take(limit, window_s=WINDOW_S, now=time.time()):
        raise accounts.too_many(store, limit, "subscriptions from here", window_s=WINDOW_S)
    subs.subscribe(settings, store, **fields)


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[CsrfDep])
def subscribe_form(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    frequency: Annotated[str, Form(max_length=10)] = "daily",
    trending: Annotated[bool, Form()] = True,
    query: Annotated[str, Form(max_length=MAX_QUERY_CHARS)] = "",
) -> Response:
    """The subscribe box on every page."""
    try:
        _subscribe(
            request,
            store,
            settings,
            email=email,
            frequency=frequency,
            trending=trending,
            searches=[query] if query.strip() else [],
        )
    except (BadRequest, TooManyRequests, ServiceUnavailable) as exc:
        context = {
            "heading": "Subscribe",
            "mode": "subscribe",
            "error": exc.message,
            "email": email,
        }
        return render(request, "subscriptions.html", context, exc.status_code, exc.headers)
    return render(
        request, "subscriptions.html", {"heading": "Check your inbox", "message": ACCEPTED}
    )


class SubscriptionRequest(BaseModel):
    email: str = Field(max_length=320)
    frequency: str = Field(default="daily", max_length=10)
    trending: bool = True
    searches: list[str] = Field(default_factory=list, max_length=subs.MAX_SEARCHES)


@router.post("/api/subscriptions", status_code=202, responses=error_responses(400, 429, 503))
def subscribe_api(
    body: SubscriptionRequest, request: Request, store: StoreDep, settings: SettingsDep
) -> dict[str, str]:
    """Start a double opt-in subscription; the answer is the same for known addresses."""
    _subscribe(
        request,
        store,
        settings,
        email=body.email,
        frequency=body.frequency,
        trending=body.trending,
        searches=body.searches,
    )
    return {"status": "pending", "message": ACCEPTED}


@router.get("/subscriptions/confirm", response_class=HTMLResponse)
def confirm(
    request: Request, store: StoreDep, settings: SettingsDep, token: Token = None
) -> Response:
    sub, applied = subs.confirm(settings, store, token)
    manage = subs.manage_token(settings, sub)
    message = f"{sub.email} will get the {sub.frequency} digest."
    if not applied:
        message = (
            f"This link was already used: {sub.email} is subscribed (the {sub.frequency} "
            "digest) and nothing was changed."
        )
    return render(
        request,
        "subscriptions.html",
        {
            "heading": "Subscription confirmed" if applied else "Already confirmed",
            "message": message,
            "mode": "manage",
            "sub": sub,
            "token": manage,
        },
    )


@router.get("/subscriptions/manage", response_class=HTMLResponse)
def manage_page(
    request: Request, store: StoreDep, settings: SettingsDep, token: Token = None
) -> Response:
    sub = subs.subscriber_from_token(settings, store, token)
    return render(
        request,
        "subscriptions.html",
        {"heading": "Your subscription", "mode": "manage", "sub": sub, "token": token},
    )


@router.post("/subscriptions/manage", response_class=HTMLResponse)
def manage_form(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    token: Token = None,
    action: Annotated[str, Form(max_length=20)] = "save",
    frequency: Annotated[str, Form(max_length=10)] = "",
    trending: Annotated[bool, Form()] = False,
    query: Annotated[str, Form(max_length=MAX_QUERY_CHARS)] = "",
    search_id: Annotated[int | None, Form()] = None,
) -> Response:
    sub = subs.subscriber_from_token(settings, store, token)
    message: str | None = "Saved."
    error: str | None = None
    try:
        if action == "save":
            sub = subs.update_preferences(
                store, sub, frequency=frequency or None, trending=trending
            )
        elif action == "add_search":
            sub = subs.update_preferences(store, sub, add_search=query)
            message = "Saved search added."
        elif action == "remove_search" and search_id is not None:
            sub = subs.update_preferences(store, sub, remove_search=search_id)
            message = "Saved search removed."
        elif action == "resubscribe":
            sub = subs.update_preferences(store, sub, resubscribe=True)
            message = "Welcome back: digests will resume."
        elif action == "unsubscribe":
            sub = subs.unsubscribe(store, sub)
            message = "Unsubscribed: no more digests will be sent."
        else:
            raise BadRequest(f"unknown action {action!r}")
    except BadRequest as exc:
        message, error = None, exc.message
    return render(
        request,
        "subscriptions.html",
        {
            "heading": "Your subscription",
            "mode": "manage",
            "sub": sub,
            "token": token,
            "message": message,
            "error": error,
        },
        400 if error else 200,
    )


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(
    request: Request, store: StoreDep, settings: SettingsDep, token: Token = None
) -> Response:
    """The link in the email footer: a button, so that link scanners unsubscribe nobody."""
    sub = subs.subscriber_from_token(settings, store, token)
    return render(
        request,
        "subscriptions.html",
        {"heading": "Unsubscribe", "mode": "unsubscribe", "sub": sub, "token": token},
    )


@router.post("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_one_click(
    request: Request, store: StoreDep, settings: SettingsDep, token: Token = None
) -> Response:
    """RFC 8058 one-click: POST with body `List-Unsubscribe=One-Click`, no cookies needed."""
    sub = subs.unsubscribe(store, subs.subscriber_from_token(settings, store, token))
    return render(
        request,
        "subscriptions.html",
        {
            "heading": "Unsubscribed",
            "mode": "manage",
            "sub": sub,
            "token": token,
            "message": f"{sub.email} will get no more digests.",
        },
    )


def _preview_subscriber(
    store: Store, settings: Settings, user: User | None, token: str | None, email: str | None
) -> Subscriber:
    """Whose digest to preview: the token holder's, or (admins) any address's."""
    if token:
        return subs.subscriber_from_token(settings, store, token)
    if email:
        if user is None or user.role != "admin":
            raise Forbidden("previewing by address is for admins; use the link in your email")
        found = store.subscriber_by_email(normalize_email(email))
        if found is None:
            raise NotFound(f"no subscriber {email!r}")
        return found
    raise BadRequest("give the token from your email (or, as an admin, an email address)")


@router.get("/digest/preview", response_class=HTMLResponse)
def digest_preview(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    token: Token = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> Response:
    """The next digest as it would be mailed: for the token holder, or any address for admins.

    A page of the site (navigation, manage link) listing the digest's sections, with the email
    itself framed from `/digest/preview/email` (sandboxed) and its plain-text part.
    """
    sub = _preview_subscriber(store, settings, user, token, email)
    digest, rendered = preview_digest(settings, store, sub)
    query = urlencode({"token": token} if token else {"email": email or ""})
    return render(
        request,
        "digest_preview.html",
        {
            "email": sub.email,
            "frequency": sub.frequency,
            "empty": digest.empty,
            "sections": [s for s in digest.sections if s.items],
            "subject": rendered.subject,
            "text": rendered.text,
            "email_url": f"/digest/preview/email?{query}",
            "manage_url": "/subscriptions/manage?" + urlencode({"token": token}) if token else None,
        },
    )


@router.get("/digest/preview/email", response_class=HTMLResponse)
def digest_preview_email(
    store: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    token: Token = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> Response:
    """The HTML part of the next digest, exactly as mailed (framed by `/digest/preview`)."""
    sub = _preview_subscriber(store, settings, user, token, email)
    _, rendered = preview_digest(settings, store, sub)
    # its links open in a new tab, as from a mail client: followed inside the frame they
    # loaded pages that refuse to be framed (a broken frame)
    html = rendered.html.replace("<head>", '<head><base target="_blank">', 1)
    # the email's own HTML (inline styles, as mail clients need): no script, sandboxed, and
    # framed only by the preview page of this site
    headers = {
        "Content-Security-Policy": EMAIL_PREVIEW_CSP,
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(html, headers=headers)


class SavedSearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    filters: dict[str, Any] = Field(default_factory=dict)


@router.post("/api/saved-searches", status_code=201, response_model=None)
async def save_search(
    request: Request, store: StoreDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    """Save a search for the signed-in user's digest (JSON, or the search page's form)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = parse_body(SavedSearchRequest, await request.body())
        query, filters, from_form = body.query, body.filters, False
    else:
        form = await request.form()
        query = str(form.get("q") or form.get("query") or "")
        filters = {}
        if form.get("category"):
            filters["categories"] = [str(form.get("category"))]
        if form.get("has_code") in ("1", "true", "on"):
            filters["has_code"] = True
        from_form = True
    saved, confirmation = await run_in_threadpool(
        subs.save_search_for_user,
        settings,
        store,
        user_id=user.id,
        email=user.email,
        query=query,
        filters=filters,
    )
    if from_form:
        return RedirectResponse(f"/search?{urlencode({'q': saved.query, 'saved': 1})}", 303)
    return JSONResponse(
        {
            "id": saved.id,
            "query": saved.query,
            "filters": saved.filters,
            "confirmationSent": confirmation,
        },
        status_code=201,
    )
