"""The read-only scene API that question programs run against.

This docstring is the API reference the question writer's prompt quotes (everything from
"API REFERENCE" down), so it is the one place the API is documented.

API REFERENCE
=============

A program is Python source defining ``answer(scene)``, which returns the answer. It runs in a
sandbox: ``import`` is limited to ``math``, ``statistics``, ``itertools`` and ``collections``;
names or attributes that start with ``_`` (``__class__``, ``_private``) are rejected, as are
``getattr``, ``globals``, ``eval``, ``exec``, ``open`` and attribute assignment. Everything the
program reads is immutable: tuples, strings, numbers.

``scene``
  * ``scene.image_id`` (str), ``scene.width``, ``scene.height`` (pixels).
  * ``scene.objects``: tuple of objects; ``scene.relations``: tuple of relations.
  * ``scene.find(name=None, **attributes)``: objects with that name (``"cube"``) and those
    attribute values (``color="red"``, ``material="metal"``, ``size="small"``; any kind).
  * ``scene.names()``: sorted tuple of the distinct object names.
  * ``scene.get(object_id)``: the object with that id.
  * ``scene.related(obj, predicate)``: objects ``o`` with an annotated relation
    ``(obj, predicate, o)``; ``scene.predicates(a, b)``: annotated predicates from a to b.
  * Geometry, decided by the project's spatial rules (3D positions and the camera's directions
    when the scene has them, else boxes and depth). Each returns True, False, or None when the
    case is borderline (never ask about a None):
    ``scene.spatial(a, b, predicate)`` for ``"left of"``, ``"right of"``, ``"above"``,
    ``"below"``, ``"in front of"``, ``"behind"``, ``"near"``, ``"far from"``, ``"inside"``,
    ``"contains"``, ``"on top of"``, ``"under"``; ``scene.left_of(a, b)`` and
    ``scene.right_of(a, b)`` are the camera-frame shortcuts.
  * ``scene.direction(a, b)``: tuple of the directional predicates (left of, right of, above,
    below, in front of, behind) that hold for "a PRED b".
  * ``scene.distance(a, b)``: 3D distance in scene units when both have positions, else the
    distance of the box centres in pixels, else None.
  * ``scene.overlap(a, b)``: intersection-over-union of the two boxes (0.0 to 1.0), or None.

object (``obj``)
  * ``obj.id``, ``obj.name`` (lower case), ``obj.attributes`` (tuple of values),
    ``obj.attribute(kind)`` (the value of kind ``"color"``, ``"material"``, ``"size"``,
    ``"shape"``, ``"state"`` ... or None), ``obj.has(value)``.
  * ``obj.box``: ``(x0, y0, x1, y1)`` in pixels, origin top-left, or None; ``obj.center``
    (x, y) or None; ``obj.area`` (box area) or None; ``obj.mask_area`` (pixels) or None.
  * ``obj.depth``: distance from the camera, larger is farther, or None.
  * ``obj.position``: ``(x, y, z)`` in the scene's frame, or None; ``obj.size3d`` likewise.

relation (``rel``)
  * ``rel.subject``, ``rel.object`` (objects), ``rel.predicate`` (str).

The answer must be of the declared ``answer_type``: ``count`` an int >= 0, ``yes_no`` a bool,
``number`` an int or float, ``name`` / ``attribute`` / ``text`` a str.

----

Host side, :func:`scene_payload` turns a :class:`~scenesynth.graph.SceneGraph` into plain data
(dicts, lists, strings, numbers); the sandbox worker rebuilds a :class:`Scene` from that data
for each program, so nothing a program does can reach the host's objects or leak from one
program to the next.
"""

from __future__ import annotations

import math
from typing import Any

from scenesynth.graph.box import Box
from scenesynth.graph.geometry import canonical_spatial, iou, spatial_relation
from scenesynth.graph.model import Camera, ImageInfo, SceneGraph, SceneObject, Vec3

DIRECTIONAL = ("left of", "right of", "above", "below", "in front of", "behind")


def api_reference() -> str:
    """The API reference quoted in the writer's prompt (this module's documented part)."""
    doc = __doc__ or ""
    start = doc.index("API REFERENCE")
    return doc[start: doc.index("----", start)].strip()


# -- host side ------------------------------------------------------------------------------


