from __future__ import annotations

import json

from scenesynth.graph import Box, ImageInfo, Relation, RelationSource, SceneGraph, SceneObject
from scenesynth.refine import add_derived_relations, filter_contradictions


def _two_objects(predicate: str) -> SceneGraph:
    return SceneGraph(
        image=ImageInfo(id="img", width=100, height=100),
        objects=[
            SceneObject(id="a", name="cup", box=Box(x0=0, y0=40, x1=20, y1=60)),
            SceneObject(id="b", name="plate", box=Box(x0=70, y0=40, x1=90, y1=60)),
        ],
        relations=[Relation(subject="a", predicate=predicate, object="b")],
    )


def test_contradicting_relation_is_removed_and_reported() -> None:
    graph, rejected = filter_contradictions(_two_objects("to the right of"))
    assert graph.relations == []
    assert len(rejected) == 1
    assert rejected[0].triplet == ("a", "to the right of", "b")
    assert rejected[0].index == 0
    assert "right of" in rejected[0].reason


def test_consistent_relation_is_kept_and_marked_spatial() -> None:
    graph, rejected = filter_contradictions(_two_objects("to the left of"))
    assert rejected == []
    assert [r.triplet() for r in graph.relations] == [("a", "to the left of", "b")]
    assert graph.relations[0].category == "spatial"


def test_non_geometric_predicates_are_untouched() -> None:
    graph, rejected = filter_contradictions(_two_objects("on"))
    assert rejected == [] and len(graph.relations) == 1


def test_derived_relations_added_once() -> None:
    graph = add_derived_relations(_two_objects("to the left of"))
    triplets = {r.triplet() for r in graph.relations}
    assert ("b", "right of", "a") in triplets
    assert ("a", "to the left of", "b") in triplets
    derived = [r for r in graph.relations if r.source == RelationSource.DERIVED]
    # the annotated "to the left of" already covers (a, left of, b): only its inverse is new
    assert {r.triplet() for r in derived} == {("b", "right of", "a")}


def test_gqa_left_right_annotations_survive_filtering(shared_data) -> None:
    raw = json.loads((shared_data / "gqa" / "debug_sceneGraphs.json").read_text())
    total_lr = 0
    for image_id, g in raw.items():
        objects = [
            SceneObject(id=oid, name=o["name"], box=Box.from_xywh(o["x"], o["y"], o["w"], o["h"]))
            for oid, o in g["objects"].items()
        ]
        relations = [
            Relation(subject=oid, predicate=r["name"], object=r["object"])
            for oid, o in g["objects"].items()
            for r in o["relations"]
            if r["name"] in ("to the left of", "to the right of")
        ]
        total_lr += len(relations)
        graph = SceneGraph(
            image=ImageInfo(id=image_id, width=g["width"], height=g["height"]),
            objects=objects,
            relations=relations,
        )
        kept, rejected = filter_contradictions(graph)
        assert rejected == []
        assert len(kept.relations) == len(relations)
    assert total_lr == 146


def test_atomic_write_follows_umask(tmp_path) -> None:
    import os
    import stat

    from scenesynth.ioutil import atomic_write

    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "out.txt") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644
    assert (tmp_path / "out.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
