"""The store contract through its public interface, on every backend (--backend)."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, date, datetime

import pytest

from paperfeed.models import DailyEntry, Paper
from paperfeed.store.sqlite import SqliteStore


@pytest.fixture
def store(fresh_store):
    return fresh_store


def paper(pid="2401.00001", version=1, title="A title", **kw):
    return Paper(id=pid, version=version, title=title, abstract=f"Abstract of {pid}", **kw)


def test_schema_is_migrated_once_and_uses_wal(tmp_path):
    path = tmp_path / "s.sqlite3"
    SqliteStore(path).close()
    SqliteStore(path).close()  # reopening applies nothing twice
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_upsert_counts_and_idempotency(store):
    assert store.upsert_papers([paper("1"), paper("2")]).added == 2
    again = store.upsert_papers([paper("1"), paper("2")])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert store.stats().papers == 2


def test_newer_version_replaces_older_and_never_the_reverse(store):
    store.upsert_papers([paper("1", version=1, title="old")])
    assert store.upsert_papers([paper("1", version=2, title="new")]).updated == 1
    assert store.upsert_papers([paper("1", version=1, title="old")]).unchanged == 1
    got = store.get_paper("1").paper
    assert (got.version, got.title) == (2, "new")


def test_merging_sources_keeps_every_field_and_unions_categories(store):
    store.upsert_papers([paper("1", categories=["cs.LG", "stat.ML"], primary_category="cs.LG")])
    store.upsert_papers([paper("1", categories=["cs.AI"], github_url="https://github.com/a/b")])
    got = store.get_paper("1").paper
    assert got.categories == ["cs.LG", "stat.ML", "cs.AI"]
    assert got.github_url == "https://github.com/a/b"
    assert store.stats().papers == 1


def test_change_sequence_moves_only_on_real_changes(store):
    store.upsert_papers([paper("1"), paper("2")])
    seq = store.last_seq()
    store.upsert_papers([paper("1")])
    assert store.last_seq() == seq and store.changes_since(seq) == []
    store.upsert_papers([paper("2", version=2)])
    assert [c.paper.id for c in store.changes_since(seq)] == ["2"]


def test_paper_texts_follow_the_change_sequence_like_changes_since(store):
    """The keyword index's lean read gives the same papers, fields and order as the full one."""
    late = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    store.upsert_papers(
        [
            paper("1", categories=["cs.LG", "cs.AI"], published=late, github_url="https://x.org/c"),
            paper("2", listing_date=date(2024, 5, 2), github_url="javascript:alert(1)"),
            paper("3"),
        ]
    )
    seq = store.last_seq()
    store.upsert_papers([paper("4"), paper("1", version=2, title="Second version")])
    for since in (0, seq):
        full = store.changes_since(since, limit=10)
        lean = store.paper_texts_since(since, limit=10)
        assert [(t.seq, t.id) for t in lean] == [(c.seq, c.paper.id) for c in full]
        for t, c in zip(lean, full, strict=True):
            p = c.paper
            assert (t.title, t.abstract, t.day, t.categories, t.has_code) == (
                p.title,
                p.abstract,
                p.day,
                p.categories,
                p.has_code,
            )
    texts = {t.id: t for t in store.paper_texts_since(0)}
    assert texts["1"].day == date(2024, 3, 1) and texts["1"].title == "Second version"
    assert texts["1"].has_code and not texts["2"].has_code
    assert texts["2"].day == date(2024, 5, 2) and texts["3"].day is None
    assert [t.id for t in store.paper_texts_since(0, limit=2)] == ["2", "3"]


