"""`paperfeed library ...` and `paperfeed recommend` from the terminal."""

from __future__ import annotations

import csv
import io
import json

import bibtexparser
import rispy
from conftest import FIXTURES


def test_library_cli_add_list_export_recommend(cli, tmp_path) -> None:  # noqa: ANN001
    assert (
        cli(
            "ingest", str(FIXTURES / "web_papers.jsonl"), str(FIXTURES / "library_papers.jsonl")
        ).exit_code
        == 0
    )
    made = cli("users", "add", "me@example.org", "--password", "correct horse battery")
    assert made.exit_code == 0, made.output
    r = cli(
        "library",
        "add",
        "--user",
        "me@example.org",
        "--collection",
        "Tricky & 100%",
        "2403.09611",
        "2502.11901",
        "2401.07595",
    )
    assert r.exit_code == 0, r.output
    assert "saved 3 new of 3 papers" in r.stdout
    r = cli("library", "list", "--user", "me@example.org", "--json")
    listed = json.loads(r.stdout)
    assert [(c["name"], c["numPapers"], c["public"]) for c in listed] == [
        ("Tricky & 100%", 3, False)
    ]

    r = cli("library", "export", "--collection", "Tricky & 100%", "--format", "bibtex")
    assert r.exit_code == 0, r.output
    lib = bibtexparser.parse_string(r.stdout)
    assert not lib.failed_blocks
    assert {e.fields_dict["eprint"].value for e in lib.entries} == {
        "2403.09611",
        "2502.11901",
        "2401.07595",
    }
    out = tmp_path / "lib.ris"
    r = cli("library", "export", "--collection", "Tricky & 100%", "--format", "ris", "-o", str(out))
    assert r.exit_code == 0 and "wrote 3 papers" in r.stderr
    titles = {x["title"] for x in rispy.loads(out.read_text(encoding="utf-8"))}
    assert "MM1: Methods, Analysis & Insights from Multimodal LLM Pre-training" in titles

    r = cli("library", "export", "--daily", "2026-08-21", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert r.exit_code == 0 and len(rows) == 17
    r = cli("library", "export", "--search", "video", "--format", "csv", "--limit", "5")
    assert r.exit_code == 0, r.output
    assert 0 < len(list(csv.DictReader(io.StringIO(r.stdout)))) <= 5

    # bad input: one clear line, non-zero exit
    for args, words in (
        (("library", "export", "--format", "bibtex"), "exactly one of"),
        (("library", "export", "--collection", "nope"), "no collection named"),
        (("library", "export", "--collection", "Tricky & 100%", "--format", "doc"), "--format"),
        (("library", "list", "--user", "who@example.org"), "no account"),
    ):
        r = cli(*args)
        assert r.exit_code != 0 and words in r.stderr, (args, r.output)

    r = cli("library", "follow", "--user", "me@example.org", "--category", "cs.CV")
    assert r.exit_code == 0 and "following category cs.CV" in r.stdout
    r = cli("recommend", "--user", "me@example.org", "--limit", "5", "--json")
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    assert len(recs) == 5 and all(x["reason"]["text"] for x in recs)
    assert all(
        set(x["reason"]["closest"]) <= {"2403.09611", "2502.11901", "2401.07595"} for x in recs
    )


def test_export_to_a_path_that_cannot_be_written_is_one_clear_line(cli, tmp_path) -> None:  # noqa: ANN001
    assert cli("ingest", "--no-index", str(FIXTURES / "web_papers.jsonl")).exit_code == 0
    for target, reason in (
        (tmp_path / "no" / "such" / "dir.bib", "No such file or directory"),
        (tmp_path, "Is a directory"),
    ):
        r = cli("library", "export", "--daily", "latest", "-o", str(target))
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert r.stderr.strip() == f"Error: cannot write {target}: {reason}", r.output
    ok = tmp_path / "daily.bib"
    r = cli("library", "export", "--daily", "latest", "-o", str(ok))
    assert r.exit_code == 0 and len(bibtexparser.parse_string(ok.read_text()).entries) == 17
