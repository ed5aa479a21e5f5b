"""The wall-clock budget of one AutoML call (a tiny module: it is imported before anything heavy)."""

from __future__ import annotations

import math
import time


class Clock:
    """Wall-clock budget: started at construction; ``budget=None`` means no time limit."""

    def __init__(self, budget: float | None) -> None:
        self.start = time.monotonic()
        self.budget = budget
        self.deadline = self.start + budget if budget is not None else math.inf

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left (``inf`` without a budget; negative once overrun)."""
        return self.deadline - time.monotonic()
