"""Engine verbs: ``generate`` (flags or a config file) and ``run --config``.

Both run :func:`scenesynth.engine.run`: sharded, parallel, resumable (rerun the same command
after an interruption and finished shards are verified and skipped), ending with the export and
its validation. Flags override the config file's fields.

Exit codes: 0 done; 1 the export failed validation; 2 bad config or input; 3 a stage's failure
rate exceeded ``max_failure_rate``; 4 a worker process died (rerun to resume).
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def _execute(config_path: Path | None, overrides: dict[str, Any]) -> Path:
    from scenesynth.engine import ConfigError, ManifestMismatch, RunAborted, load_config, run

    try:
        config = load_config(config_path, overrides)
    except ConfigError as exc:
        _err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        summary = run(config)
    except RunAborted as exc:
        _err.print(f"[red]run stopped:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(3) from None
    except BrokenProcessPool:
        _err.print(
            "[red]run stopped:[/red] a worker process died (killed, or out of memory: try "
            "fewer --workers or a smaller --shard-size). Finished shards are kept; rerun the "
            "same command to resume.",
            soft_wrap=True,
        )
        raise typer.Exit(4) from None
    except (ManifestMismatch, FileNotFoundError, ValueError) as exc:
        # ValueError covers the loaders' LoadError (strict mode) and UnknownFormatError, and
        # unknown generator names; each message names the file / record / field.
        _err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    for line in summary.lines():
        _out.print(escape(line), soft_wrap=True)
    validation = summary.export.get("validation")
    if validation is not None and not validation["ok"]:
        _err.print(
            f"[red]export failed validation:[/red] {validation['error_count']} error(s)",
            soft_wrap=True,
        )
        for message in validation["errors"]:
            _err.print(f"  {escape(message)}", soft_wrap=True)
        raise typer.Exit(1)
    return Path(config.out)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Run config (YAML or TOML); flags override its fields."),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-w", help="Processes (default: all cores).")
]
EngineOption = Annotated[
    str | None, typer.Option("--engine", help="local (process pool) or ray (Ray Data).")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option("--ray-address", help="Existing Ray cluster (default: start a local one)."),
]
ProgressOption = Annotated[
    bool | None, typer.Option("--progress/--no-progress", help="Live progress display.")
]


def generate(
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Dataset file/folder or graph JSONL.")
    ] = None,
    generators: Annotated[
        str | None,
        typer.Option("--generators", "-g", help="Comma-separated generator names, or 'all'."),
    ] = None,
    per_image: Annotated[
        int | None, typer.Option("--per-image", "-n", help="Questions per image and generator.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Export: llava, sharegpt, parquet or webdataset."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Run seed.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output directory.")] = None,
    workers: WorkersOption = None,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    config: ConfigOption = None,
    shard_size: Annotated[
        int | None, typer.Option("--shard-size", help="Input records per shard.")
    ] = None,
    forms: Annotated[
        str | None, typer.Option("--forms", help="Answer forms: short,mc,yes_no.")
    ] = None,
    source_format: Annotated[
        str | None, typer.Option("--source-format", help="Loader format (default: sniffed).")
    ] = None,
    strict: Annotated[
        bool | None, typer.Option("--strict/--lenient", help="Stop at the first bad record.")
    ] = None,
    max_failure_rate: Annotated[
        float | None,
        typer.Option("--max-failure-rate", help="Stop when a stage fails more records."),
    ] = None,
    multi_image_group: Annotated[
        str | None,
        typer.Option("--multi-image-group", help="Images per multi-image group: N or MIN-MAX."),
    ] = None,
    progress: ProgressOption = None,
    holdout: Annotated[
        bool, typer.Option("--holdout", help="Then split train / holdout (scenesynth split's "
                                             "defaults: 20 % of images, 2 templates, 2 pairs).")
    ] = False,
) -> None:
    """Generate instruction data from scene graphs (resumable: rerun the same command)."""
    overrides = {
        "source": source,
        "generators": generators,
        "per_image": per_image,
        "format": fmt,
        "seed": seed,
        "out": str(out) if out is not None else None,
        "workers": workers,
        "engine": engine,
        "ray_address": ray_address,
        "shard_size": shard_size,
        "forms": forms,
        "source_format": source_format,
        "strict": strict,
        "max_failure_rate": max_failure_rate,
        "multi_image_group": multi_image_group,
        "progress": progress,
    }
    run_out = _execute(config, overrides)
    if holdout:
        # A post-generation step, so the run's samples are the same with or without it.
        from scenesynth.cli.evaluate import split as split_command

        split_command(run_out, seed=seed or 0)


def run_config(
    config: Annotated[Path, typer.Option("--config", "-c", help="Run config (YAML or TOML).")],
    workers: WorkersOption = None,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    progress: ProgressOption = None,
) -> None:
    """Run the pipeline a config file describes (resumable: rerun the same command)."""
    _execute(
        config,
        {"workers": workers, "engine": engine, "ray_address": ray_address, "progress": progress},
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("generate")(generate)
    app.command("run")(run_config)
