"""Regenerate the README's example images (docs/images/synth_*.png) with the CPU renderer.

    python scripts/readme_images.py [--out docs/images] [--search 400]

Walks the demo run's images (seed 0) in order and keeps the first one of each showcased scene,
exactly as ``scenesynth demo`` renders it; the desert one is also drawn with its annotations
(each visible mask tinted, its box re-measured from the mask, and its depth in metres).
"""

from __future__ import annotations

import argparse
import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from scenesynth.graph import SceneGraph
from scenesynth.pipeline.config import SynthesizeConfig
from scenesynth.pipeline.synthesize import KnowledgeKgFactory, synthesize_image
from scenesynth.render import CpuRenderer

SCENES = ("village", "desert", "pet shop")
ANNOTATED = "desert"


def annotate(image: Image.Image, graph: SceneGraph) -> Image.Image:
    """The image with every visible mask tinted and its box, id, name and depth drawn."""
    out = np.asarray(image).astype(np.float32)
    for k, obj in enumerate(graph.objects):
        if obj.mask is None:
            continue
        mask = mask_utils.decode(obj.mask.model_dump()).astype(bool)
        r, g, b = colorsys.hsv_to_rgb((k * 0.37) % 1.0, 0.6, 0.9)
        out[mask] = out[mask] * 0.55 + np.array([r, g, b]) * 255 * 0.45
    annotated = Image.fromarray(out.astype(np.uint8))
    draw = ImageDraw.Draw(annotated)
    for obj in graph.objects:
        if obj.box is None:
            continue
        box = obj.box
        draw.rectangle([box.x0, box.y0, box.x1 - 1, box.y1 - 1], outline=(255, 255, 255), width=2)
        depth = f" {obj.depth:.1f}m" if obj.depth is not None else ""
        draw.text((box.x0 + 3, box.y0 + 2), f"{obj.id} {obj.name}{depth}", fill=(0, 0, 0))
    return annotated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images")
    parser.add_argument("--search", type=int, default=400)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = SynthesizeConfig(scenes=args.search)  # the demo's settings
    factory, renderer = KnowledgeKgFactory.configured(config), CpuRenderer()
    wanted = set(SCENES)
    for index in range(args.search):
        result = synthesize_image(index, 0, factory, config, renderer)  # the demo's seed
        if result.graph is None:
            continue
        scene = str(result.graph.meta.get("scene"))
        if scene not in wanted:
            continue
        wanted.discard(scene)
        slug = scene.replace(" ", "_")
        result.image.save(out / f"synth_{slug}.png", optimize=True)
        print(f"synth_{slug}.png: image {index}, "
              + ", ".join(o.name for o in result.graph.objects))
        if scene == ANNOTATED:
            annotate(result.image, result.graph).save(out / f"synth_{slug}_annotations.png",
                                                      optimize=True)
        if not wanted:
            break
    if wanted:
        raise SystemExit(f"not found in the first {args.search} images: {sorted(wanted)}")


if __name__ == "__main__":
    main()
