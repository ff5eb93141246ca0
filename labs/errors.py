"""Errors the command line turns into one clear line with the fix."""

from __future__ import annotations


class LabError(Exception):
    """A problem the user can fix; the message says how."""
