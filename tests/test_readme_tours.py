"""The README's tours run as written: every ``python`` and ``bash`` block under the tour headings,
top to bottom, the way a reader runs them (blocks fenced ``python azure`` / ``bash azure`` need an
Azure account and are skipped)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOURS = ("Python tour", "CLI tour")
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def tour_blocks(readme: str) -> list[tuple[str, str]]:
    """``(language, code)`` of the runnable blocks under the tour headings, in README order."""
    blocks: list[tuple[str, str]] = []
    for section in re.split(r"^## ", readme, flags=re.MULTILINE):
        title = section.splitlines()[0].strip() if section else ""
        if title not in TOURS:
            continue
        for info, code in _FENCE.findall(section):
            if info.strip() in ("python", "bash"):
                blocks.append((info.strip(), code))
    return blocks


def test_tour_blocks_are_found_and_azure_blocks_are_not_run() -> None:
    blocks = tour_blocks((REPO / "README.md").read_text())
    assert [lang for lang, _ in blocks] == ["python", "bash"]
    for _, code in blocks:
        for line in code.splitlines():
            assert "abfss://" not in line.split("#")[0], line


@pytest.mark.slow
def test_readme_tours_run_as_written(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).parent)  # the project's venv: `source .venv/bin/activate`
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    env["PATH"] = os.pathsep.join((venv_bin, env.get("PATH", "")))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["MPLBACKEND"] = "Agg"
    for lang, code in tour_blocks((REPO / "README.md").read_text()):
        command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-e", "-c", code]
        out = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"{lang} block failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        assert "Traceback" not in out.stderr
    for name in ("flights.csv", "flights.html", "delay.png", "ua.csv", "d.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "lake" / "tables" / "flights_scored").is_dir()
