"""``scenesynth refine``: model completion and editing of scene graphs (see refine/models.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from scenesynth.graph import SceneGraph
from scenesynth.models.llm import LLMFatalError
from scenesynth.models.roles import Backend, Editor, Judge, Teacher, load_backend
from scenesynth.models.vlm import ModelSpecError
from scenesynth.refine.models import RefineConfig
from scenesynth.refine.run import refine_to_dir
from scenesynth.sources import LoadOptions, UnknownFormatError, load

_err = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def refine(
    graphs: Annotated[Path, typer.Argument(help="Scene graphs (JSONL or any convert format).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    teacher: Annotated[str, typer.Option(help="Teacher: openai:NAME@URL or hf:PATH.")],
    judge: Annotated[str | None, typer.Option(
        help="Judge (default: the teacher's model).")] = None,
    editor: Annotated[str | None, typer.Option(
        help="Editor (default: no edit step).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Input format (auto).")] = "auto",
    k: Annotated[int, typer.Option("--k", help="Subjects per image the teacher completes.")] = 3,
    per_subject: Annotated[int, typer.Option(help="Proposals per subject and category.")] = 2,
    keep_undecided: Annotated[bool, typer.Option(
        help="Keep spatial proposals geometry cannot decide.")] = False,
    images: Annotated[Path | None, typer.Option(
        help="Folder relative image paths are resolved in.")] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight per role.")] = 16,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Answer cache (default OUT/llm-cache; a re-run sends no request).")] = None,
    strategy: Annotated[str, typer.Option(help="Structured-output form (auto).")] = "auto",
    attempts: Annotated[int, typer.Option(help="Attempts per request.")] = 4,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 60.0,
    backoff: Annotated[float, typer.Option(help="First retry delay, doubled per retry.")] = 0.5,
) -> None:
    """Complete relations with a teacher (spatial ones checked by geometry, others by a judge)
    and edit graphs with an editor; writes graphs.jsonl, patches.jsonl, failures.jsonl,
    report.json (density before/after, drops by reason) and client_stats.json."""
    cache = str(cache_dir or out / "llm-cache")
    backends: dict[str, Backend] = {}

    def backend(spec: str) -> Backend:
        if spec not in backends:  # one client per model: roles on one server share its cache
            backends[spec] = load_backend(spec, concurrency=concurrency, cache_dir=cache,
                                          strategy=strategy, max_attempts=attempts,
                                          timeout_s=timeout, backoff_s=backoff)
        return backends[spec]

    try:
        teacher_role = Teacher(backend(teacher), image_root=images)
        judge_role = Judge(backend(judge or teacher), image_root=images)
        editor_role = Editor(backend(editor), image_root=images) if editor else None
        stream: Any = load(graphs, None if fmt == "auto" else fmt, options=LoadOptions())
    except (ModelSpecError, FileNotFoundError, UnknownFormatError, ValueError) as exc:
        raise _fail(str(exc)) from None
    config = RefineConfig(k=k, per_subject=per_subject, keep_undecided=keep_undecided)
    read: list[SceneGraph] = []

    def counted() -> Any:
        for g in stream:
            read.append(g)
            yield g

    try:
        report = refine_to_dir(counted(), out, teacher_role, judge_role, editor_role, config)
    except LLMFatalError as exc:
        raise _fail(f"model server: {exc}", 3) from None
    load_report = stream.report
    if not read:
        raise _fail(f"{graphs}: no scene graph could be read "
                    f"({load_report.skipped_records} records skipped)")
    d = report["density"]
    _err.print(
        f"refined {d['after']['images']} images: relations {d['before']['relations']} -> "
        f"{d['after']['relations']}, per object {d['before']['relations_per_object']} -> "
        f"{d['after']['relations_per_object']}; kept {report['kept_by_check']}; dropped "
        f"{report['dropped_by_reason']}; {load_report.skipped_records} input records skipped")


def register(app: typer.Typer) -> None:
    app.command()(refine)
