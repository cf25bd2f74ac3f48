"""CLI verbs ``scenesynth synth`` and ``scenesynth demo``: synthesize rendered scenes with
exact annotations and instruction data. Both build a :class:`~scenesynth.pipeline.RunConfig`
with a ``synthesize`` source (:mod:`scenesynth.pipeline.synthesize`) and run the one pipeline,
so they are resumable (rerun the same command), sharded, worker-count independent, and run on
Ray with ``--engine ray``."""

from __future__ import annotations

import json
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import typer

from scenesynth.models.llm import (
    LLMConfig,
    LLMConfigError,
    LLMError,
    read_config_file,
    resolve_config,
)
from scenesynth.pipeline.config import RunConfig, SynthesizeConfig
from scenesynth.pipeline.runner import RunSummary


def _print_report(summary: RunSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    out = summary.out
    card = json.loads((out / "card.json").read_text()) if (out / "card.json").is_file() else {}
    export = summary.export
    console = Console()
    table = Table(title=f"scenesynth synth -> {out}")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("images rendered", str(export.get("images", 0)))
    table.add_row("samples exported", str(export.get("written", 0)))
    table.add_row("export file", ", ".join(Path(f).name for f in export.get("files", [])))
    validation = export.get("validation") or {}
    table.add_row("validation", "passed" if validation.get("ok") else "FAILED")
    table.add_row("export check", ", ".join(
        f"{n} {kind}" for kind, n in export.get("check_problems", {}).items()) or "clean")
    table.add_row("shards (resumed)", f"{summary.shards} ({summary.shards_skipped})")
    llm = card.get("llm")
    llm_reasons = set(llm["rejections"]) if llm is not None else set()
    for reason, count in sorted(card.get("failures_by_reason", {}).items()):
        if reason in llm_reasons or reason.startswith("repaired_"):
            continue  # listed below with the model's statistics
        table.add_row(f"failures: {reason}", str(count))
    for key, value in sorted(card.get("pipeline_counters", {}).items()):
        table.add_row(key, str(value))
    if llm is not None:
        table.add_row("llm structured output", str(llm["strategy"]))
        table.add_row("llm requests (probe, wasted)",
                      f"{llm['requests']} ({llm['probe_requests']}, {llm['wasted_requests']})")
        table.add_row("llm cache hits", str(llm["cache_hits"]))
        table.add_row("llm answers accepted", str(llm["responses_accepted"]))
        table.add_row("llm latency p50 / p90 s",
                      f"{llm['latency_s']['p50']} / {llm['latency_s']['p90']}")
        for reason, count in llm["retries"].items():
            table.add_row(f"llm retries: {reason}", str(count))
        for reason, count in llm["rejections"].items():
            table.add_row(f"llm rejected: {reason}", str(count))
        for reason, count in llm["repairs"].items():
            table.add_row(f"llm repaired: {reason}", str(count))
    table.add_row("wall seconds", f"{summary.seconds:.1f}")
    console.print(table)
    if not validation.get("ok"):
        for err in validation.get("errors", []):
            console.print(f"[red]{err}")


def _check_generators(names: list[str] | None) -> None:
    """Unknown generator names fail here, in one line, before any scene is synthesized."""
    from scenesynth.pipeline.shard import select_generators

    try:
        select_generators(names)
    except ValueError as exc:
        typer.echo(f"error: --generators: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _exit_code(summary: RunSummary) -> int:
    """Exit code of a synth/demo run (README, "Exit codes"): 1 invalid export, 5 no image or
    no sample, each with a one-line reason on stderr."""
    from rich.console import Console

    problems = summary.problems()
    if not problems:
        return 0
    code, reason = problems[0]
    Console(stderr=True, highlight=False).print(f"[red]error:[/red] {reason}", soft_wrap=True)
    return code


def _stopped_by_the_model(out: Path, stage: Any, exc: LLMError) -> None:
    """What was learnt before the model server gave up stays readable: the finished shards'
    failures, the scene list's rejections and the reason the run stopped."""
    from scenesynth.ioutil import atomic_write
    from scenesynth.ioutil.manifest import FailureRecord, Manifest, failures_path

    manifest = Manifest.load(out) if out.is_dir() else None
    out.mkdir(parents=True, exist_ok=True)
    stopped = FailureRecord("llm", "run", "run_stopped", str(exc))
    lines = [failures_path(out, e.index).read_text(encoding="utf-8")
             for e in (manifest.entries() if manifest is not None else []) if e.failures]
    if not lines:  # stopped before any shard: the scene list's own rejections
        lines = [json.dumps(f.to_dict(), ensure_ascii=False) + "\n"
                 for f in getattr(stage, "prepare_failures", [])]
    with atomic_write(out / "failures.jsonl") as fh:
        fh.write("".join(lines) + json.dumps(stopped.to_dict(), ensure_ascii=False) + "\n")


def _run(config: RunConfig, kg_factory: Any = None) -> RunSummary:
    """Run a synthesizing config from the command line: every way it can stop is one line on
    stderr and an exit code (README, "Exit codes")."""
    from scenesynth.pipeline import ManifestMismatch, RunAborted, build_stages, run

    stages = build_stages(config, kg_factory=kg_factory)
    try:
        return run(config, stages)
    except LLMError as exc:  # unreachable, refusing or failing server: one line
        _stopped_by_the_model(Path(config.out), stages[0], exc)
        raise _fail(f"{exc} (details in {Path(config.out) / 'failures.jsonl'})") from None
    except RunAborted as exc:
        raise _fail(f"run stopped: {exc}", code=3) from None
    except BrokenProcessPool:
        raise _fail("a worker process died (killed, or out of memory); finished shards are "
                    "kept: rerun the same command to resume", code=4) from None
    except (ManifestMismatch, ValueError) as exc:
        raise _fail(str(exc)) from None


def _parse_range(text: str, flag: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{flag} expects MIN,MAX (e.g. 3,8), got {text!r}") from None
    if lo < 1 or hi < lo:
        raise typer.BadParameter(f"{flag} expects 1 <= MIN <= MAX, got {text!r}")
    return lo, hi


def _fail(message: str, code: int = 2) -> typer.Exit:
    """One line on stderr; code 2 is EXIT_BAD_INPUT (a bad LLM setting, or an LLM server that
    cannot be reached or keeps failing: the input of ``--source llm``)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=code)


def _llm_config(flags: dict[str, Any], config_file: Path | None) -> LLMConfig:
    """Flags over the config file's [llm] table over SCENESYNTH_LLM_* over the defaults."""
    file_values = read_config_file(config_file) if config_file is not None else {}
    return resolve_config(flags, file_values)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @app.command()
    def synth(
        out: Path = typer.Option(..., "--out", help="Output folder."),
        scenes: int = typer.Option(100, "--scenes", min=1, help="Images to synthesize."),
        seed: int = typer.Option(0, "--seed", help="Global seed (per-image seeds derive)."),
        per_image: int = typer.Option(2, "--per-image", min=1,
                                      help="Questions kept per image and generator."),
        fmt: str = typer.Option("llava", "--format",
                                help="llava | llama-factory (alias sharegpt) | parquet | "
                                "webdataset"),
        workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
        engine: str = typer.Option("local", "--engine",
                                   help="local (process pool) or ray (Ray Data)."),
        shard_size: int = typer.Option(16, "--shard-size", min=1,
                                       help="Scenes per shard (the unit of resumption)."),
        source: str = typer.Option("kb", "--source", help="kb (built-in) | llm"),
        objects: str = typer.Option("3,8", "--objects", help="Objects per scene MIN,MAX."),
        canvas: int = typer.Option(512, "--canvas", min=64, help="Image side, pixels."),
        generators: str = typer.Option("all", "--generators",
                                       help="Comma-separated generator names, or all."),
        min_visible_pixels: int = typer.Option(64, "--min-visible-pixels", min=1),
        save_depth: bool = typer.Option(False, "--save-depth",
                                        help="Also write depth/<id>.npz (float32 metres)."),
        image_format: str = typer.Option("png", "--image-format", help="png | jpeg"),
        no_progress: bool = typer.Option(False, "--no-progress"),
        llm_config: Path | None = typer.Option(
            None, "--llm-config", help="TOML/YAML file whose [llm] table sets the LLM client."),
        llm_model: str | None = typer.Option(None, "--llm-model",
                                             help="[env SCENESYNTH_LLM_MODEL]"),
        llm_base_url: str | None = typer.Option(None, "--llm-base-url",
                                                help="[env SCENESYNTH_LLM_BASE_URL]"),
        llm_api_key: str | None = typer.Option(
            None, "--llm-api-key",
            help="[env SCENESYNTH_LLM_API_KEY or OPENAI_API_KEY; prefer the environment]"),
        llm_strategy: str | None = typer.Option(
            None, "--llm-strategy", help="auto | json_schema | json_object_schema | "
            "guided_json | json_object | prompt [env SCENESYNTH_LLM_STRATEGY]"),
        llm_timeout: float | None = typer.Option(
            None, "--llm-timeout", help="Seconds per request [env SCENESYNTH_LLM_TIMEOUT]"),
        llm_attempts: int | None = typer.Option(
            None, "--llm-attempts", help="Attempts per request [env SCENESYNTH_LLM_ATTEMPTS]"),
        llm_temperature: float | None = typer.Option(
            None, "--llm-temperature", help="[env SCENESYNTH_LLM_TEMPERATURE]"),
        llm_max_tokens: int | None = typer.Option(
            None, "--llm-max-tokens",
            help="Upper bound per answer [env SCENESYNTH_LLM_MAX_TOKENS]"),
        llm_concurrency: int | None = typer.Option(
            None, "--llm-concurrency",
            help="Requests in flight per worker [env SCENESYNTH_LLM_CONCURRENCY]"),
        llm_seed_policy: str | None = typer.Option(
            None, "--llm-seed-policy",
            help="vary | fixed | none: seed per retry [env SCENESYNTH_LLM_SEED_POLICY]"),
        llm_breaker: int | None = typer.Option(
            None, "--llm-breaker-failures",
            help="Failed requests in a row that end the run "
                 "[env SCENESYNTH_LLM_BREAKER_FAILURES]"),
        llm_cache_dir: str | None = typer.Option(
            None, "--llm-cache-dir", help="[env SCENESYNTH_LLM_CACHE_DIR]"),
        llm_trust_model_form: bool = typer.Option(
            False, "--llm-trust-model-form",
            help="Let the model's form and placement override the knowledge base's for "
                 "known objects."),
        judge: str | None = typer.Option(
            None, "--judge", help="Image check: a judge model (openai:NAME@URL or hf:PATH) "
            "asked about every object and relation of each image; denied images are dropped."),
        judge_concurrency: int = typer.Option(16, "--judge-concurrency", min=1,
                                              help="Judge requests in flight per worker."),
        renderer: str = typer.Option(
            "cpu", "--renderer", help="cpu (exact, built in) | gligen (diffusion, GPU; each "
            "image must pass the open-vocabulary detector check)"),
        gligen_model: str | None = typer.Option(
            None, "--gligen-model", help="GLIGEN pipeline: hub id or local folder."),
        gligen_steps: int = typer.Option(30, "--gligen-steps", min=1),
        gligen_size: int = typer.Option(512, "--gligen-size", min=16,
                                        help="Long side GLIGEN generates at, pixels."),
        detector: str | None = typer.Option(
            None, "--detector", help="Open-vocabulary detector (gligen): hub id or folder."),
        detector_iou: float = typer.Option(0.5, "--detector-iou",
                                           help="IoU a detection needs with its box."),
        detector_score: float = typer.Option(0.1, "--detector-score"),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda:N (gligen)"),
        answer_check: str = typer.Option(
            "off", "--answer-check", help="off | drop | flag: the judge answers the yes/no "
            "attribute and relation questions from the image; disagreements dropped or "
            "flagged (needs --judge)."),
    ) -> None:
        """Synthesize SCENES images from the knowledge base (or an LLM) with exact
        annotations, generate instruction data, export it and validate the export."""
        from scenesynth.export import FORMATS, canonical_format

        if canonical_format(fmt) is None:
            raise typer.BadParameter(
                f"--format: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}"
            )
        if image_format not in ("png", "jpeg"):
            raise typer.BadParameter(f"--image-format: expected png or jpeg, got {image_format!r}")
        if source not in ("kb", "llm"):
            raise typer.BadParameter(f"--source: expected kb or llm, got {source!r}")
        llm: LLMConfig | None = None
        if source == "llm":
            flags = {"model": llm_model, "base_url": llm_base_url, "api_key": llm_api_key,
                     "strategy": llm_strategy, "timeout_s": llm_timeout,
                     "max_attempts": llm_attempts, "temperature": llm_temperature,
                     "max_tokens": llm_max_tokens, "concurrency": llm_concurrency,
                     "seed_policy": llm_seed_policy, "breaker_failures": llm_breaker,
                     "cache_dir": llm_cache_dir}
            try:
                llm = _llm_config(flags, llm_config)
            except LLMConfigError as exc:
                raise _fail(str(exc)) from None
        names = None if generators == "all" else [g.strip() for g in generators.split(",")
                                                   if g.strip()]
        _check_generators(names)
        if renderer not in ("cpu", "gligen"):
            raise _fail(f"--renderer {renderer!r}: expected cpu or gligen")
        if engine not in ("local", "ray"):
            raise _fail(f"--engine {engine!r}: expected local or ray")
        kind, _, rest = (judge or "").partition(":")
        spec_ok = (kind == "hf" and bool(rest)) or (kind == "openai" and "@" in rest)
        if judge is not None and not spec_ok:
            raise _fail(f"--judge {judge!r}: expected openai:NAME@URL or hf:PATH")
        if answer_check not in ("off", "drop", "flag") or (answer_check != "off" and not judge):
            raise _fail(f"--answer-check {answer_check!r}: expected off, drop or flag, "
                        "and drop or flag need --judge")
        from scenesynth.pipeline.synthesize import synthesis_config

        scene_config = SynthesizeConfig(
            scenes=scenes, knowledge=source, llm=llm, llm_keep_kb_form=not llm_trust_model_form,
            n_objects=_parse_range(objects, "--objects"), canvas=canvas,
            min_visible_pixels=min_visible_pixels, save_depth=save_depth,
            image_format=image_format, judge=judge, judge_concurrency=judge_concurrency,
            answer_check=answer_check, renderer=renderer, gligen_model=gligen_model,
            gligen_steps=gligen_steps, gligen_long_side=gligen_size, detector=detector,
            detector_iou=detector_iou, detector_score=detector_score, device=device,
        )
        config = synthesis_config(
            out, scene_config, seed=seed, per_image=per_image, format=fmt,
            workers=workers, engine=engine, shard_size=shard_size,
            generators=names or ["all"], progress=not no_progress,
        )
        summary = _run(config)
        _print_report(summary)
        code = _exit_code(summary)
        if code:
            raise typer.Exit(code=code)

    @app.command()
    def demo(
        out: Path = typer.Option(Path("demo_out"), "--out", help="Output folder."),
        workers: int = typer.Option(2, "--workers", min=1),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Offline demo: >= 200 rendered images and >= 2,000 LLaVA samples in a few minutes on
        2 cores, no network (resumable: rerun the same command)."""
        from scenesynth.pipeline.synthesize import demo_config

        summary = _run(demo_config(out, workers=workers, seed=seed))
        _print_report(summary)
        code = _exit_code(summary)
        if code:
            raise typer.Exit(code=code)
