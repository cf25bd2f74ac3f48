"""Building a program step by step: :class:`ProgramBuilder`.

A generator appends steps (``add``) and splices in referring expressions
(``add_reference``), runs the program (``run``) and keeps it with its outputs
(``to_program``). Every step is a :class:`~scenesynth.graph.sample.ProgramStep`, from the
first ``add`` to the stored sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from scenesynth._fast import new_step
from scenesynth.graph import ProgramStep
from scenesynth.programs.execute import UNKNOWN, StepLike, run_unknown
from scenesynth.programs.ops import OPS
from scenesynth.programs.tables import SceneTables


class ReferenceLike(Protocol):
    """A referring expression's program (see :mod:`scenesynth.generators.refer`)."""

    @property
    def steps(self) -> Sequence[StepLike]: ...

    @property
    def outputs(self) -> list[Any] | None: ...

    def program_steps(self, offset: int) -> list[ProgramStep] | None: ...


class ProgramBuilder:
    """Appends steps and hands back their indices; ``extend`` splices in a sub-program.

    Steps spliced from a memoised reference carry their outputs (obtained by executing
    exactly those steps on the same graphs) and are shared, already complete, between the
    questions that use the reference: :meth:`run` executes only the question's own steps
    and :meth:`to_program` completes only those."""

    __slots__ = ("_outputs", "_own", "steps")

    def __init__(self) -> None:
        self.steps: list[ProgramStep] = []
        self._outputs: list[Any] = []  # per step: its known output or UNKNOWN
        self._own: list[bool] = []  # per step: built here (its output is filled in here)

    @property
    def known(self) -> dict[int, Any]:
        """step index -> output of a memoised sub-program (for ``execute``'s ``known``)."""
        return {i: out for i, out in enumerate(self._outputs) if out is not UNKNOWN}

    def add(self, op: str, inputs: Sequence[int] = (), **args: Any) -> int:
        if op not in OPS:
            raise ValueError(f"op {op!r} has no definition in programs.ops.OPS")
        steps = self.steps
        steps.append(new_step(op, list(inputs), args, None))
        self._outputs.append(UNKNOWN)
        self._own.append(True)
        return len(steps) - 1

    def extend(self, steps: Sequence[StepLike], outputs: Sequence[Any] | None = None) -> int:
        """Append ``steps`` (whose inputs index into ``steps``); returns the last new index.

        ``outputs``: the outputs of executing exactly these steps on the same graphs (a
        memoised reference); :meth:`run` then reuses them instead of re-running."""
        offset = len(self.steps)
        for s in steps:
            self.steps.append(new_step(s.op, [j + offset for j in s.inputs], s.args, None))
        if outputs is not None:
            if len(outputs) != len(steps):
                raise ValueError(f"{len(outputs)} outputs for {len(steps)} steps")
            self._outputs.extend(outputs)
        else:
            self._outputs.extend([UNKNOWN] * len(steps))
        self._own.extend([True] * len(steps))
        return len(self.steps) - 1

    def add_reference(self, reference: ReferenceLike) -> int:
        """Splice in a referring expression's steps (with its memoised outputs); returns the
        index of its final ``unique`` step."""
        prebuilt = reference.program_steps(len(self.steps))
        if prebuilt is None:
            return self.extend(reference.steps, reference.outputs)
        # complete steps: the offset inputs, the args and the outputs
        self.steps.extend(prebuilt)
        self._outputs.extend([step.output for step in prebuilt])
        self._own.extend([False] * len(prebuilt))
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
        own = self._own
        for i in range(len(steps)):
            if own[i]:
                steps[i].output = outputs[i]
        return list(steps)
