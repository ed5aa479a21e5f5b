"""The runner: dependency conditions, the leaf status rule, control flow, retries, timeouts, cancellation."""

from __future__ import annotations

import json
import textwrap

import pytest

import lakeml
from lakeml.pipeline.clock import SystemClock
from tests.pipeline.conftest import act, fail, pipeline


def run(lake, clock, *activities, **kwargs):
    params = kwargs.pop("params", None)
    return lake.pipelines.run(pipeline(*activities, **kwargs), params, clock=clock)


def record(result, activity_id):
    return next(a for a in result.activities if a["id"] == activity_id)


def statuses(result):
    return {a["id"]: a["status"] for a in result.activities}


@pytest.mark.parametrize(("first", "condition", "runs"), [
    ("ok", "Succeeded", True), ("ok", "Failed", False), ("ok", "Completed", True), ("ok", "Skipped", False),
    ("bad", "Succeeded", False), ("bad", "Failed", True), ("bad", "Completed", True), ("bad", "Skipped", False),
])
def test_each_dependency_condition(lake, clock, first, condition, runs):
    head = act("first") if first == "ok" else fail("first")
    result = run(lake, clock, head, act("next", deps={"first": condition}))
    assert statuses(result)["next"] == ("Succeeded" if runs else "Skipped")


def test_skipped_condition_matches_a_skipped_dependency(lake, clock):
    result = run(lake, clock, act("a"), act("b", deps={"a": "Failed"}), act("c", deps={"b": "Skipped"}))
    assert statuses(result) == {"a": "Succeeded", "b": "Skipped", "c": "Succeeded"}
    assert result.status == "Succeeded"


def test_conditions_or_within_a_dependency_and_across_dependencies(lake, clock):
    result = run(lake, clock, act("ok"), fail("bad"),
                 act("either", deps={"bad": ["Succeeded", "Failed"]}),
                 act("both", deps={"ok": "Succeeded", "bad": "Succeeded"}),
                 act("mixed", deps={"ok": "Succeeded", "bad": "Failed"}))
    assert statuses(result)["either"] == "Succeeded"
    assert statuses(result)["both"] == "Skipped"
    assert statuses(result)["mixed"] == "Succeeded"


def test_skipping_spreads_down_the_chain(lake, clock):
    result = run(lake, clock, fail("a"), act("b", deps={"a": "Succeeded"}), act("c", deps={"b": "Succeeded"}),
                 act("d", deps={"c": "Succeeded"}))
    assert statuses(result) == {"a": "Failed", "b": "Skipped", "c": "Skipped", "d": "Skipped"}


def test_status_rule_try_catch_succeeds(lake, clock):
    result = run(lake, clock, fail("try"), act("catch", deps={"try": "Failed"}))
    assert result.status == "Succeeded"


def test_status_rule_do_if_else_fails(lake, clock):
    result = run(lake, clock, fail("do"), act("on_ok", deps={"do": "Succeeded"}), act("on_fail", deps={"do": "Failed"}))
    assert result.status == "Failed"


def test_status_rule_do_if_skip_else_succeeds(lake, clock):
    result = run(lake, clock, fail("do"), act("on_ok", deps={"do": "Succeeded"}),
                 act("on_fail", deps={"do": "Failed"}), act("end", deps={"on_ok": "Skipped"}))
    # 'end' is a leaf and succeeded, 'on_fail' is a leaf and succeeded
    assert result.status == "Succeeded"


def test_status_rule_skipped_leaf_with_a_succeeded_parent(lake, clock):
    result = run(lake, clock, act("a"), act("only_on_failure", deps={"a": "Failed"}))
    assert result.status == "Succeeded"


def test_fail_activity_message_and_code(lake, clock):
    result = run(lake, clock, act("x", "Fail", message="@concat('no ', 'data')", errorCode="NODATA"))
    record = result.activities[0]
    assert result.status == "Failed"
    assert record["error"]["message"] == "no data" and record["error"]["code"] == "NODATA"


def test_foreach_parallel_and_sequential_with_item(lake, clock):
    inner = act("add", "AppendVariable", variableName="seen", value="@item()")
    result = run(lake, clock, act("loop", "ForEach", items="@range(1, 5)", isSequential=True, activities=[inner]),
                 variables={"seen": {"type": "Array"}})
    assert result.status == "Succeeded"
    assert lake.pipelines.get(result.run_id)["variables"]["seen"] == [1, 2, 3, 4, 5]
    assert statuses(result)["loop[4]/add"] == "Succeeded"
    parallel = run(lake, clock, act("loop", "ForEach", items="@createArray('a', 'b', 'c')", batchCount=2,
                                    activities=[act("w", "Wait", waitTimeInSeconds="@length(item())")]))
    assert parallel.status == "Succeeded"
    assert sum(1 for a in parallel.activities if a["activityName"] == "w") == 3
    assert parallel.output("loop") == {"iterations": 3}


