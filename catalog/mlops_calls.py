"""What AWS does with the mlops lab's roles, and what they must refuse (``labs permissions mlops``)."""

from __future__ import annotations

CALLS: tuple = ()
