"""lakeml's own modules are imported plainly: a broken one fails loudly, never as a missing feature."""

from __future__ import annotations

import subprocess
import sys

import pytest

# (module made unimportable, code that needs it)
CASES = [
    ("lakeml.registry.views", "import lakeml; lakeml.connect(sys.argv[1]).sql('SELECT * FROM models')"),
    ("lakeml.ml.runs", "import lakeml; lakeml.connect(sys.argv[1]).sql('SELECT * FROM automl_runs')"),
    ("lakeml.sql.predict", "import lakeml, polars as pl; lake = lakeml.connect(sys.argv[1]); "
                           "lake.write('t', pl.DataFrame({'a': [1.0]})); "
                           "lake.sql(\"SELECT PREDICT('m', a) AS y FROM t\")"),
    ("lakeml.cli.train", "import lakeml.cli.main"),
]


@pytest.mark.parametrize(("broken", "code"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_lakeml_module_is_an_import_error(broken: str, code: str, tmp_path) -> None:
    # A None entry in sys.modules makes importing that module fail as a broken module does.
    script = f"import sys; sys.modules[{broken!r}] = None; {code}"
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "lake")], capture_output=True, text=True)
    assert out.returncode != 0
    assert f"import of {broken} halted" in out.stderr, out.stderr[-2000:]
