"""The activity types lakeml runs: their properties, and the cloud types that map to them.

One table of facts used by the validator (which properties an activity may have, which it needs)
and the runner (which activities are control flow, which hold nested activity lists).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActivityType:
    """What the validator knows about one activity type.

    Attributes:
        name: the ``type`` value.
        properties: the ``typeProperties`` keys allowed.
        required: the keys that must be present (a tuple of alternatives means one of them).
        control: control-flow activities take no ``policy`` (as in the cloud).
        nested: keys holding lists of activities.
        lazy: keys evaluated by the activity itself (per iteration), not before it starts.
    """

    name: str
    properties: frozenset[str]
    required: tuple[tuple[str, ...], ...] = ()
    control: bool = False
    nested: tuple[str, ...] = ()
    lazy: frozenset[str] = frozenset()


def _t(name: str, props: str, required: tuple[tuple[str, ...], ...] = (), *, control: bool = False,
       nested: tuple[str, ...] = (), lazy: str = "") -> ActivityType:
    return ActivityType(name, frozenset(props.split()), required, control, nested, frozenset(lazy.split()))


ACTIVITY_TYPES: dict[str, ActivityType] = {t.name: t for t in (
    _t("Copy", "source sink watermark", (("source",), ("sink",))),
    _t("Script", "sql scripts", (("sql", "scripts"),)),
    _t("Lookup", "sql firstRowOnly", (("sql",),)),
    _t("GetMetadata", "table path fieldList", (("table", "path"), ("fieldList",))),
    _t("ForEach", "items isSequential batchCount activities", (("items",), ("activities",)), control=True,
       nested=("activities",), lazy="activities"),
    _t("IfCondition", "expression ifTrueActivities ifFalseActivities", (("expression",),), control=True,
       nested=("ifTrueActivities", "ifFalseActivities"), lazy="ifTrueActivities ifFalseActivities expression"),
    _t("Until", "expression timeout activities", (("expression",), ("activities",)), control=True,
       nested=("activities",), lazy="activities expression"),
    _t("Wait", "waitTimeInSeconds", (("waitTimeInSeconds",),), control=True),
    _t("SetVariable", "variableName value", (("variableName",), ("value",)), control=True),
    _t("AppendVariable", "variableName value", (("variableName",), ("value",)), control=True),
    _t("ExecutePipeline", "pipeline parameters waitOnCompletion", (("pipeline",),), control=True),
    _t("Fail", "message errorCode", (("message",), ("errorCode",)), control=True),
    _t("Train", "data target model params task roles seed register alias description", (("data",), ("target",))),
    _t("AutoML", "data target task metric timeBudget maxTrials seed allowed blocked roles register alias "
                 "description", (("data",), ("target",))),
    _t("Predict", "model source target outputs onNull mode", (("model",), ("source",), ("target",))),
    _t("Profile", "table query target output sample", (("table", "query"),)),
    _t("Python", "script function parameters", (("script",),)),
)}

#: Cloud activity types lakeml does not run as such -> the lakeml type to use instead.
CLOUD_EQUIVALENTS: dict[str, str] = {
    "SqlServerStoredProcedure": "Script (SQL statements) or Python",
    "SynapseNotebook": "Python (a script file called with the lake)",
    "DatabricksNotebook": "Python (a script file called with the lake)",
    "DatabricksSparkPython": "Python",
    "DatabricksSparkJar": "Python",
    "SparkJob": "Python",
    "HDInsightSpark": "Python",
    "HDInsightHive": "Script",
    "ExecuteDataFlow": "Script (CREATE TABLE ... AS SELECT) or Copy",
    "DataFlow": "Script (CREATE TABLE ... AS SELECT) or Copy",
    "AzureMLExecutePipeline": "AutoML or Train",
    "AzureMLBatchExecution": "Predict",
    "AzureMLUpdateResource": "Train",
    "AzureFunctionActivity": "Python",
    "WebActivity": "Python",
    "WebHook": "Python",
    "Custom": "Python",
    "Validation": "GetMetadata (fieldList ['exists']) inside Until",
    "Delete": "Script (DROP TABLE) or Python",
    "Filter": "ForEach with an IfCondition inside",
    "Switch": "IfCondition",
    "SynapseSparkJob": "Python",
}

CONDITIONS = ("Succeeded", "Failed", "Skipped", "Completed")
PARAMETER_TYPES = ("string", "int", "float", "bool", "array", "object", "securestring")
VARIABLE_TYPES = ("string", "bool", "array", "int", "float", "object")
ACTIVITY_KEYS = frozenset({"name", "type", "description", "dependsOn", "policy", "typeProperties", "userProperties",
                           "state", "onInactiveMarkAs", "linkedServiceName"})
POLICY_KEYS = frozenset({"timeout", "retry", "retryIntervalInSeconds", "retryBackoff", "secureInput",
                         "secureOutput"})
PIPELINE_KEYS = frozenset({"name", "properties", "id", "type", "etag"})
PROPERTIES_KEYS = frozenset({"parameters", "variables", "activities", "concurrency", "description", "annotations",
                             "folder", "lastPublishTime", "policy"})
MAX_PIPELINE_NAME = 140
MAX_ACTIVITY_NAME = 55
MAX_BATCH_COUNT = 50
DEFAULT_BATCH_COUNT = 20
DEFAULT_TIMEOUT_S = 7 * 24 * 3600.0
DEFAULT_RETRY_INTERVAL_S = 30.0