def test_foreach_fails_when_an_iteration_fails(lake, clock):
    inner = act("check", "IfCondition", expression="@equals(item(), 2)", ifTrueActivities=[fail("bad")])
    result = run(lake, clock, act("loop", "ForEach", items="@range(1, 3)", activities=[inner]))
    assert result.status == "Failed"
    assert statuses(result)["loop[1]/check/ifTrueActivities/bad"] == "Failed"
    assert "1 of 3 iterations" in record(result, "loop")["error"]["message"]
    assert statuses(result)["loop[0]/check"] == "Succeeded"


def test_if_condition_runs_one_branch_with_outputs(lake, clock):
    result = run(lake, clock, act("n", "SetVariable", variableName="v", value="x"),
                 act("branch", "IfCondition", deps={"n": "Succeeded"}, expression="@equals(variables('v'), 'x')",
                     ifTrueActivities=[act("yes")], ifFalseActivities=[act("no")]),
                 variables={"v": {"type": "String"}})
    ids = statuses(result)
    assert ids["branch/ifTrueActivities/yes"] == "Succeeded" and not any(i.endswith("/no") for i in ids)
    assert result.output("branch")["expression"] is True


def test_until_loops_until_true(lake, clock):
    result = run(lake, clock, act("loop", "Until", expression="@greaterOrEquals(length(variables('xs')), 3)",
                                  activities=[act("add", "AppendVariable", variableName="xs", value=1)]),
                 variables={"xs": {"type": "Array"}})
    assert result.status == "Succeeded" and result.output("loop") == {"iterations": 3}


def test_until_times_out_on_the_clock(lake, clock):
    result = run(lake, clock, act("loop", "Until", expression="@false", timeout="0.00:01:00",
                                  activities=[act("w", "Wait", waitTimeInSeconds=25)]))
    assert result.status == "Failed"
    assert "timed out" in record(result, "loop")["error"]["message"]
    assert clock.slept == [25, 25, 25]


def test_wait_uses_the_clock(lake, clock):
    before = clock.now()
    run(lake, clock, act("w", "Wait", waitTimeInSeconds=3600))
    assert (clock.now() - before).total_seconds() == 3600


def _script(tmp_path, body):
    path = tmp_path / "step.py"
    path.write_text(textwrap.dedent(body))
    return path


FLAKY = """
    import pathlib
    def main(lake, counter, fail_times, error="OSError"):
        path = pathlib.Path(counter)
        n = int(path.read_text()) if path.exists() else 0
        path.write_text(str(n + 1))
        if n < fail_times:
            raise {"OSError": OSError, "ValueError": ValueError}[error](f"attempt {n + 1} failed")
        return {"attempts": n + 1}
"""


def python_act(name, script, policy=None, deps=None, **parameters):
    return act(name, "Python", deps=deps, policy=policy, script=str(script), parameters=parameters)


def test_retryable_errors_are_retried_with_the_interval(lake, clock, tmp_path):
    script = _script(tmp_path, FLAKY)
    result = run(lake, clock, python_act("flaky", script, {"retry": 3, "retryIntervalInSeconds": 5},
                                         counter=str(tmp_path / "n"), fail_times=2))
    assert result.status == "Succeeded"
    assert result.activities[0]["attempt"] == 3 and result.output("flaky") == {"attempts": 3}
    assert clock.slept == [5, 5]


def test_exponential_backoff_with_jitter(lake, clock, tmp_path):
    script = _script(tmp_path, FLAKY)
    result = run(lake, clock, python_act("flaky", script, {"retry": 3, "retryIntervalInSeconds": 10,
                                                           "retryBackoff": "exponential"},
                                         counter=str(tmp_path / "n"), fail_times=3))
    assert result.status == "Succeeded"
    first, second, third = clock.slept
    assert 5 <= first <= 15 and 10 <= second <= 30 and 20 <= third <= 60


