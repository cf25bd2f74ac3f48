"""The default engine: a local process pool, one shard per task.

Workers run every stage of a shard and commit the shard's files themselves, returning only the
small manifest entry, so sample data never travels back through the parent; when no stage
after generation reads the samples, each is written to the shard's file as it is made, so a
shard's memory does not grow with its sample count. With one worker the
shards run in the calling process (no pool), the honest single-core baseline. At most
``in_flight`` shards are submitted at once, which bounds memory whatever the source size.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import signal
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from scenesynth.ioutil.manifest import ShardEntry
from scenesynth.pipeline.shards import SampleFileWriter, commit_shard, encode_shard
from scenesynth.pipeline.stages import ShardBatch, Stage, run_stages, streams_samples

# Per-process state set by _init_worker (stages are set up once per worker, not per shard).
_WORKER_STAGES: Sequence[Stage] = ()
_WORKER_OUT: Path | None = None


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this worker when the parent dies, so a killed run leaves
    no orphan still writing shards. Best effort elsewhere."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _init_worker(stages: Sequence[Stage], out: Path) -> None:
    global _WORKER_STAGES, _WORKER_OUT
    _die_with_parent()
    for stage in stages:
        stage.setup()
    _WORKER_STAGES, _WORKER_OUT = stages, out


def process_and_commit(stages: Sequence[Stage], out: Path, batch: ShardBatch) -> ShardEntry:
    """Run the stages on one shard and write its files; returns the manifest entry."""
    if not streams_samples(stages):
        return commit_shard(out, encode_shard(run_stages(stages, batch)))
    samples_file = SampleFileWriter(out, batch.index)
    try:
        batch.sample_sink = samples_file
        batch = run_stages(stages, batch)
        batch.sample_sink = None
        return commit_shard(out, encode_shard(batch, samples_file))
    except BaseException as exc:
        samples_file.close(exc)
        raise


def _worker_task(batch: ShardBatch) -> ShardEntry:
    assert _WORKER_OUT is not None, "worker not initialised"
    return process_and_commit(_WORKER_STAGES, _WORKER_OUT, batch)


def _noop() -> None:
    return None


class LocalEngine:
    """Runs shards on ``workers`` local processes (in-process when ``workers == 1``)."""

    name = "local"

    def __init__(self, stages: Sequence[Stage], out: Path, workers: int, in_flight: int) -> None:
        self.stages = list(stages)
        self.out = out
        self.workers = max(1, workers)
        self.in_flight = max(in_flight, self.workers)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> ProcessPoolExecutor | None:
        """Start the worker processes now (before any progress thread exists: with the
        platform's default ``fork`` start, children must not inherit running threads)."""
        if self.workers == 1 or self._pool is not None:
            return self._pool
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp.get_context(),
            initializer=_init_worker,
            initargs=(self.stages, self.out),
        )
        self._pool.submit(_noop).result()  # launches every worker (fork start launches all)
        return self._pool

    def run(self, batches: Iterator[ShardBatch]) -> Iterator[ShardEntry]:
        """Process ``batches``, yielding each finished shard's entry as it completes."""
        if self.workers == 1:
            for stage in self.stages:
                stage.setup()
            for batch in batches:
                yield process_and_commit(self.stages, self.out, batch)
            return
        pool = self._pool or self.start()
        assert pool is not None
        pending: set[Future[ShardEntry]] = set()
        try:
            for batch in batches:
                pending.add(pool.submit(_worker_task, batch))
                if len(pending) >= self.in_flight:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
