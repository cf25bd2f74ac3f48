"""Helpers shared by the engine tests (no tests here): a small deterministic stand-in for the
generator runner, and output comparison."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scenesynth.graph import AnswerForm, InstructionSample, Provenance, SceneGraph
from scenesynth.graph.seeds import derive_seed

FAIL_NAME = "exploding-gadget"  # a graph holding an object with this name makes the stand-in raise


class StandInFailure:
    """Shaped like the runner's GenerationFailure."""

    def __init__(self, image_ids: list[str], generator: str, error: str) -> None:
        self.image_ids, self.generator, self.error, self.traceback = (
            image_ids,
            generator,
            error,
            "",
        )


class StandInResult:
    def __init__(self, samples: list[InstructionSample], failures: list[Any]) -> None:
        self.samples, self.failures = samples, failures


def stand_in_shard(
    graphs: Sequence[SceneGraph],
    generators: list[str] | None,
    per_image: int,
    forms: tuple[AnswerForm, ...],
    seed: int,
    config: Any,
    multi_image_group: tuple[int, int] | None,
) -> StandInResult:
    """Counting questions with a seeded object pick; raises on a graph with FAIL_NAME."""
    samples: list[InstructionSample] = []
    for graph in graphs:
        if FAIL_NAME in graph.names():
            raise RuntimeError(f"stand-in generator cannot handle image {graph.image.id}")
        rng = random.Random(derive_seed(seed, graph.image.id))
        for k in range(per_image):
            obj = rng.choice(graph.objects)
            count = sum(1 for o in graph.objects if o.name == obj.name)
            digest = hashlib.sha1(f"{graph.image.id}|{k}".encode()).hexdigest()
            samples.append(
                InstructionSample(
                    id=digest,
                    images=[graph.image.id],
                    question=f"How many {obj.name}s are there? ({k})",
                    answer=str(count),
                    answer_value=count,
                    answer_type="count",
                    form=AnswerForm.SHORT,
                    provenance=Provenance(
                        source=graph.image.source,
                        image_ids=[graph.image.id],
                        generator="stand_in_count",
                        generator_version="1",
                        family="counting",
                        objects=[obj.id],
                        seed=seed,
                    ),
                )
            )
    return StandInResult(samples, [])


def output_files(out: Path) -> dict[str, bytes]:
    """Every file a run wrote that must not depend on workers/engine/interruptions."""
    files: dict[str, bytes] = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and rel != "summary.json":
            files[rel] = path.read_bytes()
    return files


def dying_shard(
    graphs: Sequence[SceneGraph],
    generators: list[str] | None,
    per_image: int,
    forms: tuple[AnswerForm, ...],
    seed: int,
    config: Any,
    multi_image_group: tuple[int, int] | None,
) -> StandInResult:
    """Like stand_in_shard, but the worker process dies (SIGKILL) on image 100's shard, as an
    out-of-memory kill would."""
    import os
    import signal

    if any(g.image.id.endswith("0000100") for g in graphs):
        os.kill(os.getpid(), signal.SIGKILL)
    return stand_in_shard(graphs, generators, per_image, forms, seed, config, multi_image_group)
