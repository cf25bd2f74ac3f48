"""Ray engine: the same pipeline on a local Ray instance (num_cpus=2) writes the same bytes as
the local engine, including a model-backed stage run as an actor pool.

Needs Ray Data: ``pip install "scenesynth[ray]"`` (or ``pip install "ray[data]>=2.9"``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import engine_support
import pytest
from engine_support import output_files, stand_in_shard

ray = pytest.importorskip(
    "ray", reason='Ray is not installed; CI needs: pip install "scenesynth[ray]"'
)

from scenesynth.pipeline import (  # noqa: E402
    Resources,
    RunConfig,
    ShardBatch,
    Stage,
    build_stages,
    run,
)
from scenesynth.pipeline.ray_engine import _stage_groups  # noqa: E402
from scenesynth.pipeline.synthetic import write_synthetic_jsonl  # noqa: E402

pytestmark = pytest.mark.ray


@dataclass
class TaggingModelStage(Stage):
    """A stand-in for a model-backed stage: 'loads a model' in setup, refuses to run without."""

    name: ClassVar[str] = "tag"
    uses_model: ClassVar[bool] = True
    resources: ClassVar[Resources] = Resources(num_cpus=1, num_gpus=0, replicas=1)
    model: dict[str, int] | None = None

    def setup(self) -> None:
        self.model = {"weight": 3}

    def process(self, batch: ShardBatch) -> ShardBatch:
        if self.model is None:
            raise RuntimeError("model stage used before setup()")
        batch.stage_records[self.name] += len(batch.graphs)
        batch.counters["tag.weighted_objects"] += self.model["weight"] * sum(
            len(g.objects) for g in batch.graphs
        )
        return batch


@pytest.fixture(scope="module")
def ray_local() -> object:
    # Test helpers live outside the package: ship them to the Ray workers by value.
    ray.cloudpickle.register_pickle_by_value(engine_support)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_stage_groups_fuse_cpu_stages_and_isolate_model_stages() -> None:
    config = RunConfig(source="x", out="y", refine={"filter_contradictions": True})
    refine, generate = build_stages(config)
    tag = TaggingModelStage()
    groups = _stage_groups([refine, generate, tag, refine])
    assert [[s.name for s in g] for g in groups] == [["refine", "generate"], ["tag"], ["refine"]]


def test_ray_engine_matches_local_engine(ray_local: object, tmp_path: Path) -> None:
    source = tmp_path / "graphs.jsonl"
    write_synthetic_jsonl(source, 90, seed=4)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        config = RunConfig(
            source=str(source),
            out=str(out),
            per_image=2,
            shard_size=10,
            workers=2,
            engine=engine,
            progress=False,
            refine={"add_derived_relations": True},
            generators=["exist_object", "spatial_verify", "count_objects"],
        )
        stages = [*build_stages(config), TaggingModelStage()]
        summary = run(config, stages)
        assert summary.shards == 9
        assert summary.stage_records["tag"] == 90
        assert summary.counters["tag.weighted_objects"] > 0
        assert summary.counters["refine.derived_relations"] > 0
        assert summary.samples > 90 * 2
        outputs[engine] = output_files(out)
    assert outputs["ray"] == outputs["local"]


def test_ray_engine_with_stand_in_function(ray_local: object, tmp_path: Path) -> None:
    source = tmp_path / "graphs.jsonl"
    write_synthetic_jsonl(source, 45, seed=8)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        config = RunConfig(
            source=str(source), out=str(out), per_image=3, shard_size=7, workers=2,
            engine=engine, progress=False,
        )  # fmt: skip
        summary = run(config, shard_function=stand_in_shard)
        assert (summary.shards, summary.samples) == (7, 135)
        outputs[engine] = output_files(out)
    assert outputs["ray"] == outputs["local"]


def test_synth_on_ray_writes_the_same_shards_images_and_export(
    ray_local: object, tmp_path: Path
) -> None:
    """A synthesizing run (knowledge -> layout -> render -> verify in the Ray workers) writes
    the local engine's bytes: shards, graphs, images, manifest, export and card."""
    from scenesynth.pipeline import SynthesizeConfig
    from scenesynth.pipeline.synthesize import synthesis_config

    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"synth-{engine}"
        config = synthesis_config(out, SynthesizeConfig(scenes=12, canvas=256), seed=4,
                                  per_image=1, shard_size=4, workers=2, engine=engine,
                                  progress=False)
        summary = run(config)
        assert summary.shards == 3 and summary.export["validation"]["ok"]
        outputs[engine] = output_files(out)
    assert any(name.startswith("images/") for name in outputs["local"])
    assert outputs["ray"] == outputs["local"]
