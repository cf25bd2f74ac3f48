"""The LLM knowledge backend: spatial KGs proposed by a model through the shared
OpenAI-compatible client in :mod:`scenesynth.models.llm`.

``prompts`` (answer models, bounded JSON schemas, messages), ``sanity`` (is a proposed name an
object, is its size plausible), ``convert`` (answer -> KG, every drop and repair counted) and
``source`` (:class:`LLMSource`: scene list once, one graph per seed).
"""

from scenesynth.knowledge.llm.convert import LLM_SOURCE, ProposalRules, graph_from_answer
from scenesynth.knowledge.llm.prompts import (
    PROMPT_EXAMPLE_SCENES,
    SceneGraphAnswer,
    ScenesAnswer,
    scene_graph_messages,
    scene_graph_schema,
    scenes_messages,
    scenes_schema,
)
from scenesynth.knowledge.llm.source import LLMSource

__all__ = [
    "LLM_SOURCE",
    "PROMPT_EXAMPLE_SCENES",
    "LLMSource",
    "ProposalRules",
    "SceneGraphAnswer",
    "ScenesAnswer",
    "graph_from_answer",
    "scene_graph_messages",
    "scene_graph_schema",
    "scenes_messages",
    "scenes_schema",
]
