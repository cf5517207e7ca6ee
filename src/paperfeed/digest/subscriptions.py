"""Subscribing, confirming, managing and unsubscribing: the services behind web and CLI.

Double opt-in: `subscribe` records an unconfirmed subscriber and mails a signed link; nothing
else is sent until `confirm` runs. The answer to the caller never depends on whether the
address was known: a known address gets a different *email* (its manage link, or a fresh
confirmation), never a different response. The choices made in the form travel inside the
signed confirmation token and are applied only when the owner of the inbox clicks it, so
nobody can change someone else's subscription by subscribing their address.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from paperfeed.digest.render import RenderedEmail, Renderer
from paperfeed.digest.send import open_sender, sender_address
from paperfeed.digest.tokens import InvalidLink, Links
from paperfeed.email_address import normalize_email
from paperfeed.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from paperfeed.inputs import check_text
from paperfeed.models import Frequency, SavedSearch, Subscriber
from paperfeed.search import MAX_QUERY_CHARS
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

MAX_SEARCHES = 20  # per subscription, so per account too (one address each)
# Every email sent on request (confirmations, notices, sign-up) goes through
# `send_transactional`, which sends at most this many to one address per window, whatever
# the path that asked for it; past that it silently sends nothing.
MAIL_LIMIT_PER_ADDRESS = 3
MAIL_WINDOW_S = 3600.0
FREQUENCY_CHOICES = ("daily", "weekly")


GONE = "this subscription no longer exists"


def current(store: Store, subscriber_id: int) -> Subscriber:
    """The subscriber as stored now; NotFound when it was removed in between."""
    sub = store.get_subscriber(subscriber_id)
    if sub is None:
        raise NotFound(GONE)
    return sub


def check_frequency(value: str) -> Frequency:
    if value not in FREQUENCY_CHOICES:
        raise BadRequest(f"frequency must be 'daily' or 'weekly', not {value!r}")
    return value  # type: ignore[return-value]


def check_query(query: str) -> str:
    query = " ".join(check_text(query or "", "the query").split())
    if not query:
        raise BadRequest("a saved search needs a query")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"a saved search is at most {MAX_QUERY_CHARS} characters")
    return query


def check_filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    """Saved-search filters: `categories` (list of strings) and `has_code` (bool)."""
    filters = filters or {}
    if not isinstance(filters, dict):
        raise BadRequest("filters must be an object")
    clean: dict[str, Any] = {}
    for key, value in filters.items():
        if (
            key == "categories"
            and isinstance(value, list)
            and all(isinstance(c, str) and 0 < len(c) <= 40 for c in value)
        ):
            clean[key] = value[:20]
        elif key == "has_code" and isinstance(value, bool):
            clean[key] = value
        else:
            raise BadRequest(f"unsupported saved-search filter {key!r}={value!r}")
    return clean


def mail_allowed(store: Store, address: str) -> bool:
    """Count one transactional email to `address`; False once over the per-address limit."""
    return store.throttle_hit(
        f"mail:{address}", limit=MAIL_LIMIT_PER_ADDRESS, window_s=MAIL_WINDOW_S, now=time.time()
    )


def require_mail(settings: Settings) -> None:
    """503 unless the instance can send mail (checked before anything is stored)."""
    if not settings.smtp_url:
        log.warning("PAPERFEED_SMTP_URL is not set: no email can be sent")
        raise ServiceUnavailable(
            "this instance cannot send email yet (its operator has not set "
            "PAPERFEED_SMTP_URL); nothing was sent, please try again later"
        )


def send_transactional(
    settings: Settings,
    store: Store,
    to: str,
    build: Callable[[Renderer], RenderedEmail],
    renderer: Renderer | None = None,
) -> bool:
    """Send one confirmation/notice email now (not part of the digest outbox).

    The one gate for every email sent because somebody asked for it: without SMTP it is a
    503; over `MAIL_LIMIT_PER_ADDRESS` for `to` it sends nothing and returns False (callers
    answer as if it had been sent, so the limit reveals nothing). `build` runs only when
    the email will be sent, so a refused email issues no new link.
    """
    require_mail(settings)
    if not mail_allowed(store, to):
        log.info("mail to %s throttled (%d per hour)", to, MAIL_LIMIT_PER_ADDRESS)
        return False
    renderer = renderer or Renderer(settings)
    rendered = build(renderer)
    msg = renderer.message(rendered, to=to, message_id=renderer.message_id("confirm"))
    try:
        with open_sender(settings) as smtp:
            smtp.send(msg, sender=sender_address(settings), recipient=to)
    except Exception as exc:  # noqa: BLE001 - any SMTP trouble reads the same to the user
        log.error("could not send email to %s: %s", to, exc)
        raise ServiceUnavailable(
            "the confirmation email could not be sent right now; please try again later"
        ) from None
    return True


def confirm_token(renderer: Renderer, store: Store, sub: Subscriber, **claims: Any) -> str:
    """A single-use confirmation token for `sub`: its nonce replaces any older link's."""
    nonce = secrets.token_urlsafe(12)
    store.set_confirm_nonce(sub.id, nonce)
    return renderer.links.token("confirm", sub.id, sub.email, n=nonce, **claims)


