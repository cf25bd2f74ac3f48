"""Layout solver: a spatial knowledge graph (objects without boxes) -> boxes and depths.

Method (seeded sampling + exact repair):

1. **Static checks** find contradictions that no layout can fix and report their triplets:
   order cycles per axis (x: left/right; y: above/below and on-top-of; depth: front/behind),
   ``near`` and ``far`` on one pair, a ``far`` pair joined by a path of two ``near`` pairs
   (the triangle inequality forbids it), an object stacked on two supports, self relations.
2. **Depth**: ``log(depth)`` turns "a in front of b" into a difference constraint, so depths are
   solved exactly (see :mod:`scenesynth.layout.constraints`) from preferences drawn per
   placement (wall objects at the back, sky objects far away). A stacked object gets its
   support's depth, slightly nearer, so it is drawn over the support.
3. **Sizes** follow perspective: ``pixels = focal * real_size**gamma / depth``. ``gamma < 1``
   compresses the 200:1 range between a spoon and a bus so small objects stay visible while
   the size order is kept; farther objects are smaller. A box takes the proportions of the
   object's drawing (``meta["aspect"]``, width / height) at the same area, so the renderer
   does not squash its sprite.
4. **Positions**: every rule along x and along y is a difference constraint once sizes are
   fixed (order with a margin, on-top-of contact band and horizontal overlap, canvas bounds,
   ``near`` as a box around the partner, ``far`` once a direction is drawn). Preferences put
   floor/ground objects on the floor line given by perspective, sky/ceiling objects high and
   wall objects on the wall.
5. **Visibility**: each object's box area left uncovered by nearer boxes must stay at least
   ``min_visible_fraction``; an offender gets a separation constraint from its worst occluder
   and the axes are solved again.
6. **Check**: every relation is re-decided with :func:`scenesynth.graph.spatial_relation` under
   the configured rules (margins plus slack, so a one-pixel change in the rendered mask cannot
   flip it). Failed attempts are retried with fresh draws; if none succeeds the result carries
   the conflicting triplets instead of a graph.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from scenesynth.graph import (
    DEFAULT_RULES,
    Box,
    SceneGraph,
    SceneObject,
    SpatialRules,
    canonical_spatial,
    spatial_relation,
)
from scenesynth.graph.seeds import random_from_text
from scenesynth.layout.constraints import DifferenceSystem, Solution, solve

Triplet = tuple[str, str, str]

FORMS = ("box", "round", "tall", "flat", "long", "person", "animal", "plant", "vehicle",
         "container")
PLACEMENTS = ("floor", "surface", "wall", "ceiling", "sky", "ground", "any")

# Used only when a KG omits meta["real_size"]: a rough size per drawing form, metres (w, h, d).
DEFAULT_SIZE_BY_FORM: dict[str, tuple[float, float, float]] = {
    "box": (0.5, 0.5, 0.5), "round": (0.3, 0.3, 0.3), "tall": (0.4, 1.2, 0.4),
    "flat": (1.0, 0.6, 0.6), "long": (1.6, 0.5, 0.5), "person": (0.5, 1.7, 0.3),
    "animal": (0.9, 0.7, 0.3), "plant": (0.6, 1.0, 0.6), "vehicle": (4.2, 1.5, 1.8),
    "container": (0.3, 0.3, 0.3),
}

OUTDOOR_WORDS = frozenset("""
    street beach park farm garden yard road field forest lake river mountain mountains harbor
    harbour port airport parking camp campsite campground playground zoo market city
    village desert snow ski highway bridge square stadium court pool backyard orchard picnic
    dock marina pier trail outdoor outdoors sea ocean meadow construction golf site lot
    crosswalk intersection sidewalk plaza vineyard pasture ranch canyon coast shore waterfall
    glacier savanna jungle swamp countryside driveway patio porch rooftop cemetery track
    course racetrack skatepark stop fairground carnival festival balcony alley junkyard pond
    rainforest farmyard deck boat truck pump
""".split())
INDOOR_WORDS = frozenset("""
    room kitchen office bathroom bedroom shop store supermarket restaurant cafe cafeteria
    library classroom gym garage attic basement hall studio clinic hospital museum lobby hotel
    bakery bar pub salon warehouse factory laboratory lab church theater theatre cinema mall
    pharmacy nursery kindergarten closet pantry cellar workshop corridor hallway lounge
    indoor indoors arcade boutique barbershop bookstore diner pizzeria laundromat laundry
    aquarium auditorium chapel dormitory cabin greenhouse gallery mailroom locker elevator
    subway shed terminal interior
