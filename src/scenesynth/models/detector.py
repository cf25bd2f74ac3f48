"""Open-vocabulary detection backend: text labels in, labelled boxes in our Box convention out.

:class:`ZeroShotDetector` loads any ``transformers`` zero-shot detector through
``AutoModelForZeroShotObjectDetection`` + ``AutoProcessor`` from a hub id or a local folder
(OWL-ViT by default). OWL-ViT / OWLv2 outputs (per-query ``logits`` over the text labels and
normalised centre-size ``pred_boxes``) are decoded here, so the result does not depend on the
processor's post-processing API of the installed version; other model types go through the
processor's ``post_process_grounded_object_detection``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from scenesynth.graph import Box, iou
from scenesynth.models.common import require, resolve_device, resolve_dtype

DEFAULT_DETECTOR = "google/owlvit-base-patch32"


@dataclass(frozen=True)
class Detection:
    label: str  # one of the labels that were asked for
    box: Box  # pixels, x0 y0 x1 y1, origin top-left, clipped to the image
    score: float


@runtime_checkable
class Detector(Protocol):
    """Anything that finds boxes for text labels in an image."""

    def detect(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]: ...


def non_max_suppression(detections: list[Detection], iou_threshold: float) -> list[Detection]:
    """Per label, keep the highest-scoring box among those overlapping above ``iou_threshold``."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(k.label != det.label or iou(k.box, det.box) <= iou_threshold for k in kept):
            kept.append(det)
    return kept


class ZeroShotDetector:
    """Open-vocabulary detector (OWL-ViT family by default).

    ``model`` is a hub id or a local folder written by ``save_pretrained``; ``device`` is
    ``"auto"`` (GPU when present), ``"cpu"``, ``"cuda:0"``...; ``dtype`` ``"auto"`` (fp16 on
    GPU, fp32 on CPU) or a torch dtype name; ``query_template`` turns a label into the text
    query (OWL-ViT was trained on "a photo of a ..." prompts).
    """

    def __init__(
        self,
        model: str = DEFAULT_DETECTOR,
        device: str | None = "auto",
        score_threshold: float = 0.1,
        nms_iou: float = 0.5,
        max_detections: int = 100,
        query_template: str = "a photo of a {}",
        dtype: str | None = "auto",
    ) -> None:
        self.model_name = model
        self.device_request = device
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.max_detections = max_detections
        self.query_template = query_template
        self.dtype_request = dtype
        self._dtype: Any = None
        self._model: Any = None
        self._processor: Any = None
        self.device = "cpu"

    def load(self) -> None:
        """Load model and processor (done on first :meth:`detect`)."""
        if self._model is not None:
            return
        transformers = require("transformers")
        self.device = resolve_device(self.device_request)
        self._dtype = resolve_dtype(self.dtype_request, self.device)
        self._processor = transformers.AutoProcessor.from_pretrained(self.model_name)
        model = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(self.model_name)
        self._model = model.to(self.device, self._dtype).eval()

    @property
    def model_type(self) -> str:
        self.load()
        return str(self._model.config.model_type)

    def detect(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]:
        if not labels:
            return []
        self.load()
        torch = require("torch")
        image = image.convert("RGB")
        queries = [self.query_template.format(label) for label in labels]
        # Truncate: OWL-ViT's text tower takes 16 tokens; a long attribute list must not crash.
        inputs = self._processor(text=[queries], images=image, return_tensors="pt",
                                 truncation=True)
        inputs = {k: _to_device(v, self.device, self._dtype) for k, v in inputs.items()}
        with torch.no_grad():
            outputs = self._model(**inputs)
        if self._model.config.model_type in ("owlvit", "owlv2"):
            dets = self._decode_owl(outputs, image.size, labels)
        else:
            dets = self._decode_generic(outputs, inputs, image.size, labels)
        dets = non_max_suppression(dets, self.nms_iou)
        return dets[: self.max_detections]

    def _decode_owl(
        self, outputs: Any, size: tuple[int, int], labels: Sequence[str]
    ) -> list[Detection]:
        width, height = size
        # OWLv2 pads the image to a square (bottom/right) before resizing, so its normalised
        # boxes are relative to the padded square; OWL-ViT resizes without padding.
        if self._model.config.model_type == "owlv2":
            scale_w = scale_h = float(max(width, height))
        else:
            scale_w, scale_h = float(width), float(height)
        logits = outputs.logits[0].float()  # (queries, labels)
        scores, label_idx = logits.sigmoid().max(dim=-1)
        boxes = outputs.pred_boxes[0].float()  # (queries, 4) cx cy w h in [0, 1]
        out: list[Detection] = []
        for q in (scores > self.score_threshold).nonzero().flatten().tolist():
            cx, cy, w, h = boxes[q].tolist()
            box = Box.from_cxcywh(cx * scale_w, cy * scale_h, w * scale_w, h * scale_h)
            out.append(Detection(labels[int(label_idx[q])], box.clip(width, height),
                                 float(scores[q])))
        return out

    def _decode_generic(
        self, outputs: Any, inputs: dict[str, Any], size: tuple[int, int],
        labels: Sequence[str],
    ) -> list[Detection]:
        width, height = size
        results = self._processor.post_process_grounded_object_detection(
            outputs, threshold=self.score_threshold, target_sizes=[(height, width)],
            text_labels=[list(labels)],
        )[0]
        names = results.get("text_labels") or [labels[int(i)] for i in results["labels"]]
        out = []
        for name, score, xyxy in zip(names, results["scores"], results["boxes"], strict=True):
            x0, y0, x1, y1 = (float(v) for v in xyxy)
            out.append(Detection(str(name), Box(x0=x0, y0=y0, x1=x1, y1=y1).clip(width, height),
                                 float(score)))
        return out


def _to_device(value: Any, device: str, dtype: Any) -> Any:
    """Move a processor output to the model: float tensors (pixels) also take its dtype."""
    if not hasattr(value, "to"):
        return value
    if getattr(value, "is_floating_point", lambda: False)():
        return value.to(device, dtype)
    return value.to(device)
