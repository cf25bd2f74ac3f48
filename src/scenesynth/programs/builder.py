"""Building a program step by step: :class:`ProgramBuilder`.

A generator appends steps (``add``) and splices in referring expressions
(``add_reference``), runs the program (``run``) and keeps it with its outputs
(``to_program``). While it is built and run, a program is a list of the engine's
:class:`~scenesynth.programs.execute.Step`; ``to_program`` gives the stored
:class:`~scenesynth.graph.sample.ProgramStep` list, each step with its output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from scenesynth._fast import new_step
from scenesynth.graph import ProgramStep
from scenesynth.programs.execute import UNKNOWN, Step, StepLike, run_unknown
from scenesynth.programs.ops import OPS
from scenesynth.programs.tables import SceneTables


class Executed:
    """A sub-program executed once on the graphs of its question, with its outputs: spliced
    whole into the many questions that share it (a referring expression) instead of being
    built and run again for each.

    Splicing shifts the steps' inputs by the offset where they land; the shifted steps and
    their stored :class:`~scenesynth.graph.sample.ProgramStep` are built once per offset and
    shared by the questions that splice them there (complete, never mutated)."""

    __slots__ = ("_at", "outputs", "steps")

    def __init__(self, steps: list[Step], outputs: list[Any]) -> None:
        if len(outputs) != len(steps):
            raise ValueError(f"{len(outputs)} outputs for {len(steps)} steps")
        self.steps = steps  # inputs index into this list
        self.outputs = outputs
        self._at: dict[int, tuple[list[Step], list[ProgramStep]]] = {}

    def at(self, offset: int) -> tuple[list[Step], list[ProgramStep]]:
        """The steps spliced at ``offset`` (inputs shifted by it) and their stored steps."""
        spliced = self._at.get(offset)
        if spliced is None:
            outputs = self.outputs
            steps = [Step(s.op, [j + offset for j in s.inputs], s.args) for s in self.steps]
            stored = [new_step(s.op, s.inputs, s.args, outputs[i]) for i, s in enumerate(steps)]
            spliced = self._at[offset] = (steps, stored)
        return spliced


class ReferenceLike(Protocol):
    """A referring expression's program (see :mod:`scenesynth.generators.refer`)."""

    @property
    def steps(self) -> Sequence[StepLike]: ...

    def executed(self) -> Executed | None:
        """The steps with their outputs, or None while they cannot be executed."""
        ...


class ProgramBuilder:
    """Appends steps and hands back their indices; ``extend`` splices in a sub-program.

    Steps spliced from a memoised reference carry their outputs (obtained by executing
    exactly those steps on the same graphs) and are shared, already complete, between the
    questions that use the reference: :meth:`run` executes only the question's own steps
    and :meth:`to_program` completes only those."""

    __slots__ = ("_outputs", "_stored", "steps")

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._outputs: list[Any] = []  # per step: its known output or UNKNOWN
        # per step: the stored step of a spliced memoised reference (complete, shared), or
        # None for a step built here (to_program stores it with its output)
        self._stored: list[ProgramStep | None] = []

    @property
    def known(self) -> dict[int, Any]:
        """step index -> output of a memoised sub-program (for ``execute``'s ``known``)."""
        return {i: out for i, out in enumerate(self._outputs) if out is not UNKNOWN}

    def add(self, op: str, inputs: Sequence[int] = (), **args: Any) -> int:
        if op not in OPS:
            raise ValueError(f"op {op!r} has no definition in programs.ops.OPS")
        steps = self.steps
        steps.append(Step(op, list(inputs), args))
        self._outputs.append(UNKNOWN)
        self._stored.append(None)
        return len(steps) - 1

    def extend(self, steps: Sequence[StepLike], outputs: Sequence[Any] | None = None) -> int:
        """Append ``steps`` (whose inputs index into ``steps``); returns the last new index.

        ``outputs``: the outputs of executing exactly these steps on the same graphs (a
        memoised reference); :meth:`run` then reuses them instead of re-running."""
        offset = len(self.steps)
        for s in steps:
            self.steps.append(Step(s.op, [j + offset for j in s.inputs], s.args))
        if outputs is not None:
            if len(outputs) != len(steps):
                raise ValueError(f"{len(outputs)} outputs for {len(steps)} steps")
            self._outputs.extend(outputs)
        else:
            self._outputs.extend([UNKNOWN] * len(steps))
        self._stored.extend([None] * len(steps))
        return len(self.steps) - 1

    def add_reference(self, reference: ReferenceLike) -> int:
        """Splice in a referring expression's steps (with its memoised outputs); returns the
        index of its final ``unique`` step."""
        executed = reference.executed()
        if executed is None:
            return self.extend(reference.steps)
        # complete steps, shared with every question that splices the reference here
        steps, stored = executed.at(len(self.steps))
        self.steps.extend(steps)
        self._outputs.extend(executed.outputs)
        self._stored.extend(stored)
        return len(self.steps) - 1

    def run(self, tables: Sequence[SceneTables]) -> list[Any]:
        """Execute the program on the graphs of ``tables``: steps with known outputs are
        reused, every other step is executed. Returns every step's output."""
        return run_unknown(self.steps, list(self._outputs), tables)

    def to_program(self, outputs: Sequence[Any]) -> list[ProgramStep]:
        """The steps with their outputs (from :meth:`run`), as stored with the question."""
        steps = self.steps
        if len(outputs) != len(steps):
            raise ValueError(f"{len(outputs)} outputs for {len(steps)} steps")
        program: list[ProgramStep] = []
        stored = self._stored
        for i in range(len(steps)):
            done = stored[i]
            if done is None:
                step = steps[i]
                done = new_step(step.op, step.inputs, step.args, outputs[i])
            program.append(done)
        return program
