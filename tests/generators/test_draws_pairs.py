"""draws.random_pairs_of draws the ordered pairs of distinct items in the order, and with
the draws, of a lazy shuffle of the full list of pairs: generators that switched to it (pairs
of names, pairs of objects) ask the same questions without building that list. The same holds
for kit.list_distractors, which builds only the wrong lists it draws."""

from __future__ import annotations

import itertools
import random

import pytest

from scenesynth.generators.draws import first_shuffled, lazy_shuffled, random_pairs_of
from scenesynth.generators.kit import list_distractors


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


def _every_distractor_list(answer: list[str], universe: set[str]) -> list[list[str]]:
    """Every wrong list close to ``answer``, written out: one name added, one removed (when
    more than one), one swapped, in that order."""
    have, others = set(answer), sorted(universe - set(answer))
    out = [sorted(have | {extra}) for extra in others]
    if len(answer) > 1:
        out += [sorted(have - {name}) for name in answer]
    out += [sorted((have - {name}) | {extra}) for name in answer for extra in others]
    return out


def test_list_distractors_draws_twelve_of_every_wrong_list() -> None:
    """Built from positions, the 12 drawn are those a seeded shuffle of the whole written-out
    list puts first (the same draws), all different and none the answer."""
    rng = random.Random(7)
    names = [f"n{i}" for i in range(12)]
    for trial in range(300):
        universe = set(rng.sample(names, rng.randrange(0, 12)))
        answer = sorted(rng.sample(sorted(universe), rng.randrange(0, len(universe) + 1)))
        full = _every_distractor_list(answer, universe)
        assert len({tuple(d) for d in full}) == len(full)  # no two alike: nothing dropped
        assert answer not in full and [] not in full
        got = list_distractors(answer, universe, random.Random(trial))
        assert got == first_shuffled(random.Random(trial), full, 12), (answer, universe)


def test_list_distractors_refuses_an_unsorted_answer() -> None:
    with pytest.raises(ValueError, match="sorted distinct"):
        list_distractors(["b", "a"], {"a", "b", "c"}, random.Random(0))
    with pytest.raises(ValueError, match="sorted distinct"):
        list_distractors(["a", "a"], {"a", "b"}, random.Random(0))
