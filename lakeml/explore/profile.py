"""The :class:`Profile` object users get from ``Lake.profile``: numbers as Polars frames, charts,
a self-contained HTML report and JSON."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import polars as pl

from lakeml.errors import ColumnNotFoundError, ConfigError, choices_hint
from lakeml.explore.alerts import find_alerts
from lakeml.explore.chart import Chart, ImageFormat
from lakeml.explore.engine import ProfileData
from lakeml.explore.figures import bar_figure, heatmap_figure, histogram_figure, target_figure
from lakeml.explore.report import MAX_COLUMN_SECTIONS


class Profile:
    """A data profile: per-column statistics, histograms, top values, correlations, alerts.

    Every number is available as a Polars frame: :attr:`columns` (one row per column),
    :attr:`histograms`, :attr:`top_values`, :attr:`correlations` (long x/y/pearson),
    :attr:`alerts`, and with a target :attr:`target_distribution`, :attr:`target_relations`,
    :attr:`target_by_feature`. :attr:`overview` is a dict of table-level numbers.

    Example:
        >>> p = lake.profile("flights", target="arr_delay")   # doctest: +SKIP
        >>> p.columns.filter(pl.col("null_share") > 0.1)      # doctest: +SKIP
        >>> p.to_html("flights.html")                         # doctest: +SKIP
    """

    def __init__(self, data: ProfileData, *, source: str = "data", sample: str | None = None,
                 seconds: float | None = None) -> None:
        self._data = data
        self.source = source
        self.overview: dict[str, Any] = dict(data.overview)
        self.overview["source"] = source
        self.overview["sample"] = sample
        self.overview["seconds"] = seconds
        self.overview["created_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        self.overview["notes"] = list(data.notes)
        self.columns: pl.DataFrame = data.columns
        self.histograms: pl.DataFrame = data.histograms
        self.top_values: pl.DataFrame = data.top_values
        self.correlations: pl.DataFrame = data.correlations
        self.target: dict[str, Any] | None = data.target
        self.target_distribution = data.target_distribution
        self.target_relations = data.target_relations
        self.target_by_feature = data.target_by_feature
        self.alerts: pl.DataFrame = find_alerts(self.overview, self.columns, self.correlations,
                                                self.target, self.target_distribution)

    # -- access ---------------------------------------------------------------------------------
    def column(self, name: str) -> dict[str, Any]:
        """All statistics of one column as a dict.

        Raises:
            ColumnNotFoundError: no such column in the profile.
        """
        self._check(name)
        return self.columns.filter(pl.col("column") == name).row(0, named=True)

    def _check(self, name: str) -> None:
        names = self.columns["column"].to_list()
        if name not in names:
            raise ColumnNotFoundError(f"Column '{name}' is not in the profile.",
                                      hint=choices_hint(name, names, kind="column"))

    # -- charts ---------------------------------------------------------------------------------
    def chart(self, column: str) -> Chart:
        """The column's chart: a histogram for numeric/temporal columns, else its top values.

        Raises:
            ColumnNotFoundError: no such column.
            ConfigError: nothing to draw (e.g. an all-null or nested column).
        """
        self._check(column)
        hist = self.histograms.filter(pl.col("column") == column)
        if hist.height:
            return Chart(histogram_figure(hist, column), title=column)
        top = self.top_values.filter(pl.col("column") == column)
        if top.height:
            return Chart(bar_figure(top["value"].to_list(), top["count"].to_list(), column), title=column)
        raise ConfigError(f"Column '{column}' has nothing to chart (no values, or a nested type).",
                          hint="Pick a column with non-null numeric, temporal, text or boolean values.")

    def correlation_chart(self) -> Chart:
        """Heatmap of the Pearson correlations between numeric columns.

        Raises:
            ConfigError: fewer than two non-constant numeric columns.
        """
        if self.correlations.height < 4:
            raise ConfigError("No correlation heatmap: the data has fewer than two non-constant numeric columns.",
                              hint="Correlations need at least two numeric columns that vary.")
        return Chart(heatmap_figure(self.correlations), title="correlations")

    def target_chart(self, feature: str) -> Chart:
        """Target vs one feature (mean target or class shares per feature bin/value).

        Raises:
            ConfigError: the profile has no target, or no relation for that feature.
        """
        if self.target is None or self.target_by_feature is None:
            raise ConfigError("This profile has no target.", hint="Profile again with [[target='<column>']].")
        self._check(feature)
        rows = self.target_by_feature.filter(pl.col("feature") == feature)
        if not rows.height:
            raise ConfigError(f"No target relation for column '{feature}' (too many distinct values "
                              "or no values).", hint="Pick a numeric column or one with fewer distinct values.")
        return Chart(target_figure(rows, feature, self.target["column"], self.target["task"]),
                     title=f"{self.target['column']} by {feature}")

    def save_charts(self, directory: str | Path, *, format: ImageFormat = "png") -> list[Path]:
        """Write every column chart, the heatmap and target charts into ``directory``."""
        folder = Path(directory)
        written: list[Path] = []
        for i, name in enumerate(self.columns["column"].to_list()):
            try:
                written.append(self.chart(name).save(folder / f"{i:03d}_column.{format}"))
            except ConfigError:
                continue
        if self.correlations.height >= 4:
            written.append(self.correlation_chart().save(folder / f"correlations.{format}"))
        if self.target_relations is not None:
            for i, name in enumerate(self.target_relations["feature"].to_list()):
                try:
                    written.append(self.target_chart(name).save(folder / f"{i:03d}_target.{format}"))
                except ConfigError:
                    continue
        return written

    # -- export ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready Python values (frames become lists of records)."""
        def records(frame: pl.DataFrame | None) -> list[dict[str, Any]] | None:
            if frame is None:
                return None
            return [{k: _json_value(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]

        return {
            "overview": {k: _json_value(v) for k, v in self.overview.items()},
            "columns": records(self.columns),
            "histograms": records(self.histograms),
            "top_values": records(self.top_values),
            "correlations": records(self.correlations),
            "alerts": records(self.alerts),
            "target": self.target,
            "target_distribution": records(self.target_distribution),
            "target_relations": records(self.target_relations),
            "target_by_feature": records(self.target_by_feature),
        }

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """The profile as JSON text (NaN/inf become null); also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @overload
    def to_html(self, path: None = None, *, max_column_charts: int = 60,
                max_column_sections: int = MAX_COLUMN_SECTIONS) -> str: ...

    @overload
    def to_html(self, path: str | Path, *, max_column_charts: int = 60,
                max_column_sections: int = MAX_COLUMN_SECTIONS) -> Path: ...

    def to_html(self, path: str | Path | None = None, *, max_column_charts: int = 60,
                max_column_sections: int = MAX_COLUMN_SECTIONS) -> str | Path:
        """A self-contained HTML report (charts embedded): written to ``path`` if given, else returned.

        Args:
            path: local file to write (folders are created; the file is readable by all, 0644
                under the usual umask).
            max_column_charts: columns beyond this many get tables without charts (keeps
                reports of very wide tables small and fast).
            max_column_sections: columns beyond this many get one row each in a compact table
                instead of a section (the report says so; every number stays in :attr:`columns`).

        Returns:
            The :class:`~pathlib.Path` written when ``path`` is given; otherwise the HTML text.
        """
        from lakeml.explore.report import render_report

        text = render_report(self, max_column_charts=max_column_charts, max_column_sections=max_column_sections)
        if path is None:
            return text
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def _repr_html_(self) -> str:
        from lakeml.explore.report import render_fragment

        return render_fragment(self, max_column_charts=20)

    def __repr__(self) -> str:
        o = self.overview
        return (f"Profile({self.source!r}: {o['rows']:,} rows x {o['columns']} columns, "
                f"{self.alerts.height} alerts)")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value
