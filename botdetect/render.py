"""HTML for people: self-contained pages (figures inlined as PNG data URIs), tables and
the run report's figures. Values in, HTML out: nothing here reads a table or calls Spark.
The run report (`report/page.py`) and the data-quality report (`quality/stage.py`) are
both pages of `page`.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;
text-align:left;font-size:.9rem}th{background:#f3f3f3}.alert{color:#b00;font-weight:bold}
.warn{color:#a60}.ok{color:#070}section{margin-bottom:2rem}img{max-width:100%}
tr.critical{background:#f8d7da}tr.warning{background:#fff3cd}
"""


def _png(fig: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], classes: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def pr_curve_figure(
    points: Sequence[Mapping[str, float]], thresholds: Mapping[str, float | None]
) -> str:
    if not points:
        return "<p>No PR curve was logged with this model.</p>"
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.step([p["recall"] for p in points], [p["precision"] for p in points], where="post")
    for name, t in thresholds.items():
        if t is None:
            continue
        at = next((p for p in points if p["threshold"] <= t), None)
        if at is not None:
            ax.scatter([at["recall"]], [at["precision"]], zorder=3)
            ax.annotate(f"{name} {t:.3f}", (at["recall"], at["precision"]), fontsize=8)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision at true prevalence")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def histogram_figure(counts: Mapping[str, Sequence[int]], bins: int) -> str:
    """Stacked bars of accounts per score bin, one colour per decision (log scale)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    lefts = [i / bins for i in range(bins)]
    bottom = [0] * bins
    for decision, values in counts.items():
        ax.bar(lefts, values, width=1 / bins, bottom=bottom, align="edge", label=decision)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_yscale("symlog")
    ax.set_xlabel("score")
    ax.set_ylabel("accounts")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def cadence_figure(leaks: Mapping[int, float], budget: float, chosen: int) -> str:
    """The share of flagged accounts' tweets that gets out, per hours between runs."""
    if not leaks:
        return "<p>No flagged account has tweeted after its flag in the period.</p>"
    plt = _plt()
    hours = sorted(leaks)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(hours, [leaks[h] for h in hours], marker="o")
    ax.axhline(budget, color="#b00", linestyle="--", linewidth=1, label=f"budget {budget:.0%}")
    if chosen in leaks:
        ax.scatter([chosen], [leaks[chosen]], s=80, facecolors="none", edgecolors="k", zorder=3)
    ax.set_xscale("log", base=2)
    ax.set_xticks(hours, [str(h) for h in hours])
    ax.set_xlabel("hours between scoring runs")
    ax.set_ylabel("share of flagged accounts' tweets let out")
    ax.set_ylim(0, max(max(leaks.values()), budget) * 1.15)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def importance_figure(importances: Sequence[Sequence[object]], top: int = 15) -> str:
    if not importances:
        return "<p>The served model logged no feature importances.</p>"
    plt = _plt()
    shown = list(importances[:top])[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(shown) + 1))
    ax.barh([str(n) for n, _ in shown], [float(v) for _, v in shown])
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("impurity importance")
    fig.tight_layout()
    return _png(fig)


def page(title: str, sections: Mapping[str, tuple[str, str]], order: Sequence[str] = ()) -> str:
    """A whole page. `sections`: id -> (heading, inner HTML), those named in `order` first
    and in that order, then the rest as given."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for key in [*order, *[k for k in sections if k not in order]]:
        if key in sections:
            heading, inner = sections[key]
            parts.append(f'<section id="{key}"><h2>{html.escape(heading)}</h2>{inner}</section>')
    parts.append("</body></html>")
    return "\n".join(parts)
