"""Fit the extractive answer's abstention model (rag/abstention.py) on every development
set, report it on held-out folds, and write it.

    python benchmarks/calibrate_abstention.py --news-dev-index runs/news-dev-index \\
        --xquad-index runs/xquad-ar/index --arcd-index runs/arcd/index \\
        --rows runs/abstention-rows.jsonl --out rag/data/abstention.json

Cases, each asked through the chat's own search and judged by the extractive answerer:

- news-dev (both languages): every question as it is (a quarter are unanswerable), and every
  answerable one again with its gold and ``also_urls`` articles hidden (the story is not in
  the index);
- XQuAD-dev Arabic, XQuAD-dev English over the Arabic paragraphs, ARCD-train: every question
  as asked, and again with every paragraph of its Wikipedia article hidden.

A logistic model per relation (question and best sentence in one language, or across) on
``rag.answers.abstention.SIGNALS``; every set weighs the same in the fit, however many questions it
has (one with fewer than 30 cases weighs per case). Folds are grouped by article (a news
story by its gold URL, a Wikipedia article by its title), so no question is judged by a
model fitted on its own article. In each fold the threshold is the probability below which
``--max-false-abstention`` of the fold's training answerable cases fall; the report gives
the held-out rates per set and language (threshold: the strictest set's). The written model
is fitted on everything, its threshold set the same way. ``--rows`` keeps the collected
signals, so a refit (``--reuse``) does not search again.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, logistic_fit, squad_articles_and_questions, whole_article_of  # noqa: E402

from rag.answers.abstention import SIGNALS  # noqa: E402
from rag.answers.retrieval import Filters  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402

FOLDS = 5


def news_dev_cases(index: Path) -> list[dict]:
    ids_of: dict[str, list[str]] = {}
    with sqlite3.connect(index / "index.sqlite") as db:
        for article_id, url in db.execute("SELECT id, url FROM articles WHERE url != ''"):
            ids_of.setdefault(url, []).append(article_id)
    cases = []
    for line in (DATA / "qa" / "news-dev.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        base = {"set": f"news-dev {row['lang']}", "question": row["question"]}
        group = row["gold_url"] or row["id"]
        cases.append({**base, "group": group, "hide": [], "answerable": row["answerable"]})
        if row["answerable"]:
            urls = [row["gold_url"], *row.get("also_urls", [])]
            hidden = [i for url in urls for i in ids_of.get(url, [])]
            cases.append({**base, "group": group, "hide": hidden, "answerable": False})
    return cases


def squad_cases(name: str, path: Path, language: str, contexts: Path | None = None) -> list:
    paragraphs, questions = squad_articles_and_questions(path, language, contexts)
    article_of = whole_article_of(paragraphs)
    title_of = {p.id: p.title for p in paragraphs}
    cases = []
    for question in questions:
        group = f"{name.split()[0]}:{title_of[question.article_id]}"
        base = {"set": name, "question": question.text, "group": group}
        cases.append({**base, "hide": [], "answerable": True})
        cases.append({**base, "hide": list(article_of(question)), "answerable": False})
    return cases


def collect(index: Path, cases: list[dict]) -> list[dict]:
    """The signals of each case, as the answerer sees them."""
    answerer = Pipeline(Settings.load(index_dir=index)).answerer()
    rows = []
    for case in cases:
        filters = Filters(exclude_articles=tuple(case["hide"])) if case["hide"] else None
        result = answerer.retriever.search(case["question"], filters=filters)
        found = answerer.extractive.evidence(case["question"], result.hits, result.names)
        if found is None:  # nothing to quote: abstains whatever the model says
            continue
        evidence, cross = found
        rows.append({**case, "hide": len(case["hide"]), "cross": cross,
                     "signals": dict(zip(SIGNALS, evidence.values(), strict=True))})  # fmt: skip
    return rows


def arrays(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([[r["signals"][s] for s in SIGNALS] for r in rows], dtype=float)
    y = np.array([r["answerable"] for r in rows], dtype=float)
    return x, y, np.array(set_weights(rows))


def set_weights(rows: list[dict], least: int = 30) -> list[float]:
    """Each set weighs the same in the fit, whatever its size; a set with fewer than
    ``least`` cases (an Arabic question whose best sentence is English) weighs per case."""
    counts = {name: sum(r["set"] == name for r in rows) for name in {r["set"] for r in rows}}
    big = [name for name, count in counts.items() if count >= least]
    share = sum(counts[name] for name in big) / max(1, len(big))
    return [share / counts[r["set"]] if r["set"] in big else 1.0 for r in rows]


def fit(rows: list[dict], max_false_abstention: float, l2: float) -> dict:
    x, y, weight = arrays(rows)
    bias, weights = logistic_fit(x, y, l2, weight)
    probability = 1 / (1 + np.exp(-(bias + x @ weights)))
    return {
        "bias": float(bias),
        "weights": {name: float(v) for name, v in zip(SIGNALS, weights, strict=True)},
        "threshold": threshold_for(probability, rows, max_false_abstention),
    }


def threshold_for(probability: np.ndarray, rows: list[dict], max_false: float) -> float:
    """The probability below which ``max_false`` of each set's answerable cases fall, at
    most (the strictest set decides)."""
    thresholds = []
    for name in {r["set"] for r in rows}:
        picked = zip(probability, rows, strict=True)
        answerable = np.sort([p for p, r in picked if r["set"] == name and r["answerable"]])
        if len(answerable):
            thresholds.append(float(answerable[int(max_false * len(answerable))]))
    return min(thresholds)


def probability_of(model: dict, rows: list[dict]) -> np.ndarray:
    x, _, _ = arrays(rows)
    w = np.array([model["weights"][s] for s in SIGNALS])
    return 1 / (1 + np.exp(-(model["bias"] + x @ w)))


def held_out(rows: list[dict], max_false: float, l2: float) -> list[bool]:
    """Whether each case abstains under a model fitted without its article's fold."""
    groups = sorted({r["group"] for r in rows})
    fold_of = {g: i % FOLDS for i, g in enumerate(np.random.default_rng(0).permutation(groups))}
    abstains = [False] * len(rows)
    for fold in range(FOLDS):
        train = [r for r in rows if fold_of[r["group"]] != fold]
        test = [i for i, r in enumerate(rows) if fold_of[r["group"]] == fold]
        model = fit(train, max_false, l2)
        probability = probability_of(model, [rows[i] for i in test])
        for i, p in zip(test, probability, strict=True):
            abstains[i] = bool(p < model["threshold"])
    return abstains


