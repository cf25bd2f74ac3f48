"""Teacher, judge and editor: three model roles that read an image and answer in JSON.

Design: a role sends one chat message (the image with the regions it asks about marked, and a
prompt kept as a versioned data file in ``models/prompts/``) and reads a JSON answer that must
validate against the role's pydantic schema.

* ``openai:MODEL@URL`` goes through :class:`scenesynth.models.llm.LLMClient` rather than
  :class:`scenesynth.models.vlm.OpenAIVisionModel`: the client sends the schema in the form the
  server honours (json_schema, guided_json, json_object + schema, prompt), retries faults with
  new seeds within a budget, counts every rejection by reason and records every attempt in a
  disk cache (a re-run sends no request).
* ``hf:PATH`` goes through :class:`scenesynth.models.vlm.HFVisionModel` (transformers
  image-text-to-text); its free text is parsed leniently and validated against the same schema,
  and an unusable answer is counted by reason like the server's.

Every answer carries ``model`` (the model id) and ``prompt`` (``role@version``), which the
callers store in the provenance of whatever the answer produced.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from scenesynth.graph import RelationCategory, SceneGraph
from scenesynth.models.llm import (
    LLMClient,
    LLMConfig,
    LLMError,
    LLMStats,
    parse_json_lenient,
    user_message,
)
from scenesynth.models.llm.messages import system_message
from scenesynth.models.vlm import HFVisionModel, ModelSpecError, Query, VisionModel

M = TypeVar("M", bound=BaseModel)

CATEGORIES: tuple[str, ...] = tuple(c.value for c in RelationCategory if c.value != "other")
CategoryName = Literal["spatial", "interactional", "functional", "social", "emotional"]


# -- prompts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    """One role's prompt file: ``role``, ``version``, ``system``, ``user`` (+ extra templates)."""

    role: str
    version: int
    system: str
    user: str
    extra: dict[str, str]

    @property
    def tag(self) -> str:
        return f"{self.role}@{self.version}"


@cache
def load_prompt(role: str, directory: str | None = None) -> Prompt:
    """The prompt of ``role`` from ``directory`` (default: the packaged ``models/prompts``)."""
    if directory is None:
        text = resources.files("scenesynth.models").joinpath(f"prompts/{role}.yaml").read_text(
            encoding="utf-8")
        where = f"prompts/{role}.yaml"
    else:
        path = Path(directory) / f"{role}.yaml"
        text = path.read_text(encoding="utf-8")
        where = str(path)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping")
    for key in ("role", "version", "system", "user"):
        if key not in data:
            raise ValueError(f"{where}: missing field {key!r}")
    extra = {k: str(v) for k, v in data.items() if k not in ("role", "version", "system", "user")}
    return Prompt(str(data["role"]), int(data["version"]), str(data["system"]),
                  str(data["user"]), extra)


# -- answer schemas ---------------------------------------------------------------------------

class ProposedRelation(BaseModel):
    subject: str
    predicate: str = Field(min_length=1)
    object: str
    category: CategoryName
    confidence: float = Field(ge=0.0, le=1.0)


class TeacherAnswer(BaseModel):
    relations: list[ProposedRelation]


class JudgeAnswer(BaseModel):
    answer: Literal["yes", "no"]
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class EditOperation(BaseModel):
    op: Literal["remove_relation", "add_relation", "refine_attribute"]
    subject: str | None = None
    predicate: str | None = None
    object: str | None = None
    category: CategoryName | None = None
    object_id: str | None = None
    attribute: str | None = None


class EditorAnswer(BaseModel):
    operations: list[EditOperation]
    rationale: str = ""


# -- images with marked regions ---------------------------------------------------------------

MARK_COLORS = ("red", "blue", "lime", "orange", "magenta", "cyan")
CANVAS_MAX_SIDE = 512  # images are sent downscaled: the marks, not the pixels, carry the ask


def marked_image(graph: SceneGraph, object_ids: Sequence[str], image_root: Path | None = None
                 ) -> tuple[bytes, bool]:
    """PNG bytes of the graph's image with the boxes of ``object_ids`` outlined (first red,
    second blue, ...), and whether the image file was found. Without the file (Visual Genome
    and GQA annotations ship without pixels) a gray canvas of the image's size carries the
    marks, so the model still sees which regions are meant."""
    from PIL import Image, ImageDraw

    info = graph.image
    found = False
    img = None
    if info.path:
        path = Path(info.path)
        if not path.is_absolute() and image_root is not None:
            path = image_root / path
        if path.is_file():
            try:
                img = Image.open(path).convert("RGB")
                found = True
            except OSError:
                img = None
    if img is None:
        img = Image.new("RGB", (info.width, info.height), (128, 128, 128))
    scale = min(1.0, CANVAS_MAX_SIDE / max(img.size))
    if scale < 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    sx, sy = img.width / info.width, img.height / info.height
    draw = ImageDraw.Draw(img)
    by_id = {o.id: o for o in graph.objects}
    for i, oid in enumerate(object_ids):
        obj = by_id.get(oid)
        if obj is None or obj.box is None:
            continue
        b = obj.box
        draw.rectangle((b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy),
                       outline=MARK_COLORS[i % len(MARK_COLORS)], width=3)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue(), found


