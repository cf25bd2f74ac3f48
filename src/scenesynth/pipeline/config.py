"""The run configuration: one YAML or TOML file (or CLI flags) fully describes a run.

Fields split in two groups. *Output fields* decide the bytes written (source, generators, seed,
shard size, ...); they are recorded in the manifest, and a resumed run must match them exactly.
*Execution fields* (:data:`EXECUTION_FIELDS`: worker count, engine, Ray address, progress) only
decide how fast the same bytes are produced, so they may change between a run and its resume.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from scenesynth.graph.sample import AnswerForm

# "sharegpt" is the earlier name of "llama-factory" (same files).
ExportFormat = Literal["llava", "llama-factory", "sharegpt", "parquet", "webdataset"]
EngineName = Literal["local", "ray"]

# Fields that never change the output bytes (see the module docstring).
EXECUTION_FIELDS: frozenset[str] = frozenset(
    {
        "workers",
        "engine",
        "ray_address",
        "max_shards_in_flight",
        "progress",
        "out",
        # Guards decide whether a run stops, never the bytes of what it writes: after a stop,
        # the same output directory can be resumed with a looser guard.
        "strict",
        "max_failure_rate",
        "min_records_for_failure_rate",
    }
)


class RefineConfig(BaseModel):
    """Graph refinement before generation (:mod:`scenesynth.refine`)."""

    model_config = ConfigDict(extra="forbid")
    filter_contradictions: bool = False  # drop annotated spatial relations geometry refutes
    add_derived_relations: bool = False  # add the spatial relations geometry decides
    # model refinement (``scenesynth refine``): specs openai:NAME@URL or hf:PATH
    teacher: str | None = Field(None, description="completes relations; None = no model step")
    judge: str | None = Field(None, description="checks non-spatial proposals (default teacher)")
    editor: str | None = Field(None, description="edits graphs; None = no edit step")
    k: int = Field(3, ge=1, description="subjects per image the teacher completes")
    per_subject: int = Field(2, ge=1, description="proposals per subject and category")
    keep_undecided: bool = False  # keep spatial proposals geometry cannot decide
    concurrency: int = Field(16, ge=1, description="requests in flight per role and worker")
    cache_dir: str | None = Field(None, description="answer cache; None = OUT/llm-cache")
    strategy: str = "auto"  # structured-output form
    attempts: int = Field(4, ge=1, description="attempts per request")
    timeout_s: float = Field(60.0, gt=0, description="seconds per request")
    backoff_s: float = Field(0.5, ge=0, description="first retry delay, doubled per retry")

    @property
    def enabled(self) -> bool:
        return self.filter_contradictions or self.add_derived_relations or bool(self.teacher)


class GenerateConfig(BaseModel):
    """Overrides of the generators' knobs (``scenesynth.generators.base.GenConfig``); a field
    left unset keeps that default. Only the fields set are recorded in the manifest."""

    model_config = ConfigDict(extra="forbid")
    mc_options: int | None = Field(None, ge=2, description="options of a multiple-choice form")
    duplicate_iou: float | None = Field(None, description="boxes above it count as one object")
    max_name_distractors: int | None = Field(None, ge=0)
    max_per_generator: int | None = Field(None, ge=1, description="candidates per context")
    compare_margin: float | None = Field(None, ge=0, description="margin a comparison needs")
    region_margin: float | None = Field(None, ge=0)
    # a paraphrase bank (JSON written by paraphrase-templates) or "default" (the shipped one)
    paraphrases: str | None = None

    def overrides(self) -> dict[str, Any]:
        """The fields set, as ``GenConfig`` keyword arguments (``paraphrases`` included)."""
        return self.model_dump(exclude_unset=True)


class ExportConfig(BaseModel):
    """Options of the export writer (``scenesynth.export.export_samples``); unset fields keep
    the writer's defaults. Only the fields set are recorded in the manifest."""

    model_config = ConfigDict(extra="forbid")
    image_root: str | None = Field(None, description="folder image paths are relative to; "
                                   "None = the source's folder")
    require_images: bool | None = Field(None, description="a missing image file is an error")
    name: str | None = Field(None, description="file stem (default data)")
    jsonl: bool | None = Field(None, description="llama-factory: data.jsonl, not data.json")
    dataset_name: str | None = Field(None, description="llama-factory: dataset_info.json entry")
    multi_image: bool | None = Field(None, description="parquet: image list column")
    rows_per_group: int | None = Field(None, ge=1, description="parquet: rows per row group")

    def options(self) -> dict[str, Any]:
        """The fields set, as ``export_samples`` keyword arguments."""
        return self.model_dump(exclude_unset=True)


