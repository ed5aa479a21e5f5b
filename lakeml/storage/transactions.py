"""Transaction markers on table commits, and what a table write reports back.

A :class:`Transaction` names an application (``app_id``) and a version of its work, like Delta's
transaction action (``txn``: ``appId`` + ``version``). A write that carries one commits the marker in
the *same* table commit as its rows, so the rows and the marker become visible together or not at
all. A later write with the same ``app_id`` and a version that is not higher is a no-op. That makes
an incremental load exactly-once: a run killed at any point is rerun with the same transaction; if
the first attempt committed, the rerun writes nothing, otherwise it writes the rows once. The
metadata (a Copy activity's new watermark, say) rides along and is read back with the marker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakeml.errors import ConfigError, CorruptMetadataError

MetadataValue = str | int | float | bool | None
TRANSACTIONS_KEY = "transactions"  # the lakeml log entry field: {app_id: {"version": n, "metadata": {...}}}
DELTA_METADATA_KEY = "lakeml.transaction"  # the Delta commitInfo field holding the marker's metadata


@dataclass(frozen=True)
class Transaction:
    """A transaction marker: application ``app_id`` has committed ``version`` of its work.

    Args:
        app_id: the writing application's stable id (e.g. ``"pipeline/copy_flights"``).
        version: a non-negative integer that grows with each new piece of work (e.g. a run's window
            number); a write whose ``app_id`` already committed this version or a higher one is a no-op.
        metadata: JSON values stored with the marker (e.g. ``{"watermark": "2024-03-01"}``).
    """

    app_id: str
    version: int
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.app_id, str) or not self.app_id.strip():
            raise ConfigError(f"A transaction's app_id must be a non-empty string, not {self.app_id!r}.",
                              hint="Use a stable name for the writing application, e.g. 'pipeline/copy_flights'.")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise ConfigError(f"A transaction's version must be an integer >= 0, not {self.version!r}.",
                              hint="Number the application's units of work 0, 1, 2, ...")
        if not isinstance(self.metadata, Mapping):
            raise ConfigError(f"A transaction's metadata must be a mapping, not {type(self.metadata).__name__}.",
                              hint="Pass a dict of names to str, int, float, bool or None values.")
        for key, value in self.metadata.items():
            if not isinstance(key, str):
                raise ConfigError(f"Transaction metadata keys must be strings, not {key!r}.",
                                  hint="Use string keys, e.g. {'watermark': '2024-03-01'}.")
            if value is not None and not isinstance(value, str | int | float | bool):
                raise ConfigError(f"Transaction metadata value {key!r} is a {type(value).__name__}; "
                                  "only str, int, float, bool and None are stored.",
                                  hint="Convert it to a string first (dates as ISO text).")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"Transaction metadata value {key!r} is {value}, which JSON cannot hold.",
                                  hint="Store a finite number, or None.")
        object.__setattr__(self, "metadata", dict(self.metadata))

    def to_json(self) -> dict[str, Any]:
        """The marker as stored in a log entry (without the app id, which is the entry's key)."""
        return {"version": self.version, "metadata": dict(self.metadata)}

    @classmethod
    def from_json(cls, app_id: str, data: Any, *, where: str) -> Transaction:
        """Read a stored marker; a malformed one is a CorruptMetadataError naming ``where``."""
        try:
            return cls(app_id, int(data["version"]), dict(data.get("metadata") or {}))
        except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
            raise CorruptMetadataError(f"The transaction marker {app_id!r} in {where} is malformed ({exc}).",
                                       hint="lakeml writes markers once and never edits them: restore the file "
                                            "from a backup.") from None

    def delta_metadata(self) -> str:
        """The JSON text stored in a Delta commit's custom metadata."""
        return json.dumps({"appId": self.app_id, **self.to_json()}, sort_keys=True)


def check_transaction(transaction: Any) -> Transaction | None:
    """Validate the ``transaction=`` argument of a write."""
    if transaction is None or isinstance(transaction, Transaction):
        return transaction
    raise ConfigError(f"transaction= takes a lakeml Transaction, not {type(transaction).__name__}.",
                      hint="Pass lakeml.Transaction(app_id='...', version=n, metadata={...}).")


def already_committed(committed: Transaction | None, wanted: Transaction | None) -> bool:
    """Whether ``wanted`` is covered by the committed marker of its application (so the write is a no-op)."""
    return wanted is not None and committed is not None and committed.version >= wanted.version


@dataclass(frozen=True)
class WriteResult:
    """What a table write did (the return value of ``Lake.write``).

    Attributes:
        version: the table version holding the data after the call: the version committed by this
            write, or, when nothing was committed, the table's current version.
        committed: False when the write was a no-op: its ``transaction`` was already committed (an
            idempotent rerun), or a merge of no rows without a transaction.
        rows_inserted: rows added by the write (for a merge: incoming rows whose keys were new);
            None when the format does not report it.
        rows_updated: rows replaced by a merge (incoming rows whose keys matched); 0 for other modes.
        transaction: the marker that rode in the commit; for a no-op, the marker already committed.
    """

    version: int
    committed: bool = True
    rows_inserted: int | None = None
    rows_updated: int = 0
    transaction: Transaction | None = None

    @property
    def rows_affected(self) -> int | None:
        """Rows inserted plus rows updated (what SQL DML reports)."""
        return None if self.rows_inserted is None else self.rows_inserted + self.rows_updated


__all__ = ["MetadataValue", "Transaction", "WriteResult", "already_committed", "check_transaction"]
