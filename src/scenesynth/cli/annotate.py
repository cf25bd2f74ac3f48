"""``scenesynth annotate``: photos (or human graphs plus their photos) -> scene graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from scenesynth.pipeline.runner import EXIT_BAD_INPUT, EXIT_NOTHING_EXPORTED

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def annotate(
    images: Annotated[
        list[str] | None,
        typer.Argument(help="Image folders, globs, files, or JSONL files of image paths."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (resumable).")] = Path(
        "annotated"),
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="annotate.yaml: each role's backend.")
    ] = None,
    image_root: Annotated[
        Path | None, typer.Option(help="Folder the graphs' image paths are relative to "
                                  "(default: the deepest folder holding the images and --out).")
    ] = None,
    graphs: Annotated[
        Path | None, typer.Option(help="Augment mode: human scene graphs (any loader format).")
    ] = None,
    images_dir: Annotated[
        Path | None, typer.Option("--images", help="Augment mode: their images' folder.")
    ] = None,
    add: Annotated[
        str, typer.Option(help="Augment mode: what to fill in where missing: depth,masks.")
    ] = "depth,masks",
    engine: Annotated[
        str | None, typer.Option(help="local (one process) or ray (each model role an actor "
                                 "pool with its num_gpus/num_cpus/replicas from --config); "
                                 "default: the config's engine, else local.")
    ] = None,
) -> None:
    """Annotate images with model roles (tagger, detector, segmenter, depth, attributes,
    relations) into scene-graph JSONL (OUT/graphs.jsonl) that `scenesynth generate -c
    OUT/generate.yaml` reads; or, with --graphs, fill in masks and depth that human graphs lack."""
    from scenesynth.annotate.config import AnnotateConfigError
    from scenesynth.annotate.runner import AnnotateInputError, run_annotate
    from scenesynth.ioutil.manifest import ManifestMismatch

    if not images and graphs is None:
        _err.print("[red]error:[/red] give IMAGES... or --graphs with --images")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        summary = run_annotate(list(images or []), out, config, image_root, graphs, images_dir,
                               [a for a in add.split(",") if a] if graphs else None,
                               engine=engine)
    except (AnnotateConfigError, AnnotateInputError, ManifestMismatch, FileNotFoundError) as exc:
        _err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _out.print(f"{summary.graphs} graphs from {summary.images} images "
               f"({summary.failures} failed, see {out / 'failures.jsonl'}), "
               f"{summary.shards_skipped} shards resumed; {summary.seconds:.1f} s")
    _out.print(f"next: scenesynth generate -c {out / 'generate.yaml'} --out QA_FOLDER")
    if summary.graphs == 0:
        raise typer.Exit(EXIT_NOTHING_EXPORTED)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(annotate)
