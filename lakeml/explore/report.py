"""The self-contained HTML report of a :class:`~lakeml.explore.profile.Profile` (no network needed)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.errors import ConfigError

if TYPE_CHECKING:
    from lakeml.explore.profile import Profile

_CSS = """
.lkp{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--soft:#f8fafc;--accent:#2563eb;--warn:#b45309;
 --warnbg:#fef3c7;--info:#1d4ed8;--infobg:#dbeafe;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",
 Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;color:var(--ink);line-height:1.45;font-size:14px}
.lkp *{box-sizing:border-box}
.lkp header.top{background:linear-gradient(120deg,#1e3a8a,#2563eb 60%,#0ea5e9);color:#fff;padding:26px 36px 22px}
.lkp header.top h1{margin:0;font-size:24px;font-weight:650;letter-spacing:-.01em}
.lkp header.top .sub{opacity:.85;margin-top:4px;font-size:13px}
.lkp nav{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);
 padding:10px 36px;display:flex;gap:22px;font-size:13px}
.lkp nav a{color:var(--muted);text-decoration:none;font-weight:550}.lkp nav a:hover{color:var(--accent)}
.lkp main{max-width:1180px;margin:0 auto;padding:8px 36px 60px}
.lkp section{margin-top:30px}
.lkp h2{font-size:18px;margin:0 0 14px;font-weight:650;letter-spacing:-.01em}
.lkp h3{font-size:15px;margin:0;font-weight:650;word-break:break-word}
.lkp .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.lkp .card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px;
 box-shadow:0 1px 2px rgba(15,23,42,.04)}
.lkp .card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.lkp .card .v{font-size:22px;font-weight:650;margin-top:2px}
.lkp .card .s{color:var(--muted);font-size:12px}
.lkp .badges{margin-top:12px;display:flex;flex-wrap:wrap;gap:6px}
.lkp .badge{display:inline-block;padding:2px 9px;border-radius:999px;background:#eef2ff;color:#3730a3;
 font-size:12px;font-weight:550}
.lkp .badge.dtype{background:#f1f5f9;color:#334155;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.lkp .note{color:var(--muted);font-size:12.5px;margin-top:8px}
.lkp table{border-collapse:collapse;width:100%;font-size:13px}
.lkp th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;
 border-bottom:1px solid var(--line);padding:6px 8px}
.lkp td{border-bottom:1px solid #f1f5f9;padding:5px 8px;vertical-align:top}
.lkp td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.lkp .pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;font-weight:600}
.lkp .pill.warning{background:var(--warnbg);color:var(--warn)}
.lkp .pill.info{background:var(--infobg);color:var(--info)}
.lkp .panel{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 18px}
.lkp .col{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin-bottom:14px}
.lkp .colhead{display:flex;align-items:center;gap:10px;flex-wrap:wrap;margin-bottom:10px}
.lkp .colbody{display:grid;grid-template-columns:minmax(260px,1fr) minmax(300px,1.35fr);gap:22px}
.lkp .stats td:first-child{color:var(--muted)}
.lkp img.chart{max-width:100%;height:auto;display:block}
.lkp .bar{background:#dbeafe;border-radius:3px;height:8px;min-width:1px}
.lkp .bar.accent{background:var(--accent)}
.lkp .muted{color:var(--muted)}
.lkp .grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:14px;align-items:start}
.lkp code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.lkp footer{color:var(--muted);font-size:12px;margin-top:40px}
@media (max-width:760px){.lkp .colbody{grid-template-columns:1fr}}
"""


# Caps that keep the report of a very wide table bounded (every number stays in the Profile's frames).
MAX_COLUMN_SECTIONS = 200
MAX_ALERT_ROWS = 500
MAX_TARGET_ROWS = 200


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, *, share: bool = False) -> str:
    """Format a number for the report (thousands separators, 4 significant digits, percentages)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if share:
        return f"{value:.1%}" if value >= 0.001 or value == 0 else f"{value:.3%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return str(value)


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _anchor(i: int) -> str:
    return f"col-{i}"


