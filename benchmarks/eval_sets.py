"""Draw and check the held-out and paraphrase query sets (benchmarks/eval/*.tsv).

Run:
  python benchmarks/eval_sets.py draw            # print the drawn papers (title + abstract)
  python benchmarks/eval_sets.py check           # check both TSVs against the draw and the rules

The papers are drawn from the whole shared corpus (all ``*.jsonl.gz``, deduplicated as in
``corpus.py``) with ``random.Random(SEED)``, skipping only, by rule: abstracts under 400
characters (too little to write a known-item query from), the dev targets and the older
20 held-out targets. The first ``N_HELDOUT`` drawn papers get a known-item query each
(``heldout150.tsv``), the next ``N_PARAPHRASE`` a paraphrase query (``paraphrase.tsv``)
that shares no content word with the paper's title and abstract: no term of the product's
own analyzer (lower-cased, accents folded, English stop words dropped, Porter-stemmed)
occurs in both. Queries were written from the printed title and abstract alone, before any
search was run on them, and no weight was ever chosen on them.

Second draw, "B" (2026-12-01; `draw-b dev|heldout`, checked by `check` too). Keyword search
scores 0.976 on heldout150 (drawn from the whole corpus, mostly arXiv listings; its queries
reuse the papers' distinctive terms), so that set cannot show a gain of +0.05. The B sets
follow the recipe of the dev set instead (``../shared/eval/README.md``): the targets are
records of the Hugging Face daily-papers file the dev targets come from, in file order, with
abstracts of at least 400 characters, drawn with ``random.Random(SEED_B)`` (excluding every
earlier target); the queries mix the three styles of the dev set (short keywords, a natural
description or question, the method's name plus context) and use at most half of their
content words from the title. The first ``N_HELDOUT_B`` get ``heldout_b.tsv`` (never used to
pick anything), the next ``N_DEV_B`` ``dev_b.tsv`` (tuning, like dev). Each was written from
the printed title and abstract alone, before any search was run on it, by two writers who
saw only their own part of the draw.

Third draw, "C" (2026-12-01; `draw-c 1|2`, checked by `check`). heldout_b was scored once
in a final run that also showed another fusion family's score, so it can no longer judge a
new choice: it joined the tuning sets. ``heldout_c.tsv`` takes its place: ``N_HELDOUT_C``
more records of the same HF daily-papers population, by the same recipe, drawn with
``random.Random(SEED_C)`` excluding every earlier target, written by two writers (first
half, second half) from the title and abstract alone, before any search; never used to pick
anything.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DEV_QUERIES, Doc, load_corpus, load_queries  # noqa: E402

from paperfeed.search.keyword import analyze  # noqa: E402

SEED = 13
N_HELDOUT = 150
N_PARAPHRASE = 50
MIN_ABSTRACT = 400
HERE = Path(__file__).resolve().parent
HELDOUT_TSV = HERE / "eval" / "heldout150.tsv"
PARAPHRASE_TSV = HERE / "eval" / "paraphrase.tsv"
OLD_HELDOUT = HERE / "heldout_queries.tsv"
SEED_B = 71
N_HELDOUT_B = 150
N_DEV_B = 100
HF_DAILY = "hf_daily_papers_2404589803_2024-2026.jsonl.gz"
HELDOUT_B_TSV = HERE / "eval" / "heldout_b.tsv"
DEV_B_TSV = HERE / "eval" / "dev_b.tsv"
SEED_C = 97
N_HELDOUT_C = 150
HELDOUT_C_TSV = HERE / "eval" / "heldout_c.tsv"


def draw(docs: list[Doc]) -> list[Doc]:
    """The N_HELDOUT + N_PARAPHRASE papers, in draw order (deterministic)."""
    excluded = {t for _, t in load_queries(DEV_QUERIES)} | {t for _, t in load_queries(OLD_HELDOUT)}
    order = list(range(len(docs)))
    random.Random(SEED).shuffle(order)
    picked: list[Doc] = []
    for i in order:
        d = docs[i]
        if d.arxiv_id in excluded or len(d.abstract) < MIN_ABSTRACT:
            continue
        picked.append(d)
        if len(picked) == N_HELDOUT + N_PARAPHRASE:
            break
    return picked


def hf_daily_records() -> list[Doc]:
    """The records of the HF daily-papers file, in file order (the dev set's population)."""
    import gzip
    import json

    from corpus import DATA

    with gzip.open(DATA / HF_DAILY, "rt", encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    return [Doc(r["arxiv_id"], r["title"], r["abstract"]) for r in recs]


def hf_pool(earlier: list[Doc]) -> list[Doc]:
    """HF daily-papers records (file order, deduplicated) with abstracts of at least
    MIN_ABSTRACT characters, minus the dev targets, the older 20 and `earlier` draws."""
    excluded = {t for _, t in load_queries(DEV_QUERIES)} | {t for _, t in load_queries(OLD_HELDOUT)}
    excluded |= {d.arxiv_id for d in earlier}
    pool = [d for d in hf_daily_records() if len(d.abstract) >= MIN_ABSTRACT]
    return [d for d in dict((d.arxiv_id, d) for d in pool).values() if d.arxiv_id not in excluded]


def draw_b(docs: list[Doc]) -> list[Doc]:
    """The N_HELDOUT_B + N_DEV_B papers of the second draw, in draw order (deterministic)."""
    return random.Random(SEED_B).sample(hf_pool(draw(docs)), N_HELDOUT_B + N_DEV_B)


def draw_c(docs: list[Doc]) -> list[Doc]:
    """The N_HELDOUT_C papers of the third draw, in draw order (deterministic)."""
    earlier = draw(docs) + draw_b(docs)
    return random.Random(SEED_C).sample(hf_pool(earlier), N_HELDOUT_C)


def title_share(query: str, doc: Doc) -> float:
    """Share of the query's content terms that occur in the title (the dev recipe: <= 0.5)."""
    terms = set(analyze(query))
    return len(terms & set(analyze(doc.title))) / max(len(terms), 1)


def check_b(docs: list[Doc]) -> int:
    """Check the B and C sets: targets in draw order, at most half the terms in the title."""
    picked, picked_c = draw_b(docs), draw_c(docs)
    by_id = {d.arxiv_id: d for d in picked + picked_c}
    errors = 0
    for path, want in (
        (HELDOUT_B_TSV, picked[:N_HELDOUT_B]),
        (DEV_B_TSV, picked[N_HELDOUT_B:]),
        (HELDOUT_C_TSV, picked_c),
    ):
        if not path.exists():
            print(f"{path.name}: missing")
            errors += 1
            continue
        pairs = load_queries(path)
        if [t for _, t in pairs] != [d.arxiv_id for d in want]:
            print(f"{path.name}: targets differ from the draw ({len(pairs)} lines)")
            errors += 1
        for q, t in pairs:
            share = title_share(q, by_id[t]) if t in by_id else 1.0
            if share > 0.5:
                print(f"{path.name} {t}: {share:.0%} of the content terms in the title: {q}")
                errors += 1
        print(f"{path.name}: {len(pairs)} queries")
    return errors


def shared_terms(query: str, doc: Doc) -> set[str]:
    """Content terms (after the product's analyzer) the query shares with title + abstract."""
    return set(analyze(query)) & set(analyze(f"{doc.title}\n{doc.abstract}"))


def check(docs: list[Doc]) -> int:
    picked = draw(docs)
    want_h = [d.arxiv_id for d in picked[:N_HELDOUT]]
    want_p = [d.arxiv_id for d in picked[N_HELDOUT:]]
    by_id = {d.arxiv_id: d for d in picked}
    errors = 0
    held = load_queries(HELDOUT_TSV)
    para = load_queries(PARAPHRASE_TSV)
    if [t for _, t in held] != want_h:
        print(f"heldout150.tsv: targets differ from the draw ({len(held)} lines)")
        errors += 1
    if [t for _, t in para] != want_p:
        print(f"paraphrase.tsv: targets differ from the draw ({len(para)} lines)")
        errors += 1
    for q, t in para:
        common = shared_terms(q, by_id[t]) if t in by_id else {"?"}
        if common:
            print(f"paraphrase {t}: shares {sorted(common)}: {q}")
            errors += 1
        if len(analyze(q)) < 2:
            print(f"paraphrase {t}: fewer than 2 content terms: {q}")
            errors += 1
    print(f"held-out {len(held)} queries, paraphrase {len(para)} queries, {errors} problems")
    return errors


def main() -> None:
    cmd = sys.argv[1] if len(sys.argv) > 1 else "check"
    docs = load_corpus()
    if cmd == "draw":
        for i, d in enumerate(draw(docs)):
            kind = "HELDOUT" if i < N_HELDOUT else "PARAPHRASE"
            print(f"### {i} {kind} {d.arxiv_id}\nTITLE: {d.title}\nABSTRACT: {d.abstract}\n")
    elif cmd == "ids":
        for d in draw(docs):
            print(d.arxiv_id)
    elif cmd == "draw-b":  # draw-b heldout | draw-b dev: one writer's part only
        part = sys.argv[2]
        picked = draw_b(docs)
        part_docs = picked[:N_HELDOUT_B] if part == "heldout" else picked[N_HELDOUT_B:]
        for i, d in enumerate(part_docs):
            print(
                f"### {i} {part.upper()}_B {d.arxiv_id}\nTITLE: {d.title}\nABSTRACT: {d.abstract}\n"
            )
    elif cmd == "draw-c":  # draw-c 1 | draw-c 2: one writer's half only
        half = N_HELDOUT_C // 2
        picked_c = draw_c(docs)
        part_docs = picked_c[:half] if sys.argv[2] == "1" else picked_c[half:]
        for i, d in enumerate(part_docs):
            print(f"### {i} HELDOUT_C {d.arxiv_id}\nTITLE: {d.title}\nABSTRACT: {d.abstract}\n")
    else:
        raise SystemExit(1 if check(docs) + check_b(docs) else 0)


if __name__ == "__main__":
    main()
