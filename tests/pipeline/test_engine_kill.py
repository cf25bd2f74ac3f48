"""Kill test: a real CLI generation run (>= 50,000 samples from the 1000 CLEVR scenes) SIGKILLed
at several points, restarted with the same command each time, ends byte-identical to an
uninterrupted run: same shards, manifest, failures and export; no sample lost or duplicated.
Each process gets a different PYTHONHASHSEED, so the output cannot depend on it."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_support import output_files
from kill import finish_run, kill_when, shard_files, start_run

# Fast generators with many samples per scene, so the run is big but the test stays short.
GENERATORS = (
    "exist_object,relation_verify,verify_attribute,same_attribute,query_attribute,"
    "count_union,count_same_attribute,spatial_verify"
)


def _command(source: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from scenesynth.cli import main; main()",
        "generate",
        "--source", str(source),
        "--generators", GENERATORS,
        "--per-image", "4",
        "--format", "sharegpt",
        "--seed", "3",
        "--out", str(out),
        "--workers", "2",
        "--shard-size", "20",
        "--no-progress",
    ]  # fmt: skip










def _sample_ids(out: Path) -> list[str]:
    ids = []
    for path in sorted((out / "shards").glob("samples-*.jsonl")):
        ids.extend(json.loads(line)["id"] for line in path.open())
    return ids


@pytest.mark.slow
def test_sigkill_at_several_points_then_resume_is_byte_identical(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "clevr" / "CLEVR_train_scenes_1000.json"
    reference_out, killed_out = tmp_path / "reference", tmp_path / "killed"

    finish_run(start_run(_command(source, reference_out), hash_seed=1))
    reference = output_files(reference_out)
    reference_ids = _sample_ids(reference_out)
    assert len(reference_ids) >= 50_000
    assert len(set(reference_ids)) == len(reference_ids)
    assert sum(1 for name in reference if name.startswith("shards/samples-")) == 50

    command = _command(source, killed_out)
    kill_points: list[tuple[str, Callable[[], bool]]] = [
        ("before any shard", lambda: (killed_out / "manifest.json").is_file()),
        ("after 4 shards", lambda: shard_files(killed_out) >= 4),
        ("after 19 shards", lambda: shard_files(killed_out) >= 19),
        ("after 37 shards", lambda: shard_files(killed_out) >= 37),
        ("during the export", lambda: (killed_out / "export").is_dir()),
    ]
    for hash_seed, (what, ready) in enumerate(kill_points, start=2):
        kill_when(start_run(command, hash_seed), ready, what)
    finish_run(start_run(command, hash_seed=99))

    summary = json.loads((killed_out / "summary.json").read_text())
    assert summary["shards_skipped"] == 50  # every shard was finished before the last kill
    assert output_files(killed_out) == reference
    ids = _sample_ids(killed_out)
    assert ids == reference_ids  # none missing, none duplicated, same order
