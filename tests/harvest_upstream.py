"""A local stand-in for arXiv and Hugging Face on 127.0.0.1 (port 0), serving real responses.

- `/oai2`: OAI-PMH `ListRecords` pages cut from a real arXiv response (set cs, 46 records of
  2015-01-16, `tests/fixtures/arxiv_oai_listrecords_arXiv_set-cs_2015-01-16.xml`): the real
  envelope and records, `page_size` records per page with a `resumptionToken` as arXiv
  writes them, `from=` honoured on the records' datestamps, `noRecordsMatch` when empty and
  `badResumptionToken` for tokens issued before `expire_tokens()`.
- `/rss/<category>`: the real stat RSS feed of 2024-03-26 for stat categories; for others the
  same feed with its items removed (a day without announcements, as on arXiv holidays).
- `/api/daily_papers?date=`: the real HF daily JSON of that date when there is a fixture,
  else `[]`.

Faults on demand: `fail[path_prefix] = (status, body)`; `block_on` makes a matching request
wait (the test sees `blocked` set) until `release` is set.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"
OAI_FILE = FIXTURES / "arxiv_oai_listrecords_arXiv_set-cs_2015-01-16.xml"
RSS_FILE = FIXTURES / "arxiv_rss_stat_2024-03-26.xml"
HF_FILES = {
    "2024-05-27": FIXTURES / "hf_daily_papers_2024-05-27.json",
    "2026-07-09": FIXTURES / "hf_daily_papers_2026-07-09.json",
}
_RECORD = re.compile(rb"<record>.*?</record>\s*", re.S)
_DATESTAMP = re.compile(rb"<datestamp>(\d{4}-\d{2}-\d{2})</datestamp>")
_ITEM = re.compile(rb"<item\b.*?</item>\s*", re.S)


def oai_records() -> list[bytes]:
    """The real records of the OAI fixture, in order."""
    return _RECORD.findall(OAI_FILE.read_bytes())


def record_categories(record: bytes) -> set[str]:
    m = re.search(rb"<categories>([^<]*)</categories>", record)
    return set(m[1].decode().split()) if m else set()


def record_id(record: bytes) -> str:
    return re.search(rb"<id>([^<]+)</id>", record)[1].decode()


class Upstream:
    def __init__(self, page_size: int = 16) -> None:
        raw = OAI_FILE.read_bytes()
        first = _RECORD.search(raw)
        self.head = raw[: first.start()]  # envelope up to and including <ListRecords>
        self.tail = b"</ListRecords>\n</OAI-PMH>\n"
        self.records = oai_records()
        self.hf_days = dict(HF_FILES)  # date -> real HF daily JSON served for it
        self.page_size = page_size
        self.requests: list[str] = []
        self.fail: dict[str, tuple[int, bytes]] = {}
        self.epoch = 0  # tokens of older epochs have expired
        self.block_on: str | None = None
        self.blocked = threading.Event()
        self.release = threading.Event()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                upstream.requests.append(self.path)
                if upstream.block_on and upstream.block_on in self.path:
                    upstream.blocked.set()
                    upstream.release.wait(30)
                status, ctype, body = upstream.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the harvester was killed mid-request (the kill -9 test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def expire_tokens(self) -> None:
        self.epoch += 1

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # --- answers ------------------------------------------------------------------------------

    def answer(self, path: str) -> tuple[int, str, bytes]:
        for prefix, (status, body) in self.fail.items():
            if path.startswith(prefix):
                return status, "text/html", body
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/oai2":
            return 200, "text/xml", self.oai(query)
        if parts.path.startswith("/rss/"):
            return 200, "application/rss+xml", self.rss(parts.path[5:])
        if parts.path == "/api/daily_papers":
            found = self.hf_days.get(query.get("date", ""))
            return 200, "application/json", found.read_bytes() if found else b"[]"
        return 404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>"

    def oai_error(self, code: str, message: str) -> bytes:
        return self.head.replace(b"<ListRecords>", b"") + (
            f'<error code="{code}">{message}</error>\n</OAI-PMH>\n'.encode()
        )

    def oai(self, query: dict[str, str]) -> bytes:
        token = query.get("resumptionToken")
        if token:
            set_spec, start, cursor, epoch = token.split("|")
            if int(epoch) != self.epoch:
                return self.oai_error("badResumptionToken", "Invalid or expired resumptionToken")
            cursor_n = int(cursor)
        else:
            set_spec, start, cursor_n = query.get("set", ""), query.get("from", ""), 0
        matching = [
            r
            for r in self.records
            if set_spec == "cs" and _DATESTAMP.search(r)[1].decode() >= start
        ]
        if not matching:
            return self.oai_error("noRecordsMatch", "No records match")
        page = matching[cursor_n : cursor_n + self.page_size]
        after = cursor_n + len(page)
        if after < len(matching):
            element = (
                f'<resumptionToken cursor="{cursor_n}" completeListSize="{len(matching)}">'
                f"{set_spec}|{start}|{after}|{self.epoch}</resumptionToken>\n"
            )
        else:
            element = f'<resumptionToken cursor="{cursor_n}" completeListSize="{len(matching)}"/>\n'
        return self.head + b"".join(page) + element.encode() + self.tail

    def rss(self, category: str) -> bytes:
        feed = RSS_FILE.read_bytes()
        if category.startswith("stat"):
            return feed
        return _ITEM.sub(b"", feed)  # a day without announcements