# -- backends -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ask:
    """One question to a role: prompt text, the marked image (PNG) and a seed."""

    system: str
    text: str
    image: bytes
    seed: int = 0


class RoleError(Exception):
    """A role got no usable answer (``reason`` is counted)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Backend:
    """Answers batches of :class:`Ask` with validated answers or :class:`RoleError`."""

    model_id: str
    stats: LLMStats

    def ask(self, asks: Sequence[Ask], schema: type[M], max_tokens: int
            ) -> list[M | RoleError]:
        raise NotImplementedError


class ClientBackend(Backend):
    """An OpenAI-compatible server through the shared client, ``config.concurrency`` requests
    in flight (threads; the client's own semaphore bounds them across roles)."""

    def __init__(self, config: LLMConfig, stats: LLMStats | None = None) -> None:
        self.client = LLMClient(config, stats)
        self.stats = self.client.stats
        # the model, not the address it was reached at: provenance must not change with a port
        self.model_id = f"openai:{config.model}"
        self.concurrency = config.concurrency

    def _one(self, ask: Ask, schema: type[M], max_tokens: int) -> M | RoleError:
        messages = [system_message(ask.system), user_message(ask.text, [ask.image])]
        try:
            return self.client.request(messages, schema.__name__, _json_schema(schema),
                                       schema, _identity, seed=ask.seed, max_tokens=max_tokens)
        except LLMError as exc:  # LLMFatalError (breaker, refused key) propagates: run ends
            if type(exc) is not LLMError:
                raise
            return RoleError("no_usable_answer", str(exc))

    def ask(self, asks: Sequence[Ask], schema: type[M], max_tokens: int
            ) -> list[M | RoleError]:
        if len(asks) <= 1 or self.concurrency <= 1:
            return [self._one(a, schema, max_tokens) for a in asks]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(asks))) as pool:
            return list(pool.map(lambda a: self._one(a, schema, max_tokens), asks))


@cache
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()  # built once per class: it costs ~1 ms


def _identity(x: M) -> M:
    return x


class VisionBackend(Backend):
    """A :class:`VisionModel` (``hf:PATH``): free text parsed leniently, then validated."""

    def __init__(self, model: VisionModel) -> None:
        self.model = model
        self.model_id = model.name
        self.stats = LLMStats()
        self._lock = threading.Lock()

    def ask(self, asks: Sequence[Ask], schema: type[M], max_tokens: int
            ) -> list[M | RoleError]:
        with tempfile.TemporaryDirectory(prefix="scenesynth-role-") as tmp:
            queries = []
            for i, a in enumerate(asks):
                path = Path(tmp) / f"{i}.png"
                path.write_bytes(a.image)
                queries.append(Query([path], f"{a.system}\n{a.text}"))
            replies = self.model.answer(queries)
        self.stats.add(requests=len(asks))
        out: list[M | RoleError] = []
        for reply in replies:
            out.append(self._parse(reply, schema))
        return out

    def _parse(self, reply: str | BaseException, schema: type[M]) -> M | RoleError:
        if isinstance(reply, BaseException):
            self.stats.reject("model_error", str(reply)[:200])
            return RoleError("model_error", str(reply)[:200])
        try:
            data, _ = parse_json_lenient(reply)
        except ValueError as exc:
            self.stats.reject("invalid_json", str(exc)[:200])
            return RoleError("invalid_json", reply[:80])
        try:
            parsed = schema.model_validate(data)
        except ValidationError as exc:
            self.stats.reject("schema_invalid", str(exc.errors()[0]["msg"]))
            return RoleError("schema_invalid", str(exc.errors()[0]["msg"]))
        self.stats.add(responses_accepted=1)
        return parsed


