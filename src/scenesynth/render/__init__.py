"""Render stage: the renderer contract (:mod:`scenesynth.render.base`) and the built-in CPU
renderer with exact ground truth (:class:`CpuRenderer`)."""

from scenesynth.render.base import Renderer, RenderResult
from scenesynth.render.cpu import CpuRenderer, RenderError

__all__ = ["CpuRenderer", "RenderError", "RenderResult", "Renderer"]
