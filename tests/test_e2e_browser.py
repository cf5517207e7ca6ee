"""End to end in a real headless Chromium (Playwright + Debian's chromium).

home -> previous day -> paper page -> upvote (signed in) -> search "upper bound" -> filter ->
subscribe form, with a screenshot of every step in test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import needs_chromium

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = needs_chromium


def shot(page, backend: str, name: str) -> None:  # noqa: ANN001
    """A screenshot per backend: the SQLite and PostgreSQL runs may be taken at once (xdist)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{backend}.png"), full_page=False)


def test_daily_to_paper_upvote_search_filter_subscribe(
    web_server, backend, browser, smtp_sink
) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))

    # home: the latest day
    page.goto(web_server.url + "/")
    assert "Aug 21, 2026" in page.locator("h1").inner_text()
    assert page.locator("article.card").count() >= 5
    shot(page, backend, "01-home")

    # previous day
    page.click("a.prev")
    page.wait_for_url(re.compile(r"date=2026-08-20"))
    assert "Aug 20, 2026" in page.locator("h1").inner_text()
    shot(page, backend, "02-previous-day")

    # paper page from the first card
    title = page.locator("article.card h2.title a").first
    paper_title = title.inner_text().strip()
    title.click()
    page.wait_for_url(re.compile(r"/papers/"))
    paper_url = page.url
    assert page.locator("h1").inner_text().strip() == paper_title
    assert page.locator("a", has_text="PDF").count() >= 1
    upvotes_before = int(page.locator(".paperhead button.upvote .count").inner_text())
    shot(page, backend, "03-paper")

    # upvote: asks to sign in first, then counts once
    page.click(".paperhead button.upvote")
    page.wait_for_url(re.compile(r"/signin\?next="))
    page.click("text=Create an account")
    page.fill("input[name=email]", "browser@example.org")
    page.fill("input[name=password]", "a good long password")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(paper_url)  # back where the visitor was, now signed in
    assert "browser" in page.locator("header .who").inner_text()
    page.click(".paperhead button.upvote")
    page.wait_for_load_state()
    assert "voted" in (page.locator(".paperhead button.upvote").get_attribute("class") or "")
    assert int(page.locator(".paperhead button.upvote .count").inner_text()) == upvotes_before + 1
    shot(page, backend, "04-upvoted")

    # LaTeX in an abstract is rendered by the locally served KaTeX
    page.goto(web_server.url + "/papers/2401.12819")
    page.wait_for_selector("#abstract .katex")
    assert page.locator("#abstract .katex").count() >= 1
    shot(page, backend, "05-katex")

    # search "upper bound" from the header box
    page.fill("header input[name=q]", "upper bound")
    page.press("header input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/search\?q=upper"))
    results = page.locator("article.card").count()
    assert results >= 5
    assert page.locator("article.card:not(:has(a.code))").count() > 0
    assert page.locator("article.card mark").count() >= 1
    shot(page, backend, "06-search")

    # filter: only papers with code
    page.check("input[name=has_code]")
    page.click("button[name=apply]")
    page.wait_for_url(re.compile(r"has_code=1"))
    filtered = page.locator("article.card").count()
    # a page holds at most 20 cards and meaning fills it, so check what the cards are, not how many
    assert 0 < filtered <= results
    assert page.locator("article.card:not(:has(a.code))").count() == 0
    assert page.locator("article.card a.code").count() >= filtered
    shot(page, backend, "07-filtered")

    # subscribe box -> confirmation email on a real SMTP server -> confirm link in the browser
    web_server.settings.smtp_url = smtp_sink.url
    try:
        page.fill("#subscribe-email", "reader@example.org")
        with page.expect_navigation():
            page.click("#subscribe-form button[type=submit]")
        body = page.locator("body").inner_text()
        assert "CSRF" not in body  # the form carried a valid token
        assert "Check your inbox" in body
        assert page.url.startswith(web_server.url)
        shot(page, backend, "08-subscribed")
        (mail,) = smtp_sink.to("reader@example.org")
        text = mail.message.get_body(("plain",)).get_content()
        link = re.search(r"https?://\S+/subscriptions/confirm\?token=\S+", text)
        assert link, text
        page.goto(link.group(0))
        assert "Subscription confirmed" in page.locator("body").inner_text()
        shot(page, backend, "09-confirmed")
    finally:
        web_server.settings.smtp_url = ""

    assert not [u for u in failed if u.startswith(web_server.url)], failed
    context.close()