def _overview(p: Profile) -> str:
    o = p.overview
    cards = [
        ("Rows", fmt(o["rows"]), o["sample"] or ""),
        ("Columns", fmt(o["columns"]), ", ".join(f"{v} {k}" for k, v in sorted(o["column_kinds"].items()))),
        ("Missing cells", fmt(o["missing_share"], share=True), f"{fmt(o['missing_cells'])} cells"),
        ("Duplicate rows", fmt(o["duplicate_rows"]),
         fmt(o["duplicate_rows"] / o["rows"], share=True) + " of rows"
         if o["rows"] and o["duplicate_rows"] is not None else "not counted"),
        ("Memory (est.)", _bytes(o["memory_bytes"]), "Arrow, in memory"),
        ("Alerts", fmt(p.alerts.height), f"{p.alerts.filter(pl.col('severity') == 'warning').height} warnings"),
    ]
    parts = ['<section id="overview"><h2>Overview</h2><div class="cards">']
    for key, value, sub in cards:
        parts.append(f'<div class="card"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div>'
                     f'<div class="s">{_e(sub)}</div></div>')
    parts.append("</div>")
    notes = [f"Distinct counts: {o['distinct_method']}.", *list(o.get("notes") or [])]
    if o.get("seconds") is not None:
        notes.append(f"Profiled in {o['seconds']:.2f} s.")
    parts += [f'<div class="note">{_e(n)}</div>' for n in notes]
    parts.append("</section>")
    return "".join(parts)


def _alerts(p: Profile, index: dict[str, int]) -> str:
    if not p.alerts.height:
        return ('<section id="alerts"><h2>Alerts</h2><div class="panel muted">No alerts: nothing unusual '
                'found.</div></section>')
    rows = []
    order = p.alerts.with_columns((pl.col("severity") != "warning").alias("_o")).sort("_o", maintain_order=True)
    more = "" if order.height <= MAX_ALERT_ROWS else (
        f'<div class="note">Showing the first {MAX_ALERT_ROWS:,} of {order.height:,} alerts; all of them are in '
        "Profile.alerts.</div>")
    for col, kind, severity, message in order.head(MAX_ALERT_ROWS).select(
            "column", "kind", "severity", "message").iter_rows():
        where = "table" if col is None else f'<a href="#{_anchor(index[col])}"><code>{_e(col)}</code></a>'
        rows.append(f'<tr><td><span class="pill {_e(severity)}">{_e(severity)}</span></td><td>{where}</td>'
                    f'<td class="muted">{_e(kind)}</td><td>{_e(message)}</td></tr>')
    return ('<section id="alerts"><h2>Alerts</h2><div class="panel"><table><tr><th>severity</th><th>column</th>'
            f'<th>kind</th><th>message</th></tr>{"".join(rows)}</table>{more}</div></section>')


def _img(chart_fn: Any) -> str:
    try:
        chart = chart_fn()
    except ConfigError:
        return ""
    return f'<img class="chart" alt="{_e(chart.title)}" src="{chart.data_uri("png")}"/>'


def _target(p: Profile, index: dict[str, int]) -> str:
    t = p.target
    if t is None or p.target_relations is None or p.target_distribution is None:
        return ""
    dist = p.target_distribution
    from lakeml.explore.chart import Chart
    from lakeml.explore.figures import bar_figure, histogram_figure

    if t["task"] == "classification":
        head = dist.head(20)
        dist_img = _img(lambda: Chart(bar_figure(head["value"].to_list(), head["count"].to_list(),
                                                 f"{t['column']} classes"), title="target"))
    else:
        hist = p.histograms.filter(pl.col("column") == t["column"])
        dist_img = _img(lambda: Chart(histogram_figure(hist, f"{t['column']} distribution"), title="target")) \
            if hist.height else ""
    rel_rows = []
    relations = p.target_relations
    more = "" if relations.height <= MAX_TARGET_ROWS else (
        f'<div class="note">Showing the {MAX_TARGET_ROWS:,} strongest of {relations.height:,} features; all of '
        "them are in Profile.target_relations.</div>")
    for r in relations.head(MAX_TARGET_ROWS).iter_rows(named=True):
        score = r["association"]
        width = 0 if score is None else max(1, round(score * 160))
        rel_rows.append(
            f'<tr><td><a href="#{_anchor(index[r["feature"]])}"><code>{_e(r["feature"])}</code></a></td>'
            f'<td class="muted">{_e(r["kind"])}</td><td class="num">{fmt(score)}</td>'
            f'<td><div class="bar accent" style="width:{width}px"></div></td>'
            f'<td class="num">{fmt(r["pearson"])}</td></tr>')
    measure = "correlation ratio η" if t["task"] == "regression" else "Cramér's V"
    charts = "".join(
        f'<div class="panel">{_img(lambda f=f: p.target_chart(f))}</div>'
        for f in p.target_relations.filter(pl.col("association").is_not_null())["feature"].head(6).to_list())
    return (f'<section id="target"><h2>Target: <code>{_e(t["column"])}</code> '
            f'<span class="badge">{_e(t["task"])}</span></h2>'
            f'<div class="grid2"><div class="panel">{dist_img}</div><div class="panel"><table>'
            f'<tr><th>feature</th><th>kind</th><th>{_e(measure)}</th><th></th><th>pearson r</th></tr>'
            f'{"".join(rel_rows)}</table>{more}</div></div>'
            f'<div class="grid2" style="margin-top:14px">{charts}</div></section>')


