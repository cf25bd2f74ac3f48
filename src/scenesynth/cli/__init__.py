"""The ``scenesynth`` command line. Each verb group lives in its own module and registers
itself on the one Typer app here."""

from __future__ import annotations

import typer

from scenesynth import __version__
from scenesynth.cli import annotate, data, evaluate, gen, mix, refine, run, synth, view, write
from scenesynth.cli.errors import guard_os_errors

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


for _module in (data, gen, synth, run, mix, view, evaluate, write, annotate, refine):
    _module.register(app)

# One home for OS-level failures (disk full, permission denied): every verb exits 7 with one line.
for _info in app.registered_commands:
    if _info.callback is not None:
        _info.callback = guard_os_errors(_info.callback)


def main() -> None:
    app()
