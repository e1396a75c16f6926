"""``report.html``: one self-contained page (plots inlined as PNG, no network needed), and the
comparison of two runs."""

from __future__ import annotations

import base64
import io
import json
from html import escape

from rag.evaluation.metrics import METRIC_ORDER

WORST_SHOWN = 15


def render_report(summary: dict, rows: list[dict]) -> str:
    run = summary["run"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Evaluation: {escape(run['dataset'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Evaluation of {escape(run['dataset'])}</h1>",
        f"<p>{summary['questions']} questions · {escape(run['created'])} · commit "
        f"<code>{escape(run['git_commit'][:12])}</code> · model "
        f"<code>{escape(str(run['index']['embedder'].get('model', '')))}</code> · "
        f"answers: <code>{escape(run['llm'])}</code></p>",
        "<h2>Metrics</h2>",
        _metric_table({"all": summary}, summary["metrics"]),
        "<h2>By language</h2>",
        _metric_table(summary["by_lang"], summary["metrics"]),
        "<h2>By source</h2>",
        _metric_table(summary["by_source"], summary["metrics"]),
        "<h2>Recall@k</h2>",
        _img(_recall_plot(summary["recall_curve"]), "recall at k"),
        *_abstention_section(rows),
        "<h2>Latency</h2>",
        _latency_table(summary["latency_ms"]),
        _img(_latency_plot(rows), "latency histogram"),
        "<h2>Worst answers</h2>",
        _worst(rows),
        "<details><summary>Settings and command</summary><pre>",
        escape(json.dumps(run, ensure_ascii=False, indent=2)),
        "</pre></details></body></html>",
    ]
    return "".join(parts)


_CSS = """
body { font-family: "Noto Sans", "Noto Naskh Arabic", system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.row { border-top: 1px solid #ddd; padding: .5em 0; }
.quote { background: #fff3a8; }
[dir=auto] { unicode-bidi: plaintext; text-align: start; }
"""


def _metric_table(groups: dict, reference: dict) -> str:
    names = [n for n in METRIC_ORDER if n in reference] + [
        n for n in reference if n not in METRIC_ORDER
    ]
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    body = []
    for group, data in groups.items():
        cells = "".join(_cell(data["metrics"].get(n)) for n in names)
        body.append(f"<tr><td dir='auto'>{escape(group)} ({data['questions']})</td>{cells}</tr>")
    return (
        f"<table class='metrics'><thead><tr><th>group (questions)</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell(value: dict | None) -> str:
    if not value or value["mean"] is None:
        return "<td>–</td>"
    return f"<td title='n={value['n']}'>{value['mean']:.3f}</td>"


def _latency_table(latency: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(stage)}</td><td>{v['p50']:.1f}</td><td>{v['p95']:.1f}</td></tr>"
        for stage, v in latency.items()
    )
    return f"<table><tr><th>stage</th><th>p50 ms</th><th>p95 ms</th></tr>{rows}</table>"


def _worst(rows: list[dict]) -> str:
    answerable = [r for r in rows if r["answerable"]]
    answerable.sort(key=lambda r: (r["metrics"].get("contains_answer", 0),
                                   r["metrics"].get("f1", 0), r["gold_rank"] or 99))  # fmt: skip
    shown = []
    for row in answerable[:WORST_SHOWN]:
        citations = "".join(
            f"<li dir='auto'>[{c['marker']}] {escape(c['title'])}: "
            f"<span class='quote'>{escape(c['quote'])}</span></li>"
            for c in row["citations"]
        )
        shown.append(
            f"<div class='row'><p dir='auto'><b>{escape(row['question'])}</b></p>"
            f"<p dir='auto'>gold: {escape(' | '.join(row['gold_answers']))} · gold rank: "
            f"{row['gold_rank'] or '–'} · F1 {row['metrics'].get('f1', 0):.2f}</p>"
            f"<p dir='auto'>{escape(row['answer'])}</p><ul>{citations}</ul></div>"
        )
    return "".join(shown) or "<p>No answerable questions.</p>"


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.subplots(figsize=(6, 3.2), dpi=100)


def _png(plt, fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _recall_plot(curve: dict) -> bytes:
    plt, (fig, ax) = _figure()
    ks = [int(k) for k in curve]
    ax.plot(ks, [curve[k] if curve[k] is not None else 0 for k in curve], marker="o")
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    return _png(plt, fig)


def abstention_curve(rows: list[dict]) -> list[tuple[float, float, float]]:
    """(threshold, answerable refused, unanswerable refused) as the threshold on the answer's
    confidence rises: what each choice of threshold would trade."""
    answerable = [r["confidence"] for r in rows if r["answerable"]]
    unanswerable = [r["confidence"] for r in rows if not r["answerable"]]
    thresholds = sorted({0.0, *answerable, *unanswerable, 1.01})
    return [
        (t, sum(c < t for c in answerable) / len(answerable),
         sum(c < t for c in unanswerable) / len(unanswerable))
        for t in thresholds
    ]  # fmt: skip


def _abstention_section(rows: list[dict]) -> list[str]:
    """The trade-off curve per language, when the dataset has both kinds of question."""
    languages = sorted({r["lang"] for r in rows})
    by_language = {
        lang: [r for r in rows if r["lang"] == lang and r["mode"] != "conversation"]
        for lang in languages
    }
    by_language = {
        lang: group for lang, group in by_language.items()
        if any(r["answerable"] for r in group) and any(not r["answerable"] for r in group)
    }  # fmt: skip
    if not by_language:
        return []
    plt, (fig, ax) = _figure()
    for lang, group in by_language.items():
        curve = abstention_curve(group)
        line = ax.plot([p[1] for p in curve], [p[2] for p in curve], label=lang)[0]
        refused = [r for r in group if r["abstained"]]
        actual = (
            sum(r["answerable"] for r in refused) / sum(r["answerable"] for r in group),
            sum(not r["answerable"] for r in refused) / sum(not r["answerable"] for r in group),
        )
        ax.plot(*actual, marker="o", color=line.get_color())
    ax.set_xlabel("answerable questions refused")
    ax.set_ylabel("unanswerable questions refused")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(title="language (dot: this run)")
    return [
        "<h2>Abstention trade-off</h2><p>Each line: what a threshold on the answer's "
        "confidence would refuse, from none to all; the dot is this run.</p>",
        _img(_png(plt, fig), "abstention trade-off"),
    ]


def _latency_plot(rows: list[dict]) -> bytes:
    plt, (fig, ax) = _figure()
    totals = [sum(v for k, v in r["timings"].items() if k != "retrieval_eval") * 1000 for r in rows]
    ax.hist(totals or [0], bins=30)
    ax.set_xlabel("answer latency (ms)")
    ax.set_ylabel("questions")
    return _png(plt, fig)


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


# ----- compare --------------------------------------------------------------------------


def compare_runs(a: tuple[dict, list[dict]], b: tuple[dict, list[dict]]) -> dict:
    """Metric deltas (B - A) and the questions whose answers got better or worse."""
    (summary_a, rows_a), (summary_b, rows_b) = a, b
    deltas = {}
    for name in dict.fromkeys([*summary_a["metrics"], *summary_b["metrics"]]):
        va = (summary_a["metrics"].get(name) or {}).get("mean")
        vb = (summary_b["metrics"].get(name) or {}).get("mean")
        deltas[name] = {"a": va, "b": vb, "delta": None if va is None or vb is None else vb - va}
    by_id = {r["id"]: r for r in rows_a}
    better, worse = [], []
    for row in rows_b:
        before = by_id.get(row["id"])
        if before is None:
            continue
        change = _quality(row) - _quality(before)
        if change:
            (better if change > 0 else worse).append(
                {"id": row["id"], "question": row["question"], "change": change}
            )
    return {"metrics": deltas, "better": better, "worse": worse}


def _quality(row: dict) -> float:
    metrics = row["metrics"]
    if not row["answerable"]:
        return metrics.get("abstention", 0.0)
    return metrics.get("contains_answer", 0.0) + metrics.get("f1", 0.0) / 10


def format_summary(summary: dict) -> str:
    """The metrics as a text table: all questions, then one column per language."""
    columns = {"all": summary, **summary.get("by_lang", {})}
    if len(columns) == 2:  # one language: its column repeats "all"
        columns = {"all": summary}
    head = f"{'metric':<24}" + "".join(f"{name:>10}" for name in columns)
    counts = f"{'questions':<24}" + "".join(f"{c['questions']:>10}" for c in columns.values())
    lines = [head, counts]
    for name in summary["metrics"]:
        cells = []
        for column in columns.values():
            value = column["metrics"].get(name)
            mean = value["mean"] if value else None
            cells.append(f"{mean:>10.3f}" if mean is not None else f"{'–':>10}")
        lines.append(f"{name:<24}" + "".join(cells))
    return "\n".join(lines)


def format_comparison(comparison: dict) -> str:
    lines = [f"{'metric':<24} {'A':>8} {'B':>8} {'B-A':>8}"]
    for name, v in comparison["metrics"].items():
        values = (v["a"], v["b"], v["delta"])
        cells = [f"{x:8.3f}" if x is not None else f"{'–':>8}" for x in values]
        lines.append(f"{name:<24} " + " ".join(cells))
    for label in ("better", "worse"):
        items = comparison[label]
        lines.append(f"\n{len(items)} questions {label}:")
        lines += [f"  {item['id']}: {item['question']}" for item in items[:20]]
    return "\n".join(lines)
