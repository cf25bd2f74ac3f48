"""Pluggable model backends (configurable hub id or local path, and device).

Importing this package does not import torch; models load on first use.

* :class:`ZeroShotDetector`: open-vocabulary detection (OWL-ViT by default) returning
  :class:`Detection` objects with boxes in the package's pixel ``x0 y0 x1 y1`` convention.
* :class:`~scenesynth.render.diffusion.GligenRenderer`: box-grounded diffusion renderer.
"""

from typing import TYPE_CHECKING, Any

from scenesynth.models.common import MissingDependencyError, require, resolve_device, resolve_dtype
from scenesynth.models.detector import (
    DEFAULT_DETECTOR,
    Detection,
    Detector,
    ZeroShotDetector,
    non_max_suppression,
)

if TYPE_CHECKING:
    from scenesynth.render.diffusion import GligenRenderer


def __getattr__(name: str) -> Any:
    # Lazy: render.diffusion itself imports models.common, so an eager import would be circular.
    if name == "GligenRenderer":
        from scenesynth.render.diffusion import GligenRenderer

        return GligenRenderer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_DETECTOR",
    "Detection",
    "Detector",
    "GligenRenderer",
    "MissingDependencyError",
    "ZeroShotDetector",
    "non_max_suppression",
    "require",
    "resolve_device",
    "resolve_dtype",
]
