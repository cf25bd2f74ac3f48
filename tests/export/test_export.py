"""Exporters and validators on samples about the two real COCO photos in the shared data."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from scenesynth.export import (
    MCAnswerStyle,
    TurnStyle,
    export_samples,
    validate,
)
from scenesynth.graph import AnswerForm, InstructionSample, ProgramStep, Provenance

PHOTO_A = "000000142238.jpg"  # 640x427, 14 people
PHOTO_B = "000000439180.jpg"  # 640x360, 14 people, 12 horses
FORMATS = ("llava", "sharegpt", "parquet", "webdataset")


def _coco_counts(coco_dir: Path) -> dict[str, Counter[str]]:
    data = json.loads((coco_dir / "panoptic_coco_detection_format.json").read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    files = {im["id"]: im["file_name"] for im in data["images"]}
    counts: dict[str, Counter[str]] = {f: Counter() for f in files.values()}
    for ann in data["annotations"]:
        counts[files[ann["image_id"]]][cats[ann["category_id"]]] += 1
    return counts


def _prov(images: list[str], family: str) -> Provenance:
    return Provenance(
        source="coco_panoptic", image_ids=images, generator="test", generator_version="1",
        family=family,
        program=[ProgramStep(op="scene", args={"image": 0}),
                 ProgramStep(op="filter_name", inputs=[0], args={"name": "horse"})],
        seed=7,
    )


@pytest.fixture()
def coco_samples(shared_data: Path) -> list[InstructionSample]:
    """Samples whose answers are counted from the real COCO annotations."""
    counts = _coco_counts(shared_data / "coco_panoptic")
    horses = counts[PHOTO_B]["horse"]
    people_a = counts[PHOTO_A]["person"]
    return [
        InstructionSample(
            id="count-horses", images=[PHOTO_B], question="How many horses are there?",
            answer=str(horses), answer_value=horses, answer_type="count",
            provenance=_prov([PHOTO_B], "counting"),
        ),
        InstructionSample(
            id="mc-people", images=[PHOTO_A], question="How many people are in the picture?",
            answer=str(people_a), form=AnswerForm.MULTIPLE_CHOICE,
            options=["12", str(people_a), "3", "20"], answer_index=1, answer_value=people_a,
            answer_type="count", provenance=_prov([PHOTO_A], "counting"),
        ),
        InstructionSample(
            id="multi.horses", images=[PHOTO_A, PHOTO_B],
            question="Which image shows horses?", answer="Image 2", answer_value=1,
            answer_type="image", provenance=_prov([PHOTO_A, PHOTO_B], "multi_image"),
        ),
    ]


def _export(samples, fmt, out, root, **kw):
    return export_samples(samples, fmt, out, image_root=root, **kw)


# -- writers -------------------------------------------------------------------------------


def test_llava_records_match_trainer_layout(coco_samples, shared_data, tmp_path):
    root = shared_data / "coco_panoptic"
    result = _export(coco_samples, "llava", tmp_path, root)
    assert (result.n_written, result.n_failed) == (3, 0)
    assert result.paths == [tmp_path / "data.json", tmp_path / "data_multi_image.json"]
    horses, mc = json.loads((tmp_path / "data.json").read_text())
    # LLaVA-1.5 cannot read a list of images: multi-image records go to the OneVision file
    (multi,) = json.loads((tmp_path / "data_multi_image.json").read_text())
    assert horses["conversations"] == [
        {"from": "human", "value": "<image>\nHow many horses are there?"},
        {"from": "gpt", "value": "12"},
    ]
    # one image is a string, several a list; paths resolve from the file's folder
    assert isinstance(horses["image"], str)
    assert (tmp_path / horses["image"]).resolve() == (root / PHOTO_B).resolve()
    assert isinstance(multi["image"], list) and len(multi["image"]) == 2
    assert multi["conversations"][0]["value"] == (
        "Image 1: <image>\nImage 2: <image>\nWhich image shows horses?"
    )
    assert mc["conversations"][0]["value"] == (
        "<image>\nHow many people are in the picture?\nA. 12\nB. 14\nC. 3\nD. 20"
    )
    assert mc["conversations"][1]["value"] == "B. 14"
    # provenance travels with every record
    prov = horses["metadata"]["provenance"]
    assert prov["source"] == "coco_panoptic" and prov["seed"] == 7
    assert prov["program"][1] == {"op": "filter_name", "inputs": [0],
                                  "args": {"name": "horse"}, "output": None}
    assert horses["metadata"]["answer_value"] == 12
    assert validate(tmp_path / "data.json").ok


def test_mc_letter_style(coco_samples, shared_data, tmp_path):
    style = TurnStyle(mc_answer=MCAnswerStyle.LETTER)
    _export(coco_samples[1:2], "sharegpt", tmp_path, shared_data / "coco_panoptic", style=style)
    (rec,) = json.loads((tmp_path / "data.json").read_text())
    assert rec["messages"][1] == {"role": "assistant", "content": "B"}
    assert rec["messages"][0]["content"].endswith(
        "D. 20\nAnswer with the option's letter from the given choices directly."
    )


def test_sharegpt_jsonl(coco_samples, shared_data, tmp_path):
    result = _export(coco_samples, "sharegpt", tmp_path, shared_data / "coco_panoptic",
                     jsonl=True)
    lines = (tmp_path / "data.jsonl").read_text().splitlines()
    assert result.paths == [tmp_path / "data.jsonl", tmp_path / "dataset_info.json"]
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["messages"] == [
        {"role": "user", "content": "<image>\nHow many horses are there?"},
        {"role": "assistant", "content": "12"},
    ]
    assert isinstance(first["images"], list) and len(first["images"]) == 1
    assert first["metadata"]["provenance"]["family"] == "counting"
    report = validate(tmp_path / "data.jsonl")
    assert report.ok and report.fmt == "llama-factory" and report.n_records == 3


def test_parquet_reads_back_as_hf_images(coco_samples, shared_data, tmp_path):
    datasets = pytest.importorskip("datasets")
    root = shared_data / "coco_panoptic"
    _export(coco_samples[:2], "parquet", tmp_path / "single", root)
    _export(coco_samples, "parquet", tmp_path / "multi", root)

    single = datasets.Dataset.from_parquet(str(tmp_path / "single" / "data.parquet"))
    assert isinstance(single.features["image"], datasets.Image)
    img = single[0]["image"]
    assert isinstance(img, Image.Image) and img.size == (640, 360)
    assert single[0]["messages"][1] == {"role": "assistant", "content": "12"}
    assert json.loads(single[1]["metadata"])["provenance"]["image_ids"] == [PHOTO_A]

    multi = datasets.Dataset.from_parquet(str(tmp_path / "multi" / "data.parquet"))
    feat = multi.features["images"]
    inner = getattr(feat, "feature", None)
    assert isinstance(inner, datasets.Image)
    sizes = [im.size for im in multi[2]["images"]]
    assert sizes == [(640, 427), (640, 360)]
    # bytes are the original file's bytes, unchanged
    table = pq.read_table(tmp_path / "multi" / "data.parquet")
    assert table.column("images")[0][0]["bytes"].as_py() == (root / PHOTO_B).read_bytes()
    assert validate(tmp_path / "single" / "data.parquet").ok
    assert validate(tmp_path / "multi").ok


def test_webdataset_shards(coco_samples, shared_data, tmp_path):
    wds = pytest.importorskip("webdataset")
    result = _export(coco_samples, "webdataset", tmp_path, shared_data / "coco_panoptic",
                     name="train", samples_per_shard=2)
    assert [p.name for p in result.paths] == ["train-000000.tar", "train-000001.tar"]
    assert not list(tmp_path.glob(".*"))  # no temporary shard left behind
    with tarfile.open(tmp_path / "train-000001.tar") as tar:
        assert sorted(tar.getnames()) == [
            "000000002_multi_horses.0.jpg", "000000002_multi_horses.1.jpg",
            "000000002_multi_horses.json",
        ]
    ds = wds.WebDataset([str(p) for p in result.paths], shardshuffle=False).decode("pil")
    got = list(ds)
    assert [s["json"]["id"] for s in got] == ["count-horses", "mc-people", "multi.horses"]
    assert got[0]["0.jpg"].size == (640, 360)
    assert got[2]["json"]["images"] == ["0.jpg", "1.jpg"]
    assert got[2]["1.jpg"].size == (640, 360)
    assert got[0]["json"]["metadata"]["provenance"]["generator"] == "test"
    report = validate(tmp_path)
    assert report.ok and report.fmt == "webdataset" and report.n_records == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_samples_are_reported_and_skipped(fmt, coco_samples, shared_data, tmp_path):
    bad_answer = coco_samples[0].model_copy(update={"id": "bad-answer",
                                                    "answer": "see <image>"})
    missing = coco_samples[0].model_copy(update={"id": "missing", "images": ["nope.jpg"]})
    result = _export([bad_answer, *coco_samples, missing], fmt, tmp_path,
                     shared_data / "coco_panoptic")
    assert result.n_written == 3 and result.n_failed == 2
    (id1, msg1), (id2, msg2) = result.failures
    assert id1 == "bad-answer" and "field turns[1]" in msg1 and "literal <image>" in msg1
    assert id2 == "missing" and "field images[0]" in msg2 and "nope.jpg" in msg2
    assert result.failed_by_field() == {"turns": 1, "images": 1}
    report = validate(tmp_path, fmt)
    assert report.ok and report.n_records == 3


def test_export_rejects_unknown_format(coco_samples, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'coco'"):
        export_samples(coco_samples, "coco", tmp_path)


# -- validators: each pitfall rejected with a precise message, per format ---------------------


def _write_json(path: Path, records) -> Path:
    path.write_text(json.dumps(records))
    return path


@pytest.fixture()
def photo_dir(shared_data: Path, tmp_path: Path) -> Path:
    """A folder beside the export with links to the real photos (relative paths resolve)."""
    (tmp_path / "img").mkdir()
    for name in (PHOTO_A, PHOTO_B):
        (tmp_path / "img" / name).symlink_to(shared_data / "coco_panoptic" / name)
    return tmp_path


def test_validate_llava_pitfalls(photo_dir):
    good = {"id": "ok", "image": f"img/{PHOTO_A}",
            "conversations": [{"from": "human", "value": "<image>\nWhat?"},
                              {"from": "gpt", "value": "people"}]}
    records = [
        good,
        {**good, "id": "tokens", "image": [f"img/{PHOTO_A}", f"img/{PHOTO_B}"]},
        {**good, "id": "answer-token", "conversations": [
            {"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "<image>"}]},
        {**good, "id": "missing", "image": "img/gone.jpg"},
        {**good, "id": "list-of-one", "image": [f"img/{PHOTO_A}"]},
        {**good, "id": "roles", "conversations": [
            {"from": "human", "value": "<image>\nWhat?"}, {"from": "human", "value": "x"}]},
        {**good, "id": "empty", "conversations": [
            {"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "  "}]},
    ]
    path = _write_json(photo_dir / "llava.json", records)
    report = validate(path)
    assert report.fmt == "llava" and report.n_records == 7 and report.n_invalid == 6
    p = str(path)
    assert report.errors == [
        f"{p}: record 1 (id='tokens'): field image: 1 <image> token(s) in the prompt turns "
        "but 2 image(s)",
        f"{p}: record 2 (id='answer-token'): field conversations[1]: 'gpt' turn (an answer) "
        "contains a literal <image> token",
        f"{p}: record 3 (id='missing'): field image: image file 'img/gone.jpg' does not exist "
        f"(looked for {photo_dir / 'img/gone.jpg'})",
        f"{p}: record 4 (id='list-of-one'): field image: a list of one image; LLaVA expects a "
        "string for a single image",
        f"{p}: record 5 (id='roles'): field conversations[1]: role 'human' where 'gpt' was "
        "expected (roles must alternate human/gpt, starting with human)",
        f"{p}: record 5 (id='roles'): field conversations[1]: conversation ends with 'human'; "
        "the last turn must be 'gpt'",
        f"{p}: record 6 (id='empty'): field conversations[1]: empty 'gpt' turn",
    ]

    # Scene-graph-only data: absent images are listed apart, every other pitfall still fails.
    lenient = validate(path, require_images=False)
    assert lenient.absent_images == [
        f"{p}: record 3 (id='missing'): field image: image file 'img/gone.jpg' does not exist "
        f"(looked for {photo_dir / 'img/gone.jpg'})"
    ]
    assert lenient.errors == [e for e in report.errors if "id='missing'" not in e]
    assert lenient.n_invalid == 5 and not lenient.ok
    only_missing = _write_json(photo_dir / "only_missing.json", [good, records[3]])
    assert not validate(only_missing).ok
    assert validate(only_missing, require_images=False).ok


def _messages(user: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


# (id, image names, messages) for the four pitfalls plus a valid record, in messages form
_MSG_CASES = [
    ("ok", [PHOTO_A], _messages("<image>\nWhat?", "people")),
    ("tokens", [PHOTO_A, PHOTO_B], _messages("<image>\nWhat?", "people")),
    ("answer-token", [PHOTO_A], _messages("<image>\nWhat?", "an <image>")),
    ("roles", [PHOTO_A], [{"role": "user", "content": "<image>\nWhat?"},
                          {"role": "user", "content": "x"}]),
    ("empty", [PHOTO_A], _messages("<image>\nWhat?", "")),
]


def _expected_message_errors(p: str, images_field: str = "images") -> list[str]:
    return [
        f"{p}: record 1 (id='tokens'): field {images_field}: 1 <image> token(s) in the prompt "
        "turns but 2 image(s)",
        f"{p}: record 2 (id='answer-token'): field messages[1]: 'assistant' turn (an answer) "
        "contains a literal <image> token",
        f"{p}: record 3 (id='roles'): field messages[1]: role 'user' where 'assistant' was "
        "expected (roles must alternate user/assistant, starting with user)",
        f"{p}: record 3 (id='roles'): field messages[1]: conversation ends with 'user'; the "
        "last turn must be 'assistant'",
        f"{p}: record 4 (id='empty'): field messages[1]: empty 'assistant' turn",
    ]


def test_validate_sharegpt_pitfalls(photo_dir):
    records = [{"id": i, "images": [f"img/{n}" for n in names], "messages": m}
               for i, names, m in _MSG_CASES]
    records.append({"id": "string-images", "images": f"img/{PHOTO_A}",
                    "messages": _messages("<image>\nWhat?", "people")})
    records.append({"id": "missing", "images": ["img/gone.jpg"],
                    "messages": _messages("<image>\nWhat?", "people")})
    path = _write_json(photo_dir / "chat.json", records)
    report = validate(path)
    p = str(path)
    assert report.fmt == "llama-factory" and report.n_records == 7 and report.n_invalid == 6
    assert report.errors == [
        *_expected_message_errors(p),
        f"{p}: record 5 (id='string-images'): field images: must be a list of images, got a "
        "string",
        f"{p}: record 6 (id='missing'): field images[0]: image file 'img/gone.jpg' does not "
        f"exist (looked for {photo_dir / 'img/gone.jpg'})",
    ]
    # JSONL: same rules, and the broken line is named
    lines = [json.dumps(r) for r in records[:1]] + ["{not json"]
    (photo_dir / "chat.jsonl").write_text("\n".join(lines) + "\n")
    report = validate(photo_dir / "chat.jsonl")
    assert report.n_records == 2 and report.n_invalid == 1
    assert report.errors[0].startswith(f"{photo_dir / 'chat.jsonl'}: line 2: not valid JSON")


def test_validate_parquet_pitfalls(shared_data, tmp_path):
    import pyarrow as pa

    from scenesynth.export.parquet import arrow_schema

    coco = shared_data / "coco_panoptic"
    rows = []
    for rid, names, msgs in _MSG_CASES:
        rows.append({"id": rid, "messages": msgs, "metadata": "{}",
                     "images": [{"bytes": (coco / n).read_bytes(), "path": n} for n in names]})
    rows.append({"id": "corrupt", "messages": _messages("<image>\nWhat?", "people"),
                 "metadata": "{}", "images": [{"bytes": b"not a jpeg", "path": "x.jpg"}]})
    rows.append({"id": "missing", "messages": _messages("<image>\nWhat?", "people"),
                 "metadata": "{}", "images": [{"bytes": None, "path": "gone.jpg"}]})
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(multi_image=True)), path)
    report = validate(path)
    p = str(path)
    assert report.fmt == "parquet" and report.n_records == 7 and report.n_invalid == 6
    assert report.errors[:5] == _expected_message_errors(p)
    assert report.errors[5] == (
        f"{p}: record 5 (id='corrupt'): field images[0]: image bytes (10 B) do not decode as "
        "an image (UnidentifiedImageError)"
    )
    assert report.errors[6] == (
        f"{p}: record 6 (id='missing'): field images[0].path: image file 'gone.jpg' does not "
        f"exist (looked for {tmp_path / 'gone.jpg'})"
    )
    # a list column declared as a single Image, and no features metadata at all
    single_meta = arrow_schema(multi_image=False).metadata
    wrong = pa.Table.from_pylist(rows[:1], schema=arrow_schema(multi_image=True))
    pq.write_table(wrong.replace_schema_metadata(single_meta), tmp_path / "wrong.parquet")
    assert validate(tmp_path / "wrong.parquet").errors == [
        f"{tmp_path / 'wrong.parquet'}: schema: column 'images' feature is None, expected "
        "Sequence(Image())"
    ]
    pq.write_table(wrong.replace_schema_metadata(None), tmp_path / "plain.parquet")
    assert validate(tmp_path / "plain.parquet").errors == [
        f"{tmp_path / 'plain.parquet'}: schema: no 'huggingface' features metadata, so "
        "datasets will not decode the image column as images"
    ]


def test_validate_webdataset_pitfalls(shared_data, tmp_path):
    wds = pytest.importorskip("webdataset")
    coco = shared_data / "coco_panoptic"
    path = tmp_path / "bad-000000.tar"
    with wds.TarWriter(str(path)) as sink:
        for i, (rid, names, msgs) in enumerate(_MSG_CASES):
            exts = ["jpg"] if len(names) == 1 else [f"img{k}.jpg" for k in range(len(names))]
            sample = {"__key__": f"s{i}", "json": {"id": rid, "messages": msgs, "images": exts}}
            for ext, name in zip(exts, names, strict=True):
                sample[ext] = (coco / name).read_bytes()
            sink.write(sample)
        sink.write({"__key__": "s5", "json": {"id": "string-images", "images": "jpg",
                                             "messages": _messages("<image>\nWhat?", "people")},
                    "jpg": (coco / PHOTO_A).read_bytes()})
        sink.write({"__key__": "s6", "json": {"id": "missing", "images": ["png"],
                                             "messages": _messages("<image>\nWhat?", "people")},
                    "jpg": (coco / PHOTO_A).read_bytes()})
    report = validate(path)
    p = str(path)
    assert report.fmt == "webdataset" and report.n_records == 7 and report.n_invalid == 6
    expected = [e.replace(f"(id='{rid}')", f"(id='{rid}') (key='s{i}')")
                for e in _expected_message_errors(p)
                for i, (rid, _, _) in enumerate(_MSG_CASES) if f"(id='{rid}')" in e]
    assert report.errors[:5] == expected
    assert report.errors[5:] == [
        f"{p}: record 5 (id='string-images') (key='s5'): field images: must be a list of "
        "images, got a string",
        f"{p}: record 6 (id='missing') (key='s6'): field images[0]: member s6.png is not in the "
        "shard (members: jpg, json)",
    ]


def test_graph_only_exports_and_option_errors(coco_samples, tmp_path):
    # scene-graph-only runs: no image files; path-referencing formats keep the path
    result = export_samples(coco_samples[:1], "parquet", tmp_path / "pq", require_images=False)
    assert result.n_written == 1
    table = pq.read_table(tmp_path / "pq" / "data.parquet")
    assert table.column("image")[0].as_py() == {"bytes": None, "path": PHOTO_B}
    assert validate(tmp_path / "pq").errors == [
        f"{tmp_path / 'pq' / 'data.parquet'}: record 0 (id='count-horses'): field image.path: "
        f"image file '{PHOTO_B}' does not exist (looked for {tmp_path / 'pq' / PHOTO_B})"
    ]
    # embedding formats cannot embed a missing file: reported and skipped
    result = export_samples(coco_samples[:1], "webdataset", tmp_path / "w", require_images=False)
    assert result.n_written == 0 and result.paths == []
    assert "field images[0]: image file" in result.failures[0][1]
    with pytest.raises(ValueError, match="export format 'llava' has no option"):
        export_samples(coco_samples, "llava", tmp_path, jsonl=True)


def test_sharegpt_jsonl_loads_with_datasets_despite_mixed_answer_types(coco_samples, shared_data,
                                                                     tmp_path):
    """LLaMA-Factory reads ShareGPT files with datasets' json loader; typed answers differ."""
    datasets = pytest.importorskip("datasets")
    samples = [coco_samples[0],
               coco_samples[1].model_copy(update={"answer_value": [14, "people"]}),
               coco_samples[2].model_copy(update={"answer_value": "Image 2"})]
    result = _export(samples, "sharegpt", tmp_path, shared_data / "coco_panoptic", jsonl=True)
    ds = datasets.load_dataset("json", data_files=str(result.paths[0]), split="train",
                               cache_dir=str(tmp_path / "hf_cache"))
    assert ds.num_rows == 3
    assert [r["metadata"]["answer_value"] for r in ds] == [12, [14, "people"], "Image 2"]
    assert ds[2]["images"] == [str(Path(p)) for p in json.loads(
        (tmp_path / "data.jsonl").read_text().splitlines()[2])["images"]]


