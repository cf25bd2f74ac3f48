"""LLM backend: spatial knowledge graphs proposed by any OpenAI-compatible server.

Works with OpenAI, vLLM, llama.cpp's server and Ollama through the ``openai`` client. The model,
base URL and key come from :class:`LLMConfig` or the environment (``SCENESYNTH_LLM_MODEL``,
``SCENESYNTH_LLM_BASE_URL``, ``SCENESYNTH_LLM_API_KEY`` or ``OPENAI_API_KEY``,
``SCENESYNTH_LLM_CACHE_DIR``).

The model proposes scenes, then per seed the objects of a scene (attributes, sizes, form,
placement), spatial triplets and absent objects, as JSON requested against a JSON schema
(``response_format`` ``json_schema``, falling back to ``json_object`` when the server refuses
it). Every answer is parsed leniently (code fences, trailing commas; never ``eval``), validated
with pydantic, and retried within a bounded budget when it cannot be used. Triplets that name
unknown objects or break consistency are dropped. Every rejection is counted by reason in
:class:`LLMStats` and logged. Valid responses are cached on disk, one file per sha256 key of
(messages, model, parameters), so a re-run issues no requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scenesynth.graph.attribute_rules import attribute_conflict
from scenesynth.graph.model import (
    Attribute,
    ImageInfo,
    Relation,
    RelationCategory,
    RelationSource,
    SceneGraph,
    SceneObject,
)
from scenesynth.graph.vocab import COLORS, MATERIALS, STATES, AttributeKind, canonical_value
from scenesynth.ioutil import atomic_write
from scenesynth.knowledge.consistency import KG_PREDICATES, SpatialConstraints, kg_predicate
from scenesynth.knowledge.kb import (
    FORMS,
    PLACEMENTS,
    KnowledgeBase,
    ObjectSpec,
    load_kb,
    support_problem,
)
from scenesynth.knowledge.sampler import DEFAULT_CANVAS, rng_for, scene_slug

LLM_SOURCE = "scenesynth.llm"
log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class LLMError(RuntimeError):
    """The model gave no usable answer within the retry budget (or the request is invalid)."""


class ResponseRejected(Exception):
    """Raised by a response post-processor: the parsed answer is unusable; retry."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# -- configuration -------------------------------------------------------------------------