""".split())


class LayoutInputError(ValueError):
    """A KG that cannot be laid out because a field is malformed (names image, object, field)."""


@dataclass(frozen=True)
class Conflict:
    """Relations that cannot hold together (as written in the KG), and why."""

    reason: str
    triplets: tuple[Triplet, ...]

    def __str__(self) -> str:
        rels = "; ".join(f"({s}, {p}, {o})" for s, p, o in self.triplets)
        return f"{self.reason}: {rels}" if rels else self.reason


@dataclass
class LayoutResult:
    """Either ``graph`` (the KG with boxes and depths) or the ``conflicts`` that prevent it."""

    graph: SceneGraph | None
    conflicts: list[Conflict] = field(default_factory=list)
    attempts: int = 0
    unconstrained: list[Triplet] = field(default_factory=list)  # non-spatial, left as is

    @property
    def ok(self) -> bool:
        return self.graph is not None


@dataclass(frozen=True)
class LayoutConfig:
    rules: SpatialRules = DEFAULT_RULES
    # Extra margins beyond the rules' own, so rendering noise cannot flip a decided relation.
    order_slack: float = 0.025  # fraction of the image side, added to lr/ab margins
    depth_slack: float = 0.01  # added to the relative depth margin (depth is never re-measured)
    near_shrink: float = 0.8  # near pairs are placed within this share of the near radius
    far_stretch: float = 1.08  # far pairs are placed beyond this multiple of the far radius
    on_band: tuple[float, float] = (0.02, 0.12)  # stacked bottom edge below support top, x h
    on_band_wide: tuple[float, float] = (-0.05, 0.2)  # used from the fifth attempt on
    # share of the slacks above kept at each attempt (the last value repeats)
    relax_schedule: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.6, 0.6, 0.6, 0.6, 0.3)
    placement_attempts: int = 8  # attempts that also bound wall/ceiling objects' height
    on_overlap: float = 0.75  # horizontal overlap of a stacked object with its support
    min_visible_fraction: float = 0.5  # box area left after occlusion by nearer boxes
    size_gamma: float = 0.6  # pixels ~ real_size**gamma / depth
    largest_object_fraction: tuple[float, float] = (0.32, 0.5)  # of the canvas side
    min_object_px: float = 14.0
    max_attempts: int = 16
    repair_rounds: int = 6
    visibility_grid: int = 1  # pixels per occupancy cell when measuring occlusion


# -- normalised constraints --------------------------------------------------------------------


@dataclass(frozen=True)
class _Rel:
    kind: str  # left | above | front | on | inside | near | far
    a: int
    b: int
    tag: Triplet


@dataclass
class _Problem:
    graph: SceneGraph
    ids: list[str]
    forms: list[str]
    placements: list[str]
    real: list[tuple[float, float, float]]
    rels: list[_Rel]
    unconstrained: list[Triplet]
    outdoor: bool
    # width / height of each object's drawing (meta["aspect"]), None when it has none
    aspects: list[float | None] = field(default_factory=list)
    # order[axis][a][b]: a precedes b (left of / above), directly or transitively
    order: dict[str, list[list[bool]]] = field(default_factory=dict)


_KIND_OF = {
    "left of": ("left", False), "right of": ("left", True),
    "above": ("above", False), "below": ("above", True),
    "in front of": ("front", False), "behind": ("front", True),
    "on top of": ("on", False), "under": ("on", True),
    "inside": ("inside", False), "contains": ("inside", True),
    "near": ("near", False), "far from": ("far", False),
}


def _real_size(graph: SceneGraph, index: int, obj: SceneObject, form: str) -> tuple[float, ...]:
    raw = obj.meta.get("real_size")
    if raw is None:
        return DEFAULT_SIZE_BY_FORM.get(form, DEFAULT_SIZE_BY_FORM["box"])
    where = f"image {graph.image.id!r}: objects[{index}] ({obj.id!r}).meta.real_size"
    if not isinstance(raw, list | tuple) or len(raw) != 3:
        raise LayoutInputError(f"{where}: expected [width_m, height_m, depth_m], got {raw!r}")
    try:
        size = tuple(float(v) for v in raw)
    except (TypeError, ValueError) as exc:
        raise LayoutInputError(f"{where}: non-numeric value in {raw!r}") from exc
    if not all(math.isfinite(v) and v > 0 for v in size):
        raise LayoutInputError(f"{where}: sizes must be positive finite metres, got {raw!r}")
    return size


def is_outdoor(graph: SceneGraph) -> bool:
    """Indoor or outdoor backdrop: ``meta["setting"]``, else the scene name's head word (read
    from the end: "parking garage" is a garage, "school yard" a yard), else placements."""
    setting = graph.meta.get("setting")
    if setting in ("indoor", "outdoor"):
        return bool(setting == "outdoor")
    words = str(graph.meta.get("scene", "")).lower().replace("_", " ").replace("-", " ").split()
    if "indoor" in words or "outdoor" in words:
        return "outdoor" in words
    for word in reversed(words):
        if word in INDOOR_WORDS:
            return False
        if word in OUTDOOR_WORDS:
            return True
    placements = {o.meta.get("placement") for o in graph.objects}
    if "sky" in placements:
        return True
    if placements & {"wall", "ceiling"}:
        return False
    return "ground" in placements and "floor" not in placements


def _aspect(graph: SceneGraph, index: int, obj: SceneObject) -> float | None:
    raw = obj.meta.get("aspect")
    if raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.05 < value < 20.0:
        raise LayoutInputError(f"image {graph.image.id!r}: objects[{index}] ({obj.id!r})"
                               f".meta.aspect: expected a width/height ratio, got {raw!r}")
    return value


def _prepare(graph: SceneGraph) -> _Problem:
    ids = [o.id for o in graph.objects]
    index = {oid: k for k, oid in enumerate(ids)}
    forms, placements, real = [], [], []
    for k, obj in enumerate(graph.objects):
        form = str(obj.meta.get("form", "box"))
        placement = str(obj.meta.get("placement", "any"))
        if form not in FORMS:
            raise LayoutInputError(
                f"image {graph.image.id!r}: objects[{k}] ({obj.id!r}).meta.form: unknown form "
                f"{form!r}; expected one of {', '.join(FORMS)}"
            )
        if placement not in PLACEMENTS:
            raise LayoutInputError(
                f"image {graph.image.id!r}: objects[{k}] ({obj.id!r}).meta.placement: unknown "
                f"placement {placement!r}; expected one of {', '.join(PLACEMENTS)}"
            )
        forms.append(form)
        placements.append(placement)
        real.append(_real_size(graph, k, obj, form))
    rels: list[_Rel] = []
    unconstrained: list[Triplet] = []
    for rel in graph.relations:
        canon = canonical_spatial(rel.predicate)
        tag = rel.triplet()
        if canon is None or canon not in _KIND_OF:
            unconstrained.append(tag)
            continue
        kind, swap = _KIND_OF[canon]
        a, b = index[rel.subject], index[rel.object]
        rels.append(_Rel(kind, b, a, tag) if swap else _Rel(kind, a, b, tag))
    problem = _Problem(graph, ids, forms, placements, real, rels,  # type: ignore[arg-type]
                       unconstrained, is_outdoor(graph),
                       [_aspect(graph, k, o) for k, o in enumerate(graph.objects)])
    n = len(ids)
    for axis, kinds in (("x", ("left",)), ("y", ("above", "on"))):
        reach = [[False] * n for _ in range(n)]
        for r in rels:
            if r.kind in kinds and r.a != r.b:
                reach[r.a][r.b] = True
        for k in range(n):  # transitive closure (graphs are small)
            for i in range(n):
                if reach[i][k]:
                    row_k, row_i = reach[k], reach[i]
                    for j in range(n):
                        if row_k[j]:
                            row_i[j] = True
        problem.order[axis] = reach
    return problem


# -- static contradiction checks ---------------------------------------------------------------


def _find_cycle(n: int, edges: list[tuple[int, int, Triplet]]) -> list[Triplet] | None:
    adj: dict[int, list[tuple[int, Triplet]]] = defaultdict(list)
    for a, b, tag in edges:
        adj[a].append((b, tag))
    state = [0] * n  # 0 new, 1 on stack, 2 done
    stack_edges: list[Triplet] = []
    stack_nodes: list[int] = []

    def visit(u: int) -> list[Triplet] | None:
        state[u] = 1
        stack_nodes.append(u)
        for v, tag in adj[u]:
            if state[v] == 1:
                start = stack_nodes.index(v)
                return [*stack_edges[start:], tag]
            if state[v] == 0:
                stack_edges.append(tag)
                found = visit(v)
                if found is not None:
                    return found
                stack_edges.pop()
        stack_nodes.pop()
        state[u] = 2
        return None

    for u in range(n):
        if state[u] == 0:
            found = visit(u)
            if found is not None:
                return found
    return None


def static_conflicts(problem: _Problem) -> list[Conflict]:
    """Contradictions visible from the relations alone (no geometry needed)."""
    n = len(problem.ids)
    out: list[Conflict] = []
    for r in problem.rels:
        if r.a == r.b:
            out.append(Conflict("an object cannot be related to itself", (r.tag,)))
    axis_edges: dict[str, list[tuple[int, int, Triplet]]] = {"x": [], "y": [], "depth": []}
    for r in problem.rels:
        if r.a == r.b:
            continue
        if r.kind == "left":
            axis_edges["x"].append((r.a, r.b, r.tag))
        elif r.kind in ("above", "on"):
            axis_edges["y"].append((r.a, r.b, r.tag))
        elif r.kind == "front":
            axis_edges["depth"].append((r.a, r.b, r.tag))
    axis_names = {"x": "left/right", "y": "above/below/on top of", "depth": "in front of/behind"}
    for axis, edges in axis_edges.items():
        cycle = _find_cycle(n, edges)
        if cycle is not None:
            out.append(Conflict(f"cyclic {axis_names[axis]} order", tuple(cycle)))
    pair_kind: dict[tuple[int, int], dict[str, Triplet]] = defaultdict(dict)
    near_adj: dict[int, list[tuple[int, Triplet]]] = defaultdict(list)
    for r in problem.rels:
        if r.kind in ("near", "far"):
            pair_kind[(min(r.a, r.b), max(r.a, r.b))][r.kind] = r.tag
        if r.kind == "near":
            near_adj[r.a].append((r.b, r.tag))
            near_adj[r.b].append((r.a, r.tag))
    for kinds in pair_kind.values():
        if "near" in kinds and "far" in kinds:
            out.append(Conflict("a pair cannot be both near and far", (kinds["near"],
                                                                        kinds["far"])))
    for (a, b), kinds in pair_kind.items():
        if "far" not in kinds or "near" in kinds:
            continue
        for mid, tag_a in near_adj[a]:
            tag_b = next((t for v, t in near_adj[mid] if v == b), None)
            if tag_b is not None:
                out.append(Conflict(
                    "two near pairs bound the distance below the far threshold",
                    (tag_a, tag_b, kinds["far"]),
                ))
                break
    supports: dict[int, list[Triplet]] = defaultdict(list)
    for r in problem.rels:
        if r.kind == "on":
            supports[r.a].append(r.tag)
    for tags in supports.values():
        if len(tags) > 1:
            out.append(Conflict("an object cannot rest on top of two supports", tuple(tags)))
    return out


# -- the solver -------------------------------------------------------------------------------


DEPTH_CONFLICT = ("in front of/behind order cannot be satisfied (a stacked object stays within "
                  "its support's depth)")


def _triplets(tags: list[object]) -> tuple[Triplet, ...]:
    out: list[Triplet] = []
    for tag in tags:
        if (isinstance(tag, tuple) and len(tag) == 3 and all(isinstance(t, str) for t in tag)
                and tag not in out):
            out.append(tag)
    return tuple(out)


def _attempt_rng(seed: int, image_id: str, attempt: int) -> random.Random:
    return random_from_text(f"layout:{seed}:{image_id}:{attempt}")


@dataclass
class _Attempt:
    boxes: list[Box] | None = None
    depths: list[float] | None = None
    cycle: list[object] = field(default_factory=list)
    reason: str = ""
    meta: dict[str, float | str] = field(default_factory=dict)


class LayoutSolver:
    def __init__(self, config: LayoutConfig | None = None) -> None:
        self.config = config or LayoutConfig()

    def solve(self, kg: SceneGraph, seed: int) -> LayoutResult:
        if not kg.objects:  # nothing to place: the graph is its own layout
            return LayoutResult(kg, [], 0)
        problem = _prepare(kg)
        static = static_conflicts(problem)
        if static:
            return LayoutResult(None, static, 0, problem.unconstrained)
        last = _Attempt()
        cycle_counts: dict[Triplet, int] = defaultdict(int)
        reasons: Counter[str] = Counter()
        for attempt in range(self.config.max_attempts):
            rng = _attempt_rng(seed, kg.image.id, attempt)
            # Later attempts rescale objects: smaller loosens packing, larger gives supports
            # room for what stands on them; alternate between the two.
            shrink = 0.88 ** (attempt // 2) if attempt % 2 == 0 else 1.12 ** ((attempt + 1) // 2)
            last = self._attempt(problem, rng, shrink, attempt)
            if last.boxes is not None and last.depths is not None:
                return LayoutResult(self._emit(problem, last, seed, attempt + 1), [],
                                    attempt + 1, problem.unconstrained)
            if last.reason == DEPTH_CONFLICT:  # depth feasibility does not depend on draws
                return LayoutResult(None, [Conflict(last.reason, _triplets(last.cycle))],
                                    attempt + 1, problem.unconstrained)
            for tag in _triplets(last.cycle):
                cycle_counts[tag] += 1
            reasons[last.reason or "no layout found"] += 1
        triplets = tuple(sorted(cycle_counts, key=lambda t: (-cycle_counts[t], t)))
        reason = (f"no layout found in {self.config.max_attempts} attempts (most often: "
                  f"{reasons.most_common(1)[0][0]})")
        return LayoutResult(None, [Conflict(reason, triplets)], self.config.max_attempts,
                            problem.unconstrained)

    # -- one attempt -----------------------------------------------------------------------
    def _attempt(
        self, p: _Problem, rng: random.Random, shrink: float, attempt: int = 0
    ) -> _Attempt:
        cfg = self.config
        width, height = p.graph.image.width, p.graph.image.height
        n = len(p.ids)
        depths, depth_cycle = self._depths(p, rng)
        if depths is None:
            return _Attempt(reason=DEPTH_CONFLICT, cycle=depth_cycle)
        sizes = self._sizes(p, depths, rng, shrink)
        # later attempts let a stacked object sit anywhere in more of the support's top band
        band = cfg.on_band if attempt < 4 else cfg.on_band_wide
        # and the slack beyond the rules' margins shrinks (the render check still guards)
        step = cfg.relax_schedule[min(attempt, len(cfg.relax_schedule) - 1)]
        eff = replace(
            cfg, order_slack=cfg.order_slack * step,
            on_overlap=cfg.rules.on_overlap + (cfg.on_overlap - cfg.rules.on_overlap) * step,
            near_shrink=1.0 - (1.0 - cfg.near_shrink) * step,
            far_stretch=1.0 + (cfg.far_stretch - 1.0) * step,
        )
        horizon = height * (rng.uniform(0.36, 0.5) if p.outdoor else rng.uniform(0.32, 0.45))
        floor_ref = min(depths) * 0.92
        pref_x = [rng.uniform(w / 2, width - w / 2) if w < width else width / 2
                  for w, _ in sizes]
        pref_y = [self._preferred_y(p, k, depths[k], sizes[k][1], horizon, floor_ref, rng)
                  for k in range(n)]
        placed = self._placement_bounds(p, sizes, horizon)
        if attempt >= cfg.placement_attempts:
            # later attempts relax where wall and ceiling objects hang, never whether an
            # object stands on the ground or flies in the sky (a hat does not float)
            placed = {k: b for k, b in placed.items()
                      if p.placements[k] in ("floor", "ground", "surface", "sky")}
        far_rels = [r for r in p.rels if r.kind == "far"]
        guide_x, guide_y = pref_x, pref_y
        if far_rels:
            # Which side of each other far pairs go: read off a solve without them, which
            # already respects every order and near pair.
            free_x = self._axis(p, "x", sizes, width, pref_x, {}, [], config=eff)
            free_y = self._axis(p, "y", sizes, height, pref_y, {}, [], band, config=eff,
                                depths=depths, placement_bounds=placed)
            if free_x.values is not None and free_y.values is not None:
                guide_x, guide_y = free_x.values, free_y.values
        far_choice = {
            (r.a, r.b): self._far_direction(p, r, guide_x, guide_y, rng) for r in far_rels
        }
        separations: list[tuple[int, int, str, int]] = []  # (occluded, occluder, axis, sign)
        xs = self._axis(p, "x", sizes, width, pref_x, far_choice, separations,
                        config=eff)
        if xs.values is None:
            return _Attempt(reason="no horizontal arrangement satisfies these relations",
                            cycle=xs.cycle)
        ys = self._axis(p, "y", sizes, height, pref_y, far_choice, separations, band,
                        config=eff, depths=depths, placement_bounds=placed)
        if ys.values is None:
            return _Attempt(reason="no vertical arrangement satisfies these relations",
                            cycle=ys.cycle)
        for _ in range(cfg.repair_rounds + 1):
            assert xs.values is not None and ys.values is not None
            boxes = [
                Box.from_cxcywh(xs.values[k], ys.values[k], sizes[k][0], sizes[k][1]).clip(
                    width, height)
                for k in range(n)
            ]
            occluded, visible_boxes = self._occlusion(boxes, depths, width, height)
            if occluded is None:
                # Relations must hold on the full boxes (with slack) and on what stays visible
                # behind nearer objects, since the renderer re-measures boxes from visible masks.
                failed = self._check(p, boxes, depths, config=eff) or self._check(
                    p, visible_boxes, depths, strict=False)
                if failed:
                    return _Attempt(reason="relations not decided after solving", cycle=failed)
                return _Attempt(boxes, depths, meta={
                    "setting": "outdoor" if p.outdoor else "indoor",
                    "horizon": round(horizon, 3),
                    "floor_ref_depth": round(floor_ref, 4),
                })
            # Try separating the pair along each axis/side, most natural first; keep the first
            # that still satisfies every relation.
            for sep in self._separations(boxes, *occluded):
                if sep in separations:
                    continue
                trial = [*separations, sep]
                if sep[2] == "x":
                    new_x = self._axis(p, "x", sizes, width, pref_x, far_choice, trial,
                                            config=eff)
                    if new_x.values is not None:
                        separations, xs = trial, new_x
                        break
                else:
                    new_y = self._axis(p, "y", sizes, height, pref_y, far_choice, trial,
                                            band, config=eff, depths=depths,
                                            placement_bounds=placed)
                    if new_y.values is not None:
                        separations, ys = trial, new_y
                        break
            else:
                break
        return _Attempt(reason="objects could not be kept visible")

    def _depths(
        self, p: _Problem, rng: random.Random
    ) -> tuple[list[float] | None, list[object]]:
        cfg = self.config
        n = len(p.ids)
        near_d, far_d = (3.0, 22.0) if p.outdoor else (2.0, 7.5)
        pref: list[float] = []
        for k in range(n):
            place = p.placements[k]
            if place == "sky":
                d = rng.uniform(60.0, 160.0)
            elif place == "wall":
                d = rng.uniform(far_d * 0.85, far_d * 1.05)
            elif place == "ceiling":
                d = rng.uniform(near_d * 1.5, far_d)
            else:
                d = math.exp(rng.uniform(math.log(near_d), math.log(far_d)))
            pref.append(math.log(d))
        # A stacked object prefers its support's distance, a hair nearer (drawn over it).
        for _ in range(3):  # stacks are short; a few passes settle chains
            for r in p.rels:
                if r.kind in ("on", "inside"):
                    pref[r.a] = pref[r.b] + math.log(0.99)
        system = DifferenceSystem([math.log(0.5)] * n, [math.log(5000.0)] * n)
        ratio = math.log(1.0 - (cfg.rules.depth_margin + cfg.depth_slack))
        fronted = {(min(r.a, r.b), max(r.a, r.b)) for r in p.rels if r.kind == "front"}
        for r in p.rels:
            if r.kind == "front":
                system.add(r.a, r.b, ratio, r.tag)
            elif r.kind in ("on", "inside") and (min(r.a, r.b), max(r.a, r.b)) not in fronted:
                # Anywhere on the support's top: within its real depth (metres) of its distance,
                # as a ratio at a typical distance of this setting.
                spread = min(0.3, max(0.03, p.real[r.b][2] / (2.0 * near_d)))
                system.add(r.a, r.b, math.log(1.0 + spread), r.tag)
                system.add(r.b, r.a, math.log(1.0 + spread), r.tag)
        sol = solve(system, pref)
        if sol.values is None:
            return None, sol.cycle
        # rounded here, as emitted, so occlusion is judged on the depths the renderer sees
        return [round(math.exp(v), 4) for v in sol.values], []

    def _sizes(
        self, p: _Problem, depths: list[float], rng: random.Random, shrink: float
    ) -> list[tuple[float, float]]:
        cfg = self.config
        width, height = p.graph.image.width, p.graph.image.height
        angular = [
            (rw**cfg.size_gamma / d, rh**cfg.size_gamma / d)
            for (rw, rh, _), d in zip(p.real, depths, strict=True)
        ]
        largest = max(max(aw / width, ah / height) for aw, ah in angular)
        target = min(0.85, rng.uniform(*cfg.largest_object_fraction) * shrink)
        focal = target / largest
        sizes = []
        for k, (aw, ah) in enumerate(angular):
            w, h = aw * focal, ah * focal
            drawn = p.aspects[k]
            if drawn is not None:  # the drawing's own proportions, at the same area
                area = w * h
                w, h = math.sqrt(area * drawn), math.sqrt(area / drawn)
            if max(w, h) < cfg.min_object_px:  # keep tiny objects drawable, aspect kept
                grow = cfg.min_object_px / max(w, h)
                w, h = w * grow, h * grow
            # thin objects (a napkin, a rug seen edge-on) get a drawable thickness
            w, h = max(w, cfg.min_object_px / 2), max(h, cfg.min_object_px / 2)
            sizes.append((min(w, width * 0.9), min(h, height * 0.9)))
        return sizes

    def _placement_bounds(
        self, p: _Problem, sizes: list[tuple[float, float]], horizon: float
    ) -> dict[int, tuple[float, float]]:
        """Hard y-centre ranges from placement for the first attempts: floor/ground objects
        stand below the horizon, sky and wall objects stay above it, ceiling objects at the
        top. Stacked objects follow their support instead."""
        height = p.graph.image.height
        stacked = {r.a for r in p.rels if r.kind in ("on", "inside")}
        bounds: dict[int, tuple[float, float]] = {}
        for k, place in enumerate(p.placements):
            if k in stacked:
                continue
            h = sizes[k][1]
            # a tabletop object with nothing under it in the graph lies on the floor/ground
            # (a hat on the sand), never in the air
            if place in ("floor", "ground", "surface"):
                bounds[k] = (horizon + 0.02 * height - h / 2, math.inf)
            elif place == "sky" or (place == "wall" and not p.outdoor):
                bounds[k] = (-math.inf, horizon - h / 2)
            elif place == "ceiling":
                bounds[k] = (-math.inf, h / 2 + 0.1 * height)
        return bounds

    def _preferred_y(
        self, p: _Problem, k: int, depth: float, h: float, horizon: float, floor_ref: float,
        rng: random.Random,
    ) -> float:
        height = p.graph.image.height
        place = p.placements[k]
        base = horizon + (height - horizon) * min(1.0, floor_ref / depth)
        if place in ("floor", "ground"):
            return base - h / 2
        if place == "surface":
            supported = any(r.a == k and r.kind in ("on", "inside") for r in p.rels)
            if not supported:  # nothing under it in the graph: it lies on the floor/ground
                return base - h / 2
            return base - h / 2 - rng.uniform(0.05, 0.2) * height
        if place == "sky":
            return rng.uniform(h / 2, max(h / 2, horizon - h / 2))
        if place == "ceiling":
            return h / 2 + rng.uniform(0.0, 0.05) * height
        if place == "wall":
            return rng.uniform(0.12 * height + h / 2, max(0.12 * height + h / 2, horizon))
        return rng.uniform(h / 2, max(h / 2, height - h / 2))

    def _far_direction(
        self, p: _Problem, r: _Rel, px: list[float], py: list[float], rng: random.Random
    ) -> tuple[float, float]:
        """Unit-ish direction (dx, dy) from b to a along which the far pair is pushed apart;
        signs follow the pair's (transitive) order where one exists, else the preferences."""

        def sign(axis: str, pref: list[float]) -> float:
            if p.order[axis][r.a][r.b]:
                return -1.0  # a precedes b: a has the smaller coordinate
            if p.order[axis][r.b][r.a]:
                return 1.0
            return 1.0 if pref[r.a] >= pref[r.b] else -1.0

        sx, sy = sign("x", px), sign("y", py)
        choice = rng.random()
        if choice < 0.6:
            return (sx * math.sqrt(0.5), sy * math.sqrt(0.5))
        # otherwise mostly along the axis on which the guide already separates them more
        wider_x = abs(px[r.a] - px[r.b]) >= abs(py[r.a] - py[r.b])
        if (choice < 0.9) == wider_x:
            return (sx, 0.0)
        return (0.0, sy)

    def _axis(
        self,
        p: _Problem,
        axis: str,
        sizes: list[tuple[float, float]],
        extent: float,
        preferred: list[float],
        far_choice: dict[tuple[int, int], tuple[float, float]],
        separations: list[tuple[int, int, str, int]],
        band: tuple[float, float] | None = None,
        config: LayoutConfig | None = None,
        depths: list[float] | None = None,
        placement_bounds: dict[int, tuple[float, float]] | None = None,
    ) -> Solution:
        cfg = config or self.config
        rules = cfg.rules
        n = len(p.ids)
        dim = 0 if axis == "x" else 1
        half = [s[dim] / 2 for s in sizes]
        system = DifferenceSystem([half[k] for k in range(n)],
                                  [extent - half[k] for k in range(n)])
        for k, (lo, hi) in (placement_bounds or {}).items():
            system.lower[k] = max(system.lower[k], lo)
            system.upper[k] = min(system.upper[k], hi)
        width, height = p.graph.image.width, p.graph.image.height
        diag = math.hypot(width, height)
        near_radius = rules.near_max * diag * cfg.near_shrink
        far_dist = rules.far_min * diag * cfg.far_stretch
        for r in p.rels:
            a, b = r.a, r.b
            if r.kind == "left" and axis == "x":
                system.add(a, b, -(rules.lr_margin + cfg.order_slack) * width, r.tag)
            elif r.kind == "above" and axis == "y":
                system.add(a, b, -(rules.ab_margin + cfg.order_slack) * height, r.tag)
            elif r.kind == "on":
                wa, ha = sizes[a]
                wb, hb = sizes[b]
                if axis == "x":
                    # overlap(a, b) >= on_overlap * wa  <=>  |cx_a - cx_b| <= wb/2 + wa/2 - o*wa
                    overlap = cfg.on_overlap if wb >= cfg.on_overlap * wa else (
                        rules.on_overlap + 0.05)
                    reach = (wa + wb) / 2 - overlap * wa
                    if wb < overlap * wa:
                        reach = -1.0  # support too narrow: the cycle below reports it
                    system.add(a, b, reach, r.tag)
                    system.add(b, a, reach, r.tag)
                else:
                    lo, hi = band or cfg.on_band
                    low_edge, high_edge = lo * hb, hi * hb
                    if depths is not None and depths[a] > depths[b]:
                        # drawn behind its support: only a sliver of it may hide behind the
                        # support's top edge
                        high_edge = min(high_edge, 0.25 * ha)
                        low_edge = min(low_edge, high_edge)
                    # bottom of a = top of b + t, t in [low_edge, high_edge]
                    system.add(a, b, high_edge - (ha + hb) / 2, r.tag)
                    system.add(b, a, (ha + hb) / 2 - low_edge, r.tag)
            elif r.kind == "inside":
                outer, inner = sizes[b][dim], sizes[a][dim]
                reach = (outer - inner) / 2 - 0.03 * outer
                system.add(a, b, reach, r.tag)
                system.add(b, a, reach, r.tag)
            elif r.kind == "near":
                # A box inside the near circle, stretched along the axis on which the pair is
                # ordered (ordered pairs need room there, and nothing on the other axis).
                ordered_x = p.order["x"][a][b] or p.order["x"][b][a]
                ordered_y = p.order["y"][a][b] or p.order["y"][b][a]
                angle = math.radians(20 if ordered_x and not ordered_y else
                                     70 if ordered_y and not ordered_x else 45)
                reach = near_radius * (math.cos(angle) if axis == "x" else math.sin(angle))
                system.add(a, b, reach, r.tag)
                system.add(b, a, reach, r.tag)
            elif r.kind == "far" and (a, b) in far_choice:
                direction = far_choice[(a, b)][dim]
                if direction > 0:  # a - b >= far * direction
                    system.add(b, a, -far_dist * direction, r.tag)
                elif direction < 0:
                    system.add(a, b, far_dist * direction, r.tag)
        v = cfg.min_visible_fraction
        for victim, occluder, sep_axis, sign in separations:
            if sep_axis != axis:
                continue
            # overlap along this axis at most (1 - v) of the victim's extent
            gap = half[victim] + half[occluder] - (1.0 - v) * sizes[victim][dim]
            if sign > 0:  # victim after occluder
                system.add(occluder, victim, -gap, "visibility")
            else:
                system.add(victim, occluder, -gap, "visibility")
        return solve(system, preferred)

    def _occlusion(
        self, boxes: list[Box], depths: list[float], width: int, height: int
    ) -> tuple[tuple[int, int] | None, list[Box | None]]:
        """(least visible object below the threshold and its worst occluder, or None) and
        each object's visible box, treating nearer objects as opaque rectangles (coarse grid).
        """
        cell = self.config.visibility_grid
        gw, gh = -(-width // cell), -(-height // cell)
        owner = np.full((gh, gw), -1, dtype=np.int32)
        worst: tuple[float, int] | None = None
        visible_boxes: list[Box | None] = [None] * len(boxes)
        for k in sorted(range(len(boxes)), key=lambda i: (depths[i], i)):
            b = boxes[k]
            # the renderer's pixel box: rounded corners, at least one pixel
            x0, y0 = round(b.x0 / cell), round(b.y0 / cell)
            x1, y1 = max(x0 + 1, round(b.x1 / cell)), max(y0 + 1, round(b.y1 / cell))
            region = owner[y0:y1, x0:x1]
            free = region < 0
            fraction = float(free.mean()) if region.size else 0.0
            if fraction < self.config.min_visible_fraction and (
                worst is None or fraction < worst[0]
            ):
                worst = (fraction, k)
            if fraction >= 1.0:
                visible_boxes[k] = b
            elif free.any():
                rows = np.flatnonzero(free.any(axis=1))
                cols = np.flatnonzero(free.any(axis=0))
                visible_boxes[k] = Box(
                    x0=max(b.x0, (x0 + cols[0]) * cell), y0=max(b.y0, (y0 + rows[0]) * cell),
                    x1=min(b.x1, (x0 + cols[-1] + 1) * cell),
                    y1=min(b.y1, (y0 + rows[-1] + 1) * cell),
                )
            region[free] = k
        if worst is None:
            return None, visible_boxes
        victim = worst[1]
        b = boxes[victim]
        best, best_area = -1, -1.0
        for k, other in enumerate(boxes):
            if (depths[k], k) >= (depths[victim], victim):  # not nearer (ties: lower index)
                continue
            w = min(b.x1, other.x1) - max(b.x0, other.x0)
            h = min(b.y1, other.y1) - max(b.y0, other.y0)
            if w > 0 and h > 0 and w * h > best_area:
                best, best_area = k, w * h
        if best < 0:
            return None, visible_boxes
        return (victim, best), visible_boxes

    def _separations(
        self, boxes: list[Box], victim: int, occluder: int
    ) -> list[tuple[int, int, str, int]]:
        """Candidate separations, the axis where the pair is relatively further apart first."""
        bv, bo = boxes[victim], boxes[occluder]
        (vx, vy), (ox, oy) = bv.center, bo.center
        rel_x = abs(vx - ox) / max(1e-6, (bv.width + bo.width) / 2)
        rel_y = abs(vy - oy) / max(1e-6, (bv.height + bo.height) / 2)
        sx = 1 if vx >= ox else -1
        sy = 1 if vy >= oy else -1
        by_x = [(victim, occluder, "x", sx), (victim, occluder, "x", -sx)]
        by_y = [(victim, occluder, "y", sy), (victim, occluder, "y", -sy)]
        if rel_x >= rel_y:
            return [by_x[0], by_y[0], by_x[1], by_y[1]]
        return [by_y[0], by_x[0], by_y[1], by_x[1]]

    def _check(
        self, p: _Problem, boxes: Sequence[Box | None], depths: list[float], strict: bool = True,
        config: LayoutConfig | None = None,
    ) -> list[object]:
        """Relations not decided True (with margins + half the slack when ``strict``)."""
        cfg = config or self.config
        rules = replace(
            cfg.rules,
            lr_margin=cfg.rules.lr_margin + cfg.order_slack / 2,
            ab_margin=cfg.rules.ab_margin + cfg.order_slack / 2,
        ) if strict else cfg.rules
        objs = [
            SceneObject(id=p.ids[k], name="x", box=boxes[k], depth=depths[k])
            for k in range(len(boxes))
        ]
        image = p.graph.image
        failed: list[object] = []
        for r in p.graph.relations:
            canon = canonical_spatial(r.predicate)
            if canon is None or canon not in _KIND_OF:
                continue
            a = objs[p.ids.index(r.subject)]
            b = objs[p.ids.index(r.object)]
            if spatial_relation(a, b, canon, image, None, rules) is not True:
                failed.append(r.triplet())
        return failed

    def _emit(self, p: _Problem, att: _Attempt, seed: int, attempts: int) -> SceneGraph:
        assert att.boxes is not None and att.depths is not None
        objects = [
            obj.model_copy(update={"box": att.boxes[k], "depth": att.depths[k]})
            for k, obj in enumerate(p.graph.objects)
        ]
        meta = dict(p.graph.meta)
        meta["layout"] = {**att.meta, "seed": seed, "attempts": attempts}
        return p.graph.model_copy(update={"objects": objects, "meta": meta})


def solve_layout(kg: SceneGraph, seed: int, config: LayoutConfig | None = None) -> LayoutResult:
    """Lay out ``kg`` (a spatial KG, objects without boxes) deterministically for ``seed``."""
    return LayoutSolver(config).solve(kg, seed)
