"""Single-image generators. Importing this package registers them all."""

from scenesynth.generators.single import (
    attributes,
    by_box,
    counting,
    extremes,
    grounding,
    points,
    relations,
    spatial,
)

__all__ = ["attributes", "by_box", "counting", "extremes", "grounding", "points", "relations",
           "spatial"]
