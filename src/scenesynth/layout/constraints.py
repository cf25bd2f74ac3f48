"""Difference constraints ``v[i] - v[j] <= c`` with per-variable bounds.

Every hard layout rule along one axis (left/right order, above/below order, on-top-of contact,
near/far once a direction is chosen, canvas bounds; and the front/behind order in log-depth)
is a difference constraint, so feasibility is exact: Bellman-Ford either finds a solution or a
negative cycle, and the cycle's tags are the relations that cannot hold together.

Solving runs in two phases: a symmetric projection (each violated constraint moves both of its
variables halfway) that keeps the solution close to the sampled preferences and so looks
natural, then, if that has not converged, Bellman-Ford started from the projected values, which
is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Difference:
    """``v[i] - v[j] <= bound``; ``tag`` names what asked for it (a triplet or a rule)."""

    i: int
    j: int
    bound: float
    tag: object = None


@dataclass
class DifferenceSystem:
    lower: list[float]
    upper: list[float]
    constraints: list[Difference] = field(default_factory=list)

    def add(self, i: int, j: int, bound: float, tag: object = None) -> None:
        self.constraints.append(Difference(i, j, bound, tag))

    def violations(self, values: list[float]) -> list[Difference]:
        return [c for c in self.constraints if values[c.i] - values[c.j] > c.bound + TOLERANCE]


@dataclass
class Solution:
    values: list[float] | None
    cycle: list[object] = field(default_factory=list)  # tags on a negative cycle when infeasible


def _clip(values: list[float], lower: list[float], upper: list[float]) -> None:
    for k, v in enumerate(values):
        if v < lower[k]:
            values[k] = lower[k]
        elif v > upper[k]:
            values[k] = upper[k]


def _in_bounds(values: list[float], lower: list[float], upper: list[float]) -> bool:
    return all(
        lower[k] - TOLERANCE <= v <= upper[k] + TOLERANCE for k, v in enumerate(values)
    )


def solve(
    system: DifferenceSystem, preferred: list[float], projection_rounds: int = 60
) -> Solution:
    """A solution near ``preferred``, or the tags of a negative cycle proving infeasibility."""
    n = len(preferred)
    lower, upper = system.lower, system.upper
    for k in range(n):
        if lower[k] > upper[k] + TOLERANCE:
            return Solution(None, [("bounds", k)])
    values = list(preferred)
    _clip(values, lower, upper)
    cons = system.constraints
    for _ in range(projection_rounds):
        moved = False
        for c in cons:
            excess = values[c.i] - values[c.j] - c.bound
            if excess > TOLERANCE:
                values[c.i] -= excess / 2
                values[c.j] += excess / 2
                moved = True
        _clip(values, lower, upper)
        if not moved and not system.violations(values):
            return Solution(values)
    return _bellman_ford(system, values)


def _bellman_ford(system: DifferenceSystem, start: list[float]) -> Solution:
    """Exact phase. Node ``n`` is the zero reference that carries the bounds."""
    n = len(start)
    zero = n
    # edges (src, dst, weight, tag): dist[dst] <= dist[src] + weight
    edges: list[tuple[int, int, float, object]] = [
        (c.j, c.i, c.bound, c.tag) for c in system.constraints
    ]
    for k in range(n):
        edges.append((zero, k, system.upper[k], ("bounds", k)))
        edges.append((k, zero, -system.lower[k], ("bounds", k)))
    dist = [*start, 0.0]
    pred: list[int | None] = [None] * (n + 1)
    last_changed = -1
    for _ in range(n + 2):
        last_changed = -1
        for e_index, (src, dst, w, _tag) in enumerate(edges):
            if dist[src] + w < dist[dst] - TOLERANCE:
                dist[dst] = dist[src] + w
                pred[dst] = e_index
                last_changed = dst
        if last_changed < 0:
            break
    if last_changed < 0:
        shift = dist[zero]
        values = [dist[k] - shift for k in range(n)]
        if _in_bounds(values, system.lower, system.upper) and not system.violations(values):
            return Solution(values)
        return Solution(None, [("numerics", -1)])
    # Walk predecessors n+1 times to land on the cycle, then collect it.
    node = last_changed
    for _ in range(n + 1):
        e = pred[node]
        assert e is not None
        node = edges[e][0]
    cycle_tags: list[object] = []
    start_node = node
    while True:
        e = pred[node]
        assert e is not None
        cycle_tags.append(edges[e][3])
        node = edges[e][0]
        if node == start_node:
            break
    return Solution(None, cycle_tags)