def _correlations(p: Profile) -> str:
    if p.correlations.height < 4:
        return ""
    return (f'<section id="correlations"><h2>Correlations</h2><div class="panel" style="max-width:760px">'
            f'{_img(p.correlation_chart)}</div></section>')


_STAT_LABELS: dict[str, list[tuple[str, str, bool]]] = {
    "numeric": [("mean", "mean", False), ("std", "std dev", False), ("min", "min", False),
                ("p5", "5%", False), ("p25", "25%", False), ("median", "median", False),
                ("p75", "75%", False), ("p95", "95%", False), ("max", "max", False),
                ("skew", "skewness", False), ("zeros", "zeros", False), ("negatives", "negative", False)],
    "text": [("len_min", "min length", False), ("len_mean", "mean length", False),
             ("len_max", "max length", False), ("empty", "empty strings", False),
             ("min_value", "first (A→Z)", False), ("max_value", "last (A→Z)", False)],
    "datetime": [("min_value", "earliest", False), ("max_value", "latest", False)],
    "boolean": [("true", "true", False)],
    "other": [],
}


def _column(p: Profile, i: int, c: dict[str, Any], with_chart: bool, top: pl.DataFrame,
            alerts: pl.DataFrame) -> str:
    rows = [("values", fmt(c["count"])), ("missing", f"{fmt(c['nulls'])} ({fmt(c['null_share'], share=True)})")]
    if c["distinct"] is not None:
        exact = "" if c["distinct_exact"] else " ≈"
        rows.append(("distinct", f"{exact}{fmt(c['distinct'])} ({fmt(c['distinct_share'], share=True)})"))
    for key, label, _ in _STAT_LABELS[c["kind"]]:
        if c.get(key) is not None:
            rows.append((label, fmt(c[key])))
    if c["nan"]:
        rows.append(("NaN", fmt(c["nan"])))
    if c["infinite"]:
        rows.append(("infinite", fmt(c["infinite"])))
    rows.append(("memory (est.)", _bytes(c["memory_bytes"])))
    stats = "".join(f'<tr><td>{_e(k)}</td><td class="num">{_e(v)}</td></tr>' for k, v in rows)
    chart = _img(lambda: p.chart(c["column"])) if with_chart else ""
    top_html = ""
    continuous = c["kind"] == "numeric" and (c["distinct_share"] or 0) > 0.5
    if top.height and not continuous:
        biggest = max(top["count"].max() or 1, 1)  # type: ignore[type-var]
        items = "".join(
            f'<tr><td><code>{_e(v if v != "" else "(empty)")}</code></td><td class="num">{fmt(n)}</td>'
            f'<td class="num">{fmt(s, share=True)}</td><td style="width:40%"><div class="bar" '
            f'style="width:{max(1, round(100 * n / biggest))}%"></div></td></tr>'  # type: ignore[operator]
            for v, n, s in top.select("value", "count", "share").iter_rows())
        top_html = (f'<div style="margin-top:14px"><table><tr><th>top values</th><th>rows</th><th>share</th>'
                    f'<th></th></tr>{items}</table></div>')
    pills = "".join(f'<span class="pill {_e(s)}" title="{_e(m)}">{_e(k)}</span>'
                    for k, s, m in alerts.select("kind", "severity", "message").iter_rows())
    return (f'<div class="col" id="{_anchor(i)}"><div class="colhead"><h3>{_e(c["column"])}</h3>'
            f'<span class="badge dtype">{_e(c["dtype"])}</span><span class="badge">{_e(c["kind"])}</span>'
            f'{pills}</div><div class="colbody"><div><table class="stats">{stats}</table></div>'
            f'<div>{chart}{top_html}</div></div></div>')


