"""Engine settings shared by every layer (frozen, round-trips to a dict)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from lakeml.errors import ConfigError

DEFAULT_LAKE = "./lake"
LAKE_ENV_VAR = "LAKEML_LAKE"
EXTERNAL_ACCESS_ENV_VAR = "LAKEML_EXTERNAL_ACCESS"
BACKEND_ENV_VAR = "LAKEML_BACKEND"
DEFAULT_BACKEND = "polars"


DEFAULT_BATCH_SIZE = 65_536
#: AutoML stops after this many trials in a row without improvement (None disables).
DEFAULT_EARLY_STOPPING = 30
#: Bytes of working memory a profile may use, whatever the table's width.
DEFAULT_MEMORY_BUDGET = 1024 * 2**20


def default_ort_threads() -> int:
    """ONNX Runtime intra-op threads when ``ort_threads`` is not set: the cores, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def _default_external_access() -> bool:
    text = os.environ.get(EXTERNAL_ACCESS_ENV_VAR, "").strip().lower()
    if text in ("", "1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{EXTERNAL_ACCESS_ENV_VAR}={text!r} is not a yes/no value.",
                      hint=f"Set {EXTERNAL_ACCESS_ENV_VAR}=0 to confine SQL file access to the lake, "
                           "or 1 (the default).")


@dataclass(frozen=True)
class LakeConfig:
    """Tunable engine settings.

    Attributes:
        ort_threads: intra-op threads per ONNX Runtime session.
        batch_size: rows per scoring batch (memory is bounded by this, not by the table).
        commit_retries: how often a table commit is retried when another writer won the race.
        external_access: whether SQL table functions / ``OPENROWSET`` and ``register_table`` may read
            locations outside the lake root (like DuckDB's ``enable_external_access``). True by
            default (a notebook reads any file it can); False confines them to the lake root, e.g. for
            a service that runs SQL written by others. The default comes from ``LAKEML_EXTERNAL_ACCESS``
            (``0`` turns it off).
    """

    ort_threads: int = 0
    batch_size: int = DEFAULT_BATCH_SIZE
    commit_retries: int = 20
    external_access: bool = field(default_factory=_default_external_access)

    def __post_init__(self) -> None:
        if self.ort_threads == 0:
            object.__setattr__(self, "ort_threads", default_ort_threads())
        if self.ort_threads < 1:
            raise ConfigError(f"ort_threads must be >= 1, got {self.ort_threads}.",
                              hint="Use the number of cores you want ONNX Runtime to use.")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}.",
                              hint="Typical values are 10_000 to 1_000_000 rows.")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LakeConfig:
        """Build settings from a dict, refusing unknown keys."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"Unknown lakeml settings: {sorted(unknown)}.",
                              hint=f"Known settings: {sorted(cls.__dataclass_fields__)}.")
        return cls(**data)

    def with_(self, **changes: Any) -> LakeConfig:
        """A copy with some settings changed."""
        return replace(self, **changes)


def default_backend() -> str:
    """The engine used when none is given: ``$LAKEML_BACKEND`` or ``polars`` (the one source of the default)."""
    return os.environ.get(BACKEND_ENV_VAR, "").strip().lower() or DEFAULT_BACKEND


def default_lake_uri() -> str:
    """The lake used when none is given: ``$LAKEML_LAKE`` or ``./lake``."""
    return os.environ.get(LAKE_ENV_VAR) or DEFAULT_LAKE