class SynthesizeConfig(BaseModel):
    """The synthesizing source: scene ``i`` is a knowledge graph (built-in knowledge base or an
    LLM) laid out, rendered and verified (:mod:`scenesynth.pipeline.synthesize`)."""

    model_config = ConfigDict(extra="forbid")
    scenes: int = Field(ge=1, description="scenes (images) to synthesize")
    knowledge: Literal["kb", "llm"] = "kb"
    # the LLM client's settings (knowledge "llm", a scenesynth.models.llm.LLMConfig; not
    # imported here so that `generate` starts without the model stack); never in the manifest,
    # which must not hold the API key
    llm: Any = Field(None, exclude=True)
    llm_keep_kb_form: bool = True  # known objects keep the knowledge base's form and placement
    n_objects: tuple[int, int] = (3, 8)
    canvas: int = Field(512, ge=16, description="image side, pixels")
    min_visible_pixels: int = Field(64, ge=1, description="smaller objects are dropped")
    relayout_tries: int = Field(3, ge=1, description="layouts tried when a render breaks a rel")
    kg_resamples: int = Field(2, ge=0, description="fresh KGs tried when one cannot be laid out")
    image_format: Literal["png", "jpeg"] = "png"
    save_depth: bool = False  # depth/<id>.npz (float32 metres), referenced by image.depth_map
    # "cpu" (exact, built in) or "gligen" (diffusion; each image must pass the detector check)
    renderer: Literal["cpu", "gligen"] = "cpu"
    gligen_model: str | None = None
    gligen_steps: int = Field(30, ge=1)
    gligen_long_side: int = Field(512, ge=16)
    detector: str | None = None
    detector_iou: float = 0.5
    detector_score: float = 0.1
    device: str = "auto"
    # image check: a judge model (openai:NAME@URL or hf:PATH); a denied image is dropped
    judge: str | None = None
    judge_concurrency: int = Field(16, ge=1)
    # answer check (needs judge): off | drop | flag the appearance yes/no samples it denies
    answer_check: Literal["off", "drop", "flag"] = "off"


