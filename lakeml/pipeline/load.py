"""Read pipeline definitions (JSON or YAML files, or dicts) and bind run-time parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakeml.errors import ConfigError, LakePathNotFoundError, MissingDependencyError, PipelineValidationError
from lakeml.pipeline.definition import Pipeline, build_pipeline, convert
from lakeml.pipeline.validate import Issue, problems

YAML_SUFFIXES = (".yaml", ".yml")


def read_document(path: str | Path) -> dict[str, Any]:
    """The document in a ``.json``, ``.yaml`` or ``.yml`` file.

    Raises:
        LakePathNotFoundError: no such file.
        PipelineValidationError: the file does not parse (with the line and column).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise LakePathNotFoundError(f"No pipeline file {str(file)!r}.", hint="Check the path.")
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() in YAML_SUFFIXES:
        try:
            import yaml
        except ImportError:
            raise MissingDependencyError("Reading YAML pipelines needs PyYAML.",
                                         hint="pip install pyyaml, or write the pipeline as JSON.") from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise PipelineValidationError(f"{file.name} is not valid YAML{where}: {getattr(exc, 'problem', exc)}.",
                                          issues=[("$", f"YAML{where}")], hint="Fix the YAML syntax.") from None
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PipelineValidationError(
                f"{file.name} is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                issues=[("$", f"JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
                hint="Fix the JSON syntax (YAML files end in .yaml or .yml).") from None
    if not isinstance(document, dict):
        raise PipelineValidationError(f"{file.name} holds a {type(document).__name__}, not a pipeline object.",
                                      issues=[("$", "not an object")],
                                      hint="A pipeline is an object with 'name' and 'properties'.")
    return document


def validation_error(issues: list[Issue], what: str) -> PipelineValidationError:
    """One error listing every issue on its own line."""
    lines = "\n".join(f"  {path}: {message}" for path, message in issues)
    count = f"{len(issues)} problem{'s' if len(issues) != 1 else ''}"
    return PipelineValidationError(f"{what} has {count}:\n{lines}", issues=issues,
                                   hint="Fix each problem at its path; see docs/pipelines.md.")


def load_pipeline(source: str | Path | Mapping[str, Any], *, base_dir: str | None = None) -> Pipeline:
    """Validate and build a pipeline from a file path or a document.

    Raises:
        PipelineValidationError: listing every problem with its JSON path.
    """
    if isinstance(source, Mapping):
        document = dict(source)
        what = f"The pipeline {document.get('name')!r}"
    else:
        document = read_document(source)
        base_dir = base_dir or str(Path(source).expanduser().resolve().parent)
        what = f"The pipeline file {Path(source).name!r}"
    issues = problems(document)
    if issues:
        raise validation_error(issues, what)
    return build_pipeline(document, base_dir=base_dir)


def bind_parameters(pipeline: Pipeline, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's parameter values: the given ones converted to their declared types, else defaults.

    Raises:
        PipelineValidationError: unknown names, values of the wrong type, missing values (all at once).
    """
    given = dict(given or {})
    issues: list[Issue] = []
    values: dict[str, Any] = {}
    declared = {p.name: p for p in pipeline.parameters}
    for name in given:
        if name not in declared:
            from lakeml.errors import did_you_mean

            guess = did_you_mean(name, declared)
            issues.append((f"parameters.{name}", f"{pipeline.name!r} has no parameter {name!r}"
                           + (f"; {guess}" if guess else f" (it has: {', '.join(declared) or 'none'})")))
    for name, decl in declared.items():
        if name in given:
            try:
                values[name] = convert(decl.type, given[name])
            except ValueError as exc:
                shown = "***" if decl.type == "securestring" else repr(given[name])
                issues.append((f"parameters.{name}", f"the value {shown} of parameter {name!r} is not a "
                               f"{decl.type}: {exc}" if decl.type != "securestring" else f"bad value {shown}"))
        elif decl.has_default:
            values[name] = decl.default
        else:
            issues.append((f"parameters.{name}", f"parameter {name!r} ({decl.type}) has no default and no value"))
    if issues:
        error = validation_error(issues, f"The parameters of a run of {pipeline.name!r}")
        raise PipelineValidationError(error.message_source, issues=issues,
                                      hint="Pass each parameter as [[parameters={'name': value}|--param name=value]].")
    return values


def require_file(path: str | Path) -> Path:
    """``path`` as a Path when it is an existing file.

    Raises:
        ConfigError: not a file.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{str(file)!r} is not a file.", hint="Give a .json or .yaml pipeline file.")
    return file