def test_home_fits_a_phone(web_server, backend, browser) -> None:  # noqa: ANN001
    # a phone-wide viewport, not is_mobile: a mobile browser zooms out to fit what overflows,
    # so scrollWidth never exceeded the (zoomed-out) window and this could not fail
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(web_server.url + "/")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    shot(page, backend, "09-phone-home")
    page.goto(web_server.url + "/papers/2608.17253")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    shot(page, backend, "10-phone-paper")
    context.close()


# Real arXiv listings with LaTeX: formulas in the title (from arxiv_cs_daily_sample_3000),
# \url{} and a paper's own macro in the abstract (2404.14619, from ../shared/data)
MATH_TITLES = Path(__file__).resolve().parent / "fixtures" / "web_math_titles.jsonl"

# What a card shows as text, its rendered formulas (.katex) left out: no LaTeX source may be left.
TEXT_BESIDE_MATH = """el => {
  const copy = el.cloneNode(true);
  copy.querySelectorAll('.katex').forEach(k => k.remove());
  return copy.textContent;
}"""


@pytest.fixture(scope="module")
def math_server(tmp_path_factory):  # noqa: ANN001, ANN201
    from conftest import _start_server

    yield from _start_server(tmp_path_factory.mktemp("math") / "data", extra_sources=(MATH_TITLES,))


def assert_reads_as_math(card, formulas: int) -> None:  # noqa: ANN001
    assert card.locator(".katex").count() >= formulas
    assert card.locator(".katex-error").count() == 0
    text = card.evaluate(TEXT_BESIDE_MATH)
    assert "$" not in text and "\\" not in text, text
    assert not re.search(r"\{\\?\w|\}", text), text  # no {\em ...} nor \emph{...} braces


def test_cards_render_latex_and_keep_highlighting(math_server, browser) -> None:  # noqa: ANN001
    page = browser.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # a title with a formula: rendered by KaTeX in the card, the matched word still marked
    page.goto(math_server.url + "/search?q=dispersed+subset")
    card = page.locator('article.card[data-paper="2602.04626"]')
    card.locator("h2.title .katex").first.wait_for()
    title = card.locator("h2.title a")
    assert_reads_as_math(title, 1)
    assert title.locator("mark").all_inner_texts() == ["Dispersed", "Subset"]
    abstract = card.locator(".abstract")
    assert_reads_as_math(abstract, 8)  # $N$, $d\geq 1$, $M\leq N$, ...
    assert "dispersed" in abstract.locator("mark").all_inner_texts()
    shot(page, "math", "11-search-math-title")

    # a word inside a formula: the formula is marked whole and still renders
    page.goto(math_server.url + "/search?q=geq+dispersion")
    card = page.locator('article.card[data-paper="2602.04626"]')
    card.locator(".abstract .katex").first.wait_for()
    assert_reads_as_math(card.locator(".abstract"), 8)
    assert card.locator(".abstract mark .katex").count() >= 1  # $d\geq 1$ inside its <mark>

    # old-style font switches and \sc outside formulas: {\em $\varepsilon$-differential ...}
    page.goto(math_server.url + "/search?q=differentially+private+best+arm")
    card = page.locator('article.card[data-paper="2401.09073"]')
    card.locator(".abstract .katex").first.wait_for()
    assert_reads_as_math(card, 3)
    assert "DP-BAI" in card.locator(".abstract").inner_text()

    # LaTeX commands in the text, outside any formula: \url{...}, a paper's own \model macro
    page.goto(math_server.url + "/search?q=OpenELM+corenet")
    card = page.locator('article.card[data-paper="2404.14619"]')
    card.locator(".abstract .katex").first.wait_for()  # $2\times$
    assert_reads_as_math(card, 1)
    assert "available at https://github.com/apple/corenet." in card.inner_text()

    # the paper page: title rendered, the tab title and thumbnail in Unicode
    page.goto(math_server.url + "/papers/2602.01105")
    page.locator("h1 .katex").first.wait_for()
    assert_reads_as_math(page.locator("h1"), 1)
    assert page.title().startswith(
        "OLion: Approaching the Hadamard Ideal by Intersecting Spectral and ℓ_∞"
    )
    svg = page.request.get(math_server.url + "/papers/2602.01105/thumbnail.svg").text()
    assert "ℓ" in svg and "\\ell" not in svg and "$" not in svg

    assert not errors, errors
    page.close()
