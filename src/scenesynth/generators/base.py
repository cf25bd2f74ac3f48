"""The generator contract: typed question programs whose answers are computed from the graph.

A generator is one small class. It declares its :class:`GeneratorSpec` (name, family, the
scene-graph fields it needs, whether it is multi-image, an example) and yields
:class:`Question` objects for a :class:`GenContext` (one graph, or a sequence of graphs for
multi-image generators). Each question carries its typed answer, the *program* that computes
that answer (a list of :class:`~scenesynth.graph.sample.ProgramStep`, CLEVR-style), the objects
and relations used, and distractor candidates for multiple choice. Rendering a question as short
answer, multiple choice or yes/no happens afterwards and never changes the answer.

Program operations are the vocabulary in :data:`OPS`. Every op a generator emits must be listed
there with its exact semantics: the independent checker in the tests re-implements each op from
this table and re-executes every stored program against the graph.
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
    # sample beyond this; see single._common.name_pool): large vocabularies stay cheap.
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
    # CLEVR's eight colors rather than every color word); filled by the runner.
    source_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Per-context memo for derived lookups (scenesynth.generators.program.tables_for).
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


def register(cls: type[Generator]) -> type[Generator]:
    """Class decorator adding a generator to the registry under ``spec.name``."""
    name = cls.spec.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"generator {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def registered() -> dict[str, type[Generator]]:
    return dict(_REGISTRY)


# -- program operations ----------------------------------------------------------------------
# Values flowing between steps: an object reference is "<image_index>:<object_id>"; a set is a
# sorted list of such references; scalars are bool / int / float / str.
# Unless stated, ops take ``args["image"]`` (int, default 0) where they touch a graph.

OPS: dict[str, str] = {
    "scene": "args{image}: all objects of graph `image` -> set",
    "filter_name": "args{name}; inputs[set] -> objects whose name equals `name`",
    "filter_attr": "args{value}; inputs[set] -> objects having attribute `value`",
    "unique": "inputs[set] -> the single object; error unless the set has exactly one",
    "relate": (
        "args{predicate, mode}; inputs[obj o] -> set of x with (x predicate o). mode "
        "'annotated' uses graph relations; 'geometry' uses spatial_relation(x, o) is True"
    ),
    "count": "inputs[set] -> int size",
    "count_distinct": (
        "args{iou}; inputs[set] -> int: objects minus those whose box has IoU > iou with an "
        "earlier (in set order) counted object, unless either is marked distinct"
    ),
    "exist": "inputs[set] -> bool non-empty",
    "query_name": "inputs[obj] -> str name",
    "query_attr": "args{kind}; inputs[obj] -> str: the object's single attribute of `kind`",
    "verify_attr": "args{value}; inputs[obj] -> bool",
    "query_box": "inputs[obj] -> [x0, y0, x1, y1] rounded to 1 decimal",
    "spatial": (
        "args{predicate}; inputs[obj a, obj b] -> bool|None spatial_relation(a, b, predicate)"
    ),
    "has_relation": "args{predicate}; inputs[obj a, obj b] -> bool: (a, predicate, b) annotated",
    "equal": "inputs[x, y] -> bool x == y",
    "greater": "inputs[x, y] -> bool x > y",
    "less": "inputs[x, y] -> bool x < y",
    "and": "inputs[bool, bool] -> bool",
    "or": "inputs[bool, bool] -> bool",
    "not": "inputs[bool] -> bool",
    "union": "inputs[set, set] -> set",
    "intersect": "inputs[set, set] -> set",
    # -- added with the single-image generators ------------------------------------------
    "relate_inv": (
        "args{predicate, mode}; inputs[obj o] -> set of y with (o predicate y); modes as in "
        "relate ('geometry': spatial_relation(o, y) is True)"
    ),
    "same_attr": (
        "args{kind}; inputs[obj o] -> set of objects x != o in o's image whose set of `kind` "
        "values equals o's (o must have at least one value of `kind`)"
    ),
    "query_relation": (
        "inputs[obj a, obj b] -> str: the annotated predicate of (a, ?, b); error unless "
        "exactly one distinct predicate is annotated"
    ),
    "measure": (
        "args{measure}; inputs[obj] -> float: 'depth' (SceneObject.depth), 'box_area' (px^2), "
        "'mask_area' (pixels of the RLE mask), 'volume' (size3d x*y*z), 'center_x' / "
        "'center_y' (box centre, px); error when the field is missing"
    ),
    "argmin": "args{measure}; inputs[set] -> the object with the smallest measure; error on "
    "an empty set or a tie",
    "argmax": "args{measure}; inputs[set] -> the object with the largest measure; error on "
    "an empty set or a tie",
    "sort_by": "args{measure}; inputs[set] -> list of the objects by ascending measure; error "
    "on a tie",
    "names_in_order": "inputs[list] -> list[str]: the objects' names in list order",
    "query_names": "inputs[set] -> list[str]: the distinct names of the objects, sorted",
    "select": "args{if_true, if_false}; inputs[bool] -> if_true when True, if_false when "
    "False; error on None",
    "region": (
        "args{margin}; inputs[obj] -> str|None: cell of the box centre in a 3x3 grid of the "
        "image ('top left', 'top', 'top right', 'left', 'center', 'right', 'bottom left', "
        "'bottom', 'bottom right'); None when the centre lies within margin * cell size of an "
        "inner grid line"
    ),
    "filter_box": (
        "args{box, min_iou}; inputs[set] -> objects whose box has IoU >= min_iou with `box` "
        "([x0, y0, x1, y1] px)"
    ),
    "describe_relations": (
        "args{resolvable (bool, default false)}; inputs[set] -> list[str]: for each annotated "
        "relation in graph order whose subject and object are both in the set, 'subject-name "
        "predicate object-name' (duplicates dropped). resolvable: only relations whose "
        "subject name and object name each belong to one object of the image, and whose "
        "predicate, when canonical_spatial maps it, spatial_relation decides True"
    ),
    "describe_objects": (
        "inputs[set] -> list[str]: per object in set order, its distinct attribute values "
        "ordered by kind (size, color, material, shape, state, other; alphabetical within a "
        "kind) leaving out values its name already says (the name itself or one of its "
        "words: 'paper' of a 'paper stack'), then its name, space-joined"
    ),
    # -- added with the multi-image generators (inputs are positional: input i comes from
    # -- image i, so "Image i+1" names the image of input i) ---------------------------------
    "image_argmax": (
        "inputs[x_1, ..., x_k numbers] -> str 'Image i' for the 1-based position i of the "
        "largest input; error on a tie for the largest or fewer than two inputs"
    ),
    "image_argmin": (
        "inputs[x_1, ..., x_k numbers] -> str 'Image i' for the 1-based position i of the "
        "smallest input; error on a tie for the smallest or fewer than two inputs"
    ),
    "image_where": (
        "inputs[b_1, ..., b_k bools] -> str 'Image i' for the 1-based position i of the only "
        "True input; error unless exactly one input is True (None is not True)"
    ),
    "sum": "inputs[x_1, ..., x_k numbers] -> their sum",
    "count_true": "inputs[b_1, ..., b_k] -> int: how many inputs are True",
    "subtract": "inputs[x, y numbers] -> x - y",
    "common_values": (
        "inputs[l_1, ..., l_k lists of str] -> sorted list of the distinct strings present "
        "in every input"
    ),
    "difference_values": (
        "inputs[l_1, l_2, ..., l_k lists of str] -> sorted list of the distinct strings of "
        "l_1 present in none of l_2 ... l_k"
    ),
    "relate_set": (
        "args{predicate, mode}; inputs[set s] -> set: the union of relate(o) (same args) over "
        "every object o in s (empty for an empty s)"
    ),
    "attr_values": (
        "args{kind}; inputs[set] -> sorted list of the distinct attribute values of `kind` "
        "over the objects of the set"
    ),
}