def test_retries_run_out(lake, clock, tmp_path):
    script = _script(tmp_path, FLAKY)
    result = run(lake, clock, python_act("flaky", script, {"retry": 1, "retryIntervalInSeconds": 1},
                                         counter=str(tmp_path / "n"), fail_times=5))
    assert result.status == "Failed" and result.activities[0]["attempt"] == 2
    assert "attempt 2 failed" in result.activities[0]["error"]["message"]


def test_errors_that_cannot_pass_are_not_retried(lake, clock, tmp_path):
    script = _script(tmp_path, FLAKY)
    result = run(lake, clock, python_act("bad", script, {"retry": 3, "retryIntervalInSeconds": 1},
                                         counter=str(tmp_path / "n"), fail_times=5, error="ValueError"),
                 act("sql", "Lookup", policy={"retry": 3}, sql="SELEC 1"))
    assert statuses(result) == {"bad": "Failed", "sql": "Failed"}
    assert all(a["attempt"] == 1 for a in result.activities)
    assert clock.slept == []


def test_activity_timeout_fails_and_is_retryable(tmp_path):
    lake = lakeml.connect(tmp_path / "lake")
    script = _script(tmp_path, "import time\ndef main(lake):\n    time.sleep(30)\n")
    result = lake.pipelines.run(pipeline(python_act("slow", script, {"timeout": "0.00:00:01", "retry": 1,
                                                                     "retryIntervalInSeconds": 0})),
                                clock=SystemClock())
    record = result.activities[0]
    assert result.status == "Failed" and record["attempt"] == 2
    assert "timed out after 1 s" in record["error"]["message"]


def test_cancel_a_running_run(tmp_path):
    lake = lakeml.connect(tmp_path / "lake")
    doc = pipeline(act("w", "Wait", waitTimeInSeconds=3600), act("after", deps={"w": "Completed"}))
    handle = lake.pipelines.run(doc, wait=False, clock=SystemClock())
    while "w" not in {a.id for a in handle.activities() if a.status == "InProgress"}:
        handle.done.wait(0.01)
    lake.pipelines.cancel(handle.run_id)
    result = handle.wait(60)
    assert result.status == "Cancelled"
    assert statuses(result) == {"w": "Cancelled", "after": "Cancelled"}


def test_cancel_from_another_process_through_the_lake(tmp_path):
    root = tmp_path / "lake"
    lake = lakeml.connect(root)
    handle = lake.pipelines.run(pipeline(act("w", "Wait", waitTimeInSeconds=3600)), wait=False, clock=SystemClock())
    while not handle.activities():
        handle.done.wait(0.01)
    lakeml.connect(root).pipelines.cancel(handle.run_id)  # another session: no handle, a marker in the lake
    assert handle.wait(60).status == "Cancelled"


def test_execute_pipeline_waits_and_fails_with_the_child(lake, clock):
    lake.pipelines.create(pipeline(act("x", "Fail", message="@pipeline().parameters.why", errorCode="C"),
                                   name="child", parameters={"why": {"type": "string"}}))
    result = run(lake, clock, act("call", "ExecutePipeline", pipeline="child", parameters={"why": "because"}))
    assert result.status == "Failed"
    assert "because" in result.activities[0]["error"]["message"]
    child_id = result.activities[0]["error"]["hint"].split("show ")[1].rstrip("'.")
    assert lake.pipelines.get(child_id)["run"]["invokedBy"] == f"Pipeline run {result.run_id}"
    lake.pipelines.create(pipeline(act("w"), name="good"))
    ok = run(lake, clock, act("call", "ExecutePipeline", pipeline="good"))
    assert ok.status == "Succeeded" and ok.output("call")["status"] == "Succeeded"


def test_secure_strings_are_never_recorded(lake, clock):
    result = run(lake, clock, act("x", "Fail", message="@concat('key=', pipeline().parameters.key)", errorCode="E"),
                 parameters={"key": {"type": "secureString"}}, params={"key": "hunter2-secret"})
    raw = json.dumps(lake.pipelines.get(result.run_id))
    assert "hunter2-secret" not in raw and "***" in raw
    frame = lake.sql("SELECT parameters FROM pipeline_runs").collect()
    assert "hunter2-secret" not in frame.write_csv()
    assert "hunter2-secret" not in lake.sql("SELECT error, input FROM activity_runs").collect().write_csv()


def test_parameters_reach_expressions_with_their_types(lake, clock):
    result = run(lake, clock, act("s", "SetVariable", variableName="v", value="@add(pipeline().parameters.n, 1)"),
                 parameters={"n": {"type": "int"}}, variables={"v": {"type": "int"}}, params={"n": "41"})
    assert result.output("s") == {"name": "v", "value": 42}


