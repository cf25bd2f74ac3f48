"""Pluggable model backends (configurable hub id or local path, and device).

Importing this package does not import torch; models load on first use.

* :class:`ZeroShotDetector`: open-vocabulary detection (OWL-ViT by default) returning
  :class:`Detection` objects with boxes in the package's pixel ``x0 y0 x1 y1`` convention.
* :func:`~scenesynth.models.common.require` and friends, which load the diffusion pipeline
  the GLIGEN renderer (``scenesynth.render.diffusion.GligenRenderer``) draws with: renderers
  live in ``render/``, which comes after ``models/`` in the flow.
"""

from scenesynth.models.common import MissingDependencyError, require, resolve_device, resolve_dtype
from scenesynth.models.detector import (
    DEFAULT_DETECTOR,
    Detection,
    Detector,
    ZeroShotDetector,
    non_max_suppression,
)

__all__ = [
    "DEFAULT_DETECTOR",
    "Detection",
    "Detector",
    "MissingDependencyError",
    "ZeroShotDetector",
    "non_max_suppression",
    "require",
    "resolve_device",
    "resolve_dtype",
]
