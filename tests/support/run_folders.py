"""Small real run folders for the tests of what reads runs back (mix, view, eval, card).

``synth_run``: the built-in renderer's images, graphs and LLaVA export (the ``synth`` layout).
``coco_run``: ``generate`` over the two shared COCO photos (the manifest + shards layout; the
graphs are re-read from the source the manifest names).
"""

from __future__ import annotations

from pathlib import Path

from scenesynth.pipeline.config import RunConfig, SynthesizeConfig
from scenesynth.pipeline.runner import run
from scenesynth.pipeline.synthesize import synthesis_config


def make_synth_run(out: Path, scenes: int = 8, seed: int = 3, fmt: str = "llava") -> Path:
    run(synthesis_config(out, SynthesizeConfig(scenes=scenes), seed=seed, per_image=2,
                         format=fmt, workers=1, progress=False))
    return out


def make_coco_run(shared_data: Path, out: Path, per_image: int = 20, fmt: str = "llava") -> Path:
    source = shared_data / "coco_panoptic" / "panoptic_coco_detection_format.json"
    run(RunConfig(source=str(source), out=str(out), per_image=per_image, format=fmt, seed=0,
                  workers=1, progress=False))
    return out