def test_empty_export_is_valid(tmp_path):
    for fmt in FORMATS:
        result = export_samples([], fmt, tmp_path / fmt)
        assert result.n_written == 0 and result.n_failed == 0
        report = validate(tmp_path / fmt) if result.paths else None
        assert report is None or (report.ok and report.n_records == 0), (fmt, report)
    assert result.paths == []  # webdataset: no empty shard left behind


def test_folder_validation_skips_non_export_json(coco_samples, shared_data, tmp_path):
    _export(coco_samples, "sharegpt", tmp_path, shared_data / "coco_panoptic", jsonl=True)
    (tmp_path / "graphs.jsonl").write_text(json.dumps({"image": {"id": "x"}}) + "\n")
    (tmp_path / "broken.json").write_text('[{"messages": [')
    report = validate(tmp_path)
    assert report.n_records == 3
    assert report.skipped_files == [
        f"{tmp_path / 'graphs.jsonl'}: cannot tell the format: the first record has no "
        "'messages' (ShareGPT); pass fmt="
    ]
    # a truncated export is not skipped: it is an error
    assert len(report.errors) == 1 and report.errors[0].startswith(
        f"{tmp_path / 'broken.json'}: not a valid JSON array of records")


def test_validate_single_image_parquet_names_the_image_column(shared_data, tmp_path):
    import pyarrow as pa

    from scenesynth.export.parquet import arrow_schema

    photo = (shared_data / "coco_panoptic" / PHOTO_A).read_bytes()
    rows = [{"id": "two-tokens", "messages": _messages("<image>\n<image>\nWhat?", "people"),
             "metadata": "{}", "image": {"bytes": photo, "path": PHOTO_A}}]
    path = tmp_path / "one.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(multi_image=False)), path)
    assert validate(path).errors == [
        f"{path}: record 0 (id='two-tokens'): field image: 2 <image> token(s) in the prompt "
        "turns but 1 image(s)"
    ]


