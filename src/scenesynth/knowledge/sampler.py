"""Seeded sampling of spatial knowledge graphs from the built-in knowledge base.

:func:`sample_kg` draws a scene, k objects of it (repeated names become distinct entities with
distinct colors), their attributes, a consistent set of spatial triplets and absent "negative"
objects, and returns the KG as a box-less :class:`~scenesynth.graph.SceneGraph` (the KG spec is
in the package docstring). Randomness comes from ``random.Random`` seeded through sha256 of the
seed, so a seed gives the same graph in every process (no dependence on PYTHONHASHSEED).
"""

from __future__ import annotations

import random
import re
from collections import Counter

from scenesynth.graph.attribute_rules import compatible
from scenesynth.graph.geometry import (
    ABOVE,
    BEHIND,
    BELOW,
    FAR,
    FRONT,
    LEFT,
    NEAR,
    ON_TOP,
    RIGHT,
)
from scenesynth.graph.model import (
    Attribute,
    ImageInfo,
    RelationSource,
    SceneGraph,
    SceneObject,
)
from scenesynth.graph.seeds import random_from_text
from scenesynth.graph.vocab import AttributeKind
from scenesynth.knowledge.consistency import SpatialConstraints
from scenesynth.knowledge.kb import KnowledgeBase, ObjectSpec

KB_SOURCE = "scenesynth.knowledge"
DEFAULT_CANVAS = (512, 512)
MAX_ABSENT = 5
MAX_STACK_EDGES = 2
# "far from" needs centres half the image diagonal apart: a few per graph keep it solvable.
MAX_FAR = 2

# Probabilities of the sampler's choices (plausible, varied graphs; not tuned to any data).
P_START_WITH_SUPPORT_PAIR = 0.6
P_REPEAT_NAME = 0.15
P_SUPPORTED = 0.7
P_FAR = 0.3
# Relation families proposed for a random pair, with weights.
_FAMILIES = (("x", 0.25), ("z", 0.25), ("y", 0.3), ("distance", 0.2))
# Objects far behind everything else (a wall is behind what stands before it; the sky is
# behind all).
_BACKDROP_PLACEMENTS = ("wall", "sky")
# "A above B" is plausible when A's bottom is higher than B's top by more than this (metres);
# two things on one table are never above each other.
_VERTICAL_GAP = 0.0


def rng_for(seed: int, purpose: str = "kg") -> random.Random:
    """A ``random.Random`` derived from ``seed`` and ``purpose`` via sha256 (stable across
    processes and Python versions)."""
    return random_from_text(f"scenesynth.knowledge:{purpose}:{seed}")


