"""Seeded draws shared by the generators, built on ``rng.random()`` (one C call each).

``random.Random``'s randrange, randint, sample and shuffle run several interpreted frames per
draw, which cost more than the rest of a question on the hot path. The streams here are
different from theirs, and just as deterministic. Every shuffle here is the same Fisher-Yates
shuffle (one ``rng.random()`` per item drawn), so the same rng state gives the same order
whichever helper draws it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """A seeded choice from non-empty ``items``."""
    return items[int(rng.random() * len(items))]


def pick_int(rng: random.Random, lo: int, hi: int) -> int:
    """A seeded integer in ``[lo, hi]`` (both included)."""
    return lo + int(rng.random() * (hi - lo + 1))


def lazy_shuffled(rng: random.Random, items: Iterable[T]) -> Iterator[T]:
    """``items`` in seeded random order, drawn lazily (a Fisher-Yates shuffle that stops
    when the caller does; one ``rng.random()`` per item yielded). ``items`` is not changed."""
    out = list(items)
    draw = rng.random
    n = len(out)
    for i in range(n):
        j = i + int(draw() * (n - i))
        out[i], out[j] = out[j], out[i]
        yield out[i]


def shuffled(rng: random.Random, items: Iterable[T]) -> list[T]:
    """``items`` in seeded random order (the same order :func:`lazy_shuffled` yields)."""
    return list(lazy_shuffled(rng, items))


def first_shuffled(rng: random.Random, items: Iterable[T], k: int) -> list[T]:
    """The first ``k`` items (all, when fewer) of :func:`lazy_shuffled`'s order: a uniform
    random ``k``-subset in random order, drawing only ``k`` times."""
    return list(itertools.islice(lazy_shuffled(rng, items), k))


def pick_k(rng: random.Random, items: Sequence[T], k: int) -> list[T]:
    """``k`` distinct positions of ``items`` in seeded random order (``k <= len(items)``)."""
    if k > len(items):
        raise ValueError(f"cannot pick {k} of {len(items)} items")
    return first_shuffled(rng, items, k)


def random_order(rng: random.Random, total: int) -> Iterator[int]:
    """``0 .. total - 1`` in :func:`lazy_shuffled`'s order (the same draws), without building
    that range: only the positions the shuffle swapped are stored, so taking the first few of
    a large candidate space (every pair of names times every predicate) costs a few draws,
    not the space."""
    swapped: dict[int, int] = {}
    draw = rng.random
    for i in range(total):
        j = i + int(draw() * (total - i))
        yield swapped.get(j, j)
        swapped[j] = swapped.get(i, i)


def random_pairs_of(rng: random.Random, items: Sequence[T]) -> Iterator[tuple[T, T]]:
    """The ordered pairs of two different positions of ``items`` (``[(a, b) for a in items
    for b in items if a != b]`` for distinct items) in :func:`lazy_shuffled`'s order of
    that list (the same draws), each built when drawn: the first few of the pairs of a
    crowded scene cost a few draws, not the square of its size."""
    n = len(items)
    for index in random_order(rng, n * (n - 1)):
        first, second = divmod(index, n - 1)
        yield items[first], items[second + 1 if second >= first else second]
