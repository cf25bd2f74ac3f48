"""The ``scenesynth`` command line. Each verb group lives in its own module and registers
itself on the one Typer app here."""

from __future__ import annotations

import typer

from scenesynth import __version__
from scenesynth.cli import data, gen, run, synth, write

app = typer.Typer(
    name="scenesynth",
    help="Synthesize correct, balanced, traceable vision instruction data from scene graphs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.command()
def version() -> None:
    """Print the package version."""
    typer.echo(__version__)


for _module in (data, gen, synth, run, write):
    _module.register(app)


def main() -> None:
    app()
