"""Mutual consistency of the spatial triplets of a knowledge graph.

Both the KB sampler and the LLM backend feed their proposed triplets through
:class:`SpatialConstraints`, which keeps one partial order per axis and rejects a triplet that
would make the set unsatisfiable for the layout solver:

* **x axis** (``left of`` / ``right of``), **y axis** (``above`` / ``below`` / ``on top of``,
  which implies above) and **z axis** (``in front of`` / ``behind``): a triplet is rejected when
  its inverse is already there (``contradiction``) or when it closes a cycle through other
  triplets (``cycle``: A left of B, B left of C, C left of A).
* **near / far from**: ``near`` and ``far from`` on the same pair contradict. Near means a centre
  distance below a quarter of the image diagonal and far above half of it, so a short chain of
  near pairs (and stacks) can never span a far pair (triangle inequality; see
  ``MIN_HOPS_FOR_FAR``), and four objects cannot all be far from each other:
  ``far_infeasible``.
* **on top of**: only where the support table allows (``unsupported_on_top``), one support
  per object (``second_support``), never ``far from`` its support; the objects side by side on
  one support must fit within its width when widths are known (``support_full``). A stacked
  object stands at its support's distance from the camera (the layout convention), so a whole
  stack is one node of the depth order: no front/behind between members of one stack, and no
  stacking of two objects already ordered in depth (``stacked_depth``). It also overlaps its
  support horizontally, so no left/right chain may order the two (``stacked_overlap``).

Every rejection returns a reason string; callers count them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping

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
    canonical_spatial,
)
from scenesynth.graph.model import Relation, RelationCategory, RelationSource

# Predicates a knowledge graph may hold (canonical spellings from scenesynth.graph.geometry).
KG_PREDICATES: tuple[str, ...] = (LEFT, RIGHT, ABOVE, BELOW, FRONT, BEHIND, ON_TOP, NEAR, FAR)

# Each directional predicate as an ordered edge "first precedes second" on one axis:
# x: left-to-right, y: top-to-bottom, z: near-to-far.
_AXIS_EDGE: dict[str, tuple[str, bool]] = {
    LEFT: ("x", False), RIGHT: ("x", True),
    ABOVE: ("y", False), BELOW: ("y", True), ON_TOP: ("y", False),
    FRONT: ("z", False), BEHIND: ("z", True),
}

# A "far from" pair must not be joined by a short chain of "near" pairs: two near hops
# (each below a quarter of the image diagonal) can never span half the diagonal, and a
# layout places near pairs well inside that radius, so a chain must be longer than three
# hops. A stacked object sits right on its support: half a hop.
NEAR_HOP = 1.0
SUPPORT_HOP = 0.5
MIN_HOPS_FOR_FAR = 3.0

# Rejection reasons (stable strings, used as counter keys).
SELF_RELATION = "self_relation"
UNKNOWN_PREDICATE = "unknown_predicate"
DUPLICATE = "duplicate"
CONTRADICTION = "contradiction"
CYCLE = "cycle"
FAR_INFEASIBLE = "far_infeasible"
UNSUPPORTED = "unsupported_on_top"
SECOND_SUPPORT = "second_support"
STACKED_DEPTH = "stacked_depth"
STACKED_OVERLAP = "stacked_overlap"
SUPPORT_FULL = "support_full"


def kg_predicate(predicate: str) -> str | None:
    """The canonical KG predicate for ``predicate`` (aliases accepted), or None."""
    pred = canonical_spatial(predicate)
    return pred if pred in KG_PREDICATES else None


class SpatialConstraints:
    """Incrementally built, always-consistent set of spatial triplets over object ids.

    ``can_support(subject_id, object_id)`` decides whether ``on top of`` is allowed for a pair
    (the KB's support table, or a plausibility rule for LLM-proposed objects).
    """

    def __init__(
        self,
        can_support: Callable[[str, str], bool] | None = None,
        widths: Mapping[str, float] | None = None,
    ) -> None:
        self._can_support = can_support or (lambda _a, _b: True)
        # real widths (metres) by object id: the items side by side on one support must fit
        # within its width
        self._widths = widths or {}
        self._succ: dict[str, dict[str, set[str]]] = {"x": {}, "y": {}, "z": {}}
        self._near: dict[str, dict[str, float]] = {}  # near/support edges -> hop weight
        self._far: set[frozenset[str]] = set()
        self._near_pairs: set[frozenset[str]] = set()
        self.support: dict[str, str] = {}  # item id -> supporter id
        self.triplets: list[tuple[str, str, str]] = []

    def relations(self, source: RelationSource) -> list[Relation]:
        """The triplets as the graph's spatial relations, ids ``r0, r1, ...`` in order."""
        return [
            Relation(id=f"r{i}", subject=s, predicate=p, object=o,
                     category=RelationCategory.SPATIAL, source=source)
            for i, (s, p, o) in enumerate(self.triplets)
        ]

    # -- queries ------------------------------------------------------------------------
    def base(self, node: str) -> str:
        """The object at the bottom of ``node``'s stack (itself when it rests on nothing)."""
        while node in self.support:
            node = self.support[node]
        return node

    def _ancestors(self, node: str) -> list[str]:
        """What ``node`` stands on, directly or through other objects."""
        out = []
        while node in self.support:
            node = self.support[node]
            out.append(node)
        return out

    def _descendants(self, node: str) -> list[str]:
        """What stands on ``node``, directly or through other objects."""
        return [i for i in self.support if node in self._ancestors(i)]

    def _successors(self, axis: str, node: str) -> set[str]:
        if axis != "z":
            return self._succ[axis].get(node, set())
        # Depth: a stacked object is at its support's distance, so a stack is one node.
        out: set[str] = set()
        for member, succ in self._succ["z"].items():
            if self.base(member) == node:
                out.update(self.base(n) for n in succ)
        return out

    def _reaches(self, axis: str, start: str, goal: str) -> bool:
        if axis == "z":
            start, goal = self.base(start), self.base(goal)
        seen = {start}
        todo = [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            for nxt in self._successors(axis, node):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def _near_hops(
        self, a: str, b: str, extra: tuple[str, str, float] | None = None
    ) -> float | None:
        """Shortest weighted near/support path from a to b (None: unconnected), optionally
        with one extra undirected edge ``(u, v, weight)``."""

        def neighbours(n: str) -> dict[str, float]:
            out = dict(self._near.get(n, {}))
            if extra is not None:
                u, v, w = extra
                if n in (u, v):
                    m = v if n == u else u
                    out[m] = min(out.get(m, w), w)
            return out

        dist = {a: 0.0}
        heap = [(0.0, a)]
        while heap:
            d, n = heapq.heappop(heap)
            if n == b:
                return d
            if d > dist[n]:
                continue
            for m, w in neighbours(n).items():
                if d + w < dist.get(m, float("inf")):
                    dist[m] = d + w
                    heapq.heappush(heap, (d + w, m))
        return None

    def ordered(self, axis: str, first: str, second: str) -> bool:
        """Whether the current triplets imply ``first`` precedes ``second`` on ``axis``."""
        return first != second and self._reaches(axis, first, second)

    def check(self, subject: str, predicate: str, obj: str) -> str | None:
        """Why ``(subject, predicate, obj)`` cannot be added, or None when it can."""
        pred = kg_predicate(predicate)
        if pred is None:
            return UNKNOWN_PREDICATE
        if subject == obj:
            return SELF_RELATION
        if pred in _AXIS_EDGE:
            axis, flip = _AXIS_EDGE[pred]
            first, second = (obj, subject) if flip else (subject, obj)
            if pred == ON_TOP:
                if subject in self.support:
                    return DUPLICATE if self.support[subject] == obj else SECOND_SUPPORT
                if not self._can_support(subject, obj):
                    return UNSUPPORTED
                if self._widths and not self._fits_on(subject, obj):
                    return SUPPORT_FULL
                if frozenset((subject, obj)) in self._far:
                    return CONTRADICTION
                if self._breaks_far(subject, obj, SUPPORT_HOP):
                    return FAR_INFEASIBLE
                # the stack shares one distance: no depth order may separate the two stacks
                if self._reaches("z", subject, obj) or self._reaches("z", obj, subject):
                    return STACKED_DEPTH
                # a stacked object overlaps what it stands on horizontally: nothing orders them
                lower = [obj, *self._ancestors(obj)]
                upper = [subject, *self._descendants(subject)]
                if any(
                    self._reaches("x", u, v) or self._reaches("x", v, u)
                    for u in upper
                    for v in lower
                ):
                    return STACKED_OVERLAP
            if second in self._succ[axis].get(first, ()):
                return None if pred == ON_TOP else DUPLICATE
            if first in self._succ[axis].get(second, ()):
                return CONTRADICTION
            if axis == "z" and pred != ON_TOP and self.base(first) == self.base(second):
                return STACKED_DEPTH
            if self._reaches(axis, second, first):
                return CYCLE
            if axis == "x" and self._links_stack_on_x(first, second):
                return STACKED_OVERLAP
            return None
        pair = frozenset((subject, obj))
        if pred == NEAR:
            if pair in self._near_pairs:
                return DUPLICATE
            if pair in self._far:
                return CONTRADICTION
            if self._breaks_far(subject, obj, NEAR_HOP):
                return FAR_INFEASIBLE
            return None
        # far from
        if pair in self._far:
            return DUPLICATE
        if pair in self._near_pairs or self.support.get(subject) == obj or (
            self.support.get(obj) == subject
        ):
            return CONTRADICTION
        hops = self._near_hops(subject, obj)
        if hops is not None and hops <= MIN_HOPS_FOR_FAR:
            return FAR_INFEASIBLE
        # Four mutually far objects (centres pairwise more than half the diagonal apart) do
        # not fit in an image once they have any size.
        common = self._far_neighbours(subject) & self._far_neighbours(obj)
        if any(frozenset((c, d)) in self._far for c in common for d in common if c < d):
            return FAR_INFEASIBLE
        return None

    def _far_neighbours(self, node: str) -> set[str]:
        return {m for pair in self._far if node in pair for m in pair if m != node}

    def _fits_on(self, item: str, base: str) -> bool:
        on_base = [i for i, b in self.support.items() if b == base]
        used = sum(self._widths.get(i, 0.0) for i in (*on_base, item))
        return used <= self._widths.get(base, float("inf"))

    def _links_stack_on_x(self, first: str, second: str) -> bool:
        """Whether a new x edge first -> second would order a stacked object and its support
        (directly or through other objects): they overlap horizontally, so neither can be
        left of the other."""
        for item in self.support:
            for base in self._ancestors(item):
                for u, v in ((item, base), (base, item)):
                    # path u -> first, edge, second -> v
                    if (u == first or self._reaches("x", u, first)) and (
                        v == second or self._reaches("x", second, v)
                    ):
                        return True
        return False

    def _breaks_far(self, a: str, b: str, weight: float) -> bool:
        """Whether a new near/support edge a-b would bring a far pair within reach."""
        for pair in self._far:
            u, v = tuple(pair)
            hops = self._near_hops(u, v, extra=(a, b, weight))
            if hops is not None and hops <= MIN_HOPS_FOR_FAR:
                return True
        return False

    # -- updates ------------------------------------------------------------------------
    def add(self, subject: str, predicate: str, obj: str) -> str | None:
        """Add the triplet when consistent; return the rejection reason otherwise."""
        reason = self.check(subject, predicate, obj)
        if reason is not None:
            return reason
        pred = kg_predicate(predicate)
        assert pred is not None
        if pred in _AXIS_EDGE:
            axis, flip = _AXIS_EDGE[pred]
            first, second = (obj, subject) if flip else (subject, obj)
            self._succ[axis].setdefault(first, set()).add(second)
            if pred == ON_TOP:
                self.support[subject] = obj
                self._link(subject, obj, SUPPORT_HOP)
        elif pred == NEAR:
            self._near_pairs.add(frozenset((subject, obj)))
            self._link(subject, obj, NEAR_HOP)
        else:
            self._far.add(frozenset((subject, obj)))
        self.triplets.append((subject, pred, obj))
        return None

    def _link(self, a: str, b: str, weight: float) -> None:
        for u, v in ((a, b), (b, a)):
            edges = self._near.setdefault(u, {})
            edges[v] = min(edges.get(v, weight), weight)

    def related(self, a: str, b: str) -> bool:
        """Whether any triplet already links a and b (either direction)."""
        return any({s, o} == {a, b} for s, _, o in self.triplets)
