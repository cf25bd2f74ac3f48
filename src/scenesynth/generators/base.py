"""The generator contract: typed question programs whose answers are computed from the graph.

A generator is one small class. It declares its :class:`GeneratorSpec` (name, family, the
scene-graph fields it needs, whether it is multi-image, an example) and yields
:class:`Question` objects for a :class:`GenContext` (one graph, or a sequence of graphs for
multi-image generators). Each question carries its typed answer, the *program* that computes
that answer (a list of :class:`~scenesynth.graph.sample.ProgramStep`, CLEVR-style), the objects
and relations used, and distractor candidates for multiple choice. Rendering a question as short
answer, multiple choice or yes/no happens afterwards and never changes the answer.

Program operations are the vocabulary in :data:`scenesynth.programs.ops.OPS`. Every op a
generator emits is defined there with its exact semantics: the independent checker in the tests
re-implements each op from that table and re-executes every stored program against the graph.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, overload

from scenesynth.graph import (
    DEFAULT_RULES,
    GraphIndex,
    ProgramStep,
    SceneGraph,
    SpatialRules,
)


class Need(StrEnum):
    """Scene-graph fields a generator reads; a graph lacking one is skipped for it."""

    NAMES = "names"
    ATTRIBUTES = "attributes"
    RELATIONS = "relations"
    BOXES = "boxes"
    DEPTH = "depth"
    MASKS = "masks"
    POSITIONS_3D = "positions_3d"


class AnswerType(StrEnum):
    YES_NO = "yes_no"
    COUNT = "count"
    NAME = "name"  # an object category name
    ATTRIBUTE = "attribute"
    RELATION = "relation"  # a predicate
    BOX = "box"  # [x0, y0, x1, y1] in pixels
    REGION = "region"  # "top left", "center", ...
    IMAGE = "image"  # "Image 2" (multi-image selection)
    TEXT = "text"  # free text (captions, descriptions, lists)


@dataclass(frozen=True)
class GeneratorSpec:
    name: str
    family: str
    description: str
    needs: frozenset[Need]
    answer_type: AnswerType
    example: str
    multi_image: bool = False
    version: str = "1"


@dataclass
class GenConfig:
    """Knobs shared by all generators (all have safe defaults)."""

    rules: SpatialRules = DEFAULT_RULES
    duplicate_iou: float = 0.9  # boxes above this IoU count as one object unless `distinct`
    mc_options: int = 4
    # Names from other graphs of the source offered as name distractors, per graph (a fixed
    # sample beyond this; see generators.kit.name_pool): large vocabularies stay cheap.
    max_name_distractors: int = 64
    max_per_generator: int = 50  # candidate questions kept per generator per context
    # Relative margin a numeric comparison needs before it is asked (area, depth, volume):
    # the larger value must exceed the smaller by this fraction.
    compare_margin: float = 0.15
    region_margin: float = 0.1  # fraction of a 3x3 grid cell kept clear of cell borders
    # Paraphrase bank (scenesynth.generators.paraphrases.load_wordings): template text ->
    # ((wording id, phrasing), ...). Empty: every question uses its template's own text.
    wordings: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


class LazyIndexes(Sequence[GraphIndex]):
    """One :class:`GraphIndex` per graph, each built on first access (most generators read
    the shared tables instead, so building them all up front is wasted work)."""

    __slots__ = ("_built", "_graphs")

    def __init__(self, graphs: Sequence[SceneGraph]) -> None:
        self._graphs = list(graphs)
        self._built: list[GraphIndex | None] = [None] * len(self._graphs)

    def __len__(self) -> int:
        return len(self._graphs)

    @overload
    def __getitem__(self, i: int) -> GraphIndex: ...

    @overload
    def __getitem__(self, i: slice) -> list[GraphIndex]: ...

    def __getitem__(self, i: int | slice) -> GraphIndex | list[GraphIndex]:
        if isinstance(i, slice):
            return [self[k] for k in range(len(self._graphs))[i]]
        index = self._built[i]
        if index is None:
            index = GraphIndex(self._graphs[i])
            self._built[i] = index
        return index


@dataclass
class GenContext:
    graphs: Sequence[SceneGraph]
    rng: random.Random
    config: GenConfig = field(default_factory=GenConfig)
    indexes: Sequence[GraphIndex] = field(default_factory=list)
    # Object names seen in other graphs of the same source (negatives for existence
    # questions); filled by the runner.
    other_names: tuple[str, ...] = ()
    # Attribute values per kind seen in the graphs of the same source (plausible distractors:
    # CLEVR's eight colors rather than every color word); filled by the runner for shards
    # with single-image generators (a multi-image-only shard leaves it empty).
    source_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Per-context memo for derived lookups (scenesynth.generators.kit.tables_for).
    cache: dict[str, Any] = field(default_factory=dict)
    # (balance key, expected typed answer) -> False when the shard's answer balancer would
    # reject such a question right now (filled by the runner). A hint only: a generator may
    # skip building a candidate it predicts to be rejected; answers still come from
    # executing the program.
    would_keep: Callable[[str, Any], bool] | None = None
    # template id -> wording id of the bank phrasing its last draw chose (pick_template sets
    # it, finish records it on the question); only filled when the config has wordings.
    wording: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.indexes:
            self.indexes = LazyIndexes(self.graphs)

    @property
    def graph(self) -> SceneGraph:
        return self.graphs[0]

    @property
    def index(self) -> GraphIndex:
        return self.indexes[0]


@dataclass
class Question:
    """A question with its computed answer and the program that proves it."""

    text: str
    answer: Any  # typed: bool, int, str, list[float] for boxes, list[str] for sets
    answer_type: AnswerType
    program: list[ProgramStep]
    template: str
    objects: list[str] = field(default_factory=list)
    relations: list[tuple[str, str, str]] = field(default_factory=list)
    # Wrong answers of the same type, plausible for the scene; multiple choice draws from them.
    distractors: list[Any] = field(default_factory=list)
    # Key of the answer-balancing bucket (defaults to the generator name).
    balance_key: str | None = None
    # The paraphrase-bank wording the text uses (``<template id>#<n>``); None: the template's.
    wording: str | None = None
    # The smallest count the question admits: 1 when it counts something the scene is known
    # to hold ("how many cubes" asked because there is a cube). Count options start there.
    least_count: int = 0


class Generator(ABC):
    spec: ClassVar[GeneratorSpec]

    def applicable(self, graphs: Sequence[SceneGraph]) -> bool:
        """Whether every graph has the fields this generator needs (overridable)."""
        return all(has_needs(g, self.spec.needs) for g in graphs)

    @abstractmethod
    def generate(self, ctx: GenContext) -> Iterator[Question]:
        """Yield candidate questions; answers must be computed from ``ctx.graphs``."""


def has_needs(graph: SceneGraph, needs: frozenset[Need]) -> bool:
    objs = graph.objects
    if not objs:
        return False
    for need in needs:
        if need == Need.ATTRIBUTES:
            ok = any(o.attributes for o in objs)
        elif need == Need.RELATIONS:
            ok = bool(graph.relations)
        elif need == Need.BOXES:
            ok = all(o.box is not None for o in objs)
        elif need == Need.DEPTH:
            ok = all(o.depth is not None for o in objs) or all(
                o.position is not None for o in objs)
        elif need == Need.MASKS:
            ok = all(o.mask is not None for o in objs)
        elif need == Need.POSITIONS_3D:
            ok = all(o.position is not None for o in objs)
        elif need == Need.NAMES:  # every object has one
            ok = True
        else:
            raise ValueError(f"unknown need {need!r}")
        if not ok:
            return False
    return True


# -- registry --------------------------------------------------------------------------------

_REGISTRY: dict[str, type[Generator]] = {}


def register(
    cls: type[Generator], spec: GeneratorSpec | None = None, **params: Any
) -> type[Generator]:
    """Add a generator class to the registry under ``spec.name`` (as a class decorator).

    With ``spec``, register one variant of a parameterised generator: ``cls`` with that spec
    and ``params`` as its class attributes (``register(Extreme, spec, measure="depth",
    largest=False, templates=...)``), so generators that differ only by a parameter are one
    class registered several times."""
    if spec is not None:
        title = "".join(word.capitalize() for word in spec.name.split("_"))
        cls = type(title, (cls,), {"spec": spec, "__module__": cls.__module__,
                                   "__qualname__": title, **params})
    name = cls.spec.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"generator {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def registered() -> dict[str, type[Generator]]:
    return dict(_REGISTRY)
