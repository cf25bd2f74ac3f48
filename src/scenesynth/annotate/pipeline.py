"""One batch of images through the model roles, merged into scene graphs.

:func:`run_roles` calls tagger -> detector -> segmenter -> depth -> attributes -> relations, each
once per batch (its backend batches further); :meth:`PendingBatch.merge` then builds the graphs
(the runner merges one batch while the models run the next). Every model-made field records its
:class:`~scenesynth.graph.FieldProvenance` (model, score). Augment mode runs only the roles
that fill what a graph lacks (masks for boxed objects without one, depth where it is None) and
never changes a value the graph has.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scenesynth.annotate.images import BadImage, OpenedImage, open_image
from scenesynth.graph import (
    Attribute,
    FieldProvenance,
    ImageInfo,
    Mask,
    Relation,
    RelationSource,
    SceneGraph,
    SceneObject,
)
from scenesynth.ioutil import atomic_write
from scenesynth.ioutil.manifest import FailureRecord
from scenesynth.models.roles import (
    AttributeDescriber,
    BoxDetector,
    BoxSegmenter,
    DepthEstimator,
    DepthResult,
    MaskResult,
    ProposedRelation,
    RelationProposer,
    RoleImage,
    Tagger,
    box_pixels,
)

STAGE = "annotate"


@dataclass
class Roles:
    tagger: Tagger | None = None
    detector: BoxDetector | None = None
    segmenter: BoxSegmenter | None = None
    depth: DepthEstimator | None = None
    attributes: AttributeDescriber | None = None
    relations: RelationProposer | None = None
    derive_relations: bool = True  # geometric relations from boxes (refine), as for datasets


@dataclass
class BatchResult:
    graphs: list[SceneGraph] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)
    # images annotated after a conversion (CMYK, 16-bit, palette with alpha): ``notes.jsonl``
    notes: list[FailureRecord] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # per role
    # depth maps to write before the shard is committed (the runner writes them off the
    # models' critical path): (path, float32 map)
    files: list[tuple[Path, np.ndarray]] = field(default_factory=list)


def encode_mask(mask: np.ndarray) -> Mask:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(mask.astype(np.uint8, order="F"))  # one copy, column-major
    return Mask(size=(int(rle["size"][0]), int(rle["size"][1])),
                counts=rle["counts"].decode("ascii"))


def decode_mask(mask: Mask) -> np.ndarray:
    from pycocotools import mask as mask_utils

    h, w = mask.size
    rle: Any = {"size": [h, w], "counts": mask.counts}
    if isinstance(mask.counts, list):
        rle = mask_utils.frPyObjects(rle, h, w)
    return mask_utils.decode(rle).astype(bool)


def object_depth(depth: np.ndarray, obj: SceneObject,
                 mask: np.ndarray | None = None) -> float | None:
    """Median of the depth map over the object's mask (``mask``: its pixels when already
    decoded), else over its box (pixel centres inside), else None; NaN pixels (unknown depth)
    are left out."""
    region: np.ndarray | None = None
    if obj.mask is not None:
        inside = mask if mask is not None else decode_mask(obj.mask)
        if inside.shape == depth.shape and inside.any():
            region = depth[inside]
    if region is None and obj.box is not None:
        rows, cols = box_pixels(obj.box, *depth.shape)
        region = depth[rows, cols]
    if region is None:
        return None
    known = region[np.isfinite(region)]
    return float(np.median(known)) if known.size else None


def _prov(fields: dict[str, FieldProvenance] | None, name: str, model: str,
          score: float | None) -> dict[str, FieldProvenance]:
    out = dict(fields or {})
    out[name] = FieldProvenance(model=model, score=score)
    return out


def safe_name(key: str) -> str:
    return key.replace("/", "__").replace("\\", "__")


@dataclass
class WorkItem:
    """An image to annotate: ``key`` its path relative to the image root (POSIX), and in
    augment mode the human graph to fill in."""

    key: str
    path: Path
    graph: SceneGraph | None = None


def write_depth_maps(files: list[tuple[Path, np.ndarray]]) -> None:
    for target, depth in files:
        with atomic_write(target, "wb") as fh:
            np.save(fh, depth, allow_pickle=False)


def open_images(items: list[WorkItem], max_pixels: int | None = None
                ) -> list[OpenedImage | BadImage]:
    """Decode a batch (the runner does this for the next batch while models run this one)."""
    out: list[OpenedImage | BadImage] = []
    for item in items:
        try:
            out.append(open_image(item.path) if max_pixels is None
                       else open_image(item.path, max_pixels))
        except BadImage as exc:
            out.append(exc)
    return out


def annotate_batch(items: list[WorkItem], roles: Roles, depth_dir: Path | None,
                   image_root: Path, source: str = "annotate",
                   decoded: list[OpenedImage | BadImage] | None = None) -> BatchResult:
    """Run the roles on a batch and merge their outputs into graphs."""
    return run_roles(items, roles, decoded).merge(depth_dir, image_root, source)


def run_roles(items: list[WorkItem], roles: Roles,
              decoded: list[OpenedImage | BadImage] | None = None) -> PendingBatch:
    """Decode-check a batch and run every model role on it (the part that needs the models)."""
    import time

    result = BatchResult()
    opened: list[tuple[WorkItem, RoleImage, str]] = []
    for item, im in zip(items, decoded if decoded is not None else open_images(items),
                        strict=True):
        if isinstance(im, BadImage):
            exc = im
            result.failures.append(FailureRecord(stage=STAGE, record_id=item.key,
                                                 reason=exc.reason, error=str(exc),
                                                 file=str(item.path)))
            result.counters[f"bad_image.{exc.reason}"] += 1
            continue
        if item.graph is not None and im.image.size != (item.graph.image.width,
                                                        item.graph.image.height):
            w, h = im.image.size
            result.failures.append(FailureRecord(
                stage=STAGE, record_id=item.key, reason="size_mismatch", file=str(item.path),
                error=f"the image is {w}x{h}, the graph says "
                      f"{item.graph.image.width}x{item.graph.image.height}"))
            continue
        if im.converted is not None:
            result.notes.append(FailureRecord(
                stage=STAGE, record_id=item.key, reason=f"converted.{im.converted}",
                file=str(item.path),
                error=f"{im.original_mode} image converted to RGB and annotated"))
            result.counters[f"converted.{im.converted}"] += 1
        opened.append((item, RoleImage(item.key, item.path, im.image), im.original_mode))
    objects: list[list[SceneObject]] = []
    if not opened:
        return PendingBatch(result, roles, opened, objects)
    images = [o[1] for o in opened]

    @contextmanager
    def timed(role: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        result.seconds[role] = result.seconds.get(role, 0.0) + time.perf_counter() - start

    # -- objects: from the graph (augment) or tagger + detector ------------------------------
    if all(item.graph is not None for item, _, _ in opened):
        objects = [list(item.graph.objects) for item, _, _ in opened if item.graph is not None]
    else:
        if roles.detector is None:
            raise ValueError("annotating images without graphs needs a detector role")
        with timed("tagger"):
            tags = roles.tagger.tag(images) if roles.tagger is not None else [[] for _ in images]
        labels = [[t.name for t in ts] for ts in tags]
        with timed("detector"):
            detections = roles.detector.detect(images, labels)
        tagger_name = roles.tagger.name if roles.tagger is not None else roles.detector.name
        for ts, dets in zip(tags, detections, strict=True):
            tag_score = {t.name: t.score for t in ts}
            objs = []
            for i, det in enumerate(dets):
                prov = _prov(None, "name", tagger_name, tag_score.get(det.label))
                prov = _prov(prov, "box", roles.detector.name, round(det.score, 6))
                objs.append(SceneObject(id=str(i), name=det.label, box=det.box, provenance=prov))
            objects.append(objs)
            result.counters["objects"] += len(objs)

    # -- model roles (results merged by ``merge``, which the runner overlaps with the next
    # batch's model calls: attributes and relations see names and boxes, not masks) ---------
    pending = PendingBatch(result, roles, opened, objects)
    if roles.segmenter is not None:
        pending.wanted = [[o for o in objs if o.box is not None and o.mask is None]
                          for objs in objects]
        with timed("segmenter"):
            pending.masks = roles.segmenter.segment(
                images, [[o.box for o in w if o.box] for w in pending.wanted])
    if roles.depth is not None:
        with timed("depth"):
            pending.estimates = roles.depth.estimate(images)
    if roles.attributes is not None:
        with timed("attributes"):
            pending.described = roles.attributes.describe(images, objects)
    if roles.relations is not None:
        with timed("relations"):
            pending.proposals = roles.relations.propose(images, objects)
    return pending


@dataclass
class PendingBatch:
    """A batch whose models have run: :meth:`merge` turns their outputs into graphs (mask RLE
    encoding, per-object depth medians, attributes, relations, derived relations)."""

    result: BatchResult
    roles: Roles
    opened: list[tuple[WorkItem, RoleImage, str]]
    objects: list[list[SceneObject]]
    wanted: list[list[SceneObject]] = field(default_factory=list)
    masks: list[list[MaskResult | None]] = field(default_factory=list)
    estimates: list[DepthResult] = field(default_factory=list)
    described: list[list[list[str] | None]] = field(default_factory=list)
    proposals: list[list[ProposedRelation]] = field(default_factory=list)

    def merge(self, depth_dir: Path | None, image_root: Path,
              source: str = "annotate") -> BatchResult:
        result, roles, opened, objects = self.result, self.roles, self.opened, self.objects
        images = [o[1] for o in opened]
        if not opened:
            return result
        pixels: dict[tuple[int, str], np.ndarray] = {}  # (image, object id) -> decoded mask
        if roles.segmenter is not None:
            for k, (objs, wanted, got) in enumerate(zip(objects, self.wanted, self.masks,
                                                        strict=True)):
                filled = {}
                for obj, res in zip(wanted, got, strict=True):
                    if res is None:
                        result.counters["masks_empty"] += 1
                        continue
                    pixels[k, obj.id] = res.mask
                    filled[obj.id] = obj.model_copy(update={
                        "mask": encode_mask(res.mask),
                        "provenance": _prov(obj.provenance, "mask", roles.segmenter.name,
                                            res.score)})
                objs[:] = [filled.get(o.id, o) for o in objs]
                result.counters["masks"] += len(filled)
        depth_maps: list[str | None] = [None] * len(images)
        depth_kind: list[str | None] = [None] * len(images)
        if roles.depth is not None:
            for k, ((item, _img, _), est, objs) in enumerate(zip(opened, self.estimates, objects,
                                                                 strict=True)):
                depth_kind[k] = est.kind
                if depth_dir is not None and (item.graph is None or item.graph.image.depth_map
                                              is None):
                    target = depth_dir / f"{safe_name(item.key)}.npy"
                    result.files.append((target, est.depth.astype(np.float32)))
                    depth_maps[k] = Path(os.path.relpath(target, image_root)).as_posix()
                depth = est.depth.astype(np.float32)
                updated = []
                for obj in objs:
                    value = (object_depth(depth, obj, pixels.get((k, obj.id)))
                             if obj.depth is None else None)
                    if value is None:
                        updated.append(obj)
                        continue
                    updated.append(obj.model_copy(update={
                        "depth": value,
                        "provenance": _prov(obj.provenance, "depth", roles.depth.name, None)}))
                    result.counters["depths"] += 1
                objs[:] = updated

        # -- attributes and relations (vision-language model) ------------------------------------
        if roles.attributes is not None:
            for objs, words in zip(objects, self.described, strict=True):
                for j, (obj, ws) in enumerate(zip(objs, words, strict=False)):
                    if ws is None or obj.attributes:
                        continue
                    attrs = [Attribute.model_validate(w) for w in ws]
                    objs[j] = obj.model_copy(update={
                        "attributes": attrs,
                        "provenance": _prov(obj.provenance, "attributes", roles.attributes.name,
                                            None)})
                    result.counters["attributes"] += len(attrs)
        proposed: list[list[Relation]] = [[] for _ in images]
        if roles.relations is not None:
            for k, rels in enumerate(self.proposals):
                proposed[k] = [Relation(subject=r.subject, predicate=r.predicate, object=r.object,
                                        category=r.category, source=RelationSource.MODEL,
                                        meta={"model": roles.relations.name}) for r in rels]
                result.counters["relations"] += len(rels)

        # -- merge -----------------------------------------------------------------------------
        for k, ((item, img, mode), objs) in enumerate(zip(opened, objects, strict=True)):
            w, h = img.image.size
            if item.graph is not None:
                image = item.graph.image.model_copy(update={"path": item.key})
                if depth_maps[k] is not None:
                    image = image.model_copy(update={"depth_map": depth_maps[k]})
                meta = dict(item.graph.meta)
                relations = list(item.graph.relations)
            else:
                image = ImageInfo(id=item.key, width=w, height=h, path=item.key, source=source,
                                  depth_map=depth_maps[k])
                meta = {"image_mode": mode}
                relations = []
            if depth_kind[k] is not None and roles.depth is not None:
                meta["depth"] = {"model": roles.depth.name, "kind": depth_kind[k]}
            have = {r.triplet() for r in relations}
            relations += [r for r in proposed[k] if r.triplet() not in have]
            graph = SceneGraph(image=image, objects=objs, relations=relations,
                               camera=item.graph.camera if item.graph is not None else None,
                               meta=meta)
            if roles.derive_relations and item.graph is None:
                from scenesynth.refine import add_derived_relations

                graph = add_derived_relations(graph)
            result.graphs.append(graph)
        return result
