"""Exports loaded the way each trainer loads them, on generate runs over the shared CLEVR and
COCO data (single- and multi-image samples).

The readers below follow the trainers' own loading code (facts, not copies):

* LLaVA-1.5 ``llava/train/train.py``: ``LazySupervisedDataset.__getitem__`` opens
  ``os.path.join(image_folder, record["image"])`` (a string) and ``preprocess_multimodal``
  removes every ``<image>`` from a turn and puts one back at its start; ``preprocess`` asserts
  the roles alternate human/gpt.
* LLaVA-OneVision / LLaVA-NeXT ``train.py``: ``image`` may be a list, each joined to the image
  folder; ``<image>`` tokens are kept one per image (a single one is moved to the front), and
  the model needs as many tokens as images.
* LLaMA-Factory ``data/parser.py`` + ``data/converter.py`` + ``data/mm_plugin.py``: the
  ``dataset_info.json`` entry names the file, the ``sharegpt`` formatting, the columns and the
  tags; the file is read with ``datasets.load_dataset("json")``; the converter drops a record
  whose roles do not alternate user/assistant or whose turn count is odd; media paths are
  joined to ``media_dir`` (default ``dataset_dir``) when that file exists; the plugin requires
  as many ``<image>`` placeholders as images.
* WebDataset: ``WebDataset(urls).decode("pil").to_tuple("json", "0.jpg;0.png")``.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scenesynth.export import ExportValidationError, export_samples, validate
from scenesynth.graph import InstructionSample, ProgramStep, Provenance
from scenesynth.pipeline import load_config, run

IMAGE_TOKEN = "<image>"
FORMATS = ("llava", "llama-factory", "parquet", "webdataset")
CLEVR_SCENES = 24


# -- the data: CLEVR scenes with image files beside them, and the two COCO photos -----------


@pytest.fixture(scope="module")
def clevr_with_images(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first CLEVR scenes with a (small, stand-in) PNG per scene beside the annotations,
    laid out as the CLEVR download is: the image root is the source's folder."""
    folder = tmp_path_factory.mktemp("clevr")
    data = json.loads((shared_data / "clevr" / "CLEVR_train_scenes_1000.json").read_text())
    data["scenes"] = data["scenes"][:CLEVR_SCENES]
    (folder / "scenes.json").write_text(json.dumps(data))
    for i, scene in enumerate(data["scenes"]):
        Image.new("RGB", (48, 32), (i * 9 % 256, 90, 160)).save(folder / scene["image_filename"])
    return folder / "scenes.json"


def _generate(source: Path, fmt: str, out: Path, **extra: Any) -> Any:
    config = load_config(None, {
        "source": str(source), "out": str(out), "format": fmt, "generators": ["all"],
        "per_image": 1, "seed": 3, "workers": 1, "progress": False,
        "multi_image_group": (2, 2), "shard_size": 10, **extra,
    })
    return run(config)


@pytest.fixture(scope="module")
def runs(
    clevr_with_images: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[Path, Any]]:
    """(dataset, format) -> (export folder, run summary), every format from each dataset."""
    base = tmp_path_factory.mktemp("runs")
    sources = {"clevr": clevr_with_images, "coco": shared_data / "coco_panoptic"}
    done = {}
    for name, source in sources.items():
        for fmt in FORMATS:
            summary = _generate(source, fmt, base / f"{name}-{fmt}")
            assert summary.export["validation"]["ok"], summary.export
            done[(name, fmt)] = (base / f"{name}-{fmt}" / "export", summary)
    return done


def _run_samples(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted((out / "shards").glob("samples-*.jsonl"))
            for line in f.open()]


# -- LLaVA ---------------------------------------------------------------------------------


