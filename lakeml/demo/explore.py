"""The explore stage of ``lakeml demo``: profile the flights table and write the HTML report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeml.session import Lake

REPORT_PATH = "_lakeml/reports/flights_profile.html"
CHART_PATH = "_lakeml/reports/flights_monthly_delay.png"


def demo_step(lake: Lake, console: Any) -> None:
    """Profile ``flights`` with ``arr_delay`` as target, write the report and a chart into the lake."""
    from lakeml.explore.api import chart, profile

    report = profile(lake, "flights", target="arr_delay")
    o = report.overview
    console.print(f"profiled [bold]{o['rows']:,}[/bold] rows x {o['columns']} columns in {o['seconds']:.2f}s: "
                  f"{o['missing_share']:.1%} missing cells, {o['duplicate_rows']:,} duplicate rows, "
                  f"{report.alerts.height} alerts")
    if report.target_relations is not None:
        top = report.target_relations.drop_nulls("association").head(3)
        strongest = ", ".join(f"{f} ({a:.2f})" for f, a in top.select("feature", "association").iter_rows())
        console.print(f"features most associated with arr_delay: {strongest}")
    lake.storage.write_bytes(REPORT_PATH, report.to_html().encode("utf-8"))
    monthly = chart(lake, "SELECT month, AVG(arr_delay) AS avg_arr_delay FROM flights GROUP BY month ORDER BY month",
                    kind="line", x="month", y="avg_arr_delay", title="Average arrival delay by month (minutes)")
    lake.storage.write_bytes(CHART_PATH, monthly.to_png())
    console.print(f"profile report: [bold]{lake.storage.uri(*REPORT_PATH.split('/'))}[/bold] (open it in a browser)")
    console.print(f"chart: {lake.storage.uri(*CHART_PATH.split('/'))}")