def default_cache_dir() -> Path:
    env = os.environ.get("SCENESYNTH_LLM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scenesynth" / "llm"


@dataclass(frozen=True)
class LLMConfig:
    """How to reach the model and how patiently to ask it."""

    model: str
    base_url: str | None = None
    api_key: str | None = None
    temperature: float = 0.7
    max_tokens: int | None = 2048  # None: leave it to the server
    timeout_s: float = 60.0
    max_attempts: int = 4  # per request, first try included
    backoff_s: float = 1.0  # doubled after each failed attempt
    max_backoff_s: float = 30.0  # also caps a server's Retry-After
    response_format: str = "json_schema"  # or "json_object" for servers without schemas
    send_seed: bool = True  # pass the KG seed as the request's seed (reproducible sampling)
    cache_dir: str | None = None  # None: default_cache_dir()
    use_cache: bool = True
    scene_count: int = 40  # scenes asked for when no scene list is given
    # further request parameters, e.g. {"top_p": 0.9} or {"max_completion_tokens": 4096}
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("LLMConfig.model is empty: set SCENESYNTH_LLM_MODEL or pass model")
        if self.response_format not in ("json_schema", "json_object"):
            raise ValueError(
                f"response_format must be 'json_schema' or 'json_object', "
                f"got {self.response_format!r}"
            )
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMConfig:
        """Config from ``SCENESYNTH_LLM_*`` variables; keyword arguments take precedence."""
        values: dict[str, Any] = {
            "model": os.environ.get("SCENESYNTH_LLM_MODEL", ""),
            "base_url": os.environ.get("SCENESYNTH_LLM_BASE_URL") or None,
            "api_key": os.environ.get("SCENESYNTH_LLM_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
            or None,
            "cache_dir": os.environ.get("SCENESYNTH_LLM_CACHE_DIR") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# -- statistics ------------------------------------------------------------------------------


@dataclass
class LLMStats:
    """What the backend did: requests sent, cache hits, and every rejection by reason."""

    requests: int = 0
    cache_hits: int = 0
    responses_accepted: int = 0
    rejections: Counter[str] = field(default_factory=Counter)  # reason -> count
    repairs: Counter[str] = field(default_factory=Counter)  # JSON repairs applied

    def reject(self, reason: str, detail: str = "", level: int = logging.INFO) -> None:
        """Count a rejection and log it: whole responses at WARNING, single dropped
        objects/triplets at INFO (a large run drops many)."""
        self.rejections[reason] += 1
        log.log(level, "LLM rejection %s%s", reason, f": {detail}" if detail else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "responses_accepted": self.responses_accepted,
            "rejections": dict(sorted(self.rejections.items())),
            "repairs": dict(sorted(self.repairs.items())),
        }


# -- lenient JSON ---------------------------------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def parse_json_lenient(text: str) -> tuple[Any, list[str]]:
    """Parse a model's JSON answer, repairing common slips; returns (value, repairs applied).

    Repairs: strip Markdown code fences, cut prose around the outermost ``{...}``, drop
    trailing commas. Raises ValueError when the text is still not JSON. Never evaluates code.
    """
    repairs: list[str] = []
    s = text.strip()
    m = _FENCE.search(s)
    if m:
        s = m.group(1).strip()
        repairs.append("code_fence")
    try:
        return json.loads(s), repairs
    except json.JSONDecodeError:
        pass
    start, end = s.find("{"), s.rfind("}")
    if start > 0 or (start >= 0 and end < len(s) - 1):
        s = s[start : end + 1]
        repairs.append("surrounding_text")
    fixed = _TRAILING_COMMA.sub(r"\1", s)
    if fixed != s:
        s = fixed
        repairs.append("trailing_comma")
    try:
        return json.loads(s), repairs
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at char {exc.pos}): {text[:120]!r}") from None


# -- disk cache ----------------------------------------------------------------------------


class ResponseCache:
    """One JSON file per request key under ``directory`` (written atomically)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(messages: list[dict[str, str]], model: str, params: dict[str, Any]) -> str:
        blob = json.dumps(
            {"messages": messages, "model": model, "params": params},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self.path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            content = record["content"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable LLM cache file %s: %s", path, exc)
            return None
        return content if isinstance(content, str) else None

    def put(self, key: str, content: str, model: str) -> None:
        with atomic_write(self.path(key)) as fh:
            json.dump({"key": key, "model": model, "content": content}, fh, ensure_ascii=False)


# -- the client: request, retry, repair, validate, cache -----------------------------------


class LLMClient:
    """Asks the model for JSON that validates against a pydantic model, within a budget."""

    def __init__(
        self,
        config: LLMConfig,
        stats: LLMStats | None = None,
        client: openai.OpenAI | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.stats = stats if stats is not None else LLMStats()
        api_key = config.api_key
        if api_key is None:
            if config.base_url is None:
                raise ValueError(
                    "no API key: set SCENESYNTH_LLM_API_KEY or OPENAI_API_KEY, or point "
                    "SCENESYNTH_LLM_BASE_URL at a local server"
                )
            api_key = "not-needed"  # local servers (vLLM, llama.cpp, Ollama) ignore the key
        self._client = client or openai.OpenAI(
            base_url=config.base_url,
            api_key=api_key,
            timeout=config.timeout_s,
            max_retries=0,  # retries are ours, so that each one is counted
        )
        self._use_json_schema = config.response_format == "json_schema"
        self._sleep = sleep
        self.cache = (
            ResponseCache(config.cache_dir or default_cache_dir()) if config.use_cache else None
        )

    def _params(self, seed: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.config.temperature}
        if self.config.max_tokens is not None:
            params["max_tokens"] = self.config.max_tokens
        if seed is not None and self.config.send_seed:
            params["seed"] = seed
        params.update(self.config.extra_params)
        return params

    def _response_format(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        if self._use_json_schema:
            return {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": False},
            }
        return {"type": "json_object"}

    def _backoff(self, attempt: int, exc: Exception | None) -> None:
        delay = self.config.backoff_s * (2**attempt)
        response = getattr(exc, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after is not None:
            with contextlib.suppress(ValueError):  # an HTTP date instead of seconds: ignore
                delay = max(delay, float(retry_after))
        delay = min(delay, self.config.max_backoff_s)
        if delay > 0:
            self._sleep(delay)

    def request(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        model_cls: type[M],
        postprocess: Callable[[M], T],
        seed: int | None = None,
    ) -> T:
        """Send ``messages`` until an answer parses, validates as ``model_cls`` and passes
        ``postprocess`` (which raises :class:`ResponseRejected` for unusable answers)."""
        params = self._params(seed)
        key = ResponseCache.key(
            messages, self.config.model, {**params, "schema_name": schema_name, "schema": schema}
        )
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                try:
                    result = self._accept(cached, model_cls, postprocess)
                except ResponseRejected as exc:
                    log.warning("cached LLM response %s no longer accepted: %s", key[:12], exc)
                else:
                    self.stats.cache_hits += 1
                    return result

        reasons: Counter[str] = Counter()
        attempt = 0
        while attempt < self.config.max_attempts:
            error: Exception | None = None
            try:
                content = self._call(messages, schema_name, schema, params)
                result = self._accept(content, model_cls, postprocess)
            except openai.BadRequestError as exc:
                if self._use_json_schema and _mentions_response_format(exc):
                    # The server does not do JSON schemas: ask for plain JSON from now on.
                    self._use_json_schema = False
                    self.stats.reject("json_schema_unsupported", str(exc)[:200], logging.WARNING)
                    reasons["json_schema_unsupported"] += 1
                    continue  # not the model's fault: does not use up an attempt
                self.stats.reject("bad_request", str(exc)[:200], logging.WARNING)
                raise LLMError(f"{self.config.model}: request refused: {exc}") from exc
            except openai.APITimeoutError as exc:
                reason, error = "timeout", exc
            except openai.RateLimitError as exc:
                reason, error = "rate_limited", exc
            except openai.InternalServerError as exc:
                reason, error = "server_error", exc
            except openai.APIConnectionError as exc:
                reason, error = "connection_error", exc
            except openai.APIStatusError as exc:
                self.stats.reject(f"http_{exc.status_code}", str(exc)[:200], logging.WARNING)
                raise LLMError(f"{self.config.model}: HTTP {exc.status_code}: {exc}") from exc
            except openai.APIError as exc:  # e.g. a 200 whose body is not a chat completion
                reason, error = "api_error", exc
            except ResponseRejected as exc:
                reason = exc.reason
                self.stats.reject(reason, exc.detail, logging.WARNING)
                reasons[reason] += 1
                attempt += 1
                if attempt < self.config.max_attempts:
                    self._backoff(attempt - 1, None)
                continue
            else:
                self.stats.responses_accepted += 1
                if self.cache is not None:
                    self.cache.put(key, content, self.config.model)
                return result
            self.stats.reject(reason, str(error)[:200], logging.WARNING)
            reasons[reason] += 1
            attempt += 1
            if attempt < self.config.max_attempts:
                self._backoff(attempt - 1, error)
        raise LLMError(
            f"{self.config.model}: no usable {schema_name} answer after "
            f"{self.config.max_attempts} attempts ({dict(reasons)})"
        )

    def _call(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        params: dict[str, Any],
    ) -> str:
        self.stats.requests += 1
        request: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "response_format": self._response_format(schema_name, schema),
            **params,
        }
        try:
            response = self._client.chat.completions.create(**request)
        except (ValueError, TypeError) as exc:  # a body that is not JSON (a proxy's HTML page)
            raise ResponseRejected("malformed_response", f"{type(exc).__name__}: {exc}") from None
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as exc:  # JSON, but no chat completion
            raise ResponseRejected("malformed_response", f"{type(exc).__name__}: {exc}") from None
        if not content:
            raise ResponseRejected("empty_response")
        return str(content)

    def _accept(self, content: str, model_cls: type[M], postprocess: Callable[[M], T]) -> T:
        try:
            data, repairs = parse_json_lenient(content)
        except ValueError as exc:
            raise ResponseRejected("invalid_json", str(exc)) from None
        try:
            parsed = model_cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise ResponseRejected(
                "schema_invalid", f"{len(exc.errors())} errors, first {loc}: {first['msg']}"
            ) from None
        result = postprocess(parsed)
        self.stats.repairs.update(repairs)
        return result


def _mentions_response_format(exc: openai.BadRequestError) -> bool:
    text = str(exc).lower()
    return "response_format" in text or "json_schema" in text or "response format" in text


# -- what the model is asked for -----------------------------------------------------------


class ScenesAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    scenes: list[str] = Field(min_length=1)


class ObjectAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    name: str
    colors: list[str] = Field(min_length=1)
    materials: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)
    size_m: tuple[float, float, float]
    form: str = "box"
    placement: str = "any"

    @field_validator("size_m")
    @classmethod
    def _positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(x <= 0 for x in v):
            raise ValueError(f"sizes must be positive metres, got {list(v)}")
        return v


class TripletAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subject: str
    predicate: str
    object: str


class SceneGraphAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    scene: str
    objects: list[ObjectAnswer] = Field(min_length=1)
    relations: list[TripletAnswer] = Field(default_factory=list)
    absent_objects: list[str] = Field(default_factory=list)


SCENES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"scenes": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
    "required": ["scenes"],
    "additionalProperties": False,
}

SCENE_GRAPH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scene": {"type": "string"},
        "objects": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "colors": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "materials": {"type": "array", "items": {"type": "string"}},
                    "states": {"type": "array", "items": {"type": "string"}},
                    "size_m": {
                        "type": "array",
                        "items": {"type": "number"},
                        "minItems": 3,
                        "maxItems": 3,
                    },
                    "form": {"type": "string", "enum": list(FORMS)},
                    "placement": {"type": "string", "enum": list(PLACEMENTS)},
                },
                "required": ["id", "name", "colors", "materials", "states", "size_m", "form",
                             "placement"],
                "additionalProperties": False,
            },
        },
        "relations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "subject": {"type": "string"},
                    "predicate": {"type": "string", "enum": list(KG_PREDICATES)},
                    "object": {"type": "string"},
                },
                "required": ["subject", "predicate", "object"],
                "additionalProperties": False,
            },
        },
        "absent_objects": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["scene", "objects", "relations", "absent_objects"],
    "additionalProperties": False,
}

_SYSTEM = (
    "You design small, physically plausible scenes for a synthetic image dataset. "
    "Answer with one JSON object only, no prose."
)


def scenes_messages(count: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": _SYSTEM},
        {
            "role": "user",
            "content": (
                f"List {count} distinct everyday scenes, indoor and outdoor (for example "
                '"kitchen", "city street", "beach"), as lowercase names. '
                'Answer as {"scenes": ["...", ...]}.'
            ),
        },
    ]


def scene_graph_messages(scene: str, n_objects: int, variation: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": _SYSTEM},
        {
            "role": "user",
            "content": (
                f"Scene: {scene}. Variation #{variation}.\n"
                f"Propose exactly {n_objects} objects plausible in a photo of this scene, with "
                "ids o0, o1, ... . For each: name (lowercase singular noun), colors (simple "
                "color words, the first is the object's color), materials, states (such as "
                "open, closed, parked, sitting; may be empty), size_m = [width, height, depth] "
                f"in metres, form (one of {', '.join(FORMS)}) and placement (one of "
                f"{', '.join(PLACEMENTS)}). Two objects with the same name need different "
                "colors.\n"
                "Then give spatial relations between the objects by id as "
                '{"subject", "predicate", "object"} with predicate one of: '
                f"{', '.join(KG_PREDICATES)}. They must be consistent: no cycles (a left of b, "
                "b left of c, c left of a), no opposites, 'on top of' only where one object "
                "can physically rest on the other.\n"
                "Finally list absent_objects: 3 to 5 objects plausible in this scene that are "
                "NOT among your objects.\n"
                'Answer as {"scene": ..., "objects": [...], "relations": [...], '
                '"absent_objects": [...]}.'
            ),
        },
    ]


# -- from an answer to a KG ----------------------------------------------------------------


def _object_meta(size: list[float], form: str, placement: str,
                 drawn: ObjectSpec | None) -> dict[str, object]:
    """Layout hints of a proposed object, plus the knowledge base's drawing of its name when
    it has one (other names keep the renderer's per-form silhouette)."""
    meta: dict[str, object] = {"real_size": size, "form": form, "placement": placement}
    if drawn is not None and drawn.depiction is not None:
        meta["depiction"] = drawn.depiction
        meta["aspect"] = drawn.aspect
    return meta


def _pick(values: list[str], vocab: frozenset[str], taken: set[str] | None = None) -> str | None:
    """The first value (canonical) that is in ``vocab`` and not ``taken``."""
    for raw in values:
        v = canonical_value(raw)
        if v in vocab and (taken is None or v not in taken):
            return v
    return None


def graph_from_answer(
    answer: SceneGraphAnswer,
    *,
    seed: int,
    scene: str,
    canvas: tuple[int, int],
    max_objects: int,
    kb: KnowledgeBase | None,
    stats: LLMStats,
    index: int = 0,
) -> SceneGraph:
    """Turn a validated answer into a KG, dropping (and counting) what cannot be used.

    Raises :class:`ResponseRejected` when nothing usable is left (no object survives).
    """
    objects: list[SceneObject] = []
    id_map: dict[str, str] = {}  # the model's ids and unique names -> our ids
    colors_by_name: dict[str, set[str]] = {}
    name_count: Counter[str] = Counter()
    for obj in answer.objects:
        name = " ".join(obj.name.lower().split())
        if not name:
            stats.reject("object_empty_name")
            continue
        if len(objects) >= max_objects:
            stats.reject("object_over_limit", name)
            continue
        if obj.id in id_map:
            stats.reject("object_duplicate_id", obj.id)
            continue
        if kb is not None and kb.overlapping(name) & name_count.keys():
            # "person" beside "man": two names for possibly one thing make questions ambiguous
            stats.reject("object_name_overlap", name)
            continue
        taken = colors_by_name.setdefault(name, set())
        color = _pick(obj.colors, COLORS, taken)
        if color is None:
            fallback = canonical_value(obj.colors[0])
            if taken or not fallback:
                # a copy with no color of its own cannot be told apart from the others
                stats.reject("object_not_distinct", f"{name} {obj.colors}")
                continue
            stats.reject("color_not_in_vocabulary", fallback)
            color = fallback
        taken.add(color)
        material = _pick(obj.materials, MATERIALS)
        state = _pick(obj.states, STATES)
        drawn = kb.objects.get(name) if kb is not None else None
        if drawn is not None and drawn.depiction is not None:
            # a name the built-in renderer draws: assert only what its drawing can show
            if not drawn.colors:
                if name_count[name]:  # copies would differ by nothing the image shows
                    stats.reject("object_not_distinct", f"{name}: its drawing has no colour")
                    continue
                color = None  # an emoji of a person: no colour describes it
            if material not in drawn.materials:
                material = None
            if state not in drawn.states:
                state = None
        if material is not None and attribute_conflict(name, color, material) is not None:
            stats.reject("attribute_contradiction", f"{name}: {color} {material}")
            material = None
        attrs = [Attribute(value=color, kind=AttributeKind.COLOR)] if color else []
        if material is not None:
            attrs.append(Attribute(value=material, kind=AttributeKind.MATERIAL))
        if state is not None:
            attrs.append(Attribute(value=state, kind=AttributeKind.STATE))
        form = obj.form if obj.form in FORMS else "box"
        placement = obj.placement if obj.placement in PLACEMENTS else "any"
        if form != obj.form:
            stats.reject("object_form_unknown", obj.form)
        if placement != obj.placement:
            stats.reject("object_placement_unknown", obj.placement)
        our_id = f"o{len(objects)}"
        id_map[obj.id] = our_id
        name_count[name] += 1
        objects.append(
            SceneObject(
                id=our_id,
                name=name,
                attributes=attrs,
                distinct=True,  # every KG entity is its own instance by construction
                meta=_object_meta(list(obj.size_m), form, placement, drawn),
            )
        )
    if not objects:
        raise ResponseRejected("no_usable_objects")
    # triplets may also name objects by (unique) name
    for o in objects:
        if name_count[o.name] == 1:
            id_map.setdefault(o.name, o.id)
    by_id = {o.id: o for o in objects}

    def can_support(item_id: str, base_id: str) -> bool:
        item, base = by_id[item_id], by_id[base_id]
        if kb is not None and item.name in kb.objects and base.name in kb.objects:
            return kb.can_support(item.name, base.name)
        problem = support_problem(
            tuple(item.meta["real_size"]),
            item.meta["placement"],
            item.meta["form"],
            tuple(base.meta["real_size"]),
            base.meta["placement"],
        )
        return problem is None

    constraints = SpatialConstraints(
        can_support=can_support, widths={o.id: o.meta["real_size"][0] for o in objects}
    )
    for t in answer.relations:
        subject = id_map.get(t.subject.strip()) or id_map.get(t.subject.strip().lower())
        obj_id = id_map.get(t.object.strip()) or id_map.get(t.object.strip().lower())
        triplet = f"({t.subject}, {t.predicate}, {t.object})"
        if subject is None or obj_id is None:
            stats.reject("triplet_unknown_object", triplet)
            continue
        predicate = kg_predicate(t.predicate)
        if predicate is None:
            stats.reject("triplet_unknown_predicate", triplet)
            continue
        reason = constraints.add(subject, predicate, obj_id)
        if reason is not None:
            stats.reject(f"triplet_{reason}", triplet)

    present = {o.name for o in objects}
    absent: list[str] = []
    for raw in answer.absent_objects:
        n = " ".join(raw.lower().split())
        if not n or n in absent:
            continue
        if n in present:
            stats.reject("absent_object_present", n)
            continue
        if kb is not None and kb.overlapping(n) & present:
            stats.reject("absent_object_overlaps", n)
            continue
        absent.append(n)
    if not absent and kb is not None and scene in kb.scenes:
        absent = [
            n for n in kb.scenes[scene].objects
            if n not in present and not kb.overlapping(n) & present
        ][:5]

    width, height = canvas
    return SceneGraph(
        image=ImageInfo(
            id=f"llm-{scene_slug(scene)}-{seed}-{index}",
            width=width,
            height=height,
            source=LLM_SOURCE,
        ),
        objects=objects,
        relations=[
            Relation(
                id=f"r{i}",
                subject=s,
                predicate=p,
                object=o,
                category=RelationCategory.SPATIAL,
                source=RelationSource.MODEL,
            )
            for i, (s, p, o) in enumerate(constraints.triplets)
        ],
        meta={"scene": scene, "absent_objects": absent, "kg_seed": seed},
    )


class LLMSource:
    """A :class:`~scenesynth.knowledge.source.KnowledgeSource` backed by an LLM."""

    def __init__(
        self,
        config: LLMConfig,
        n_objects: tuple[int, int] = (3, 8),
        canvas: tuple[int, int] = DEFAULT_CANVAS,
        scenes: list[str] | None = None,
        kb: KnowledgeBase | None = None,
        client: LLMClient | None = None,
    ) -> None:
        lo, hi = n_objects
        if not 1 <= lo <= hi:
            raise ValueError(f"n_objects must satisfy 1 <= min <= max, got {n_objects}")
        self.config = config
        self.n_objects = n_objects
        self.canvas = canvas
        self.kb = kb if kb is not None else load_kb()  # support table for known objects
        self.client = client or LLMClient(config)
        self._scenes = sorted({s.strip().lower() for s in scenes}) if scenes else None

    @property
    def stats(self) -> LLMStats:
        return self.client.stats

    def scenes(self) -> list[str]:
        """The scene list: given, or proposed once by the model (and cached)."""
        if self._scenes is None:

            def clean(answer: ScenesAnswer) -> list[str]:
                names = sorted({" ".join(s.lower().split()) for s in answer.scenes} - {""})
                if not names:
                    raise ResponseRejected("no_usable_scenes")
                return names

            self._scenes = self.client.request(
                scenes_messages(self.config.scene_count), "scenes", SCENES_SCHEMA,
                ScenesAnswer, clean,
            )
        return self._scenes

    def sample(self, seed: int, index: int = 0) -> SceneGraph:
        """The KG for ``seed``; ``index`` asks for further variations of the same seed."""
        scenes = self.scenes()
        rng = rng_for(seed, "llm")
        scene = rng.choice(scenes)
        k = rng.randint(*self.n_objects)
        variation = seed if index == 0 else seed * 1000 + index

        def to_graph(answer: SceneGraphAnswer) -> SceneGraph:
            return graph_from_answer(
                answer,
                seed=seed,
                scene=scene,
                canvas=self.canvas,
                max_objects=self.n_objects[1],
                kb=self.kb,
                stats=self.client.stats,
                index=index,
            )

        return self.client.request(
            scene_graph_messages(scene, k, variation),
            "scene_graph",
            SCENE_GRAPH_SCHEMA,
            SceneGraphAnswer,
            to_graph,
            seed=variation,
        )

    def with_config(self, **changes: Any) -> LLMSource:
        """A copy with some config fields changed (e.g. another model)."""
        config = replace(self.config, **changes)
        return LLMSource(config, self.n_objects, self.canvas, self._scenes, self.kb)
