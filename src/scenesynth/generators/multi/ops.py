"""Executor implementations of the multi-image ops (definitions in ``generators.base.OPS``).

They are registered into the shared executor (:mod:`scenesynth.generators.program`) through its
``op_impl`` hook when this package is imported, so ``program.execute`` runs multi-image
programs like any other.
"""

from __future__ import annotations

from typing import Any

from scenesynth.generators.program import OP_IMPLS, op_impl


def image_label(position: int) -> str:
    """``"Image 3"`` for 0-based position 2: the name images carry in question text."""
    return f"Image {position + 1}"


# Numbers are typed ``int | float``, never ``float``: compiled (mypyc), a ``float`` annotation
# converts the counts it carries to floats, and a count answer must stay an int.
Number = int | float


def _numbers(inputs: list[Any]) -> list[Number]:
    for v in inputs:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"expected a number, got {v!r}")
    return inputs


def _image_extreme(inputs: list[Any], largest: bool) -> str:
    values = _numbers(inputs)
    if len(values) < 2:
        raise ValueError(f"needs at least two inputs, got {len(values)}")
    best = max(values) if largest else min(values)
    positions = [i for i, v in enumerate(values) if v == best]
    if len(positions) != 1:
        raise ValueError(f"tie between {[image_label(i) for i in positions]}")
    return image_label(positions[0])


@op_impl("image_argmax")
def _image_argmax(args: dict[str, Any], inputs: list[Any], env: Any) -> str:
    return _image_extreme(inputs, largest=True)


@op_impl("image_argmin")
def _image_argmin(args: dict[str, Any], inputs: list[Any], env: Any) -> str:
    return _image_extreme(inputs, largest=False)


@op_impl("image_where")
def _image_where(args: dict[str, Any], inputs: list[Any], env: Any) -> str:
    positions = [i for i, v in enumerate(inputs) if v is True]
    if len(positions) != 1:
        raise ValueError(f"expected exactly one True input, got {len(positions)}")
    return image_label(positions[0])


@op_impl("sum")
def _sum(args: dict[str, Any], inputs: list[Any], env: Any) -> Number:
    return sum(_numbers(inputs))


@op_impl("count_true")
def _count_true(args: dict[str, Any], inputs: list[Any], env: Any) -> int:
    return sum(1 for v in inputs if v is True)


@op_impl("subtract")
def _subtract(args: dict[str, Any], inputs: list[Any], env: Any) -> Number:
    if len(inputs) != 2:
        raise ValueError(f"expected 2 inputs, got {len(inputs)}")
    x, y = _numbers(inputs)
    return x - y


def _string_lists(inputs: list[Any]) -> list[set[str]]:
    if not inputs:
        raise ValueError("expected at least one input")
    out = []
    for v in inputs:
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise ValueError(f"expected a list of strings, got {v!r}")
        out.append(set(v))
    return out


@op_impl("common_values")
def _common_values(args: dict[str, Any], inputs: list[Any], env: Any) -> list[str]:
    first, *rest = _string_lists(inputs)
    return sorted(first.intersection(*rest))


@op_impl("difference_values")
def _difference_values(args: dict[str, Any], inputs: list[Any], env: Any) -> list[str]:
    first, *rest = _string_lists(inputs)
    return sorted(first.difference(*rest))


@op_impl("relate_set")
def _relate_set(args: dict[str, Any], inputs: list[Any], env: Any) -> list[str]:
    if len(inputs) != 1:
        raise ValueError(f"expected 1 input, got {len(inputs)}")
    relate = OP_IMPLS["relate"]
    found: set[str] = set()
    for o in inputs[0]:
        found.update(relate(args, [o], env))
    return sorted(found)


@op_impl("attr_values")
def _attr_values(args: dict[str, Any], inputs: list[Any], env: Any) -> list[str]:
    if len(inputs) != 1:
        raise ValueError(f"expected 1 input, got {len(inputs)}")
    kind = str(args["kind"])
    values: set[str] = set()
    for r in inputs[0]:
        values.update(env.of(r).attr_by_kind[r].get(kind, ()))
    return sorted(values)
