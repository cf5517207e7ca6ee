"""URL import against a real HTTP server on 127.0.0.1 serving the fixtures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from paperfeed import __version__
from paperfeed.ingest.fetch import FetchError, FetchPolicy, fetch_pages

FIXTURES = Path(__file__).parent / "fixtures"
RAW1 = "arxiv_oai_listrecords_arXivRaw_page1.xml"
RAW2 = "arxiv_oai_listrecords_arXivRaw_page2.xml"


@dataclass
class Server:
    base: str
    hits: list[tuple[str, str, float]] = field(default_factory=list)  # path, UA, time
    failures_left: dict[str, int] = field(default_factory=dict)


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def send(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            server.hits.append((self.path, self.headers.get("User-Agent", ""), time.monotonic()))
            kind, _, name = url.path.strip("/").partition("/")
            if kind == "fixtures" and (FIXTURES / name).is_file():
                self.send(200, (FIXTURES / name).read_bytes())
            elif kind == "flaky":  # 503 + Retry-After once, then the file
                if server.failures_left.setdefault(self.path, 1) > 0:
                    server.failures_left[self.path] -= 1
                    self.send(503, b"busy", Retry_After="1")
                else:
                    self.send(200, (FIXTURES / name).read_bytes())
            elif kind == "down":  # always failing
                self.send(500, b"internal error")
            elif kind == "oai":
                query = parse_qs(url.query)
                if query.get("resumptionToken") == ["6960524|1001"]:
                    self.send(200, (FIXTURES / RAW2).read_bytes())
                elif query.get("metadataPrefix") == ["arXivRaw"]:
                    self.send(200, (FIXTURES / RAW1).read_bytes())
                else:
                    self.send(400, b"bad arguments")
            else:
                self.send(404, b"not found")

    return Handler


@pytest.fixture
def http_server() -> Iterator[Server]:
    state = Server(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def quick_fetch(monkeypatch):
    """Keep the per-host interval short so the tests stay fast."""
    monkeypatch.setenv("PAPERFEED_FETCH_INTERVAL", "0.05")


def policy(**overrides) -> FetchPolicy:
    values = {"user_agent": "paperfeed-test", "min_interval": 0.0, "backoff": 0.05}
    return FetchPolicy(**(values | overrides))


def test_ingest_a_fixture_by_url(cli, http_server, quick_fetch):
    url = f"{http_server.base}/fixtures/arxiv_api_query_all-science_2019-08-10.xml"
    result = cli("ingest", "--no-index", url)
    assert result.exit_code == 0, result.output
    assert "added 10, updated 0, unchanged 0 papers" in result.stdout
    ua = http_server.hits[0][1]
    assert ua == f"paperfeed/{__version__} (+http://127.0.0.1:8000)"


def test_oai_resumption_tokens_are_followed(cli, http_server, quick_fetch):
    url = f"{http_server.base}/oai?verb=ListRecords&metadataPrefix=arXivRaw&set=cs"
    result = cli("ingest", "--no-index", url)
    assert result.exit_code == 0, result.output
    assert "added 4, updated 0, unchanged 0 papers" in result.stdout
    paths = [hit[0] for hit in http_server.hits]
    assert paths == [
        "/oai?verb=ListRecords&metadataPrefix=arXivRaw&set=cs",
        "/oai?verb=ListRecords&resumptionToken=6960524%7C1001",
    ]
    shown = cli("papers", "show", "2402.10102", "--json")
    assert '"version": 2' in shown.stdout


def test_requests_to_one_host_are_spaced(http_server):
    url = f"{http_server.base}/oai?verb=ListRecords&metadataPrefix=arXivRaw"
    pages = list(fetch_pages(url, policy=policy(min_interval=0.4)))
    assert len(pages) == 2
    (_, _, first), (_, _, second) = http_server.hits
    assert second - first >= 0.35


def test_503_retry_after_is_honoured(cli, http_server, quick_fetch):
    url = f"{http_server.base}/flaky/hf_daily_papers_2024-05-27.json"
    result = cli("ingest", "--no-index", url)
    assert result.exit_code == 0, result.output
    assert "added 13" in result.stdout and "daily list +13" in result.stdout
    (_, _, first), (_, _, second) = http_server.hits
    assert second - first >= 0.95  # waited the second Retry-After asked for


def test_server_errors_are_retried_with_backoff_then_fail(http_server):
    url = f"{http_server.base}/down/x"
    with pytest.raises(FetchError, match=r"failed after 3 attempts \(HTTP 500\)"):
        list(fetch_pages(url, policy=policy(retries=2, backoff=0.1)))
    times = [hit[2] for hit in http_server.hits]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.09 and times[2] - times[1] >= 0.19  # doubling


def test_connection_errors_are_retried_then_fail(http_server, closed_port):
    with pytest.raises(FetchError, match="failed after 2 attempts.*Connect"):
        list(fetch_pages(f"http://127.0.0.1:{closed_port}/x", policy=policy(retries=1)))


def test_missing_page_is_one_clear_error(cli, http_server, quick_fetch):
    result = cli("ingest", "--no-index", f"{http_server.base}/nothing-here.xml")
    assert result.exit_code == 1
    assert f"Error: {http_server.base}/nothing-here.xml: HTTP 404 (not retried)" in result.stderr
    assert "Traceback" not in result.output
    assert len(http_server.hits) == 1
