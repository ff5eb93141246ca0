"""Live progress for the long steps: each line printed, and between lines a spinner with the time."""

from __future__ import annotations

import sys
from typing import Any


class LiveLines:
    """A line printer for the practice steps (their ``out``) that keeps showing life.

    On a terminal, every line is printed above a spinner that shows the step in progress
    (the last line) and the time since the run began, so a wait of minutes (a crawler, a
    training job, the offline store) never looks like a hang. Without a terminal, lines
    are printed as they come.
    """

    def __init__(self, *, console: Any = None, interactive: bool | None = None, title: str = "working") -> None:
        self.interactive = sys.stdout.isatty() if interactive is None else interactive
        self.console, self.title = console, title
        self.lines: list[str] = []
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> LiveLines:
        if self.interactive:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                      console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.title, total=None)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def ask(self, question: str) -> bool:
        """A yes/no question on the terminal, with the spinner paused while it waits."""
        if self._progress is not None:
            self._progress.stop()
        try:
            return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}
        finally:
            if self._progress is not None:
                self._progress.start()

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if self._progress is None:
            print(line, flush=True)
            return
        self._progress.console.print(line, markup=False, highlight=False)
        step = line.strip().splitlines()[0] if line.strip() else self.title
        self._progress.update(self._task, description=f"{self.title}: {step[:70]}")