def subscribe(
    settings: Settings,
    store: Store,
    *,
    email: str,
    frequency: str = "daily",
    trending: bool = True,
    searches: list[str] | None = None,
    user_id: int | None = None,
) -> None:
    """Start a double opt-in subscription; the response must not reveal whether it existed
    (nor whether it bounced), and nothing is stored when no mail can be sent."""
    address = normalize_email(email)
    freq = check_frequency(frequency)
    queries = [check_query(q) for q in (searches or [])][:MAX_SEARCHES]
    require_mail(settings)
    sub, created = store.add_subscriber(
        email=address, frequency=freq, trending=trending, user_id=user_id
    )
    if sub.status == "bounced":
        log.info("subscribe: %s bounced earlier; no email sent", address)
        return

    def build(renderer: Renderer) -> RenderedEmail:
        if sub.receives_mail:
            return renderer.confirmation(
                subscriber_id=sub.id,
                email=address,
                frequency=sub.frequency,
                confirm_token=None,
                already=True,
            )
        token = confirm_token(renderer, store, sub, f=freq, t=trending, q=queries)
        return renderer.confirmation(
            subscriber_id=sub.id, email=address, frequency=freq, confirm_token=token
        )

    send_transactional(settings, store, address, build)


def confirm(settings: Settings, store: Store, token: str | None) -> tuple[Subscriber, bool]:
    """Apply a confirmation link: the subscriber becomes active with the chosen content.

    Returns the subscriber and whether the link did it. A link works once: opened again
    while the subscription is active (a second click, or a mail scanner that opened it
    first) it changes nothing and says so (False); once the subscription has been
    unsubscribed, or a newer link was sent, it is refused."""
    claims = Links(settings).check("confirm", token)
    sub = _subscriber_for(store, claims.subscriber_id, claims.email)
    now = datetime.now(UTC)
    if sub.status == "bounced":
        raise InvalidLink("This address could not receive mail; subscribe again later.")
    nonce = claims.extra.get("n")
    if not isinstance(nonce, str) or not store.take_confirm_nonce(sub.id, nonce):
        if isinstance(nonce, str) and sub.receives_mail:
            return sub, False
        raise InvalidLink(
            "This confirmation link was already used, or a newer email replaced it: nothing "
            "was changed. To change your subscription use the manage link in your latest "
            "email; to subscribe again use the subscribe box."
        )
    store.update_subscriber(
        sub.id,
        frequency=check_frequency(claims.extra.get("f", sub.frequency)),
        trending=bool(claims.extra.get("t", sub.trending)),
        status="active",
        confirmed_at=sub.confirmed_at or now,
    )
    known = {s.query for s in sub.searches}
    for query in claims.extra.get("q", []):
        if query not in known:
            store.add_saved_search(
                subscriber_id=sub.id, query=check_query(query), limit=MAX_SEARCHES
            )
    return current(store, sub.id), True


def _subscriber_for(store: Store, subscriber_id: int, email: str) -> Subscriber:
    sub = store.get_subscriber(subscriber_id)
    if sub is None or sub.email != email:
        raise InvalidLink("This link belongs to a subscription that no longer exists.")
    return sub


