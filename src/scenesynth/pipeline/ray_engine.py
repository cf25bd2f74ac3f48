"""The Ray engine: the same stages on Ray Data, for clusters (``pip install "scenesynth[ray]"``).

Consecutive CPU stages run fused as Ray tasks (``Dataset.map`` with the stage's ``num_cpus``);
each model-backed stage (``uses_model``) runs as an actor pool (``Dataset.map`` with a callable
class, ``concurrency = resources.replicas`` and the declared ``num_cpus``/``num_gpus``), so its
model loads once per actor. Workers return the encoded shard bytes and the driver commits them,
so the output directory only needs to exist on the driver. Shards are submitted in windows of
bounded size, which bounds driver memory; the bytes are those of the local engine.
"""

from __future__ import annotations

import itertools
import logging
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from scenesynth.ioutil.manifest import ShardEntry
from scenesynth.pipeline.shards import EncodedShard, commit_shard, encode_shard
from scenesynth.pipeline.stages import ShardBatch, Stage, run_stages

log = logging.getLogger("scenesynth.pipeline")


def _run_cpu_group(row: dict[str, Any], stages: Sequence[Stage]) -> dict[str, Any]:
    batch: ShardBatch = pickle.loads(row["batch"])
    for stage in stages:
        # setup() is idempotent by contract; CPU stages keep no heavy state.
        stage.setup()
    return {"batch": pickle.dumps(run_stages(stages, batch))}


class _ModelStageActor:
    """One actor of a model-backed stage's pool; the model loads once, in ``__init__``."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        stage.setup()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        batch: ShardBatch = pickle.loads(row["batch"])
        return {"batch": pickle.dumps(run_stages([self.stage], batch))}


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    return {"shard": pickle.dumps(encode_shard(pickle.loads(row["batch"])))}


def _stage_groups(stages: Sequence[Stage]) -> list[list[Stage]]:
    """Split into runs of CPU stages and single model-backed stages, keeping order."""
    groups: list[list[Stage]] = []
    for stage in stages:
        if stage.uses_model or not groups or groups[-1][0].uses_model:
            groups.append([stage])
        else:
            groups[-1].append(stage)
    return groups


class RayEngine:
    """Runs shards on Ray Data; connects to ``address`` or starts a local instance."""

    name = "ray"

    def __init__(
        self,
        stages: Sequence[Stage],
        out: Path,
        workers: int,
        in_flight: int,
        address: str | None = None,
    ) -> None:
        self.stages = list(stages)
        self.out = out
        self.workers = max(1, workers)
        self.window = max(in_flight, 2 * self.workers)
        self.address = address

    def _init_ray(self) -> tuple[Any, bool]:
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError(
                'the Ray engine needs Ray Data: pip install "scenesynth[ray]" '
                '(or pip install "ray[data]>=2.9")'
            ) from exc
        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
            }
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.workers, **kwargs)
            started = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        return ray, started

    def _pipeline(self, ray: Any, window: list[ShardBatch]) -> Any:
        ds = ray.data.from_items(
            [{"batch": pickle.dumps(b)} for b in window], override_num_blocks=len(window)
        )
        for group in _stage_groups(self.stages):
            cpus = max(s.resources.num_cpus for s in group)
            if group[0].uses_model:
                stage = group[0]
                ds = ds.map(
                    _ModelStageActor,
                    fn_constructor_args=(stage,),
                    concurrency=stage.resources.replicas or 1,
                    num_cpus=cpus,
                    num_gpus=stage.resources.num_gpus,
                )
            else:
                ds = ds.map(_run_cpu_group, fn_args=(group,), num_cpus=cpus)
        return ds.map(_encode)

    def start(self) -> None:
        """Nothing to start ahead: Ray starts (or connects) when the first window runs."""

    def run(self, batches: Iterator[ShardBatch]) -> Iterator[ShardEntry]:
        ray, started = self._init_ray()
        try:
            while True:
                window = list(itertools.islice(batches, self.window))
                if not window:
                    break
                for row in self._pipeline(ray, window).iter_rows():
                    shard: EncodedShard = pickle.loads(row["shard"])
                    yield commit_shard(self.out, shard)
        finally:
            if started:
                ray.shutdown()
