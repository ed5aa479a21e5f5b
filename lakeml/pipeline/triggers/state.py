"""What each trigger has fired, in the lake: one create-only commit log per fire.

A *fire* is one unit a trigger runs once: a tumbling window, a schedule occurrence, a new file.
Its log lives at ``_lakeml/trigger_state/<trigger>/fires/<key>/`` (``key`` is the window start or
scheduled time as ``20260101T000000Z``, or a hash of the file path). Every state change is a new
entry, and every entry is the complete record of the fire (status, attempt, runs, earlier attempts).

Claiming a fire commits a ``Running`` entry through :class:`~lakeml.storage.commitlog.CommitLog`:
two processes that race for one fire both try to create the same entry number and only one can,
the other re-reads, sees it ``Running`` and backs off. So a window never runs twice at once, and a
restarted process sees exactly which fires finished.

A ``Running`` fire names its owner (a serve, backfill or rerun process). Owners keep a heartbeat
file under ``_lakeml/trigger_state/_owners/``; a fire whose owner is gone (its process is dead, or its
heartbeat is older than :data:`LEASE`) was interrupted, and is recorded as ``Failed``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lakeml.errors import CorruptMetadataError, LakeMLError, LakePathNotFoundError
from lakeml.pipeline.triggers.timefmt import iso, parse_instant
from lakeml.storage.commitlog import CommitLog, Entry
from lakeml.storage.lakefs import LakeStorage, new_token

STATE_ROOT = "_lakeml/trigger_state"
OWNERS = f"{STATE_ROOT}/_owners"
#: An owner whose heartbeat is older than this is presumed dead.
LEASE = timedelta(minutes=2)

RUNNING, SUCCEEDED, FAILED, CANCELLED = "Running", "Succeeded", "Failed", "Cancelled"
TERMINAL = (SUCCEEDED, FAILED, CANCELLED)


def trigger_root(trigger: str) -> str:
    """The state folder of one trigger."""
    return f"{STATE_ROOT}/{trigger}"


def fires_root(trigger: str) -> str:
    """The folder holding one commit log per fire of ``trigger``."""
    return f"{trigger_root(trigger)}/fires"


def file_key(path: str) -> str:
    """The fire key of a file: a short hash of its lake path (paths may hold any character)."""
    return "f" + hashlib.sha256(path.encode()).hexdigest()[:32]


class _NotClaimable(Exception):
    """Raised inside a commit to abandon it: the fire is not in a state that allows the change."""


@dataclass(frozen=True)
class Fire:
    """The current record of one fire (the newest entry of its log)."""

    key: str
    version: int
    body: dict[str, Any]

    @property
    def status(self) -> str:
        """Running, Succeeded, Failed or Cancelled."""
        return str(self.body.get("status", ""))

    @property
    def attempt(self) -> int:
        """The attempt number of the newest attempt (1 for the first run)."""
        return int(self.body.get("attempt", 0))

    @property
    def retry_at(self) -> datetime | None:
        """When a failed fire is due for its automatic retry (None: no retry left)."""
        value = self.body.get("retryAt")
        return parse_instant(value) if isinstance(value, str) else None

    def attempts(self) -> list[dict[str, Any]]:
        """Every attempt's record, oldest first."""
        history = list(self.body.get("history", []))
        current = {k: v for k, v in self.body.items() if k not in ("history", "writer")}
        return [*history, current]