def _by_column(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Rows per column name, split once (filtering per column made wide reports quadratic)."""
    parts = frame.filter(pl.col("column").is_not_null()).partition_by("column", as_dict=True, maintain_order=True)
    return {key[0]: part for key, part in parts.items()}


def _compact(p: Profile, first: int, counts: dict[str, int]) -> str:
    """One table row per column from ``first`` on: the columns without a detailed section."""
    rows = []
    for i, c in enumerate(p.columns.slice(first).iter_rows(named=True), start=first):
        exact = "" if c["distinct_exact"] or c["distinct"] is None else "≈"
        rows.append(
            f'<tr id="{_anchor(i)}"><td><code>{_e(c["column"])}</code></td><td class="muted">{_e(c["dtype"])}</td>'
            f'<td class="num">{fmt(c["null_share"], share=True)}</td>'
            f'<td class="num">{exact}{fmt(c["distinct"])}</td><td class="num">{_e(fmt(c["mean"]))}</td>'
            f'<td>{_e(c["min_value"] if c["min_value"] is not None else "–")}</td>'
            f'<td>{_e(c["max_value"] if c["max_value"] is not None else "–")}</td>'
            f'<td class="num">{fmt(counts.get(c["column"], 0))}</td></tr>')
    return ('<div class="panel"><table><tr><th>column</th><th>dtype</th><th>missing</th><th>distinct</th>'
            f'<th>mean</th><th>min</th><th>max</th><th>alerts</th></tr>{"".join(rows)}</table></div>')


def render_fragment(p: Profile, *, max_column_charts: int = 60, max_column_sections: int = MAX_COLUMN_SECTIONS) -> str:
    """The report body in a scoped ``<div class="lkp">`` (used inline by Jupyter).

    The first ``max_column_sections`` columns get a detailed section (charts for the first
    ``max_column_charts``); the rest get one row each in a compact table, so the report's size
    and rendering time stay bounded for tables with thousands of columns. The report says so.
    """
    names = p.columns["column"].to_list()
    index = {n: i for i, n in enumerate(names)}
    o = p.overview
    tops = _by_column(p.top_values)
    alerts = _by_column(p.alerts)
    no_top = p.top_values.clear()
    no_alerts = p.alerts.clear()
    sections = min(len(names), max_column_sections)
    cols = "".join(_column(p, i, c, i < max_column_charts, tops.get(c["column"], no_top),
                           alerts.get(c["column"], no_alerts))
                   for i, c in enumerate(p.columns.head(sections).iter_rows(named=True)))
    notes = []
    if len(names) > max_column_charts:
        notes.append(f"Charts are shown for the first {min(max_column_charts, sections)} of {len(names)} columns; "
                     "use Profile.chart(column) or save_charts() for the rest.")
    if len(names) > sections:
        notes.append(f"Detailed sections are shown for the first {sections:,} of {len(names):,} columns; "
                     f"the other {len(names) - sections:,} are summarised in the table below "
                     "(all statistics are in Profile.columns).")
        cols += _compact(p, sections, {k: v.height for k, v in alerts.items()})
    more = "".join(f'<div class="note">{_e(n)}</div>' for n in notes)
    links = ['<a href="#overview">Overview</a>', f'<a href="#alerts">Alerts ({p.alerts.height})</a>']
    if p.target is not None:
        links.append('<a href="#target">Target</a>')
    if p.correlations.height >= 4:
        links.append('<a href="#correlations">Correlations</a>')
    links.append(f'<a href="#columns">Columns ({len(names)})</a>')
    sub = f"{fmt(o['rows'])} rows × {fmt(o['columns'])} columns · created {o['created_at']}"
    return (f'<div class="lkp"><style>{_CSS}</style><header class="top"><h1>Profile of '
            f'{_e(p.source)}</h1><div class="sub">{_e(sub)}</div></header><nav>{"".join(links)}</nav><main>'
            f'{_overview(p)}{_alerts(p, index)}{_target(p, index)}{_correlations(p)}'
            f'<section id="columns"><h2>Columns</h2>{more}{cols}</section>'
            f'<footer>Generated by lakeml. Numbers computed with streaming Polars aggregations; '
            f'all charts are embedded in this file.</footer></main></div>')


def render_report(p: Profile, *, max_column_charts: int = 60, max_column_sections: int = MAX_COLUMN_SECTIONS) -> str:
    """A complete, self-contained HTML document (see :func:`render_fragment` for the caps)."""
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Profile of {_e(p.source)} · lakeml</title></head><body style="margin:0;background:#f8fafc">'
            f'{render_fragment(p, max_column_charts=max_column_charts, max_column_sections=max_column_sections)}'
            '</body></html>')
