"""Building already-valid records without re-validating them: the hot path's construction idioms.

Generation builds several records per question (program steps, samples, provenance) from parts
that are valid by construction: every value came out of a typed graph or an executed program.
Running pydantic validation or a dataclass ``__init__`` on each of them again would dominate
the run, so the few places that build such records on the per-question path use these helpers.
They live here, in one module, so that the domain code reads as plain construction.

Compiled with mypyc (``build_backend``), ``Final`` module names become C statics, and a literal
``object.__setattr__`` a direct C call; ``object.__new__`` is looked up once below because a
literal ``object.__new__(cls)`` would be a method lookup per call.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

from pydantic import BaseModel

from scenesynth.graph import ProgramStep

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

new_instance: Final[Callable[[type], Any]] = object.__new__
_PROGRAM_STEP: Final = ProgramStep


def filled(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of the plain class (or non-slotted dataclass) ``cls`` whose attributes are
    ``values``, which must name every field: ``__init__`` and ``__post_init__`` are skipped."""
    instance = new_instance(cls)
    object.__setattr__(instance, "__dict__", values)
    return cast(T, instance)


def fields_set(cls: type[BaseModel]) -> set[str]:
    """The set of all of ``cls``'s field names, for :func:`construct` to share between the
    models it builds: every field is set, so pydantic's only change to such a set (adding a
    field name on attribute assignment) never changes it."""
    return set(cls.model_fields)


def construct(cls: type[M], values: dict[str, Any], fields: set[str]) -> M:
    """Build a pydantic model from already-valid parts without validation.

    Like ``model_construct`` but without its per-field default handling: ``values`` must
    hold every field of ``cls``, and ``fields`` is ``fields_set(cls)`` (shared, see there)."""
    model = new_instance(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", fields)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


def new_step(op: str, inputs: list[int], args: dict[str, Any], output: Any) -> ProgramStep:
    """``ProgramStep(op, inputs, args, output)`` from already-valid parts: the four slots are
    set directly when compiled (cheaper than the interpreted dataclass ``__init__``).
    Interpreted, the ``__init__`` is the cheaper one (about 0.7 us against 2 us for four
    ``object.__setattr__`` calls), and a run builds a dozen steps per question."""
    if not COMPILED:
        return _PROGRAM_STEP(op, inputs, args, output)
    step = new_instance(_PROGRAM_STEP)
    object.__setattr__(step, "op", op)
    object.__setattr__(step, "inputs", inputs)
    object.__setattr__(step, "args", args)
    object.__setattr__(step, "output", output)
    return cast(ProgramStep, step)


# Whether this module runs compiled (mypyc builds its functions as native, not Python, ones).
COMPILED: Final = not isinstance(new_step, types.FunctionType)