def test_rerun_from_failure_reuses_succeeded_outputs(lake, clock, tmp_path):
    counter = _script(tmp_path, """
        import pathlib
        def main(lake, path):
            p = pathlib.Path(path)
            p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))
            return {"count": int(p.read_text())}
    """)
    gate = tmp_path / "gate.py"
    gate.write_text("import pathlib\ndef main(lake, flag):\n    if not pathlib.Path(flag).exists():\n"
                    "        raise ValueError('gate closed')\n    return {}\n")
    doc = pipeline(python_act("count", counter, path=str(tmp_path / "n")),
                   python_act("gate", gate, deps={"count": "Succeeded"}, flag=str(tmp_path / "open")),
                   act("last", "SetVariable", deps={"gate": "Succeeded"}, variableName="v",
                       value="@string(activity('count').output.count)"),
                   variables={"v": {"type": "String"}})
    first = lake.pipelines.run(doc, clock=clock)
    assert first.status == "Failed" and statuses(first)["last"] == "Skipped"
    (tmp_path / "open").write_text("")
    again = lake.pipelines.rerun(first.run_id, from_failure=True, clock=clock)
    assert again.status == "Succeeded"
    assert (tmp_path / "n").read_text() == "1"  # 'count' did not run again
    reused = next(a for a in again.activities if a["id"] == "count")
    assert reused["reusedFrom"] == first.run_id and reused["output"] == {"count": 1}
    assert again.output("last") == {"name": "v", "value": "1"}
    full = lake.pipelines.rerun(first.run_id, clock=clock)
    assert full.status == "Succeeded" and (tmp_path / "n").read_text() == "2"


def test_a_killed_run_is_marked_failed_on_the_next_start(lake, clock):
    import subprocess
    import sys

    from lakeml.pipeline import records

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    document = {"run": {"runId": "dead-1", "pipelineName": "p", "status": "InProgress", "host": records.socket
                        .gethostname(), "pid": child.pid, "processStart": 1.0},
                "activities": [{"id": "a", "activityName": "a", "activityType": "Wait", "status": "InProgress"}]}
    records.write_run(lake.storage, document)
    found = lake.pipelines.runs()
    row = found.filter(found["runId"] == "dead-1").row(0, named=True)
    assert row["status"] == "Failed" and "killed" in row["message"]
    assert lake.pipelines.get("dead-1")["activities"][0]["status"] == "Failed"


def test_show_prints_the_tree(lake, clock):
    result = run(lake, clock, act("loop", "ForEach", items="@range(0, 2)", activities=[act("inner")]),
                 fail("bad", deps={"loop": "Succeeded"}))
    text = lake.pipelines.show(result.run_id)
    assert "loop (ForEach)" in text and "[1] inner (Wait)" in text
    assert "error: boom" in text and "attempt 1" in text


def test_expression_errors_fail_the_activity_with_position(lake, clock):
    result = run(lake, clock, act("w", "Wait", waitTimeInSeconds="@div(1, 0)"))
    assert result.status == "Failed"
    assert "div()" in result.activities[0]["error"]["message"]


RENDEZVOUS = """
    import pathlib, time
    def main(lake, me, other):
        pathlib.Path(me).write_text("here")
        for _ in range(2000):
            if pathlib.Path(other).exists():
                return {"met": True}
            time.sleep(0.01)
        return {"met": False}
"""


def test_independent_activities_run_in_parallel(lake, clock, tmp_path):
    script = _script(tmp_path, RENDEZVOUS)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    result = run(lake, clock, python_act("left", script, me=a, other=b), python_act("right", script, me=b, other=a))
    assert result.output("left") == {"met": True} and result.output("right") == {"met": True}


def test_pipeline_concurrency_queues_further_runs(tmp_path):
    lake = lakeml.connect(tmp_path / "lake")
    doc = pipeline(act("w", "Wait", waitTimeInSeconds=3600), name="single", concurrency=1)
    first = lake.pipelines.run(doc, wait=False, clock=SystemClock())
    while not first.activities():
        first.done.wait(0.01)
    second = lake.pipelines.run(doc, wait=False, clock=SystemClock())
    assert lake.pipelines.get(second.run_id)["run"]["status"] == "Queued"
    first.cancel()
    assert first.wait(60).status == "Cancelled"
    while not second.activities():
        second.done.wait(0.01)
    second.cancel()
    assert second.wait(60).status == "Cancelled"
