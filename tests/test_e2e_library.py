"""A reader's library in a real headless Chromium: save to a (hostile-named) collection, mark
read, private note, follow, export BibTeX/RIS and parse them back, "for you" with reasons and
"not interested", a private collection is a 404 for another reader."""

from __future__ import annotations

import re
from pathlib import Path

import bibtexparser
import rispy
from conftest import needs_chromium

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
HOSTILE = '<img src=x onerror=alert(1)> & "my" 100% <b>list</b>'

pytestmark = needs_chromium


def shot(page, backend: str, name: str) -> None:  # noqa: ANN001
    """A screenshot per backend: the SQLite and PostgreSQL runs may be taken at once (xdist)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"library-{name}-{backend}.png"), full_page=False)


def sign_up(page, url: str, email: str) -> None:  # noqa: ANN001
    page.goto(url + "/signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "a good long password")
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    assert email.split("@")[0] in page.locator("header .who").inner_text()


def test_library_in_a_browser(web_server, backend, browser) -> None:  # noqa: ANN001, PLR0915
    url = web_server.url
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_up(page, url, "shelf@example.org")

    # a paper page: save it into a new collection with a hostile name
    found = page.request.get(url + "/api/papers/search?q=video%20generation&limit=4").json()
    kept = [i["paper"]["id"] for i in found]
    page.goto(url + f"/papers/{kept[0]}")
    page.fill("#library input[name=name]", HOSTILE)
    page.click("#library form.newcollection button")
    page.wait_for_url(re.compile(rf"/papers/{re.escape(kept[0])}"))
    assert HOSTILE in page.locator("#library select[name=collection_id]").inner_text()
    # mark read, then a private note
    page.click("#library button.readmark")
    page.wait_for_load_state()
    assert page.locator("#library button.readmark").get_attribute("aria-pressed") == "true"
    page.fill("#note", "Reread § 3 & the 5% ablation <b>")
    page.click("#library form.noteform button")
    page.wait_for_load_state()
    assert page.locator("#note").input_value() == "Reread § 3 & the 5% ablation <b>"
    shot(page, backend, "01-paper")
    # save two more papers into the same collection from their pages
    for pid in kept[1:3]:
        page.goto(url + f"/papers/{pid}")
        page.select_option("#library select[name=collection_id]", label=HOSTILE)
        page.click("#library form.save button[value=add]")
        page.wait_for_load_state()
        assert "✓" in page.locator("#library select[name=collection_id]").inner_text()
    # follow an author of the last paper
    author = found[3]["paper"]["authors"][0]["name"]
    page.goto(url + f"/papers/{kept[3]}")
    page.click(f"#library button:has-text('Follow {author}')")
    page.wait_for_load_state()
    assert page.locator(f"#library button:has-text('Unfollow {author}')").count() == 1

    # the library page, then the collection page: the name is text, never markup
    page.goto(url + "/library")
    assert page.locator("a.collection-link").inner_text() == HOSTILE
    assert author in page.locator("#follows").inner_text()
    assert "Reread § 3" in page.locator("#notes").inner_text()
    page.click("a.collection-link")
    page.wait_for_url(re.compile(r"/collections/\d+$"))
    collection_url = page.url
    assert page.locator("h1.collection-name").inner_text() == HOSTILE
    assert page.locator("main img[src=x]").count() == 0
    saved = page.locator("main > div.cards article.card")
    assert saved.count() == 3
    assert saved.locator(".badge.read").count() == 1
    similar = page.locator("#more-like-this article.card")  # more like this collection
    assert similar.count() >= 1
    assert not {similar.nth(i).get_attribute("data-paper") for i in range(similar.count())} & set(
        kept[:3]
    )
    shot(page, backend, "02-collection")

    # exports download and parse back with titles intact
    with page.expect_download() as dl:
        page.click("a:has-text('BibTeX')")
    bib = bibtexparser.parse_string(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert not bib.failed_blocks
    assert {e.fields_dict["eprint"].value for e in bib.entries} == set(kept[:3])
    with page.expect_download() as dl:
        page.click("a:has-text('RIS')")
    ris = rispy.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    titles = {i["paper"]["id"]: i["paper"]["title"] for i in found}
    assert {r["title"] for r in ris} == {titles[p] for p in kept[:3]}

    # "for you": each item says why; "not interested" removes it at once
    page.goto(url + "/for-you")
    for _ in range(600):  # the list is retrained in the background: "Updating" until then
        if page.locator("#updating").count() == 0:
            break
        page.wait_for_timeout(200)
        page.reload()
    cards = page.locator("article.card")
    assert cards.count() >= 5
    reason = cards.first.locator("p.reason").inner_text()
    assert "which you kept" in reason
    assert any(p in reason for p in kept[:3])
    top = cards.first.get_attribute("data-paper")
    cards.first.locator("button.dismiss").click()
    page.wait_for_url(url + "/for-you")
    assert page.locator(f"article.card[data-paper='{top}']").count() == 0
    shot(page, backend, "03-for-you")

    # public: anyone may read it; private again: another reader (or anyone) gets a 404
    def set_public(public: bool) -> None:
        page.goto(collection_url)
        page.click("details.edit summary")
        box = page.locator("details.edit input[name=public]")
        box.check() if public else box.uncheck()
        page.click("details.edit button:has-text('Save')")
        page.wait_for_url(collection_url)

    other = browser.new_context()
    stranger = other.new_page()
    sign_up(stranger, url, "stranger@example.org")
    assert stranger.goto(collection_url).status == 404  # private by default
    set_public(True)
    assert stranger.goto(collection_url).status == 200
    assert stranger.locator("h1.collection-name").inner_text() == HOSTILE
    assert stranger.locator("details.edit").count() == 0  # only the owner edits
    set_public(False)
    assert stranger.goto(collection_url).status == 404
    assert stranger.goto(collection_url + "/feed.xml").status == 404
    assert page.goto(collection_url).status == 200  # still there for its owner
    other.close()
    assert dialogs == []  # no script from the name ever ran
    context.close()
