"""``scenesynth split`` (contamination-safe train / holdout) and ``scenesynth eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(code)


def split(
    run: Annotated[Path, typer.Argument(help="Run folder (generate or synth).")],
    image_share: Annotated[float, typer.Option(help="Share of images held out.")] = 0.2,
    templates: Annotated[
        str, typer.Option(help="Held-out templates: a count, or family/template,... names.")
    ] = "2",
    pairs: Annotated[
        str, typer.Option(help="Held-out attribute-name pairs: a count, or attr:name,...")
    ] = "2",
    seed: Annotated[int, typer.Option(help="Seed of the picks.")] = 0,
) -> None:
    """Split a run into train and holdout: by image, by template and by attribute-name pair
    (CLEVR-CoGenT style); writes RUN/splits/{train,holdout}.txt and split.json."""
    from scenesynth.evaluate.split import split_run
    from scenesynth.rundata import RunData, RunError

    try:
        held_templates: int | list[str] = (
            int(templates) if templates.isdigit() else [t for t in templates.split(",") if t])
        held_pairs: int | list[tuple[str, str]] = int(pairs) if pairs.isdigit() else [
            (p.split(":", 1)[0], p.split(":", 1)[1]) for p in pairs.split(",") if ":" in p]
        report = split_run(RunData(run), image_share, held_templates, held_pairs, seed)
    except (RunError, ValueError) as exc:
        raise _fail(str(exc)) from None
    _out.print(f"train {report.samples.get('train', 0)} samples "
               f"({report.images['train']} images), holdout {report.samples.get('holdout', 0)} "
               f"({report.images['holdout']} images), dropped {report.samples.get('dropped', 0)}")
    _out.print(f"held-out templates: {', '.join(report.held_out_templates) or 'none'}; pairs: "
               f"{', '.join(' '.join(p) for p in report.held_out_pairs) or 'none'}")
    if not report.samples.get("holdout") or not report.samples.get("train"):
        raise _fail("a split is empty; change --image-share, --templates or --pairs", 1)


def eval_model(
    model: Annotated[str, typer.Option("--model", "-m", help="openai:NAME@URL or hf:PATH")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Run folder.")],
    split: Annotated[
        str, typer.Option(help="all, or a split written by `scenesynth split` (holdout).")
    ] = "all",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder (default RUN/eval/SPLIT).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate a seeded sample of N.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of --limit and the bootstrap.")] = 0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight (openai).")] = 4,
    max_tokens: Annotated[int, typer.Option(help="Reply length limit.")] = 64,
) -> None:
    """Run a vision-language model on a run's split; accuracy per family with bootstrap
    intervals next to chance, majority and blind baselines (predictions + REPORT.md)."""
    from scenesynth.evaluate import EvalError, evaluate, load_model
    from scenesynth.evaluate.run import report_markdown
    from scenesynth.models.vlm import ModelSpecError
    from scenesynth.rundata import RunData, RunError

    try:
        run = RunData(data)
        vlm = load_model(model, concurrency=concurrency, max_tokens=max_tokens)
        target = out or data / "eval" / split
        report = evaluate(run, vlm, target, split=split, limit=limit, seed=seed)
    except (RunError, EvalError, ModelSpecError) as exc:
        raise _fail(str(exc)) from None
    _out.print(report_markdown(report), soft_wrap=True)
    _out.print(f"predictions and report in {target}")


def export_tasks(
    data: Annotated[Path, typer.Option("--data", "-d", help="Run folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the benchmark files.")],
    split: Annotated[str, typer.Option(help="all, or a split from `scenesynth split`.")] = "all",
    name: Annotated[str, typer.Option(help="Benchmark name (file prefix).")] = "scenesynth",
) -> None:
    """Write a split as VLMEvalKit custom-benchmark TSVs (multiple choice and open questions)."""
    from scenesynth.evaluate.tasks import write_vlmevalkit
    from scenesynth.rundata import RunData, RunError

    try:
        result = write_vlmevalkit(RunData(data), out, split, name)
    except (RunError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    skipped = ", ".join(f"{n} {why}" for why, n in result.skipped.items()) or "none"
    _out.print(f"{result.mcq} multiple-choice and {result.vqa} open questions -> "
               f"{', '.join(str(p) for p in result.paths)}; skipped: {skipped}")
    if result.mcq + result.vqa == 0:
        raise _fail(f"{data}: split {split!r} has no single-image sample to export", 1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(split)
    app.command("eval")(eval_model)
    app.command("eval-export")(export_tasks)
