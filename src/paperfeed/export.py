"""A paper as BibTeX and as Markdown (for citing and for LLM/agent readers)."""

from __future__ import annotations

import re

from paperfeed.models import Paper, StoredPaper

_BIB_SPECIAL = re.compile(r"([{}])")


def arxiv_abs_url(paper_id: str) -> str:
    return f"https://arxiv.org/abs/{paper_id}"


def arxiv_pdf_url(paper_id: str) -> str:
    return f"https://arxiv.org/pdf/{paper_id}"


def _bib_value(text: str) -> str:
    """Text safe inside a braced BibTeX field: balanced braces, single line."""
    text = " ".join(text.split())
    if text.count("{") != text.count("}"):
        text = text.replace("{", "").replace("}", "")
    return text


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
    surname = re.sub(r"[^A-Za-z]", "", first).lower() or "anon"
    year = paper_year(p) or ""
    word = next((w.lower() for w in re.findall(r"[A-Za-z]{4,}", p.title)), "paper")
    return f"{surname}{year}{word}"


def bibtex(item: StoredPaper) -> str:
    """An @misc entry in the form arXiv itself offers."""
    p = item.paper
    fields = [
        ("title", _bib_value(p.title)),
        ("author", " and ".join(_bib_value(a) for a in p.authors)),
        ("year", str(paper_year(p) or "")),
        ("eprint", p.id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", p.primary_category or ""),
        ("url", arxiv_abs_url(p.id)),
    ]
    if p.doi:
        fields.append(("doi", p.doi))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
    return f"@misc{{{citation_key(item)},\n{body}\n}}\n"


def markdown(item: StoredPaper, base_url: str = "") -> str:
    """The paper as a Markdown document."""
    p = item.paper
    lines = [f"# {p.title}", ""]
    if p.authors:
        lines += [f"**Authors:** {', '.join(p.authors)}", ""]
    meta = [f"arXiv: [{p.id}]({arxiv_abs_url(p.id)})", f"[PDF]({arxiv_pdf_url(p.id)})"]
    if p.published:
        meta.append(f"published {p.published.date().isoformat()}")
    elif p.listing_date:
        meta.append(f"announced {p.listing_date.isoformat()}")
    if p.categories:
        meta.append("categories " + ", ".join(p.categories))
    meta.append(f"{item.upvotes} upvotes")
    lines += [" · ".join(meta), ""]
    if p.code_url:
        lines += [f"**Code:** <{p.code_url}>", ""]
    if p.project_url:
        lines += [f"**Project page:** <{p.project_url}>", ""]
    lines += ["## Abstract", "", p.abstract.strip(), ""]
    if base_url:
        lines += [f"Paper page: {base_url.rstrip('/')}/papers/{p.id}", ""]
    return "\n".join(lines)
