"""`scenesynth generators list` shows every registered generator."""

from __future__ import annotations

from typer.testing import CliRunner

import scenesynth.generators  # noqa: F401  (fills the registry)
from scenesynth.cli import app
from scenesynth.generators.base import registered


def test_generators_list_shows_every_generator() -> None:
    result = CliRunner().invoke(app, ["generators", "list"])
    assert result.exit_code == 0, result.output
    for name in registered():
        assert name in result.output
    assert f"{len(registered())} generator(s)" in result.output
    assert "What color is the large cube? -> blue" in result.output


def test_generators_list_filters() -> None:
    single = CliRunner().invoke(app, ["generators", "list", "--single", "--family", "depth"])
    assert single.exit_code == 0, single.output
    assert "closest_object" in single.output and "count_objects" not in single.output
    assert "3 generator(s)" in single.output  # depth_order, closest_object, farthest_object
