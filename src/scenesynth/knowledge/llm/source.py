"""The LLM knowledge source: the model proposes the scene list once, then one scene graph per
seed, through the shared client (:mod:`scenesynth.models.llm`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scenesynth.graph.model import SceneGraph
from scenesynth.knowledge.kb import KnowledgeBase, load_kb
from scenesynth.knowledge.llm.convert import ProposalRules, graph_from_answer
from scenesynth.knowledge.llm.prompts import (
    PROMPT_EXAMPLE_SCENES,
    SceneGraphAnswer,
    ScenesAnswer,
    graph_max_tokens,
    scene_graph_messages,
    scene_graph_schema,
    scenes_max_tokens,
    scenes_messages,
    scenes_schema,
)
from scenesynth.knowledge.llm.sanity import clean_scene_names
from scenesynth.knowledge.sampler import DEFAULT_CANVAS, rng_for
from scenesynth.models.llm import LLMClient, LLMConfig, LLMError, LLMStats, ResponseRejected


class LLMSource:
    """A :class:`~scenesynth.knowledge.source.KnowledgeSource` backed by an LLM."""

    def __init__(
        self,
        config: LLMConfig,
        n_objects: tuple[int, int] = (3, 8),
        canvas: tuple[int, int] = DEFAULT_CANVAS,
        scenes: list[str] | None = None,
        kb: KnowledgeBase | None = None,
        client: LLMClient | None = None,
        keep_kb_form: bool = True,
        min_objects: int | None = None,
    ) -> None:
        lo, hi = n_objects
        if not 1 <= lo <= hi:
            raise ValueError(f"n_objects must satisfy 1 <= min <= max, got {n_objects}")
        self.config = config
        self.n_objects = n_objects
        self.canvas = canvas
        self.kb = kb if kb is not None else load_kb()  # sizes, forms and support of known names
        self.client = client or LLMClient(config)
        self.keep_kb_form = keep_kb_form
        # fewer usable objects than this reject an answer (default: the range's minimum)
        self.min_objects = lo if min_objects is None else min_objects
        self._scenes = sorted({s.strip().lower() for s in scenes}) if scenes else None
        self._scenes_error: LLMError | None = None

    @property
    def stats(self) -> LLMStats:
        return self.client.stats

    def prepare(self) -> None:
        """Ask for what every graph needs (the scene list) once, before any graph: a failure
        here ends the run instead of failing every graph."""
        self.scenes()

    def scenes(self) -> list[str]:
        """The scene list: given, or proposed once by the model (and cached). A failed
        proposal is not asked again for every graph: its error is raised again."""
        if self._scenes_error is not None:
            raise self._scenes_error
        if self._scenes is None:
            count = self.config.scene_count
            stats = self.client.stats

            def clean(answer: ScenesAnswer) -> list[str]:
                names, dropped = clean_scene_names(answer.scenes, PROMPT_EXAMPLE_SCENES)
                for reason, name in dropped:
                    stats.reject(reason, name)
                needed = min(count, 5)
                if len(names) < needed:
                    raise ResponseRejected(
                        "scenes_not_diverse",
                        f"{len(names)} usable scene names, {needed} needed: {names}")
                return names

            try:
                self._scenes = self.client.request(
                    scenes_messages(count), "scenes", scenes_schema(count), ScenesAnswer, clean,
                    max_tokens=scenes_max_tokens(count),
                )
            except LLMError as exc:
                self._scenes_error = exc
                raise
        return self._scenes

    def sample(self, seed: int, index: int = 0) -> SceneGraph:
        """The KG for ``seed``; ``index`` asks for further variations of the same seed."""
        scenes = self.scenes()
        rng = rng_for(seed, "llm")
        scene = rng.choice(scenes)
        k = rng.randint(*self.n_objects)
        variation = seed if index == 0 else seed * 1000 + index
        rules = ProposalRules.for_kb(self.kb, k, self.min_objects, self.keep_kb_form)

        def to_graph(answer: SceneGraphAnswer) -> SceneGraph:
            return graph_from_answer(answer, seed=seed, scene=scene, canvas=self.canvas,
                                     rules=rules, stats=self.client.stats, index=index)

        return self.client.request(
            scene_graph_messages(scene, k, variation),
            "scene_graph",
            scene_graph_schema(k),
            SceneGraphAnswer,
            to_graph,
            seed=variation,
            max_tokens=graph_max_tokens(k),
        )

    def with_config(self, **changes: Any) -> LLMSource:
        """A copy with some config fields changed (e.g. another model)."""
        config = replace(self.config, **changes)
        return LLMSource(config, self.n_objects, self.canvas, self._scenes, self.kb,
                         keep_kb_form=self.keep_kb_form, min_objects=self.min_objects)
