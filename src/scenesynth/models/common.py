"""Shared plumbing for model backends: lazy optional imports, device and dtype choice.

Backends import torch / transformers / diffusers only when a model is actually loaded, so the
package (and everything that does not run a model) works without them installed.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class MissingDependencyError(ImportError):
    """A model backend was used without its optional dependencies installed."""


def require(module: str, extra: str = "models") -> ModuleType:
    """Import ``module`` or fail with the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is needed for this model backend; install it with "
            f"`pip install 'scenesynth[{extra}]'` ({exc})"
        ) from exc


def resolve_device(device: str | None) -> str:
    """``None``/``"auto"`` picks ``cuda`` when available, else ``cpu``; anything else is kept."""
    if device not in (None, "auto"):
        return str(device)
    torch = require("torch")
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str | None, device: str) -> Any:
    """``None``/``"auto"``: float16 on GPU, float32 on CPU; else a torch dtype name."""
    torch = require("torch")
    if dtype in (None, "auto"):
        return torch.float16 if device.startswith("cuda") else torch.float32
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown torch dtype {dtype!r}")
    return value
