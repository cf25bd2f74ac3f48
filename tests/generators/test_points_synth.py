"""Two marked points on a `synth` run, checked on the exported text against the rendered depth
map (depth/<id>.npz) and the exported masks: every point-depth answer must agree with the depth
map at the two pixels the question gives, and every same-object answer with the masks.

``python tests/generators/test_points_synth.py RUN_DIR`` prints the agreement on any synth
run made with ``--save-depth`` (the figures in the report come from it)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from scenesynth.cli import app

POINT = re.compile(r"\((\d+), (\d+)\)")


def _answer_text(record: dict[str, Any]) -> str:
    """The answer as the user reads it: a multiple-choice reply "C. point 1" gives its option."""
    reply = record["conversations"][1]["value"]
    if record["metadata"]["form"] == "mc":
        reply = reply.split(". ", 1)[1]
    return str(reply)


def _owner(graph: dict[str, Any], x: int, y: int) -> list[str]:
    from pycocotools import mask as mask_utils

    owners = []
    for o in graph["objects"]:
        m = o.get("mask")
        if m is None:
            continue
        pixels = mask_utils.decode({"size": m["size"], "counts": m["counts"].encode("ascii")})
        if pixels[y, x]:
            owners.append(o["id"])
    return owners


def agreement(run: Path) -> dict[str, list[int]]:
    """generator -> [agreeing samples, samples] over the run's exported point questions."""
    records = json.loads((run / "data.json").read_text())
    graphs = {json.loads(line)["image"]["id"]: json.loads(line)
              for line in (run / "graphs.jsonl").read_text().splitlines() if line}
    tally: dict[str, list[int]] = {}
    for r in records:
        gen = r["metadata"]["provenance"]["generator"]
        if not gen.startswith("point_"):
            continue
        graph = graphs[r["metadata"]["provenance"]["image_ids"][0]]
        question = r["conversations"][0]["value"].split("\nOptions:")[0].split("\nChoose")[0]
        points = [(int(x), int(y)) for x, y in POINT.findall(question)]
        assert len(points) == 2, question
        answer = _answer_text(r)
        if gen == "point_same_object":
            owners = [_owner(graph, x, y) for x, y in points]
            expected = "yes" if len(owners[0]) == 1 and owners[0] == owners[1] else "no"
        else:
            depth = np.load(run / graph["image"]["depth_map"])["depth"]
            d1, d2 = (float(depth[y, x]) for x, y in points)
            nearer = "point 1" if d1 < d2 else "point 2"
            farther = "point 2" if d1 < d2 else "point 1"
            expected = nearer if gen == "point_closer" else farther
        counts = tally.setdefault(gen, [0, 0])
        counts[0] += answer == expected
        counts[1] += 1
    return tally


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("points") / "run"
    result = CliRunner().invoke(app, [
        "synth", "--out", str(out), "--scenes", "12", "--seed", "3", "--save-depth",
        "--no-progress", "--generators", "point_closer,point_farther,point_same_object"])
    assert result.exit_code == 0, result.output
    return out


def test_point_answers_agree_with_the_depth_map_and_masks(synth_run: Path) -> None:
    tally = agreement(synth_run)
    assert set(tally) == {"point_closer", "point_farther", "point_same_object"}, tally
    for gen, (agree, total) in tally.items():
        assert total >= 10 and agree == total, (gen, agree, total)


def test_point_questions_read_well(synth_run: Path) -> None:
    records = json.loads((synth_run / "data.json").read_text())
    texts = {r["conversations"][0]["value"] for r in records}
    assert any("point 1 at (" in t and "point 2 at (" in t for t in texts)
    answers = {_answer_text(r) for r in records}
    assert {"point 1", "point 2", "yes", "no"} <= answers


if __name__ == "__main__":
    for name, (agree, total) in sorted(agreement(Path(sys.argv[1])).items()):
        print(f"{name}: {agree}/{total} agree ({100 * agree / max(total, 1):.1f} %)")
