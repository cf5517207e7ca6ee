"""Store contract (every backend) for the security-related methods: single-use confirmation
nonces, the saved-search cap, all-or-nothing bounded throttles, pending sign-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperfeed.models import PendingSignup


def test_confirm_nonce_is_single_use_and_voided_by_changes(fresh_store) -> None:  # noqa: ANN001
    sub, _ = fresh_store.add_subscriber(email="n@example.org")
    fresh_store.set_confirm_nonce(sub.id, "one")
    fresh_store.set_confirm_nonce(sub.id, "two")  # a newer link replaces the older
    assert not fresh_store.take_confirm_nonce(sub.id, "one")
    assert fresh_store.take_confirm_nonce(sub.id, "two")
    assert not fresh_store.take_confirm_nonce(sub.id, "two")  # once
    fresh_store.set_confirm_nonce(sub.id, "three")
    fresh_store.update_subscriber(sub.id, status="unsubscribed")
    assert not fresh_store.take_confirm_nonce(sub.id, "three")  # a later change voids it


def test_saved_search_limit(fresh_store) -> None:  # noqa: ANN001
    sub, _ = fresh_store.add_subscriber(email="cap@example.org")
    for n in range(3):
        assert fresh_store.add_saved_search(subscriber_id=sub.id, query=f"q{n}", limit=3)
    assert fresh_store.add_saved_search(subscriber_id=sub.id, query="q4", limit=3) is None
    again = fresh_store.add_saved_search(subscriber_id=sub.id, query="q1", limit=3)
    assert again is not None and again.query == "q1"  # one it already has is fine
    assert len(fresh_store.get_subscriber(sub.id).searches) == 3


def test_throttle_take_is_all_or_nothing(fresh_store) -> None:  # noqa: ANN001
    now = 1_000_000.0
    take = fresh_store.throttle_take
    assert take([("a", 2), ("b", 5)], window_s=60, now=now)
    assert take([("a", 2), ("b", 5)], window_s=60, now=now + 1)
    # "a" has used its 2: refused, and "b" is not counted either
    assert not take([("a", 2), ("b", 5)], window_s=60, now=now + 2)
    assert take([("b", 3)], window_s=60, now=now + 3)  # b stands at 3 now, not 4
    assert not take([("b", 3)], window_s=60, now=now + 4)
    assert take([("a", 2)], window_s=60, now=now + 61)  # a new window
    fresh_store.throttle_clear("b")
    assert take([("b", 1)], window_s=60, now=now + 5)


def test_throttle_wait_is_the_time_left_in_the_refusing_window(fresh_store) -> None:  # noqa: ANN001
    now = 2_000_000.0
    take, wait = fresh_store.throttle_take, fresh_store.throttle_wait
    assert take([("a", 1)], window_s=60, now=now)
    assert take([("b", 1)], window_s=60, now=now + 20)
    assert take([("c", 5)], window_s=60, now=now + 25)
    assert wait([("c", 5)], window_s=60, now=now + 30) == 0.0  # room left: no wait
    assert wait([("a", 1)], window_s=60, now=now + 30) == 30.0
    # several spent keys: the request has room only when the latest window ends
    assert wait([("a", 1), ("b", 1), ("c", 5)], window_s=60, now=now + 30) == 50.0
    assert wait([("nobody", 1)], window_s=60, now=now) == 0.0


def test_throttle_rows_are_capped(fresh_store) -> None:  # noqa: ANN001
    for i in range(30):
        fresh_store.throttle_take([(f"k{i}", 5)], window_s=60, now=5e6 + i, max_rows=10)
    # the newest keys are kept: the oldest windows went first
    assert not fresh_store.throttle_take([("k29", 1)], window_s=60, now=5e6 + 30, max_rows=10)
    assert fresh_store.throttle_take([("k0", 1)], window_s=60, now=5e6 + 31, max_rows=10)


def test_pending_signups(fresh_store) -> None:  # noqa: ANN001
    later = datetime.now(UTC) + timedelta(hours=1)

    def pending(email: str, expires: datetime = later) -> PendingSignup:
        return PendingSignup(
            email=email, name="n", password_hash="h", next_path="/x", expires_at=expires
        )

    fresh_store.add_pending_signup(token_hash="t1", signup=pending("p@example.org"))
    fresh_store.add_pending_signup(token_hash="t2", signup=pending("P@example.org"))
    assert fresh_store.take_pending_signup("t1") is None  # replaced: one per address
    got = fresh_store.take_pending_signup("t2")
    assert got is not None and got.next_path == "/x" and got.email == "P@example.org"
    assert fresh_store.take_pending_signup("t2") is None  # taken once
    old = datetime.now(UTC) - timedelta(seconds=1)
    fresh_store.add_pending_signup(token_hash="t3", signup=pending("q@example.org", old))
    assert fresh_store.take_pending_signup("t3") is None  # expired
    for i in range(5):
        fresh_store.add_pending_signup(
            token_hash=f"c{i}", signup=pending(f"c{i}@example.org"), max_rows=3
        )
    assert fresh_store.take_pending_signup("c0") is None  # capped: oldest dropped
    assert fresh_store.take_pending_signup("c4") is not None
