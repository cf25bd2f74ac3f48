"""The typed scene graph: the hub every stage reads and writes.

Conventions (documented here once; everything inside the package follows them):

* **Boxes**: :class:`~scenesynth.graph.box.Box`, pixels, ``x0 y0 x1 y1``, origin top-left,
  y down. Other box formats are converted only in loaders and exporters.
* **Masks**: COCO run-length encoding (:class:`Mask`), column-major as pycocotools defines it,
  ``size = [height, width]``.
* **Depth**: ``SceneObject.depth`` is the distance from the camera in scene units (metres for
  synthesized and simulated scenes, relative units for estimated depth); *larger is farther*.
  ``ImageInfo.depth_map`` optionally references a per-pixel map with the same convention.
* **3D**: ``SceneObject.position`` / ``size3d`` are in the scene's world frame. The camera's
  view directions in that frame are given by ``Camera.directions`` (unit vectors for ``left``,
  ``right``, ``front``, ``behind``, ``above``, ``below``); CLEVR stores exactly this. When a graph
  has no camera, the default camera frame applies: x to the right, y up, z away from the
  camera (so ``behind`` is +z and larger z is farther).
* **Provenance**: ``SceneObject.provenance`` maps a field name (``name``, ``box``, ``mask``,
  ``depth``, ``attributes``) to the :class:`FieldProvenance` of its value (which model wrote
  it, with what score) when a model, not a person, produced it; absent for human annotations
  (schema 1.1).
* **Relations** point from ``subject`` to ``object``: ``(cup, on, table)`` means the cup is on
  the table; ``(a, left of, b)`` means a is to the left of b.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scenesynth.graph.box import Box
from scenesynth.graph.vocab import AttributeKind, canonical_value, infer_kind

SCHEMA_VERSION = "1.1"  # 1.1: SceneObject.provenance


class RelationCategory(StrEnum):
    SPATIAL = "spatial"
    INTERACTIONAL = "interactional"
    FUNCTIONAL = "functional"
    SOCIAL = "social"
    EMOTIONAL = "emotional"
    OTHER = "other"


class RelationSource(StrEnum):
    ANNOTATED = "annotated"  # written by a human annotator (VG, GQA, PSG) or a simulator
    DERIVED = "derived"  # computed from geometry by scenesynth
    MODEL = "model"  # proposed by a model (detector, teacher LLM/VLM)


class Vec3(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    x: float
    y: float
    z: float

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.z)


class Mask(BaseModel):
    """COCO RLE mask. ``counts`` is the compressed string or the uncompressed list of runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    size: tuple[int, int]  # (height, width)
    counts: str | list[int]


class FieldProvenance(BaseModel):
    """Who produced a field's value: the model (hub id, local path or ``replay:...``) and its
    score for this value (detector confidence, mean mask score...; None when it gives none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    model: str
    score: float | None = None


class Attribute(BaseModel):
    """An attribute value with its kind. A bare string is accepted and its kind inferred."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: str
    kind: AttributeKind = AttributeKind.OTHER

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"value": canonical_value(data), "kind": infer_kind(data)}
        return data

    @field_validator("value")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        v = canonical_value(v)
        if not v:
            raise ValueError("attribute value is empty")
        return v


class SceneObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    synonyms: list[str] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    box: Box | None = None
    mask: Mask | None = None
    depth: float | None = None  # distance from camera, larger = farther
    position: Vec3 | None = None  # world frame, see module docstring
    size3d: Vec3 | None = None
    # True when the source asserts this is a separate instance even if its box nearly
    # coincides with another one's (counting otherwise treats near-duplicate boxes as one).
    distinct: bool = False
    # field name -> which model produced that field's value (absent: human-annotated)
    provenance: dict[str, FieldProvenance] | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", "name")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must be a non-empty string")
        return v

    @field_validator("name")
    @classmethod
    def _lower(cls, v: str) -> str:
        return " ".join(v.lower().split())

    def attribute_values(self, kind: AttributeKind | None = None) -> list[str]:
        return [a.value for a in self.attributes if kind is None or a.kind == kind]

    def has_attribute(self, value: str) -> bool:
        v = canonical_value(value)
        return any(a.value == v for a in self.attributes)


class Relation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str
    predicate: str
    object: str
    category: RelationCategory = RelationCategory.OTHER
    source: RelationSource = RelationSource.ANNOTATED
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("predicate")
    @classmethod
    def _predicate(cls, v: str) -> str:
        v = " ".join(v.lower().split())
        if not v:
            raise ValueError("predicate is empty")
        return v

    def triplet(self) -> tuple[str, str, str]:
        return (self.subject, self.predicate, self.object)


class ImageInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    path: str | None = None
    url: str | None = None
    source: str = "unknown"  # dataset or generator the image comes from
    license: str | None = None
    depth_map: str | None = None  # path to a per-pixel depth map (same convention as depth)


class Camera(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directions: dict[str, Vec3] = Field(default_factory=dict)


class SceneGraph(BaseModel):
    """One image's scene. Multi-image collections are plain sequences of these."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = SCHEMA_VERSION
    image: ImageInfo
    objects: list[SceneObject] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    camera: Camera | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SceneGraph:
        ids: set[str] = set()
        for i, obj in enumerate(self.objects):
            if obj.id in ids:
                raise ValueError(f"objects[{i}].id: duplicate object id {obj.id!r}")
            ids.add(obj.id)
            if obj.box is not None and not obj.box.inside_image(
                self.image.width, self.image.height, tolerance=0.5
            ):
                raise ValueError(
                    f"objects[{i}].box: box {obj.box} of object {obj.id!r} lies outside the "
                    f"{self.image.width}x{self.image.height} image"
                )
        for i, rel in enumerate(self.relations):
            for role in ("subject", "object"):
                ref = getattr(rel, role)
                if ref not in ids:
                    raise ValueError(
                        f"relations[{i}].{role}: relation ({rel.subject}, {rel.predicate}, "
                        f"{rel.object}) refers to missing object {ref!r}"
                    )
        return self

    # -- convenience lookups (cheap; generators build a GraphIndex for hot loops) ---------
    def object(self, object_id: str) -> SceneObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"image {self.image.id}: no object {object_id!r}")

    def names(self) -> set[str]:
        return {o.name for o in self.objects}


class GraphIndex:
    """Read-only lookups over a graph, built once per graph for fast generators."""

    __slots__ = ("by_id", "by_name", "graph", "incoming", "outgoing")

    def __init__(self, graph: SceneGraph) -> None:
        self.graph = graph
        self.by_id: dict[str, SceneObject] = {o.id: o for o in graph.objects}
        self.by_name: dict[str, list[SceneObject]] = {}
        for o in graph.objects:
            self.by_name.setdefault(o.name, []).append(o)
        self.outgoing: dict[str, list[Relation]] = {}
        self.incoming: dict[str, list[Relation]] = {}
        for r in graph.relations:
            self.outgoing.setdefault(r.subject, []).append(r)
            self.incoming.setdefault(r.object, []).append(r)
