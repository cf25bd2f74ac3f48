"""``annotate.yaml``: which backend plays each role. Every role is optional; a role is a
mapping with ``backend`` and that backend's settings::

    batch_size: 8            # images per role call
    shard_size: 64           # images per output shard (the unit of resume)
    derive_relations: true   # geometric relations from the boxes (as for datasets)
    tagger:     {backend: fixed, names: [person, horse]}   # or clip (model, vocabulary), vlm
    detector:   {backend: transformers, model: google/owlv2-base-patch16-ensemble,
                 score_threshold: 0.1, nms_iou: 0.5, max_objects: 50, device: auto}
    segmenter:  {backend: sam, model: facebook/sam-vit-base}
    depth:      {backend: transformers, model: depth-anything/Depth-Anything-V2-Small-hf}
    attributes: {backend: vlm, model: "hf:PATH"}   # or model: NAME with base_url (OpenAI API)
    relations:  {backend: vlm, model: "hf:PATH", max_pairs: 10}

Every role may declare what one of its Ray actors needs (``--engine ray``; ignored by the
local engine): ``num_gpus`` (default 1 when its ``device`` is cuda, else 0), ``num_cpus``
(default 1) and ``replicas`` (actors in its pool, default 1); ``engine: ray`` at the top
level is the config's equivalent of ``--engine ray``.

Any role may also be ``{backend: python, factory: "module:function", ...}`` (your own
backend, built by calling the function with the other settings), ``{backend: replay, source:
DATASET}`` (tagger, detector, segmenter: a dataset's annotations) or ``{backend: replay,
maps: DIR, kind: disparity}`` (depth), or ``{backend: fake, cost_s: 0.01}`` (detector,
segmenter, depth: ``models/fakes.py``, deterministic, for tests and benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenesynth.annotate.pipeline import Roles

ROLE_NAMES = ("tagger", "detector", "segmenter", "depth", "attributes", "relations")
_TOP = {"batch_size", "shard_size", "derive_relations", "max_pixels", "engine", *ROLE_NAMES}
ENGINES = ("local", "ray")
RESOURCE_KEYS = ("num_gpus", "num_cpus", "replicas")  # Ray scheduling, not backend settings


@dataclass(frozen=True)
class RoleResources:
    """What one actor of a role's Ray pool reserves, and how many actors the pool has."""

    num_gpus: float = 0.0
    num_cpus: float = 1.0
    replicas: int = 1


def role_resources(config: dict[str, Any]) -> dict[str, RoleResources]:
    """Each configured role's Ray resources; a role on a cuda device gets one GPU unless it
    says otherwise."""
    out = {}
    for role in ROLE_NAMES:
        spec = config.get(role)
        if not isinstance(spec, dict):
            continue
        on_cuda = str(spec.get("device", "")).startswith("cuda")
        try:
            res = RoleResources(num_gpus=float(spec.get("num_gpus", 1.0 if on_cuda else 0.0)),
                                num_cpus=float(spec.get("num_cpus", 1.0)),
                                replicas=int(spec.get("replicas", 1)))
        except (TypeError, ValueError) as exc:
            raise AnnotateConfigError(f"{role}: num_gpus/num_cpus/replicas: {exc}") from None
        if res.num_gpus < 0 or res.num_cpus < 0 or res.replicas < 1:
            raise AnnotateConfigError(f"{role}: num_gpus and num_cpus must be >= 0 and "
                                      "replicas >= 1")
        out[role] = res
    return out


def engine_of(config: dict[str, Any], cli_engine: str | None = None) -> str:
    engine = str(cli_engine or config.get("engine") or "local")
    if engine not in ENGINES:
        raise AnnotateConfigError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    return engine


class AnnotateConfigError(ValueError):
    """A config value names no backend or misses a setting (one line, names the field)."""


