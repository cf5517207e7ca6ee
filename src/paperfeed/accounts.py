"""Accounts: sign up, sign in (argon2id, throttled), sessions, upvotes and comments.

The web routes and the CLI call these; every record goes through the store. Session cookies
carry a random token; the store keeps only its SHA-256, so a copied database opens no session.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.digest.render import RenderedEmail, Renderer
from paperfeed.email_address import normalize_email
from paperfeed.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests
from paperfeed.inputs import check_text, one_newline
from paperfeed.models import ROLES, Comment, PendingSignup, User
from paperfeed.settings import Settings
from paperfeed.store import Store

SESSION_DAYS = 30
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_COMMENT = 5000
# Sign-in attempts per 15-minute window: per (address, client) pair, so that someone
# guessing from one place does not lock the owner out elsewhere; per address, a softer
# backstop against guessing from many places; per client, across addresses.
SIGN_IN_LIMIT = 10
SIGN_IN_ADDRESS_LIMIT = 100
SIGN_IN_CLIENT_LIMIT = 30
SIGN_UP_LIMIT = 5
SIGNUP_LINK_HOURS = 24
THROTTLE_WINDOW_S = 15 * 60
# Writes a signed-in reader may make per 15-minute window: (per account, per client across
# accounts). Enough for any person; a script or a crowd of fresh accounts is held back.
ACTION_LIMITS = {
    "comment": (20, 60),
    "upvote": (300, 900),  # adding and taking back both count
    "submit": (20, 60),
}

_hasher = PasswordHasher()
# Verifying against this hash when the email is unknown keeps response times alike.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest(f"the password needs at least {MIN_PASSWORD} characters")


def too_many(
    store: Store,
    limits: Sequence[tuple[str, int]],
    what: str,
    *,
    window_s: float = THROTTLE_WINDOW_S,
) -> TooManyRequests:
    """The 429 for a refused throttle: `Retry-After` and the message say how long is left
    until the refusing window ends, not the whole window."""
    wait = max(1, math.ceil(store.throttle_wait(limits, window_s=window_s, now=time.time())))
    minutes = math.ceil(wait / 60)
    when = f"{minutes} minutes" if minutes > 1 else "a minute"
    return TooManyRequests(f"too many {what}; try again in {when}", retry_after=wait)


def throttle(store: Store, key: str, *, limit: int) -> None:
    """Raise 429 once `key` has made more than `limit` attempts in the current window."""
    if not store.throttle_hit(key, limit=limit, window_s=THROTTLE_WINDOW_S, now=time.time()):
        raise too_many(store, [(key, limit)], "attempts")


def rate_limit(store: Store, action: str, *, user: User, client: str) -> None:
    """Count one `action` (comment, upvote, submit) for `user` and for `client`; 429 past
    either limit of `ACTION_LIMITS`. Refused attempts are not counted."""
    per_user, per_client = ACTION_LIMITS[action]
    limits = [(f"{action}:user:{user.id}", per_user), (f"{action}:client:{client}", per_client)]
    if not store.throttle_take(limits, window_s=THROTTLE_WINDOW_S, now=time.time()):
        raise too_many(store, limits, f"{action}s in a short time")


def sign_up(
    store: Store, *, email: str, password: str, name: str = "", client: str = ""
) -> User | None:
    """Create an account at once (instances that cannot send mail); the first account on an
    instance becomes an admin. With mail, `start_sign_up` is used instead.

    None when the address already has an account: nothing changes for its owner, and the
    caller answers exactly as for a new account (`decoy_session_token`), so the answer does
    not tell whether the address is known (README, *Accounts*, says what still does)."""
    throttle(store, f"signup:{client}", limit=SIGN_UP_LIMIT)
    email = normalize_email(email)
    check_password(password)
    name = (name.strip() or email.split("@", 1)[0])[:80]
    return store.create_user(email=email, name=name, password_hash=hash_password(password))


def decoy_session_token(store: Store) -> str:
    """A session token like `start_session`'s that opens nothing (it is never stored); the
    store still does one small write, so the time taken is alike too."""
    token = secrets.token_urlsafe(32)
    store.delete_session(_token_hash(token))
    return token


def start_sign_up(
    settings: Settings,
    store: Store,
    *,
    email: str,
    password: str,
    name: str = "",
    client: str = "",
    next_path: str = "/",
) -> None:
    """Sign up by email: the answer is the same whether or not the address has an account.

    A new address gets a single-use link that creates the account when opened (so nobody
    can sign up with somebody else's address); an address that has an account gets a notice
    saying so, and nothing changes. The password is hashed in both cases so the time taken
    tells nothing either. Mail goes through the one per-address limit of every mail path.
    """
    from paperfeed.digest.subscriptions import send_transactional

    throttle(store, f"signup:{client}", limit=SIGN_UP_LIMIT)
    address = normalize_email(email)
    check_password(password)
    password_hash = hash_password(password)
    name = (name.strip() or address.split("@", 1)[0])[:80]
    if store.user_credentials(address) is not None:
        send_transactional(
            settings,
            store,
            address,
            lambda r: r.signup(email=address, verify_url=None, valid_hours=SIGNUP_LINK_HOURS),
        )
        return
    token = secrets.token_urlsafe(32)

    def build(renderer: Renderer) -> RenderedEmail:
        pending = PendingSignup(
            email=address,
            name=name,
            password_hash=password_hash,
            next_path=next_path,
            expires_at=datetime.now(UTC) + timedelta(hours=SIGNUP_LINK_HOURS),
        )
        store.add_pending_signup(token_hash=_token_hash(token), signup=pending)
        verify_url = renderer.links.url("/signup/verify", token)
        return renderer.signup(email=address, verify_url=verify_url, valid_hours=SIGNUP_LINK_HOURS)

    send_transactional(settings, store, address, build)


def finish_sign_up(store: Store, token: str | None) -> tuple[User, str]:
    """Create the account of an emailed sign-up link; returns it and where to go next."""
    pending = store.take_pending_signup(_token_hash(token)) if token else None
    if pending is None:
        raise BadRequest(
            f"this sign-up link is invalid, already used or expired (links work once, for "
            f"{SIGNUP_LINK_HOURS} hours); sign up again"
        )
    user = store.create_user(
        email=pending.email, name=pending.name, password_hash=pending.password_hash
    )
    if user is None:
        raise Conflict("an account with this address already exists; sign in instead")
    return user, pending.next_path


def add_user(store: Store, *, email: str, password: str, role: str, name: str = "") -> User:
    """Create an account with a given role (operators, from the CLI)."""
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    email = normalize_email(email)
    check_password(password)
    name = (name.strip() or email.split("@", 1)[0])[:80]
    user = store.create_user(
        email=email, name=name, password_hash=hash_password(password), role=role
    )
    if user is None:
        raise Conflict(f"an account for {email} already exists")
    return user


def set_role(store: Store, *, email: str, role: str) -> User:
    """Give an account another role (operators, from the CLI)."""
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    user = store.set_role(email, role)
    if user is None:
        raise NotFound(f"no account for {email}")
    return user


def sign_in(store: Store, *, email: str, password: str, client: str = "") -> User:
    """The account whose password matches; throttled per (address, client), per address
    (softer) and per client. Refused attempts are not counted and store nothing."""
    email = email.strip()
    address = email.lower()[:320]
    pair = f"signin:pair:{client}|{address}"
    limits = [
        (pair, SIGN_IN_LIMIT),
        (f"signin:email:{address}", SIGN_IN_ADDRESS_LIMIT),
        (f"signin:client:{client}", SIGN_IN_CLIENT_LIMIT),
    ]
    if not store.throttle_take(limits, window_s=THROTTLE_WINDOW_S, now=time.time()):
        raise too_many(store, limits, "attempts")
    found = store.user_credentials(email)
    try:
        _hasher.verify(found[1] if found else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        found = None
    if found is None:
        raise BadRequest("wrong email or password")
    user, stored_hash = found
    store.throttle_clear(pair)  # the owner, from here: this pair starts afresh
    if _hasher.check_needs_rehash(stored_hash):
        store.set_password_hash(user.id, hash_password(password))
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user: User) -> str:
    """A new session for `user`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=SESSION_DAYS)
    store.create_session(token_hash=_token_hash(token), user_id=user.id, expires_at=expires)
    return token


