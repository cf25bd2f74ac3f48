"""``scenesynth synth`` runs on the one pipeline: killed with SIGKILL mid-run and run again it
ends byte-identical to an uninterrupted run (images, graphs, shards, manifest, failures,
export, card), and 1 or 2 workers give the same bytes. (Ray: tests/pipeline/test_ray_engine.py.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine_support import output_files
from kill import finish_run, kill_when, shard_files, start_run

SCENES = 16
SHARD_SIZE = 4


def _command(out: Path, workers: int) -> list[str]:
    return [
        sys.executable, "-c", "from scenesynth.cli import main; main()", "synth",
        "--scenes", str(SCENES), "--shard-size", str(SHARD_SIZE), "--per-image", "1",
        "--seed", "7", "--canvas", "256", "--workers", str(workers), "--out", str(out),
        "--no-progress",
    ]  # fmt: skip


def test_synth_killed_then_rerun_is_byte_identical_and_worker_independent(
    tmp_path: Path,
) -> None:
    reference_out, killed_out = tmp_path / "reference", tmp_path / "killed"
    finish_run(start_run(_command(reference_out, workers=1), hash_seed=1))
    reference = output_files(reference_out)
    shards = SCENES // SHARD_SIZE
    assert sum(1 for name in reference if name.startswith("shards/samples-")) == shards
    assert sum(1 for name in reference if name.startswith("shards/graphs-")) == shards
    images = [name for name in reference if name.startswith("images/")]
    graphs = reference["graphs.jsonl"].decode().splitlines()
    assert len(images) == len(graphs) >= SCENES - 1
    manifest = json.loads(reference["manifest.json"])
    assert manifest["complete"] and all(e["graphs_sha256"] for e in manifest["shards"])

    command = _command(killed_out, workers=2)
    kill_when(start_run(command, hash_seed=2), lambda: shard_files(killed_out) >= 2,
               "after 2 shards")
    finish_run(start_run(command, hash_seed=3))

    summary = json.loads((killed_out / "summary.json").read_text())
    # a shard written but not yet listed in the manifest (saved every 0.5 s) is redone
    assert summary["shards_skipped"] >= 1 and summary["workers"] == 2
    assert output_files(killed_out) == reference
