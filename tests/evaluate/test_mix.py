"""``scenesynth mix``: exact counts and form split, seeded determinism, base records untouched."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from run_folders import make_synth_run
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.mix import MixError, MixForms, MixMode, mix, read_base, report_path
from scenesynth.rundata import RunData

N_BASE = 120


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    return RunData(make_synth_run(tmp_path_factory.mktemp("synth") / "run"))


def _base(path: Path, sharegpt: bool = False) -> Path:
    records = []
    for i in range(N_BASE):
        if sharegpt:
            records.append({"id": f"base-{i}", "images": [f"x/{i}.jpg"], "messages": [
                {"role": "user", "content": "<image>Describe é."},
                {"role": "assistant", "content": "a" * (i % 7)}]})
        else:
            records.append({"id": f"base-{i}", "image": f"coco/{i}.jpg", "conversations": [
                {"from": "human", "value": "<image>\nWhat is this? ü"},
                {"from": "gpt", "value": str(i)}], "odd": {"k": [1, 2.50, None]}})
    # Irregular spacing and non-ASCII: kept records must come back byte for byte.
    path.write_text("[\n" + ",\n  ".join(json.dumps(r, ensure_ascii=False, indent=i % 3 or None)
                                           for i, r in enumerate(records)) + "]", "utf-8")
    return path


def _ours(record: dict) -> bool:
    return not record["id"].startswith("base-")


@pytest.mark.parametrize(
    ("mode", "forms", "ratio", "n_mc", "n_short"),
    [("augment", "half", 0.25, 15, 15), ("replace", "mc", 0.1, 12, 0),
     ("replace", "short", 0.05, 0, 6), ("augment", "half", 0.075, 4, 5)],
)
def test_counts_form_split_and_untouched_base(
    synth_run: RunData, tmp_path: Path, mode: str, forms: str, ratio: float, n_mc: int,
    n_short: int,
) -> None:
    base = _base(tmp_path / "base.json")
    _, base_raw = read_base(base)
    out = tmp_path / "mixed.json"
    report = mix(base, synth_run, out, ratio, MixMode(mode), MixForms(forms), seed=5)
    _, out_raw = read_base(out)
    records = [json.loads(r) for r in out_raw]
    ours = [r for r in records if _ours(r)]
    k = n_mc + n_short
    assert report.added == len(ours) == k
    assert len(records) == (N_BASE + k if mode == "augment" else N_BASE)
    assert report.replaced == (k if mode == "replace" else 0)
    forms_seen = [r["metadata"]["form"] for r in ours]
    assert sum(f == "mc" for f in forms_seen) == n_mc == report.per_form.get("mc", 0)
    assert sum(f != "mc" for f in forms_seen) == n_short == report.per_form.get("short", 0)
    assert sum(report.per_family.values()) == k
    families = Counter(r["metadata"]["provenance"]["family"] for r in ours)
    assert report.per_family == dict(sorted(families.items()))
    # Kept base records: the exact bytes, in the original order.
    kept = [raw for raw in out_raw if not _ours(json.loads(raw))]
    assert all(raw in base_raw for raw in kept)
    assert [base_raw.index(raw) for raw in kept] == sorted(base_raw.index(raw) for raw in kept)
    assert len(kept) == N_BASE - report.replaced
    # Our records are trainer-ready: one <image> per image, every image path exists.
    for rec in ours:
        images = rec["image"] if isinstance(rec["image"], list) else [rec["image"]]
        assert rec["conversations"][0]["value"].count("<image>") == len(images)
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in images)
    # One question is used in at most one form.
    keys = {json.dumps([r["metadata"]["provenance"]["image_ids"],
                        r["metadata"]["provenance"]["program"]]) for r in ours}
    assert len(keys) == k
    assert json.loads(report_path(out).read_text())["added"] == k


def test_deterministic_under_a_seed(synth_run: RunData, tmp_path: Path) -> None:
    base = _base(tmp_path / "base.json")
    outs = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / f"{name}.json"
        mix(base, synth_run, out, 0.2, MixMode.AUGMENT, MixForms.HALF, seed=seed)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_sharegpt_jsonl_base_and_image_folder(synth_run: RunData, tmp_path: Path) -> None:
    base = _base(tmp_path / "base.json", sharegpt=True)
    jsonl = tmp_path / "base.jsonl"
    jsonl.write_text("\n".join(json.dumps(json.loads(r)) for r in read_base(base)[1]) + "\n",
                     "utf-8")
    out = tmp_path / "mixed.jsonl"
    folder = synth_run.root
    report = mix(jsonl, synth_run, out, 0.1, MixMode.REPLACE, MixForms.SHORT, seed=0,
                 image_folder=folder.resolve())
    assert report.base_format == "sharegpt"
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == N_BASE
    ours = [json.loads(line) for line in lines if not json.loads(line)["id"].startswith("base-")]
    assert len(ours) == 12
    for rec in ours:
        assert rec["messages"][0]["role"] == "user"
        for p in rec["images"]:
            assert not Path(p).is_absolute() and (folder / p).is_file()


def test_errors_name_the_input(synth_run: RunData, tmp_path: Path) -> None:
    base = tmp_path / "broken.json"
    base.write_text('[{"id": 1, "conversations": []}, {"id": ', "utf-8")
    with pytest.raises(MixError, match=r"broken\.json: record 1"):
        mix(base, synth_run, tmp_path / "o.json", 0.1)
    big = _base(tmp_path / "base.json")
    with pytest.raises(MixError, match="samples needed"):
        mix(big, synth_run, tmp_path / "o.json", 50, MixMode.AUGMENT, MixForms.MC)
    result = CliRunner().invoke(app, ["mix", "--base", str(tmp_path / "missing.json"), "--ours",
                                      str(synth_run.root), "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert "missing.json: base file not found" in result.output
    assert not (tmp_path / "o.json").exists()


def test_cli_writes_mixed_set(synth_run: RunData, tmp_path: Path) -> None:
    base = _base(tmp_path / "base.json")
    out = tmp_path / "m.json"
    result = CliRunner().invoke(app, ["mix", "--base", str(base), "--ours", str(synth_run.root),
                                      "--out", str(out), "--ratio", "0.1", "--mode", "replace",
                                      "--forms", "half", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "120 records written" in result.output
    assert len(json.loads(out.read_text("utf-8"))) == N_BASE
