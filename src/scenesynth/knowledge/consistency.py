"""Mutual consistency of the spatial triplets of a knowledge graph.

Both the KB sampler and the LLM backend feed their proposed triplets through
:class:`SpatialConstraints`, which keeps one partial order per axis and rejects a triplet that
would make the set unsatisfiable for the layout solver:

* **x axis** (``left of`` / ``right of``), **y axis** (``above`` / ``below`` / ``on top of``,
  which implies above) and **z axis** (``in front of`` / ``behind``): a triplet is rejected when
  its inverse is already there (``contradiction``) or when it closes a cycle through other
  triplets (``cycle``: A left of B, B left of C, C left of A).
* **near / far from**: ``near`` and ``far from`` on the same pair contradict. Near means a centre
  distance below a quarter of the image diagonal and far above half of it, so two near hops
  can never span a far pair (triangle inequality), and four objects cannot all be far from
  each other: ``far_infeasible``.
* **on top of**: only where the support table allows (``unsupported``), one support per object
  (``second_support``), never ``far from`` its support.

Every rejection returns a reason string; callers count them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

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

# Predicates a knowledge graph may hold (canonical spellings from scenesynth.graph.geometry).
KG_PREDICATES: tuple[str, ...] = (LEFT, RIGHT, ABOVE, BELOW, FRONT, BEHIND, ON_TOP, NEAR, FAR)

# Each directional predicate as an ordered edge "first precedes second" on one axis:
# x: left-to-right, y: top-to-bottom, z: near-to-far.
_AXIS_EDGE: dict[str, tuple[str, bool]] = {
    LEFT: ("x", False), RIGHT: ("x", True),
    ABOVE: ("y", False), BELOW: ("y", True), ON_TOP: ("y", False),
    FRONT: ("z", False), BEHIND: ("z", True),
}

# Hops of "near" (or support) that can never span a "far from" pair: 2 * near_max (0.25 of
# the diagonal) stays below far_min (0.5 of the diagonal).
_MAX_NEAR_HOPS_FOR_FAR = 2

# Rejection reasons (stable strings, used as counter keys).
SELF_RELATION = "self_relation"
UNKNOWN_PREDICATE = "unknown_predicate"
DUPLICATE = "duplicate"
CONTRADICTION = "contradiction"
CYCLE = "cycle"
FAR_INFEASIBLE = "far_infeasible"
UNSUPPORTED = "unsupported_on_top"
SECOND_SUPPORT = "second_support"


def kg_predicate(predicate: str) -> str | None:
    """The canonical KG predicate for ``predicate`` (aliases accepted), or None."""
    pred = canonical_spatial(predicate)
    return pred if pred in KG_PREDICATES else None


class SpatialConstraints:
    """Incrementally built, always-consistent set of spatial triplets over object ids.

    ``can_support(subject_id, object_id)`` decides whether ``on top of`` is allowed for a pair
    (the KB's support table, or a plausibility rule for LLM-proposed objects).
    """

    def __init__(self, can_support: Callable[[str, str], bool] | None = None) -> None:
        self._can_support = can_support or (lambda _a, _b: True)
        self._succ: dict[str, dict[str, set[str]]] = {"x": {}, "y": {}, "z": {}}
        self._near: dict[str, set[str]] = {}  # near and support edges, undirected
        self._far: set[frozenset[str]] = set()
        self._near_pairs: set[frozenset[str]] = set()
        self.support: dict[str, str] = {}  # item id -> supporter id
        self.triplets: list[tuple[str, str, str]] = []

    # -- queries ------------------------------------------------------------------------
    def _reaches(self, axis: str, start: str, goal: str) -> bool:
        succ = self._succ[axis]
        seen = {start}
        todo = [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            for nxt in succ.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def _near_hops(self, a: str, b: str, extra: tuple[str, str] | None = None) -> int | None:
        """Fewest near/support hops from a to b (None: unconnected), optionally with one
        extra undirected edge."""

        def neighbours(n: str) -> set[str]:
            out = set(self._near.get(n, ()))
            if extra is not None:
                if n == extra[0]:
                    out.add(extra[1])
                elif n == extra[1]:
                    out.add(extra[0])
            return out

        dist = {a: 0}
        queue = deque([a])
        while queue:
            n = queue.popleft()
            if n == b:
                return dist[n]
            for m in neighbours(n):
                if m not in dist:
                    dist[m] = dist[n] + 1
                    queue.append(m)
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
                if frozenset((subject, obj)) in self._far:
                    return CONTRADICTION
                if self._breaks_far(subject, obj):
                    return FAR_INFEASIBLE
            if second in self._succ[axis].get(first, ()):
                return None if pred == ON_TOP else DUPLICATE
            if first in self._succ[axis].get(second, ()):
                return CONTRADICTION
            if self._reaches(axis, second, first):
                return CYCLE
            return None
        pair = frozenset((subject, obj))
        if pred == NEAR:
            if pair in self._near_pairs:
                return DUPLICATE
            if pair in self._far:
                return CONTRADICTION
            if self._breaks_far(subject, obj):
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
        if hops is not None and hops <= _MAX_NEAR_HOPS_FOR_FAR:
            return FAR_INFEASIBLE
        # Four mutually far objects (centres pairwise more than half the diagonal apart) do
        # not fit in an image once they have any size.
        common = self._far_neighbours(subject) & self._far_neighbours(obj)
        if any(frozenset((c, d)) in self._far for c in common for d in common if c < d):
            return FAR_INFEASIBLE
        return None

    def _far_neighbours(self, node: str) -> set[str]:
        return {m for pair in self._far if node in pair for m in pair if m != node}

    def _breaks_far(self, a: str, b: str) -> bool:
        """Whether a new near/support edge a-b would bring a far pair within reach."""
        for pair in self._far:
            u, v = tuple(pair)
            hops = self._near_hops(u, v, extra=(a, b))
            if hops is not None and hops <= _MAX_NEAR_HOPS_FOR_FAR:
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
                self._near.setdefault(subject, set()).add(obj)
                self._near.setdefault(obj, set()).add(subject)
        elif pred == NEAR:
            self._near_pairs.add(frozenset((subject, obj)))
            self._near.setdefault(subject, set()).add(obj)
            self._near.setdefault(obj, set()).add(subject)
        else:
            self._far.add(frozenset((subject, obj)))
        self.triplets.append((subject, pred, obj))
        return None

    def related(self, a: str, b: str) -> bool:
        """Whether any triplet already links a and b (either direction)."""
        return any({s, o} == {a, b} for s, _, o in self.triplets)
