"""Stable JSON / JSONL serialisation of scene graphs, and the JSON Schema export.

Each line of a scene-graph JSONL file is one :class:`SceneGraph` as JSON, carrying
``schema_version``. Fields are written in declaration order and ``None``/empty defaults are
omitted, so the same graph always serialises to the same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from scenesynth.graph.model import SCHEMA_VERSION, SceneGraph
from scenesynth.ioutil import atomic_write


def graph_to_json(graph: SceneGraph) -> str:
    return graph.model_dump_json(exclude_none=True, exclude_defaults=False)


def graph_from_json(text: str | bytes) -> SceneGraph:
    graph = SceneGraph.model_validate_json(text)
    if graph.schema_version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ValueError(
            f"schema_version {graph.schema_version!r} is not compatible with {SCHEMA_VERSION!r}"
        )
    return graph


def write_graphs_jsonl(graphs: Iterable[SceneGraph], path: str | os.PathLike[str]) -> int:
    """Write graphs to ``path`` atomically; returns how many were written."""
    n = 0
    with atomic_write(path) as fh:
        for g in graphs:
            fh.write(graph_to_json(g))
            fh.write("\n")
            n += 1
    return n


def scene_graph_json_schema() -> dict[str, Any]:
    schema = SceneGraph.model_json_schema()
    schema["$id"] = f"https://scenesynth.dev/schema/scene-graph-{SCHEMA_VERSION}.json"
    schema["title"] = "scenesynth SceneGraph"
    return schema


def dump_json_schema(path: str | os.PathLike[str]) -> None:
    with atomic_write(path) as fh:
        json.dump(scene_graph_json_schema(), fh, indent=2, sort_keys=True)
