"""Two marked points: are they on the same object, and which one is closer to the camera.

Points are given in the question as pixel coordinates ``(x, y)``, the convention boxes are given
in (``graph/``: pixels, origin top-left; the point is the pixel in column x, row y). Each point
lies inside exactly one object's visible mask with its 8 neighbours (a point on a mask border
would depend on how a reader rounds), and the program finds the object under it
(``object_at``).

Depth answers read the depth of the object under each point. That equals the rendered depth
map at the point only where a renderer paints each object's depth over its visible mask (the
built-in CPU renderer: see ``render/cpu.py``); a depth estimated from a photo is one value per
object (the median over its mask), not the depth of every pixel, so point-depth questions are
asked only on graphs such a renderer drew.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from mypy_extensions import mypyc_attr

from scenesynth.generators.base import (
    AnswerType,
    GenContext,
    Generator,
    GeneratorSpec,
    Need,
    Question,
    register,
)
from scenesynth.generators.draws import lazy_shuffled
from scenesynth.generators.kit import clearly_different, finish, pick_template, tables
from scenesynth.graph import SceneGraph
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.ops import covers, mask_pixels
from scenesynth.programs.tables import SceneTables

# Renderers whose depth map holds each object's depth over all of its visible pixels.
EXACT_DEPTH_RENDERERS = frozenset({"cpu"})


def exact_depth(graph: SceneGraph) -> bool:
    render = graph.meta.get("render")
    return isinstance(render, dict) and render.get("renderer") in EXACT_DEPTH_RENDERERS


def interior_pixels(t: SceneTables, r: str) -> tuple[Any, Any]:
    """(xs, ys) arrays of the object's mask pixels whose 8 neighbours are in the mask too;
    memoised per graph."""
    key = ("interior_pixels", r)
    memo: tuple[Any, Any] | None = t.memo.get(key)
    if memo is None:
        m = mask_pixels(t, r)
        inner = m[1:-1, 1:-1].copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                inner &= m[dy:dy + m.shape[0] - 2, dx:dx + m.shape[1] - 2]
        ys, xs = inner.nonzero()
        memo = (xs + 1, ys + 1)
        t.memo[key] = memo
    return memo


def draw_point(ctx: GenContext, t: SceneTables, r: str,
               avoid: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """A seeded interior pixel of the object that no other mask covers (and, with ``avoid``,
    at least 4 px from that point, Manhattan)."""
    xs, ys = interior_pixels(t, r)
    if not len(xs):
        return None
    for _ in range(8):
        i = int(ctx.rng.random() * len(xs))
        x, y = int(xs[i]), int(ys[i])
        if avoid is not None and abs(x - avoid[0]) + abs(y - avoid[1]) < 4:
            continue
        if any(covers(t, o, x, y) for o in t.scene if o != r):
            continue
        return x, y
    return None


def point_text(p: tuple[int, int]) -> str:
    return f"({p[0]}, {p[1]})"


# registered with parameters (base.register subclasses it at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class PointSameObject(Generator):
    """"Are the points (x1, y1) and (x2, y2) on the same object?" (yes / no alternate)."""

    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if len(t.scene) < 2:
            return
        want_same = ctx.rng.random() < 0.5
        kept = 0
        for r in lazy_shuffled(ctx.rng, t.scene):
            if kept >= 4:
                return
            if want_same:
                other = r
            else:
                rest = [x for x in t.scene if x != r]
                other = rest[int(ctx.rng.random() * len(rest))]
            p1 = draw_point(ctx, t, r)
            p2 = draw_point(ctx, t, other, avoid=p1) if p1 is not None else None
            if p1 is None or p2 is None:
                continue
            b = ProgramBuilder()
            s = b.add("scene", image=0)
            o1 = b.add("object_at", [s], point=list(p1))
            o2 = b.add("object_at", [s], point=list(p2))
            b.add("equal", [o1, o2])
            tid, tpl = pick_template(ctx, self.templates)
            q = finish(ctx, b, text=tpl.format(p1=point_text(p1), p2=point_text(p2)),
                       template=tid, answer_type=AnswerType.YES_NO,
                       objects=[r] if r == other else [r, other])
            if q is not None:
                kept += 1
                want_same = not want_same
                yield q


# registered with parameters (base.register subclasses it at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class PointDepth(Generator):
    """"Which point is closer to the camera, point 1 (x1, y1) or point 2 (x2, y2)?" -> "point 1"
    or "point 2" (not A / B: multiple-choice options are lettered): the depth
    of the object under each point, asked when the two differ by ``config.compare_margin``."""

    closer: ClassVar[bool]
    other_options: ClassVar[tuple[str, ...]]  # wrong multiple-choice options beside the points
    templates: ClassVar[dict[str, str]]

    def applicable(self, graphs: Sequence[SceneGraph]) -> bool:
        return super().applicable(graphs) and all(exact_depth(g) for g in graphs)

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if not t.all_depth or not exact_depth(t.graph):
            return
        closer = self.closer
        kept = 0
        scene = list(lazy_shuffled(ctx.rng, t.scene))
        for r, other in itertools.pairwise(scene):
            if kept >= 4:
                return
            d1, d2 = t.measure_of(r, "depth"), t.measure_of(other, "depth")
            if not clearly_different(d1, d2, ctx.config.compare_margin):
                continue
            p1 = draw_point(ctx, t, r)
            p2 = draw_point(ctx, t, other)
            if p1 is None or p2 is None:
                continue
            b = ProgramBuilder()
            s = b.add("scene", image=0)
            m: list[Any] = []
            for p in (p1, p2):
                o = b.add("object_at", [s], point=list(p))
                m.append(b.add("measure", [o], measure="depth"))
            wins = b.add("less" if closer else "greater", m)
            b.add("select", [wins], if_true="point 1", if_false="point 2")
            tid, tpl = pick_template(ctx, self.templates)
            q = finish(ctx, b, text=tpl.format(p1=point_text(p1), p2=point_text(p2)),
                       template=tid, answer_type=AnswerType.NAME, objects=[r, other],
                       distractors=["point 1", "point 2", *self.other_options])
            if q is not None:
                kept += 1
                yield q


register(PointSameObject, GeneratorSpec(
    name="point_same_object", family="points", answer_type=AnswerType.YES_NO,
    needs=frozenset({Need.NAMES, Need.MASKS}),
    description="Are two marked points (pixel coordinates) on the same object? (instance "
    "masks; points inside one mask with their 8 neighbours)",
    example="Are the points (120, 85) and (300, 210) on the same object? -> no",
), templates={
    "points_same": "Are the points {p1} and {p2} on the same object?",
    "points_one": "Do the pixels at {p1} and {p2} belong to one and the same object?",
})
for _name, _closer, _word, _level in (("point_closer", True, "closer to", "close"),
                                      ("point_farther", False, "farther from", "far")):
    register(PointDepth, GeneratorSpec(
        name=_name, family="points", answer_type=AnswerType.NAME,
        needs=frozenset({Need.NAMES, Need.MASKS, Need.DEPTH}),
        description=f"Which of two marked points (pixel coordinates) is {_word} the camera? "
        "(depth of the object under each point; rendered graphs, where that is the depth map)",
        example=f"Which point is {_word} the camera, point 1 at (120, 85) or point 2 at (300, "
        "210)? -> point 1",
    ), closer=_closer, other_options=(f"both are equally {_level}",
                                      "neither point lies on an object"), templates={
        f"{_name}_which": f"Which point is {_word} the camera, point 1 at {{p1}} or point 2 at "
        "{p2}?",
        f"{_name}_mark": f"Two points are given: point 1 at {{p1}} and point 2 at {{p2}}. Which "
        "one is "
        f"{_word} the viewer?",
    })
