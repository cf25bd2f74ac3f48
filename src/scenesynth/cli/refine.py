"""``scenesynth refine``: model completion and editing of scene graphs (see refine/models.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from scenesynth.graph import SceneGraph
from scenesynth.models.llm import LLMFatalError
from scenesynth.models.review import Backend, Editor, Judge, Teacher, load_backend
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
    read = [0]

    def counted() -> Any:
        for g in stream:
            read[0] += 1
            yield g

    try:
        report = refine_to_dir(counted(), out, teacher_role, judge_role, editor_role, config)
    except LLMFatalError as exc:
        raise _fail(f"model server: {exc}") from None
    load_report = stream.report
    if not read[0]:
        raise _fail(f"{graphs}: no scene graph could be read "
                    f"({load_report.skipped_records} records skipped)")
    d = report["density"]
    _err.print(
        f"refined {d['after']['images']} images: relations {d['before']['relations']} -> "
        f"{d['after']['relations']}, per object {d['before']['relations_per_object']} -> "
        f"{d['after']['relations_per_object']}; kept {report['kept_by_check']}; dropped "
        f"{report['dropped_by_reason']}; {load_report.skipped_records} input records skipped")


def refine_revert(
    refined: Annotated[Path, typer.Argument(help="A refine output folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Reverted graphs JSONL.")],
) -> None:
    """Undo every stored patch of a refine run (REFINED/patches.jsonl applied to
    REFINED/graphs.jsonl, last first): the result is the refine input, byte for byte."""
    import json

    from scenesynth.graph import graph_from_json, write_graphs_jsonl
    from scenesynth.refine.models import revert_patches

    patches: dict[str, list[dict[str, Any]]] = {}
    graphs: list[SceneGraph] = []
    where = refined / "patches.jsonl"
    line_no = 0
    try:
        lines = where.read_text(encoding="utf-8").splitlines()
        for line_no, line in enumerate(lines, 1):  # noqa: B007 (named in the error)
            record = json.loads(line)
            patches.setdefault(str(record["image_id"]), []).append(record)
        where = refined / "graphs.jsonl"
        lines = where.read_text(encoding="utf-8").splitlines()
        for line_no, line in enumerate(lines, 1):  # noqa: B007 (named in the error)
            g = graph_from_json(line)
            graphs.append(revert_patches(g, patches.pop(g.image.id, [])))
    except FileNotFoundError:
        raise _fail(f"{where}: not found (is {refined} a refine output folder?)") from None
    except (ValueError, KeyError, IndexError) as exc:
        raise _fail(f"{where}: line {line_no}: cannot revert: "
                    f"{str(exc).splitlines()[0]}") from None
    if patches:
        raise _fail(f"{refined}/patches.jsonl: patches for images not in graphs.jsonl: "
                    f"{sorted(patches)[:5]}")
    write_graphs_jsonl(graphs, out)
    _err.print(f"reverted {len(graphs)} graphs to {out}")


def register(app: typer.Typer) -> None:
    app.command()(refine)
    app.command("refine-revert")(refine_revert)
