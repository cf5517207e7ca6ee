"""The digest job against a real SMTP server (aiosmtpd) and a real SQLite store of real papers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfeed.accounts import add_user
from paperfeed.digest.compose import period_key
from paperfeed.digest.send import send_digests
from paperfeed.digest.smtp import parse_smtp_url
from paperfeed.digest.subscriptions import add_subscriber_confirmed
from paperfeed.email_address import normalize_email
from paperfeed.errors import BadRequest, ConfigError
from paperfeed.ingest import ingest_sources
from paperfeed.search import sync_keyword_index
from paperfeed.settings import load_settings
from paperfeed.store import Store, open_store
from paperfeed.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"
PAPERS = FIXTURES / "web_papers.jsonl"  # 90 real HF daily papers
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


@pytest.fixture
def store(settings) -> Store:  # noqa: ANN001
    store = open_store(settings)
    ingest_sources(store, [str(PAPERS)])
    yield store
    store.close()


def digest_settings(tmp_path: Path, smtp_url: str, database_url: str | None = None):  # noqa: ANN201
    return load_settings(
        data_dir=tmp_path / "digest",
        database_url=database_url,
        secret_key="digest-test-secret",
        smtp_url=smtp_url,
        mail_from="Paper Feed <digest@papers.example.org>",
        base_url="https://papers.example.org",
    )


@pytest.fixture
def settings(tmp_path: Path, smtp_sink, database_url):  # noqa: ANN001, ANN201
    return digest_settings(tmp_path, smtp_sink.url, database_url)


def text_part(mail) -> str:  # noqa: ANN001
    return mail.message.get_body(preferencelist=("plain",)).get_content()


def html_part(mail) -> str:  # noqa: ANN001
    return mail.message.get_body(preferencelist=("html",)).get_content()


def add(store: Store, email: str, **kw) -> int:  # noqa: ANN003
    sub, _ = add_subscriber_confirmed(store, email=email, confirmed=True, **kw)
    return sub.id


# --- settings and addresses ---------------------------------------------------------------


def test_smtp_url_forms() -> None:
    c = parse_smtp_url("smtp://us%40er:p%3Ass@mail.example.org:587?starttls=1")
    assert (c.host, c.port, c.starttls, c.ssl, c.username, c.password) == (
        "mail.example.org",
        587,
        True,
        False,
        "us@er",
        "p:ss",
    )
    c = parse_smtp_url("smtps://mail.example.org")
    assert (c.port, c.ssl, c.starttls) == (465, True, False)
    assert parse_smtp_url("smtp://localhost").port == 25
    assert "p:ss" not in repr(parse_smtp_url("smtp://u:p%3Ass@h:25"))
    for bad in ("http://x", "smtp://", "mail.example.org:25", "smtp://h:99999"):
        with pytest.raises(BadRequest):
            parse_smtp_url(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plain",
        "a@b",
        "a@@b.org",
        "a b@c.org",
        "a@b.org\r\nBcc: x@y.org",
        "a@b.org\nX: y",
        '"quoted"@b.org',
        "Name <a@b.org>",
        "a@-b.org",
        "x" * 300 + "@b.org",
    ],
)
def test_invalid_addresses_are_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(BadRequest) as info:
        normalize_email(bad)
    assert "email address" in info.value.message


def test_addresses_are_normalised() -> None:
    assert (
        normalize_email("  Ada.Lovelace+papers@Example.ORG ") == "ada.lovelace+papers@example.org"
    )
    assert normalize_email("x@bücher.de") == "x@xn--bcher-kva.de"


# --- content ---------------------------------------------------------------------------------


def test_daily_and_weekly_digests_content_and_headers(store, settings, smtp_sink) -> None:  # noqa: ANN001
    add(store, "daily@example.org", frequency="daily")
    add(store, "weekly@example.org", frequency="weekly")
    report = send_digests(settings, store, now=NOW, progress=False)
    assert report.sent == 2 and not report.failed and not report.bounced

    [daily] = smtp_sink.to("daily@example.org")
    [weekly] = smtp_sink.to("weekly@example.org")
    assert daily.message["Subject"] == "paperfeed daily digest: 10 papers"
    assert weekly.message["Subject"] == "paperfeed weekly digest: 10 papers"
    assert "Trending today" in text_part(daily) and "Week 2026-W48" in text_part(weekly)
    assert "Trending this week" in text_part(weekly)
    # Different windows rank differently: the weekly digest reaches back over several days.
    assert daily.message["Message-ID"] != weekly.message["Message-ID"]

    msg = daily.message
    assert msg["From"] == "Paper Feed <digest@papers.example.org>"
    assert msg["To"] == "daily@example.org"
    unsubscribe = msg["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://papers.example.org/unsubscribe?token=")
    assert unsubscribe.endswith(">") and "\n" not in unsubscribe
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    text, html = text_part(daily), html_part(daily)
    top = store.get_papers(
        [
            line.rsplit("/", 1)[1]
            for line in text.splitlines()
            if "/papers/" in line and "unsubscribe" not in line
        ]
    )
    assert len(top) == 10
    for item in top:
        assert f"https://papers.example.org/papers/{item.paper.id}" in html
    # Abstracts are shortened; titles and abstracts are escaped in HTML.
    assert all(len(line) < 400 for line in text.splitlines())
    assert "\u2026" in text
    assert "<script" not in html.lower()
    assert "https://papers.example.org/subscriptions/manage?token=" in text


def test_html_is_escaped(store, settings, smtp_sink) -> None:  # noqa: ANN001
    from paperfeed.models import DailyEntry, Paper

    evil = Paper(
        id="2611.99999",
        title='<script>alert("x")</script> & <b>bold</b>',
        abstract="x < y & <img src=x onerror=alert(1)>",
        authors=["A <B>"],
        listing_date=NOW.date(),
    )
    store.upsert_papers([evil])
    store.upsert_daily([DailyEntry(paper_id=evil.id, day=NOW.date(), upvotes=10_000)])
    add(store, "esc@example.org")
    send_digests(settings, store, now=NOW, progress=False)
    html = html_part(smtp_sink.to("esc@example.org")[0])
    assert "&lt;script&gt;alert(" in html and "<script>" not in html
    assert "<img src=x" not in html and "&lt;img" in html


def test_latex_is_readable_text_and_upvotes_are_shown(store, settings, smtp_sink) -> None:  # noqa: ANN001
    from paperfeed.models import DailyEntry

    ingest_sources(store, [str(FIXTURES / "web_latex.jsonl")])
    store.upsert_daily([DailyEntry(paper_id="2401.09073", day=NOW.date(), upvotes=10_000)])
    add(store, "latex@example.org")
    send_digests(settings, store, now=NOW, progress=False)
    mail = smtp_sink.to("latex@example.org")[0]
    html, text = html_part(mail), text_part(mail)
    card = html[html.index("2401.09073") :][:2000]
    assert "budget T and a privacy parameter ε&gt;0" in card and "$" not in card
    assert "▲ 10000 upvotes" in card
    assert "privacy parameter ε>0" in text and "| 10000 upvotes" in text


def test_no_paper_twice_and_empty_digests_are_not_sent(store, settings, smtp_sink) -> None:  # noqa: ANN001
    sid = add(store, "reader@example.org")
    add(store, "nothing@example.org", trending=False)  # no trending, no searches: always empty
    seen: list[str] = []
    day = NOW
    for _ in range(12):
        report = send_digests(settings, store, now=day, progress=False)
        day += timedelta(days=1)
        if report.sent == 0:
            break
        mail = smtp_sink.to("reader@example.org")[-1]
        seen += [
            line.rsplit("/", 1)[1] for line in text_part(mail).splitlines() if "/papers/" in line
        ]
        assert report.skipped_empty >= 1
    assert len(seen) == len(set(seen)) > 10, "a paper was mailed twice"
    assert smtp_sink.to("nothing@example.org") == []
    # The store's ledger agrees with what the server received.
    assert store.sent_paper_ids(sid, seen) == set(seen)
    # Once everything trending was mailed, the digest is empty and is not sent.
    assert report.sent == 0 and report.skipped_empty == 2


def test_once_per_period(store, settings, smtp_sink) -> None:  # noqa: ANN001
    add(store, "once@example.org")
    add(store, "weekly@example.org", frequency="weekly")
    assert send_digests(settings, store, now=NOW, progress=False).sent == 2
    assert send_digests(settings, store, now=NOW + timedelta(hours=5), progress=False).sent == 0
    # Next day: the daily subscriber again, the weekly one not before the next ISO week.
    assert send_digests(settings, store, now=NOW + timedelta(days=1), progress=False).sent == 1
    next_week = NOW + timedelta(days=7 - NOW.weekday())
    assert period_key("weekly", next_week) != period_key("weekly", NOW)
    send_digests(settings, store, now=next_week, progress=False)
    send_digests(settings, store, now=next_week + timedelta(days=2), progress=False)
    assert len(smtp_sink.to("weekly@example.org")) == 2


def test_dry_run_and_limit(store, settings, smtp_sink) -> None:  # noqa: ANN001
    for i in range(5):
        add(store, f"u{i}@example.org")
    dry = send_digests(settings, store, now=NOW, dry_run=True, progress=False)
    assert dry.would_send == 5 and smtp_sink.received == []
    assert store.outbox_entries(period_key("daily", NOW)) == []
    assert send_digests(settings, store, now=NOW, limit=2, progress=False).sent == 2
    assert send_digests(settings, store, now=NOW, progress=False).sent == 3
    assert Counter(m.recipient for m in smtp_sink.received) == {
        f"u{i}@example.org": 1 for i in range(5)
    }


@pytest.fixture
def sqlite_store(tmp_path: Path, smtp_sink):  # noqa: ANN001, ANN201
    """(settings, store) on SQLite alone, for a test that counts SQLite's statements."""
    settings = digest_settings(tmp_path, smtp_sink.url)
    store = SqliteStore(settings.sqlite_path)
    ingest_sources(store, [str(PAPERS)])
    yield settings, store
    store.close()


