"""The image-selection ops and the position rules that multi-image generators predict with
(``where_position``, ``extreme_position``) agree: the op outputs the label of the rule's
position and fails exactly where the rule gives None (a tie, no single True, too few)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from scenesynth.programs.ops import (
    OP_IMPLS,
    Env,
    extreme_position,
    image_label,
    where_position,
)


def op_output(op: str, values: list[Any]) -> str | None:
    try:
        return str(OP_IMPLS[op]({}, values, Env([])))
    except ValueError:
        return None


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_where_position_is_the_image_where_rule(k: int) -> None:
    for values in itertools.product([True, False, None], repeat=k):
        position = where_position(list(values))
        expected = None if position is None else image_label(position)
        assert op_output("image_where", list(values)) == expected, values
        assert (position is not None) == (list(values).count(True) == 1)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("op", ["image_argmax", "image_argmin"])
def test_extreme_position_is_the_argmax_and_argmin_rule(k: int, op: str) -> None:
    decided = 0
    for values in itertools.product([0, 1, 2, 2.5], repeat=k):
        position = extreme_position(list(values), op == "image_argmax")
        expected = None if position is None else image_label(position)
        assert op_output(op, list(values)) == expected, values
        decided += position is not None
    assert decided > 0 or k == 1  # one image is never an answer
