"""``scenesynth write-questions`` (LLM-written questions with executed programs) and
``scenesynth paraphrase-templates`` (the paraphrase bank)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from scenesynth.authoring.writer import QuestionWriter

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

WriterOption = Annotated[
    str,
    typer.Option("--writer", "-w",
                 help="openai:MODEL@URL (any OpenAI-compatible server; key from "
                 "SCENESYNTH_LLM_API_KEY or OPENAI_API_KEY) or hf:PATH (a local "
                 "transformers model)."),
]


def _writer(spec: str) -> QuestionWriter:
    from scenesynth.authoring.writer import parse_writer_spec

    try:
        return parse_writer_spec(spec)
    except (ValueError, OSError, ImportError) as exc:
        where = "" if isinstance(exc, ValueError) else f"--writer {spec}: "
        _err.print(f"[red]error:[/red] {where}{exc}")
        raise typer.Exit(2) from None


def write_questions(
    graphs: Annotated[Path, typer.Argument(help="Scene-graph JSONL (as `convert` writes) or "
                                           "any dataset `convert` reads.")],
    writer: WriterOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    questions_per_graph: Annotated[int, typer.Option(help="Questions asked per graph.")] = 2,
    agreement: Annotated[int, typer.Option(
        help="Independent programs per question that must agree (1: off).")] = 3,
    probe_scenes: Annotated[int, typer.Option(
        help="Other scenes each program also runs on (a constant answer is dropped).")] = 8,
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="llava, sharegpt, parquet or webdataset.")] = "llava",
    seed: Annotated[int, typer.Option(help="Seed of the writer's sampling.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Read at most this many graphs.")] = None,
    workers: Annotated[int, typer.Option(help="Sandbox worker processes.")] = 2,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Cache of the writer's answers (a re-run issues no requests).")] = None,
) -> None:
    """Ask an LLM for questions and programs, run the programs in the sandbox, keep what
    passes quality control, and export it (plus samples.jsonl, drops.jsonl and a card)."""
    from scenesynth.authoring.sandbox import SandboxConfig, SandboxError
    from scenesynth.engine.write_questions import (
        WriteQuestionsConfig,
        WriteQuestionsError,
        run,
    )

    if questions_per_graph < 1 or agreement < 1 or probe_scenes < 0 or workers < 1:
        _err.print("[red]error:[/red] --questions-per-graph, --agreement and --workers must "
                   "be >= 1 and --probe-scenes >= 0")
        raise typer.Exit(2)
    config = WriteQuestionsConfig(
        questions_per_graph=questions_per_graph, agreement=agreement,
        probe_scenes=probe_scenes, format=fmt, seed=seed,
        cache_dir=str(cache_dir) if cache_dir else None,
        sandbox=SandboxConfig(workers=workers),
    )
    try:
        card = run(graphs, _writer(writer), out, config, limit=limit)
    except (WriteQuestionsError, SandboxError, ValueError) as exc:
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    counts = card["counts"]
    _out.print(f"wrote {counts['samples']} samples from {counts['questions_written']} written "
               f"questions on {counts['graphs']} graphs to {out}; drops: "
               f"{card['drops_by_reason'] or 'none'}")


def paraphrase_templates(
    writer: WriterOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="The bank (JSON) to write.")],
    per_template: Annotated[int, typer.Option(help="Phrasings asked per template.")] = 3,
    only: Annotated[str | None, typer.Option(
        help="Only template ids starting with this prefix (e.g. count_).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Cache of the writer's answers.")] = None,
) -> None:
    """Ask the writer for new phrasings of the question templates; store the ones that pass
    the mechanical checks (slots kept, no answer mentioned, one question, not a duplicate).
    Review the file, then pass it to ``generate --paraphrases``."""
    from scenesynth.authoring.paraphrase import propose, template_catalog, write_bank
    from scenesynth.authoring.writer import WriterCache

    catalog = {k: v for k, v in template_catalog().items() if only is None or
               k.startswith(only)}
    if not catalog:
        _err.print(f"[red]error:[/red] no template id starts with {only!r}")
        raise typer.Exit(2)
    w = _writer(writer)
    accepted, drops = propose(w, catalog, per_template,
                              WriterCache(cache_dir) if cache_dir else None)
    n = sum(len(v) for v in accepted.values())
    if not n:
        _err.print(f"[red]error:[/red] no phrasing was accepted (drops: {dict(drops)})")
        raise typer.Exit(1)
    write_bank(out, catalog, accepted, w.name)
    _out.print(f"accepted {n} phrasings of {len(accepted)} templates into {out}; "
               f"drops: {dict(drops) or 'none'}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("write-questions")(write_questions)
    app.command("paraphrase-templates")(paraphrase_templates)