def rates(rows: list[dict], abstains: list[bool]) -> dict:
    report = {}
    for name in sorted({r["set"] for r in rows}):
        picked = [(r, a) for r, a in zip(rows, abstains, strict=True) if r["set"] == name]
        answerable = [a for r, a in picked if r["answerable"]]
        unanswerable = [a for r, a in picked if not r["answerable"]]
        report[name] = {
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "abstention_answerable": _share(answerable),
            "abstention_unanswerable": _share(unanswerable),
        }
    return report


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--news-dev-index", type=Path)
    parser.add_argument("--xquad-index", type=Path)
    parser.add_argument("--arcd-index", type=Path)
    parser.add_argument("--rows", type=Path, required=True, help="JSONL of collected signals")
    parser.add_argument("--reuse", action="store_true", help="fit on --rows, search nothing")
    parser.add_argument("--max-false-abstention", type=float, default=0.06)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.reuse:
        rows = []
        if args.news_dev_index:
            rows += collect(args.news_dev_index, news_dev_cases(args.news_dev_index))
        if args.xquad_index:
            xquad = DATA / "qa" / "xquad-dev.ar.json"
            english = DATA / "qa" / "xquad-dev.en.json"
            rows += collect(
                args.xquad_index,
                squad_cases("XQuAD-dev ar", xquad, "ar")
                + squad_cases("XQuAD-dev en", english, "en", contexts=xquad),
            )
        if args.arcd_index:
            arcd = DATA / "qa" / "arcd-train.json"
            rows += collect(args.arcd_index, squad_cases("ARCD-train", arcd, "ar"))
        args.rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    rows = [json.loads(line) for line in args.rows.read_text().splitlines()]
    model = {"about": (
        "Abstention model of the extractive answer (rag/abstention.py), written by "
        f"benchmarks/calibrate_abstention.py on {datetime.date.today().isoformat()}: "
        f"{', '.join(sorted({r['set'] for r in rows}))}; answerable as asked, unanswerable "
        "as asked (news-dev) or with the question's article hidden; each set weighs the "
        f"same; threshold at {args.max_false_abstention:.0%} false abstention on the "
        "strictest set."
    )}  # fmt: skip
    for relation, cross in (("same_language", False), ("cross_language", True)):
        part = [r for r in rows if r["cross"] == cross]
        if not any(r["answerable"] for r in part):
            model[relation] = None  # nothing to fit on: the similarity thresholds judge
            continue
        model[relation] = {
            **fit(part, args.max_false_abstention, args.l2),
            "held_out": rates(part, held_out(part, args.max_false_abstention, args.l2)),
        }
    print(json.dumps(model, indent=2, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(model, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