def subscriber_from_token(settings: Settings, store: Store, token: str | None) -> Subscriber:
    """The subscriber a manage/unsubscribe link was made for."""
    claims = Links(settings).check("manage", token)
    return _subscriber_for(store, claims.subscriber_id, claims.email)


def manage_token(settings: Settings, sub: Subscriber) -> str:
    return Links(settings).token("manage", sub.id, sub.email)


def unsubscribe(store: Store, sub: Subscriber) -> Subscriber:
    updated = store.update_subscriber(sub.id, status="unsubscribed", status_reason="one-click")
    if updated is None:
        raise NotFound(GONE)
    return updated


def update_preferences(
    store: Store,
    sub: Subscriber,
    *,
    frequency: str | None = None,
    trending: bool | None = None,
    add_search: str | None = None,
    remove_search: int | None = None,
    resubscribe: bool = False,
) -> Subscriber:
    """Changes made on the manage page (the token proved the inbox owner)."""
    store.update_subscriber(
        sub.id,
        frequency=check_frequency(frequency) if frequency else None,
        trending=trending,
        status="active" if resubscribe and sub.status == "unsubscribed" else None,
    )
    if add_search:
        added = store.add_saved_search(
            subscriber_id=sub.id, query=check_query(add_search), limit=MAX_SEARCHES
        )
        if added is None:
            raise BadRequest(f"at most {MAX_SEARCHES} saved searches per subscription")
    if remove_search is not None:
        store.remove_saved_search(subscriber_id=sub.id, search_id=remove_search)
    return current(store, sub.id)


def save_search_for_user(
    settings: Settings,
    store: Store,
    *,
    user_id: int,
    email: str,
    query: str,
    filters: dict[str, Any] | None = None,
) -> tuple[SavedSearch, bool]:
    """A signed-in user saves a search; returns it and whether a confirmation was mailed.

    The alert goes to the account's address. If that address has no confirmed subscription
    yet, one is started (double opt-in as usual, trending off) and the search waits for it.
    """
    address = normalize_email(email)
    sub, created = store.add_subscriber(
        email=address, frequency="daily", trending=False, user_id=user_id
    )
    saved = store.add_saved_search(
        subscriber_id=sub.id,
        query=check_query(query),
        filters=check_filters(filters),
        user_id=user_id,
        limit=MAX_SEARCHES,
    )
    if saved is None:
        raise Conflict(
            f"you already have {MAX_SEARCHES} saved searches, the most an account can have; "
            "remove one on the manage page (link in your emails) first"
        )
    if sub.receives_mail or sub.status == "bounced":
        return saved, False

    def build(renderer: Renderer) -> RenderedEmail:
        token = confirm_token(renderer, store, sub, f=sub.frequency, t=sub.trending)
        return renderer.confirmation(
            subscriber_id=sub.id, email=address, frequency=sub.frequency, confirm_token=token
        )

    return saved, send_transactional(settings, store, address, build)


def subscriber_by_email(store: Store, email: str) -> Subscriber:
    """The subscriber for an address as typed; NotFound naming it when there is none."""
    sub = store.subscriber_by_email(normalize_email(email))
    if sub is None:
        raise NotFound(f"no subscriber {email!r}")
    return sub


def remove_subscriber(store: Store, email: str) -> Subscriber:
    """Delete a subscriber and everything recorded about it; the subscriber as it was."""
    sub = subscriber_by_email(store, email)
    store.remove_subscriber(sub.id)
    return sub


def add_subscriber_confirmed(
    store: Store,
    *,
    email: str,
    frequency: str = "daily",
    searches: list[str] | None = None,
    confirmed: bool = False,
    trending: bool = True,
) -> tuple[Subscriber, bool]:
    """Operator path (`paperfeed subscribers add`): no email, optionally confirmed at once."""
    address = normalize_email(email)
    freq = check_frequency(frequency)
    now = datetime.now(UTC) if confirmed else None
    sub, created = store.add_subscriber(
        email=address, frequency=freq, trending=trending, confirmed_at=now
    )
    if not created:
        store.update_subscriber(sub.id, frequency=freq, trending=trending, confirmed_at=now)
    for query in searches or []:
        store.add_saved_search(subscriber_id=sub.id, query=check_query(query), limit=MAX_SEARCHES)
    return current(store, sub.id), created