def read_annotate_config(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AnnotateConfigError(f"{path}: cannot read the annotate config ({exc})") from None
    if not isinstance(data, dict):
        raise AnnotateConfigError(f"{path}: expected a mapping of roles")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise AnnotateConfigError(f"{path}: unknown field(s) {', '.join(unknown)}; expected "
                                  f"{', '.join(sorted(_TOP))}")
    return data


def _common(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: spec[k] for k in ("device", "dtype", "batch_size") if k in spec}


def _need(role: str, spec: dict[str, Any], key: str) -> Any:
    if key not in spec:
        raise AnnotateConfigError(f"{role}: backend {spec.get('backend')!r} needs '{key}'")
    return spec[key]


def _asker(role: str, spec: dict[str, Any]) -> Any:
    from scenesynth.models.roles import ClientAsker, VisionModelAsker

    model = str(_need(role, spec, "model"))
    if model.startswith("hf:"):
        from scenesynth.models.vlm import HFVisionModel

        return VisionModelAsker(HFVisionModel(model[3:], max_new_tokens=int(
            spec.get("max_tokens", 64)), device=spec.get("device")))
    from scenesynth.models.llm import LLMClient, LLMConfig

    llm_keys = {"base_url", "api_key", "strategy", "timeout_s", "max_attempts", "backoff_s",
                "max_backoff_s", "concurrency", "cache_dir", "use_cache", "stream",
                "max_tokens", "breaker_failures"}
    settings = {k: v for k, v in spec.items() if k in llm_keys}
    return ClientAsker(LLMClient(LLMConfig(model=model, temperature=0.0, **settings)))


def _factory(role: str, spec: dict[str, Any]) -> Any:
    import importlib

    target = str(_need(role, spec, "factory"))
    module, _, attr = target.partition(":")
    try:
        func = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise AnnotateConfigError(f"{role}: factory {target!r}: {exc}") from None
    return func(**{k: v for k, v in spec.items() if k not in ("backend", "factory")})


def build_roles(config: dict[str, Any], replay_cache: dict[str, Any] | None = None) -> Roles:
    """The role backends a config names (models load lazily, on their first batch)."""
    from scenesynth.annotate.replay import ReplayAnnotations, ReplayDepth
    from scenesynth.models import roles as r

    replays = replay_cache if replay_cache is not None else {}

    def replay(role: str, spec: dict[str, Any]) -> Any:
        source = str(_need(role, spec, "source"))
        if source not in replays:
            replays[source] = ReplayAnnotations(source)
        return replays[source]

    built: dict[str, Any] = {}
    for role in ROLE_NAMES:
        spec = config.get(role)
        if spec is None:
            continue
        if not isinstance(spec, dict) or "backend" not in spec:
            raise AnnotateConfigError(f"{role}: expected a mapping with 'backend'")
        backend = spec["backend"]
        spec = {k: v for k, v in spec.items() if k not in RESOURCE_KEYS}
        choice = (role, backend)
        if backend == "python":
            # Your own backend: ``factory: module:function`` called with the other settings,
            # returning an object that follows the role's protocol (models.roles).
            built[role] = _factory(role, spec)
        elif backend == "replay" and role in ("tagger", "detector", "segmenter"):
            built[role] = replay(role, spec)
        elif backend == "fake" and role in ("detector", "segmenter", "depth"):
            from scenesynth.models import fakes

            cls = {"detector": fakes.GridDetector, "segmenter": fakes.EllipseSegmenter,
                   "depth": fakes.FloorDepth}[role]
            built[role] = cls(**{k: v for k, v in spec.items() if k != "backend"})
        elif choice == ("depth", "replay"):
            built[role] = ReplayDepth(str(_need(role, spec, "maps")), spec.get("kind",
                                                                             "disparity"))
        elif choice == ("tagger", "fixed"):
            built[role] = r.FixedTagger(list(_need(role, spec, "names")))
        elif choice == ("tagger", "clip"):
            built[role] = r.ClipTagger(str(_need(role, spec, "model")),
                                       spec.get("vocabulary", "coco"), int(spec.get("top_k", 10)),
                                       float(spec.get("threshold", 0.0)), **_common(spec))
        elif choice == ("tagger", "vlm"):
            built[role] = r.VisionTagger(_asker(role, spec), int(spec.get("max_names", 20)))
        elif choice == ("detector", "transformers"):
            built[role] = r.OpenVocabDetector(
                str(_need(role, spec, "model")), score_threshold=float(
                    spec.get("score_threshold", 0.1)), nms_iou=float(spec.get("nms_iou", 0.5)),
                max_objects=int(spec.get("max_objects", 50)), **_common(spec))
        elif choice == ("segmenter", "sam"):
            built[role] = r.SamSegmenter(str(_need(role, spec, "model")), **_common(spec))
        elif choice == ("depth", "transformers"):
            built[role] = r.TransformersDepth(str(_need(role, spec, "model")), **_common(spec))
        elif choice == ("attributes", "vlm"):
            built[role] = r.VisionAttributes(_asker(role, spec),
                                             int(spec.get("max_objects", 20)))
        elif choice == ("relations", "vlm"):
            built[role] = r.VisionRelations(_asker(role, spec), int(spec.get("max_pairs", 10)))
        else:
            raise AnnotateConfigError(f"{role}: unknown backend {backend!r}")
    return Roles(derive_relations=bool(config.get("derive_relations", True)), **built)
