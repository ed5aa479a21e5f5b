"""Matplotlib figures for profiles and query results (object API on the Agg canvas, no pyplot state)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

ACCENT = "#2563eb"
PALETTE = ["#2563eb", "#f97316", "#10b981", "#e11d48", "#8b5cf6", "#0ea5e9", "#eab308", "#64748b",
           "#14b8a6", "#db2777"]
_TEXT = "#334155"
_DIVERGING = LinearSegmentedColormap.from_list("lakeml", ["#b91c1c", "#fca5a5", "#f8fafc", "#93c5fd",
                                                          "#1d4ed8"])


def new_figure(width: float = 5.2, height: float = 2.6, *, left: float = 0.62, bottom: float = 0.42,
               right: float = 0.18, top: float = 0.36) -> tuple[Figure, Axes]:
    """A figure with lakeml's clean style: no top/right spines, light grid, slate text.

    Margins are fixed (in inches) instead of a layout engine: layout engines re-draw the figure
    and made report rendering 3-5x slower.
    """
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    ax = fig.add_subplot()
    style(ax)
    return fig, ax


def style(ax: Axes) -> None:
    """Apply the house style to one axes."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#cbd5e1")
    ax.tick_params(colors=_TEXT, labelsize=8, length=3)
    ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.title.set_color("#0f172a")
    ax.xaxis.label.set_color(_TEXT)
    ax.yaxis.label.set_color(_TEXT)


def compact(value: float, _pos: int | None = None) -> str:
    """Tick label for counts: 1200 -> 1.2k, 3400000 -> 3.4M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.4g}"


def _shorten(labels: Sequence[str], width: int = 18) -> list[str]:
    return [s if len(s) <= width else s[: width - 1] + "…" for s in labels]


def _tick_positions(labels: Sequence[str], width_inches: float) -> list[int]:
    """Every k-th label so that the labels (about 0.075 inch per character) do not overlap."""
    longest = max((min(len(s), 12) for s in labels), default=1)
    fits = max(1, int(width_inches / (0.075 * longest + 0.15)))
    step = max(1, -(-len(labels) // fits))
    return list(range(0, len(labels), step))


def histogram_figure(hist: pl.DataFrame, title: str) -> Figure:
    """Bars of one column's histogram frame (columns lower, upper, label, count)."""
    fig, ax = new_figure()
    labels = hist["label"].to_list()
    counts = hist["count"].to_numpy()
    ax.bar(np.arange(len(counts)), counts, width=0.92, color=ACCENT, edgecolor="none")
    starts = [label.split(" – ")[0] for label in labels]
    ticks = _tick_positions(starts, 5.2)
    ax.set_xticks(ticks, _shorten([starts[i] for i in ticks], 12), rotation=0)
    ax.yaxis.set_major_formatter(FuncFormatter(compact))
    ax.set_ylabel("rows", fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def bar_figure(labels: Sequence[str], values: Sequence[float], title: str, *, xlabel: str = "rows") -> Figure:
    """Horizontal bars, largest on top (top values, target class counts)."""
    height = max(1.6, 0.28 * len(labels) + 0.8)
    longest = max((len(s) for s in _shorten([str(v) for v in labels], 22)), default=4)
    fig, ax = new_figure(5.2, height, left=0.25 + 0.065 * longest)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e2e8f0", linewidth=0.8)
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, color=ACCENT, height=0.7)
    ax.set_yticks(y, _shorten([str(v) for v in labels], 22))
    ax.xaxis.set_major_formatter(FuncFormatter(compact))
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def heatmap_figure(corr: pl.DataFrame, title: str = "Pearson correlation") -> Figure:
    """Correlation heatmap from the long (x, y, pearson) frame."""
    names = list(dict.fromkeys(corr["x"].to_list()))
    k = len(names)
    matrix = np.full((k, k), np.nan)
    index = {n: i for i, n in enumerate(names)}
    for x, y, r in corr.iter_rows():
        matrix[index[x], index[y]] = np.nan if r is None else r
    size = min(11.0, max(4.2, 0.42 * k + 2.4))
    longest = max((len(s) for s in _shorten(names, 16)), default=4)
    margin = 0.3 + 0.06 * longest
    fig, ax = new_figure(size + 0.9, size, left=margin, bottom=margin, right=1.0)
    ax.grid(False)
    image = ax.imshow(matrix, cmap=_DIVERGING, vmin=-1, vmax=1)
    labels = _shorten(names, 16)
    font = 8 if k <= 20 else 6
    ax.set_xticks(range(k), labels, rotation=60, ha="right", fontsize=font)
    ax.set_yticks(range(k), labels, fontsize=font)
    if k <= 12:
        for i in range(k):
            for j in range(k):
                if not np.isnan(matrix[i, j]):
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(matrix[i, j]) > 0.6 else _TEXT)
    fig.colorbar(image, ax=ax, shrink=0.8, fraction=0.05, pad=0.03)
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def target_figure(rows: pl.DataFrame, feature: str, target: str, task: str) -> Figure:
    """Target vs one feature: mean target per group (regression) or stacked class shares."""
    groups = rows.select("order", "group", "count").unique("order").sort("order")
    labels = groups["group"].to_list()
    x = np.arange(len(labels))
    fig, ax = new_figure(5.2, 2.8, right=0.18 if task == "regression" else 1.1)
    if task == "regression":
        values = rows.unique("order").sort("order")["value"].to_numpy().astype(float)
        ax.plot(x, values, marker="o", markersize=3, color=ACCENT, linewidth=1.6)
        ax.set_ylabel(f"mean {target}", fontsize=8)
    else:
        bottom = np.zeros(len(labels))
        classes = list(dict.fromkeys(rows["class"].to_list()))
        for i, cls in enumerate(classes):
            part = rows.filter(pl.col("class") == cls).sort("order")["value"].fill_null(0.0).to_numpy()
            ax.bar(x, part, bottom=bottom, color=PALETTE[i % len(PALETTE)], width=0.85, label=str(cls))
            bottom += part
        ax.set_ylabel(f"share of {target}", fontsize=8)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ticks = _tick_positions(labels, 4.2)
    ax.set_xticks(ticks, _shorten([labels[i] for i in ticks], 12))
    ax.set_title(f"{target} by {feature}", fontsize=10, loc="left")
    return fig


