"""Which failures a retry can cure, and how long to wait before the next attempt."""

from __future__ import annotations

import random

from lakeml.errors import (
    ActivityTimeoutError,
    CommitConflictError,
    CorruptMetadataError,
    LakeMLError,
    StorageError,
)
from lakeml.pipeline.definition import Policy

MAX_DELAY_S = 3600.0


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` can pass on a new attempt: I/O, storage, timeouts, a lost worker process.

    A bad definition or expression, bad SQL, a schema mismatch and every other lakeml error about
    the request itself fail at once: running them again gives the same answer.
    """
    if isinstance(exc, ActivityTimeoutError | CommitConflictError):
        return True
    if isinstance(exc, CorruptMetadataError):
        return False
    if isinstance(exc, StorageError):
        return True
    if isinstance(exc, LakeMLError):
        return False
    if isinstance(exc, OSError | TimeoutError | ConnectionError | MemoryError):
        return True
    return any(cls.__name__ in ("BrokenProcessPool", "BrokenExecutor", "TerminatedWorkerError")
               for cls in type(exc).__mro__)


def retry_delay(policy: Policy, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The interval as given, or with ``retryBackoff: exponential`` doubled after each attempt with
    jitter (a random factor between 0.5 and 1.5, so parallel activities failing together spread out).
    """
    base = policy.retry_interval_s
    if policy.backoff != "exponential":
        return base
    delay = base * 2 ** (attempt - 1) * (rng or random).uniform(0.5, 1.5)
    return min(MAX_DELAY_S, delay)
