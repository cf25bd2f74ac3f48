"""CLEVR agreement: the shared CLEVR questions (count / exist / query_attr / relate / same /
compare-integer / or families), re-expressed as our programs and run by our executor, give the
stored answers, node by node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scenesynth.generators.base import GenConfig
from scenesynth.graph import SceneGraph
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.execute import execute
from scenesynth.programs.tables import build_tables
from scenesynth.sources import load

FAMILIES = ("compare_integer", "one_hop", "same_relate", "single_or", "zero_hop")
KIND_OF = {"size": "size", "color": "color", "material": "material", "shape": "shape"}
RELATE = {"left": "left of", "right": "right of", "front": "in front of", "behind": "behind"}
COMPARE = {"equal_integer": "equal", "less_than": "less", "greater_than": "greater"}


@pytest.fixture(scope="module")
def clevr_graphs(shared_data: Path) -> dict[int, SceneGraph]:
    graphs = list(load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"))
    assert len(graphs) == 1000
    return {int(g.meta["image_index"]): g for g in graphs}


# CLEVR's vocabulary with the synonyms its templates use, for values lost in every program
WORDS = {
    "size": {"large": "large", "big": "large", "small": "small", "tiny": "small"},
    "color": {c: c for c in ("gray", "red", "blue", "green", "brown", "purple", "cyan",
                             "yellow")},
    "material": {"rubber": "rubber", "matte": "rubber", "metal": "metal", "metallic": "metal",
                 "shiny": "metal"},
    "shape": {"cube": "cube", "cubes": "cube", "block": "cube", "blocks": "cube",
              "sphere": "sphere", "spheres": "sphere", "ball": "sphere", "balls": "sphere",
              "cylinder": "cylinder", "cylinders": "cylinder"},
}


def _known(nodes: list[dict[str, Any]], siblings: list[list[dict[str, Any]]], i: int) -> str | None:
    if nodes[i]["value_inputs"]:
        return str(nodes[i]["value_inputs"][0])
    for other in siblings:
        same_shape = len(other) == len(nodes) and other[i]["type"] == nodes[i]["type"]
        if same_shape and other[i]["value_inputs"]:
            return str(other[i]["value_inputs"][0])
    return None


def _value(
    nodes: list[dict[str, Any]], siblings: list[list[dict[str, Any]]], i: int, question: str
) -> str:
    """A node's value. Some per-image nodes lost theirs: a sibling program of the same question
    keeps it, or else the question text names it (the one word of that kind not already used by
    another node)."""
    known = _known(nodes, siblings, i)
    if known is not None:
        return known
    kind = nodes[i]["type"].removeprefix("filter_")
    words = [WORDS[kind][w] for w in question.lower().rstrip("?").replace(";", " ").split()
             if w in WORDS.get(kind, {})]
    used = [_known(nodes, siblings, j) for j, n in enumerate(nodes)
            if j != i and n["type"] == nodes[i]["type"]]
    for u in used:
        if u in words:
            words.remove(u)
    if len(set(words)) != 1:
        raise LookupError(f"node {i} ({nodes[i]['type']}) has no recoverable value")
    return words[0]


def translate(
    nodes: list[dict[str, Any]],
    siblings: list[list[dict[str, Any]]],
    question: str,
    config: GenConfig,
) -> ProgramBuilder:
    """CLEVR program -> our ops (one step per CLEVR node, same indices)."""
    b = ProgramBuilder()
    for i, node in enumerate(nodes):
        t, inputs = node["type"], list(node["inputs"])
        if t == "scene":
            b.add("scene", image=0)
        elif t.startswith("filter_"):
            b.add("filter_attr", inputs, value=_value(nodes, siblings, i, question))
        elif t == "unique":
            b.add("unique", inputs)
        elif t == "relate":
            b.add("relate", inputs, predicate=RELATE[_value(nodes, siblings, i, question)],
                  mode="geometry")
        elif t == "count":
            b.add("count_distinct", inputs, iou=config.duplicate_iou)
        elif t in ("exist", "union", "intersect"):
            b.add(t, inputs)
        elif t.startswith("query_"):
            b.add("query_attr", inputs, kind=KIND_OF[t.removeprefix("query_")])
        elif t.startswith("same_"):
            b.add("same_attr", inputs, kind=KIND_OF[t.removeprefix("same_")])
        elif t in COMPARE:
            b.add(COMPARE[t], inputs)
        else:
            raise NotImplementedError(t)
    return b


def _as_clevr(value: Any) -> Any:
    """Our outputs in CLEVR's terms: references "0:7" -> 7, sets -> sorted index lists."""
    if isinstance(value, str) and value.startswith("0:"):
        return int(value[2:])
    if isinstance(value, list):
        return sorted(_as_clevr(v) for v in value)
    return value