def test_a_subscriber_costs_one_store_read(sqlite_store) -> None:  # noqa: ANN001
    """What a run shares is read once (trending, the catalogue's clock, which of a batch of
    subscribers have an account); beyond it, a subscriber costs one read: the papers of its
    digest already sent to it. Counted as the SQL statements SQLite's read connection runs
    (the store code is the same on both backends)."""
    settings, store = sqlite_store
    add_user(store, email="Reader@Example.org", password="correct horse battery", role="user")
    add(store, "reader@example.org")  # a reader: also "for you" and followed papers

    def reads() -> Counter[str]:
        statements: list[str] = []
        store.db.read.set_trace_callback(statements.append)
        try:
            report = send_digests(settings, store, now=NOW, dry_run=True, progress=False)
        finally:
            store.db.read.set_trace_callback(None)
        assert report.would_send == len(store.list_subscribers())
        tables = ("users", "daily_entries", "sent_papers")
        return Counter(t for s in statements for t in tables if f" {t} " in f" {s} ")

    for i in range(10):
        add(store, f"few{i}@example.org")
    few = reads()
    for i in range(30):
        add(store, f"more{i}@example.org")
    more = reads()
    assert {t: more[t] - few[t] for t in few} == {"users": 0, "daily_entries": 0, "sent_papers": 30}


