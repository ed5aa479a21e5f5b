"""A versioned, create-only commit log: the one commit protocol under every lakeml metadata file.

A log is a folder of numbered JSON entries (``00000000000000000007.json``). Each entry is a complete
snapshot (a table's live files, a model's aliases, the catalog), so the newest entry is the state.
A commit *creates* the next number with a create-only write: ``os.link`` locally, a conditional Put
Blob (``If-None-Match: *``) on Azure. Two writers can never both create the same number; the loser
re-reads and retries, so concurrent updates are never lost.

Every entry carries the committing writer's random token. That makes a commit idempotent under lost
responses: when Azure's SDK retries a create whose first response was lost, the retry gets 409
although the first attempt succeeded; the log then reads the existing entry back, finds its own
token and reports success instead of committing a second time.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakeml.errors import CommitConflictError, CorruptMetadataError, LakeMLError, LakePathNotFoundError
from lakeml.storage.lakefs import LakeStorage, new_token

_ENTRY = re.compile(r"^(\d{20})\.json$")
WRITER_KEY = "writer"


def entry_name(version: int) -> str:
    """The file name of log entry ``version``."""
    return f"{version:020d}.json"


@dataclass(frozen=True)
class Entry:
    """One committed log entry: its version and its JSON body."""

    version: int
    body: dict[str, Any]


class CommitLog:
    """The numbered entries under ``folder`` of a lake's storage.

    Args:
        storage: the lake storage holding the log.
        folder: the log folder, relative to the storage root.
        what: how to name the log's owner in messages (``"table 'flights'"``).
    """

    def __init__(self, storage: LakeStorage, folder: str, *, what: str) -> None:
        self.storage = storage
        self.folder = folder
        self.what = what

    def versions(self) -> list[int]:
        """Committed version numbers, ascending (other files in the folder are ignored)."""
        found = (_ENTRY.match(name) for name in self.storage.list(self.folder))
        return sorted(int(m.group(1)) for m in found if m)

    def path(self, version: int) -> str:
        """The path of entry ``version`` below the storage root."""
        return f"{self.folder}/{entry_name(version)}"

    def read(self, version: int) -> dict[str, Any]:
        """The body of entry ``version``.

        Raises:
            LakePathNotFoundError: no such entry.
            CorruptMetadataError: the entry is not a JSON object (hand-edited or damaged).
        """
        raw = self.storage.read_bytes(self.path(version))
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.corrupt_error(version, f"is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise self.corrupt_error(version, "is not a JSON object")
        return body

    def latest(self) -> Entry | None:
        """The newest entry, or None for an empty log."""
        versions = self.versions()
        if not versions:
            return None
        return Entry(versions[-1], self.read(versions[-1]))

    def commit(self, build: Callable[[Entry | None], dict[str, Any]], *, retries: int) -> Entry:
        """Create the next entry with the body ``build(latest)``; retry when another writer won.

        ``build`` sees the newest entry each time (re-read after a lost race) and may raise to
        abandon the commit (for example when the state it needs is gone). The write is idempotent:
        a create that fails because the entry exists is checked against that entry's writer token.

        Raises:
            CommitConflictError: other writers won ``retries`` races in a row.
            StorageError: the storage failed, and the entry was not found to be committed.
        """
        token = new_token()
        for attempt in range(max(1, retries)):
            if attempt:
                back_off(attempt)
            current = self.latest()
            version = 0 if current is None else current.version + 1
            body = dict(build(current))
            body[WRITER_KEY] = token
            data = json.dumps(body, indent=1, sort_keys=True).encode()
            try:
                created = self.storage.write_bytes(self.path(version), data, overwrite=False)
            except LakeMLError:
                # The response may be lost after the entry was stored: look before giving up.
                if self._written_by(version, token):
                    return Entry(version, body)
                raise
            if created or self._written_by(version, token):
                return Entry(version, body)
        raise CommitConflictError(
            f"Could not commit to {self.what}: other writers won {retries} races in a row.",
            hint="Retry the operation; raise commit_retries in the lake settings for very busy tables.",
        )

    def _written_by(self, version: int, token: str) -> bool:
        """Whether entry ``version`` exists and was committed by the writer holding ``token``."""
        try:
            return self.read(version).get(WRITER_KEY) == token
        except (LakePathNotFoundError, CorruptMetadataError):
            return False

    def corrupt_error(self, version: int, problem: str) -> CorruptMetadataError:
        """The error for entry ``version`` being unreadable, with how to recover."""
        path = self.path(version)
        older = f"version {version - 1}" if version > 0 else "an empty state"
        return CorruptMetadataError(
            f"The log entry {path!r} of {self.what} {problem}.",
            hint=f"lakeml writes log entries once and never edits them: restore this file from a backup, "
                 f"or move it out of the folder to fall back to {older}.",
        )


def back_off(attempt: int) -> None:
    """Sleep before retry ``attempt``: exponential with full jitter, so writers that keep colliding
    spread out instead of losing to each other in lockstep (at most a second per retry)."""
    time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))