@pytest.mark.parametrize("fmt", ["llava", "sharegpt"])
def test_json_exports_are_checked_as_written_with_the_validators_verdict(
    fmt, coco_samples, tmp_path, monkeypatch
):
    """The run's own JSON export is validated record by record as it is written (no re-read of
    the file), and that verdict is the one `validate` gives when it re-reads the file."""
    import sys

    validate_module = sys.modules["scenesynth.export.validate"]
    many = [s.model_copy(update={"id": f"{s.id}-{i}"}) for i in range(4) for s in coco_samples]
    stats: list[str] = []
    real_is_file = Path.is_file

    def counting_is_file(self: Path) -> bool:
        stats.append(self.name)
        return real_is_file(self)

    def no_reread(*args, **kwargs):
        raise AssertionError("the export was parsed back")

    with monkeypatch.context() as patch:
        patch.setattr(validate_module, "_iter_json_records", no_reread)
        patch.setattr(Path, "is_file", counting_is_file)
        result = export_samples(many, fmt, tmp_path, require_images=False)
    # each distinct image path stat'ed once by the writer and once per file by the check,
    # not once per record (it is in 8 of the 12 records, in both LLaVA files)
    assert stats.count(PHOTO_B) <= 3
    reread = validate(tmp_path, fmt, require_images=False)
    assert result.validation.ok and reread.ok
    assert result.validation.n_records == reread.n_records == len(many)
    assert sorted(result.validation.absent_images) == sorted(reread.absent_images)
    assert len(reread.absent_images) == 16  # 4 x (1 + 1 + 2) image references, none on disk


