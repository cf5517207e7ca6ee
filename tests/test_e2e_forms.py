"""The page forms as a real browser fills and sends them (headless Chromium): what the form
lets through, the server takes, and shows back as written."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LiveServer, _start_server

from paperfeed import accounts, library

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAPER = "2608.17271"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs the Debian chromium package (/usr/bin/chromium)"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The web app over SQLite: form handling does not depend on the store backend."""
    yield from _start_server(tmp_path_factory.mktemp("forms") / "data")


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


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
