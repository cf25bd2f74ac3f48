"""Single-image generators. Importing this package registers them all."""

from scenesynth.generators.single import attributes, counting, grounding, relations, spatial

__all__ = ["attributes", "counting", "grounding", "relations", "spatial"]
