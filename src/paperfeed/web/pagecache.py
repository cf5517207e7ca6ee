"""The anonymous page cache: public pages rendered once, kept while nothing has changed.

A GET from a visitor without a session (no `pf_session` cookie, no `Authorization` header)
for the home page, trending, search or a paper page is answered from memory when the same
path and query were rendered under the same data version, less than `TTL_S` seconds ago.
The data version is the store's `data_version()` (it moves with every commit by any process:
a vote, a comment, a pin, an ingest) and the search indexes' `generation()` (it moves as they
catch up), both read before the page is rendered, so a cached page is never older than the
data it was rendered from and the next request after a change renders afresh. The TTL bounds
what depends on the clock alone ("new" badges, "5m ago").

The version is a database read, so it is read off the event loop (`VersionReader`): on a
thread of its own, one read shared by every request that arrived before it started (a
request never uses a read that began before it arrived, so "the next request after a change"
still holds). A read that does not answer within `VERSION_WAIT_S` (a database that went
away) is not waited for: the request goes to the app uncached, which answers the 503.

Signed-in readers are never served from the cache and their pages are never kept. A page is
kept only when its route asks for it (`render(..., public=True)`) and it answered 200 without
setting cookies. Forms on public pages carry a CSRF token bound to each visitor's `pf_csrf`
cookie: pages are rendered with `PLACEHOLDER` in its place and every response, fresh or
cached, gets this visitor's own token (and the cookie when the visitor has none yet).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.errors import ServiceUnavailable
from paperfeed.settings import Settings
from paperfeed.web.security import SESSION_COOKIE, anonymous_csrf, csrf_cookie_header

TTL_S = 30.0
VERSION_WAIT_S = 0.5  # longer than this for the data version: pass the request through
PLACEHOLDER = f"pf-csrf-{secrets.token_hex(16)}"  # per process: nobody can write it in a page
RENDERING = "page_cache"  # request.state key: this anonymous response goes through the cache
KEEP = "page_cache_keep"  # request.state key set by render(public=True)
VERSION = "page_cache_version"  # request.state key: the data version read for this request
# The pages that may be kept; anything else passes straight through.
PAGES = re.compile(r"^/(trending|search|papers/.+)?$")
_PLACEHOLDER = PLACEHOLDER.encode()
HIT = (b"x-page-cache", b"hit")  # answered from the cache
MISS = (b"x-page-cache", b"miss")  # rendered now and kept


@dataclass(slots=True)
class Entry:
    version: object
    expires: float
    headers: list[tuple[bytes, bytes]]  # without content-length
    parts: list[bytes]  # the body, split where the CSRF token goes
    size: int


def anonymous(scope: Scope) -> bool:
    """No session cookie and no Authorization header: the page is the same for everyone."""
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and SESSION_COOKIE.encode() in value):
            return False
    return True


def data_version(app: Any) -> tuple[object, tuple[object, ...] | None]:
    """What a kept page depends on: the store's data version and the indexes' generation."""
    search = app.state.search
    return (app.state.store.data_version(), search.generation() if search is not None else None)


def change_seq(request: Request) -> int | None:
    """The store's change sequence as this request's data version holds it (read after the
    request arrived, before the page is rendered), or None where the cache read none: a
    search keys its ranking on it instead of reading it again (`SearchService.search`)."""
    version = request.state._state.get(VERSION)
    generation = version[1] if version is not None else None
    seq = generation[0] if generation else None
    return seq if isinstance(seq, int) else None


class VersionReader:
    """`data_version(app)` read on a thread of its own, shared by the requests waiting for it.

    One read at a time: requests that arrive while a read is running wait for the next one,
    which starts when it ends and answers all of them (under load one read serves a batch;
    alone, a request costs one thread hand-off). Reads run on the event loop's default
    executor (one of its threads at a time), which closes with the loop. Runs on the event
    loop: no locks.
    """

    def __init__(self) -> None:
        self._waiting: asyncio.Future[tuple[bool, object]] | None = None  # the next read's
        self._reading: asyncio.Task[None] | None = None  # the task running reads

    async def read(self, app: Any) -> object:
        """The data version as of a read started after this call; raises what the read
        raised (ServiceUnavailable) or TimeoutError after `VERSION_WAIT_S`."""
        if self._waiting is None:
            self._waiting = asyncio.get_running_loop().create_future()
            if self._reading is None:
                self._reading = asyncio.get_running_loop().create_task(self._run(app))
        ok, value = await asyncio.wait_for(asyncio.shield(self._waiting), VERSION_WAIT_S)
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return value

    async def _run(self, app: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting is not None:
                answer, self._waiting = self._waiting, None
                try:
                    value = await loop.run_in_executor(None, data_version, app)
                except Exception as exc:  # handed to each waiting request
                    answer.set_result((False, exc))
                else:
                    answer.set_result((True, value))
        finally:
            self._reading = None


class PageCache:
    """ASGI middleware: anonymous GETs of public pages, answered from memory when current.

    At most `max_bytes` of pages are kept, least recently used dropped first; 0 turns the
    cache off. Runs on the event loop: no locks are needed around the dictionary.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.max_bytes = settings.page_cache_mb * 1024 * 1024
        self.entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0
        self.versions = VersionReader()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not self.max_bytes
            or not PAGES.match(scope["path"])
            or not anonymous(scope)
            or getattr(scope["app"].state, "store", None) is None
        ):
            await self.app(scope, receive, send)
            return
        try:
            # read before rendering: never newer than the page
            version = await self.versions.read(scope["app"])
        except (ServiceUnavailable, TimeoutError):
            # the database is gone or slow to answer: let the app answer (its 503; this
            # middleware runs outside FastAPI's error handlers, so raising here would be a
            # bare 500), uncached
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token, new_cookie = anonymous_csrf(request)
        key = (scope["path"], scope["query_string"])
        entry = self.entries.get(key)
        if entry is not None and entry.version == version and entry.expires > time.monotonic():
            self.entries.move_to_end(key)
            self.hits += 1
            await self._send(send, 200, [*entry.headers, HIT], entry.parts, token, new_cookie)
            return
        self.misses += 1
        state = scope.setdefault("state", {})
        state[RENDERING] = True
        state[VERSION] = version
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        status = int(start["status"])
        headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
        parts = b"".join(chunks).split(_PLACEHOLDER)
        if status == 200 and state.get(KEEP) and not any(k == b"set-cookie" for k, _ in headers):
            self._keep(key, Entry(version, time.monotonic() + TTL_S, headers, parts, 0))
            headers = [*headers, MISS]
        await self._send(send, status, headers, parts, token, new_cookie)

    def _keep(self, key: tuple[str, bytes], entry: Entry) -> None:
        entry.size = sum(map(len, entry.parts)) + len(key[0]) + len(key[1]) + 200
        if entry.size > self.max_bytes // 8:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= old.size
        self.entries[key] = entry
        self.size += entry.size
        while self.size > self.max_bytes:
            _, dropped = self.entries.popitem(last=False)
            self.size -= dropped.size

    async def _send(
        self,
        send: Send,
        status: int,
        headers: list[tuple[bytes, bytes]],
        parts: list[bytes],
        token: str,
        new_cookie: str | None,
    ) -> None:
        body = token.encode().join(parts)
        out = [*headers, (b"content-length", str(len(body)).encode())]
        if new_cookie is not None:
            out.append(csrf_cookie_header(self.settings, new_cookie))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})
