"""The curation queue in a real headless Chromium: a curator lists a paper from the queue and
it appears on today's daily list with its submitter."""

from __future__ import annotations

import re

from conftest import needs_chromium
from test_curation import PASSWORD, QUEUE_DAY, curated_server  # noqa: F401
from test_e2e_browser import shot

pytestmark = needs_chromium


def test_curator_lists_a_paper_from_the_queue(curated_server, browser) -> None:  # noqa: ANN001, F811
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{curated_server.url}/curation?date={QUEUE_DAY.isoformat()}")
    page.wait_for_url(re.compile(r"/signin"))
    page.fill("input[name=email]", "cura@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r"/curation"))
    assert page.locator("header nav a[href='/curation']").count() == 1  # curators see the link
    page.goto(f"{curated_server.url}/curation?date={QUEUE_DAY.isoformat()}")
    assert "Curation queue" in page.locator("h1").inner_text()
    first = page.locator("li.queue-item").first
    assert first.locator("ul.reasons li").count() >= 1
    title = first.locator("h2.title a").inner_text().strip()
    shot(page, "sqlite", "curation-01-queue")
    first.locator("button.list-button").click()
    page.wait_for_url(re.compile(r"listed="))
    assert "Listed" in page.locator(".listed-note").inner_text()
    shot(page, "sqlite", "curation-02-listed")
    page.goto(curated_server.url + "/")
    card = page.locator("article.card", has_text=title)
    assert card.count() == 1
    assert "submitted by cura" in card.inner_text()
    shot(page, "sqlite", "curation-03-today")
    context.close()