class FireStore:
    """The fire logs of one trigger."""

    def __init__(self, storage: LakeStorage, trigger: str, *, retries: int = 20) -> None:
        self.storage = storage
        self.trigger = trigger
        self.retries = retries

    def _log(self, key: str) -> CommitLog:
        return CommitLog(self.storage, f"{fires_root(self.trigger)}/{key}",
                         what=f"trigger {self.trigger!r} fire {key}")

    def fire_keys(self) -> list[str]:
        """The keys of every fire ever claimed, sorted."""
        return sorted(name.rstrip("/") for name in self.storage.list(fires_root(self.trigger)))

    def get(self, key: str) -> Fire | None:
        """The current record of a fire, or None if it was never claimed."""
        entry = self._log(key).latest()
        return None if entry is None else Fire(key, entry.version, entry.body)

    def all(self) -> dict[str, Fire]:
        """Every fire of the trigger, by key."""
        out: dict[str, Fire] = {}
        for key in self.fire_keys():
            with contextlib.suppress(LakePathNotFoundError):
                fire = self.get(key)
                if fire is not None:
                    out[key] = fire
        return out

    def claim(self, key: str, record: dict[str, Any], *, owner: str, now: datetime,
              may_claim: Callable[[Fire | None], bool]) -> Fire | None:
        """Start a new attempt of fire ``key`` if ``may_claim(current)``; None when another process owns it
        or the fire is not claimable (already ran)."""

        def build(current: Entry | None) -> dict[str, Any]:
            fire = None if current is None else Fire(key, current.version, current.body)
            if not may_claim(fire):
                raise _NotClaimable
            history = [] if fire is None else fire.attempts()
            attempt = 1 if fire is None else fire.attempt + 1
            return {**record, "key": key, "status": RUNNING, "attempt": attempt, "owner": owner,
                    "start": iso(now), "end": None, "message": "", "runs": [], "retryAt": None,
                    "history": history}

        try:
            entry = self._log(key).commit(build, retries=self.retries)
        except _NotClaimable:
            return None
        return Fire(key, entry.version, entry.body)

    def update(self, fire: Fire, **changes: Any) -> Fire | None:
        """Commit new fields for the attempt ``fire`` holds; None if that attempt was superseded meanwhile
        (another process recorded it interrupted and started a new attempt)."""

        def build(current: Entry | None) -> dict[str, Any]:
            if current is None or int(current.body.get("attempt", 0)) != fire.attempt:
                raise _NotClaimable
            body = {k: v for k, v in current.body.items() if k != "writer"}
            body.update(changes)
            return body

        try:
            entry = self._log(fire.key).commit(build, retries=self.retries)
        except _NotClaimable:
            return None
        return Fire(fire.key, entry.version, entry.body)


def claimable_fresh(fire: Fire | None) -> bool:
    """Claim rule of a fire that runs once: only if it was never claimed."""
    return fire is None


# -- owners: who runs a Running fire, and whether it is still alive --------------------------------------

class Owner:
    """This process's identity as a fire owner, with a heartbeat file in the lake."""

    def __init__(self, storage: LakeStorage, *, role: str) -> None:
        self.storage = storage
        self.token = new_token()[:16]
        self.role = role
        self.host = socket.gethostname()
        self.pid = os.getpid()

    @property
    def path(self) -> str:
        """The heartbeat file."""
        return f"{OWNERS}/{self.token}.json"

    def heartbeat(self, now: datetime) -> None:
        """Record that this owner is alive at ``now``."""
        body = {"token": self.token, "role": self.role, "host": self.host, "pid": self.pid, "heartbeat": iso(now)}
        self.storage.write_bytes(self.path, json.dumps(body).encode())

    def release(self) -> None:
        """Remove the heartbeat file (the owner stopped cleanly)."""
        with contextlib.suppress(LakeMLError):
            self.storage.delete(self.path)


def owner_alive(storage: LakeStorage, token: str, now: datetime, *, me: Owner | None = None) -> bool:
    """Whether the owner ``token`` still runs: its heartbeat is fresh and (on this host) its process lives."""
    if me is not None and token == me.token:
        return True
    try:
        body = json.loads(storage.read_bytes(f"{OWNERS}/{token}.json"))
    except (LakePathNotFoundError, CorruptMetadataError, ValueError):
        return False
    try:
        beat = parse_instant(str(body["heartbeat"]))
    except (KeyError, ValueError):
        return False
    if now - beat > LEASE:
        return False
    if body.get("host") == socket.gethostname():
        return _pid_alive(int(body.get("pid", -1)))
    return True


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed child that its parent has not reaped yet is dead for our purpose."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
