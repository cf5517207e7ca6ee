"""Issue 9.4: security headers on every response, a strict CSP that every page satisfies in
a real headless Chromium (no CSP violation, nothing loaded from another origin), and /docs
served from local assets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import LiveServer, Visitor, _start_server, needs_chromium, subscriber_manage_token

LATEX_PAPER = "2401.09073"  # abstract with $...$ rendered by KaTeX
PAPER = "2608.17271"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The web app over SQLite: what is checked here does not depend on the store backend."""
    yield from _start_server(tmp_path_factory.mktemp("headers") / "data")


def header_checks(r: httpx.Response) -> None:
    csp = r.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, (r.url, csp)
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert r.headers.get("x-frame-options") == "DENY"
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/trending",
        "/search?q=transformer",
        f"/papers/{PAPER}",
        f"/papers/{PAPER}.md",
        "/signin",
        "/signup",
        "/docs",
        "/openapi.json",
        "/api/daily_papers",
        "/feeds/daily.xml",
        "/static/style.css",
        "/static/katex/katex.min.js",
        "/static/swagger/swagger-ui-bundle.js",
        "/papers/9999.99999",  # a 404 page
        "/api/papers/9999.99999",  # a 404 JSON
    ],
)
def test_every_response_has_the_security_headers(site, path: str) -> None:  # noqa: ANN001
    r = httpx.get(site.url + path, timeout=30)
    assert r.status_code in (200, 404), (path, r.status_code)
    header_checks(r)


def test_docs_load_nothing_from_another_origin(site) -> None:  # noqa: ANN001
    page = httpx.get(site.url + "/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(urlsplit(s).netloc == "" for s in sources), sources
    assert "<script>" not in page
    # (CSRF tokens are random: one may spell "cdn")
    assert "cdn" not in re.sub(r'name="csrf_token" value="[^"]*"', "", page).lower()
    for src in sources:
        if src.startswith("/static/"):
            assert httpx.get(site.url + src).status_code == 200, src


chromium = needs_chromium

CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(' '));
});
"""


class Watch:
    """Collects CSP violations (events and console reports) and foreign requests."""

    def __init__(self, page, server: LiveServer) -> None:  # noqa: ANN001
        self.page, self.origin = page, server.url
        self.console: list[str] = []
        self.foreign: list[str] = []
        page.add_init_script(CSP_LISTENER)
        page.on("console", self._console)
        page.on("request", self._request)

    def _console(self, msg) -> None:  # noqa: ANN001
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def _request(self, request) -> None:  # noqa: ANN001
        url = request.url
        if not url.startswith((self.origin, "data:", "about:", "blob:")):
            self.foreign.append(url)

    def visit(self, path: str) -> None:
        self.page.goto(self.origin + path, wait_until="networkidle")
        self.check(path)

    def check(self, where: str) -> None:
        events = self.page.evaluate("window.__csp || []")
        assert not events and not self.console, (where, events, self.console)
        assert not self.foreign, (where, self.foreign)


@chromium
def test_every_page_runs_under_the_csp_in_chromium(site, browser) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    watch = Watch(page, site)
    try:
        for path in ("/", "/?view=week", "/trending", "/search?q=regret+bound", "/signin"):
            watch.visit(path)
        watch.visit(f"/papers/{LATEX_PAPER}")
        assert page.locator("#abstract .katex").count() >= 1  # KaTeX ran, fonts and all
        page.click("button[data-copy]")  # app.js handlers are attached
        watch.check("copy button")
        watch.visit("/papers/9999.99999")  # error page
        watch.visit("/docs")
        page.wait_for_selector(".opblock", timeout=30_000)  # Swagger UI rendered the API
        page.locator(".opblock-summary").first.click()
        watch.check("/docs operation opened")
        # signed-in pages and forms
        watch.visit("/signup")
        page.fill("input[name=email]", "csp-browser@example.org")
        page.fill("input[name=password]", "correct horse battery")
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state("networkidle")
        watch.check("after sign-up")
        watch.visit("/submit")
        watch.visit(f"/papers/{PAPER}")
        page.click("form.vote button")
        page.wait_for_load_state("networkidle")
        watch.check("after upvote")
    finally:
        context.close()


@chromium
def test_subscription_pages_and_digest_preview_under_the_csp(site, browser) -> None:  # noqa: ANN001
    token = subscriber_manage_token(site.settings, "csp-preview@example.org", ["transformer"])
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    watch = Watch(page, site)
    try:
        watch.visit(f"/subscriptions/manage?token={token}")
        watch.visit(f"/unsubscribe?token={token}")
        r = httpx.get(f"{site.url}/digest/preview/email", params={"token": token})
        csp = r.headers["content-security-policy"]
        assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
        assert "frame-ancestors 'self'" in csp and r.headers["x-frame-options"] == "SAMEORIGIN"
        page_csp = httpx.get(f"{site.url}/digest/preview", params={"token": token})
        assert "frame-ancestors 'none'" in page_csp.headers["content-security-policy"]
        watch.visit(f"/digest/preview?token={token}")  # the page and the email framed in it
        frame = page.frame_locator("iframe.digest-preview")
        assert frame.locator("body").inner_text()  # the framed email did load
    finally:
        context.close()


@chromium
def test_the_watch_sees_violations(site, browser) -> None:  # noqa: ANN001
    """The checks above can fail: a page with an inline script and style under our policy."""
    from paperfeed.web.headers import CSP

    context = browser.new_context()
    page = context.new_page()
    watch = Watch(page, site)
    page.route(
        site.url + "/csp-probe",
        lambda route: route.fulfill(
            status=200,
            headers={"content-type": "text/html", "content-security-policy": CSP},
            body="<!doctype html><p style='color:red'>x</p><script>document.title='ran'</script>",
        ),
    )
    try:
        with pytest.raises(AssertionError):
            watch.visit("/csp-probe")
        assert page.title() != "ran"  # the inline script was blocked
    finally:
        context.close()


def test_framing_is_refused(site) -> None:  # noqa: ANN001
    """Clickjacking: no page may be framed by another site (frame-ancestors + XFO)."""
    v = Visitor(site)
    try:
        for path in ("/", f"/papers/{PAPER}", "/signin"):
            r = v.http.get(path)
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert r.headers["x-frame-options"] == "DENY"
    finally:
        v.close()