def scene_payload(graph: SceneGraph, mask_areas: dict[str, int] | None = None) -> dict[str, Any]:
    """The graph as plain JSON-able data for the sandbox (``mask_areas``: object id -> pixels,
    measured by the host from the masks, so the worker needs no mask decoder)."""
    areas = mask_areas or {}
    objects = []
    for o in graph.objects:
        objects.append({
            "id": o.id,
            "name": o.name,
            "attributes": [[a.value, str(a.kind)] for a in o.attributes],
            "box": list(o.box.as_tuple()) if o.box is not None else None,
            "mask_area": areas.get(o.id),
            "depth": o.depth,
            "position": list(o.position.as_tuple()) if o.position is not None else None,
            "size3d": list(o.size3d.as_tuple()) if o.size3d is not None else None,
        })
    camera = None
    if graph.camera is not None and graph.camera.directions:
        camera = {k: list(v.as_tuple()) for k, v in sorted(graph.camera.directions.items())}
    return {
        "image": {"id": graph.image.id, "width": graph.image.width,
                  "height": graph.image.height},
        "objects": objects,
        "relations": [[r.subject, r.predicate, r.object] for r in graph.relations],
        "camera": camera,
    }


def mask_areas(graph: SceneGraph) -> dict[str, int]:
    """Mask pixel counts per object id, measured by the generators' tables (one home)."""
    if not any(o.mask is not None for o in graph.objects):
        return {}
    from scenesynth.graph.geometry import DEFAULT_RULES
    from scenesynth.programs.tables import build_tables, ref

    tables = build_tables([graph], DEFAULT_RULES)[0]
    return {o.id: tables.mask_area(ref(0, o.id)) for o in graph.objects if o.mask is not None}


# -- worker side: the objects a program sees -------------------------------------------------


def _vec(value: Any) -> tuple[float, float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]), float(value[2]))


class Obj:
    """One object, read-only (slots, properties only; every value is immutable)."""

    __slots__ = ("_attrs", "_box", "_depth", "_id", "_kinds", "_mask_area", "_model", "_name",
                 "_position", "_size3d")

    def __init__(self, data: dict[str, Any]) -> None:
        self._id: str = str(data["id"])
        self._name: str = str(data["name"])
        pairs = [(str(v), str(k)) for v, k in data.get("attributes") or ()]
        self._attrs: tuple[str, ...] = tuple(v for v, _ in pairs)
        self._kinds: tuple[tuple[str, str], ...] = tuple((k, v) for v, k in pairs)
        box = data.get("box")
        self._box: tuple[float, float, float, float] | None = (
            None if box is None else (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        )
        area = data.get("mask_area")
        self._mask_area: int | None = None if area is None else int(area)
        depth = data.get("depth")
        self._depth: float | None = None if depth is None else float(depth)
        self._position = _vec(data.get("position"))
        self._size3d = _vec(data.get("size3d"))
        self._model: SceneObject | None = None

    id = property(lambda self: self._id)
    name = property(lambda self: self._name)
    attributes = property(lambda self: self._attrs)
    box = property(lambda self: self._box)
    mask_area = property(lambda self: self._mask_area)
    depth = property(lambda self: self._depth)
    position = property(lambda self: self._position)
    size3d = property(lambda self: self._size3d)

    @property
    def center(self) -> tuple[float, float] | None:
        b = self._box
        return None if b is None else ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)

    @property
    def area(self) -> float | None:
        b = self._box
        return None if b is None else (b[2] - b[0]) * (b[3] - b[1])

    def attribute(self, kind: str) -> str | None:
        for k, v in self._kinds:
            if k == kind:
                return v
        return None

    def has(self, value: str) -> bool:
        return " ".join(str(value).lower().split()) in self._attrs

    def model(self) -> SceneObject:
        """The graph model of this object, for the shared geometry rules (built on demand)."""
        if self._model is None:
            box = None if self._box is None else Box(x0=self._box[0], y0=self._box[1],
                                                      x1=self._box[2], y1=self._box[3])
            pos = None if self._position is None else Vec3(x=self._position[0],
                                                          y=self._position[1],
                                                          z=self._position[2])
            size = None if self._size3d is None else Vec3(x=self._size3d[0], y=self._size3d[1],
                                                         z=self._size3d[2])
            # every field given: model_construct would resolve default factories (slow)
            self._model = SceneObject.model_construct(
                id=self._id, name=self._name, synonyms=[], attributes=[], box=box, mask=None,
                depth=self._depth, position=pos, size3d=size, distinct=False, meta={},
            )
        return self._model

    def __repr__(self) -> str:
        return f"Obj({self._id!r}, {self._name!r}, {list(self._attrs)!r})"


