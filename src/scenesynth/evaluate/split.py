"""Contamination-safe train / holdout splits of a finished run (``scenesynth split``).

A post-generation step (the engine is untouched, so a run's samples stay byte-identical with
or without a split). Three hold-outs, all seeded:

- **images**: a share of the images (by a hash of the image id) is held out;
- **templates**: some question templates never appear in train;
- **attribute-name pairs** (CLEVR-CoGenT style): some (attribute value, object name)
  combinations, e.g. ("red", "cube"), never appear in a train image at all. Every image holding
  an object with a held-out pair is a holdout image.

train = samples whose images are all train images and whose template is not held out;
holdout = samples whose images are all holdout images (every template, tagged with the reasons
it is out of distribution). A multi-image sample that mixes train and holdout images, or a
held-out template on a train image, belongs to neither and is counted as dropped.

Writes ``RUN/splits/train.txt`` and ``RUN/splits/holdout.txt`` (sample ids, one a line) and
``RUN/splits/split.json`` (what was held out, and the counts).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scenesynth.ioutil import atomic_write
from scenesynth.quality.card_plots import image_bucket
from scenesynth.rundata import RunData

SPLITS_DIR = "splits"
MAX_PAIR_IMAGE_SHARE = 0.1  # an auto-picked pair may take at most this share of the images


@dataclass
class SplitReport:
    image_share: float
    seed: int
    held_out_templates: list[str]
    held_out_pairs: list[list[str]]
    images: dict[str, int] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    holdout_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def template_id(family: str, template: str | None) -> str:
    return f"{family}/{template}"


def split_run(
    run: RunData,
    image_share: float = 0.2,
    templates: int | list[str] = 2,
    pairs: int | list[tuple[str, str]] = 2,
    seed: int = 0,
) -> SplitReport:
    """Split ``run`` (see the module docstring); ``templates`` / ``pairs``: how many to pick
    (seeded) or exactly which (``family/template``; ``(attribute, name)``)."""
    if not 0 <= image_share < 1:
        raise ValueError(f"image share {image_share}: must be in [0, 1)")
    rng = random.Random(f"scenesynth.split:{seed}")
    graphs = run.graphs()
    if not graphs:
        raise ValueError(f"{run.root}: the run's scene graphs cannot be read (needed for the "
                         f"attribute-name hold-out)")
    pair_images: dict[tuple[str, str], set[str]] = {}
    for image_id, graph in graphs.items():
        for obj in graph.objects:
            for attr in obj.attributes:
                pair_images.setdefault((attr.value, obj.name), set()).add(image_id)
    if isinstance(pairs, int):
        # Seeded picks among the pairs on at most MAX_PAIR_IMAGE_SHARE of the images; where too
        # few are that rare (CLEVR: every colour-shape pair is common), the rarest others.
        limit = max(2, MAX_PAIR_IMAGE_SHARE * len(graphs))
        candidates = sorted(p for p, ims in pair_images.items() if 1 < len(ims) <= limit)
        rng.shuffle(candidates)
        rest = sorted((p for p, ims in pair_images.items() if len(ims) > limit),
                      key=lambda p: (len(pair_images[p]), p))
        held_pairs = sorted((candidates + rest)[:pairs])
    else:
        held_pairs = sorted(pairs)

    holdout_images: dict[str, set[str]] = {}
    bucket_size = 1000
    for image_id in graphs:
        if image_bucket([image_id, str(seed)], bucket_size) < image_share * bucket_size:
            holdout_images.setdefault(image_id, set()).add("image")
    for pair in held_pairs:
        for image_id in pair_images.get(pair, ()):
            holdout_images.setdefault(image_id, set()).add("pair")

    all_templates: Counter[str] = Counter()
    for sample in run.samples():
        all_templates[template_id(sample.provenance.family, sample.provenance.template)] += 1
    if isinstance(templates, int):
        names = sorted(all_templates)
        rng.shuffle(names)
        held_templates = sorted(names[:templates])
    else:
        held_templates = sorted(templates)

    out = run.root / SPLITS_DIR
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    with atomic_write(out / "train.txt") as train, atomic_write(out / "holdout.txt") as holdout:
        for sample in run.samples():
            prov = sample.provenance
            held = [image_id in holdout_images for image_id in prov.image_ids]
            template_held = template_id(prov.family, prov.template) in held_templates
            if all(held):
                holdout.write(sample.id + "\n")
                counts["holdout"] += 1
                why = set().union(*(holdout_images[i] for i in prov.image_ids))
                if template_held:
                    why.add("template")
                reasons.update(why)
            elif not any(held) and not template_held:
                train.write(sample.id + "\n")
                counts["train"] += 1
            else:
                counts["dropped"] += 1
    report = SplitReport(
        image_share=image_share, seed=seed, held_out_templates=held_templates,
        held_out_pairs=[list(p) for p in held_pairs],
        images={"train": len(graphs) - len(holdout_images), "holdout": len(holdout_images)},
        samples=dict(sorted(counts.items())), holdout_reasons=dict(sorted(reasons.items())),
    )
    with atomic_write(out / "split.json") as fh:
        fh.write(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def split_ids(run: RunData, split: str) -> set[str]:
    path = run.root / SPLITS_DIR / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such split; run `scenesynth split {run.root}` first")
    return {line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()}
