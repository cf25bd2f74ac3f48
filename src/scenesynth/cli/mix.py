"""``scenesynth mix``: mix a run's samples into an existing LLaVA / ShareGPT instruction set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def mix(
    base: Annotated[Path, typer.Option("--base", help="Base set: LLaVA or ShareGPT JSON/JSONL.")],
    ours: Annotated[Path, typer.Option("--ours", help="Run folder (generate or synth).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Mixed set (same format as base).")],
    ratio: Annotated[float, typer.Option(help="Our samples as a share of the base size.")] = 0.1,
    mode: Annotated[str, typer.Option(help="augment (add) or replace (keep the size).")] = (
        "augment"
    ),
    forms: Annotated[str, typer.Option(help="short, mc or half (half and half).")] = "half",
    seed: Annotated[int, typer.Option(help="Seed of the draw and the positions.")] = 0,
    image_folder: Annotated[
        Path | None,
        typer.Option(help="The trainer's image folder: our image paths are written relative "
                          "to it (default: absolute paths)."),
    ] = None,
    mc_answer: Annotated[
        str, typer.Option(help="Multiple-choice answer turn: letter_text ('B. red') or letter.")
    ] = "letter_text",
) -> None:
    """Augment or replace RATIO x N records of a base set with this run's samples (seeded)."""
    from scenesynth.export.records import MCAnswerStyle
    from scenesynth.mix import MixError, MixForms, MixMode, report_path
    from scenesynth.mix import mix as run_mix
    from scenesynth.rundata import RunData, RunError

    try:
        report = run_mix(
            base, RunData(ours), out, ratio, MixMode(mode), MixForms(forms), seed,
            image_folder=image_folder.resolve() if image_folder else None,
            mc_answer=MCAnswerStyle(mc_answer),
        )
    except (MixError, RunError) as exc:
        _err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # an unknown --mode / --forms / --mc-answer value
        _err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    _out.print(
        f"{report.output_records} records written to {out} ({report.base_format}): "
        f"{report.base_records} base, {report.added} ours added"
        + (f", {report.replaced} base records replaced" if report.replaced else "")
    )
    table = Table("family", "samples", title="ours by family")
    for family, n in report.per_family.items():
        table.add_row(family, str(n))
    _out.print(table)
    _out.print("by form: " + ", ".join(f"{k} {v}" for k, v in report.per_form.items()))
    _out.print(f"report: {report_path(out)}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(mix)