class RunConfig(BaseModel):
    """Everything a run needs. Build with :func:`load_config` or directly."""

    model_config = ConfigDict(extra="forbid")

    # -- output fields ----------------------------------------------------------------------
    source: str | None = Field(None, description="dataset file/folder or scene-graph JSONL")
    synthesize: SynthesizeConfig | None = Field(
        None, description="synthesize the scenes instead of loading a source")
    source_format: str | None = Field(None, description="loader format; None = auto-detect")
    strict: bool = Field(False, description="stop at the first malformed source record")
    generators: list[str] = Field(default_factory=lambda: ["all"])
    per_image: int = Field(10, ge=1, description="samples kept per image")
    forms: list[AnswerForm] = Field(
        default_factory=lambda: [AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE, AnswerForm.YES_NO]
    )
    multi_image_group: tuple[int, int] | None = Field(
        None, description="(min, max) images per multi-image group; None = single-image only"
    )
    format: ExportFormat = "llava"
    seed: int = 0
    shard_size: int = Field(100, ge=1, description="input records per shard")
    max_failure_rate: float = Field(
        0.05, ge=0.0, le=1.0, description="a stage failing more records than this stops the run"
    )
    min_records_for_failure_rate: int = Field(
        100, ge=1, description="records a stage must see before its failure rate can stop the run"
    )
    refine: RefineConfig = Field(default_factory=RefineConfig)
    gen: GenerateConfig = Field(default_factory=GenerateConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)

    # -- execution fields (see EXECUTION_FIELDS) -------------------------------------------
    out: str = Field(description="output directory")
    workers: int | None = Field(None, ge=1, description="processes; None = os.cpu_count()")
    engine: EngineName = "local"
    ray_address: str | None = Field(None, description="existing Ray cluster; None = start one")
    max_shards_in_flight: int | None = Field(
        None, ge=1, description="bound on shards held in memory; None = 2 x workers"
    )
    progress: bool = True

    @field_validator("generators", mode="before")
    @classmethod
    def _split_generators(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [g.strip() for g in v.split(",") if g.strip()]
        return v

    @field_validator("forms", mode="before")
    @classmethod
    def _split_forms(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [f.strip() for f in v.split(",") if f.strip()]
        return v

    @field_validator("multi_image_group", mode="before")
    @classmethod
    def _group_size(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return None if v <= 1 else (v, v)
        if isinstance(v, str):
            parts = [p for p in v.replace("-", ",").split(",") if p.strip()]
            return None if not parts else (int(parts[0]), int(parts[-1]))
        return v

    @field_validator("generators")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one generator name (or 'all') is required")
        return v

    @field_serializer("gen", "export")
    def _fields_set(self, value: GenerateConfig | ExportConfig) -> dict[str, Any]:
        # only what the config sets: a manifest names the knobs a run changed, and stays the
        # same when a release adds a knob
        return value.model_dump(mode="json", exclude_unset=True)

    @model_validator(mode="after")
    def _one_source(self) -> RunConfig:
        if (self.source is None) == (self.synthesize is None):
            raise ValueError("set exactly one of 'source' (a dataset) and 'synthesize'")
        return self

    def resolved_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def resolved_in_flight(self) -> int:
        return self.max_shards_in_flight or 2 * self.resolved_workers()

    def output_fields(self) -> dict[str, Any]:
        """The fields that decide the output bytes, JSON-ready (recorded in the manifest)."""
        fields = self.model_dump(mode="json", exclude=set(EXECUTION_FIELDS))
        if self.synthesize is None:
            del fields["synthesize"]  # a dataset run's manifest reads as before synthesis existed
        return fields


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and field."""


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file into a mapping."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc}") from exc
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not valid {p.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of field: value")
    return data


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None
) -> RunConfig:
    """Build a :class:`RunConfig` from a file plus overrides (``None`` overrides are ignored, so
    CLI flags left unset keep the file's value). Relative ``source``/``out`` paths in a file are
    resolved against the file's folder."""
    data: dict[str, Any] = {}
    origin = "command line"
    if path is not None:
        data = read_config_file(path)
        origin = str(path)
        base = Path(path).resolve().parent
        for key in ("source", "out"):
            if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
                data[key] = str((base / data[key]).resolve())
        export = data.get("export")
        if isinstance(export, dict):
            root = export.get("image_root")
            if isinstance(root, str) and not Path(root).is_absolute():
                export["image_root"] = str((base / root).resolve())
        gen = data.get("gen")
        bank = gen.get("paraphrases") if isinstance(gen, dict) else None
        if isinstance(bank, str) and bank != "default" and not Path(bank).is_absolute():
            gen["paraphrases"] = str((base / bank).resolve())  # type: ignore[index]
    overrides = dict(overrides or {})
    bank_override = overrides.pop("paraphrases", None)  # generate --paraphrases: a gen knob
    if bank_override is not None:
        data["gen"] = {**(data.get("gen") or {}), "paraphrases": str(bank_override)}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{origin}: invalid run config: {problems}") from exc
