"""From a validated scene-graph answer to a spatial KG: what cannot be used is dropped or
repaired from the knowledge base, and each drop or repair is counted by reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from scenesynth.graph.attribute_rules import attribute_conflict
from scenesynth.graph.model import (
    Attribute,
    ImageInfo,
    RelationSource,
    SceneGraph,
    SceneObject,
)
from scenesynth.graph.vocab import COLORS, MATERIALS, STATES, AttributeKind, canonical_value
from scenesynth.knowledge.consistency import SpatialConstraints, kg_predicate
from scenesynth.knowledge.kb import (
    FORMS,
    PLACEMENTS,
    KnowledgeBase,
    ObjectSpec,
    support_problem,
)
from scenesynth.knowledge.llm.prompts import MAX_ABSENT, SceneGraphAnswer
from scenesynth.knowledge.llm.sanity import (
    FormRange,
    form_ranges,
    known_singular,
    known_size_problem,
    name_problem,
    normalize_name,
    size_problem,
)
from scenesynth.knowledge.sampler import scene_slug
from scenesynth.models.llm import LLMStats, ResponseRejected

LLM_SOURCE = "scenesynth.llm"


@dataclass(frozen=True)
class ProposalRules:
    """How strictly a proposal is held to the knowledge base.

    ``k``: objects asked for (more are dropped); ``min_objects``: fewer usable objects reject
    the answer; ``keep_kb_form``: a known object keeps the KB's form and placement.
    """

    k: int
    min_objects: int = 1
    keep_kb_form: bool = True
    kb: KnowledgeBase | None = None
    ranges: dict[str, FormRange] = field(default_factory=dict)

    @classmethod
    def for_kb(cls, kb: KnowledgeBase | None, k: int, min_objects: int = 1,
               keep_kb_form: bool = True) -> ProposalRules:
        return cls(k, min_objects, keep_kb_form, kb, form_ranges(kb) if kb is not None else {})


def _object_meta(size: list[float], form: str, placement: str,
                 drawn: ObjectSpec | None) -> dict[str, object]:
    """Layout hints of a proposed object, plus the knowledge base's drawing of its name when
    it has one (other names keep the renderer's per-form silhouette)."""
    meta: dict[str, object] = {"real_size": size, "form": form, "placement": placement}
    if drawn is not None and drawn.depiction is not None:
        meta["depiction"] = drawn.depiction
        meta["aspect"] = drawn.aspect
    return meta


def _pick(values: list[str], vocab: frozenset[str], taken: set[str] | None = None) -> str | None:
    """The first value (canonical) that is in ``vocab`` and not ``taken``."""
    for raw in values:
        v = canonical_value(raw)
        if v in vocab and (taken is None or v not in taken):
            return v
    return None


def graph_from_answer(
    answer: SceneGraphAnswer,
    *,
    seed: int,
    scene: str,
    canvas: tuple[int, int],
    rules: ProposalRules,
    stats: LLMStats,
    index: int = 0,
) -> SceneGraph:
    """Turn a validated answer into a KG, dropping (and counting) what cannot be used.

    Raises :class:`ResponseRejected` when too few objects survive.
    """
    kb = rules.kb
    objects: list[SceneObject] = []
    id_map: dict[str, str] = {}  # the model's ids and unique names -> our ids
    colors_by_name: dict[str, set[str]] = {}
    name_count: Counter[str] = Counter()
    if len(answer.objects) < rules.k:
        stats.reject("object_count_short", f"{len(answer.objects)} of {rules.k} objects")
    for obj in answer.objects:
        name = normalize_name(obj.name)
        singular = known_singular(name, kb)
        if singular != name:
            stats.repair("object_name_singular", f"{name} -> {singular}")
            name = singular
        problem = name_problem(name, kb)
        if problem is not None:
            stats.reject(f"object_{problem}", repr(obj.name))
            continue
        if len(objects) >= rules.k:
            stats.reject("object_over_limit", name)
            continue
        if obj.id in id_map:
            stats.reject("object_duplicate_id", obj.id)
            continue
        if kb is not None and kb.overlapping(name) & name_count.keys():
            # "person" beside "man": two names for possibly one thing make questions ambiguous
            stats.reject("object_name_overlap", name)
            continue
        spec = kb.objects.get(name) if kb is not None else None
        form = obj.form if obj.form in FORMS else "box"
        placement = obj.placement if obj.placement in PLACEMENTS else "any"
        if form != obj.form:
            stats.reject("object_form_unknown", obj.form)
        if placement != obj.placement:
            stats.reject("object_placement_unknown", obj.placement)
        size = tuple(float(x) for x in obj.size_m)
        if spec is not None:
            bad_size = known_size_problem(size, spec.size)
            if bad_size is not None:
                stats.repair("object_size_implausible", f"{name}: {bad_size}; KB size used")
                size = spec.size
            if rules.keep_kb_form and (form, placement) != (spec.form, spec.placement):
                stats.repair("object_form_from_kb",
                             f"{name}: {form}/{placement} -> {spec.form}/{spec.placement}")
                form, placement = spec.form, spec.placement
        elif form in rules.ranges:
            rng = rules.ranges[form]
            bad_size = size_problem(size, rng.low, rng.high)
            if bad_size is not None:
                stats.reject("object_size_implausible", f"{name} ({form}): {bad_size}")
                continue
        taken = colors_by_name.setdefault(name, set())
        color = _pick(obj.colors, COLORS, taken)
        if color is None:
            fallback = canonical_value(obj.colors[0])
            if taken or not fallback:
                # a copy with no color of its own cannot be told apart from the others
                stats.reject("object_not_distinct", f"{name} {obj.colors}")
                continue
            stats.reject("color_not_in_vocabulary", fallback)
            color = fallback
        taken.add(color)
        material = _pick(obj.materials, MATERIALS)
        state = _pick(obj.states, STATES)
        drawn = spec
        shown_color: str | None = color
        if drawn is not None and drawn.depiction is not None:
            # a name the built-in renderer draws: assert only what its drawing can show
            if not drawn.colors:
                if name_count[name]:  # copies would differ by nothing the image shows
                    stats.reject("object_not_distinct", f"{name}: its drawing has no colour")
                    continue
                shown_color = None  # an emoji of a person: no colour describes it
            if material not in drawn.materials:
                material = None
            if state not in drawn.states:
                state = None
        if material is not None and attribute_conflict(name, shown_color, material) is not None:
            stats.reject("attribute_contradiction", f"{name}: {shown_color} {material}")
            material = None
        attrs = ([Attribute(value=shown_color, kind=AttributeKind.COLOR)] if shown_color
                 else [])
        if material is not None:
            attrs.append(Attribute(value=material, kind=AttributeKind.MATERIAL))
        if state is not None:
            attrs.append(Attribute(value=state, kind=AttributeKind.STATE))
        our_id = f"o{len(objects)}"
        id_map[obj.id] = our_id
        name_count[name] += 1
        objects.append(
            SceneObject(
                id=our_id,
                name=name,
                attributes=attrs,
                distinct=True,  # every KG entity is its own instance by construction
                meta=_object_meta(list(size), form, placement, drawn),
            )
        )
    if not objects:
        raise ResponseRejected("no_usable_objects")
    if len(objects) < rules.min_objects:
        raise ResponseRejected("too_few_objects",
                               f"{len(objects)} usable, at least {rules.min_objects} needed")
    # triplets may also name objects by (unique) name
    for o in objects:
        if name_count[o.name] == 1:
            id_map.setdefault(o.name, o.id)
    by_id = {o.id: o for o in objects}

    def can_support(item_id: str, base_id: str) -> bool:
        item, base = by_id[item_id], by_id[base_id]
        if kb is not None and item.name in kb.objects and base.name in kb.objects:
            return kb.can_support(item.name, base.name)
        problem = support_problem(
            tuple(item.meta["real_size"]),
            item.meta["placement"],
            item.meta["form"],
            tuple(base.meta["real_size"]),
            base.meta["placement"],
        )
        return problem is None

    constraints = SpatialConstraints(
        can_support=can_support, widths={o.id: o.meta["real_size"][0] for o in objects}
    )
    for t in answer.relations:
        subject = id_map.get(t.subject.strip()) or id_map.get(t.subject.strip().lower())
        obj_id = id_map.get(t.object.strip()) or id_map.get(t.object.strip().lower())
        triplet = f"({t.subject}, {t.predicate}, {t.object})"
        if subject is None or obj_id is None:
            stats.reject("triplet_unknown_object", triplet)
            continue
        predicate = kg_predicate(t.predicate)
        if predicate is None:
            stats.reject("triplet_unknown_predicate", triplet)
            continue
        reason = constraints.add(subject, predicate, obj_id)
        if reason is not None:
            stats.reject(f"triplet_{reason}", triplet)

    present = {o.name for o in objects}
    absent: list[str] = []
    for raw in answer.absent_objects:
        n = normalize_name(raw)
        if not n or n in absent:
            continue
        singular = known_singular(n, kb)
        if singular != n:
            stats.repair("absent_object_singular", f"{n} -> {singular}")
            n = singular
        problem = name_problem(n, kb)
        if problem is not None:
            stats.reject("absent_object_not_a_name" if problem == "name_is_id"
                         else f"absent_object_{problem}", repr(raw))
            continue
        if n in present:
            stats.reject("absent_object_present", n)
            continue
        if kb is not None and kb.overlapping(n) & present:
            stats.reject("absent_object_overlaps", n)
            continue
        if n not in absent:
            absent.append(n)
    absent = absent[:MAX_ABSENT]
    if not absent and kb is not None and scene in kb.scenes:
        absent = [
            n for n in kb.scenes[scene].objects
            if n not in present and not kb.overlapping(n) & present
        ][:MAX_ABSENT]

    width, height = canvas
    return SceneGraph(
        image=ImageInfo(
            id=f"llm-{scene_slug(scene)}-{seed}-{index}",
            width=width,
            height=height,
            source=LLM_SOURCE,
        ),
        objects=objects,
        relations=constraints.relations(RelationSource.MODEL),
        meta={"scene": scene, "absent_objects": absent, "kg_seed": seed},
    )
