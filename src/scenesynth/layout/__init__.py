"""Layout stage: spatial knowledge graph -> boxes (pixels) and depths (metres).

Public API::

    from scenesynth.layout import solve_layout, LayoutConfig
    result = solve_layout(kg, seed=7)          # LayoutResult
    if result.ok:
        graph = result.graph                   # every object has .box and .depth
    else:
        print(result.conflicts)                # [Conflict(reason, triplets), ...]
"""

from scenesynth.layout.solver import (
    Conflict,
    LayoutConfig,
    LayoutInputError,
    LayoutResult,
    LayoutSolver,
    is_outdoor,
    solve_layout,
    static_conflicts,
)

__all__ = [
    "Conflict",
    "LayoutConfig",
    "LayoutInputError",
    "LayoutResult",
    "LayoutSolver",
    "is_outdoor",
    "solve_layout",
    "static_conflicts",
]
