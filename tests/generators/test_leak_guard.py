"""The leak guard: a question's references never say the attribute kind it asks about or
compares (a CLEVR name is its shape, so "Is the sphere the same shape as the small cyan
cylinder?" answers itself). Adversarial scenes: names that say a kind (CLEVR shapes, a
"paper stack"), and rivals that force references to use every other kind."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest
from checker import Interpreter

import scenesynth.generators  # noqa: F401  (fills the registry)
from scenesynth.generators.base import GenConfig, GenContext, Question, registered
from scenesynth.graph import Attribute, AttributeKind, Box, ImageInfo, SceneGraph, SceneObject
from scenesynth.graph.vocab import names_value
from scenesynth.sources import load

K = AttributeKind


def _obj(i: int, name: str, **attrs: str) -> SceneObject:
    values = [Attribute(value=v, kind=K(k)) for k, v in attrs.items()]
    x = 30 + 55 * i
    return SceneObject(id=str(i), name=name, attributes=values, depth=4.0 + i,
                       box=Box(x0=x, y0=120 + 7 * (i % 3), x1=x + 40, y1=170 + 7 * (i % 3)))


def clevr_like(image: str, shift: int = 0) -> SceneGraph:
    """Every name is its shape; same-named rivals differ by one other kind at a time."""
    spec = [("cube", "red", "large", "metal"), ("cube", "red", "small", "rubber"),
            ("sphere", "red", "small", "metal"), ("sphere", "cyan", "small", "metal"),
            ("cylinder", "cyan", "large", "rubber"), ("cylinder", "gray", "large", "rubber"),
            ("cube", "gray", "small", "metal")]
    spec = spec[shift:] + spec[:shift]
    objects = [_obj(i, n, shape=n, color=c, size=s, material=m)
               for i, (n, c, s, m) in enumerate(spec)]
    return SceneGraph(image=ImageInfo(id=image, width=480, height=320, source="clevr"),
                      objects=objects)


def named_material() -> SceneGraph:
    """A "paper stack" says its material; a plain "stack" does not."""
    objects = [_obj(0, "paper stack", material="paper", color="white"),
               _obj(1, "paper stack", material="paper", color="brown"),
               _obj(2, "stack", material="wood", color="brown"),
               _obj(3, "stack", material="paper", color="white"),
               _obj(4, "cup", material="paper", color="white"),
               _obj(5, "cup", material="glass", color="white")]
    return SceneGraph(image=ImageInfo(id="stacks", width=480, height=320, source="vg"),
                      objects=objects)


def _kind_of(graphs: list[SceneGraph]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for g in graphs:
        for o in g.objects:
            for a in o.attributes:
                kinds.setdefault(a.value, set()).add(str(a.kind))
    return kinds


def _name_kinds(graphs: list[SceneGraph]) -> dict[str, set[str]]:
    said: dict[str, set[str]] = {}
    for g in graphs:
        for o in g.objects:
            said.setdefault(o.name, set()).update(
                str(a.kind) for a in o.attributes if names_value(o.name, a.value))
    return said


def asked_kinds(q: Question, value_kinds: dict[str, set[str]]) -> set[str]:
    """Kinds the question asks about or compares."""
    asked: set[str] = set()
    for s in q.program:
        if s.op in ("query_attr", "same_attr", "attr_values") and "kind" in s.args:
            asked.add(str(s.args["kind"]))
        elif s.op == "verify_attr":
            asked |= value_kinds.get(str(s.args["value"]), set())
    return asked


def said_kinds(q: Question, value_kinds: dict[str, set[str]],
               name_kinds: dict[str, set[str]]) -> set[str]:
    """Kinds the question's references say: attribute filters and names that say one."""
    said: set[str] = set()
    for s in q.program:
        if s.op == "filter_attr":
            said |= value_kinds.get(str(s.args["value"]), set())
        elif s.op == "filter_name":
            said |= name_kinds.get(str(s.args["name"]), set())
    return said


def _run(name: str, graphs: list[SceneGraph], seeds: int = 6) -> list[Question]:
    cls = registered()[name]
    if not cls().applicable(graphs):
        return []
    out: list[Question] = []
    for seed in range(seeds):
        ctx = GenContext(graphs=graphs, rng=random.Random(seed), config=GenConfig())
        out.extend(itertools.islice(cls().generate(ctx), 200))
    return out


SINGLE = sorted(n for n, c in registered().items() if not c.spec.multi_image)
MULTI = sorted(n for n, c in registered().items() if c.spec.multi_image)


@pytest.mark.parametrize("scene", ["clevr", "stacks"])
@pytest.mark.parametrize("name", SINGLE)
def test_single_references_never_say_the_asked_kind(name: str, scene: str) -> None:
    graphs = [clevr_like("a") if scene == "clevr" else named_material()]
    value_kinds, name_kinds = _kind_of(graphs), _name_kinds(graphs)
    for q in _run(name, graphs):
        leaked = asked_kinds(q, value_kinds) & said_kinds(q, value_kinds, name_kinds)
        assert not leaked, f"{name}: {q.text!r} says the {leaked} it asks about"
        Interpreter(graphs).run(q.program)  # the checker agrees with the stored program


@pytest.mark.parametrize("name", MULTI)
def test_multi_references_never_say_the_asked_kind(name: str) -> None:
    graphs = [clevr_like("a"), clevr_like("b", shift=3)]
    value_kinds, name_kinds = _kind_of(graphs), _name_kinds(graphs)
    for q in _run(name, graphs, seeds=3):
        leaked = asked_kinds(q, value_kinds) & said_kinds(q, value_kinds, name_kinds)
        assert not leaked, f"{name}: {q.text!r} says the {leaked} it asks about"


def test_same_shape_is_not_asked_of_clevr_names() -> None:
    """Before the guard: 'Do the small red sphere and the small brown cube have the same
    shape?' (always no). Colour, size and material comparisons remain."""
    graphs = [clevr_like("a")]
    texts = [q.text for n in ("same_attribute", "count_same_attribute")
             for q in _run(n, graphs)]
    assert texts
    assert not [t for t in texts if "same shape" in t]
    assert {k for k in ("color", "size", "material") if any(k in t for t in texts)} == {
        "color", "size", "material"}


CLEVR_WORDS = {
    "shape": {"cube", "sphere", "cylinder", "cubes", "spheres", "cylinders"},
    "color": {"gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"},
    "size": {"small", "large"}, "material": {"rubber", "metal"},
}


def test_no_same_kind_question_says_its_kind_on_shared_clevr(shared_data: Path) -> None:
    """The exported wording on real CLEVR scenes: a 'same <kind>' question names no value
    of that kind."""
    graphs = list(itertools.islice(
        load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"), 40))
    seen = 0
    for g in graphs:
        for n in ("same_attribute", "count_same_attribute"):
            for q in _run(n, [g], seeds=1):
                m = re.search(r"same (shape|color|size|material)", q.text)
                assert m, q.text
                seen += 1
                words = set(re.findall(r"[a-z]+", q.text.lower()))
                assert not words & CLEVR_WORDS[m.group(1)], q.text
    assert seen > 100
