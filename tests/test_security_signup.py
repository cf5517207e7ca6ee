"""Issue 9.7 over HTTP with a real SMTP server: sign-up answers the same for new and known
addresses and says by email what happened; the account exists only once the emailed link
is used (once)."""

from __future__ import annotations

import re

from conftest import Visitor

from paperfeed.store import open_store


def _main(html: str) -> str:
    """The visible answer, without the per-visitor CSRF tokens."""
    main = re.search(r"<main>(.*)</main>", html, re.S).group(1)
    return re.sub(r'name="csrf_token" value="[^"]+"', "", main)


def test_sign_up_answers_the_same_for_known_and_new_addresses(server, sink) -> None:  # noqa: ANN001
    owner = Visitor(server)
    owner.sign_up("known@example.org", sink=sink)
    assert owner.http.get("/api/whoami").json()["email"] == "known@example.org"
    owner.close()

    known, new = Visitor(server), Visitor(server)
    try:
        a = known.post_form(
            "/signup", {"email": "known@example.org", "password": "another password"}
        )
        b = new.post_form("/signup", {"email": "fresh@example.org", "password": "another password"})
        assert a.status_code == b.status_code == 200
        assert _main(a.text) == _main(b.text) and "Check your inbox" in a.text
        assert "already" not in _main(a.text).split("Check your inbox")[0]
        for r in (a, b):
            assert "pf_session" not in r.headers.get("set-cookie", "")
        # The email says what happened.
        notice = sink.wait_for("known@example.org", subject="Someone tried")
        text = notice.message.get_body(preferencelist=("plain",)).get_content()
        assert "already has one" in text and "nothing was changed" in text
        assert "/signup/verify" not in text
        invite = sink.wait_for("fresh@example.org", subject="Finish creating")
        assert (
            "/signup/verify?token="
            in invite.message.get_body(preferencelist=("plain",)).get_content()
        )
        # The known account is untouched: its old password still works, the new one does not.
        assert known.sign_in("known@example.org", "another password").status_code == 400
        assert known.sign_in("known@example.org").status_code == 303
    finally:
        known.close()
        new.close()


def test_account_is_created_only_by_the_emailed_link_once(server, sink) -> None:  # noqa: ANN001
    v = Visitor(server)
    try:
        r = v.post_form("/signup", {"email": "linked@example.org", "password": "linked password"})
        assert r.status_code == 200
        store = open_store(server.settings)
        try:
            assert store.user_credentials("linked@example.org") is None  # not before the link
        finally:
            store.close()
        assert v.sign_in("linked@example.org", "linked password").status_code == 400
        mail = sink.wait_for("linked@example.org", subject="Finish creating")
        body = mail.message.get_body(preferencelist=("plain",)).get_content()
        path = re.search(r"https?://\S+(/signup/verify\?token=[\w.\-=%]+)", body).group(1)
        assert "Create my account" in v.http.get(path).text  # a GET (link scanner) creates none
        store = open_store(server.settings)
        try:
            assert store.user_credentials("linked@example.org") is None
        finally:
            store.close()
        v.follow_signup_link(mail)
        assert v.http.get("/api/whoami").json()["email"] == "linked@example.org"
        # the link works once
        other = Visitor(server)
        token = re.search(r'name="token" value="([^"]+)"', other.http.get(path).text).group(1)
        again = other.post_form("/signup/verify", {"token": token}, page=path)
        assert again.status_code == 400 and "already used" in again.text
        other.close()
        # the password chosen at sign-up is the account's
        fresh = Visitor(server)
        assert fresh.sign_in("linked@example.org", "linked password").status_code == 303
        fresh.close()
    finally:
        v.close()
