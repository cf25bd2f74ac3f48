"""graph.spatial_relation against human / engine annotations in the shared samples."""

from __future__ import annotations

import json
from pathlib import Path

from scenesynth.graph import spatial_relation
from scenesynth.sources import load


def test_clevr_relationship_lists_reproduced_exactly(shared_data: Path) -> None:
    """j in relationships[rel][i] iff spatial_relation(obj_j, obj_i, rel, camera) is True, for
    all 1000 scenes x 4 relations (one list per object each)."""
    path = shared_data / "clevr" / "CLEVR_train_scenes_1000.json"
    raw = json.loads(path.read_text())["scenes"]
    graphs = list(load(path))
    assert len(graphs) == len(raw) == 1000
    tables_matching = lists_checked = 0
    mismatches: list[str] = []
    for scene, graph in zip(raw, graphs, strict=True):
        objs = graph.objects
        for rel in ("left", "right", "front", "behind"):
            table_ok = True
            for i, expected in enumerate(scene["relationships"][rel]):
                derived = [
                    j for j in range(len(objs))
                    if j != i
                    and spatial_relation(objs[j], objs[i], rel, camera=graph.camera) is True
                ]
                lists_checked += 1
                if sorted(expected) != derived:
                    table_ok = False
                    mismatches.append(f"{graph.image.id} {rel}[{i}]: {expected} != {derived}")
            tables_matching += table_ok
    assert mismatches == []
    assert tables_matching == 4000
    assert lists_checked == 6455 * 4  # one list per object and relation


def test_gqa_left_right_annotations_from_boxes(shared_data: Path) -> None:
    checked, wrong = 0, []
    for graph in load(shared_data / "gqa" / "debug_sceneGraphs.json"):
        by_id = {o.id: o for o in graph.objects}
        for rel in graph.relations:
            if rel.predicate not in ("to the left of", "to the right of"):
                continue
            checked += 1
            decided = spatial_relation(
                by_id[rel.subject], by_id[rel.object], rel.predicate, image=graph.image
            )
            if decided is not True:
                wrong.append(f"{graph.image.id}: {rel.triplet()} -> {decided}")
    assert checked == 146
    assert wrong == []
