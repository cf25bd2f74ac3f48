"""The scene graph hub: typed model, the one box convention, geometry and serialisation.

See :mod:`scenesynth.graph.model` for the conventions (boxes, masks, depth, 3D frame).
"""

from scenesynth.graph.box import Box
from scenesynth.graph.geometry import (
    DEFAULT_RULES,
    INVERSE,
    SPATIAL_PREDICATES,
    SpatialRules,
    canonical_spatial,
    center_distance,
    containment,
    derive_relations,
    intersection_area,
    iou,
    spatial_relation,
)
from scenesynth.graph.io import (
    dump_json_schema,
    graph_from_json,
    graph_to_json,
    scene_graph_json_schema,
    write_graphs_jsonl,
)
from scenesynth.graph.model import (
    SCHEMA_VERSION,
    Attribute,
    Camera,
    FieldProvenance,
    GraphIndex,
    ImageInfo,
    Mask,
    Relation,
    RelationCategory,
    RelationSource,
    SceneGraph,
    SceneObject,
    Vec3,
)
from scenesynth.graph.sample import (
    AnswerForm,
    InstructionSample,
    ProgramStep,
    Provenance,
    ProvenanceView,
    SampleView,
)
from scenesynth.graph.vocab import AttributeKind, canonical_value, infer_kind

__all__ = [
    "DEFAULT_RULES",
    "INVERSE",
    "SCHEMA_VERSION",
    "SPATIAL_PREDICATES",
    "AnswerForm",
    "Attribute",
    "AttributeKind",
    "Box",
    "Camera",
    "FieldProvenance",
    "GraphIndex",
    "ImageInfo",
    "InstructionSample",
    "Mask",
    "ProgramStep",
    "Provenance",
    "ProvenanceView",
    "Relation",
    "RelationCategory",
    "RelationSource",
    "SampleView",
    "SceneGraph",
    "SceneObject",
    "SpatialRules",
    "Vec3",
    "canonical_spatial",
    "canonical_value",
    "center_distance",
    "containment",
    "derive_relations",
    "dump_json_schema",
    "graph_from_json",
    "graph_to_json",
    "infer_kind",
    "intersection_area",
    "iou",
    "scene_graph_json_schema",
    "spatial_relation",
    "write_graphs_jsonl",
]