class Rel:
    __slots__ = ("_object", "_predicate", "_subject")

    def __init__(self, subject: Obj, predicate: str, obj: Obj) -> None:
        self._subject, self._predicate, self._object = subject, predicate, obj

    subject = property(lambda self: self._subject)
    predicate = property(lambda self: self._predicate)
    object = property(lambda self: self._object)

    def __repr__(self) -> str:
        return f"Rel({self._subject.id!r}, {self._predicate!r}, {self._object.id!r})"


class Scene:
    """A read-only view of one scene graph, built from :func:`scene_payload` data."""

    __slots__ = ("_by_id", "_camera", "_height", "_image", "_image_id", "_objects",
                 "_relations", "_width")

    def __init__(self, data: dict[str, Any]) -> None:
        image = data["image"]
        self._image_id = str(image["id"])
        self._width = int(image["width"])
        self._height = int(image["height"])
        self._objects: tuple[Obj, ...] = tuple(Obj(o) for o in data["objects"])
        self._by_id = {o.id: o for o in self._objects}
        self._relations: tuple[Rel, ...] = tuple(
            Rel(self._by_id[s], str(p), self._by_id[o])
            for s, p, o in data.get("relations") or ()
            if s in self._by_id and o in self._by_id
        )
        cam = data.get("camera")
        self._camera: Camera | None = None if not cam else Camera.model_construct(
            directions={k: Vec3(x=v[0], y=v[1], z=v[2]) for k, v in cam.items()}
        )
        self._image: ImageInfo | None = None  # built on the first geometry call

    image_id = property(lambda self: self._image_id)
    width = property(lambda self: self._width)
    height = property(lambda self: self._height)
    objects = property(lambda self: self._objects)
    relations = property(lambda self: self._relations)

    def get(self, object_id: str) -> Obj:
        return self._by_id[str(object_id)]

    def names(self) -> tuple[str, ...]:
        return tuple(sorted({o.name for o in self._objects}))

    def find(self, name: str | None = None, **attributes: str) -> tuple[Obj, ...]:
        wanted = None if name is None else " ".join(str(name).lower().split())
        out = []
        for o in self._objects:
            if wanted is not None and o.name != wanted:
                continue
            if all(o.attribute(kind) == value or (kind == "any" and o.has(value))
                   for kind, value in attributes.items()):
                out.append(o)
        return tuple(out)

    def related(self, obj: Obj, predicate: str) -> tuple[Obj, ...]:
        pred = " ".join(str(predicate).lower().split())
        return tuple(r.object for r in self._relations
                     if r.subject is obj and r.predicate == pred)

    def predicates(self, a: Obj, b: Obj) -> tuple[str, ...]:
        return tuple(r.predicate for r in self._relations if r.subject is a and r.object is b)

    # -- geometry: every rule lives in scenesynth.graph.geometry ---------------------------
    def _image_info(self) -> ImageInfo:
        if self._image is None:
            self._image = ImageInfo.model_construct(id=self._image_id, width=self._width,
                                                    height=self._height)
        return self._image

    def spatial(self, a: Obj, b: Obj, predicate: str) -> bool | None:
        if canonical_spatial(str(predicate)) is None:
            raise ValueError(f"not a spatial predicate: {predicate!r}")
        return spatial_relation(a.model(), b.model(), str(predicate), self._image_info(),
                                self._camera)

    def left_of(self, a: Obj, b: Obj) -> bool | None:
        return self.spatial(a, b, "left of")

    def right_of(self, a: Obj, b: Obj) -> bool | None:
        return self.spatial(a, b, "right of")

    def direction(self, a: Obj, b: Obj) -> tuple[str, ...]:
        return tuple(p for p in DIRECTIONAL if self.spatial(a, b, p) is True)

    def distance(self, a: Obj, b: Obj) -> float | None:
        if a.position is not None and b.position is not None:
            return math.dist(a.position, b.position)
        ca, cb = a.center, b.center
        if ca is None or cb is None:
            return None
        return math.dist(ca, cb)

    def overlap(self, a: Obj, b: Obj) -> float | None:
        ma, mb = a.model(), b.model()
        if ma.box is None or mb.box is None:
            return None
        return iou(ma.box, mb.box)

    def __repr__(self) -> str:
        return f"Scene({self._image_id!r}, {len(self._objects)} objects)"