def test_daily_list_keeps_highest_upvotes_and_navigates_days(store):
    store.upsert_papers([paper("1"), paper("2"), paper("3")])
    store.upsert_daily(
        [
            DailyEntry("1", date(2024, 5, 1), upvotes=5),
            DailyEntry("2", date(2024, 5, 1), upvotes=9),
            DailyEntry("3", date(2024, 5, 3), upvotes=1),
        ]
    )
    store.upsert_daily([DailyEntry("1", date(2024, 5, 1), upvotes=3)])  # a lower capture
    day = store.daily_list(start=date(2024, 5, 1), end=date(2024, 5, 1))
    assert [(i.paper.id, i.upvotes) for i in day] == [("2", 9), ("1", 5)]
    assert store.latest_daily_day() == date(2024, 5, 3)
    assert store.adjacent_daily_days(date(2024, 5, 1)) == (None, date(2024, 5, 3))
    assert store.latest_daily_days(5) == [date(2024, 5, 3), date(2024, 5, 1)]
    assert store.latest_daily_days(1) == [date(2024, 5, 3)]
    assert store.pin_daily("1", True)
    assert store.daily_list(start=date(2024, 5, 1), end=date(2024, 5, 1))[0].paper.id == "1"
    assert (
        store.remove_daily("1")
        and store.daily_count(start=date(2024, 5, 1), end=date(2024, 5, 1)) == 1
    )


def test_daily_entry_for_unknown_paper_is_refused_and_rolled_back(store):
    store.upsert_papers([paper("1")])
    with pytest.raises(KeyError):
        store.upsert_daily(
            [DailyEntry("1", date(2024, 1, 1)), DailyEntry("nope", date(2024, 1, 1))]
        )
    assert store.daily_count(start=date(2024, 1, 1), end=date(2024, 1, 1)) == 0


def test_timestamps_round_trip_as_utc(store):
    stamp = datetime(2024, 3, 11, 11, 46, 12, tzinfo=UTC)
    store.upsert_papers([paper("1", published=stamp)])
    assert store.get_paper("1").paper.published == stamp


def test_papers_list_paginates_by_id(store):
    store.upsert_papers([paper(str(i)) for i in range(1, 6)])
    first = store.list_papers(limit=2)
    rest = store.list_papers(after_id=first[-1].paper.id, limit=10)
    assert [p.paper.id for p in first + rest] == ["1", "2", "3", "4", "5"]


# --- both backends: one migration sequence; rules the database enforces under concurrency ---


def test_both_backends_share_one_numbered_migration_sequence():
    from paperfeed.store.postgres.db import migration_scripts as pg_scripts
    from paperfeed.store.sqlite.db import migration_scripts as sqlite_scripts

    sqlite_names = [name for _, name, _ in sqlite_scripts()]
    assert sqlite_names == [name for _, name, _ in pg_scripts()], (
        "every numbered migration needs a twin in store/postgres/migrations"
    )
    numbers = [n for n, _, _ in sqlite_scripts()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_postgres_schema_is_migrated_once(pg_databases):
    from paperfeed.store.postgres import PostgresStore

    url = pg_databases.new_url()
    PostgresStore(url).close()
    store = PostgresStore(url)  # reopening applies nothing twice
    try:
        versions = store.db.applied_migrations()
    finally:
        store.close()
    assert versions == list(range(1, len(versions) + 1)) and versions


def _raw_sql(settings, sql):
    """Run `sql` on the store's database behind its back (SQLite file or PG schema)."""
    if settings.database_url:
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else None
    with sqlite3.connect(settings.sqlite_path) as conn:
        return conn.execute(sql).fetchall()


def test_stores_opened_at_once_on_a_fresh_database_apply_each_migration_once(
    tmp_path, database_url
):
    """Several processes starting on one empty database (serve + workers): each migration
    runs once, the others wait for it and then find it applied; every open succeeds."""
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=tmp_path / "fresh", database_url=database_url)
    opened = _race(6, lambda i: open_store(settings))
    try:
        latest = opened[0].schema_version()[1]
        assert all(s.schema_version() == (latest, latest) for s in opened)
        versions = [r[0] for r in _raw_sql(settings, "SELECT version FROM schema_migrations")]
        assert sorted(versions) == list(range(1, latest + 1))
    finally:
        for s in opened:
            s.close()


