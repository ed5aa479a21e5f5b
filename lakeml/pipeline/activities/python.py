"""The Python activity: call a function of a script file with the open lake and parameters."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from lakeml.errors import ActivityError, ConfigError, LakePathNotFoundError
from lakeml.pipeline.activities.values import need
from lakeml.pipeline.runner import ActivityContext, Handler


def script_path(ctx: ActivityContext, script: str) -> Path:
    """The script file: absolute, or relative to the folder of the pipeline definition."""
    path = Path(script).expanduser()
    if not path.is_absolute():
        base = ctx.run.pipeline.base_dir
        if base is None:
            raise ConfigError(f"Python {ctx.activity.name!r}: the script {script!r} is relative, but this pipeline "
                              "was not read from a file.", hint="Give an absolute script path, or create the "
                                                                "pipeline from its file.")
        path = Path(base) / path
    if not path.is_file():
        raise LakePathNotFoundError(f"Python {ctx.activity.name!r}: no script file {str(path)!r}.",
                                    hint="Paths are relative to the pipeline definition's folder.")
    return path


def python(ctx: ActivityContext, props: dict[str, Any]) -> Any:
    """Load the script as a module, call ``function(lake, **parameters)``, return its JSON-ready dict."""
    name = ctx.activity.name
    path = script_path(ctx, need(props, "script", name))
    function_name = props.get("function") or "main"
    module_name = f"lakeml_pipeline_script_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Python {name!r}: cannot load {str(path)!r} as a module.", hint="Give a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(module_name, None)
    spec.loader.exec_module(module)
    function = getattr(module, str(function_name), None)
    if not callable(function):
        raise ConfigError(f"Python {name!r}: {path.name} has no function {function_name!r}.",
                          hint="Set 'function' to a function defined in the script (default 'main').")
    result = function(ctx.lake, **dict(props.get("parameters") or {}))
    if result is None:
        return {}
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise ActivityError(f"Python {name!r}: {function_name}() returned a value JSON cannot hold ({exc}).",
                            code="BadOutput", hint="Return a dict of strings, numbers, lists and dicts.") from None
    if not isinstance(result, dict):
        raise ActivityError(f"Python {name!r}: {function_name}() returned a {type(result).__name__}, not a dict.",
                            code="BadOutput", hint="Return a dict (it becomes the activity's output).")
    return result


HANDLERS: dict[str, Handler] = {"Python": python}
