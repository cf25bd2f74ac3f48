"""Run the README's ``## Command line`` block top to bottom, as written, on a fresh copy.

    python tests/support/readme_commands.py            # CI calls this (see .ci/run)

The block is taken from README.md (a ``\\`` continues a line), and each command runs with
``bash`` in a temporary folder laid out like a fresh clone beside the shared data: the tracked
``examples/`` folder, and ``../shared`` linked to the real one. ``scenesynth`` is this Python's
``python -m scenesynth`` (a shim first on PATH), so the package under test is the one that
runs. Each command must exit 0; the script prints every command's status and exits 1 if one
failed. It takes minutes (the block synthesizes 1000 scenes), so it is a CI step, not a test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"


def readme_commands(readme: str) -> list[str]:
    """The commands of the first ```bash block under ``## Command line``, continuation lines
    joined."""
    lines = readme.split("\n")
    start = lines.index("## Command line")
    fence = next(i for i in range(start, len(lines)) if lines[i].strip() == "```bash")
    commands: list[str] = []
    current = ""
    for line in lines[fence + 1:]:
        if line.strip() == "```":
            break
        if not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1].rstrip() + " "
            continue
        commands.append((current + line.strip()).strip() if current else line.strip())
        current = ""
    return commands


def fresh_copy(root: Path) -> Path:
    """``root/scenesynth`` with the repository's examples, beside ``root/shared``."""
    clone = root / "scenesynth"
    clone.mkdir()
    shutil.copytree(REPO_ROOT / "examples", clone / "examples")
    shutil.copy2(REPO_ROOT / "README.md", clone / "README.md")
    (root / "shared").symlink_to(SHARED, target_is_directory=True)
    shim = root / "bin" / "scenesynth"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scenesynth "$@"\n')
    shim.chmod(0o755)
    return clone


def run_block(commands: list[str], clone: Path, timeout: float = 900) -> list[tuple[str, int]]:
    """Run each command in ``clone``; returns (command, exit status) in order."""
    import scenesynth

    package_root = str(Path(scenesynth.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PATH"] = f"{clone.parent / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, env.get("PYTHONPATH", "")) if p
    )
    results = []
    for command in commands:
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", command], cwd=clone, env=env, timeout=timeout,
                              capture_output=True, text=True)
        seconds = time.monotonic() - started
        results.append((command, proc.returncode))
        state = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"[{state}, {seconds:.0f} s] {command}", flush=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().split("\n")[-15:]
            print("    " + "\n    ".join(tail), flush=True)
    return results


def main() -> int:
    commands = readme_commands((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="readme_commands_") as tmp:
        results = run_block(commands, fresh_copy(Path(tmp)))
    failed = [c for c, rc in results if rc != 0]
    print(f"{len(results) - len(failed)} of {len(results)} README commands exit 0")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
