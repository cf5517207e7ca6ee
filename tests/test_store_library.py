"""The library part of the store contract, on every backend (--backend)."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.models import DailyEntry, Paper


@pytest.fixture
def store(fresh_store):  # noqa: ANN001, ANN201
    fresh_store.upsert_papers(
        [
            Paper(
                id="2401.00001",
                title="One",
                abstract="a",
                authors=["Éva Tardos", "B Bee"],
                categories=["cs.CL"],
                listing_date=date(2026, 8, 20),
            ),
            Paper(
                id="2401.00002",
                title="Two",
                abstract="b",
                authors=["C Sea"],
                categories=["cs.CV", "cs.LG"],
                listing_date=date(2026, 8, 21),
            ),
            Paper(
                id="2401.00003",
                title="Three",
                abstract="c",
                authors=["D Dee"],
                categories=["quant-ph"],
                listing_date=date(2020, 1, 1),
            ),
        ]
    )
    fresh_store.upsert_daily([DailyEntry("2401.00002", date(2026, 8, 21), upvotes=5)])
    return fresh_store


def user(store, email="r@example.org"):  # noqa: ANN001, ANN201
    return store.create_user(email=email, name=email.split("@")[0], password_hash="x")


def test_collections(store) -> None:  # noqa: ANN001
    alice, bob = user(store), user(store, "b@example.org")
    c = store.create_collection(user_id=alice.id, name="To read", public=False)
    assert (c.name, c.public, c.paper_count, c.owner) == ("To read", False, 0, alice.name)
    assert store.create_collection(user_id=alice.id, name="To read", public=True) is None
    assert store.create_collection(user_id=bob.id, name="To read", public=True) is not None
    other = store.create_collection(user_id=alice.id, name="another", public=True)
    assert [x.name for x in store.list_collections(alice.id)] == ["another", "To read"]
    assert store.add_to_collection(c.id, "2401.00001") is True
    assert store.add_to_collection(c.id, "2401.00001") is False
    assert store.add_to_collection(c.id, "2401.00002") is True
    with pytest.raises(KeyError):
        store.add_to_collection(c.id, "9999.99999")
    assert store.get_collection(c.id).paper_count == 2
    assert {p.paper.id for p in store.collection_papers(c.id)} == {"2401.00001", "2401.00002"}
    assert len(store.collection_papers(c.id, limit=1, offset=1)) == 1
    assert store.collections_with_paper(alice.id, "2401.00001") == [c.id]
    assert store.collections_with_paper(bob.id, "2401.00001") == []
    assert [x.user_id for x in store.find_collections("To read")] == [alice.id, bob.id]
    assert [x.id for x in store.find_collections("To read", user_id=alice.id)] == [c.id]
    assert store.update_collection(c.id, name="another") is None  # taken by alice
    renamed = store.update_collection(c.id, name="Later", public=True)
    assert (renamed.name, renamed.public) == ("Later", True)
    assert store.update_collection(c.id, public=False).name == "Later"
    assert store.remove_from_collection(c.id, "2401.00001") is True
    assert store.remove_from_collection(c.id, "2401.00001") is False
    assert store.delete_collection(other.id) is True
    assert store.get_collection(other.id) is None
    assert store.delete_collection(other.id) is False


def test_read_marks_notes_and_signals(store) -> None:  # noqa: ANN001
    alice = user(store)
    assert store.set_read(user_id=alice.id, paper_id="2401.00001", read=True) is True
    assert store.set_read(user_id=alice.id, paper_id="2401.00001", read=True) is False
    assert store.read_papers(alice.id, ["2401.00001", "2401.00002"]) == {"2401.00001"}
    with pytest.raises(KeyError):
        store.set_read(user_id=alice.id, paper_id="9999.99999", read=True)
    note = store.set_note(user_id=alice.id, paper_id="2401.00002", body="check & see")
    assert note.body == "check & see"
    store.set_note(user_id=alice.id, paper_id="2401.00002", body="second")
    assert store.get_note(user_id=alice.id, paper_id="2401.00002").body == "second"
    assert [n.paper_id for n in store.list_notes(alice.id)] == ["2401.00002"]
    assert store.set_note(user_id=alice.id, paper_id="2401.00002", body="") is None
    assert store.get_note(user_id=alice.id, paper_id="2401.00002") is None
    c = store.create_collection(user_id=alice.id, name="c", public=False)
    store.add_to_collection(c.id, "2401.00003")
    store.add_vote(user_id=alice.id, paper_id="2401.00002")
    assert store.dismiss(user_id=alice.id, paper_id="2401.00002") is True
    assert store.dismiss(user_id=alice.id, paper_id="2401.00002") is False
    s = store.reader_signals(alice.id)
    assert (s.upvoted, s.saved, s.read, s.dismissed) == (
        ["2401.00002"],
        ["2401.00003"],
        ["2401.00001"],
        ["2401.00002"],
    )
    before = s.fingerprint()
    stamps = [store.reader_stamp(alice.id)]
    assert store.reader_stamp(alice.id) == stamps[0]  # stable while nothing changes
    store.set_read(user_id=alice.id, paper_id="2401.00001", read=False)
    assert store.reader_signals(alice.id).fingerprint() != before
    # the cheap stamp changes with every kind of signal, added or taken back
    for change in (
        lambda: store.set_read(user_id=alice.id, paper_id="2401.00001", read=True),
        lambda: store.remove_vote(user_id=alice.id, paper_id="2401.00002"),
        lambda: store.add_vote(user_id=alice.id, paper_id="2401.00002"),
        lambda: store.remove_from_collection(c.id, "2401.00003"),
        lambda: store.add_to_collection(c.id, "2401.00003"),
        lambda: store.dismiss(user_id=alice.id, paper_id="2401.00003"),
        lambda: store.delete_collection(c.id),
    ):
        stamps.append(store.reader_stamp(alice.id))
        change()
        assert store.reader_stamp(alice.id) not in stamps
    assert store.reader_stamp(user(store, "z@example.org").id) != store.reader_stamp(alice.id)


def test_follows_and_followed_papers(store) -> None:  # noqa: ANN001
    alice = user(store)
    assert store.add_follow(user_id=alice.id, kind="author", value="Éva Tardos") is True
    assert store.add_follow(user_id=alice.id, kind="author", value="Éva Tardos") is False
    assert store.add_follow(user_id=alice.id, kind="category", value="cs.LG") is True
    assert [(f.kind, f.value) for f in store.list_follows(alice.id)] == [
        ("author", "Éva Tardos"),
        ("category", "cs.LG"),
    ]
    found = store.followed_papers(alice.id, since=date(2026, 1, 1))
    assert [p.paper.id for p in found] == ["2401.00002", "2401.00001"]  # newest first
    assert [p.paper.id for p in store.followed_papers(alice.id, since=date(2026, 8, 21))] == [
        "2401.00002"
    ]
    store.add_follow(user_id=alice.id, kind="category", value="quant-ph")
    assert "2401.00003" not in {
        p.paper.id for p in store.followed_papers(alice.id, since=date(2026, 1, 1))
    }
    assert store.remove_follow(user_id=alice.id, kind="category", value="cs.LG") is True
    assert store.remove_follow(user_id=alice.id, kind="category", value="cs.LG") is False
    assert [p.paper.id for p in store.followed_papers(alice.id, since=date(2026, 1, 1))] == [
        "2401.00001"
    ]


def test_collection_pages_read_from_either_end(store, monkeypatch) -> None:  # noqa: ANN001
    """Deep pages are read from the oldest end of the index: the same papers, same order."""
    from paperfeed.store.common import library

    store.upsert_papers(
        [Paper(id=f"2402.{i:05d}", title=f"P{i}", abstract="x", authors=["A"]) for i in range(23)]
    )
    c = store.create_collection(user_id=user(store).id, name="many", public=False)
    for i in [5, 3, 22, 0, 9, *range(23)]:  # some saved in the same instant: ties by id
        store.add_to_collection(c.id, f"2402.{i:05d}")
    everything = [p.paper.id for p in store.collection_papers(c.id, limit=100)]
    assert len(everything) == 23
    monkeypatch.setattr(library, "DEEP_OFFSET", 0)
    for limit in (1, 4, 10, 23, 30):
        for offset in range(26):
            page = store.collection_papers(c.id, limit=limit, offset=offset)
            assert [p.paper.id for p in page] == everything[offset : offset + limit]


def test_followed_papers_window(store) -> None:  # noqa: ANN001
    """A paper's day is its daily-list day, else its listing date, else its publication."""
    from datetime import UTC, datetime

    store.upsert_papers(
        [
            Paper(
                id="2403.00001",
                title="Published only",
                abstract="a",
                authors=["Ada"],
                published=datetime(2026, 8, 22, 17, 0, tzinfo=UTC),
            ),
            Paper(
                id="2403.00002",
                title="Listed late, on an old daily list",
                abstract="b",
                authors=["Ada"],
                listing_date=date(2026, 8, 23),
            ),
            Paper(
                id="2403.00003",
                title="Published the day before",
                abstract="c",
                authors=["Ada"],
                published=datetime(2026, 8, 21, 23, 59, tzinfo=UTC),
            ),
        ]
    )
    store.upsert_daily([DailyEntry("2403.00002", date(2026, 8, 1), upvotes=1)])
    alice = user(store)
    store.add_follow(user_id=alice.id, kind="author", value="Ada")
    found = store.followed_papers(alice.id, since=date(2026, 8, 22))
    assert [p.paper.id for p in found] == ["2403.00001"]
    found = store.followed_papers(alice.id, since=date(2026, 8, 1))
    assert [p.paper.id for p in found] == ["2403.00001", "2403.00003", "2403.00002"]
