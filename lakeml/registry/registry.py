"""The model registry: immutable ONNX model versions and aliases, stored under ``_lakeml/models``.

Layout (through ``lake.storage`` only, so it works on local disk and ADLS alike)::

    _lakeml/models/<name>/<version>/model.onnx      written create-only: claims the version number
    _lakeml/models/<name>/<version>/manifest.json   written create-only last: the commit marker
    _lakeml/models/<name>/_aliases/<n>.json         alias snapshots {"aliases": {"champion": 3}}: a commit log

A version folder without a manifest is an interrupted or in-flight registration and is invisible.
Models are only ever stored and loaded as ONNX; nothing from the lake is unpickled or executed.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from lakeml.boundary import public_api
from lakeml.errors import CorruptMetadataError, LakeMLError, LakePathNotFoundError, ModelError, ModelExistsError
from lakeml.registry.describe import describe_dict, describe_text
from lakeml.registry.manifest import Manifest, inspect_onnx, sha256_hex
from lakeml.registry.refs import ModelRef, not_found, validate_alias, validate_model_name
from lakeml.storage.commitlog import CommitLog, Entry

if TYPE_CHECKING:
    from lakeml.context import StorageContext
    from lakeml.storage.lakefs import LakeStorage

ROOT = "_lakeml/models"
ALIAS_LOG = "_aliases"
LEGACY_ALIAS_FILE = "aliases.json"  # models registered before aliases had a commit log
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".dill")


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable model version: its manifest plus lazy access to the ONNX bytes."""

    manifest: Manifest
    _storage: LakeStorage = field(repr=False, compare=False)
    aliases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """Model name."""
        return self.manifest.name

    @property
    def version(self) -> int:
        """Version number (from 1)."""
        return self.manifest.version

    @property
    def ref(self) -> str:
        """The pinned reference ``name:version``."""
        return f"{self.name}:{self.version}"

    @property
    def sha256(self) -> str:
        """Content hash of ``model.onnx``."""
        return self.manifest.sha256

    def _repr_html_(self) -> str:
        from lakeml._html import card

        m = self.manifest
        specs = [(f"input {s.name}", f"{s.sql_type or s.onnx_type} {list(s.shape or ())}") for s in m.inputs]
        specs += [(f"output {s.name}", f"{s.sql_type or s.onnx_type} {list(s.shape or ())}") for s in m.outputs]
        fields = [("aliases", ", ".join(self.aliases) or "none"), ("description", m.description or ""),
                  ("created", m.created), ("sha256", m.sha256[:12]),
                  *((("features", ", ".join(m.features)),) if m.features else ()), *specs,
                  *((k, v) for k, v in m.metrics.items())]
        return card(f"model {self.ref}", fields)

    def onnx_bytes(self) -> bytes:
        """The ONNX model bytes (verified against the manifest's sha256).

        Raises:
            ModelError: the stored bytes do not match the recorded hash.
        """
        data: bytes = self._storage.read_bytes(f"{ROOT}/{self.name}/{self.version}/model.onnx")
        if sha256_hex(data) != self.manifest.sha256:
            raise ModelError(f"Model {self.ref}: stored model.onnx does not match its recorded sha256.",
                             hint="The registry was modified outside lakeml; register the model again.")
        return data