def test_a_migration_interrupted_halfway_leaves_nothing_and_a_rerun_completes_it(
    tmp_path, database_url
):
    """Migration 0003 fails at its fourth statement (a table in its way): its first three
    tables are rolled back with it, 0001-0002 stay applied; once the obstacle is gone,
    opening the store again applies the rest."""
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=tmp_path / "broken", database_url=database_url)
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    _raw_sql(settings, "CREATE TABLE digest_outbox (obstacle INTEGER)")
    with pytest.raises(Exception, match="digest_outbox"):
        open_store(settings)
    versions = [r[0] for r in _raw_sql(settings, "SELECT version FROM schema_migrations")]
    assert sorted(versions) == [1, 2]
    half_done = "SELECT count(*) FROM subscribers"
    with pytest.raises(Exception, match="subscribers"):
        _raw_sql(settings, half_done)
    _raw_sql(settings, "DROP TABLE digest_outbox")
    store = open_store(settings)
    try:
        latest = store.schema_version()[1]
        assert store.schema_version() == (latest, latest)
        assert store.add_subscriber(email="after@example.org")[1]
    finally:
        store.close()


def _same_store_twice(tmp_path, database_url):
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=tmp_path / "shared", database_url=database_url)
    return open_store(settings), open_store(settings)


def _race(n_threads, fn):
    """Run fn(i) in n threads released at once; their results in order."""
    import threading

    barrier = threading.Barrier(n_threads)
    results = [None] * n_threads

    def run(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_uniqueness_holds_under_concurrent_writers(tmp_path, database_url):
    a, b = _same_store_twice(tmp_path, database_url)
    try:
        a.upsert_papers([paper("1")])
        stores = [a, b] * 4
        users = _race(
            8,
            lambda i: stores[i].create_user(
                email="Same@Example.org" if i % 2 else "same@example.org",
                name="x",
                password_hash="h",
            ),
        )
        created = [u for u in users if u is not None]
        assert len(created) == 1 and created[0].role == "admin"
        uid = created[0].id
        votes = _race(8, lambda i: stores[i].add_vote(user_id=uid, paper_id="1"))
        assert votes.count(True) == 1
        assert a.get_paper("1").upvotes == b.get_paper("1").upvotes == 1
        subs = _race(8, lambda i: stores[i].add_subscriber(email="one@example.org")[1])
        assert subs.count(True) == 1
        allowed = _race(8, lambda i: stores[i].throttle_hit("k", limit=3, window_s=60, now=1000.0))
        assert allowed.count(True) == 3
    finally:
        a.close()
        b.close()


def test_change_sequence_followers_never_skip_under_concurrent_ingest(tmp_path, database_url):
    """Two writers ingest at once; a follower reading changes_since() sees every paper."""
    import threading

    a, b = _same_store_twice(tmp_path, database_url)
    seen: set[str] = set()
    done = threading.Event()

    def follow():
        cursor = 0
        while True:
            finished = done.is_set()
            batch = a.changes_since(cursor, limit=50)
            for item in batch:
                seen.add(item.paper.id)
                cursor = item.seq
            if finished and not batch:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        _race(
            2,
            lambda i: [
                (a, b)[i].upsert_papers([paper(f"{i}.{j}.{k}") for k in range(20)])
                for j in range(15)
            ],
        )
    finally:
        done.set()
        follower.join()
        a.close()
        b.close()
    assert len(seen) == 2 * 15 * 20


def test_imported_and_local_signals_are_kept_apart(store):
    store.upsert_papers([paper("1")])
    store.upsert_daily([DailyEntry("1", date(2024, 5, 1), upvotes=5, num_comments=2)])
    user = store.create_user(email="v@example.org", name="v", password_hash="h")
    assert store.add_vote(user_id=user.id, paper_id="1")
    got = store.get_paper("1")
    assert (got.upvotes, got.hf_upvotes, got.num_comments, got.hf_comments) == (6, 5, 2, 2)


def test_followed_sources_and_harvest_checkpoints(store):
    assert store.list_sources() == [] and store.get_checkpoint("oai:cs") is None
    assert store.add_source("arxiv:cs.CL") and store.add_source("hf-daily")
    assert not store.add_source("arxiv:cs.CL")  # already followed
    assert [s.name for s in store.list_sources()] == ["arxiv:cs.CL", "hf-daily"]
    assert store.list_sources()[0].added_at.tzinfo is not None
    assert store.remove_source("hf-daily") and not store.remove_source("hf-daily")
    store.save_checkpoint("oai:cs", {"from": "2015-01-16", "token": "cs|x|16"})
    store.save_checkpoint("oai:cs", {"from": "2015-01-16", "token": None}, error="HTTP 503")
    saved = store.get_checkpoint("oai:cs")
    assert saved.state == {"from": "2015-01-16", "token": None}
    assert saved.last_error == "HTTP 503" and saved.updated_at is not None
    store.save_checkpoint("oai:cs", {"from": "2015-01-17", "token": None})
    assert store.get_checkpoint("oai:cs").last_error is None  # a good run clears the error


def test_papers_by_announce_day(store):
    assert store.latest_listing_date() is None
    store.upsert_papers(
        [
            paper("2402.00002", listing_date=date(2024, 2, 2)),
            paper("2402.00001", listing_date=date(2024, 2, 2)),
            paper("2402.00003", listing_date=date(2024, 2, 5)),
            paper("2402.00004"),
        ]
    )
    assert store.latest_listing_date() == date(2024, 2, 5)
    assert [i.paper.id for i in store.listed_papers(date(2024, 2, 2))] == [
        "2402.00001",
        "2402.00002",
    ]
    assert len(store.listed_papers(date(2024, 2, 2), limit=1)) == 1
    assert store.listed_papers(date(2024, 2, 3)) == []


def test_every_backend_implements_the_whole_store_protocol():
    """A method added to store/base.py needs an implementation on every backend."""
    from paperfeed.store.base import Store
    from paperfeed.store.postgres import PostgresStore

    wanted = {
        name
        for cls in Store.__mro__
        if cls.__module__ == "paperfeed.store.base"
        for name in vars(cls)
        if not name.startswith("_")
    }
    for backend_class in (SqliteStore, PostgresStore):
        missing = sorted(n for n in wanted if not callable(getattr(backend_class, n, None)))
        assert not missing, f"{backend_class.__name__} lacks {missing}"


def test_upvoted_ids_most_upvoted_first(store):
    store.upsert_papers([paper("1"), paper("2"), paper("3")])
    store.upsert_daily(
        [DailyEntry("1", date(2024, 5, 1), upvotes=2), DailyEntry("2", date(2024, 5, 1), upvotes=7)]
    )
    assert store.upvoted_ids() == [("2", 7), ("1", 2)]


def test_upvoted_ids_rank_every_upvoted_paper(store):
    """What search's sort=upvotes reads: imported plus local votes, most first, ties newest."""
    store.upsert_papers(
        [
            paper("1", published=datetime(2024, 1, 1, tzinfo=UTC)),
            paper("2", published=datetime(2024, 3, 1, tzinfo=UTC)),
            paper("3", published=datetime(2024, 2, 1, tzinfo=UTC)),
            paper("4"),
        ]
    )
    store.upsert_daily(
        [
            DailyEntry("1", date(2024, 5, 1), upvotes=2),
            DailyEntry("2", date(2024, 5, 1), upvotes=1),
            DailyEntry("3", date(2024, 5, 1), upvotes=0),
        ]
    )
    user = store.create_user(email="u@example.org", name="u", password_hash="h")
    assert store.add_vote(user_id=user.id, paper_id="2")
    assert store.add_vote(user_id=user.id, paper_id="3")
    assert store.upvoted_ids() == [("2", 2), ("1", 2), ("3", 1)]


def test_a_killed_test_session_leaves_a_database_the_next_session_drops(pg_url):
    """Test sessions name their database after their pid; one whose process is gone (killed
    before it could drop it) is dropped by the next session; a live one's is kept."""
    import subprocess
    import sys

    import psycopg
    from conftest import PG_ADMIN_URL, PgDatabases

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    dead, alive = f"pf_test_{gone}_deadbeef", f"pf_test_{os.getpid()}_0a11ce00"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in (dead, alive):
            conn.execute(f"CREATE DATABASE {name}")
    try:
        next_session = PgDatabases(PG_ADMIN_URL)
        next_session.drop()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        assert dead not in names and alive in names and next_session.name not in names
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for name in (dead, alive):
                conn.execute(f"DROP DATABASE IF EXISTS {name}")


def test_data_version_moves_with_every_commit_of_any_process(tmp_path, database_url):
    """What the anonymous page cache keys on: a commit through this store or another one on
    the same database (another app process) always moves it, whatever it changed (a vote
    moves no change sequence); on SQLite reads leave it alone (PostgreSQL's moves with any
    write transaction on the server, and other tests share this one)."""
    a, b = _same_store_twice(tmp_path, database_url)
    try:
        a.upsert_papers([paper("1")])
        user = a.create_user(email="v@example.org", name="v", password_hash="h")
        seen = [a.data_version()]
        a.get_paper("1")
        a.stats()
        if database_url is None:
            assert a.data_version() == seen[-1]  # reads change nothing
        for write in (
            lambda: b.add_vote(user_id=user.id, paper_id="1"),  # another process
            lambda: a.add_comment(user_id=user.id, paper_id="1", body="hi"),  # this one
            lambda: b.remove_vote(user_id=user.id, paper_id="1"),
            lambda: a.upsert_papers([paper("1", version=2)]),
        ):
            write()
            now = a.data_version()
            assert now != seen[-1] and now not in seen
            seen.append(now)
    finally:
        a.close()
        b.close()


def test_accounts_by_email_match_as_sign_in_does(store) -> None:  # noqa: ANN001
    """`users_by_email` (the digest, a batch of subscribers at once) finds the account of an
    address exactly when `user_credentials` (sign-in, one address) does, any case and
    non-ASCII letters included, keyed by the address as asked."""
    for email in ("Alice@Example.org", "bob@example.org", "Zoë@example.org"):
        assert store.create_user(email=email, name=email[:3], password_hash="h") is not None
    asked = [
        "alice@example.org",
        "ALICE@EXAMPLE.ORG",
        "bob@example.org",
        "Bob@Example.Org",
        "zoë@example.org",
        "ZOË@example.org",
        "carol@example.org",
        "",
    ]
    expected = {e: found[0] for e in asked if (found := store.user_credentials(e)) is not None}
    assert len(expected) >= 5  # the ASCII cases at least
    assert store.users_by_email(asked) == expected
    assert store.users_by_email([]) == {}


def test_a_schema_newer_than_this_paperfeed_is_refused_by_every_command(
    tmp_path, database_url, cli, fixtures_dir
):
    """A database a newer paperfeed migrated: commands ran on it silently (only `doctor`
    said so); now each refuses in one line, naming both versions, before writing anything."""
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=tmp_path / "data", database_url=database_url)
    store = open_store(settings)  # creates and migrates the database
    known = store.schema_version()[1]
    store.close()
    newer = known + 1
    _raw_sql(settings, f"INSERT INTO schema_migrations VALUES ({newer}, '{newer}_future.sql')")
    expected = f"schema is at migration {newer}, newer than this paperfeed knows ({known})"
    for args in (
        ("stats",),
        ("ingest", str(fixtures_dir / "hf_daily_sample.jsonl"), "--no-index"),
        ("sources", "add", "cs.LG"),
        ("worker", "--until-idle"),
        ("index", "--json"),
    ):
        r = cli(*args)
        assert r.exit_code == 1, (args, r.output)
        assert r.stderr.strip().splitlines() == [f"Error: {r.stderr.strip()[7:]}"], r.stderr
        assert expected in r.stderr and "upgrade paperfeed" in r.stderr, (args, r.stderr)
    r = cli("doctor")
    assert r.exit_code == 1 and "FAIL  database" in r.stdout and expected in r.stdout
    assert _raw_sql(settings, "SELECT count(*) FROM papers") == [(0,)]  # nothing written
    assert _raw_sql(settings, "SELECT count(*) FROM followed_sources") == [(0,)]


def test_serve_refuses_a_schema_newer_than_this_paperfeed(tmp_path):
    import subprocess
    import sys

    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_DIGEST_TIME": ""}
    paperfeed = [sys.executable, "-m", "paperfeed"]
    settings = load_settings(data_dir=tmp_path / "data")
    open_store(settings).close()  # creates and migrates the database
    _raw_sql(settings, "INSERT INTO schema_migrations VALUES (9999, '9999_future.sql')")
    proc = subprocess.run(
        [*paperfeed, "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1 and "serving on" not in proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("Error: the database schema is at migration 9999")
    assert _raw_sql(settings, "SELECT count(*) FROM papers") == [(0,)]  # no sample loaded