def test_saved_search_alerts(store, settings, smtp_sink) -> None:  # noqa: ANN001
    sync_keyword_index(store, settings)
    latest = store.latest_daily_day()
    recent = store.daily_list(start=latest, end=latest, limit=50)
    target = recent[-1].paper  # a paper of the newest day that is not top trending
    query = target.title
    add(store, "alerts@example.org", trending=False, searches=[query])
    report = send_digests(settings, store, now=NOW, progress=False)
    assert report.sent == 1
    text = text_part(smtp_sink.to("alerts@example.org")[0])
    assert f"New for \u201c{query}\u201d" in text
    assert f"/papers/{target.id}" in text
    # The next day the same match is not sent again, and nothing else new: no email.
    report = send_digests(settings, store, now=NOW + timedelta(days=1), progress=False)
    assert f"/papers/{target.id}" not in "".join(
        text_part(m) for m in smtp_sink.to("alerts@example.org")[1:]
    )


# --- failures ---------------------------------------------------------------------------------


def test_temporary_failure_is_retried_with_backoff(store, settings, smtp_sink) -> None:  # noqa: ANN001
    sid = add(store, "greylisted@example.org")
    smtp_sink.tempfail_data = 1  # 451 once, then accept
    report = send_digests(settings, store, now=NOW, retry_delays=(0.2,), progress=False)
    assert report.sent == 1 and report.retried == 1 and not report.failed
    assert len(smtp_sink.to("greylisted@example.org")) == 1
    [entry] = store.outbox_entries(period_key("daily", NOW))
    assert (entry.state, entry.attempts) == ("sent", 2)
    assert len(store.sent_paper_ids(sid, entry.paper_ids)) == len(entry.paper_ids) == 10