def _to_onnx_bytes(runtime: ModelRuntime, source: Any, features: Sequence[str] | None,
                   sample: Any = None) -> tuple[bytes, list[str] | None]:
    """Turn a register() source into ONNX bytes (and features learnt from an estimator)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), None
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if path.lower().endswith(_PICKLE_SUFFIXES):
            raise ModelError(f"Refusing to register {path!r}: pickled models are never loaded by lakeml.",
                             hint="Load it in your own session, then pass the fitted estimator "
                                  "(or an exported .onnx file) to lake.models.register.")
        try:
            with open(path, "rb") as fh:
                return fh.read(), None
        except FileNotFoundError as exc:
            raise LakePathNotFoundError(f"Model file {path!r} does not exist.",
                                        hint="Give the path of an .onnx file.") from exc
    if type(source).__name__ == "ModelProto":
        return source.SerializeToString(), None
    if hasattr(source, "fit") or hasattr(source, "booster_") or type(source).__name__ == "Booster":
        sample_df = pl.from_pandas(sample) if type(sample).__name__ == "DataFrame" and not isinstance(
            sample, pl.DataFrame) else sample
        data = runtime.to_onnx(source, sample=sample_df, n_features=len(features) if features is not None else None)
        named = getattr(source, "feature_names_in_", None)
        inputs, _o, _v, _p = inspect_onnx(data)
        packed = len(inputs) == 1 and inputs[0].width != 1
        if packed and features is None and named is not None:
            return data, [str(c) for c in named]
        return data, None
    raise ModelError(f"Cannot register an object of type {type(source).__name__}.",
                     hint="Pass an .onnx path, ONNX bytes, an onnx.ModelProto, a fitted scikit-learn "
                          "estimator/pipeline or a LightGBM model.")


class Binding(Protocol):
    """A model bound to an alias for ``PREDICT('alias', ...)`` (the scoring layer's ``BoundModel``)."""

    @property
    def alias(self) -> str:
        """The alias SQL uses."""
        ...

    @property
    def model(self) -> ModelVersion:
        """The bound model version."""
        ...

    def expr(self, *columns: str | pl.Expr) -> pl.Expr:
        """A Polars expression scoring ``columns`` (by position) into one column."""
        ...


class ModelRuntime(Protocol):
    """What the registry needs from the layers above it (scoring, ML), handed in by the session."""

    def check_loadable(self, onnx: bytes) -> None:
        """Raise a lakeml error if ONNX Runtime cannot load ``onnx``."""
        ...

    def to_onnx(self, model: object, *, sample: pl.DataFrame | None, n_features: int | None) -> bytes:
        """Convert a fitted scikit-learn / LightGBM model to ONNX bytes."""
        ...

    def bind(self, mv: ModelVersion, *, alias: str, return_type: str | None, output: str | None) -> Binding:
        """Bind ``mv`` to ``alias`` on the lake."""
        ...


@public_api
class ModelRegistry:
    """``lake.models``: register, look up, list, alias, describe and bind models.

    >>> mv = lake.models.register("churn.onnx", name="churn")   # doctest: +SKIP
    >>> lake.models.set_alias("churn", mv.version, "champion")  # doctest: +SKIP
    """

    def __init__(self, lake: StorageContext, *, runtime: ModelRuntime) -> None:
        self._lake = lake
        self._storage = lake.storage
        self._runtime = runtime

    # ---- writes -------------------------------------------------------------------------------
    def register(self, source: Any, *, name: str, features: Sequence[str] | None = None,
                 description: str | None = None, tags: Mapping[str, Any] | None = None,
                 metrics: Mapping[str, Any] | None = None, lineage: Mapping[str, Any] | None = None,
                 extra: Mapping[str, Any] | None = None, sample: Any = None) -> ModelVersion:
        """Register a new immutable version of model ``name``.

        Args:
            source: an ``.onnx`` path, ONNX bytes, an ``onnx.ModelProto``, or a fitted scikit-learn
                estimator/pipeline or LightGBM model (converted to ONNX).
            name: model name (letters, digits, ``_``, ``-``).
            features: ordered column list for a model with a single ``[N,F]`` input.
            description, tags, metrics, lineage: free-form metadata stored in the manifest.
            extra: a dict merged into the manifest's ``extra`` section (featurization, parity...).
            sample: for an estimator whose pipeline starts with a ColumnTransformer, a few rows of the
                training columns (only the schema is used to type the ONNX inputs).

        Returns:
            The new :class:`ModelVersion` (versions are numbered from 1).

        Raises:
            ModelError: the source is not a valid ONNX model, or ``features`` does not fit it.
            ModelExistsError: the same bytes are already registered under ``name``.
        """
        validate_model_name(name)
        data, learnt = _to_onnx_bytes(self._runtime, source, features, sample)
        feats = list(features) if features is not None else learnt
        inputs, outputs, opset, producer = inspect_onnx(data)
        self._runtime.check_loadable(data)
        feats_t = self._check_features(name, inputs, feats)
        digest = sha256_hex(data)
        for mv in self._versions(name):
            if mv.sha256 == digest:
                raise ModelExistsError(
                    f"These model bytes are already registered as {mv.ref} (sha256 {digest[:12]}).",
                    hint=f"Use the existing version ('{mv.ref}'), or set an alias on it with "
                         f"[[lake.models.set_alias('{name}', {mv.version}, 'champion')|lakeml models alias {name} "
                         f"{mv.version} champion]].")
        version = self._claim_version(name, data)
        manifest = Manifest(
            name=name, version=version, sha256=digest,
            created=datetime.now(UTC).isoformat(timespec="milliseconds"),
            inputs=inputs, outputs=outputs, features=feats_t, description=description,
            metrics=dict(metrics or {}), tags=dict(tags or {}), lineage=dict(lineage or {}),
            extra=dict(extra or {}), opset=opset, producer=producer, size_bytes=len(data))
        if not self._commit_manifest(f"{ROOT}/{name}/{version}/manifest.json", manifest.to_json().encode()):
            raise ModelExistsError(f"Model version {name}:{version} was committed by another writer.",
                                   hint="Retry the registration; it will take the next version.")
        return ModelVersion(manifest, self._storage)

    def set_alias(self, name: str, version: int, alias: str) -> None:
        """Point ``alias`` of model ``name`` at ``version`` (creating or moving it).

        Raises:
            ModelNotFoundError: no such model or version.
        """
        validate_alias(alias)
        mv = self.get(ModelRef(validate_model_name(name), version=int(version)))

        def change(aliases: dict[str, int]) -> None:
            aliases[alias] = mv.version

        self._update_aliases(name, change)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from model ``name``.

        Raises:
            ModelNotFoundError: the alias does not exist.
        """
        validate_model_name(name)

        def change(aliases: dict[str, int]) -> None:
            if alias not in aliases:
                raise not_found(ModelRef(name, alias=alias), [f"{name}@{a}" for a in aliases], what="alias")
            del aliases[alias]

        self._update_aliases(name, change)

    # ---- reads --------------------------------------------------------------------------------
    def get(self, ref: str | ModelRef) -> ModelVersion:
        """Resolve ``name``, ``name:3`` or ``name@alias`` to a :class:`ModelVersion`.

        Raises:
            ModelNotFoundError: unknown name, version or alias (with a did-you-mean).
        """
        parsed = ModelRef.parse(ref)
        names = self.names()
        if parsed.name not in names:
            raise not_found(parsed, names)
        aliases = self._aliases(parsed.name)
        version = parsed.version
        if parsed.alias is not None:
            if parsed.alias not in aliases:
                raise not_found(parsed, [f"{parsed.name}@{a}" for a in aliases], what="alias")
            version = aliases[parsed.alias]
        if version is None:
            committed = self._committed_numbers(parsed.name)
            if not committed:
                raise not_found(parsed, [n for n in names if n != parsed.name])
            version = committed[-1]
        try:
            text = self._storage.read_bytes(f"{ROOT}/{parsed.name}/{version}/manifest.json")
        except LakePathNotFoundError as exc:
            known = [f"{parsed.name}:{v}" for v in self._committed_numbers(parsed.name)]
            raise not_found(ModelRef(parsed.name, version=version), known, what="model version") from exc
        rev = tuple(sorted(a for a, v in aliases.items() if v == version))
        return ModelVersion(Manifest.from_json(text), self._storage, rev)

    def names(self) -> builtins.list[str]:
        """Names of all registered models, sorted."""
        return sorted(n for n in self._storage.list(ROOT) if not n.startswith((".", "_")))

    def list(self) -> pl.DataFrame:
        """One row per model version: name, version, aliases, created, description, sha256, inputs,
        outputs, tags (JSON text)."""
        rows: builtins.list[dict[str, Any]] = []
        for name in self.names():
            for mv in self._versions(name):
                m = mv.manifest
                rows.append({"name": m.name, "version": m.version, "aliases": list(mv.aliases),
                             "created": datetime.fromisoformat(m.created), "description": m.description,
                             "sha256": m.sha256, "inputs": len(m.features or m.inputs),
                             "outputs": len(m.outputs), "tags": json.dumps(m.tags, sort_keys=True)})
        schema: dict[str, Any] = {"name": pl.String, "version": pl.Int64, "aliases": pl.List(pl.String),
                  "created": pl.Datetime("us", "UTC"), "description": pl.String, "sha256": pl.String,
                  "inputs": pl.Int64, "outputs": pl.Int64, "tags": pl.String}
        return pl.DataFrame(rows, schema=schema)

    def describe(self, ref: str | ModelRef) -> str:
        """Human-readable inputs and outputs with ONNX types, shapes and the SQL types for WITH."""
        return describe_text(self.get(ref))

    def describe_dict(self, ref: str | ModelRef) -> dict[str, Any]:
        """The structured form of :meth:`describe` (JSON-ready)."""
        return describe_dict(self.get(ref))

    def bind(self, ref: str | ModelRef, *, alias: str, return_type: str | None = None,
             output: str | None = None) -> Binding:
        """Bind a model for ``PREDICT('alias', ...)`` in SQL and ``m.expr(...)`` in Polars.

        Args:
            ref: model reference.
            alias: the name SQL uses in ``PREDICT('alias', ...)``.
            return_type: SQL type of the result (default: the output's own type).
            output: output name, optionally with an element index (``probabilities[1]``); default the
                first output.
        """
        return self._runtime.bind(self.get(ref), alias=alias, return_type=return_type, output=output)

    # ---- internals ----------------------------------------------------------------------------
    def _alias_log(self, name: str) -> CommitLog:
        return CommitLog(self._storage, f"{ROOT}/{name}/{ALIAS_LOG}", what=f"the aliases of model {name!r}")

    def _aliases(self, name: str) -> dict[str, int]:
        """The current aliases of model ``name``."""
        return self._aliases_at(name, self._alias_log(name).latest())

    def _aliases_at(self, name: str, head: Entry | None) -> dict[str, int]:
        """The aliases in log entry ``head``; with no entry yet, those of the legacy file."""
        log = self._alias_log(name)
        if head is not None:
            raw, where = head.body.get("aliases"), log.path(head.version)
        else:
            where = f"{ROOT}/{name}/{LEGACY_ALIAS_FILE}"
            if not self._storage.exists(where):
                return {}
            try:
                raw = json.loads(self._storage.read_bytes(where))
            except ValueError:
                raw = None
        if not isinstance(raw, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw.values()):
            raise CorruptMetadataError(
                f"The aliases file {where!r} of model {name!r} is damaged (expected alias names mapped to versions).",
                hint="Restore it from a backup, or move it out of the folder to fall back to the previous aliases.")
        return {str(k): int(v) for k, v in raw.items()}

    def _update_aliases(self, name: str, change: Callable[[dict[str, int]], None]) -> None:
        """Apply ``change`` to the newest aliases and commit them as the next alias log entry."""
        def build(head: Entry | None) -> dict[str, Any]:
            aliases = self._aliases_at(name, head)
            change(aliases)
            return {"aliases": dict(sorted(aliases.items()))}

        self._alias_log(name).commit(build, retries=self._lake.config.commit_retries)

    def _all_numbers(self, name: str) -> builtins.list[int]:
        return sorted(int(v) for v in self._storage.list(f"{ROOT}/{name}") if v.isascii() and v.isdigit())

    def _committed_numbers(self, name: str) -> builtins.list[int]:
        return [v for v in self._all_numbers(name)
                if self._storage.exists(f"{ROOT}/{name}/{v}/manifest.json")]

    def _versions(self, name: str) -> builtins.list[ModelVersion]:
        aliases = self._aliases(name)
        out = []
        for v in self._committed_numbers(name):
            text = self._storage.read_bytes(f"{ROOT}/{name}/{v}/manifest.json")
            rev = tuple(sorted(a for a, av in aliases.items() if av == v))
            out.append(ModelVersion(Manifest.from_json(text), self._storage, rev))
        return out

    def _commit_manifest(self, path: str, body: bytes) -> bool:
        """Create the manifest (the commit marker); idempotent when a lost response is retried.

        A retried create that finds the manifest already there compares bytes: the manifest carries
        the creation time to the millisecond and the model's sha256, so equal bytes are this commit.
        """
        try:
            if self._storage.write_bytes(path, body, overwrite=False):
                return True
        except LakeMLError:
            if self._stored_bytes(path) == body:
                return True
            raise
        return self._stored_bytes(path) == body

    def _stored_bytes(self, path: str) -> bytes | None:
        try:
            return self._storage.read_bytes(path)
        except LakePathNotFoundError:
            return None

    def _claim_version(self, name: str, data: bytes) -> int:
        version = max(self._all_numbers(name), default=0) + 1
        for _ in range(1000):
            if self._storage.write_bytes(f"{ROOT}/{name}/{version}/model.onnx", data, overwrite=False):
                return version
            version += 1  # another writer claimed it first: conditional put lost, take the next
        raise ModelExistsError(f"Could not allocate a version for model {name!r}.",
                               hint="Too many concurrent registrations; retry.")

    @staticmethod
    def _check_features(name: str, inputs: Sequence[Any],
                        feats: Sequence[str] | None) -> tuple[str, ...] | None:
        if feats is None:
            return None
        feats_t = tuple(str(f) for f in feats)
        if len(set(feats_t)) != len(feats_t):
            raise ModelError(f"Model {name!r}: the feature list has duplicates: {list(feats_t)}.",
                             hint="List each column once, in the model's column order.")
        if len(inputs) != 1 or (inputs[0].width == 1 and len(feats_t) != 1):
            raise ModelError(
                f"Model {name!r}: a feature list is only for a model with one [N,F] input; this one has "
                f"inputs {[i.name for i in inputs]}.",
                hint="Drop features=...; its inputs bind to DATA columns by name.")
        width = inputs[0].width
        if width is not None and width != len(feats_t):
            raise ModelError(f"Model {name!r}: input {inputs[0].name!r} takes {width} features but "
                             f"{len(feats_t)} were listed.",
                             hint="Give exactly one column name per model feature, in order.")
        return feats_t
