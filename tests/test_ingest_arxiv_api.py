"""arXiv API Atom responses (real response of export.arxiv.org/api/query)."""

from __future__ import annotations

from paperfeed.ingest import ingest_sources
from paperfeed.ingest.arxiv_api import parse_arxiv_api
from paperfeed.ingest.records import Record

API = "arxiv_api_query_all-science_2019-08-10.xml"


def parsed(fixtures_dir):
    with (fixtures_dir / API).open("rb") as f:
        items = list(parse_arxiv_api(f, API))
    assert all(isinstance(i, Record) for i in items)
    return {i.paper.id: i.paper for i in items}


def test_every_entry_with_its_fields(fixtures_dir):
    papers = parsed(fixtures_dir)
    assert len(papers) == 10
    assert "quant-ph/0210005" in papers and "physics/0507092" in papers  # old-style ids
    p = papers["1503.01162"]
    assert p.version == 1
    assert p.title == (
        "Report on a Boston University Conference December 7-8, 2012 on 'How Can the History "
        "and Philosophy of Science Contribute to Contemporary U.S. Science Teaching?'"
    )
    assert p.abstract.startswith("This is an editorial report on the outcomes of an")
    assert "\n" not in p.abstract
    assert p.authors[:2] == ["Peter Garik", "Yann Benétreau-Dupin"]
    assert p.primary_category == "physics.ed-ph"
    assert p.categories == ["physics.ed-ph", "physics.hist-ph", "physics.soc-ph"]
    assert p.doi == "10.1007/s11191-014-9716-8"
    assert p.comment == "Conference funded by NSF grant REESE-1205273. 31 pages"
    assert p.journal_ref == "Science & Education, September 2014, 23(9): 1853-1873"
    assert p.published.isoformat() == "2015-03-03T23:35:54+00:00"


def test_authors_keep_their_order(fixtures_dir):
    assert parsed(fixtures_dir)["1501.05039"].authors == ["Yangyong Zhu", "Yun Xiong"]
    assert parsed(fixtures_dir)["physics/0507092"].authors[:2] == ["G. Giacomelli", "R. Giacomelli"]


def test_msc_and_acm_terms_are_not_categories(fixtures_dir):
    # 1802.03292 is listed with the terms "03B70, 68Q99" and "F.4.1; F.4.m; K.2".
    p = parsed(fixtures_dir)["1802.03292"]
    assert p.categories == ["cs.LO"]
    for paper in parsed(fixtures_dir).values():
        for cat in paper.categories:
            assert cat[0].islower(), cat


def test_import_into_the_store(fresh_store, fixtures_dir):
    report = ingest_sources(fresh_store, [str(fixtures_dir / API)])
    assert report.papers.added == 10 and not report.failed_sources
    stored = fresh_store.get_paper("0808.0631").paper
    assert stored.journal_ref == "Statistical Science 2008, Vol. 23, No. 1, 65-68"
    assert ingest_sources(fresh_store, [str(fixtures_dir / API)]).papers.unchanged == 10


def test_api_error_response_fails_the_input(cli, tmp_path):
    # The shape of the API's answer to a malformed id_list (an <entry> under /api/errors).
    error = tmp_path / "error.xml"
    error.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        '<link href="http://arxiv.org/api/query?id_list=1234" rel="self"/>'
        "<title>ArXiv Query: id_list=1234</title><entry>"
        "<id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id>"
        "<title>Error</title><summary>incorrect id format for 1234</summary>"
        "</entry></feed>"
    )
    result = cli("ingest", "--no-index", str(error))
    assert result.exit_code == 1
    assert "arXiv API error: incorrect id format for 1234" in result.stderr
