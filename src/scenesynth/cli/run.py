"""Engine verbs: ``generate`` (flags or a config file) and ``run --config``.

Both run :func:`scenesynth.pipeline.run`: sharded, parallel, resumable (rerun the same command
after an interruption and finished shards are verified and skipped), ending with the export and
its validation. Flags override the config file's fields.

Exit codes (one table, ``scenesynth.pipeline.runner.EXIT_*``, README "Exit codes"): 0 done;
1 the export failed validation; 2 bad config or input; 3 a stage's failure rate exceeded
``max_failure_rate``; 4 a worker process died (rerun to resume); 5 nothing exported; 6 a source
file was not read to its end; 7 an OS-level failure (disk full, permission denied).
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
    from scenesynth.pipeline import ConfigError, ManifestMismatch, RunAborted, load_config, run
    from scenesynth.pipeline.runner import EXIT_INVALID_EXPORT

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
    errors = validation["errors"] if validation is not None and not validation["ok"] else []
    problems = summary.problems()
    for code, reason in problems:
        if code == EXIT_INVALID_EXPORT and len(errors) == 1:
            reason = errors[0]  # e.g. every sample skipped: that one line says it all
        _err.print(f"[red]error:[/red] {escape(reason)}", soft_wrap=True)
        if code == EXIT_INVALID_EXPORT and len(errors) > 1:
            for message in errors:
                _err.print(f"  {escape(message)}", soft_wrap=True)
    if problems:
        raise typer.Exit(problems[0][0])
    return Path(config.out)


def _default(name: str) -> str:
    """A run-config field's default, shown by ``--help`` (the options themselves default to
    None so that an unset flag keeps the config file's value)."""
    from scenesynth.pipeline.config import RunConfig

    info = RunConfig.model_fields[name]
    value = info.get_default(call_default_factory=True)
    if isinstance(value, list):
        return ",".join(str(getattr(v, "value", v)) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return {"workers": "all cores", "source_format": "sniffed",
                "multi_image_group": "single-image only"}.get(name, "none")
    return str(value)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Run config (YAML or TOML); flags override its fields."),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-w", help="Processes.", show_default=_default("workers"))
]
EngineOption = Annotated[
    str | None, typer.Option("--engine", help="local (process pool) or ray (Ray Data).",
                                show_default=_default("engine"))
]
RayAddressOption = Annotated[
    str | None,
    typer.Option("--ray-address", help="Existing Ray cluster (default: start a local one)."),
]
ProgressOption = Annotated[
    bool | None, typer.Option("--progress/--no-progress", help="Live progress display.",
                                 show_default=_default("progress"))
]


def generate(
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Dataset file/folder or graph JSONL.")
    ] = None,
    generators: Annotated[
        str | None,
        typer.Option("--generators", "-g", help="Comma-separated generator names, or 'all'.",
                     show_default=_default("generators")),
    ] = None,
    per_image: Annotated[
        int | None, typer.Option("--per-image", "-n", help="Questions per image and generator.",
                                  show_default=_default("per_image"))
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Export, named by trainer: llava, llama-factory "
                     "(alias sharegpt), parquet or webdataset.", show_default=_default("format")),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Run seed.", show_default=_default("seed"))
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output directory.")] = None,
    workers: WorkersOption = None,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    config: ConfigOption = None,
    shard_size: Annotated[
        int | None, typer.Option("--shard-size", help="Input records per shard.",
                                  show_default=_default("shard_size"))
    ] = None,
    forms: Annotated[
        str | None, typer.Option("--forms", help="Answer forms: short,mc,yes_no.",
                                  show_default=_default("forms"))
    ] = None,
    source_format: Annotated[
        str | None, typer.Option("--source-format", help="Loader format.",
                                  show_default=_default("source_format"))
    ] = None,
    strict: Annotated[
        bool | None, typer.Option("--strict/--lenient", help="Stop at the first bad record.",
                                   show_default="lenient")
    ] = None,
    max_failure_rate: Annotated[
        float | None,
        typer.Option("--max-failure-rate", help="Stop when a stage fails more records.",
                     show_default=_default("max_failure_rate")),
    ] = None,
    multi_image_group: Annotated[
        str | None,
        typer.Option("--multi-image-group", help="Images per multi-image group: N or MIN-MAX.",
                     show_default=_default("multi_image_group")),
    ] = None,
    progress: ProgressOption = None,
    paraphrases: Annotated[
        str | None,
        typer.Option("--paraphrases", help="Paraphrase bank (JSON, as paraphrase-templates "
                     "writes it) whose phrasings join the templates' wordings; 'default' is "
                     "the shipped human-reviewed bank. Sets the config's gen.paraphrases.",
                     show_default="none"),
    ] = None,
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
        "paraphrases": paraphrases,
    }
    run_out = _execute(config, overrides)
    if holdout:
        # A post-generation step, so the run's samples are the same with or without it.
        from scenesynth.cli.evaluate import split as split_command

        split_command(run_out, seed=seed or 0)


def run_config(
    config: Annotated[Path, typer.Option("--config", "-c", help="Run config (YAML or TOML).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory (overrides the config's 'out').",
                     show_default="the config's out"),
    ] = None,
    workers: WorkersOption = None,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    progress: ProgressOption = None,
) -> None:
    """Run the pipeline a config file describes (resumable: rerun the same command)."""
    _execute(
        config,
        {"out": str(out) if out is not None else None, "workers": workers, "engine": engine,
         "ray_address": ray_address, "progress": progress},
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("generate")(generate)
    app.command("run")(run_config)
