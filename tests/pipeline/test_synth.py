"""Synthesizing runs: verification by construction, end to end run, worker independence, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from engine_support import output_files
from kgs import random_kg
from pycocotools import mask as mask_utils
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.graph import SceneGraph, graph_from_json, spatial_relation
from scenesynth.layout import solve_layout
from scenesynth.pipeline import SynthesizeConfig, run
from scenesynth.pipeline.synthesize import (
    KnowledgeKgFactory,
    demo_config,
    synthesis_config,
    synthesize_image,
)
from scenesynth.quality.rules import drop_small_objects, unsatisfied_relations, verify_rendered
from scenesynth.render import CpuRenderer


def _rederive(graph: SceneGraph) -> list[tuple[str, str, str]]:
    by_id = {o.id: o for o in graph.objects}
    return [r.triplet() for r in graph.relations
            if spatial_relation(by_id[r.subject], by_id[r.object], r.predicate,
                                graph.image) is not True]


def _check_emitted(n: int, factory, canvas_check_every: int = 1) -> Counter[str]:  # type: ignore[no-untyped-def]
    config = SynthesizeConfig(scenes=n)
    renderer = CpuRenderer()
    outcome: Counter[str] = Counter()
    for index in range(n):
        result = synthesize_image(index, 0, factory, config, renderer)
        graph, image = result.graph, result.image
        outcome.update(result.counters)
        if graph is None:
            outcome["dropped"] += 1
            continue
        outcome["emitted"] += 1
        outcome["relations"] += len(graph.relations)
        # 100 % of the triplets hold on the RENDERED boxes (from masks) and depths
        assert _rederive(graph) == [], f"image {index}"
        assert image.size == (graph.image.width, graph.image.height)
        if index % canvas_check_every == 0:
            for obj in graph.objects:
                assert obj.mask is not None and obj.box is not None
                rle = {"size": list(obj.mask.size), "counts": str(obj.mask.counts).encode()}
                m = mask_utils.decode(rle)
                rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
                assert np.allclose(obj.box.as_tuple(),
                                   (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1), atol=1.0)
                assert m.sum() >= config.min_visible_pixels
    return outcome


def test_emitted_images_keep_every_triplet_after_rendering() -> None:
    outcome = _check_emitted(120, random_kg)
    assert outcome["emitted"] >= 117, outcome
    assert outcome["relations"] > 700


@pytest.mark.slow
def test_1000_knowledge_base_kgs_rendered_and_rederived() -> None:
    """1000 KGs from the built-in KB: every emitted image keeps 100 % of its triplets when
    re-derived from the rendered masks/depth (all 1000 are rendered at 512 x 512)."""
    outcome = _check_emitted(1000, KnowledgeKgFactory(), canvas_check_every=10)
    assert outcome["emitted"] + outcome["dropped"] == 1000
    assert outcome["emitted"] >= 995, outcome  # unsatisfiable KGs are resampled, not dropped
    assert outcome["relations"] > 6000


def test_verification_drops_small_objects_with_their_relations() -> None:
    graph = solve_layout(random_kg(11), 11).graph
    assert graph is not None
    rendered = CpuRenderer().render(graph, 0).graph
    pixels = {o.id: o.meta["visible_pixels"] for o in rendered.objects}
    threshold = min(pixels.values()) + 1
    small = [oid for oid, n in pixels.items() if n < threshold]
    kept, dropped, lost = drop_small_objects(rendered, threshold)
    assert dropped == small and 0 < len(small) < len(pixels)
    assert [o.id for o in kept.objects] == [o.id for o in rendered.objects if o.id not in small]
    assert lost == [r.triplet() for r in rendered.relations
                    if r.subject in small or r.object in small]
    assert all(r.subject not in small and r.object not in small for r in kept.relations)
    assert verify_rendered(rendered, 1).ok


def test_a_relation_broken_by_rendering_is_detected() -> None:
    graph = solve_layout(random_kg(2), 2).graph
    assert graph is not None
    rel = next(r for r in graph.relations if r.predicate in ("left of", "right of"))
    a, b = graph.object(rel.subject), graph.object(rel.object)
    swapped = graph.model_copy(update={"objects": [
        o.model_copy(update={"box": b.box}) if o.id == a.id
        else o.model_copy(update={"box": a.box}) if o.id == b.id else o
        for o in graph.objects
    ]})
    assert rel.triplet() in unsatisfied_relations(swapped)
    assert unsatisfied_relations(graph) == []


def _run(out: Path, workers: int, save_depth: bool = False) -> None:
    config = synthesis_config(out, SynthesizeConfig(scenes=12, save_depth=save_depth), seed=5,
                              per_image=1, workers=workers, shard_size=4, progress=False)
    summary = run(config, kg_factory=random_kg)
    assert summary.export["validation"]["ok"], summary.export["validation"]["errors"]


def test_synthesize_end_to_end_writes_data_card_and_failures(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out, 1, save_depth=True)
    # LLaVA-1.5 file (single image) + LLaVA-OneVision file (multi-image groups)
    data = [*json.loads((out / "data.json").read_text()),
            *json.loads((out / "data_multi_image.json").read_text())]
    card = json.loads((out / "card.json").read_text())
    graphs = [graph_from_json(line) for line in (out / "graphs.jsonl").read_text().splitlines()]
    images = sorted((out / "images").iterdir())
    assert card["counts"]["images"] == len(graphs) == len(images) == 12
    assert card["counts"]["samples_exported"] == len(data) > 12 * 10
    assert card["export"]["validation_ok"] is True
    # the images contain OpenMoji artwork (CC BY-SA 4.0): the card carries its attribution
    assert "All emojis designed by OpenMoji" in (out / "DATASET_CARD.md").read_text()
    assert sum(card["samples_by_generator"].values()) == card["counts"]["samples_generated"]
    assert card["relation_distribution"] == dict(
        Counter(r.predicate for g in graphs for r in g.relations).most_common())
    assert set(card["answer_distribution"]) == {r["metadata"]["provenance"]["family"]
                                                for r in data}
    failures = (out / "failures.jsonl").read_text().splitlines()
    assert sum(card["failures_by_reason"].values()) == len(failures)
    # every record points at an image we rendered, relative to the data file
    for record in data:
        for path in [record["image"]] if isinstance(record["image"], str) else record["image"]:
            assert (out / path).is_file()
    md = (out / "DATASET_CARD.md").read_text()
    assert "## Answer distribution per family" in md and "validation passed" in md
    for g in graphs:
        assert g.image.path is not None and (out / g.image.path).is_file()
        assert _rederive(g) == []
        # the saved depth map shows each object's depth on its visible mask
        assert g.image.depth_map is not None
        depth = np.load(out / g.image.depth_map)["depth"]
        assert depth.dtype == np.float32 and depth.shape == (512, 512)
        for obj in g.objects:
            assert obj.mask is not None
            m = mask_utils.decode({"size": list(obj.mask.size),
                                   "counts": str(obj.mask.counts).encode()}).astype(bool)
            assert np.all(depth[m] == np.float32(obj.depth))


def test_output_does_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    _run(tmp_path / "one", 1)
    _run(tmp_path / "two", 2)
    for name in ("data.json", "data_multi_image.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    for image in (tmp_path / "one" / "images").iterdir():
        assert image.read_bytes() == (tmp_path / "two" / "images" / image.name).read_bytes()
    # and every other file (manifest, shards, graphs, failures, card) but the timings
    assert output_files(tmp_path / "one") == output_files(tmp_path / "two")


def test_cli_synth_with_the_knowledge_base(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["synth", "--scenes", "6", "--out", str(out),
                                      "--per-image", "1", "--seed", "3", "--no-progress"])
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["counts"]["images"] == 6
    assert card["export"]["validation_ok"] is True
    assert card["config"]["synthesize"]["knowledge"] == "kb"
    assert "images rendered" in result.output


def test_cli_rejects_bad_options(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--scenes", "2", "--out", str(tmp_path),
                                      "--format", "csv"])
    assert result.exit_code != 0 and "unknown format 'csv'" in result.output
    result = CliRunner().invoke(app, ["synth", "--scenes", "2", "--out", str(tmp_path),
                                      "--objects", "5,2"])
    assert result.exit_code != 0 and "--objects" in result.output


def test_demo_is_sized_for_its_targets() -> None:
    config = demo_config("x")
    assert config.synthesize is not None and config.synthesize.scenes >= 200
    assert config.format == "llava" and config.workers == 2


def test_images_and_graphs_do_not_depend_on_pythonhashseed() -> None:
    script = (
        "import hashlib, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from kgs import random_kg\n"
        "from scenesynth.pipeline import SynthesizeConfig\n"
        "from scenesynth.pipeline.synthesize import KnowledgeKgFactory, synthesize_image\n"
        "config = SynthesizeConfig(scenes=3)\n"
        "h = hashlib.sha256()\n"
        "for factory in (random_kg, KnowledgeKgFactory()):\n"
        "    for i in range(3):\n"
        "        r = synthesize_image(i, 9, factory, config)\n"
        "        h.update(r.image.tobytes()); h.update(r.graph.model_dump_json().encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        run = subprocess.run(
            [sys.executable, "-c", script, str(Path(__file__).parents[1] / "support")],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True, text=True, check=True,
        )
        digests.add(run.stdout.strip())
    assert len(digests) == 1


def test_knowledge_kgs_carry_their_scene_setting() -> None:
    from scenesynth.knowledge import load_kb

    kb = load_kb()
    factory = KnowledgeKgFactory()
    settings = Counter()
    for seed in range(60):
        kg = factory(seed)
        assert kg.meta["setting"] == kb.scenes[kg.meta["scene"]].setting
        settings[kg.meta["setting"]] += 1
    assert settings["indoor"] > 5 and settings["outdoor"] > 5
