"""Data verbs: ``convert`` (dataset -> scene-graph JSONL), ``stats``, ``validate`` and ``schema``.

Every verb streams: graphs are read one at a time, so multi-GB inputs never sit in memory.
Bad records are reported (file, record, field), counted and skipped; ``--strict`` stops at
the first one instead.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from scenesynth.graph import (
    InstructionSample,
    SceneGraph,
    dump_json_schema,
    write_graphs_jsonl,
)
from scenesynth.pipeline.runner import (
    EXIT_FAILURE_RATE,
    EXIT_NOTHING_EXPORTED,
    EXIT_SOURCE_NOT_READ,
)
from scenesynth.sources import (
    LoadError,
    LoadOptions,
    LoadReport,
    Severity,
    UnknownFormatError,
    load,
)
from scenesynth.sources.dispatch import FORMATS as GRAPH_FORMATS

DEFAULT_MAX_FAILURE_RATE = 0.05  # the same default as the run config's max_failure_rate
# export formats by their current names and earlier aliases (scenesynth.export.FORMATS)
EXPORT_FORMATS = ("llava", "llama-factory", "sharegpt", "parquet", "webdataset")

FormatOption = Annotated[
    str,
    typer.Option(
        "--format", "-f",
        help=f"Input format: auto, {', '.join(GRAPH_FORMATS)} (vg = Visual Genome).",
    ),
]

_out = Console(highlight=False)
_T = TypeVar("_T")
_err = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _open(src: Path, fmt: str, strict: bool, options: LoadOptions | None = None) -> Any:
    try:
        return load(
            src, None if fmt == "auto" else fmt, strict=strict, options=options or LoadOptions()
        )
    except (FileNotFoundError, UnknownFormatError) as exc:
        raise _fail(str(exc)) from None


def _with_progress(graphs: Iterable[_T], label: str) -> Iterator[_T]:
    """Yield the graphs while showing a live count (stderr, so stdout stays clean). Where
    stderr is not a terminal (a log, a pipe) a live display cannot draw, so one line says
    when reading starts and one when it ends: a long read is never silent."""
    if not _err.is_terminal:
        started = time.monotonic()
        _err.print(f"{label} ...", soft_wrap=True)
        n = 0
        for graph in graphs:
            yield graph
            n += 1
        _err.print(f"{label}: {n} done in {time.monotonic() - started:.1f}s", soft_wrap=True)
        return
    columns = (SpinnerColumn(), TextColumn(label), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_err, transient=True) as progress:
        task = progress.add_task(label, total=None)
        for graph in graphs:
            yield graph
            progress.advance(task)


def print_report(report: LoadReport, console: Console = _err, limit: int = 20) -> None:
    """Summary line plus the first ``limit`` issues, one greppable line each."""
    colour = "green" if report.ok and not report.warnings else "yellow" if report.ok else "red"
    console.print(f"[{colour}]{report.summary()}[/{colour}]", soft_wrap=True)
    for line in report.file_lines():
        console.print(f"  {escape(line)}", soft_wrap=True)
    for issue in report.issues[:limit]:
        style = "red" if issue.severity == Severity.ERROR else "yellow"
        console.print(f"[{style}]{issue.severity}[/{style}]: {escape(str(issue))}", soft_wrap=True)
    hidden = report.errors + report.warnings - min(limit, len(report.issues))
    if hidden > 0:
        console.print(f"... and {hidden} more issue(s); counts by field:")
        for key, n in report.by_field.most_common(10):
            console.print(f"  {n:>8}  {escape(key)}", soft_wrap=True)


def convert(
    src: Annotated[Path, typer.Argument(help="Dataset file or directory.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scene-graph JSONL to write.")],
    fmt: FormatOption = "auto",
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first bad record (writes nothing).")
    ] = False,
    show: Annotated[int, typer.Option(help="How many issues to list.")] = 20,
    vg_relation_objects: Annotated[
        bool,
        typer.Option(help="Visual Genome: add relationship endpoints missing from objects.json "
                     "(warning) instead of dropping their relations (error)."),
    ] = False,
    image_root: Annotated[
        Path | None,
        typer.Option(help="Folder image paths must stay inside (default: the dataset's folder)."),
    ] = None,
    max_failure_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Exit 3 when more than this share of the records "
                     "is skipped (the graphs read are still written)."),
    ] = DEFAULT_MAX_FAILURE_RATE,
) -> None:
    """Convert a dataset (Visual Genome, GQA, COCO, CLEVR, JSONL) into scene-graph JSONL.

    Bad records are reported, counted and skipped; the file is written atomically. Exit codes
    as in the README: 5 when no graph was written, 6 when a source file was not read to its
    end, 3 when the share of skipped records passes --max-failure-rate.
    """
    options = LoadOptions(vg_relation_objects=vg_relation_objects, image_root=image_root)
    stream = _open(src, fmt, strict, options)
    try:
        n = write_graphs_jsonl(_with_progress(stream, "converting"), out)
    except LoadError as exc:
        raise _fail(f"{exc} (nothing written)", 1) from None
    report = stream.report
    print_report(report, limit=show)
    _out.print(f"wrote {n} graphs to {out}")
    for problem in report.incomplete_files:
        _err.print(f"[red]error:[/red] source not fully read: {escape(str(problem))}",
                   soft_wrap=True)
    if report.incomplete_files:
        raise typer.Exit(EXIT_SOURCE_NOT_READ)
    if n == 0:
        raise _fail(f"no graph could be converted from {src} ({report.skipped_records} records "
                    "skipped; see the errors above)", EXIT_NOTHING_EXPORTED)
    seen = report.graphs + report.skipped_records
    if seen and report.skipped_records / seen > max_failure_rate:
        raise _fail(f"{report.skipped_records} of {seen} records skipped "
                    f"({report.skipped_records / seen:.2%}), above --max-failure-rate "
                    f"{max_failure_rate:.2%}", EXIT_FAILURE_RATE)


def graph_stats(graphs: Iterable[SceneGraph]) -> dict[str, Any]:
    """Counts over graphs: images, objects, attributes, relations, predicates, categories."""
    names: Counter[str] = Counter()
    predicates: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    attributes: Counter[str] = Counter()
    images = objects = attribute_count = relations = 0
    for g in graphs:
        images += 1
        sources[g.image.source] += 1
        objects += len(g.objects)
        for o in g.objects:
            names[o.name] += 1
            attribute_count += len(o.attributes)
            attributes.update(a.value for a in o.attributes)
        relations += len(g.relations)
        for r in g.relations:
            predicates[r.predicate] += 1
            categories[r.category.value] += 1
    return {
        "images": images, "objects": objects, "attributes": attribute_count,
        "relations": relations, "names": names, "attribute_values": attributes,
        "predicates": predicates, "categories": categories, "sources": sources,
    }


def stats(
    src: Annotated[Path, typer.Argument(help="Dataset file or directory.")],
    fmt: FormatOption = "auto",
    top: Annotated[int, typer.Option(help="How many names / predicates to list.")] = 10,
    blind: Annotated[
        bool,
        typer.Option("--blind", help="Generated samples: also fit a text-only baseline "
                     "(logistic regression on question n-grams and options, cross-validated "
                     "grouped by image) and report its accuracy per family and template next "
                     "to majority and chance; families it beats by > 5 points are flagged."),
    ] = False,
) -> None:
    """Counts for scene graphs (images, objects, attributes, predicates, relation categories,
    top-k); for generated samples (a generate or synth run folder, or samples JSONL) the answer
    report per family, generator and template (answer entropy, yes share, multiple-choice
    position uniformity, numeric ranks) and each family's template diversity (distinct
    templates and question 3-grams)."""
    found = _run_samples(src)
    if found is not None:
        _sample_stats(*found, blind=blind)
        return
    stream = _open(src, fmt, strict=False)
    s = graph_stats(_with_progress(stream, "reading"))
    counts = Table("count", "value", title=f"{src} ({', '.join(stream.formats)})")
    for key in ("images", "objects", "attributes", "relations"):
        counts.add_row(key, str(s[key]))
    counts.add_row("relations per object", f"{s['relations'] / max(s['objects'], 1):.3f}")
    counts.add_row("distinct object names", str(len(s["names"])))
    counts.add_row("distinct attribute values", str(len(s["attribute_values"])))
    counts.add_row("distinct predicates", str(len(s["predicates"])))
    for source, n in s["sources"].most_common():
        counts.add_row(f"images from {source}", str(n))
    _out.print(counts)
    # relations per object by category: the density figure refine's report gives before/after
    cats = Table("relation category", "relations", "share", "per object")
    for cat, n in s["categories"].most_common():
        cats.add_row(cat, str(n), f"{n / max(s['relations'], 1):.1%}",
                     f"{n / max(s['objects'], 1):.3f}")
    _out.print(cats)
    for title, counter in (
        ("object name", s["names"]), ("predicate", s["predicates"]),
        ("attribute", s["attribute_values"]),
    ):
        table = Table(title, "count", title=f"top {top} {title}s")
        for value, n in counter.most_common(top):
            table.add_row(value, str(n))
        _out.print(table)
    print_report(stream.report, limit=10)


def _sample_files(src: Path) -> list[Path]:
    """``[src]`` when it is an instruction-sample JSONL file; empty otherwise."""
    if src.suffix != ".jsonl" or not src.is_file():
        return []
    with src.open(encoding="utf-8") as fh:
        first = fh.readline()
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return []
    is_sample = isinstance(record, dict) and {"question", "answer", "provenance"} <= set(record)
    return [src] if is_sample else []


def _iter_samples(files: list[Path]) -> Iterator[InstructionSample]:
    for file in files:
        with file.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield InstructionSample.model_validate_json(line)
                except ValueError as exc:
                    message = f"{file}: line {line_no}: not an instruction sample: {exc}"
                    raise _fail(message) from None


def _run_samples(src: Path) -> tuple[Iterator[InstructionSample], str] | None:
    """The samples of a ``generate`` or ``synth`` run folder (read by
    :class:`scenesynth.rundata.RunData`) or of a samples JSONL file, and what they are read
    from; None when ``src`` holds scene graphs."""
    if src.is_dir():
        from scenesynth.rundata import RunData, RunError

        try:
            run = RunData(src)
        except RunError:
            return None  # a folder of scene graphs
        shards = run.sample_files()
        export = run.export_file()
        where = f"{len(shards)} shard(s)" if shards else str(export.name if export else src)
        return _checked(run.samples()), where
    files = _sample_files(src)
    return (_iter_samples(files), f"{len(files)} shard(s)") if files else None


def _checked(samples: Iterator[InstructionSample]) -> Iterator[InstructionSample]:
    """``samples``, a record that cannot be read ending the command with its file and line."""
    from scenesynth.rundata import RunError

    try:
        yield from samples
    except RunError as exc:
        raise _fail(str(exc)) from None


def _sample_stats(source: Iterator[InstructionSample], where: str, blind: bool = False) -> None:
    with _err.status("loading the answer-report code (scipy)"):
        from scenesynth.quality import answer_report, render_report  # lazy: pulls scipy

    samples = _with_progress(source, f"reading samples from {where}")
    kept = list(samples) if blind else None  # the baseline reads the samples again
    report = answer_report(kept if kept is not None else samples)
    # Piped output would be cut to 80 columns, truncating every family name.
    console = _out if _out.is_terminal else Console(highlight=False, width=160)
    render_report(report, console=console)
    if kept is not None:
        with _err.status("fitting the blind baseline (scikit-learn)"):
            from scenesynth.quality.blind import blind_report, render_blind

            result = blind_report(kept)
        render_blind(result, console=console)


def validate(
    path: Annotated[Path, typer.Argument(help="Scene-graph source or instruction export.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f",
            help=f"auto, scene graphs ({', '.join(GRAPH_FORMATS)}) or instruction exports "
            f"({', '.join(EXPORT_FORMATS)}).",
        ),
    ] = "auto",
    show: Annotated[int, typer.Option(help="How many issues to list.")] = 20,
    graphs: Annotated[
        Path | None,
        typer.Option(help="Scene graphs an export was made from (default: the run's "
                     "graphs.jsonl or its manifest's source)."),
    ] = None,
    no_images: Annotated[
        bool,
        typer.Option("--no-images", help="Exports: accept references to image files that are "
                     "absent (made from scene graphs without their images); they are counted, "
                     "not errors."),
    ] = False,
    image_root: Annotated[
        Path | None,
        typer.Option("--image-root", help="Exports: also look for relative image paths under "
                     "this folder (the source's images), not only beside the export."),
    ] = None,
) -> None:
    """Validate every record of a scene-graph file or an instruction export; exit 1 on errors.

    An export is also read back as a trainer reads it and checked against the image's
    geometry (options listed once, answer among them once, placeholders, unambiguous
    references and relation questions): see scenesynth.export.check."""
    if fmt in EXPORT_FORMATS:
        _validate_export(path, fmt, show, not no_images, image_root, graphs)
        return
    if fmt != "auto" or _is_graph_source(path):
        stream = _open(path, fmt, strict=False)
        n = sum(1 for _ in _with_progress(stream, "validating"))
        print_report(stream.report, console=_out, limit=show)
        if not stream.report.ok:
            raise typer.Exit(1)
        _out.print(f"[green]OK[/green]: {n} valid scene graphs")
        return
    if not path.exists():
        raise _fail(f"{path}: no such file or directory")
    _validate_export(path, None, show, not no_images, image_root, graphs)


def _is_graph_source(path: Path) -> bool:
    try:
        load(path)
    except (FileNotFoundError, UnknownFormatError):
        return False
    return True


def _validate_export(
    path: Path, fmt: str | None, show: int, require_images: bool = True,
    image_root: Path | None = None, graphs: Path | None = None,
) -> None:
    from scenesynth.export import validate as validate_export  # lazy: pulls pyarrow, PIL

    if image_root is not None and not image_root.is_dir():
        raise _fail(f"--image-root {image_root}: no such folder")
    if image_root is None:
        image_root = _run_image_root(path)
    try:
        result = validate_export(path, fmt, require_images=require_images, image_root=image_root)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _out.print(escape(result.summary()), soft_wrap=True)
    if result.n_absent_images:
        _out.print(f"{result.n_absent_images} reference(s) to absent image files accepted "
                   "(--no-images)")
    for error in list(result.errors)[:show]:
        _out.print(f"[red]error[/red]: {escape(str(error))}", soft_wrap=True)
    if len(result.errors) > show:
        _out.print(f"... and {len(result.errors) - show} more error(s)")
    checked_ok = _check_export(path, fmt, show, graphs)
    if not result.ok or not checked_ok:
        if any("does not exist (looked for" in e for e in result.errors):
            _out.print("hint: for an export made without its images add --no-images; for "
                       "images kept elsewhere add --image-root PATH", soft_wrap=True)
        raise typer.Exit(1)
    _out.print("[green]OK[/green]")


def _check_export(path: Path, fmt: str | None, show: int, graphs: Path | None) -> bool:
    """The export-level check (text and geometry); prints its problems, True when none."""
    from scenesynth.export.check import check_export

    try:
        report = check_export(path, fmt, graphs)
    except (OSError, ValueError) as exc:
        raise _fail(f"{graphs or path}: {exc}") from None
    _out.print(escape(report.summary()), soft_wrap=True)
    for problem in report.problems[:show]:
        _out.print(f"[red]problem[/red]: {escape(str(problem))}", soft_wrap=True)
    if len(report.problems) > show:
        _out.print(f"... and {len(report.problems) - show} more problem(s)")
    return report.ok


def _run_image_root(export: Path) -> Path | None:
    """For a run's export folder (``RUN/export``), the folder the run read its images from,
    from the run's manifest: relative image paths are looked for there too."""
    folder = export if export.is_dir() else export.parent
    manifest = folder.parent / "manifest.json"
    if folder.name != "export" or not manifest.is_file():
        return None
    from scenesynth.pipeline.config import RunConfig
    from scenesynth.pipeline.runner import source_image_root

    try:
        config = RunConfig.model_validate(
            {**json.loads(manifest.read_text(encoding="utf-8"))["config"], "out": str(folder)}
        )
    except (ValueError, KeyError, TypeError):
        return None  # an unreadable manifest only loses the hint, never the validation
    return source_image_root(config)


def schema(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON Schema.")],
) -> None:
    """Write the scene-graph JSON Schema."""
    dump_json_schema(out)
    _out.print(f"wrote the scene-graph JSON Schema to {out}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(convert)
    app.command()(stats)
    app.command()(validate)
    app.command()(schema)