def test_temporary_failure_left_for_next_run(store, settings, smtp_sink) -> None:  # noqa: ANN001
    sid = add(store, "later@example.org")
    smtp_sink.tempfail_data = 3
    report = send_digests(settings, store, now=NOW, retry_delays=(0.05,), progress=False)
    assert report.sent == 0 and [e for e, _ in report.failed] == ["later@example.org"]
    [entry] = store.outbox_entries(period_key("daily", NOW))
    assert entry.state == "pending" and "451" in (entry.last_error or "")
    assert store.sent_paper_ids(sid, entry.paper_ids) == set()  # not counted as mailed
    assert "failed, will retry next run: later@example.org" in report.summary()
    report = send_digests(settings, store, now=NOW, retry_delays=(0.05,), progress=False)
    assert report.sent == 1 and len(smtp_sink.to("later@example.org")) == 1


def test_permanent_failure_stops_mail_and_is_shown(store, settings, smtp_sink) -> None:  # noqa: ANN001
    add(store, "gone@example.org")
    add(store, "fine@example.org")
    smtp_sink.reject = {"gone@example.org"}
    report = send_digests(settings, store, now=NOW, progress=False)
    assert report.sent == 1 and [e for e, _ in report.bounced] == ["gone@example.org"]
    assert "permanently failed, mail stopped: gone@example.org: 550" in report.summary()
    sub = store.subscriber_by_email("gone@example.org")
    assert sub.status == "bounced" and "550" in sub.status_reason
    smtp_sink.rcpt_seen.clear()
    send_digests(settings, store, now=NOW + timedelta(days=1), progress=False)
    assert "gone@example.org" not in smtp_sink.rcpt_seen  # no more mail to it
    assert smtp_sink.to("gone@example.org") == []


def test_cli_send_shows_bounces(  # noqa: ANN001
    tmp_path: Path, smtp_sink, monkeypatch, backend, cli, data_dir
) -> None:
    monkeypatch.setenv("PAPERFEED_SMTP_URL", smtp_sink.url)
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", "digest-test-secret")
    assert cli("ingest", str(PAPERS), "--no-index").exit_code == 0
    assert cli("subscribers", "add", "ok@example.org", "--confirmed").exit_code == 0
    result = cli("subscribers", "add", "bad@example.org", "--confirmed", "--frequency", "weekly")
    assert result.exit_code == 0
    bad = cli("subscribers", "add", "not-an-address", "--confirmed")
    assert bad.exit_code == 2 and "not a valid email address" in bad.output
    smtp_sink.reject = {"bad@example.org"}
    preview = cli("digest", "preview", "ok@example.org")
    assert preview.exit_code == 0 and "Trending" in preview.stdout
    dry = cli("digest", "send", "--dry-run")
    assert dry.exit_code == 0 and "2 (would send)" in dry.stdout and smtp_sink.received == []
    result = cli("digest", "send")
    assert "sent            1" in result.stdout
    assert "permanently failed, mail stopped: bad@example.org" in result.stdout
    listing = cli("subscribers", "list")
    assert "bounced" in listing.stdout and "ok@example.org" in listing.stdout
    assert cli("subscribers", "remove", "bad@example.org").exit_code == 0
    assert "bad@example.org" not in cli("subscribers", "list").stdout
    assert cli("subscribers", "remove", "bad@example.org").exit_code == 1


def test_header_injection_is_impossible(store, settings) -> None:  # noqa: ANN001
    from paperfeed.digest.render import RenderedEmail, Renderer

    renderer = Renderer(settings)
    rendered = RenderedEmail("hi\r\nBcc: evil@example.org", "t", "<p>h</p>")
    with pytest.raises(ValueError):
        renderer.message(rendered, to="a@example.org", message_id="<x@y>")
    for to in ("a@example.org\r\nBcc: evil@example.org", "a@example.org\nX: y"):
        with pytest.raises(ValueError):
            renderer.message(RenderedEmail("s", "t", "h"), to=to, message_id="<x@y>")
    with pytest.raises(BadRequest):
        add(store, "victim@example.org\r\nBcc: evil@example.org")