def load_backend(spec: str, concurrency: int = 16, cache_dir: str | None = None,
                 strategy: str = "auto", max_attempts: int = 4, timeout_s: float = 60.0,
                 backoff_s: float = 0.5, max_tokens: int = 512,
                 hf_loader: Callable[[str, int], VisionModel] | None = None) -> Backend:
    """``openai:MODEL@URL`` (the shared client) or ``hf:PATH`` (local transformers)."""
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        name, at, url = rest.rpartition("@")
        if not at or not name or not url:
            raise ModelSpecError(f"{spec!r}: expected openai:NAME@URL")
        config = LLMConfig(model=name, base_url=url, strategy=strategy, temperature=0.0,
                           max_tokens=max_tokens, timeout_s=timeout_s,
                           max_attempts=max_attempts, backoff_s=backoff_s,
                           concurrency=concurrency, cache_dir=cache_dir, stream=False,
                           breaker_failures=max(6, 2 * concurrency))
        return ClientBackend(config)
    if kind == "hf" and rest:
        loader = hf_loader or (lambda path, tokens: HFVisionModel(path, max_new_tokens=tokens))
        return VisionBackend(loader(rest, max_tokens))
    raise ModelSpecError(f"{spec!r}: expected openai:NAME@URL or hf:PATH")


# -- the roles ------------------------------------------------------------------------------------

def _object_lines(graph: SceneGraph, with_attributes: bool = False) -> str:
    lines = []
    for o in graph.objects:
        box = (f" [{o.box.x0:.0f}, {o.box.y0:.0f}, {o.box.x1:.0f}, {o.box.y1:.0f}]"
               if o.box is not None else "")
        attrs = f"; {', '.join(o.attribute_values())}" if with_attributes and o.attributes else ""
        lines.append(f"{o.id}: {o.name}{box}{attrs}")
    return "\n".join(lines)


def _relation_lines(graph: SceneGraph) -> str:
    return "\n".join(f"({r.subject}, {r.predicate}, {r.object})" for r in graph.relations) \
        or "(none)"


class Role:
    """A prompt bound to a backend; ``provenance`` is stored beside what the role produced."""

    name = ""

    def __init__(self, backend: Backend, prompt: Prompt | None = None,
                 image_root: Path | None = None) -> None:
        self.backend = backend
        self.prompt = prompt or load_prompt(self.name)
        self.image_root = image_root
        self.images_missing: Counter[str] = Counter()

    @property
    def provenance(self) -> dict[str, str]:
        return {"model": self.backend.model_id, "prompt": self.prompt.tag}

    def _image(self, graph: SceneGraph, ids: Sequence[str]) -> bytes:
        data, found = marked_image(graph, ids, self.image_root)
        if not found:
            self.images_missing[graph.image.id] += 1
        return data


class Teacher(Role):
    name = "teacher"

    def ask_for(self, graph: SceneGraph, subjects: Sequence[str], per_subject: int = 2,
                seed: int = 0) -> Ask:
        text = self.prompt.user.format(
            objects=_object_lines(graph), relations=_relation_lines(graph),
            subjects=", ".join(subjects), per_subject=per_subject,
            categories=", ".join(CATEGORIES))
        return Ask(self.prompt.system, text, self._image(graph, subjects), seed)

    def propose(self, asks: Sequence[Ask]) -> list[TeacherAnswer | RoleError]:
        return self.backend.ask(asks, TeacherAnswer, max_tokens=1024)


class Judge(Role):
    name = "judge"

    def relation_ask(self, graph: SceneGraph, subject: str, predicate: str, obj: str,
                     seed: int = 0) -> Ask:
        by_id = {o.id: o for o in graph.objects}
        question = self.prompt.extra["relation_question"].format(
            subject=by_id[subject].name, object=by_id[obj].name, predicate=predicate)
        return self.question_ask(graph, question, [subject, obj], seed)

    def question_ask(self, graph: SceneGraph, question: str, marked: Sequence[str] = (),
                     seed: int = 0) -> Ask:
        text = self.prompt.user.format(question=question)
        return Ask(self.prompt.system, text, self._image(graph, marked), seed)

    def verdicts(self, asks: Sequence[Ask]) -> list[JudgeAnswer | RoleError]:
        return self.backend.ask(asks, JudgeAnswer, max_tokens=64)


class Editor(Role):
    name = "editor"

    def ask_for(self, graph: SceneGraph, seed: int = 0) -> Ask:
        text = self.prompt.user.format(
            objects=_object_lines(graph, with_attributes=True),
            relations=_relation_lines(graph), categories=", ".join(CATEGORIES))
        return Ask(self.prompt.system, text, self._image(graph, [o.id for o in graph.objects]),
                   seed)

    def patches(self, asks: Sequence[Ask]) -> list[EditorAnswer | RoleError]:
        return self.backend.ask(asks, EditorAnswer, max_tokens=1024)
