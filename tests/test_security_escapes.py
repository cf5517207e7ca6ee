"""Imported text stays text wherever it leaves paperfeed (issue 9, same-kind holes):

- the Markdown export (`/papers/{id}.md`): rendered by a CommonMark renderer, a hostile title,
  author list or abstract gives no link, image or HTML; only http(s) URLs are linked;
- the CLI: escape sequences (CSI, OSC 8 hyperlinks), BEL, other C0/C1 controls and bidi
  overrides in titles, authors, names and comments reach no terminal, on every output path.
"""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.settings import load_settings
from paperfeed.web.app import create_app

DAY = "2026-08-21"
EVIL_TITLE = (
    "Qwertyzap [click](javascript:alert(1)) ![pic](https://evil.example/p.png) "
    "<script>alert(2)</script> <img src=x onerror=alert(3)> &lt;b&gt; *em* `code` "
    "<javascript:alert(4)>"
)
EVIL_AUTHORS = ["<b onmouseover=alert(5)>Mallory</b>", "[Eve](javascript:alert(6))"]
EVIL_ABSTRACT = (
    "First qwertyzap paragraph with [a link](javascript:alert(7)).\n\n"
    "- looks like a list\n\n"
    '<iframe src="javascript:alert(8)"></iframe>\n\n'
    "[ref]: javascript:alert(9)\n\n"
    "see [ref] and ![x][ref] and 1. numbered"
)
# ESC [ 2J (clear screen), an OSC 8 hyperlink, BEL, a C1 CSI, CR, a bidi override
TERMINAL_EVIL = (
    "\x1b[2J\x1b]8;;https://evil.example\x1b\\Click\x1b]8;;\x1b\\\x07\x9b31m\rover\u202etxt.exe"
)
TEX_EVIL_TITLE = (
    r"Qwertyzap $\alpha$ \input{/etc/passwd} \immediate\write18{touch /tmp/pwned} "
    r"\def\x{1}\csname end\endcsname"
)
# What a terminal acts on: every C0 control but tab/newline, DEL, C1, bidi controls.
ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _paper(n: int, title: str, authors: list[str], abstract: str, **extra: object) -> str:
    return json.dumps(
        {
            "arxiv_id": f"2609.{n:05d}",
            "title": title,
            "abstract": abstract,
            "authors": authors,
            "categories": ["cs.CR"],
            "published": "2026-08-20T00:00:00Z",
            "daily_date": DAY,
            "upvotes": 900 + n,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("escapes")
    source = tmp / "evil.jsonl"
    rows = [
        _paper(
            101,
            EVIL_TITLE,
            EVIL_AUTHORS,
            EVIL_ABSTRACT,
            github_url="https://github.com/a/b>[x](javascript:alert(10))",
        ),
        _paper(
            102,
            f"Qwertyzap terminal {TERMINAL_EVIL}",
            [f"Ter{TERMINAL_EVIL}minal"],
            f"Qwertyzap abstract {TERMINAL_EVIL}",
        ),
        _paper(
            103,
            TEX_EVIL_TITLE,
            ["-2+3+cmd|' /C calc'!A0", '=HYPERLINK("https://evil.example","x")'],
            "Qwertyzap abstract of a paper whose title would run TeX.",
        ),
    ]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    data = tmp / "data"
    data.mkdir()
    result = CliRunner().invoke(cli_app, ["--data-dir", str(data), "ingest", str(source)])
    assert result.exit_code == 0, result.output
    return data


# --- Markdown ------------------------------------------------------------------------------


class Rendered(HTMLParser):
    """The tags, link targets and heading texts of rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._open.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src")]

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text[self._open[0]] = self.text.get(self._open[0], "") + data


def test_markdown_export_is_literal_text_with_only_http_links(data: Path) -> None:
    settings = load_settings(data_dir=data, secret_key="test-secret-key-for-web-tests")
    with TestClient(create_app(settings)) as client:
        r = client.get("/papers/2609.00101.md")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    for md in (MarkdownIt("commonmark"), MarkdownIt("gfm-like", {"linkify": False})):
        page = Rendered()
        page.feed(md.render(r.text))
        assert set(page.tags) <= {"h1", "h2", "p", "strong", "a"}, page.tags
        assert page.hrefs and all(h.startswith(("https://", "http://")) for h in page.hrefs), (
            page.hrefs
        )
        assert page.text["h1"] == " ".join(EVIL_TITLE.split())  # the title, as text
        assert "javascript:alert(9)" in page.text["p"]  # the abstract's text is all there
    assert "<https://github.com/a/b%3E[x](javascript:alert(10))>" in r.text


# --- the terminal ----------------------------------------------------------------------------


def _run(data: Path, *args: str, **kwargs: object) -> tuple[int, str]:
    # color=True: output as on a terminal (click strips nothing)
    result = CliRunner().invoke(cli_app, ["--data-dir", str(data), *args], color=True, **kwargs)  # type: ignore[arg-type]
    return result.exit_code, result.stdout + result.stderr


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in _strings(v)] if isinstance(value, list) else []


def test_cli_output_never_carries_terminal_controls(data: Path) -> None:
    env = {"PAPERFEED_NEW_PASSWORD": "correct horse battery"}
    code, out = _run(data, "users", "add", "t@example.org", "--name", f"N{TERMINAL_EVIL}", env=env)
    assert code == 0, out
    runs = [
        ("papers", "show", "2609.00102"),
        ("papers", "show", "2609.00102", "--json"),
        ("papers", "list", "--day", DAY),
        ("papers", "list", "--day", DAY, "--json"),
        ("search", "qwertyzap terminal"),
        ("search", "qwertyzap terminal", "--json"),
        ("users", "list"),
        ("users", "list", "--json"),
        (
            "library",
            "add",
            "--user",
            "t@example.org",
            "--collection",
            f"C{TERMINAL_EVIL}",
            "2609.00102",
        ),
        ("library", "list", "--user", "t@example.org"),
        ("library", "export", "--daily", DAY, "--format", "csv"),
        ("papers", "show", f"x{TERMINAL_EVIL}"),  # an error line echoing the input
    ]
    for args in runs:
        code, out = _run(data, *args)
        assert (code == 0) == (args[-1] != f"x{TERMINAL_EVIL}"), (args, code, out)
        found = ACTIVE.findall(out)
        assert not found, (args, found, out)
        if "--json" in args:  # still valid JSON, holding the very same text
            stored = (TERMINAL_EVIL, TERMINAL_EVIL.replace("\r", " "))  # importers: CR -> space
            assert any(t in s for s in _strings(json.loads(out)) for t in stored), args
    code, out = _run(data, "papers", "show", "2609.00102")
    assert "\\u001b]8;;https://evil.example" in out  # shown, visibly, not acted on
    assert "\\u202etxt.exe" in out


def test_every_cli_module_writes_through_the_one_helper() -> None:
    cli_dir = Path(__file__).resolve().parent.parent / "src" / "paperfeed" / "cli"
    offenders = []
    for path in sorted(cli_dir.glob("*.py")):
        if path.name == "common.py":  # where `say` and `echo_json` live
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("print", "typer.echo", "click.echo", "typer.secho", "sys.stdout.write"):
                    offenders.append(f"{path.name}:{node.lineno} {name}")
    assert not offenders, offenders


# --- feeds -----------------------------------------------------------------------------------


def test_rss_descriptions_are_text_that_readers_show_not_run(data: Path) -> None:
    """RSS readers render an item's <description> as HTML: an abstract carrying an <iframe>
    or <img onerror> must arrive as escaped text. Atom's content is typed text already."""
    import xml.etree.ElementTree as ET

    settings = load_settings(data_dir=data, secret_key="test-secret-key-for-web-tests")
    with TestClient(create_app(settings)) as client:
        rss = client.get("/feeds/daily.xml", params={"date": DAY})
        atom = client.get("/feeds/daily.atom", params={"date": DAY})
    assert rss.status_code == atom.status_code == 200
    items = {
        i.findtext("link", "").rsplit("/", 1)[-1]: i.findtext("description", "")
        for i in ET.fromstring(rss.content).iter("item")
    }
    html = items["2609.00101"]  # what a reader renders
    assert "<iframe" not in html and "&lt;iframe" in html, html
    page = Rendered()
    page.feed(html)
    assert not page.tags, page.tags  # no element at all: the abstract is text
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for entry in ET.fromstring(atom.content).iterfind("a:entry", ns):
        content = entry.find("a:content", ns)
        if content is not None and "qwertyzap paragraph" in (content.text or ""):
            assert content.get("type", "text") == "text"
            assert '<iframe src="javascript:alert(8)">' in (content.text or "")  # as text
            break
    else:
        raise AssertionError("the hostile paper is not in the Atom feed")


# --- BibTeX and CSV ----------------------------------------------------------------------------


def test_exports_carry_no_live_tex_commands_or_spreadsheet_formulas(data: Path) -> None:
    """A title's `\\input`, `\\write18`, `\\def` would act when a citing document is typeset:
    BibTeX writes their backslash as text (math is kept). CSV cells that start like a
    formula (`=`, `+`, `-`, `@`) are prefixed with a quote."""
    import csv
    import io

    import bibtexparser
    from pylatexenc.latex2text import LatexNodes2Text

    settings = load_settings(data_dir=data, secret_key="test-secret-key-for-web-tests")
    with TestClient(create_app(settings)) as client:
        bib = client.get("/api/papers/2609.00103/bibtex").text
        table = client.get("/api/export/daily", params={"date": DAY, "format": "csv"}).text
    live = re.findall(r"(?<!\\textbackslash\{\})\\(input|immediate|write18|def|csname)\b", bib)
    assert not live, (live, bib)
    assert r"$\alpha$" in bib  # math stays LaTeX
    entry = bibtexparser.parse_string(bib).entries[0]
    title = LatexNodes2Text().latex_to_text(entry.fields_dict["title"].value)
    assert r"\input/etc/passwd" in title and r"\write18touch /tmp/pwned" in title  # text
    rows = {r["arxiv_id"]: r for r in csv.DictReader(io.StringIO(table))}
    authors = rows["2609.00103"]["authors"]
    assert authors.startswith("'-2+3+cmd"), authors  # shown as text, not computed
