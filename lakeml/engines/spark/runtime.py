"""Getting a Spark session: the user's own, or a local one started on first use.

This package is the only place lakeml imports pyspark; ``import lakeml`` never does.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakeml.errors import ConfigError, EngineError, MissingDependencyError

#: Settings of a session lakeml starts itself; ``spark_conf`` entries override them.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Parquet files lakeml writes are read by Polars too: INT96 timestamps (Spark's default) are not portable.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "pip install 'lakeml[spark]'"
JAVA_HINT = ("Install a Java 17+ runtime (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless; macOS: "
             "brew install openjdk@17) and put java on PATH or set JAVA_HOME.")

_lock = threading.Lock()


def require_pyspark() -> Any:
    """The pyspark module, or MissingDependencyError with the pip line."""
    try:
        import pyspark
    except ImportError as exc:
        raise MissingDependencyError("The Spark backend needs pyspark, which is not installed.",
                                     hint=f"Install it with: {INSTALL_HINT}") from exc
    return pyspark


def find_java() -> str | None:
    """The java executable Spark would start: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java")


def cores(master: str) -> int | None:
    """The cores of a ``local[n]`` / ``local[*]`` master (None for a cluster master)."""
    if master == "local":
        return 1
    if master.startswith("local[") and master.endswith("]"):
        inner = master[6:-1].split(",")[0]
        return os.cpu_count() or 1 if inner == "*" else int(inner) if inner.isdigit() else None
    return None


def local_conf(master: str, spark_conf: Mapping[str, Any] | None) -> dict[str, str]:
    """The settings of a session lakeml starts: LOCAL_DEFAULTS, shuffle partitions sized to the cores,
    then the user's ``spark_conf``."""
    conf = dict(LOCAL_DEFAULTS)
    n = cores(master)
    # Spark's default of 200 shuffle partitions costs seconds per query on a few cores.
    conf["spark.sql.shuffle.partitions"] = str(max(2 * (n or 100), 2))
    conf.update({str(k): str(v) for k, v in (spark_conf or {}).items()})
    return conf


def start_session(master: str | None = None, spark_conf: Mapping[str, Any] | None = None) -> Any:
    """Start (or join) the local Spark session of this process.

    Raises:
        MissingDependencyError: pyspark is not installed.
        EngineError: no Java runtime, or Spark failed to start.
    """
    require_pyspark()
    conf = dict(spark_conf or {})
    master = str(conf.pop("spark.master", None) or master or DEFAULT_MASTER)
    if cores(master) is not None and find_java() is None:
        raise EngineError("The Spark backend needs a Java runtime, and none was found (no JAVA_HOME, no java "
                          "on PATH).", hint=JAVA_HINT)
    from pyspark.sql import SparkSession

    # Workers must run this interpreter (it has lakeml, Polars and ONNX Runtime), not the first python3 on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with _lock:
        builder = SparkSession.builder.master(master).appName("lakeml")
        for key, value in local_conf(master, conf).items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:
            text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            hint = JAVA_HINT if "java" in text.lower() else (
                "Check spark_conf; rerun with --debug (or look at the exception's cause) for Spark's log.")
            raise EngineError(f"Spark failed to start a session on {master!r}: {text}", hint=hint) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def check_session(spark: Any) -> Any:
    """The user's session, checked to be a SparkSession."""
    require_pyspark()
    from pyspark.sql import SparkSession

    if not isinstance(spark, SparkSession):
        raise ConfigError(f"spark= must be a SparkSession, not {type(spark).__name__}.",
                          hint="Pass the notebook's session: lakeml.connect(root, backend='spark', spark=spark).")
    return spark
