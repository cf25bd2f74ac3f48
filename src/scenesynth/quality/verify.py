"""Verifying rendered images before questions are asked about them.

Two verifiers share one protocol (:class:`Verifier`: ``verify(RenderResult) -> Verdict``):

* :class:`ConstructionVerifier`, for exact renders (masks and boxes measured by the renderer):
  objects whose visible mask has fewer than ``min_visible_pixels`` pixels are dropped from the
  graph with every relation that mentions them (reported in the verdict's notes; the image
  still passes), and, optionally, every remaining spatial relation must still be decided True
  on the rendered geometry. The rules live in :mod:`scenesynth.quality.rules`.
* :class:`DetectorVerifier`, for non-exact renders (diffusion): an open-vocabulary detector
  must find every object near its requested box (IoU >= threshold, matching label, one
  detection per object), and every spatial relation must still hold
  (:func:`scenesynth.graph.spatial_relation` decided True) on the *detected* boxes. Depth
  relations (in front of / behind) cannot be checked from boxes and are noted as unverifiable.

:class:`VerificationTally` counts passed and failed images and failures by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from scenesynth.graph import (
    DEFAULT_RULES,
    Box,
    SceneGraph,
    SceneObject,
    SpatialRules,
    canonical_spatial,
    iou,
    spatial_relation,
)
from scenesynth.graph.geometry import BEHIND, FRONT
from scenesynth.models.detector import Detection, Detector
from scenesynth.quality.rules import drop_small_objects, unsatisfied_relations, visible_pixels


class Reason(StrEnum):
    # failures: the image is rejected
    NOT_EXACT = "render_not_exact"
    NO_OBJECTS = "no_objects_left"
    RELATION_NOT_KEPT = "relation_not_kept"  # exact render: not decided True on rendered geometry
    NOT_DETECTED = "object_not_detected"
    RELATION_VIOLATED = "relation_violated"  # decided False on the detected boxes
    RELATION_UNDECIDED = "relation_undecided"  # undecided on the detected boxes
    # notes: recorded, the image still passes
    OBJECT_DROPPED = "object_dropped_small"
    RELATION_DROPPED = "relation_dropped_with_object"
    RELATION_UNVERIFIABLE = "relation_unverifiable"
    RELATION_UNCHECKED = "relation_unchecked"  # an endpoint was not detected


@dataclass(frozen=True)
class Finding:
    reason: Reason
    detail: str
    objects: tuple[str, ...] = ()


@dataclass
class Verdict:
    passed: bool
    graph: SceneGraph  # the graph to use downstream (objects dropped where the verifier did)
    failures: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    detected: dict[str, Box] = field(default_factory=dict)  # object id -> matched detection box

    @property
    def reasons(self) -> list[str]:
        """Distinct failure reasons, in first-seen order."""
        return list(dict.fromkeys(f.reason.value for f in self.failures))

    @property
    def dropped_objects(self) -> list[str]:
        return [f.objects[0] for f in self.notes if f.reason == Reason.OBJECT_DROPPED]


class RenderResult(Protocol):
    """What a verifier reads of a render (``scenesynth.render.RenderResult`` has it): quality
    comes before render in the flow, so it names the fields it needs instead of importing it."""

    @property
    def image(self) -> Any: ...  # PIL image
    @property
    def graph(self) -> SceneGraph: ...
    @property
    def exact(self) -> bool: ...  # boxes, masks and depth are ground truth by construction


class Verifier(Protocol):
    name: str

    def verify(self, result: RenderResult) -> Verdict:
        """Judge one rendered image; never raises for a bad image, only for misuse."""
        ...


# -- verification by construction ------------------------------------------------------------


class ConstructionVerifier:
    """For exact renders: drop barely visible objects; optionally re-check spatial relations."""

    name = "construction"

    def __init__(
        self,
        min_visible_pixels: int = 64,
        check_relations: bool = True,
        rules: SpatialRules = DEFAULT_RULES,
    ) -> None:
        self.min_visible_pixels = min_visible_pixels
        self.check_relations = check_relations
        self.rules = rules

    def verify(self, result: RenderResult) -> Verdict:
        if not result.exact:
            return Verdict(False, result.graph, failures=[Finding(
                Reason.NOT_EXACT,
                f"image {result.graph.image.id}: the render is not exact; verification by "
                "construction needs measured masks (use a DetectorVerifier)",
            )])
        graph = result.graph
        pixels = {o.id: visible_pixels(graph, k) for k, o in enumerate(graph.objects)}
        kept, dropped, lost = drop_small_objects(graph, self.min_visible_pixels)
        notes: list[Finding] = []
        for oid in dropped:
            obj = graph.object(oid)
            why = "has no box" if obj.box is None else (
                f"has {pixels[oid]} visible pixel(s) < {self.min_visible_pixels}")
            notes.append(Finding(Reason.OBJECT_DROPPED, f"object {oid!r} ({obj.name}) {why}; "
                                 "dropped from the graph", (oid,)))
        for s, p, o in lost:
            notes.append(Finding(Reason.RELATION_DROPPED,
                                 f"relation ({s}, {p}, {o}) dropped with its object", (s, o)))
        failures: list[Finding] = []
        if not kept.objects:
            failures.append(Finding(Reason.NO_OBJECTS,
                                    f"image {graph.image.id}: no visible object is left"))
        if self.check_relations:
            for s, p, o in unsatisfied_relations(kept, self.rules):
                failures.append(Finding(
                    Reason.RELATION_NOT_KEPT,
                    f"relation ({s}, {p}, {o}) is not decided True on the rendered geometry",
                    (s, o),
                ))
        return Verdict(not failures, kept, failures, notes)


# -- detector verification -------------------------------------------------------------------

# Predicates a detector's boxes can decide; depth order is not visible in boxes.
_DEPTH_PREDICATES = frozenset({FRONT, BEHIND})


def _default_label(obj: SceneObject) -> str:
    return obj.name


class DetectorVerifier:
    """For non-exact renders: every object detected near its box, every relation kept.

    ``label_of`` gives the detector query for an object (its name by default); a detection
    matches an object when its label is that query, or one of the object's synonyms, and its
    IoU with the requested box is at least ``iou_threshold``. Matching is one-to-one, best IoU
    first, so two cups need two cup detections. ``use_detected_boxes`` puts the matched
    detection boxes into the verdict's graph (useful for grounding questions).
    """

    name = "detector"

    def __init__(
        self,
        detector: Detector,
        iou_threshold: float = 0.5,
        rules: SpatialRules = DEFAULT_RULES,
        label_of: Callable[[SceneObject], str] = _default_label,
        use_detected_boxes: bool = False,
    ) -> None:
        self.detector = detector
        self.iou_threshold = iou_threshold
        self.rules = rules
        self.label_of = label_of
        self.use_detected_boxes = use_detected_boxes

    def verify(self, result: RenderResult) -> Verdict:
        graph = result.graph
        objects = [o for o in graph.objects if o.box is not None]
        labels = list(dict.fromkeys(self.label_of(o) for o in objects))
        detections = self.detector.detect(result.image, labels)
        matched = self._match(objects, detections)
        failures: list[Finding] = []
        notes: list[Finding] = []
        for obj in objects:
            if obj.id not in matched:
                failures.append(Finding(Reason.NOT_DETECTED, self._miss_detail(obj, detections),
                                        (obj.id,)))
        by_id = {o.id: o for o in graph.objects}
        for rel in graph.relations:
            pred = canonical_spatial(rel.predicate)
            if pred is None:
                continue
            triplet = f"({rel.subject}, {rel.predicate}, {rel.object})"
            ends = (rel.subject, rel.object)
            if pred in _DEPTH_PREDICATES:
                notes.append(Finding(Reason.RELATION_UNVERIFIABLE,
                                     f"relation {triplet}: depth order is not visible in "
                                     "detected boxes", ends))
                continue
            if rel.subject not in matched or rel.object not in matched:
                notes.append(Finding(Reason.RELATION_UNCHECKED,
                                     f"relation {triplet}: an object was not detected", ends))
                continue
            a = _as_detected(by_id[rel.subject], matched[rel.subject])
            b = _as_detected(by_id[rel.object], matched[rel.object])
            decided = spatial_relation(a, b, rel.predicate, graph.image, None, self.rules)
            if decided is True:
                continue
            reason = Reason.RELATION_VIOLATED if decided is False else Reason.RELATION_UNDECIDED
            state = "false" if decided is False else "undecided"
            failures.append(Finding(
                reason,
                f"relation {triplet} is {state} on the detected boxes "
                f"{a.box} and {b.box}",
                ends,
            ))
        out_graph = graph
        if self.use_detected_boxes and matched:
            out_graph = graph.model_copy(update={"objects": [
                o.model_copy(update={"box": matched[o.id]}) if o.id in matched else o
                for o in graph.objects
            ]})
        return Verdict(not failures, out_graph, failures, notes, dict(matched))

    def _labels_match(self, obj: SceneObject, det: Detection) -> bool:
        return det.label == self.label_of(obj) or det.label in obj.synonyms

    def _match(self, objects: list[SceneObject], detections: list[Detection]) -> dict[str, Box]:
        pairs = []
        for oi, obj in enumerate(objects):
            assert obj.box is not None
            for di, det in enumerate(detections):
                if self._labels_match(obj, det):
                    overlap = iou(obj.box, det.box)
                    if overlap >= self.iou_threshold:
                        pairs.append((overlap, det.score, oi, di))
        pairs.sort(key=lambda p: (-p[0], -p[1], p[2], p[3]))
        used_obj: set[int] = set()
        used_det: set[int] = set()
        matched: dict[str, Box] = {}
        for _, _, oi, di in pairs:
            if oi in used_obj or di in used_det:
                continue
            used_obj.add(oi)
            used_det.add(di)
            matched[objects[oi].id] = detections[di].box
        return matched

    def _miss_detail(self, obj: SceneObject, detections: list[Detection]) -> str:
        assert obj.box is not None
        label = self.label_of(obj)
        same = [d for d in detections if self._labels_match(obj, d)]
        if not same:
            return f"object {obj.id!r} ({label}) at {obj.box}: no {label!r} detection"
        best = max(iou(obj.box, d.box) for d in same)
        return (f"object {obj.id!r} ({label}) at {obj.box}: best {label!r} detection has IoU "
                f"{best:.2f} < {self.iou_threshold:g} (or was matched to another object)")


def _as_detected(obj: SceneObject, box: Box) -> SceneObject:
    """The object as the detector sees it: its detected box and no requested 3D/depth data."""
    return obj.model_copy(update={"box": box, "position": None, "size3d": None, "depth": None})


# -- bookkeeping -----------------------------------------------------------------------------


@dataclass
class VerificationTally:
    """Images passed/failed, failing images counted by reason, and dropped objects."""

    n_passed: int = 0
    n_failed: int = 0
    failed_by_reason: Counter[str] = field(default_factory=Counter)  # images per reason
    notes_by_reason: Counter[str] = field(default_factory=Counter)  # findings per reason

    def add(self, verdict: Verdict) -> None:
        if verdict.passed:
            self.n_passed += 1
        else:
            self.n_failed += 1
            self.failed_by_reason.update(verdict.reasons)
        self.notes_by_reason.update(f.reason.value for f in verdict.notes)

    @property
    def n_images(self) -> int:
        return self.n_passed + self.n_failed

    def summary(self) -> str:
        reasons = ", ".join(f"{r}={n}" for r, n in self.failed_by_reason.most_common())
        return (f"{self.n_images} image(s): {self.n_passed} passed, {self.n_failed} failed"
                + (f" ({reasons})" if reasons else ""))


def verify_all(
    verifier: Verifier, results: Iterable[RenderResult]
) -> tuple[list[Verdict], VerificationTally]:
    tally = VerificationTally()
    verdicts = []
    for result in results:
        verdict = verifier.verify(result)
        tally.add(verdict)
        verdicts.append(verdict)
    return verdicts, tally
