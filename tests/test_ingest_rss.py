"""arXiv listing feeds: RSS 2.0 (real feed) and Atom."""

from __future__ import annotations

from collections import Counter
from datetime import date

from paperfeed.ingest import ingest_sources
from paperfeed.ingest.arxiv_rss import parse_arxiv_feed
from paperfeed.ingest.records import Record

RSS = "arxiv_rss_stat_2024-03-26.xml"
ATOM = "arxiv_atom_stat_2024-03-26.xml"


def parse(path):
    with path.open("rb") as f:
        items = list(parse_arxiv_feed(f, path.name))
    assert all(isinstance(i, Record) for i in items)
    return [i.paper for i in items]


def test_rss_items_with_their_fields(fixtures_dir):
    papers = parse(fixtures_dir / RSS)
    assert len(papers) == 123
    first = papers[0]
    assert (first.id, first.version) == ("2403.15527", 1)
    assert first.title == "Conformal online model aggregation"
    assert first.authors == ["Matteo Gasparin", "Aaditya Ramdas"]
    assert first.categories == ["stat.ML", "cs.LG"]
    assert first.abstract.startswith("Conformal prediction equips machine learning models")
    assert not first.abstract.startswith("arXiv:")
    assert first.listing_date == date(2024, 3, 26)


def test_every_announce_type_produces_the_paper(fixtures_dir):
    text = (fixtures_dir / RSS).read_text()
    types = Counter(
        line.strip()[len("<arxiv:announce_type>") : -len("</arxiv:announce_type>")]
        for line in text.splitlines()
        if "<arxiv:announce_type>" in line
    )
    assert types == {"new": 35, "cross": 27, "replace": 41, "replace-cross": 20}
    papers = parse(fixtures_dir / RSS)
    listed = [p for p in papers if p.listing_date]
    assert len(listed) == 35 + 27  # replacements are not first announcements
    replaced = next(p for p in papers if p.id == "2008.12927")
    assert replaced.version == 3 and replaced.listing_date is None


def test_atom_listing_matches_rss(fixtures_dir):
    atom = {p.id: p for p in parse(fixtures_dir / ATOM)}
    rss = {p.id: p for p in parse(fixtures_dir / RSS)}
    assert len(atom) == 5
    for paper_id, paper in atom.items():
        assert paper == rss[paper_id]


def test_rss_and_atom_are_one_paper_each_in_the_store(fresh_store, fixtures_dir):
    report = ingest_sources(fresh_store, [str(fixtures_dir / RSS), str(fixtures_dir / ATOM)])
    assert report.papers.added == 123 and report.papers.unchanged == 5
    assert fresh_store.stats().papers == 123
