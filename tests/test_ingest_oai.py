"""OAI-PMH ListRecords in the arXiv and arXivRaw metadata formats."""

from __future__ import annotations

from paperfeed.ingest import ingest_sources
from paperfeed.ingest.oai_pmh import parse_oai_pmh, resumption_token
from paperfeed.ingest.records import Record

ARXIV = "arxiv_oai_listrecords_arXiv_set-cs_2015-01-16.xml"
RAW1 = "arxiv_oai_listrecords_arXivRaw_page1.xml"
RAW2 = "arxiv_oai_listrecords_arXivRaw_page2.xml"


def parse(path):
    with path.open("rb") as f:
        items = list(parse_oai_pmh(f, path.name))
    assert all(isinstance(i, Record) for i in items)
    return {i.paper.id: i.paper for i in items}


def test_arxiv_format_fields(fixtures_dir):
    papers = parse(fixtures_dir / ARXIV)
    assert len(papers) == 46
    p = papers["1101.4388"]
    assert p.title == "Reproducing Kernel Banach Spaces with the l1 Norm"
    assert p.authors == ["Guohui Song", "Haizhang Zhang", "Fred J. Hickernell"]
    assert p.primary_category == "stat.ML"
    assert p.categories == ["stat.ML", "cs.LG", "math.FA"]
    assert p.published.date().isoformat() == "2011-01-23"
    assert p.updated.date().isoformat() == "2012-03-28"
    assert p.comment == "28 pages, an extra section was added"
    assert p.journal_ref == "Appl. Comput. Harmon. Anal., 34:96-116, 2013"
    assert p.doi == "10.1016/j.acha.2012.03.009"
    assert p.abstract.startswith("Targeting at sparse learning, we construct Banach spaces")
    assert papers["1111.1546"].authors == ["Tobias Brunsch", "Heiko Röglin"]  # &#xf6;


def test_arxiv_format_has_no_resumption_token(fixtures_dir):
    assert resumption_token((fixtures_dir / ARXIV).read_bytes()) is None


def test_arxiv_raw_takes_the_latest_version(fixtures_dir):
    papers = parse(fixtures_dir / RAW1)
    assert set(papers) == {"2401.12113", "2401.13758"}  # the deleted record is skipped
    p = papers["2401.12113"]
    assert p.version == 2
    assert p.published.isoformat() == "2024-01-22T16:51:01+00:00"
    assert p.updated.isoformat() == "2025-03-06T11:33:28+00:00"
    assert p.authors == ["Yani Zhang", "Helmut Bölcskei"]
    assert p.categories == ["cs.LG", "cs.AI", "cs.LO"]
    assert papers["2401.13758"].authors == ["Thomas S. Richardson", "James M. Robins"]
    assert papers["2401.13758"].primary_category == "math.ST"


def test_resumption_token_of_each_page(fixtures_dir):
    assert resumption_token((fixtures_dir / RAW1).read_bytes()) == "6960524|1001"
    assert resumption_token((fixtures_dir / RAW2).read_bytes()) is None  # empty: last page


def test_oai_and_arxiv_raw_merge_into_the_store(fresh_store, fixtures_dir):
    sources = [str(fixtures_dir / name) for name in (ARXIV, RAW1, RAW2)]
    report = ingest_sources(fresh_store, sources)
    assert report.papers.added == 50 and report.rejected == 0
    authors = fresh_store.get_paper("2402.00396").paper.authors
    assert authors == [
        "Vikranth Dwaracherla",
        "Seyed Mohammad Asghari",
        "Botao Hao",
        "Benjamin Van Roy",
    ]
    assert ingest_sources(fresh_store, sources).papers.unchanged == 50


def test_oai_error_fails_the_input(cli, tmp_path):
    page = tmp_path / "bad_token.xml"
    page.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2025-03-10T12:00:00Z</responseDate>"
        '<request verb="ListRecords">http://export.arxiv.org/oai2</request>'
        '<error code="badResumptionToken">The value of the resumptionToken argument is '
        "invalid or expired.</error></OAI-PMH>"
    )
    result = cli("ingest", "--no-index", str(page))
    assert result.exit_code == 1
    assert "OAI-PMH error badResumptionToken" in result.stderr


def test_no_records_match_is_an_empty_harvest(cli, tmp_path):
    page = tmp_path / "none.xml"
    page.write_text(
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        '<error code="noRecordsMatch">No records match</error></OAI-PMH>'
    )
    result = cli("ingest", "--no-index", str(page))
    assert result.exit_code == 0, result.output
    assert "added 0" in result.stdout