def test_clevr_questions_agree_with_stored_answers(
    shared_data: Path, clevr_graphs: dict[int, SceneGraph]
) -> None:
    config = GenConfig()
    checked = 0
    nodes_checked = 0
    per_family: dict[str, int] = {}
    mismatches: list[str] = []
    for family in FAMILIES:
        data = json.loads((shared_data / "clevr" / f"CLEVR_train_1_{family}.json").read_text())
        for q in data["questions"]:
            programs = q["program"]
            for image_index, answer, nodes in zip(
                q["image_indices"], q["answers"], programs, strict=True
            ):
                graph = clevr_graphs[image_index]
                builder = translate(nodes, programs, q["question"], config)
                outputs = execute(builder.steps, [graph], config.rules,
                                  build_tables([graph], config.rules))
                if outputs[-1] != answer or type(outputs[-1]) is not type(answer):
                    mismatches.append(f"{family} q{q['question_index']} image {image_index}: "
                                      f"{q['question']!r} ours {outputs[-1]!r} stored {answer!r}")
                for i, node in enumerate(nodes):
                    if "_output" in node and _as_clevr(outputs[i]) != node["_output"]:
                        mismatches.append(f"{family} q{q['question_index']} image {image_index} "
                                          f"node {i} {node['type']}: ours {outputs[i]!r} "
                                          f"stored {node['_output']!r}")
                    nodes_checked += 1
                checked += 1
                per_family[family] = per_family.get(family, 0) + 1
    print(f"CLEVR agreement: {checked} (question, image) programs, {nodes_checked} nodes, "
          f"per family {per_family}")
    assert not mismatches, "\n".join(mismatches[:20])
    # every stored question is expressible: 113 questions x 5 images
    assert checked == 565
    assert per_family == {"compare_integer": 50, "one_hop": 150, "same_relate": 90,
                          "single_or": 125, "zero_hop": 150}


def test_clevr_specific_answers(clevr_graphs: dict[int, SceneGraph]) -> None:
    """Hand-checked facts of CLEVR train scene 0 (6 objects)."""
    g = clevr_graphs[0]
    config = GenConfig()

    def run(build: Any) -> Any:
        b = ProgramBuilder()
        build(b)
        return execute(b.steps, [g], config.rules)[-1]

    assert run(lambda b: b.add("count_distinct", [b.add("filter_name", [b.add("scene")],
                                                         name="cube")], iou=0.9)) == 3
    assert run(lambda b: b.add("query_names", [b.add("filter_attr", [b.add("scene")],
                                                      value="brown")])) == ["cylinder", "sphere"]
    # object 1 (large green metal cylinder) is left of object 0 (large blue rubber cube):
    # CLEVR lists 1 in relationships["left"][0]
    assert run(lambda b: b.add("relate", [b.add("unique", [b.add("filter_attr", [
        b.add("scene")], value="blue")])], predicate="left of", mode="geometry")) == [
        "0:1", "0:3", "0:4"]
