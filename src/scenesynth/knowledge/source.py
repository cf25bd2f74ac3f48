"""The knowledge-source protocol: anything that turns a seed into a spatial KG.

The synth pipeline holds a :class:`KnowledgeSource` and calls ``.sample(seed)``; a config flag
picks the built-in knowledge base (:class:`KBSource`) or an LLM
(:class:`~scenesynth.knowledge.llm.LLMSource`) through :func:`make_source`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from scenesynth.graph.model import SceneGraph
from scenesynth.knowledge.kb import KnowledgeBase, load_kb
from scenesynth.knowledge.sampler import DEFAULT_CANVAS, sample_kg

log = logging.getLogger(__name__)


@runtime_checkable
class KnowledgeSource(Protocol):
    """Produces one spatial knowledge graph (objects without boxes) per seed."""

    def sample(self, seed: int) -> SceneGraph: ...


class KBSource:
    """Knowledge graphs sampled from the built-in (or a given) knowledge base."""

    def __init__(
        self,
        kb: KnowledgeBase | None = None,
        n_objects: tuple[int, int] = (3, 8),
        canvas: tuple[int, int] = DEFAULT_CANVAS,
        scenes: list[str] | None = None,
    ) -> None:
        self.kb = kb if kb is not None else load_kb()
        self.n_objects = n_objects
        self.canvas = canvas
        unknown = [s for s in scenes or [] if s not in self.kb.scenes]
        if unknown:
            raise ValueError(f"unknown scenes {unknown}; known: {self.kb.scene_names()[:10]}...")
        self.scenes = sorted(scenes) if scenes else None

    def sample(self, seed: int) -> SceneGraph:
        scene = None
        if self.scenes:
            # seed -> scene without touching the sampler's own random stream
            scene = self.scenes[seed % len(self.scenes)]
        return sample_kg(self.kb, seed, self.n_objects, self.canvas, scene=scene)


def make_source(kind: str = "kb", **options: Any) -> KnowledgeSource:
    """Build a knowledge source from a config flag: ``"kb"`` or ``"llm"``.

    ``kb`` options: ``kb_dir``, ``n_objects``, ``canvas``, ``scenes``. ``llm`` options are
    ``config`` (a resolved :class:`~scenesynth.models.llm.LLMConfig`) or the fields of one
    (over the ``SCENESYNTH_LLM_*`` environment), plus ``n_objects``, ``canvas``, ``scenes``
    and ``keep_kb_form``.
    """
    if kind == "kb":
        kb_dir = options.pop("kb_dir", None)
        kb = load_kb(Path(kb_dir)) if kb_dir is not None else None
        return KBSource(kb=kb, **options)
    if kind == "llm":
        from scenesynth.knowledge.llm import LLMSource
        from scenesynth.models.llm import resolve_config

        source_keys = {"n_objects", "canvas", "scenes", "keep_kb_form"}
        source_opts = {k: options.pop(k) for k in list(options) if k in source_keys}
        config = options.pop("config", None)
        if config is None:
            config = resolve_config(options)
        elif options:
            raise ValueError(f"make_source('llm'): pass config or settings, not both: "
                             f"{sorted(options)}")
        return LLMSource(config, **source_opts)
    raise ValueError(f"unknown knowledge source {kind!r}: use 'kb' or 'llm'")


@dataclass
class SampleReport:
    """Graphs made for a batch of seeds, and the seeds that failed (with their errors)."""

    graphs: list[SceneGraph] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (seed, error)

    @property
    def n_ok(self) -> int:
        return len(self.graphs)

    @property
    def n_failed(self) -> int:
        return len(self.failures)


def sample_many(source: KnowledgeSource, seeds: Iterable[int]) -> SampleReport:
    """Sample one KG per seed; a failing seed is logged, counted and skipped, never lost."""
    report = SampleReport()
    for seed in seeds:
        try:
            report.graphs.append(source.sample(seed))
        except Exception as exc:  # one bad seed must not end the batch; it is reported
            message = f"{type(exc).__name__}: {exc}"
            log.warning("knowledge source failed for seed %d: %s", seed, message)
            report.failures.append((seed, message))
    return report
