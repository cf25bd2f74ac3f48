"""The README's command block: parsed as CI runs it (tests/support/readme_commands.py), and every
command names a real subcommand. Running the block itself takes minutes: CI does it after the
suite (.ci/run)."""

from __future__ import annotations

import shlex

from readme_commands import REPO_ROOT, readme_commands
from typer.testing import CliRunner

from scenesynth.cli import app


def test_readme_block_is_found_and_joined() -> None:
    commands = readme_commands((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(commands) >= 8
    assert all(c.startswith("scenesynth ") for c in commands), commands
    assert not any(c.endswith("\\") for c in commands)
    generate = next(c for c in commands if c.startswith("scenesynth generate"))
    assert "--source" in generate and "--out" in generate  # its continuation line is joined


def test_every_readme_command_is_a_real_subcommand() -> None:
    runner = CliRunner()
    for command in readme_commands((REPO_ROOT / "README.md").read_text(encoding="utf-8")):
        words = shlex.split(command, comments=True)[1:]
        # the subcommand's words end where the options or paths begin
        end = next((i for i, w in enumerate(words) if w.startswith("-") or "/" in w
                    or "." in w), len(words))
        result = runner.invoke(app, [*words[:max(end, 1)], "--help"])
        assert result.exit_code == 0, (command, result.output)
