"""Live progress for a run: shards, records, samples, throughput and ETA (rich)."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from scenesynth.ioutil.manifest import ShardEntry


class RunProgress:
    """A rich progress display over input records; a no-op when ``enabled`` is False.

    Throughput counts only the shards processed by this invocation, so a resumed run shows
    its real speed; the ETA extrapolates that speed over the records still to do.
    """

    def __init__(self, enabled: bool, total_records: int | None) -> None:
        self.enabled = enabled
        self.total = total_records
        self.samples = 0
        self.fresh_samples = 0
        self.shards = 0
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RunProgress:
        self._started = time.monotonic()
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.completed} records"),
                TextColumn("{task.fields[shards]} shards"),
                TextColumn("{task.fields[samples]} samples"),
                TextColumn("{task.fields[rate]} samples/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "generate", total=self.total, shards=0, samples=0, rate="-"
            )
        return self

    def advance(self, entry: ShardEntry, resumed: bool = False) -> None:
        self.shards += 1
        self.samples += entry.samples
        if not resumed:
            self.fresh_samples += entry.samples
        if self._progress is not None and self._task is not None:
            elapsed = max(time.monotonic() - self._started, 1e-9)
            self._progress.update(
                self._task,
                advance=entry.record_end - entry.record_start,
                shards=self.shards,
                samples=self.samples,
                rate=f"{self.fresh_samples / elapsed:.0f}",
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
