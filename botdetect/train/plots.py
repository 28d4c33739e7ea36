"""PNG figures for MLflow and the run report (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from botdetect.train.evaluate import Point


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pr_curve_png(
    points: Sequence[Point], thresholds: dict[str, float | None], path: Path, title: str
) -> Path:
    """Precision (at true prevalence) against recall, with the chosen thresholds marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    usable = [p for p in points if p.precision is not None and p.recall is not None]
    ax.step([p.recall for p in usable], [p.precision for p in usable], where="post", label="model")
    for name, threshold in thresholds.items():
        point = next(
            (p for p in usable if threshold is not None and p.threshold <= threshold), None
        )
        if point is not None:
            ax.scatter([point.recall], [point.precision], zorder=3)
            ax.annotate(f"{name} {threshold:.3f}", (point.recall, point.precision), fontsize=8)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision at true prevalence")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def importance_png(importances: Sequence[tuple[str, float]], path: Path, top: int = 20) -> Path:
    """Horizontal bars of the largest feature importances."""
    plt = _pyplot()
    shown = list(importances[:top])[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(shown) + 1))
    ax.barh([name for name, _ in shown], [value for _, value in shown])
    ax.set_xlabel("impurity importance")
    ax.set_title(f"top {len(shown)} features")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
