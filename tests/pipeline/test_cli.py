"""``lakeml pipeline``: create, list, run (exit codes), runs, show, rerun, cancel."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lakeml.cli.main import cli
from tests.pipeline.conftest import act, fail, pipeline


def invoke(lake_root, *args):
    return CliRunner().invoke(cli, ["--lake", str(lake_root), "pipeline", *args])


def said(result):
    """What the command printed, and the error the CLI's entry point would print."""
    return result.output + (str(result.exception) if result.exception else "")


def test_create_list_run_runs_show(tmp_path):
    root = tmp_path / "lake"
    file = tmp_path / "p.json"
    file.write_text(json.dumps(pipeline(act("a"), act("b", "SetVariable", deps={"a": "Succeeded"}, variableName="v",
                                                      value="@pipeline().parameters.day"),
                                        name="daily", parameters={"day": {"type": "string"}},
                                        variables={"v": {"type": "String"}})))
    assert invoke(root, "list").output.startswith("no pipelines")
    assert "stored pipeline 'daily'" in invoke(root, "create", str(file)).output
    assert invoke(root, "list").output.strip() == "daily"
    result = invoke(root, "run", "daily", "--param", "day=2013-01-02")
    assert result.exit_code == 0, result.output
    assert "daily  run" in result.output and "Succeeded" in result.output
    runs = invoke(root, "runs", "daily")
    assert runs.exit_code == 0 and "Succeeded" in runs.output
    run_id = result.output.split("run ", 1)[1].split()[0]
    shown = invoke(root, "show", run_id)
    assert "b (SetVariable)" in shown.output and "attempt 1" in shown.output


def test_run_exits_1_on_failure_and_rerun_from_failure(tmp_path):
    root = tmp_path / "lake"
    file = tmp_path / "p.json"
    file.write_text(json.dumps(pipeline(act("ok"), fail("bad", deps={"ok": "Succeeded"}))))
    result = invoke(root, "run", str(file))
    assert result.exit_code == 1
    assert "error: boom" in result.output
    run_id = result.output.split("run ", 1)[1].split()[0]
    again = invoke(root, "rerun", run_id, "--from-failure")
    assert again.exit_code == 1 and f"reused from {run_id}" in again.output


def test_bad_parameters_and_definitions_list_every_problem(tmp_path):
    root = tmp_path / "lake"
    file = tmp_path / "p.json"
    file.write_text(json.dumps(pipeline(act("a"), parameters={"n": {"type": "int"}})))
    result = invoke(root, "run", str(file), "--param", "n=many", "--param", "m=1")
    assert result.exit_code == 1
    assert "'many'" in result.output and "'m'" in result.output
    assert invoke(root, "run", str(file), "--param", "oops").exit_code == 1
    missing = invoke(root, "show", "no-such-run")
    assert missing.exit_code == 1 and "No pipeline run" in said(missing)


def test_cancel_of_an_ended_run_says_so(tmp_path):
    root = tmp_path / "lake"
    file = tmp_path / "p.json"
    file.write_text(json.dumps(pipeline(act("a"))))
    run_id = invoke(root, "run", str(file)).output.split("run ", 1)[1].split()[0]
    result = invoke(root, "cancel", run_id)
    assert result.exit_code == 1 and "already ended" in said(result)
