"""draws.random_pairs_of draws the ordered pairs of distinct items in the order, and with
the draws, of a lazy shuffle of the full list of pairs: generators that switched to it (pairs
of names, pairs of objects) ask the same questions without building that list."""

from __future__ import annotations

import itertools
import random

from scenesynth.generators.draws import lazy_shuffled, random_pairs_of


def test_random_pairs_of_is_the_lazy_shuffle_of_every_pair() -> None:
    for n in (0, 1, 2, 3, 7, 40):
        items = [f"item{i:02d}" for i in range(n)]
        pairs = [(a, b) for a in items for b in items if a != b]
        for seed in range(5):
            assert list(random_pairs_of(random.Random(seed), items)) == \
                list(lazy_shuffled(random.Random(seed), pairs))


def test_random_pairs_of_interleaves_other_draws_the_same_way() -> None:
    """A generator draws between pairs (a predicate, an order) and stops early: the rng
    stream must match the list-based shuffle at every step."""
    items = [f"o{i}" for i in range(30)]
    pairs = [(a, b) for a in items for b in items if a != b]
    for seed in range(5):
        drawn, listed = random.Random(seed), random.Random(seed)
        got = [(pair, drawn.random()) for pair in
               itertools.islice(random_pairs_of(drawn, items), 60)]
        want = [(pair, listed.random()) for pair in
                itertools.islice(lazy_shuffled(listed, pairs), 60)]
        assert got == want
        assert drawn.random() == listed.random()