def session_user(store: Store, token: str | None) -> User | None:
    return store.session_user(_token_hash(token)) if token else None


def end_session(store: Store, token: str | None) -> None:
    if token:
        store.delete_session(_token_hash(token))


@dataclass(slots=True)
class VoteResult:
    upvoted: bool
    upvotes: int


def set_upvote(store: Store, user: User, paper_id: str, *, upvoted: bool) -> VoteResult:
    """Upvote (or take back the upvote on) a paper; idempotent."""
    try:
        if upvoted:
            store.add_vote(user_id=user.id, paper_id=paper_id)
        else:
            store.remove_vote(user_id=user.id, paper_id=paper_id)
    except KeyError:
        raise NotFound(f"no paper {paper_id!r}") from None
    item = store.get_paper(paper_id)
    if item is None:
        raise NotFound(f"no paper {paper_id!r}")
    return VoteResult(upvoted=upvoted, upvotes=item.upvotes)


def add_comment(store: Store, user: User, paper_id: str, body: str) -> Comment:
    body = one_newline(check_text(body, "the comment")).strip()
    if not body:
        raise BadRequest("the comment is empty")
    if len(body) > MAX_COMMENT:
        raise BadRequest(f"comments are limited to {MAX_COMMENT} characters")
    try:
        return store.add_comment(user_id=user.id, paper_id=paper_id, body=body)
    except KeyError:
        raise NotFound(f"no paper {paper_id!r}") from None


def delete_comment(store: Store, user: User, comment_id: int, *, missing_ok: bool = False) -> None:
    """Authors delete their own comments; curators and admins any comment. `missing_ok`: a
    comment that is gone is no error (a form sent twice by a double click)."""
    comment = store.get_comment(comment_id)
    if comment is None:
        if missing_ok:
            return
        raise NotFound(f"no comment {comment_id}")
    if comment.user_id != user.id and not user.can_curate:
        raise Forbidden("only the author or a curator can delete this comment")
    store.delete_comment(comment_id)
