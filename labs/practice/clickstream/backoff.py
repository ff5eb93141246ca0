"""Exponential backoff with full jitter, for retrying throttled requests."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with full jitter."""

    base_seconds: float = 0.1
    max_seconds: float = 5.0
    max_attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def wait(self, attempt: int) -> None:
        self.sleep(self.rng.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** attempt)))