def scene_slug(scene: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", scene.lower()).strip("_")


def kg_image_id(seed: int, scene: str, index: int = 0) -> str:
    """Stable image id of a KG: from its seed, scene and index (for several graphs per seed)."""
    return f"kg-{scene_slug(scene)}-{seed}-{index}"


def sample_kg(
    kb: KnowledgeBase,
    seed: int,
    n_objects: tuple[int, int] = (3, 8),
    canvas: tuple[int, int] = DEFAULT_CANVAS,
    scene: str | None = None,
) -> SceneGraph:
    """Sample one spatial knowledge graph (no boxes yet) deterministically from ``seed``.

    ``n_objects`` is the inclusive (min, max) object count; ``scene`` forces a scene.
    """
    lo, hi = n_objects
    if not 1 <= lo <= hi:
        raise ValueError(f"n_objects must satisfy 1 <= min <= max, got {n_objects}")
    rng = rng_for(seed)
    scene_name = scene if scene is not None else rng.choice(kb.scene_names())
    if scene_name not in kb.scenes:
        raise KeyError(f"unknown scene {scene_name!r}")
    spec = kb.scenes[scene_name]
    k = rng.randint(lo, hi)

    names = _choose_names(kb, scene_name, k, rng)
    objects = _make_objects(kb, names, rng)
    constraints = SpatialConstraints(
        can_support=lambda a, b: kb.can_support(_name_of(objects, a), _name_of(objects, b)),
        widths={o.id: kb.objects[o.name].size[0] for o in objects},
    )
    _add_support(kb, objects, constraints, rng)
    _add_relations(kb, objects, constraints, rng)

    present = {o.name for o in objects}
    # absent means no object of that name nor of an overlapping one ("person" next to a man)
    # drawn or not: an object nothing draws is still truly absent from the image
    candidates = [
        n for n in (spec.listed or spec.objects)
        if n not in present and not kb.overlapping(n) & present
    ]
    absent = sorted(rng.sample(candidates, min(MAX_ABSENT, len(candidates))))

    relations = constraints.relations(RelationSource.ANNOTATED)
    width, height = canvas
    return SceneGraph(
        image=ImageInfo(
            id=kg_image_id(seed, scene_name),
            width=width,
            height=height,
            source=KB_SOURCE,
        ),
        objects=objects,
        relations=relations,
        meta={"scene": scene_name, "absent_objects": absent, "kg_seed": seed},
    )


def _name_of(objects: list[SceneObject], object_id: str) -> str:
    for o in objects:
        if o.id == object_id:
            return o.name
    raise KeyError(object_id)


def _choose_names(kb: KnowledgeBase, scene: str, k: int, rng: random.Random) -> list[str]:
    scene_objects = kb.scenes[scene].objects
    names: list[str] = []
    counts: Counter[str] = Counter()

    def can_add_copy(name: str) -> bool:
        spec = kb.objects[name]
        return spec.can_repeat and counts[name] < len(spec.colors)

    def compatible(name: str) -> bool:
        # never two names for possibly the same thing (a man and a person) in one graph
        return not kb.overlapping(name) & counts.keys()

    if k >= 2 and rng.random() < P_START_WITH_SUPPORT_PAIR:
        pairs = [
            (item, sup)
            for item, sup in kb.support_pairs_in(scene)
            if sup not in kb.overlapping(item)
        ]
        pairs = [(i, s) for i, s in pairs if i != s or can_add_copy(i)]
        if pairs:
            item, sup = rng.choice(pairs)
            for n in (sup, item):
                names.append(n)
                counts[n] += 1
    while len(names) < k:
        repeatable = sorted(n for n in counts if can_add_copy(n))
        unused = [n for n in scene_objects if n not in counts and compatible(n)]
        if repeatable and (not unused or rng.random() < P_REPEAT_NAME):
            name = rng.choice(repeatable)
        elif unused:
            name = rng.choice(unused)
        else:
            break  # scene exhausted: fewer objects rather than indistinguishable copies
        names.append(name)
        counts[name] += 1
    return names


def _make_objects(kb: KnowledgeBase, names: list[str], rng: random.Random) -> list[SceneObject]:
    # Copies of one name get distinct colors, so each stays uniquely describable.
    colors_left: dict[str, list[str]] = {}
    objects: list[SceneObject] = []
    for i, name in enumerate(names):
        spec = kb.objects[name]
        pool = colors_left.setdefault(name, list(spec.colors))
        # a colour wherever the drawing shows one (an untinted emoji of a person shows none)
        color = pool.pop(rng.randrange(len(pool))) if pool else None
        attrs = [Attribute(value=color, kind=AttributeKind.COLOR)] if color else []
        # a material only where the drawing shows it, and never one the colour contradicts
        materials = [m for m in spec.materials if compatible(name, color, m)]
        if materials:
            attrs.append(Attribute(value=rng.choice(materials), kind=AttributeKind.MATERIAL))
        if spec.states:
            attrs.append(Attribute(value=rng.choice(spec.states), kind=AttributeKind.STATE))
        objects.append(
            SceneObject(
                id=f"o{i}",
                name=name,
                attributes=attrs,
                distinct=True,  # every KG entity is its own instance by construction
                meta=_object_meta(spec),
            )
        )
    return objects


def _object_meta(spec: ObjectSpec) -> dict[str, object]:
    meta: dict[str, object] = {"real_size": list(spec.size), "form": spec.form,
                               "placement": spec.placement}
    if spec.depiction is not None:  # the emoji the renderer draws, and its width / height
        meta["depiction"] = spec.depiction
        meta["aspect"] = spec.aspect
    return meta


def _add_support(
    kb: KnowledgeBase,
    objects: list[SceneObject],
    constraints: SpatialConstraints,
    rng: random.Random,
) -> None:
    """Put items on top of supporters the table allows; stacks at most three objects high
    (an apple on a plate on a table) so the layout solver can place them."""
    support = constraints.support

    def depth_below(obj_id: str) -> int:
        n = 0
        while obj_id in support:
            obj_id, n = support[obj_id], n + 1
        return n

    def height_above(obj_id: str) -> int:
        above = [i for i, s in support.items() if s == obj_id]
        return 1 + max(height_above(i) for i in above) if above else 0

    order = list(objects)
    rng.shuffle(order)
    for item in order:
        if rng.random() >= P_SUPPORTED:
            continue
        candidates = [
            o
            for o in objects
            if o.id != item.id
            and kb.can_support(item.name, o.name)
            and depth_below(o.id) + 1 + height_above(item.id) <= MAX_STACK_EDGES
        ]
        if candidates:
            constraints.add(item.id, ON_TOP, rng.choice(candidates).id)  # may not fit: skipped


def _effective_bottom(
    kb: KnowledgeBase, obj: SceneObject, by_id: dict[str, SceneObject], support: dict[str, str]
) -> float | None:
    """Typical height of the object's bottom edge, resting on its support when it has one.

    A tabletop object with no support in the graph may as well lie on the ground (a bottle at
    a picnic), so its height is unknown then.
    """
    sup = support.get(obj.id)
    if sup is not None:
        return _effective_top(kb, by_id[sup], by_id, support)
    spec = kb.objects[obj.name]
    if spec.placement == "surface" and spec.elevation is None:
        return None
    return spec.bottom


def _effective_top(
    kb: KnowledgeBase, obj: SceneObject, by_id: dict[str, SceneObject], support: dict[str, str]
) -> float | None:
    bottom = _effective_bottom(kb, obj, by_id, support)
    return None if bottom is None else bottom + kb.objects[obj.name].size[1]


def _propose(
    kb: KnowledgeBase,
    a: SceneObject,
    b: SceneObject,
    family: str,
    by_id: dict[str, SceneObject],
    constraints: SpatialConstraints,
    rng: random.Random,
) -> tuple[str, str, str] | None:
    """One plausible triplet between a and b for ``family``, or None when none is plausible."""
    support = constraints.support
    supported_pair = support.get(a.id) == b.id or support.get(b.id) == a.id
    pa, pb = kb.objects[a.name].placement, kb.objects[b.name].placement
    if family == "x":
        if supported_pair:
            return None
        return (a.id, rng.choice((LEFT, RIGHT)), b.id)
    if family == "z":
        if supported_pair:
            return None
        # a stacked object stands where its base does (a cup on a wall shelf is at the wall)
        a_base, b_base = by_id[constraints.base(a.id)], by_id[constraints.base(b.id)]
        a_back = kb.objects[a_base.name].placement in _BACKDROP_PLACEMENTS
        b_back = kb.objects[b_base.name].placement in _BACKDROP_PLACEMENTS
        if a_back and b_back:
            return None
        if a_back or b_back:
            back, front = (a, b) if a_back else (b, a)
            return rng.choice(((front.id, FRONT, back.id), (back.id, BEHIND, front.id)))
        return (a.id, rng.choice((FRONT, BEHIND)), b.id)
    if family == "y":
        a_bottom = _effective_bottom(kb, a, by_id, support)
        b_bottom = _effective_bottom(kb, b, by_id, support)
        a_top = _effective_top(kb, a, by_id, support)
        b_top = _effective_top(kb, b, by_id, support)
        if a_bottom is None or b_bottom is None or a_top is None or b_top is None:
            return None
        if a_bottom > b_top + _VERTICAL_GAP:
            upper, lower = a, b
        elif b_bottom > a_top + _VERTICAL_GAP:
            upper, lower = b, a
        else:
            return None
        return rng.choice(((upper.id, ABOVE, lower.id), (lower.id, BELOW, upper.id)))
    # distance
    if "sky" in (pa, pb):
        return None
    if rng.random() < P_FAR:
        n_far = sum(1 for _, p, _ in constraints.triplets if p == FAR)
        stacked = set(support) | set(support.values())
        # a stack is tied together horizontally; keep "far" to free-standing objects
        if n_far >= MAX_FAR or a.id in stacked or b.id in stacked:
            return None
        return (a.id, FAR, b.id)
    return (a.id, NEAR, b.id)


def _add_relations(
    kb: KnowledgeBase,
    objects: list[SceneObject],
    constraints: SpatialConstraints,
    rng: random.Random,
) -> None:
    k = len(objects)
    if k < 2:
        return
    target = len(constraints.triplets) + rng.randint(k - 1, 2 * k)
    by_id = {o.id: o for o in objects}
    families = [f for f, _ in _FAMILIES]
    weights = [w for _, w in _FAMILIES]
    attempts = 0
    while len(constraints.triplets) < target and attempts < 30 * k:
        attempts += 1
        a, b = rng.sample(objects, 2)
        if constraints.related(a.id, b.id) and rng.random() < 0.7:
            continue  # prefer spreading relations over many pairs
        family = rng.choices(families, weights)[0]
        proposal = _propose(kb, a, b, family, by_id, constraints, rng)
        if proposal is not None:
            constraints.add(*proposal)  # inconsistent proposals are simply not added
