"""The ``refine`` stage over a file: graphs in, refined graphs + patches + failures + report
out (streamed, each file renamed into place when the run ends; a re-run replays the model
answers from the cache, so a killed run re-run gives the same bytes and sends no request it
already made)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from scenesynth.graph import SceneGraph, graph_to_json
from scenesynth.ioutil import atomic_write
from scenesynth.models.review import Editor, Judge, Teacher
from scenesynth.refine.density import DensityCounter
from scenesynth.refine.models import RefineConfig, RefineResult, complete_graphs, edit_graphs

BATCH = 64  # graphs whose requests are in flight together


def _batches(graphs: Iterable[SceneGraph], n: int) -> Iterator[list[SceneGraph]]:
    batch: list[SceneGraph] = []
    for g in graphs:
        batch.append(g)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def refine_graphs(graphs: Iterable[SceneGraph], teacher: Teacher, judge: Judge,
                  editor: Editor | None, config: RefineConfig, batch: int = BATCH
                  ) -> Iterator[RefineResult]:
    for chunk in _batches(graphs, batch):
        results = complete_graphs(chunk, teacher, judge, config)
        if editor is not None:
            edit_graphs(results, editor, config)
        yield from results


def refine_to_dir(graphs: Iterable[SceneGraph], out: Path, teacher: Teacher, judge: Judge,
                  editor: Editor | None, config: RefineConfig,
                  input_failures: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run the stage and write ``graphs.jsonl``, ``patches.jsonl``, ``failures.jsonl`` and
    ``report.json`` under ``out`` (streamed, one batch in memory; each file appears whole, under
    its name, only when the run ends); return the report."""
    started = time.monotonic()
    before, after = DensityCounter(), DensityCounter()
    kept: Counter[str] = Counter()
    kept_by_category: Counter[str] = Counter()
    edits: Counter[str] = Counter()
    dropped: Counter[str] = Counter()

    def remember(gs: Iterable[SceneGraph]) -> Iterator[SceneGraph]:
        for g in gs:
            before.add(g)
            yield g

    def write_failures(fh: Any, failures: Iterable[dict[str, Any]]) -> None:
        for f in failures:
            dropped[f"{f['stage']}:{f['reason']}"] += 1
            fh.write(json.dumps(f, sort_keys=True, ensure_ascii=False) + "\n")

    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "graphs.jsonl") as graphs_fh, \
            atomic_write(out / "patches.jsonl") as patches_fh, \
            atomic_write(out / "failures.jsonl") as failures_fh:
        write_failures(failures_fh, input_failures or [])
        for r in refine_graphs(remember(graphs), teacher, judge, editor, config):
            after.add(r.graph)
            graphs_fh.write(graph_to_json(r.graph) + "\n")
            for p in r.patches:
                patches_fh.write(json.dumps(p, sort_keys=True, ensure_ascii=False) + "\n")
                if p["stage"] == "edit":
                    edits.update(op["op"] for op in p["applied"])
            write_failures(failures_fh, r.failures)
            kept.update(r.kept)
            kept_by_category.update(r.kept_by_category)
    roles = {"teacher": teacher, "judge": judge, **({"editor": editor} if editor else {})}
    role_info = {name: {**role.provenance, "images_without_pixels": len(role.images_missing)}
                 for name, role in roles.items()}
    # request counters differ between a first run and its cached re-run: kept out of the
    # report so that the report, like the graphs, is the same bytes on a re-run
    client_stats = {role.backend.model_id: role.backend.stats.as_dict()
                    for role in roles.values()}
    report = {
        "config": {"k": config.k, "per_subject": config.per_subject,
                   "keep_undecided": config.keep_undecided},
        "roles": role_info,
        "density": {"before": before.result(), "after": after.result()},
        "kept_by_check": dict(sorted(kept.items())),
        "kept_by_category": dict(sorted(kept_by_category.items())),
        "edits_applied": dict(sorted(edits.items())),
        "dropped_by_reason": dict(sorted(dropped.items())),
    }
    with atomic_write(out / "report.json") as fh:
        json.dump(report, fh, indent=2, sort_keys=True)
    with atomic_write(out / "client_stats.json") as fh:
        json.dump(client_stats, fh, indent=2, sort_keys=True)
    return {**report, "client_stats": client_stats,
            "seconds": round(time.monotonic() - started, 3)}
