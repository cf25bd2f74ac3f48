"""Annotation model roles: each a small protocol answering a *batch* of images, with a real
transformers backend (hub id or local path; device, dtype, batch size) and a fixed/fake one.

* :class:`Tagger` -- which object names to look for: :class:`FixedTagger` (a list from the
  config), :class:`ClipTagger` (CLIP/SigLIP zero-shot over a vocabulary file, COCO's 80 names
  shipped in ``models/data/coco_names.txt``), :class:`VisionTagger` (a vision-language model
  lists the objects).
* :class:`BoxDetector` -- open-vocabulary boxes: :class:`OpenVocabDetector` wraps
  :class:`~scenesynth.models.detector.ZeroShotDetector` (OWL-ViT/OWLv2/Grounding DINO) with a
  score threshold, class-aware NMS and a cap per image.
* :class:`BoxSegmenter` -- box-prompted masks: :class:`SamSegmenter` (SAM through transformers).
* :class:`DepthEstimator` -- monocular depth: :class:`TransformersDepth`
  (``AutoModelForDepthEstimation``: Depth Anything, DPT).
* :class:`AttributeDescriber` / :class:`RelationProposer` -- a vision-language model asked per
  object / per pair for a schema-constrained JSON answer (:class:`VisionAsker`).

Replay backends that read annotations from a dataset live in ``scenesynth.annotate.replay``
(they use the loaders, which sit after ``models/`` in the flow).

Depth convention (``graph/model.py``): larger is farther. Relative-depth models (Depth
Anything, DPT) predict *inverse* depth (disparity, larger is nearer); it is turned into
``max(disparity) / disparity`` -- relative units (the nearest pixel is 1), order kept -- and the
graph's ``meta["depth"]["kind"]`` says ``relative``; metric models
(``depth_estimation_type == "metric"``) keep metres.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from scenesynth.graph import Box, RelationCategory, SceneObject
from scenesynth.models.common import require, resolve_device, resolve_dtype
from scenesynth.models.detector import Detection, ZeroShotDetector, non_max_suppression

DepthKind = Literal["relative", "metric"]
# A box thinner than this covers no pixel centre for sure: no object a question could ask about.
MIN_BOX_SIDE = 2.0
VOCABULARY_DIR = Path(__file__).parent / "data"


@dataclass
class RoleImage:
    """One image as every role sees it: ``key`` names it in replays and caches (its file
    name), ``image`` is decoded RGB (``scenesynth.annotate.images`` normalises modes)."""

    key: str
    path: Path
    image: Image.Image

    def png_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.image.save(buf, format="PNG")
        return buf.getvalue()


@dataclass(frozen=True)
class Tag:
    name: str
    score: float | None = None


@dataclass(frozen=True)
class MaskResult:
    mask: np.ndarray  # bool, (height, width) of the image
    score: float | None = None


@dataclass(frozen=True)
class DepthResult:
    depth: np.ndarray  # float32 (height, width); larger = farther
    kind: DepthKind


class Tagger(Protocol):
    name: str

    def tag(self, images: Sequence[RoleImage]) -> list[list[Tag]]: ...


class BoxDetector(Protocol):
    name: str

    def detect(self, images: Sequence[RoleImage],
               labels: Sequence[Sequence[str]]) -> list[list[Detection]]: ...


class BoxSegmenter(Protocol):
    name: str

    def segment(self, images: Sequence[RoleImage],
                boxes: Sequence[Sequence[Box]]) -> list[list[MaskResult | None]]: ...


class DepthEstimator(Protocol):
    name: str

    def estimate(self, images: Sequence[RoleImage]) -> list[DepthResult]: ...


class AttributeDescriber(Protocol):
    name: str

    def describe(self, images: Sequence[RoleImage],
                 objects: Sequence[Sequence[SceneObject]]) -> list[list[list[str] | None]]: ...


@dataclass(frozen=True)
class ProposedRelation:
    subject: str
    predicate: str
    object: str
    category: RelationCategory


class RelationProposer(Protocol):
    name: str

    def propose(self, images: Sequence[RoleImage],
                objects: Sequence[Sequence[SceneObject]]) -> list[list[ProposedRelation]]: ...


def batched(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]


def load_vocabulary(name_or_path: str) -> list[str]:
    """A vocabulary file (one name a line) or a shipped one by name (``coco``)."""
    shipped = VOCABULARY_DIR / f"{name_or_path}_names.txt"
    path = shipped if shipped.is_file() else Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary {name_or_path!r}: no such file or shipped list")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [n for n in names if n and not n.startswith("#")]


# -- tagger ----------------------------------------------------------------------------------


class FixedTagger:
    """The same names for every image (the config's list): the detector decides presence."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = [n.strip().lower() for n in names if n.strip()]
        self.name = "fixed:" + ",".join(self.names)

    def tag(self, images: Sequence[RoleImage]) -> list[list[Tag]]:
        return [[Tag(n) for n in self.names] for _ in images]


class _LocalModel:
    """What the local transformers roles share: processor and model load once, on first use,
    on the requested device and dtype."""

    model_name: str
    device_request: str | None
    dtype_request: str | None
    _model: Any

    def _load_pretrained(self, processor_class: str, model_class: str) -> Any:
        transformers = require("transformers")
        self.device = resolve_device(self.device_request)
        self._dtype = resolve_dtype(self.dtype_request, self.device)
        self._processor = getattr(transformers, processor_class).from_pretrained(self.model_name)
        model = getattr(transformers, model_class).from_pretrained(self.model_name)
        self._model = model.to(self.device, self._dtype).eval()
        return self._model


class ClipTagger(_LocalModel):
    """CLIP/SigLIP zero-shot classification over a vocabulary: the ``top_k`` names whose
    probability reaches ``threshold`` (``AutoModelForZeroShotImageClassification``)."""

    def __init__(self, model: str, vocabulary: str | Sequence[str] = "coco", top_k: int = 10,
                 threshold: float = 0.0, device: str | None = "auto", dtype: str | None = "auto",
                 batch_size: int = 8, template: str = "a photo of a {}") -> None:
        self.model_name = model
        self.name = model
        self.vocabulary = (load_vocabulary(vocabulary) if isinstance(vocabulary, str)
                           else list(vocabulary))
        self.top_k, self.threshold, self.batch_size = top_k, threshold, batch_size
        self.template = template
        self.device_request, self.dtype_request = device, dtype
        self._model: Any = None

    def _load(self) -> None:
        if self._model is None:
            self._load_pretrained("AutoProcessor", "AutoModelForZeroShotImageClassification")

    def tag(self, images: Sequence[RoleImage]) -> list[list[Tag]]:
        self._load()
        torch = require("torch")
        texts = [self.template.format(n) for n in self.vocabulary]
        out: list[list[Tag]] = []
        for chunk in batched(images, self.batch_size):
            inputs = self._processor(text=texts, images=[i.image for i in chunk],
                                     return_tensors="pt", padding=True, truncation=True)
            inputs = {k: _to(v, self.device, self._dtype) for k, v in inputs.items()}
            with torch.no_grad():
                logits = self._model(**inputs).logits_per_image.float()
            probs = logits.softmax(dim=-1)
            for row in probs:
                scores, idx = row.topk(min(self.top_k, len(self.vocabulary)))
                out.append([Tag(self.vocabulary[int(i)], round(float(s), 6))
                            for s, i in zip(scores, idx, strict=True)
                            if float(s) >= self.threshold])
        return out


class _ObjectList(BaseModel):
    objects: list[str] = Field(default_factory=list, max_length=50)


class VisionTagger:
    """A vision-language model lists the objects it sees (JSON ``{"objects": [...]}``)."""

    PROMPT = ('List the distinct kinds of objects visible in this image. Answer only JSON: '
              '{"objects": ["name", ...]} with short lowercase nouns.')

    def __init__(self, asker: VisionAsker, max_names: int = 20) -> None:
        self.asker, self.max_names = asker, max_names
        self.name = asker.name

    def tag(self, images: Sequence[RoleImage]) -> list[list[Tag]]:
        answers = self.asker.ask([(img, self.PROMPT) for img in images], _ObjectList)
        out: list[list[Tag]] = []
        for answer in answers:
            names = [] if answer is None else answer.objects
            clean = list(dict.fromkeys(" ".join(n.lower().split()) for n in names))
            out.append([Tag(n) for n in clean if n][: self.max_names])
        return out


# -- detector --------------------------------------------------------------------------------


class OpenVocabDetector:
    """Open-vocabulary detection through transformers (one forward pass per image: the label
    set differs per image), class-aware NMS and at most ``max_objects`` boxes per image."""

    def __init__(self, model: str, device: str | None = "auto", dtype: str | None = "auto",
                 score_threshold: float = 0.1, nms_iou: float = 0.5, max_objects: int = 50,
                 batch_size: int = 1) -> None:
        self.name = model
        self.max_objects = max_objects
        self.batch_size = batch_size
        self.detector = ZeroShotDetector(model=model, device=device, dtype=dtype,
                                         score_threshold=score_threshold, nms_iou=nms_iou,
                                         max_detections=max_objects)

    def detect(self, images: Sequence[RoleImage],
               labels: Sequence[Sequence[str]]) -> list[list[Detection]]:
        return [cap_detections(self.detector.detect(img.image, list(lab)), self.max_objects)
                for img, lab in zip(images, labels, strict=True)]


def cap_detections(detections: list[Detection], max_objects: int,
                   nms_iou: float | None = None) -> list[Detection]:
    """Boxes of at least ``MIN_BOX_SIDE`` pixels a side, class-aware NMS (when ``nms_iou`` is
    given), then the ``max_objects`` best, in a deterministic order (score, then label and box
    for ties)."""
    detections = [d for d in detections
                  if min(d.box.width, d.box.height) >= MIN_BOX_SIDE]
    if nms_iou is not None:
        detections = non_max_suppression(detections, nms_iou)
    ordered = sorted(detections, key=lambda d: (-d.score, d.label, d.box.x0, d.box.y0,
                                                d.box.x1, d.box.y1))
    return ordered[:max_objects]


# -- segmenter -------------------------------------------------------------------------------


def box_pixels(box: Box, height: int, width: int) -> tuple[slice, slice]:
    """The (rows, columns) of the pixels whose centre (c + 0.5, r + 0.5) lies in ``box``."""
    r0, r1 = max(0, int(np.ceil(box.y0 - 0.5))), min(height, int(np.floor(box.y1 - 0.5)) + 1)
    c0, c1 = max(0, int(np.ceil(box.x0 - 0.5))), min(width, int(np.floor(box.x1 - 0.5)) + 1)
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def clip_mask_to_box(mask: np.ndarray, box: Box) -> np.ndarray:
    """A box-prompted mask belongs to its box: pixels outside it are another object's (SAM
    spills over low-contrast edges), so they are cleared."""
    rows, cols = box_pixels(box, *mask.shape)
    out = np.zeros_like(mask, dtype=bool)
    out[rows, cols] = mask[rows, cols]
    return out


class SamSegmenter(_LocalModel):
    """SAM through transformers (``SamModel`` + ``SamProcessor``): one mask per box prompt
    (``multimask_output=False``), score = the predicted IoU, clipped to its box."""

    def __init__(self, model: str, device: str | None = "auto", dtype: str | None = "auto",
                 batch_size: int = 4, mask_threshold: float = 0.0) -> None:
        self.name = model
        self.model_name = model
        self.device_request, self.dtype_request = device, dtype
        self.batch_size, self.mask_threshold = batch_size, mask_threshold
        self._model: Any = None

    def _load(self) -> None:
        if self._model is None:
            self._load_pretrained("SamProcessor", "SamModel")

    def segment(self, images: Sequence[RoleImage],
                boxes: Sequence[Sequence[Box]]) -> list[list[MaskResult | None]]:
        out: list[list[MaskResult | None]] = []
        for img, img_boxes in zip(images, boxes, strict=True):
            results: list[MaskResult | None] = []
            for chunk in batched(list(img_boxes), self.batch_size):
                results.extend(self._segment_one(img, chunk))
            out.append(results)
        return out

    def _segment_one(self, img: RoleImage, boxes: Sequence[Box]) -> list[MaskResult | None]:
        self._load()
        torch = require("torch")
        prompts = [[[b.x0, b.y0, b.x1, b.y1] for b in boxes]]
        inputs = self._processor(images=img.image, input_boxes=prompts, return_tensors="pt")
        inputs = {k: _to(v, self.device, self._dtype) for k, v in inputs.items()}
        with torch.no_grad():
            outputs = self._model(**inputs, multimask_output=False)
        masks = self._processor.image_processor.post_process_masks(
            outputs.pred_masks.float().cpu(), inputs["original_sizes"].cpu(),
            inputs["reshaped_input_sizes"].cpu(), mask_threshold=self.mask_threshold)[0]
        scores = outputs.iou_scores.float().cpu()[0]
        results: list[MaskResult | None] = []
        for i, box in enumerate(boxes):
            mask = clip_mask_to_box(masks[i, 0].numpy().astype(bool), box)
            results.append(MaskResult(mask, round(float(scores[i, 0]), 6)) if mask.any()
                           else None)
        return results


# -- depth -----------------------------------------------------------------------------------


def disparity_to_depth(disparity: np.ndarray) -> np.ndarray:
    """Inverse depth -> relative depth (larger = farther) in units of the nearest pixel's
    depth: ``max(disparity) / disparity``, so values lie in [1, 1000]. Disparity under 1/1000
    of the largest (sky, no match) is floored there; non-finite disparity (a stereo ground
    truth's unknown pixels) becomes NaN, unknown depth."""
    disp = np.asarray(disparity, dtype=np.float64)
    finite = np.isfinite(disp)
    top = float(disp[finite].max()) if finite.any() else 1.0
    top = top if top > 0 else 1.0
    depth = top / np.maximum(np.where(finite, disp, top), top * 1e-3)
    return np.where(finite, depth, np.nan).astype(np.float32)


class TransformersDepth(_LocalModel):
    """Monocular depth through ``AutoModelForDepthEstimation`` (Depth Anything V1/V2, DPT):
    the prediction resized to the image (bicubic), in the graph's convention."""

    def __init__(self, model: str, device: str | None = "auto", dtype: str | None = "auto",
                 batch_size: int = 4) -> None:
        self.name = model
        self.model_name = model
        self.device_request, self.dtype_request = device, dtype
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        model = self._load_pretrained("AutoImageProcessor", "AutoModelForDepthEstimation")
        metric = getattr(model.config, "depth_estimation_type", "relative") == "metric"
        self.kind: DepthKind = "metric" if metric else "relative"

    def estimate(self, images: Sequence[RoleImage]) -> list[DepthResult]:
        self._load()
        torch = require("torch")
        out: list[DepthResult] = []
        for chunk in batched(images, self.batch_size):
            inputs = self._processor(images=[i.image for i in chunk], return_tensors="pt")
            inputs = {k: _to(v, self.device, self._dtype) for k, v in inputs.items()}
            with torch.no_grad():
                predicted = self._model(**inputs).predicted_depth.float()
            for img, pred in zip(chunk, predicted, strict=True):
                w, h = img.image.size
                resized = torch.nn.functional.interpolate(
                    pred[None, None], size=(h, w), mode="bicubic", align_corners=False)[0, 0]
                raw = resized.cpu().numpy()
                # metric: metres, floored at 1 mm (a depth must be positive)
                depth = (np.maximum(raw, 1e-3).astype(np.float32) if self.kind == "metric"
                         else disparity_to_depth(raw))
                out.append(DepthResult(depth, self.kind))
        return out


# -- vision-language roles -------------------------------------------------------------------


class VisionAsker(Protocol):
    """Asks a vision-language model one JSON question per (image, prompt); the answer
    validated as ``model_cls``, or None when none could be had (counted by the backend)."""

    name: str

    def ask(self, requests: Sequence[tuple[RoleImage, str]],
            model_cls: type[BaseModel]) -> list[Any]: ...


class ClientAsker:
    """Through :class:`~scenesynth.models.llm.LLMClient` (OpenAI-compatible server): the image
    as a PNG data-URL part, the answer schema-constrained (the server's structured-output
    form), retries on malformed answers, 429 and timeouts, a disk cache keyed by model, prompt
    and image bytes, and the client's statistics."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.name = f"openai:{client.config.model}"
        self._png: dict[str, bytes] = {}

    def ask(self, requests: Sequence[tuple[RoleImage, str]],
            model_cls: type[BaseModel]) -> list[Any]:
        from concurrent.futures import ThreadPoolExecutor

        from scenesynth.models.llm import LLMError, user_message

        def one(request: tuple[RoleImage, str]) -> Any:
            image, prompt = request
            data = self._png.get(image.key)
            if data is None:
                data = self._png[image.key] = image.png_bytes()
            try:
                return self.client.request([user_message(prompt, [data])], model_cls.__name__,
                                           model_cls.model_json_schema(), model_cls,
                                           lambda m: m, seed=0)
            except LLMError:  # counted in the client's stats; this field stays empty
                return None

        workers = max(1, int(self.client.config.concurrency))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            answers = list(pool.map(one, requests))
        self._png.clear()
        return answers


class VisionModelAsker:
    """Through any :class:`~scenesynth.models.vlm.VisionModel` (``hf:PATH`` local
    transformers model): the answer parsed leniently and validated; a malformed one counts in
    ``malformed`` and gives None."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = str(model.name)
        self.malformed = 0

    def ask(self, requests: Sequence[tuple[RoleImage, str]],
            model_cls: type[BaseModel]) -> list[Any]:
        from scenesynth.models.llm import parse_json_lenient
        from scenesynth.models.vlm import Query

        schema = json.dumps(model_cls.model_json_schema(), separators=(",", ":"))
        queries = [Query([img.path], f"{prompt}\nJSON schema: {schema}")
                   for img, prompt in requests]
        out: list[Any] = []
        for reply in self.model.answer(queries):
            try:
                if isinstance(reply, BaseException):
                    raise ValueError(str(reply))
                value, _ = parse_json_lenient(reply)
                out.append(model_cls.model_validate(value))
            except ValueError:
                self.malformed += 1
                out.append(None)
        return out


class _Attributes(BaseModel):
    attributes: list[str] = Field(default_factory=list, max_length=8)


def _where(obj: SceneObject, image: RoleImage) -> str:
    w, h = image.image.size
    b = obj.box
    box = "" if b is None else f" inside the pixel box [{b.x0:.0f}, {b.y0:.0f}, {b.x1:.0f}, " \
        f"{b.y1:.0f}] (x0, y0, x1, y1) of this {w}x{h} image"
    return f"the {obj.name}{box}"


class VisionAttributes:
    """Per object: ``{"attributes": [...]}`` (colour, material, size, state; short words)."""

    def __init__(self, asker: VisionAsker, max_objects: int = 20) -> None:
        self.asker, self.max_objects = asker, max_objects
        self.name = asker.name

    def describe(self, images: Sequence[RoleImage],
                 objects: Sequence[Sequence[SceneObject]]) -> list[list[list[str] | None]]:
        requests, where = [], []
        for i, (img, objs) in enumerate(zip(images, objects, strict=True)):
            for j, obj in enumerate(objs[: self.max_objects]):
                requests.append((img, f"Describe {_where(obj, img)}. Answer only JSON "
                                 '{"attributes": [...]} with up to 4 short lowercase words '
                                 "(colour, material, size, state)."))
                where.append((i, j))
        out: list[list[list[str] | None]] = [[None] * len(objs) for objs in objects]
        for (i, j), answer in zip(where, self.asker.ask(requests, _Attributes), strict=True):
            if answer is not None:
                words = [" ".join(a.lower().split()) for a in answer.attributes]
                out[i][j] = [w for w in dict.fromkeys(words) if w]
        return out


_CATEGORIES = [c.value for c in RelationCategory if c is not RelationCategory.OTHER]


class _RelationAnswer(BaseModel):
    predicate: str = Field(max_length=40)
    category: Literal["spatial", "interactional", "functional", "social", "emotional", "none"]


class VisionRelations:
    """Per pair (the ``max_pairs`` closest pairs by box centre, subject first by id): one
    predicate typed with the graph's five categories, or ``none``. Geometric relations are not
    asked: ``refine`` derives them from the boxes."""

    def __init__(self, asker: VisionAsker, max_pairs: int = 10) -> None:
        self.asker, self.max_pairs = asker, max_pairs
        self.name = asker.name

    def propose(self, images: Sequence[RoleImage],
                objects: Sequence[Sequence[SceneObject]]) -> list[list[ProposedRelation]]:
        requests, pairs = [], []
        for i, (img, objs) in enumerate(zip(images, objects, strict=True)):
            for a, b in closest_pairs(objs, self.max_pairs):
                requests.append((img, (
                    f"Subject: {_where(a, img)}. Object: {_where(b, img)}. What is the subject "
                    "doing to / for the object? Answer only JSON {\"predicate\": \"...\", "
                    f"\"category\": one of {[*_CATEGORIES, 'none']}}}; category none when "
                    "they are unrelated.")))
                pairs.append((i, a.id, b.id))
        out: list[list[ProposedRelation]] = [[] for _ in images]
        for (i, subject, target), answer in zip(pairs, self.asker.ask(requests,
                                                                      _RelationAnswer),
                                                strict=True):
            if answer is None or answer.category == "none" or not answer.predicate.strip():
                continue
            out[i].append(ProposedRelation(subject, " ".join(answer.predicate.lower().split()),
                                           target, RelationCategory(answer.category)))
        return out


def closest_pairs(objects: Sequence[SceneObject], limit: int) -> list[tuple[SceneObject,
                                                                            SceneObject]]:
    boxed = [o for o in objects if o.box is not None]
    pairs = []
    for i, a in enumerate(boxed):
        for b in boxed[i + 1:]:
            assert a.box is not None and b.box is not None
            (ax, ay), (bx, by) = a.box.center, b.box.center
            pairs.append(((ax - bx) ** 2 + (ay - by) ** 2, a.id, b.id, a, b))
    pairs.sort(key=lambda p: (p[0], p[1], p[2]))
    return [(p[3], p[4]) for p in pairs[:limit]]


def _to(value: Any, device: str, dtype: Any) -> Any:
    """Move a processor output to the model: float tensors (pixels) also take its dtype."""
    if not hasattr(value, "to"):
        return value
    if getattr(value, "is_floating_point", lambda: False)():
        return value.to(device, dtype)
    return value.to(device)
