"""The helper kit every generator uses, single- and multi-image alike."""

from __future__ import annotations

from scenesynth.generators.base import GenContext
from scenesynth.programs.tables import SceneTables, build_tables


def tables_for(ctx: GenContext) -> list[SceneTables]:
    """The context's per-graph tables, built on first use and memoised in ``ctx.cache``."""
    tables: list[SceneTables] | None = ctx.cache.get("tables")
    if tables is None:
        tables = build_tables(ctx.graphs, ctx.config.rules)
        ctx.cache["tables"] = tables
    return tables
