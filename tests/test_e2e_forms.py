"""The page forms as a real browser fills and sends them (headless Chromium): what the form
lets through, the server takes, and shows back as written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    _start_server,
    needs_chromium,
    subscriber_manage_token,
)

from paperfeed import accounts, library
from paperfeed.store import open_store

PAPER = "2608.17271"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The web app over SQLite: form handling does not depend on the store backend."""
    yield from _start_server(tmp_path_factory.mktemp("forms") / "data")


@pytest.fixture
def page(site: LiveServer, browser):  # noqa: ANN001, ANN201
    """A signed-up reader's browser tab."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(site.url + "/signup")
    tab.fill("input[name=email]", f"forms-{id(tab)}@example.org")
    tab.fill("input[name=password]", "correct horse battery")
    tab.click("form.stack button[type=submit]")
    tab.wait_for_load_state()
    assert tab.locator("header .who").count() == 1
    try:
        yield tab
    finally:
        context.close()


def lines_up_to(limit: int) -> str:
    """Text of exactly `limit` characters as a textarea counts them, with 40 line breaks
    (each one sent as CR LF: `limit` + 40 characters on the wire)."""
    text = ("word " * 10 + "\n") * 40
    assert len(text) < limit
    return text + "z" * (limit - len(text))


def test_a_comment_at_the_limit_with_line_breaks_is_taken_and_shown_as_written(
    site: LiveServer,
    page,  # noqa: ANN001
) -> None:
    page.goto(f"{site.url}/papers/{PAPER}")
    text = lines_up_to(accounts.MAX_COMMENT)
    box = page.locator("form.commentform textarea")
    box.fill(text)
    assert box.evaluate("e => e.value.length") == accounts.MAX_COMMENT
    assert box.evaluate("e => e.checkValidity()")  # the browser sends it
    page.click("form.commentform button[type=submit]")
    page.wait_for_load_state()
    assert "#comment-" in page.url, page.locator("main").inner_text()[:300]
    shown = page.locator(".comment .text").last.inner_text()
    assert shown.count("\n") == 40 and shown.endswith("z")  # the line breaks are kept

    page.locator("form.commentform textarea").fill("First paragraph.\n\nSecond paragraph.")
    page.click("form.commentform button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".comment .text").last.inner_text() == (
        "First paragraph.\n\nSecond paragraph."
    )


def test_a_note_at_the_limit_with_line_breaks_is_kept_and_shown_as_written(
    site: LiveServer,
    page,  # noqa: ANN001
) -> None:
    page.goto(f"{site.url}/papers/{PAPER}")
    text = lines_up_to(library.MAX_NOTE)
    box = page.locator("form.noteform textarea")
    box.fill(text)
    assert box.evaluate("e => e.checkValidity()")
    page.click("form.noteform button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("#library"), page.locator("main").inner_text()[:300]
    assert page.locator("form.noteform textarea").input_value() == text.strip()
    page.goto(f"{site.url}/library")
    shown = page.locator("#notes .note .text").first.inner_text()
    assert shown.count("\n") == 40 and shown.endswith("z")


def overflow(tab, url: str) -> int:  # noqa: ANN001
    """How far `url` scrolls sideways (0: it fits the viewport)."""
    tab.goto(url)
    return int(tab.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_long_unbroken_names_and_queries_fit_a_phone(site: LiveServer, browser) -> None:  # noqa: ANN001
    """What visitors type (an 80-character name with no space, shown in the header and as
    "submitted by" on the daily list for everyone; a 250-character query; a long id on a
    404 page) and an admin's longer menu never make a page scroll sideways on a phone."""
    # a phone-wide viewport (not is_mobile: a mobile browser zooms out to fit what overflows)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    try:
        tab.goto(site.url + "/signup")
        tab.fill("input[name=email]", "long-name@example.org")
        tab.fill("input[name=name]", "N" * 80)
        tab.fill("input[name=password]", "correct horse battery")
        tab.click("form.stack button[type=submit]")
        tab.wait_for_load_state()
        store = open_store(site.settings)  # an admin: the longest menu (Curation, Indexes)
        try:
            accounts.set_role(store, email="long-name@example.org", role="admin")
        finally:
            store.close()
        tab.goto(site.url + "/submit")
        tab.fill("input[name=arxiv_id]", "1501.05039")
        tab.click("main form button[type=submit]")
        tab.wait_for_url("**/papers/1501.05039")
        assert "N" * 80 in tab.locator("header .who").inner_text()
        for path in ("/", "/papers/1501.05039", "/library", "/curation", "/admin/search"):
            assert overflow(tab, site.url + path) <= 1, ("signed in", path)
        tab.context.clear_cookies()
        home = site.url + "/"
        assert overflow(tab, home) <= 1 and "submitted by " + "N" * 80 in tab.content()
        for path in ("/search?q=" + "a" * 250, "/papers/" + "9" * 300):
            assert overflow(tab, site.url + path) <= 1, path
    finally:
        context.close()