def test_validate_reads_integers_beyond_64_bits(coco_samples, shared_data, tmp_path):
    """JSON has no integer limit and a trainer's json.load reads any: ijson's fast backend
    stops at 2**64, so the re-read must go on with its pure-Python one, in format detection
    (a big number before the first known key) and in every record after it."""
    singles = [s for s in coco_samples if len(s.images) == 1][:3]
    _export(singles, "llava", tmp_path, shared_data / "coco_panoptic")
    records = json.loads((tmp_path / "data.json").read_text())
    records.append({**records[-1], "id": "third"})
    huge = 2**64 + 7
    records[0] = {"seed": huge, **records[0]}  # before "conversations": format detection
    records[1]["metadata"]["provenance"]["seed"] = huge
    (tmp_path / "data.json").write_text(json.dumps(records))
    report = validate(tmp_path / "data.json")
    assert report.ok, report.errors
    assert report.fmt == "llava" and report.n_records == 3
    # a real defect after the big number is still found, in the right record
    records[2]["conversations"][1]["value"] = ""
    (tmp_path / "data.json").write_text(json.dumps(records))
    report = validate(tmp_path / "data.json")
    assert not report.ok and report.n_records == 3
    assert any("record 2" in e or "#2" in e or "[2]" in e for e in report.errors), report.errors
