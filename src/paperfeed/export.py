"""Papers as BibTeX, RIS, CSV and Markdown (for citing, reference managers, LLM readers)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from paperfeed.errors import BadRequest
from paperfeed.models import Paper, StoredPaper
from paperfeed.urls import http_url

# Characters that mean something to (La)TeX/BibTeX in running text, with their escapes.
_TEXT_ESCAPES = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# TeX primitives and macros that read or write files, run programs or redefine things: in a
# title they would act when a citing document is typeset (`\input{/etc/passwd}`), so their
# backslash is written as text. Every other LaTeX command (math, accents) is kept.
_DANGEROUS_TEX = re.compile(
    r"\\(?=(?:input|include|includeonly|InputIfFileExists|IfFileExists|openin|openout|read|"
    r"readline|write|write18|immediate|closein|closeout|special|catcode|def|edef|gdef|xdef|"
    r"let|futurelet|csname|expandafter|newcommand|renewcommand|providecommand|DeclareRobust"
    r"Command|usepackage|RequirePackage|documentclass|lstinputlisting|verbatiminput|"
    r"directlua|luaexec|ShellEscape|pdfshellescape)(?![A-Za-z]))"
)
_TRAILING_BACKSLASHES = re.compile(r"\\+$")
_ESCAPED_BRACE = re.compile(r"\\[{}]")
# Inline math ($...$ with no $ inside, not starting or ending with a space) is kept as LaTeX.
_MATH = re.compile(r"(?<!\\)\$(?=\S)[^$]+?(?<=\S)(?<!\\)\$")
# Letters NFKD does not split into base letter + accent.
_ASCII_LETTERS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "ı": "i",
    }
)


def arxiv_abs_url(paper_id: str) -> str:
    return f"https://arxiv.org/abs/{paper_id}"


def arxiv_pdf_url(paper_id: str) -> str:
    return f"https://arxiv.org/pdf/{paper_id}"


_SPECIAL = re.compile(r"(?<!\\)[&%$#_~^]")  # a special character not after a backslash
_AND = re.compile(r"\sand\s", re.IGNORECASE)


def _escape_text(text: str) -> str:
    """Escape TeX's special characters in running text; LaTeX commands already there stay."""
    return _SPECIAL.sub(lambda m: _TEXT_ESCAPES[m[0]], text)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _balance_braces(text: str) -> str:
    """`text`, or `text` without its braces when they do not balance both as BibTeX counts
    them (every brace) and as TeX and bibtexparser do (`\\{` and `\\}` are not groups):
    either way an unbalanced one would end the field early or swallow the rest."""
    if "{" not in text and "}" not in text:
        return text
    if _balanced(text) and _balanced(_ESCAPED_BRACE.sub("", text)):
        return text
    return _ESCAPED_BRACE.sub("", text).replace("{", "").replace("}", "")


