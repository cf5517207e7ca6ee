"""`paperfeed doctor`: check a deployment and say what to fix.

Each check gives one line: `ok`, `warn` (works, but something is off) or `FAIL` (this
instance cannot do its job), with what to do about it. Nothing is changed, except that
opening the store applies missing migrations as every command does (a database that is
not there is reported, never created).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from paperfeed.errors import NotFound, PaperfeedError, SchemaTooNew
from paperfeed.settings import Settings
from paperfeed.store import Store, is_postgres_url, open_store, redact

Level = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True, slots=True)
class Check:
    level: Level
    name: str
    message: str

    def line(self) -> str:
        return f"{self.level:<4}  {self.name:<10} {self.message}"


def run_checks(settings: Settings, problems: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in order; the store-dependent ones only if the store opens.

    `problems` are invalid settings (by name, see `load_settings_for_diagnosis`): each is a
    FAIL line, in place of the check of that setting (which ran on its default).
    """
    bad = [Check("FAIL", name or "settings", message) for name, message in (problems or {}).items()]
    return bad + [c for c in _checks(settings) if c.name not in (problems or {})]


def _checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    try:
        store = open_store(settings, existing=True)
    except SchemaTooNew as exc:
        return [Check("FAIL", "database", f"{_where(settings)}: {exc.message}")]
    except NotFound as exc:  # doctor only reads: it never creates a database
        return [Check("FAIL", "database", exc.message)]
    except PaperfeedError as exc:
        return [Check("FAIL", "database", f"{exc.message}: check the URL and the server")]
    try:
        checks.extend(_database(settings, store))
        checks.extend(_indexes(settings, store))
        checks.extend(_jobs(store))
    finally:
        store.close()
    checks.extend(_secret(settings))
    checks.extend(_smtp(settings))
    checks.extend(_base_url(settings))
    return checks


def _where(settings: Settings) -> str:
    return redact(settings.database_url or "") or f"SQLite {settings.sqlite_path}"


def _database(settings: Settings, store: Store) -> Iterator[Check]:
    applied, _ = store.schema_version()  # opening refused a newer schema (SchemaTooNew)
    stats = store.stats()
    yield Check(
        "ok",
        "database",
        f"{_where(settings)}: reachable, migrations current ({applied}), {stats.papers} papers",
    )


def _indexes(settings: Settings, store: Store) -> Iterator[Check]:
    try:
        from paperfeed.search.indexer import Indexer
    except ImportError:
        yield Check("warn", "indexes", "search is not installed")
        return
    indexer = Indexer(store, settings)
    try:
        status = indexer.status(checksums=True)
    except Exception as exc:  # a damaged index: say so, do not crash the doctor
        yield Check("FAIL", "indexes", f"unreadable ({exc}): run `paperfeed index --rebuild`")
        return
    finally:
        indexer.close()
    where = str(settings.index_dir)
    if status.keyword_pending:
        yield Check(
            "warn",
            "indexes",
            f"{where}: {status.keyword_pending} papers not yet searchable by keyword "
            "(a running `serve` or `worker` catches up; else `paperfeed index --sync`)",
        )
    elif status.vectors_pending:
        yield Check(
            "warn",
            "indexes",
            f"{where}: keyword index in step; {status.vectors_pending} papers not yet "
            "searchable by meaning (embedding in progress, or start `paperfeed worker`)",
        )
    else:
        yield Check("ok", "indexes", f"{where}: in step with the store (seq {status.store_seq})")


def _jobs(store: Store) -> Iterator[Check]:
    failed = store.list_jobs(state="failed")
    now = time.time()
    stuck = [j for j in store.list_jobs(state="running") if j.lease_until and j.lease_until < now]
    if failed:
        sample = ", ".join(f"{j.kind} {j.key}: {j.last_error}" for j in failed[:3])
        yield Check("warn", "jobs", f"{len(failed)} failed background jobs ({sample})")
    if stuck:
        yield Check(
            "warn",
            "jobs",
            f"{len(stuck)} jobs whose worker died wait for a worker: start `paperfeed worker`",
        )
    if not failed and not stuck:
        yield Check("ok", "jobs", "no failed or abandoned background jobs")


def _secret(settings: Settings) -> Iterator[Check]:
    if is_postgres_url(settings.database_url) and not settings.secret_key:
        yield Check(
            "warn",
            "secret",
            "PAPERFEED_SECRET_KEY is unset: each instance makes its own key in its data "
            "directory, so sessions and email links from one fail on another. Set the same "
            "PAPERFEED_SECRET_KEY on every instance",
        )
    else:
        yield Check("ok", "secret", "set" if settings.secret_key else "kept in the data directory")


def _smtp(settings: Settings) -> Iterator[Check]:
    if not settings.smtp_url:
        yield Check("warn", "smtp", "PAPERFEED_SMTP_URL is empty: no digests, no confirmations")
        return
    from paperfeed.digest.smtp import SmtpSender, parse_smtp_url

    try:
        config = parse_smtp_url(settings.smtp_url)
        SmtpSender(config).check()
    except PaperfeedError as exc:
        yield Check("FAIL", "smtp", exc.message)
    except Exception as exc:
        yield Check("FAIL", "smtp", f"cannot talk to the mail server: {exc}")
    else:
        yield Check("ok", "smtp", f"{config.host}:{config.port} answers")


def _base_url(settings: Settings) -> Iterator[Check]:
    url = settings.base_url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield Check("FAIL", "base_url", f"{url!r} is not an http(s) URL: set PAPERFEED_BASE_URL")
        return
    if parts.hostname in ("127.0.0.1", "localhost", "::1") and settings.smtp_url:
        yield Check(
            "warn",
            "base_url",
            f"{url}: links in emails point to this machine; set PAPERFEED_BASE_URL to the "
            "public address",
        )
    try:
        reply = httpx.get(url + "/healthz", timeout=3)
    except httpx.HTTPError as exc:
        yield Check("warn", "base_url", f"{url}/healthz does not answer from here ({exc})")
        return
    if reply.status_code != 200:
        yield Check("warn", "base_url", f"{url}/healthz answers {reply.status_code}")
    else:
        yield Check("ok", "base_url", f"{url} answers")