def query_figure(frame: pl.DataFrame, *, kind: str, x: str | None, ys: list[str], title: str,
                 hist: pl.DataFrame | None = None) -> Figure:
    """A chart of a (small, already reduced) query result."""
    fig, ax = new_figure(7.0, 3.8, bottom=0.9, left=0.8)
    if kind == "hist" and hist is not None:
        edges = np.append(hist["lower"].to_numpy(), hist["upper"].to_numpy()[-1:])
        ax.stairs(hist["count"].to_numpy(), edges, fill=True, color=ACCENT, alpha=0.9)
        labels = hist["label"].to_list()  # dates stay dates (edges are their physical integers)
        ticks = _tick_positions(labels, 6.0)
        ax.set_xticks(edges[ticks], _shorten([labels[i] for i in ticks], 12))
        ax.yaxis.set_major_formatter(FuncFormatter(compact))
        ax.set_xlabel(x or "", fontsize=9)
        ax.set_ylabel("rows", fontsize=9)
    elif kind == "bar":
        labels = [str(v) for v in frame[x].to_list()] if x else [str(i) for i in range(frame.height)]
        positions = np.arange(len(labels))
        width = 0.8 / max(1, len(ys))
        for i, y in enumerate(ys):
            ax.bar(positions + (i - (len(ys) - 1) / 2) * width, frame[y].cast(pl.Float64).to_numpy(),
                   width=width, color=PALETTE[i % len(PALETTE)], label=y)
        step = max(1, len(labels) // 20)
        ticks = list(range(0, len(labels), step))
        ax.set_xticks(ticks, _shorten([labels[i] for i in ticks], 14),
                      rotation=45 if len(ticks) > 6 else 0, ha="right" if len(ticks) > 6 else "center")
        ax.set_xlabel(x or "", fontsize=9)
    else:
        xs: Any = frame[x].to_numpy() if x else np.arange(frame.height)
        for i, y in enumerate(ys):
            color = PALETTE[i % len(PALETTE)]
            values = frame[y].cast(pl.Float64).to_numpy()
            if kind == "line":
                ax.plot(xs, values, color=color, linewidth=1.6, label=y)
            else:
                ax.scatter(xs, values, s=8, alpha=0.55, color=color, edgecolors="none", label=y)
        ax.set_xlabel(x or "row", fontsize=9)
        ax.grid(axis="x", color="#e2e8f0", linewidth=0.8)
    if kind != "hist":
        ax.set_ylabel(ys[0] if len(ys) == 1 else "", fontsize=9)
        if len(ys) > 1:
            ax.legend(fontsize=8, frameon=False)
    ax.set_title(title, fontsize=11, loc="left")
    return fig
