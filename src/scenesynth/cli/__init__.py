"""The ``scenesynth`` command line. Each verb group lives in its own module and registers
itself on a Typer app built here.

``scenesynth VERB`` imports only the module that registers VERB (:data:`VERB_MODULES`), so
``generate`` starts without the render stack, the LLM client or the synth CLI; the full app
(``scenesynth.cli.app``, top-level ``--help``, unknown verbs) registers every module.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from scenesynth import __version__
from scenesynth.cli.errors import guard_os_errors

# Verb modules in help order; each has ``register(app)``.
MODULES = ("data", "gen", "synth", "run", "mix", "view", "evaluate", "write", "annotate",
           "refine")
# Which module registers each verb (a test checks this against the full app).
VERB_MODULES = {
    "convert": "data", "stats": "data", "validate": "data", "schema": "data",
    "generators": "gen",
    "synth": "synth", "demo": "synth",
    "generate": "run", "run": "run",
    "mix": "mix",
    "view": "view",
    "split": "evaluate", "eval": "evaluate", "eval-export": "evaluate",
    "write-questions": "write", "paraphrase-templates": "write",
    "annotate": "annotate",
    "refine": "refine", "refine-revert": "refine",
}


def version() -> None:
    """Print the package version."""
    typer.echo(__version__)


def _no_options() -> None:
    """Synthesize correct, balanced, traceable vision instruction data from scene graphs."""


def build_app(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    """The command line with the verbs of ``modules`` (and ``version``)."""
    app = typer.Typer(
        name="scenesynth",
        help="Synthesize correct, balanced, traceable vision instruction data from scene "
             "graphs.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
    )
    # A callback keeps the app a group of verbs even when one module registers one verb.
    app.callback()(_no_options)
    app.command()(version)
    for name in modules:
        importlib.import_module(f"scenesynth.cli.{name}").register(app)
    # One home for OS-level failures (disk full, permission denied): every verb exits 7 with
    # one line.
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = guard_os_errors(info.callback)
    return app


_full_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    # ``from scenesynth.cli import app``: the full command line, built on first use.
    global _full_app
    if name == "app":
        if _full_app is None:
            _full_app = build_app()
        return _full_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    verb = sys.argv[1] if len(sys.argv) > 1 else None
    module = VERB_MODULES.get(verb or "")
    if module is not None:
        build_app((module,))()
    elif verb == "version":
        build_app(())()
    else:
        __getattr__("app")()