@pytest.mark.parametrize("connections", [1, 3])
def test_digests_go_out_over_the_configured_number_of_connections(
    store, settings, smtp_sink, connections: int
) -> None:  # noqa: ANN001
    emails = [f"conn{i:02d}@example.org" for i in range(12)]
    for email in emails:
        add(store, email)
    smtp_sink.delay = 0.01  # each connection waits on the server: the others go on meanwhile
    report = send_digests(
        settings.model_copy(update={"smtp_connections": connections}),
        store,
        now=NOW,
        progress=False,
    )
    assert report.sent == len(emails) and not report.in_doubt and not report.failed
    assert Counter(m.recipient for m in smtp_sink.received) == {e: 1 for e in emails}
    assert len({m.peer for m in smtp_sink.received}) == connections
    assert send_digests(settings, store, now=NOW, progress=False).sent == 0  # once per period


@pytest.mark.parametrize("offered", [True, False])
def test_bodies_go_8bit_where_the_server_offers_8bitmime(
    store, settings, smtp_sink, offered: bool
) -> None:  # noqa: ANN001
    from paperfeed.models import DailyEntry, Paper

    smtp_sink.offer_8bitmime = offered
    paper = Paper(
        id="2611.88888",
        title="Ünïcode ε-greedy bandits — a survey",
        abstract="Regret bounds for ε-greedy exploration “in the wild”.",
        authors=["Zoë Ångström"],
        listing_date=NOW.date(),
    )
    store.upsert_papers([paper])
    store.upsert_daily([DailyEntry(paper_id=paper.id, day=NOW.date(), upvotes=10_000)])
    add(store, "eight@example.org")
    assert send_digests(settings, store, now=NOW, progress=False).sent == 1
    [mail] = smtp_sink.to("eight@example.org")
    parts = [p for p in mail.message.walk() if not p.is_multipart()]
    encodings = {str(p["Content-Transfer-Encoding"]) for p in parts}
    assert encodings == ({"8bit"} if offered else {"base64"})
    assert ("BODY=8BITMIME" in mail.mail_options) == offered
    assert all(len(line) <= 998 for line in mail.raw.split(b"\r\n"))
    assert "* Ünïcode ε-greedy bandits — a survey" in text_part(mail)
    assert "Zoë Ångström" in text_part(mail) and "Ünïcode ε-greedy bandits" in html_part(mail)


def test_8bit_bodies_arrive_as_written(settings, smtp_sink) -> None:  # noqa: ANN001
    """Leading dots, CRLF and non-ASCII survive 8bit; a line over 998 octets, a NUL or a
    lone CR sends that part base64 instead."""
    from paperfeed.digest.render import RenderedEmail, Renderer
    from paperfeed.digest.smtp import SmtpSender

    text = "Ünïcode line\n.a leading dot\n..two dots\n.\nthe end\n"
    cases = {
        "plain@example.org": (text, "<p>ε&gt;0</p>\r\n<p>second</p>\n", {"8bit"}),
        "long@example.org": (text, "<p>" + "é" * 600 + "</p>\n", {"8bit", "base64"}),
        "nul@example.org": ("a\0b\n", "<p>lone\rCR</p>", {"base64"}),
    }
    renderer = Renderer(settings)
    with SmtpSender(parse_smtp_url(settings.smtp_url)) as smtp:
        assert smtp.offers_8bitmime()
        for to, (plain, html, _) in cases.items():
            data = renderer.message(
                RenderedEmail("8bit", plain, html), to=to, message_id="<x@y>", eight_bit=True
            )
            assert smtp.send(data, sender="a@example.org", recipient=to, eight_bit=True)
    for to, (plain, html, expected) in cases.items():
        [mail] = smtp_sink.to(to)
        parts = [p for p in mail.message.walk() if not p.is_multipart()]
        assert {str(p["Content-Transfer-Encoding"]) for p in parts} == expected
        assert text_part(mail).replace("\r\n", "\n") == plain.replace("\r\n", "\n")
        assert html_part(mail).replace("\r\n", "\n") == html.replace("\r\n", "\n")