def llava15_get_item(record: dict[str, Any], image_folder: Path) -> tuple[Any, list[str]]:
    """LLaVA-1.5's LazySupervisedDataset.__getitem__ + preprocess_multimodal + the role check
    of preprocess, on one record; returns (image or None, the turn texts it trains on)."""
    image = None
    if "image" in record:
        # os.path.join raises TypeError on a list: the crash the issue reported
        path = os.path.join(image_folder, record["image"])
        image = Image.open(path).convert("RGB")
    texts = []
    for sentence in record["conversations"]:
        value = sentence["value"]
        if IMAGE_TOKEN in value:
            value = IMAGE_TOKEN + "\n" + value.replace(IMAGE_TOKEN, "").strip()
        texts.append(value.strip())
    roles = [s["from"] for s in record["conversations"]]
    if roles[0] != "human":
        roles = roles[1:]
    assert all(role == ("human", "gpt")[j % 2] for j, role in enumerate(roles)), roles
    return image, texts


def llava_onevision_get_item(record: dict[str, Any], image_folder: Path) -> list[Any]:
    """LLaVA-OneVision/NeXT: a list of images, one kept ``<image>`` token per image."""
    files = record["image"] if isinstance(record["image"], list) else [record["image"]]
    images = [Image.open(os.path.join(image_folder, f)).convert("RGB") for f in files]
    tokens = 0
    for sentence in record["conversations"]:
        n = len(re.findall(IMAGE_TOKEN, sentence["value"]))
        tokens += n
    assert tokens == len(images), (tokens, len(images), record["id"])
    return images


def test_llava_exports_load_in_llava15_and_onevision(runs) -> None:
    for dataset in ("clevr", "coco"):
        folder, summary = runs[(dataset, "llava")]
        single = json.loads((folder / "data.json").read_text())
        multi = json.loads((folder / "data_multi_image.json").read_text())
        assert len(single) + len(multi) == summary.samples
        assert single and multi, dataset
        for record in single:  # as LLaVA-1.5 reads them (--image_folder = the export folder)
            assert isinstance(record["image"], str)
            original = record["conversations"][0]["value"]
            image, texts = llava15_get_item(record, folder)
            assert image is not None and image.size[0] > 0
            # exactly one token, at the start: LLaVA-1.5's rewrite loses nothing
            assert original.count(IMAGE_TOKEN) == 1 and original.startswith(IMAGE_TOKEN + "\n")
            assert texts[0] == original
            assert all(IMAGE_TOKEN not in t for t in texts[1:])
        for record in multi:  # as LLaVA-OneVision / NeXT-interleave reads them
            images = llava_onevision_get_item(record, folder)
            assert len(images) == len(record["metadata"]["source_images"]) >= 2
        # the card names both files and the trainer that reads each
        card = (folder.parent / "DATASET_CARD.md").read_text()
        assert "- `data.json`: LLaVA-1.5: --data_path" in card
        assert "- `data_multi_image.json`: LLaVA-OneVision / LLaVA-NeXT-interleave" in card


# -- LLaMA-Factory -------------------------------------------------------------------------


def llama_factory_load(dataset_dir: Path, dataset: str) -> list[dict[str, Any]]:
    """dataset_info.json -> datasets' json loader -> the ShareGPT converter -> the image
    placeholder check, as LLaMA-Factory runs them; returns the aligned examples."""
    datasets = pytest.importorskip("datasets")
    info = json.loads((dataset_dir / "dataset_info.json").read_text())[dataset]
    assert info["formatting"] == "sharegpt"
    columns, tags = info["columns"], info["tags"]
    ds = datasets.load_dataset(
        "json", data_files=str(dataset_dir / info["file_name"]), split="train",
        cache_dir=str(dataset_dir.parent / "hf-cache"),
    )
    user, assistant = tags["user_tag"], tags["assistant_tag"]
    accept = ((user, "observation"), (assistant, "function_call"))
    examples = []
    for example in ds:
        messages = example[columns["messages"]]
        if messages and messages[0][tags["role_tag"]] == tags.get("system_tag"):
            messages = messages[1:]
        broken = any(m[tags["role_tag"]] not in accept[i % 2] for i, m in enumerate(messages))
        broken = broken or len(messages) % 2 != 0
        assert not broken, f"LLaMA-Factory would skip {example['id']}: {messages}"
        images = []
        for media in example[columns["images"]] or []:
            joined = os.path.join(dataset_dir, media)  # media_dir defaults to dataset_dir
            images.append(joined if os.path.isfile(joined) else media)
        placeholders = sum(m[tags["content_tag"]].count(IMAGE_TOKEN) for m in messages)
        assert placeholders == len(images), example["id"]
        for path in images:
            with Image.open(path) as im:
                im.verify()
        examples.append({"messages": messages, "images": images})
    return examples


