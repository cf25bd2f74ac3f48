"""Questions a reader answers from the words alone are not asked (issue 18): a wrong attribute
value the object's kind can never have ("Is the person open?"), a reversed non-spatial relation
("Is the plate holding the man?"), and stuff regions (sky, ground, wall) as spatial anchors
("Is the car to the left of the sky?"). Adversarial graphs hold every such temptation."""

from __future__ import annotations

import itertools
import random

import pytest
from checker import Interpreter

import scenesynth.generators  # noqa: F401  (fills the registry)
from scenesynth.generators.base import GenConfig, GenContext, Question, registered
from scenesynth.generators.refer import EXHAUSTIVE_RELATIONS
from scenesynth.graph import (
    Attribute,
    AttributeKind,
    Box,
    ImageInfo,
    Relation,
    SceneGraph,
    SceneObject,
)
from scenesynth.graph.attribute_rules import state_conflict, value_conflict

K = AttributeKind
STUFF = {"sky", "ground", "wall"}


def _obj(i: str, name: str, box: tuple[int, int, int, int], depth: float,
         **attrs: str) -> SceneObject:
    return SceneObject(id=i, name=name, box=Box(x0=box[0], y0=box[1], x1=box[2], y1=box[3]),
                       depth=depth,
                       attributes=[Attribute(value=v, kind=K(k)) for k, v in attrs.items()])


def street() -> SceneGraph:
    """Things in front of stuff that spans the image, people holding things (relations marked
    exhaustive, so a missing relation is a certain "no"), and states only things or only
    people have."""
    objects = [
        _obj("sky", "sky", (0, 0, 640, 140), 50.0, color="blue"),
        _obj("ground", "ground", (0, 300, 640, 480), 8.0, color="gray"),
        _obj("wall", "wall", (380, 60, 640, 330), 20.0, color="white"),
        _obj("man", "man", (60, 170, 130, 400), 5.0, state="standing", color="black"),
        _obj("woman", "woman", (200, 180, 260, 400), 6.0, state="walking", color="red"),
        _obj("plate", "plate", (120, 260, 160, 280), 4.8, color="white"),
        _obj("cup", "cup", (250, 250, 275, 280), 5.8, color="green", material="plastic"),
        _obj("car", "car", (420, 250, 600, 380), 9.0, state="parked", color="yellow"),
        _obj("door", "door", (300, 200, 360, 330), 12.0, state="open", color="brown"),
        _obj("dog", "dog", (150, 350, 210, 420), 4.0, state="sitting", color="brown"),
    ]
    relations = [Relation(subject="man", predicate="holding", object="plate"),
                 Relation(subject="woman", predicate="holding", object="cup"),
                 Relation(subject="man", predicate="wearing", object="cup"),
                 Relation(subject="car", predicate="left of", object="wall"),
                 Relation(subject="man", predicate="below", object="sky"),
                 Relation(subject="dog", predicate="on", object="ground")]
    return SceneGraph(image=ImageInfo(id="street", width=640, height=480, source="vg"),
                      objects=objects, relations=relations,
                      meta={EXHAUSTIVE_RELATIONS: True})


def _run(name: str, graphs: list[SceneGraph], seeds: int = 8) -> list[Question]:
    cls = registered()[name]
    if not cls().applicable(graphs):
        return []
    out: list[Question] = []
    for seed in range(seeds):
        ctx = GenContext(graphs=graphs, rng=random.Random(seed), config=GenConfig())
        out.extend(itertools.islice(cls().generate(ctx), 200))
    return out


SINGLE = sorted(n for n, c in registered().items() if not c.spec.multi_image)


def _objects(value: object) -> set[str]:
    """Object ids in a step output ("0:sky", or a list of them)."""
    items = value if isinstance(value, list) else [value]
    return {v.partition(":")[2] for v in items if isinstance(v, str) and ":" in v}


def _spatial_ends(q: Question) -> set[str]:
    """Objects a question relates by geometry: both ends of every spatial step, and the anchor
    and result of every relate-by-geometry hop."""
    ends: set[str] = set()
    for step in q.program:
        geometric = step.op == "spatial" or (
            step.op in ("relate", "relate_inv") and step.args.get("mode") == "geometry")
        if geometric:
            for i in step.inputs:
                ends |= _objects(q.program[i].output)
            if step.op != "spatial":
                ends |= _objects(step.output)
    return ends


@pytest.mark.parametrize("name", SINGLE)
def test_stuff_is_never_a_spatial_anchor(name: str) -> None:
    graphs = [street()]
    for q in _run(name, graphs):
        stuff = _spatial_ends(q) & STUFF
        assert not stuff, f"{name}: {q.text!r} relates {stuff} by geometry"
        Interpreter(graphs).run(q.program)  # and the checker agrees with the program


def test_things_are_still_related_by_geometry() -> None:
    """The guard drops the stuff, not the spatial questions."""
    texts = [q.text for n in ("spatial_verify", "spatial_choice") for q in _run(n, [street()])]
    assert len(texts) > 20
    assert not [t for t in texts if {"sky", "ground", "wall"} & set(t.lower().split())]


def test_relation_negatives_keep_the_subject() -> None:
    """'Is the plate holding the man?' never; 'Is the man holding the cup?' (the woman holds
    it; the man's relations are exhaustive) is the negative."""
    graph = street()
    subjects = {(r.subject, r.predicate) for r in graph.relations}
    questions = _run("relation_verify", [graph], seeds=20)
    negatives = [q for q in questions if q.answer is False]
    assert negatives and [q for q in questions if q.answer is True]
    for q in questions:
        step = next(s for s in q.program if s.op in ("has_relation", "spatial"))
        if step.op != "has_relation":
            continue
        subject = _objects(q.program[step.inputs[0]].output)
        assert {(s, step.args["predicate"]) for s in subject} <= subjects, q.text
    texts = {q.text for q in negatives}
    assert not [t for t in texts if t.startswith(("Is the plate", "Is the cup"))]
    assert any("man holding the cup" in t for t in texts), texts


def test_wrong_states_are_ones_the_kind_can_have() -> None:
    """'Is the man open?', 'Is the car walking?': never; the negatives that remain are states
    the object could be in."""
    graph = street()
    names = {o.id: o.name for o in graph.objects}
    questions = _run("verify_attribute", [graph], seeds=30)
    checked = 0
    for q in questions:
        step = next(s for s in q.program if s.op == "verify_attr")
        (obj,) = _objects(q.program[step.inputs[0]].output)
        value = str(step.args["value"])
        assert state_conflict(names[obj], value) is None, q.text
        checked += value in {"open", "parked", "walking", "sitting", "standing"}
    assert checked


@pytest.mark.parametrize(("name", "kind", "value", "conflict"), [
    ("man", "state", "open", True), ("young woman", "state", "parked", True),
    ("car", "state", "walking", True), ("dog", "state", "sitting", False),
    ("door", "state", "open", False), ("wine glass", "material", "wood", True),
    ("ladder", "color", "silver", False),
])
def test_value_conflict(name: str, kind: str, value: str, conflict: bool) -> None:
    assert (value_conflict(name, kind, value, material="metal") is not None) is conflict
