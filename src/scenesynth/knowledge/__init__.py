"""Spatial knowledge graphs: the built-in knowledge base, its seeded sampler, and an LLM backend.

A spatial KG is a plain :class:`~scenesynth.graph.SceneGraph` whose objects have no boxes yet:

* ``image``: ``ImageInfo(id=<stable id from seed/scene/index>, width, height,
  source="scenesynth.knowledge" or "scenesynth.llm")``, 512x512 by default;
* objects ``o0, o1, ...`` with a lowercase singular ``name``, typed ``attributes`` (a color
  wherever the drawing shows one; copies of a name get distinct colors so each is uniquely
  describable; no contradictory pairs, :mod:`scenesynth.graph.attribute_rules`),
  ``meta["real_size"] = [w, h, d]`` (metres), ``meta["form"]`` and ``meta["placement"]``,
  ``meta["depiction"]`` (the emoji's code points, or ``drawing:<name>``) and ``meta["aspect"]``
  (its width / height), and ``distinct=True`` (each entity is its own instance);
* relations: canonical spatial predicates (``left of``, ``right of``, ``above``, ``below``,
  ``in front of``, ``behind``, ``on top of``, ``near``, ``far from``), category ``spatial``,
  source ``annotated`` (knowledge base) or ``model`` (LLM), mutually consistent
  (:mod:`scenesynth.knowledge.consistency`);
* ``meta``: ``{"scene", "absent_objects", "kg_seed"}``.

Public surface::

    from scenesynth.knowledge import load_kb, sample_kg, make_source
    kb = load_kb()                       # validated built-in knowledge base (cached)
    graph = sample_kg(kb, seed=7)        # deterministic per seed
    source = make_source("kb")           # or make_source("llm", model=..., base_url=...)
    graph = source.sample(7)
"""

from scenesynth.knowledge.consistency import KG_PREDICATES, SpatialConstraints, kg_predicate
from scenesynth.knowledge.kb import (
    FORMS,
    PLACEMENTS,
    KBStats,
    KnowledgeBase,
    KnowledgeBaseError,
    ObjectSpec,
    SceneSpec,
    load_kb,
)
from scenesynth.knowledge.sampler import KB_SOURCE, kg_image_id, sample_kg
from scenesynth.knowledge.source import (
    KBSource,
    KnowledgeSource,
    SampleReport,
    make_source,
    sample_many,
)

__all__ = [
    "FORMS",
    "KB_SOURCE",
    "KG_PREDICATES",
    "PLACEMENTS",
    "KBSource",
    "KBStats",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "KnowledgeSource",
    "ObjectSpec",
    "SampleReport",
    "SceneSpec",
    "SpatialConstraints",
    "kg_image_id",
    "kg_predicate",
    "load_kb",
    "make_source",
    "sample_kg",
    "sample_many",
]