def test_llama_factory_exports_load_with_their_dataset_info(runs) -> None:
    for dataset in ("clevr", "coco"):
        folder, summary = runs[(dataset, "llama-factory")]
        examples = llama_factory_load(folder, "scenesynth")
        assert len(examples) == summary.samples
        counts = {len(e["images"]) for e in examples}
        assert 1 in counts and 2 in counts, counts  # single- and multi-image samples


# -- WebDataset ----------------------------------------------------------------------------


def test_webdataset_one_to_tuple_reads_single_and_multi_image_samples(runs) -> None:
    wds = pytest.importorskip("webdataset")
    for dataset, ext in (("clevr", "png"), ("coco", "jpg")):
        folder, summary = runs[(dataset, "webdataset")]
        shards = sorted(str(p) for p in folder.glob("data-*.tar"))
        pipeline = wds.WebDataset(shards, shardshuffle=False).decode("pil")
        pairs = list(pipeline.to_tuple("json", "0.jpg;0.png"))
        assert len(pairs) == summary.samples
        n_multi = 0
        for record, first in pairs:
            assert isinstance(first, Image.Image)
            assert record["images"][0] == f"0.{ext}"
            n_multi += len(record["images"]) > 1
        assert 0 < n_multi < len(pairs)
        # the remaining images of a multi-image sample, by the keys its JSON lists
        full = wds.WebDataset(shards, shardshuffle=False).decode("pil").map(
            lambda s: (s["json"], [s[k] for k in s["json"]["images"]]))
        for record, images in full:
            assert len(images) == len(record["metadata"]["source_images"])
            assert all(isinstance(im, Image.Image) for im in images)


def test_parquet_exports_load_with_datasets(runs) -> None:
    datasets = pytest.importorskip("datasets")
    for dataset in ("clevr", "coco"):
        folder, summary = runs[(dataset, "parquet")]
        ds = datasets.Dataset.from_parquet(str(folder / "data.parquet"))
        assert ds.num_rows == summary.samples
        counts = {len(row["images"]) for row in ds}
        assert counts == {1, 2}


def test_every_run_sample_is_in_every_export(runs) -> None:
    for (dataset, fmt), (folder, summary) in runs.items():
        samples = _run_samples(folder.parent)
        assert len(samples) == summary.samples == summary.export["written"], (dataset, fmt)
        assert summary.export["skipped"] == 0


# -- atomic export: nothing invalid is ever published ------------------------------------------


def _sample(sample_id: str, images: list[str]) -> InstructionSample:
    return InstructionSample(
        id=sample_id, images=images, question="How many horses are there?", answer="12",
        answer_value=12, answer_type="count",
        provenance=Provenance(source="test", image_ids=images, generator="test",
                              generator_version="1", family="counting",
                              program=[ProgramStep(op="scene", args={"image": 0})], seed=0),
    )


