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
    else:
        raise SystemExit(1 if check(docs) else 0)


if __name__ == "__main__":
    main()