def bib_text(text: str) -> str:
    """Text for a braced BibTeX field: one line, specials escaped, inline math kept, braces
    balanced (BibTeX counts every brace, so an unbalanced one is dropped)."""
    text = _balance_braces(" ".join(text.split()))
    if "\\" in text:
        text = _DANGEROUS_TEX.sub(r"\\textbackslash{}", text)
        # a backslash at the end would escape the field's closing brace (`{title \}`)
        text = _TRAILING_BACKSLASHES.sub(lambda m: r"\textbackslash{}" * len(m[0]), text)
    if "$" not in text:
        return _escape_text(text)
    parts, last = [], 0
    for m in _MATH.finditer(text):
        parts.append(_escape_text(text[last : m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(_escape_text(text[last:]))
    return "".join(parts)


def bib_verbatim(text: str) -> str:
    """Text for a field biber reads verbatim (doi, primaryClass): one line, braces balanced,
    no backslash escaping the closing brace; nothing else is escaped."""
    return _balance_braces(" ".join(text.split())).rstrip("\\")


def bib_name(name: str) -> str:
    """An author for BibTeX's `author` list: a name holding " and " is braced whole."""
    value = bib_text(name)
    return f"{{{value}}}" if _AND.search(value) else value


def ascii_letters(text: str) -> str:
    """`text` without accents, special letters spelled out ("Marjanović" -> "Marjanovic")."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def paper_year(p: Paper) -> int | None:
    """Year of first version: published, else the announce date (RSS), else the new-style id."""
    if p.published:
        return p.published.year
    if p.listing_date:
        return p.listing_date.year
    m = re.match(r"^(\d{2})(\d{2})\.\d{4,5}$", p.id)
    return 2000 + int(m[1]) if m else None


def citation_key(item: StoredPaper) -> str:
    p = item.paper
    first = p.authors[0].split()[-1] if p.authors else "anon"
    surname = re.sub(r"[^A-Za-z]", "", ascii_letters(first)).lower() or "anon"
    year = paper_year(p) or ""
    title = re.sub(r"\$[^$]*\$|\\[A-Za-z]+", " ", ascii_letters(p.title))  # no math, no macros
    word = next((w.lower() for w in re.findall(r"[A-Za-z]{4,}", title)), "paper")
    return f"{surname}{year}{word}"


def bibtex(item: StoredPaper, key: str | None = None) -> str:
    """An @misc entry in the form arXiv itself offers (under `key`, else `citation_key`)."""
    p = item.paper
    fields = [
        ("title", bib_text(p.title)),
        ("author", " and ".join(n for n in map(bib_name, p.authors) if n)),
        ("year", str(paper_year(p) or "")),
        ("eprint", p.id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", bib_verbatim(p.primary_category or "")),
        ("url", arxiv_abs_url(p.id)),
    ]
    if p.doi:
        fields.append(("doi", bib_verbatim(p.doi)))  # verbatim field for biber: no escaping
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
    return f"@misc{{{key or citation_key(item)},\n{body}\n}}\n"


# Markdown: every character that can start inline markup (links, images, raw HTML,
# entities, emphasis, code, tables) is backslash-escaped (CommonMark allows it before any
# ASCII punctuation); a line starting like a list, quote, heading or rule is escaped too.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&!|~#])")
_MD_LINE_START = re.compile(r"^(?:([-+=])|(\d+)(?=[.)]))")


def md_text(text: str) -> str:
    """`text` as literal Markdown text on one line: no markup, link, image or HTML can come
    out of it, and it cannot open a block of its own."""
    escaped = _MD_INLINE.sub(r"\\\1", " ".join(text.split()))
    return _MD_LINE_START.sub(lambda m: "\\" + m[1] if m[1] else m[2] + "\\", escaped)


def _md_paragraphs(text: str) -> str:
    """Paragraphs of `text` (kept apart by blank lines), each as literal Markdown text."""
    paragraphs = (md_text(p) for p in re.split(r"\n\s*\n", text.strip()))
    return "\n\n".join(p for p in paragraphs if p)


def md_link(url: str | None) -> str | None:
    """An autolink for an http(s) `url`; None for anything else (no other scheme is linked)."""
    safe = http_url(url)
    if safe is None:
        return None
    return "<" + safe.replace("<", "%3C").replace(">", "%3E") + ">"


def markdown(item: StoredPaper, base_url: str = "") -> str:
    """The paper as a Markdown document: the paper's own text is escaped (literal text) and
    only http(s) URLs become links."""
    p = item.paper
    lines = [f"# {md_text(p.title)}", ""]
    if p.authors:
        lines += [f"**Authors:** {md_text(', '.join(p.authors))}", ""]
    paper_id = quote(p.id, safe="/.:")
    meta = [
        f"arXiv: [{md_text(p.id)}](<{arxiv_abs_url(paper_id)}>)",
        f"[PDF](<{arxiv_pdf_url(paper_id)}>)",
    ]
    if p.published:
        meta.append(f"published {p.published.date().isoformat()}")
    elif p.listing_date:
        meta.append(f"announced {p.listing_date.isoformat()}")
    if p.categories:
        meta.append("categories " + md_text(", ".join(p.categories)))
    meta.append(f"{item.upvotes} upvotes")
    lines += [" · ".join(meta), ""]
    for label, url in (("Code", p.code_url), ("Project page", p.project_url)):
        link = md_link(url)
        if link:
            lines += [f"**{label}:** {link}", ""]
    lines += ["## Abstract", "", _md_paragraphs(p.abstract), ""]
    page = md_link(f"{base_url.rstrip('/')}/papers/{paper_id}") if base_url else None
    if page:
        lines += [f"Paper page: {page}", ""]
    return "\n".join(lines)


# -- many papers at once: BibTeX, RIS and CSV files (collections, searches, daily lists) ---

EXPORT_FORMATS = ("bibtex", "ris", "csv")
_MEDIA = {
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}
CSV_COLUMNS = (
    "arxiv_id",
    "title",
    "authors",
    "year",
    "published",
    "primary_category",
    "categories",
    "doi",
    "url",
    "pdf_url",
    "upvotes",
    "abstract",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(slots=True)
class ExportFile:
    body: str
    media_type: str
    filename: str


def bibtex_file(items: Sequence[StoredPaper]) -> str:
    """One @misc entry per paper (the writer of `bibtex`), citation keys made unique."""
    seen: dict[str, int] = {}
    entries = []
    for item in items:
        key = citation_key(item)
        n = seen.get(key, 0)
        seen[key] = n + 1
        entries.append(bibtex(item, key + _key_suffix(n) if n else key))
    return "\n".join(entries)


def _key_suffix(n: int) -> str:
    """b, c, ..., z, ba, bb, ... (the first paper keeps the plain key)."""
    letters = ""
    while True:
        n, r = divmod(n, 26)
        letters = chr(ord("a") + r) + letters
        if n == 0:
            return letters


def _ris_value(text: str) -> str:
    return " ".join(text.split())


def ris_file(items: Sequence[StoredPaper]) -> str:
    """RIS records (Zotero, EndNote, Mendeley): one `TY  - UNPB` record per preprint."""
    out: list[str] = []
    for item in items:
        p = item.paper
        lines = [("TY", "UNPB"), ("TI", _ris_value(p.title))]
        lines += [("AU", _ris_value(a)) for a in p.authors]
        if p.published:
            lines += [("PY", str(p.published.year)), ("DA", p.published.strftime("%Y/%m/%d"))]
        elif year := paper_year(p):  # the announce date or the id's, as BibTeX's year
            lines.append(("PY", str(year)))
        lines += [("AB", _ris_value(p.abstract)), ("UR", arxiv_abs_url(p.id))]
        lines += [("L1", arxiv_pdf_url(p.id)), ("AN", f"arXiv:{p.id}"), ("PB", "arXiv")]
        lines += [("KW", _ris_value(c)) for c in p.categories]
        if p.doi:
            lines.append(("DO", _ris_value(p.doi)))
        if p.journal_ref:
            lines.append(("N1", _ris_value(p.journal_ref)))
        out += [f"{tag}  - {value}" for tag, value in lines if value]
        out += ["ER  - ", ""]
    return "\r\n".join(out)


def _csv_cell(value: str) -> str:
    """Keep spreadsheets from running a cell as a formula (a leading ' is shown, not run)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_file(items: Sequence[StoredPaper]) -> str:
    """A CSV table (RFC 4180, header row), one paper per row; authors joined by '; '."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        p = item.paper
        row = [
            p.id,
            p.title,
            "; ".join(p.authors),
            str(paper_year(p) or ""),
            p.published.date().isoformat() if p.published else "",
            p.primary_category or "",
            " ".join(p.categories),
            p.doi or "",
            arxiv_abs_url(p.id),
            arxiv_pdf_url(p.id),
            str(item.upvotes),
            p.abstract,
        ]
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue()


def export_file(items: Sequence[StoredPaper], fmt: str, name: str = "papers") -> ExportFile:
    """`items` as a downloadable BibTeX, RIS or CSV file named after `name`."""
    if fmt not in EXPORT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    body = {"bibtex": bibtex_file, "ris": ris_file, "csv": csv_file}[fmt](items)
    media, ext = _MEDIA[fmt]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:60] or "papers"
    return ExportFile(body, media, f"{stem}.{ext}")
