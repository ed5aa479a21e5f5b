"""The validator reports every problem at once, each with its JSON path."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lakeml.cli.main import cli
from lakeml.errors import PipelineValidationError
from lakeml.pipeline import bind_parameters, load_pipeline
from lakeml.pipeline.validate import problems


def doc(*activities, parameters=None, variables=None, name="p"):
    props = {"activities": list(activities)}
    if parameters is not None:
        props["parameters"] = parameters
    if variables is not None:
        props["variables"] = variables
    return {"name": name, "properties": props}


def wait(name, deps=None, seconds=0):
    out = {"name": name, "type": "Wait", "typeProperties": {"waitTimeInSeconds": seconds}}
    if deps:
        out["dependsOn"] = [{"activity": d, "dependencyConditions": ["Succeeded"]} for d in deps]
    return out


def issues_of(document):
    return dict(problems(document))


def test_a_valid_pipeline_has_no_problems():
    assert problems(doc(wait("a"), wait("b", ["a"]))) == []


def test_every_problem_is_reported_at_once_with_its_path():
    bad = doc(
        wait("a", ["b"]),
        {"name": "b", "type": "Wait", "typeProperties": {"waitTimeInSeconds": "@add(1,", "colour": 1},
         "dependsOn": [{"activity": "a", "dependencyConditions": ["Done"]}]},
        {"name": "c", "type": "SynapseNotebook"},
        {"name": "d", "type": "Wat", "typeProperties": {}},
        {"name": "e", "type": "Copy", "typeProperties": {"source": {"table": "x"}, "sink": {"table": "y"}},
         "policy": {"retry": -1, "timeout": "10 minutes"}},
    )
    found = issues_of(bad)
    base = "$.properties.activities"
    assert "Done" in found[f"{base}[1].dependsOn[0].dependencyConditions[0]"]
    assert "position 7" in found[f"{base}[1].typeProperties.waitTimeInSeconds"]
    assert "colour" in found[f"{base}[1].typeProperties.colour"]
    assert "use Python" in found[f"{base}[2].type"]
    assert "Wait" in found[f"{base}[3].type"]  # did you mean 'Wait'?
    assert "retry" in found[f"{base}[4].policy.retry"]
    assert "timespan" in found[f"{base}[4].policy.timeout"]
    assert "cycle" in found[f"{base}[0].dependsOn"]


@pytest.mark.parametrize(("cloud", "lakeml_type"), [
    ("SqlServerStoredProcedure", "Script"), ("SynapseNotebook", "Python"), ("DatabricksNotebook", "Python"),
    ("AzureMLExecutePipeline", "AutoML"), ("ExecuteDataFlow", "Script"),
])
def test_cloud_types_name_the_lakeml_type(cloud, lakeml_type):
    found = issues_of(doc({"name": "x", "type": cloud}))
    assert lakeml_type in found["$.properties.activities[0].type"]


def test_duplicate_names_including_nested_ones():
    found = issues_of(doc(wait("a"), {"name": "f", "type": "ForEach", "typeProperties": {
        "items": "@createArray(1)", "isSequential": True, "activities": [wait("a")]}}))
    assert "used twice" in found["$.properties.activities[1].typeProperties.activities[0].name"]


def test_name_length_limits():
    found = issues_of(doc(wait("a" * 56), name="p" * 141))
    assert "140" in found["$.name"]
    assert "55" in found["$.properties.activities[0].name"]


def test_dependency_on_a_missing_activity_and_on_itself():
    found = issues_of(doc(wait("a", ["nope"]), wait("b", ["b"])))
    assert "not an activity" in found["$.properties.activities[0].dependsOn[0].activity"]
    assert "itself" in found["$.properties.activities[1].dependsOn[0].activity"]


def test_set_variable_inside_a_parallel_foreach_even_nested_in_an_if():
    inner = {"name": "s", "type": "SetVariable", "typeProperties": {"variableName": "v", "value": "x"}}
    branch = {"name": "i", "type": "IfCondition", "typeProperties": {"expression": "@true",
                                                                     "ifTrueActivities": [inner]}}
    each = {"name": "f", "type": "ForEach", "typeProperties": {"items": "@createArray(1)", "activities": [branch]}}
    found = issues_of(doc(each, variables={"v": {"type": "String"}}))
    assert "parallel ForEach" in found["$.properties.activities[0].typeProperties.activities[0]"
                                       ".typeProperties.ifTrueActivities[0].type"]
    each["typeProperties"]["isSequential"] = True
    assert problems(doc(each, variables={"v": {"type": "String"}})) == []


def test_foreach_and_until_may_not_nest_directly():
    until = {"name": "u", "type": "Until", "typeProperties": {"expression": "@true", "activities": [wait("w")]}}
    found = issues_of(doc({"name": "f", "type": "ForEach", "typeProperties": {"items": "@createArray(1)",
                                                                              "activities": [until]}}))
    assert "ExecutePipeline" in found["$.properties.activities[0].typeProperties.activities[0].type"]


def test_expression_references_are_checked():
    found = problems(doc(
        {"name": "l", "type": "Lookup", "typeProperties": {"sql": "@{pipeline().parameters.dy} @{nofunc(1)}"}},
        parameters={"day": {"type": "string"}}))
    messages = " | ".join(m for _, m in problems(doc({"name": "w", "type": "Wait", "typeProperties": {
        "waitTimeInSeconds": "@add(activity('nope').output.x, variables('v'), item())"}})))
    assert "takes 2 arguments, got 3" in messages
    assert "activity('nope')" in messages and "variables('v')" in messages and "item()" in messages
    sql_issues = [m for p, m in found if p == "$.properties.activities[0].typeProperties.sql"]
    assert any("Did you mean 'day'" in m for m in sql_issues)
    assert any("nofunc() is not a function" in m and "position 30" in m for m in sql_issues)


def test_control_activities_take_no_policy_and_foreach_batch_count_is_bounded():
    found = issues_of(doc({"name": "f", "type": "ForEach", "policy": {"retry": 1},
                           "typeProperties": {"items": "@createArray(1)", "batchCount": 51,
                                              "activities": [wait("w")]}}))
    assert "takes no policy" in found["$.properties.activities[0].policy"]
    assert "50" in found["$.properties.activities[0].typeProperties.batchCount"]


def test_load_pipeline_raises_one_error_listing_every_problem(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc(wait("a", ["x"]), {"name": "b", "type": "Nope"})))
    with pytest.raises(PipelineValidationError) as info:
        load_pipeline(path)
    assert len(info.value.issues) == 2
    assert "2 problems" in info.value.message


def test_yaml_definitions_read_like_json(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "p.yaml"
    path.write_text("name: y\nproperties:\n  activities:\n    - name: a\n      type: Wait\n"
                    "      typeProperties: {waitTimeInSeconds: 0}\n")
    assert load_pipeline(path).activities[0].name == "a"


def test_bad_json_names_line_and_column(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"name": "p",\n "properties": }')
    with pytest.raises(PipelineValidationError, match="line 2"):
        load_pipeline(path)


def test_run_time_parameters_are_converted_and_bad_values_named():
    pipe = load_pipeline(doc(wait("a"), parameters={"n": {"type": "Int"}, "on": {"type": "bool", "defaultValue": False},
                                                    "xs": {"type": "array", "defaultValue": []},
                                                    "key": {"type": "secureString"}}))
    assert bind_parameters(pipe, {"n": "3", "key": "s3cret", "xs": "[1,2]"}) == {
        "n": 3, "on": False, "xs": [1, 2], "key": "s3cret"}
    with pytest.raises(PipelineValidationError) as info:
        bind_parameters(pipe, {"n": "three", "key": 1, "other": 1, "on": "maybe"})
    text = info.value.message
    assert "'three'" in text and "'other'" in text and "maybe" in text


def test_missing_parameter_without_default():
    pipe = load_pipeline(doc(wait("a"), parameters={"n": {"type": "int"}}))
    with pytest.raises(PipelineValidationError, match="no default"):
        bind_parameters(pipe, {})


def test_cli_validate_lists_problems_and_exits_1(tmp_path):
    good, bad = tmp_path / "g.json", tmp_path / "b.json"
    good.write_text(json.dumps(doc(wait("a"))))
    bad.write_text(json.dumps(doc(wait("a", ["zz"]))))
    runner = CliRunner()
    ok = runner.invoke(cli, ["pipeline", "validate", str(good)])
    assert ok.exit_code == 0 and "valid (1 activities)" in ok.output
    result = runner.invoke(cli, ["pipeline", "validate", str(bad)])
    assert result.exit_code == 1
    assert "$.properties.activities[0].dependsOn[0].activity" in result.output
