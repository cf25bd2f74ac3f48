"""The executor: every answer is the output of executing its program.

:func:`execute` runs a list of :class:`~scenesynth.graph.sample.ProgramStep` (or anything with
``op``, ``inputs`` and ``args``) against the graphs of a question and returns each step's
output, using the op implementations of :mod:`scenesynth.programs.ops` and the per-graph
tables of :mod:`scenesynth.programs.tables`. Generators compute their answers with it, and
anyone re-checking a stored sample runs the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

from scenesynth.graph import DEFAULT_RULES, SceneGraph, SpatialRules
from scenesynth.programs.ops import OP_IMPLS, Env
from scenesynth.programs.tables import SceneTables, build_tables


class ProgramError(ValueError):
    """A program cannot be executed (bad op, bad input, ambiguous ``unique`` ...)."""

    def __init__(self, step: int, op: str, message: str) -> None:
        super().__init__(f"step {step} ({op}): {message}")
        self.step = step
        self.op = op


class StepLike(Protocol):
    op: str
    inputs: list[int]
    args: dict[str, Any]


class Step:
    """A program step while its program is built and run: ``op`` applied to the outputs of
    earlier steps (``inputs``, their indices) with literal ``args``. The stored step, with
    its output, is :class:`~scenesynth.graph.sample.ProgramStep`; this one is the engine's
    own, built and read several times per question (a compiled build makes it a native
    object: no attribute lookups)."""

    __slots__ = ("args", "inputs", "op")

    def __init__(self, op: str, inputs: list[int], args: dict[str, Any]) -> None:
        self.op = op
        self.inputs = inputs
        self.args = args

    def __repr__(self) -> str:
        return f"Step(op={self.op!r}, inputs={self.inputs!r}, args={self.args!r})"


UNKNOWN: Final[Any] = object()  # marks a step whose output is not known yet


def execute(
    program: Sequence[StepLike],
    graphs: Sequence[SceneGraph],
    rules: SpatialRules | None = None,
    tables: Sequence[SceneTables] | None = None,
    known: dict[int, Any] | None = None,
) -> list[Any]:
    """Execute ``program`` on ``graphs``; returns every step's output, in step order.

    ``tables`` (from :func:`~scenesynth.programs.tables.build_tables`) may be passed to reuse
    the per-graph lookups; otherwise they are built here under ``rules`` (default: the
    shared spatial rules). ``known`` maps step indices to outputs already obtained by
    executing the very same steps (a memoised referring-expression prefix); those steps are
    not run again. Raises :class:`ProgramError` naming the failing step.
    """
    if tables is None:
        tables = build_tables(graphs, rules if rules is not None else DEFAULT_RULES)
    outputs: list[Any] = [UNKNOWN] * len(program)
    if known:
        for i, out in known.items():
            if 0 <= i < len(outputs):
                outputs[i] = out
    steps = [s if isinstance(s, Step) else Step(s.op, s.inputs, s.args) for s in program]
    return run_unknown(steps, outputs, tables)


def run_unknown(
    program: list[Step], outputs: list[Any], tables: Sequence[SceneTables],
) -> list[Any]:
    """Execute the steps whose entry in ``outputs`` is :data:`UNKNOWN`, in order (fills it
    in and returns it)."""
    env = Env(tables)
    impls = OP_IMPLS
    for i, out in enumerate(outputs):
        if out is not UNKNOWN:
            continue
        step = program[i]
        op = step.op
        step_inputs = step.inputs
        fn = impls.get(op)
        if fn is None:
            raise ProgramError(i, op, "unknown op (not implemented by the executor)")
        inputs = []
        for j in step_inputs:
            if not 0 <= j < i:
                raise ProgramError(i, op, f"inputs {step_inputs} must be earlier steps")
            inputs.append(outputs[j])
        try:
            outputs[i] = fn(step.args, inputs, env)
        except ProgramError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ProgramError(i, op, str(exc)) from exc
    return outputs