def test_back_after_signing_out_shows_no_private_page(site: LiveServer, page) -> None:  # noqa: ANN001
    """On a shared computer: Back after "Sign out" must not bring the reader's library (their
    private notes) back from the browser's cache."""
    page.goto(f"{site.url}/papers/{PAPER}")
    page.locator("form.noteform textarea").fill("my private note about this paper")
    page.click("form.noteform button[type=submit]")
    page.wait_for_load_state()
    response = page.goto(f"{site.url}/library")
    assert response is not None and "no-store" in response.headers.get("cache-control", "")
    assert "my private note" in page.content()
    page.click("header form button")  # Sign out
    page.wait_for_load_state()
    assert page.locator("header .who").count() == 0
    page.go_back()
    page.wait_for_load_state()
    assert "my private note" not in page.content(), page.url
    assert page.locator("header .who").count() == 0
    css = page.request.get(f"{site.url}/static/style.css")
    assert "no-store" not in css.headers.get("cache-control", "")  # static files stay cached


def test_copy_bibtex_works_on_a_plain_http_instance_and_hides_without_javascript(
    site: LiveServer,
    browser,  # noqa: ANN001
) -> None:
    """A self-hosted instance is often plain http on a LAN name, where browsers offer no
    clipboard API: the button must still copy (it threw a TypeError and did nothing). Without
    JavaScript the button, which could do nothing, is not shown."""
    port = site.url.rsplit(":", 1)[1]
    # a second Chromium of the same Playwright, resolving a LAN-like name to this server
    b = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP paperfeed.test 127.0.0.1"],
    )
    try:
        tab = b.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(f"http://paperfeed.test:{port}/papers/{PAPER}", wait_until="networkidle")
        assert tab.evaluate("window.isSecureContext") is False  # http, not localhost
        tab.click("button[data-copy]")
        assert tab.locator("button[data-copy]").inner_text() in (
            "Copied",
            "Selected: press Ctrl+C",
        )
        selected = tab.evaluate(
            "(() => { const t = document.getElementById('bibtex');"
            " return t.value.substring(t.selectionStart, t.selectionEnd); })()"
        )
        assert selected.startswith("@misc{") and not errors, errors

        no_js = b.new_context(java_script_enabled=False).new_page()
        no_js.goto(f"{site.url}/papers/{PAPER}")
        assert no_js.locator("textarea#bibtex").is_visible()  # copy by hand
        assert not no_js.locator("button[data-copy]").is_visible()
    finally:
        b.close()


def test_links_in_the_digest_preview_open_the_page(site: LiveServer, browser) -> None:  # noqa: ANN001
    """A link in the framed digest email opens its page in a new tab, as from a mail client
    (followed inside the frame, it loaded a page that refuses framing: a broken frame)."""
    token = subscriber_manage_token(site.settings, "preview-links@example.org", ["transformer"])
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    try:
        tab.goto(f"{site.url}/digest/preview?token={token}", wait_until="networkidle")
        link = tab.frame_locator("iframe.digest-preview").locator("a[href*='/papers/']").first
        href = link.get_attribute("href")
        with context.expect_page() as opened:
            link.click()
        paper = opened.value
        paper.wait_for_load_state()
        assert paper.url == href and paper.locator("h1").count() == 1
        frame = tab.frame_locator("iframe.digest-preview")
        assert frame.locator("a[href*='/papers/']").count() >= 1  # the email is still shown
    finally:
        context.close()


def test_upvote_buttons_say_what_they_do_to_a_screen_reader(site: LiveServer, page) -> None:  # noqa: ANN001
    """The upvote button's accessible name says what it does and the count ("Upvote (3)"),
    and whether the reader voted is its pressed state: a screen reader heard only the number
    (the arrow is aria-hidden, the words were a tooltip)."""
    import re

    from playwright.sync_api import expect

    upvote = re.compile(r"^Upvote \((\d+)\)$")
    page.goto(site.url + "/?date=2026-08-21")  # a day of the fixture (others may list today)
    cards = page.locator("article.card")
    assert cards.count() >= 5
    for i in range(cards.count()):
        button = cards.nth(i).get_by_role("button", name=upvote)
        assert button.count() == 1, cards.nth(i).inner_html()[:300]
    page.goto(f"{site.url}/papers/{PAPER}")
    head = page.locator(".paperhead")
    button = head.get_by_role("button", name=upvote, pressed=False)
    before = int(upvote.match(button.get_attribute("aria-label") or "")[1])
    button.click()
    page.wait_for_load_state()
    voted = head.get_by_role("button", name=f"Upvote ({before + 1})", exact=True, pressed=True)
    expect(voted).to_have_count(1)
    voted.click()  # take it back: other tests see the count as it was
    page.wait_for_load_state()
    unvoted = head.get_by_role("button", name=f"Upvote ({before})", exact=True, pressed=False)
    expect(unvoted).to_have_count(1)
