"""Dataset card plots (matplotlib) and the Hub layout of the export folder.

Both cards (``generate`` and ``synth``) draw the same plots through
``quality/card_plots.py``; the export folder gets a README with the Hub's YAML ``configs`` so
``datasets.load_dataset(folder)`` reads its Parquet files.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PIL import Image
from run_folders import make_coco_run, make_synth_run

from scenesynth.quality.card_plots import CardStats, image_bucket, write_plots
from scenesynth.rundata import RunData


def _check_card(run: Path, export: Path) -> list[Path]:
    card = (run / "DATASET_CARD.md").read_text("utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", card)
    assert len(links) >= 5
    pngs = [run / link for link in links]
    for png in pngs:
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width > 250 and im.height > 150
            # Not a blank canvas: a plot has several colours.
            assert len(im.convert("RGB").getcolors(1 << 20) or []) > 20
    readme = (export / "README.md").read_text("utf-8")
    header = yaml.safe_load(readme.split("---\n")[1])
    assert header["configs"][0]["data_files"] == [{"split": "train", "path": "data.parquet"}]
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", readme):
        assert (export / link).is_file()
    return pngs


def test_generate_card_plots_and_load_dataset(shared_data: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    run = make_coco_run(shared_data, tmp_path / "coco", fmt="parquet")
    pngs = _check_card(run, run / "export")
    assert {p.name for p in pngs} >= {"answers_per_family.png", "yes_share_per_template.png",
                                      "objects_relations_per_image.png", "mc_position.png",
                                      "blind_baseline.png"}
    samples = list(RunData(run).samples())
    loaded = datasets.load_dataset(str(run / "export"), cache_dir=str(tmp_path / "hf_cache"))
    assert loaded["train"].num_rows == len(samples)
    assert set(loaded["train"].features) >= {"id", "image", "messages", "metadata"}


def test_synth_card_plots_and_load_dataset(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    run = make_synth_run(tmp_path / "synth", scenes=6, fmt="parquet")
    pngs = _check_card(run, run)
    assert "relation_categories.png" in {p.name for p in pngs}
    loaded = datasets.load_dataset(str(run), cache_dir=str(tmp_path / "hf_cache"))
    assert loaded["train"].num_rows == len(list(RunData(run).samples()))


def test_stats_are_exact_and_plots_deterministic(tmp_path: Path) -> None:
    run = RunData(make_synth_run(tmp_path / "synth", scenes=6))
    samples = list(run.samples())
    graphs = list(run.graphs().values())
    stats = CardStats()
    for graph in graphs:
        stats.add_graph(graph)
    for sample in samples:
        stats.add_sample(sample)
    data = stats.to_dict()
    assert data["objects_per_image"] == {
        str(k): v for k, v in sorted(Counter(len(g.objects) for g in graphs).items())}
    assert sum(data["relation_categories"].values()) == sum(len(g.relations) for g in graphs)
    mc = [s for s in samples if s.form.value == "mc"]
    assert sum(data["mc_correct_position"].values()) == len(mc)
    yes = sum(c["yes"] for c in data["yes_no_by_template"].values())
    assert yes == sum(s.answer_value is True for s in samples)
    # The blind baseline is scored only on the held-out fifth of the images.
    held_out = [s for s in samples if image_bucket(s.provenance.image_ids, 5) == 0
                and (s.form.value == "mc" or not isinstance(s.answer_value, list | dict))]
    assert sum(d["n"] for d in data["blind_baseline"].values()) == len(held_out)
    assert all(0 <= d["accuracy"] <= 1 for d in data["blind_baseline"].values())
    first = write_plots(data, tmp_path / "a", "a/")
    second = write_plots(data, tmp_path / "b", "b/")
    assert len(first) == len(second)
    for png in (tmp_path / "a").glob("*.png"):
        assert png.read_bytes() == (tmp_path / "b" / png.name).read_bytes()
