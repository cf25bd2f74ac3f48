"""Starting a CLI run in a subprocess and killing it with SIGKILL at a chosen moment."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def start_run(command: list[str], hash_seed: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    # Own process group: the kill takes the workers too, like a preempted job.
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def finish_run(proc: subprocess.Popen[bytes]) -> None:
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output.decode(errors="replace")


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 600
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"run ended (rc={proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"run was not killed {what}"


def shard_files(out: Path) -> int:
    folder = out / "shards"
    return len(list(folder.glob("samples-*.jsonl"))) if folder.is_dir() else 0
