"""PEP 517 build backend: setuptools, plus mypy when a compiled build is requested.

``SCENESYNTH_COMPILE=1 pip install .`` compiles the generation hot path (the modules listed
in ``setup.py``) with mypyc; the build then needs mypy (and pydantic, so that mypy sees the
schema's real types). A plain build stays pure Python and needs neither.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported hooks)
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

COMPILE_REQUIRES = ["mypy>=1.10", "pydantic>=2.6"]

# Modules on the per-sample path of `generate`, compiled by a compiled build. Classes that
# users subclass (generators.base) stay interpreted: an interpreted class cannot extend a
# compiled one.
COMPILED_MODULES = [
    "scenesynth._fast",
    "scenesynth.graph.decide",
    "scenesynth.graph.geometry",
    "scenesynth.graph.keys",
    "scenesynth.graph.seeds",
    "scenesynth.graph.vocab",
    "scenesynth.programs.tables",
    "scenesynth.programs.ops",
    "scenesynth.programs.execute",
    "scenesynth.programs.builder",
    "scenesynth.generators.kit",
    "scenesynth.generators.draws",
    "scenesynth.generators.refer",
    "scenesynth.generators.forms",
    "scenesynth.pipeline.shard",
    "scenesynth.generators.families.attributes",
    "scenesynth.generators.families.by_box",
    "scenesynth.generators.families.extremes",
    "scenesynth.generators.families.points",
    "scenesynth.generators.families.multi_across",
    "scenesynth.generators.families.multi_lacks",
    "scenesynth.generators.families.existence_count",
    "scenesynth.generators.families.grounding",
    "scenesynth.generators.families.position",
    "scenesynth.generators.families.relations",
    "scenesynth.generators.families.size_depth",
    "scenesynth.generators.families.multi_aggregate",
    "scenesynth.generators.families.multi_attributes",
    "scenesynth.generators.families.multi_compare",
    "scenesynth.generators.families.multi_relations",
    "scenesynth.generators.families.multi_select",
    "scenesynth.quality.balance",
    "scenesynth.quality.dedup",
]


def compile_requested() -> bool:
    return os.environ.get("SCENESYNTH_COMPILE", "0").strip() not in ("", "0")


def listing_requirements() -> bool:
    """True while setup.py runs only to list build requirements (mypy is not there yet)."""
    return os.environ.get("SCENESYNTH_LISTING_REQUIREMENTS") == "1"


def _requires(hook: Any, config_settings: dict[str, Any] | None) -> list[str]:
    os.environ["SCENESYNTH_LISTING_REQUIREMENTS"] = "1"
    try:
        base = hook(config_settings)
    finally:
        del os.environ["SCENESYNTH_LISTING_REQUIREMENTS"]
    return [*base, *(COMPILE_REQUIRES if compile_requested() else [])]


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _requires(_setuptools.get_requires_for_build_wheel, config_settings)


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _requires(_setuptools.get_requires_for_build_editable, config_settings)