# --- exactly once across a killed run ---------------------------------------------------------


@pytest.mark.parametrize("connections", [1, 4])
def test_killed_run_then_rerun_sends_each_subscriber_exactly_once(
    tmp_path: Path, smtp_sink, database_url, connections: int
) -> None:  # noqa: ANN001
    data = tmp_path / "killdata"
    store_settings = load_settings(data_dir=data, database_url=database_url)
    store = open_store(store_settings)
    ingest_sources(store, [str(PAPERS)])
    emails = [f"reader{i:03d}@example.org" for i in range(150)]
    for email in emails:
        add(store, email, frequency="weekly" if email.endswith(("3@example.org",)) else "daily")
    store.close()
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(data),
        "PAPERFEED_SMTP_URL": smtp_sink.url,
        "PAPERFEED_SECRET_KEY": "digest-test-secret",
        "PAPERFEED_DATABASE_URL": database_url or "",
        "PAPERFEED_SMTP_CONNECTIONS": str(connections),
    }
    smtp_sink.delay = 0.01  # ~10 ms per message: the run lasts long enough to be killed
    cmd = [sys.executable, "-m", "paperfeed", "digest", "send"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(smtp_sink.received) < 40:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.003)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = len(smtp_sink.received)
    assert 40 <= killed_at < len(emails), "the run was not killed mid-way"

    store = open_store(store_settings)
    try:  # the message in flight at the kill, if any, is left 'sending'
        left_sending = {
            store.get_subscriber(e.subscriber_id).email
            for frequency in ("daily", "weekly")
            for e in store.outbox_entries(period_key(frequency, datetime.now(UTC)), state="sending")
        }
    finally:
        store.close()

    smtp_sink.delay = 0
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    # Exactly those are reported to the operator as in doubt, and not resent.
    reported = {
        line.split(": ")[1]
        for line in rerun.stdout.splitlines()
        if line.startswith("in doubt (not resent")
    }
    assert reported == left_sending, rerun.stdout
    time.sleep(0.2)
    counts = Counter(m.recipient for m in smtp_sink.received)
    duplicates = [e for e, n in counts.items() if n > 1]
    # A row left 'sending' is in doubt and never resent: delivered, unless the kill fell
    # between its commit and the final dot leaving the socket (the window send.py's docstring
    # names; a loaded machine can deschedule the process there). Every other one arrives once.
    missed = [e for e in emails if e not in counts and e not in left_sending]
    assert not duplicates and not missed and set(counts) <= set(emails), (duplicates, missed)
    store = open_store(store_settings)
    try:
        states = Counter(
            e.state
            for p in ("d:", "w:")
            for e in store.outbox_entries(
                period_key("daily" if p == "d:" else "weekly", datetime.now(UTC))
            )
        )
    finally:
        store.close()
    # At most the one message in flight on each connection at the kill is left 'sending'
    # (counted as delivered).
    assert states["sent"] >= len(emails) - connections and states["sending"] <= connections


def test_in_doubt_rows_are_reported_and_can_be_resent(store, settings, smtp_sink) -> None:  # noqa: ANN001
    sid = add(store, "doubt@example.org")
    period = period_key("daily", NOW)
    # What a run killed right after committing 'sending' leaves behind.
    assert store.begin_send(
        subscriber_id=sid, period=period, message_id="<m@x>", paper_ids=["2608.16798"], at=NOW
    )
    report = send_digests(settings, store, now=NOW, progress=False)
    assert report.sent == 0 and [e for e, _ in report.in_doubt] == ["doubt@example.org"]
    assert (
        "in doubt (not resent; --resend-in-doubt to resend): doubt@example.org" in report.summary()
    )
    report = send_digests(settings, store, now=NOW, progress=False, resend_in_doubt=True)
    assert report.sent == 1 and len(smtp_sink.to("doubt@example.org")) == 1


