"""The renderer contract shared by the built-in CPU renderer and the diffusion backend.

A renderer takes a *laid-out* scene graph (every object has a box, and a depth where depth order
matters) and returns the image plus the graph as actually rendered: for renderers that know the
exact ground truth (the CPU renderer), objects carry their visible-instance masks and boxes
re-measured from those masks, and a per-pixel depth map is returned. Diffusion renderers return
the requested layout unchanged and ``exact=False``; their images must pass a verifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from scenesynth.graph import SceneGraph


@dataclass
class RenderResult:
    image: Image.Image
    graph: SceneGraph  # the graph as rendered (masks/boxes measured when exact)
    depth_map: np.ndarray | None = None  # float32 HxW, distance from camera, larger = farther
    exact: bool = True  # True when boxes/masks/depth are ground truth by construction


class Renderer(Protocol):
    name: str

    def render(self, graph: SceneGraph, seed: int) -> RenderResult:
        """Render ``graph`` (objects with boxes) deterministically for ``seed``."""
        ...
