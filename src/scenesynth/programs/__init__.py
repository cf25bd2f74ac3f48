"""The program engine (CLEVR-style), standing alone: it knows scene graphs, not generators.

* :mod:`.ops`: every op's one-line definition and its implementation, side by side
  (:data:`~.ops.OPS` is the vocabulary and the independent checker's specification);
* :mod:`.tables`: per-graph indexes and memoised geometry (the rules are
  :mod:`scenesynth.graph.geometry`'s);
* :mod:`.execute`: :func:`~.execute.execute` and :class:`~.execute.ProgramError`;
* :mod:`.builder`: :class:`~.builder.ProgramBuilder`, how generators write programs.
"""

from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.execute import ProgramError, execute
from scenesynth.programs.ops import OPS
from scenesynth.programs.tables import SceneTables, build_tables

__all__ = ["OPS", "ProgramBuilder", "ProgramError", "SceneTables", "build_tables", "execute"]