def test_scheduler_catches_up_and_stops(store, settings, smtp_sink) -> None:  # noqa: ANN001
    from paperfeed.digest.scheduler import next_run, start_scheduler
    from paperfeed.settings import parse_time_of_day

    at = parse_time_of_day("07:00")
    assert next_run(at, NOW - timedelta(minutes=1)) == NOW
    assert next_run(at, NOW) == NOW + timedelta(days=1)
    with pytest.raises(ConfigError):
        parse_time_of_day("7am")
    assert start_scheduler(settings.model_copy(update={"digest_time": ""}), store) is None
    add(store, "early@example.org")
    scheduler = start_scheduler(settings.model_copy(update={"digest_time": "00:00"}), store)
    try:
        deadline = time.monotonic() + 20
        while not smtp_sink.to("early@example.org") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert len(smtp_sink.to("early@example.org")) == 1


def test_send_reports_progress(store, settings, smtp_sink, caplog) -> None:  # noqa: ANN001
    import logging

    add(store, "one@example.org")
    add(store, "two@example.org")
    caplog.set_level(logging.INFO, logger="paperfeed.progress")
    assert send_digests(settings, store, now=NOW, progress=True).sent == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "paperfeed.progress"]
    assert "digests (subscribers): started" in lines
    assert "digests (subscribers): 2/2 (100%) (done)" in lines


def test_serve_runs_the_digest_schedule_for_the_app_lifetime(store, settings, smtp_sink) -> None:  # noqa: ANN001
    import threading

    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    add(store, "served@example.org")
    early = settings.model_copy(update={"digest_time": "00:00"})  # due at once
    with TestClient(create_app(early)) as client:  # an app without background jobs
        assert client.get("/healthz").status_code == 200
        time.sleep(0.5)
    assert not smtp_sink.to("served@example.org")
    with TestClient(create_app(early, background_jobs=True)) as client:  # `paperfeed serve`
        deadline = time.monotonic() + 20
        while not smtp_sink.to("served@example.org") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/healthz").status_code == 200
    assert len(smtp_sink.to("served@example.org")) == 1
    assert not any(t.name == "paperfeed-digest" for t in threading.enumerate())


SCHEDULER_INSTANCE = """
import logging, sys, time
from paperfeed.digest.scheduler import Scheduler
from paperfeed.settings import load_settings
from paperfeed.store import open_store
logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(message)s", force=True)
settings = load_settings()
Scheduler(settings, open_store(settings), settings.digest_at, follow_s=0.2).start()
print("ready", flush=True)
time.sleep(300)
"""


def test_one_instance_runs_the_digest_schedule_and_another_takes_over(
    store, settings, smtp_sink
) -> None:  # noqa: ANN001
    """Two app instances on one database: one runs the schedule (one digest run, not two);
    when it is killed, the other takes over and catches up (nothing is sent twice)."""
    import threading

    add(store, "one@example.org")
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.database_url or "",
        "PAPERFEED_SMTP_URL": smtp_sink.url,
        "PAPERFEED_DIGEST_TIME": "00:00",
        "PAPERFEED_BASE_URL": settings.base_url,
    }
    lines: dict[int, list[str]] = {0: [], 1: []}
    procs = [
        subprocess.Popen(
            [sys.executable, "-u", "-c", SCHEDULER_INSTANCE],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]

    def read(i: int) -> None:
        for line in procs[i].stdout:
            lines[i].append(line)

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(2)]
    for t in readers:
        t.start()

    def runs(i: int) -> int:
        return sum(line.startswith("digest run for") for line in lines[i])

    def wait_until(check, seconds: float) -> None:  # noqa: ANN001
        deadline = time.monotonic() + seconds
        while not check() and time.monotonic() < deadline:
            time.sleep(0.05)

    try:
        wait_until(lambda: runs(0) + runs(1) >= 1, 90)
        assert len(smtp_sink.to("one@example.org")) == 1
        time.sleep(3)  # 15 looks at the lock by the other instance
        assert sorted([runs(0), runs(1)]) == [0, 1], lines
        leader = 0 if runs(0) else 1
        follower = 1 - leader
        procs[leader].kill()  # SIGKILL: no release, the database/OS drops the lock
        procs[leader].wait()
        wait_until(lambda: runs(follower) >= 1, 60)
        assert runs(follower) == 1, lines
        assert any("this instance runs the schedule" in line for line in lines[follower])
        assert len(smtp_sink.to("one@example.org")) == 1  # the catch-up found nothing due
    finally:
        for p in procs:
            p.kill()
            p.wait()