@pytest.fixture()
def image_root(shared_data: Path, tmp_path: Path) -> Path:
    """An image root holding one real photo, and a secret beside (outside) it."""
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "photo.jpg").write_bytes((shared_data / "coco_panoptic" / "000000142238.jpg")
                                     .read_bytes())
    (tmp_path / "secret.jpg").write_bytes(b"SECRET-BYTES " * 50)
    (root / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    return root


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", ["../secret.jpg", "ABSOLUTE", "link.jpg"])
def test_image_outside_the_root_leaves_no_export(fmt, path, image_root, tmp_path) -> None:
    if path == "ABSOLUTE":
        path = str(tmp_path / "secret.jpg")
    out = tmp_path / "export"
    result = export_samples([_sample("escape", [path])], fmt, out, image_root=image_root)
    assert result.n_written == 0 and result.paths == []
    ((sample_id, message),) = result.failures
    assert sample_id == "escape" and "field images[0]" in message
    assert "the image root" in message
    assert _leftovers(out) == []  # no data.parquet, no data.json, no hidden temp file


@pytest.mark.parametrize("fmt", FORMATS)
def test_outside_bytes_never_reach_a_published_export(fmt, image_root, tmp_path) -> None:
    out = tmp_path / "export"
    good, bad = _sample("good", ["photo.jpg"]), _sample("bad", ["link.jpg"])
    result = export_samples([good, bad], fmt, out, image_root=image_root)
    assert result.n_written == 1 and [f[0] for f in result.failures] == ["bad"]
    assert result.validation.ok
    for path in out.iterdir():
        assert not path.name.startswith(".")
        data = path.read_bytes()
        if path.suffix == ".tar":
            with tarfile.open(path) as tar:
                data = b"".join(tar.extractfile(m).read() for m in tar.getmembers())
        assert b"SECRET-BYTES" not in data and "secret" not in data.decode("latin-1")


@pytest.mark.parametrize("fmt", ["parquet", "webdataset"])
def test_export_failing_validation_is_removed(fmt, image_root, tmp_path) -> None:
    """An image file that does not decode gets embedded, fails validation, and the written
    files are removed: nothing is published, and the error names file, record and field."""
    (image_root / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "export"
    with pytest.raises(ExportValidationError) as caught:
        export_samples([_sample("good", ["photo.jpg"]), _sample("broken", ["broken.jpg"])],
                       fmt, out, image_root=image_root)
    message = str(caught.value)
    assert "failed validation" in message and "id='broken'" in message
    assert "do not decode as an image" in message
    assert _leftovers(out) == []


def test_generate_with_undecodable_images_exits_nonzero_and_publishes_nothing(
    shared_data: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from scenesynth.cli import app

    source = tmp_path / "coco"
    source.mkdir()
    annotations = shared_data / "coco_panoptic" / "panoptic_coco_detection_format.json"
    (source / annotations.name).write_bytes(annotations.read_bytes())
    for photo in ("000000142238.jpg", "000000439180.jpg"):
        (source / photo).write_bytes(b"these are not image bytes")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "generate", "--source", str(source), "--generators", "count_objects", "--per-image",
        "1", "--format", "parquet", "--out", str(out), "--workers", "1", "--no-progress",
    ])
    assert result.exit_code == 1, result.output
    assert "nothing published" in result.output and "do not decode" in result.output
    assert _leftovers(out / "export") == []


def test_validate_accepts_dataset_info_and_flags_a_wrong_one(runs, tmp_path) -> None:
    folder, _ = runs[("coco", "llama-factory")]
    assert validate(folder).ok
    copy = tmp_path / "lf"
    copy.mkdir()
    (copy / "data.json").write_text((folder / "data.json").read_text())
    info = json.loads((folder / "dataset_info.json").read_text())
    info["scenesynth"]["file_name"] = "train.json"
    info["scenesynth"]["tags"]["user_tag"] = "human"
    (copy / "dataset_info.json").write_text(json.dumps(info))
    errors = validate(copy, require_images=False).errors
    assert any("field file_name: 'train.json' is not a file beside it" in e for e in errors)
    assert any("field tags: {'user_tag': 'human'}" in e for e in errors)


def test_staged_files_of_a_killed_export_are_cleaned_on_resume(tmp_path: Path) -> None:
    """A run killed between writing and publishing leaves only hidden staged files; the next
    run removes them before it starts, and folder validation never mistakes them for data."""
    from scenesynth.ioutil.manifest import clean_temp_files

    export = tmp_path / "export"
    export.mkdir()
    (export / ".staging.data.json").write_text("[")
    (export / ".staging.data-000000.tar").write_bytes(b"partial")
    assert validate(export).errors == [f"{export}: no export files found"]
    assert clean_temp_files(tmp_path) == 2
    assert _leftovers(export) == []
