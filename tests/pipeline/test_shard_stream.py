"""A shard's samples streamed to its file as they are made: the same samples, bytes and manifest
entry as when the shard holds them, and nothing left behind when a shard is not committed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import pytest

from scenesynth.graph import AnswerForm, InstructionSample
from scenesynth.ioutil.manifest import SHARDS_DIR, samples_path, sha256_bytes
from scenesynth.pipeline.local import process_and_commit
from scenesynth.pipeline.shard import generate_shard
from scenesynth.pipeline.shards import SampleFileWriter, encode_samples
from scenesynth.pipeline.stages import (
    GenerateStage,
    RefineStage,
    ShardBatch,
    Stage,
    streams_samples,
)
from scenesynth.pipeline.synthetic import synthetic_graph

GRAPHS = [synthetic_graph(3, i) for i in range(6)]
FORMS = (AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE, AnswerForm.YES_NO)


def _generate_stage() -> GenerateStage:
    return GenerateStage(generators=["all"], per_image=2, forms=list(FORMS), seed=5)


class _ReadsSamples(Stage):
    """A stage after generation that reads the samples: the shard must hold them."""

    name: ClassVar[str] = "reads"

    def process(self, batch: ShardBatch) -> ShardBatch:
        batch.counters["seen"] += len(batch.samples)
        return batch


def test_emit_gets_the_samples_the_list_would_hold() -> None:
    config = _generate_stage().gen_config()
    held = generate_shard(GRAPHS, None, 2, FORMS, 5, config, None)
    emitted: list[InstructionSample] = []
    streamed = generate_shard(GRAPHS, None, 2, FORMS, 5, config, None, emit=emitted.append)
    assert streamed.samples == []
    assert len(held.samples) > 100
    assert encode_samples(emitted) == encode_samples(held.samples)
    assert streamed.stats["samples"] == held.stats["samples"] == len(held.samples)


def test_streams_only_when_no_later_stage_reads_samples() -> None:
    generate = _generate_stage()
    assert streams_samples([RefineStage(), generate])
    assert not streams_samples([generate, _ReadsSamples()])
    assert not streams_samples([RefineStage()])  # nothing generates samples


def test_streamed_shard_has_the_held_shard_bytes_and_entry(tmp_path: Path) -> None:
    def batch() -> ShardBatch:
        return ShardBatch(index=3, record_start=30, record_end=36, graphs=list(GRAPHS))

    streamed_out, held_out = tmp_path / "streamed", tmp_path / "held"
    streamed = process_and_commit([_generate_stage()], streamed_out, batch())
    held = process_and_commit([_generate_stage(), _ReadsSamples()], held_out, batch())
    data = samples_path(streamed_out, 3).read_bytes()
    assert data == samples_path(held_out, 3).read_bytes()
    assert held.counters["seen"] == held.samples > 100  # the held shard's samples were read
    assert dataclasses.replace(streamed, counters={}) == dataclasses.replace(held, counters={})
    assert streamed.sha256 == sha256_bytes(data)
    assert list((streamed_out / SHARDS_DIR).glob(".*.tmp")) == []


def test_restart_forgets_what_was_written(tmp_path: Path) -> None:
    config = _generate_stage().gen_config()
    samples = generate_shard(GRAPHS[:2], None, 2, FORMS, 5, config, None).samples
    writer = SampleFileWriter(tmp_path, 0)
    writer.FLUSH_AT = 1000  # some lines reach the file before the restart
    for sample in samples:
        writer.add(sample)
    writer.restart()
    kept = samples[len(samples) // 2:]
    for sample in kept:
        writer.add(sample)
    assert writer.count == len(kept)
    assert writer.sha256() == sha256_bytes(encode_samples(kept))
    writer.commit()
    assert samples_path(tmp_path, 0).read_bytes() == encode_samples(kept)


def test_a_shard_that_fails_leaves_no_file(tmp_path: Path) -> None:
    class Boom(Stage):
        name: ClassVar[str] = "boom"
        reads_samples: ClassVar[bool] = False

        def process(self, batch: ShardBatch) -> ShardBatch:
            raise KeyboardInterrupt  # not a record failure: it stops the shard

    batch = ShardBatch(index=0, record_start=0, record_end=2, graphs=list(GRAPHS[:2]))
    with pytest.raises(KeyboardInterrupt):
        process_and_commit([_generate_stage(), Boom()], tmp_path, batch)
    assert not samples_path(tmp_path, 0).exists()
    assert list((tmp_path / SHARDS_DIR).glob(".*")) == []
