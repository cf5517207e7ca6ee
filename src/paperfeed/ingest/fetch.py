"""Polite HTTP for URL imports: identify ourselves, space requests, retry with backoff.

`fetch_pages(url)` yields `(url, body)` for the URL and, for an OAI-PMH `ListRecords`
answer, for every page behind its resumption tokens. Requests to one host are at least
`fetch_interval` seconds apart (arXiv asks for 3); connection errors, 429 and 5xx are
retried with exponential backoff, and a `Retry-After` header is honoured.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from paperfeed import __version__
from paperfeed.errors import ServiceUnavailable
from paperfeed.ingest.oai_pmh import resumption_token

log = logging.getLogger(__name__)
RETRY_STATUSES = {429, 500, 502, 503, 504}


class FetchError(ServiceUnavailable):
    """A URL could not be fetched after all retries."""


@dataclass(frozen=True)
class FetchPolicy:
    """How politely to fetch; `from_settings()` reads the configured values."""

    user_agent: str
    min_interval: float = 3.0  # seconds between requests to one host
    retries: int = 4  # extra attempts after the first
    backoff: float = 2.0  # first retry delay; doubles each time
    timeout: float = 60.0
    max_retry_after: float = 600.0  # a longer Retry-After fails instead of waiting

    @classmethod
    def from_settings(cls) -> FetchPolicy:
        from paperfeed.settings import load_settings

        settings = load_settings()
        return cls(
            user_agent=f"paperfeed/{__version__} (+{settings.base_url})",
            min_interval=settings.fetch_interval,
        )


class HostPacer:
    """Remembers when each host was last asked, to keep requests `interval` apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, host: str, interval: float, *, at_least: float = 0.0) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now + at_least, self._next.get(host, now))
            self._next[host] = start + interval
        if start > now:
            time.sleep(start - now)


_pacer = HostPacer()  # shared by every fetch in this process


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def fetch(client: httpx.Client, url: str, policy: FetchPolicy) -> bytes:
    """The body of one successful GET of `url`, retrying what is worth retrying."""
    host = urlsplit(url).netloc
    delay, extra_wait = policy.backoff, 0.0
    problem = ""
    for attempt in range(policy.retries + 1):
        _pacer.wait(host, policy.min_interval, at_least=extra_wait)
        try:
            response = client.get(url)
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if response.status_code == 200:
                return response.content
            problem = f"HTTP {response.status_code}"
            if response.status_code not in RETRY_STATUSES:
                raise FetchError(f"{url}: {problem} (not retried)")
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            if asked is not None:
                if asked > policy.max_retry_after:
                    raise FetchError(f"{url}: {problem}, server asks to retry in {asked:.0f}s")
                extra_wait = asked
                log.info("%s: %s, retrying after %.1fs as asked", url, problem, asked)
                continue
        extra_wait = delay
        delay *= 2
        if attempt < policy.retries:
            log.info("%s: %s, retry %d in %.1fs", url, problem, attempt + 1, extra_wait)
    raise FetchError(f"{url}: failed after {policy.retries + 1} attempts ({problem})")


def next_oai_url(url: str, body: bytes) -> str | None:
    """The URL of the next ListRecords page, or None when `body` is the last one."""
    if b"<OAI-PMH" not in body[:4096]:
        return None
    token = resumption_token(body)
    if token is None:
        return None
    parts = urlsplit(url)
    query = urlencode({"verb": "ListRecords", "resumptionToken": token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def fetch_pages(url: str, *, policy: FetchPolicy | None = None) -> Iterator[tuple[str, bytes]]:
    """`(url, body)` of `url` and of every OAI-PMH page after it."""
    policy = policy or FetchPolicy.from_settings()
    headers = {"User-Agent": policy.user_agent, "Accept-Encoding": "gzip"}
    seen: set[str] = set()
    with httpx.Client(headers=headers, timeout=policy.timeout, follow_redirects=True) as client:
        next_url: str | None = url
        while next_url:
            if next_url in seen:
                raise FetchError(f"{next_url}: resumption token repeats itself; stopping")
            seen.add(next_url)
            body = fetch(client, next_url, policy)
            yield next_url, body
            next_url = next_oai_url(next_url, body)
