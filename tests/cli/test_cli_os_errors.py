"""OS-level failures on the output side (a full disk, a read-only folder): one line on stderr,
exit code 7, the traceback in a log file, no partial file left, and a rerun elsewhere works."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenesynth.pipeline.runner import EXIT_BAD_INPUT, EXIT_OK, EXIT_OS_ERROR

REPO = Path(__file__).resolve().parents[2]
CLEVR = REPO.parent / "shared" / "data" / "clevr" / "CLEVR_train_scenes_1000.json"


def _mount_tmpfs(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): "
                    f"{done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: the first shard of 100 CLEVR scenes does not fit."""
    yield from _mount_tmpfs(tmp_path / "small", "size=2m")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_tmpfs(tmp_path / "ro", "ro,size=1m")


def _generate(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenesynth", "generate", "--source", str(CLEVR), "--out",
         str(out), "--per-image", "2", "--workers", "1", "--no-progress", "--format", "parquet",
         *extra],
        capture_output=True, text=True, timeout=300,
    )


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_full_disk_is_one_line_and_leaves_no_partial_file(full_disk: Path, tmp_path: Path) -> None:
    out = full_disk / "run"
    done = _generate(out)
    assert done.returncode == EXIT_OS_ERROR, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "No space left on device (ENOSPC)" in lines[0]
    assert "samples-000000.jsonl" in lines[0] and "traceback in" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    log = out / "scenesynth-error.log"
    assert "OSError" in log.read_text()
    # No temporary or half-written file: only complete files (the empty manifest) and the log.
    assert _files(out) == ["manifest.json", "scenesynth-error.log"]

    elsewhere = tmp_path / "elsewhere"
    rerun = _generate(elsewhere, "--generators", "count_objects")
    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert (elsewhere / "export" / "data.parquet").is_file()


def test_read_only_output_is_one_line_with_the_log_in_a_temp_file(read_only: Path) -> None:
    done = _generate(read_only / "run")
    assert done.returncode == EXIT_OS_ERROR, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "Read-only file system (EROFS)" in line
    log = Path(line.rsplit("traceback in ", 1)[1].rstrip(")"))
    assert log.is_file() and "OSError" in log.read_text()
    log.unlink()
    assert _files(read_only) == []


@pytest.mark.slow  # about 40 s: the LLM client's bounded retries back off before giving up
def test_synth_with_the_llm_server_down_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    """``synth --source llm`` against a closed port on 127.0.0.1 stops before any image: exit 2
    (the model server is the input of this source)."""
    import os
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago and is closed now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SCENESYNTH_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "SCENESYNTH_LLM_MODEL": "test-model", "SCENESYNTH_LLM_API_KEY": "sk-test",
           "SCENESYNTH_LLM_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "scenesynth", "synth", "--source", "llm", "--scenes", "1",
         "--out", str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    # the server is asked once, before any image (GET /models), and the run stops there
    assert done.returncode == EXIT_BAD_INPUT, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert f"cannot reach the LLM server at http://127.0.0.1:{port}/v1" in errors[0]
    assert not (tmp_path / "out" / "images").exists()
