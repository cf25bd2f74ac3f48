"""What the model is asked for: the answer models, their JSON schemas and the prompts.

The schemas bound the answer to the request: a scene graph of ``k`` objects allows exactly
``k`` objects, at most ``2k`` relations and at most 5 absent objects, so that a constrained
server cannot loop on the object list, and ``max_tokens`` is scaled to ``k``
(:func:`graph_max_tokens`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scenesynth.knowledge.consistency import KG_PREDICATES
from scenesynth.knowledge.kb import FORMS, PLACEMENTS

# the scene names the scene-list prompt shows as examples; a list that only repeats them was
# not thought up, so they are dropped from the answer (and counted)
PROMPT_EXAMPLE_SCENES: tuple[str, ...] = ("kitchen", "city street", "beach")
MAX_ABSENT = 5


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
        if any(not x > 0 for x in v):
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


def scenes_schema(count: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"scenes": {"type": "array", "items": {"type": "string", "maxLength": 40},
                                  "minItems": min(count, 5), "maxItems": count}},
        "required": ["scenes"],
        "additionalProperties": False,
    }


def scene_graph_schema(k: int) -> dict[str, Any]:
    """The scene-graph answer for exactly ``k`` objects."""
    return {
        "type": "object",
        "properties": {
            "scene": {"type": "string", "maxLength": 60},
            "objects": {
                "type": "array",
                "minItems": k,
                "maxItems": k,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "maxLength": 8},
                        "name": {"type": "string", "maxLength": 40},
                        "colors": {"type": "array", "items": {"type": "string", "maxLength": 20},
                                   "minItems": 1, "maxItems": 3},
                        "materials": {"type": "array", "maxItems": 3,
                                      "items": {"type": "string", "maxLength": 20}},
                        "states": {"type": "array", "maxItems": 3,
                                   "items": {"type": "string", "maxLength": 20}},
                        "size_m": {
                            "type": "array",
                            "items": {"type": "number"},
                            "minItems": 3,
                            "maxItems": 3,
                        },
                        "form": {"type": "string", "enum": list(FORMS)},
                        "placement": {"type": "string", "enum": list(PLACEMENTS)},
                    },
                    "required": ["id", "name", "colors", "materials", "states", "size_m",
                                 "form", "placement"],
                    "additionalProperties": False,
                },
            },
            "relations": {
                "type": "array",
                "maxItems": 2 * k,
                "items": {
                    "type": "object",
                    "properties": {
                        "subject": {"type": "string", "maxLength": 40},
                        "predicate": {"type": "string", "enum": list(KG_PREDICATES)},
                        "object": {"type": "string", "maxLength": 40},
                    },
                    "required": ["subject", "predicate", "object"],
                    "additionalProperties": False,
                },
            },
            "absent_objects": {"type": "array", "maxItems": MAX_ABSENT,
                               "items": {"type": "string", "maxLength": 40}},
        },
        "required": ["scene", "objects", "relations", "absent_objects"],
        "additionalProperties": False,
    }


def scenes_max_tokens(count: int) -> int:
    """Room for ``count`` short scene names (about 8 tokens each) with a margin."""
    return 48 + 12 * count


def graph_max_tokens(k: int) -> int:
    """Room for ``k`` objects (~60 tokens each), ``2k`` relations (~20) and the absent list,
    with a margin: 8 objects get 1,664 tokens, not an open-ended loop."""
    return 128 + 192 * k


_SYSTEM = (
    "You design small, physically plausible scenes for a synthetic image dataset. "
    "Answer with one JSON object only, no prose."
)


def scenes_messages(count: int) -> list[dict[str, Any]]:
    examples = ", ".join(f'"{s}"' for s in PROMPT_EXAMPLE_SCENES)
    return [
        {"role": "system", "content": _SYSTEM},
        {
            "role": "user",
            "content": (
                f"List {count} distinct everyday scenes, indoor and outdoor (for example "
                f"{examples}), as lowercase names. "
                'Answer as {"scenes": ["...", ...]}.'
            ),
        },
    ]


def scene_graph_messages(scene: str, n_objects: int, variation: int) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": _SYSTEM},
        {
            "role": "user",
            "content": (
                f"Scene: {scene}. Variation #{variation}.\n"
                f"Propose exactly {n_objects} objects plausible in a photo of this scene, with "
                "ids o0, o1, ... . For each: name (lowercase singular noun of a physical "
                "object, never an id, light or weather), colors (simple color words, the first "
                "is the object's color), materials, states (such as open, closed, parked, "
                "sitting; may be empty), size_m = [width, height, depth] in metres (real-world "
                f"size: a person is about 1.7 m tall), form (one of {', '.join(FORMS)}) and "
                f"placement (one of {', '.join(PLACEMENTS)}). Two objects with the same name "
                "need different colors.\n"
                "Then give spatial relations between the objects by id as "
                '{"subject", "predicate", "object"} with predicate one of: '
                f"{', '.join(KG_PREDICATES)}. They must be consistent: no cycles (a left of b, "
                "b left of c, c left of a), no opposites, 'on top of' only where one object "
                "can physically rest on the other.\n"
                f"Finally list absent_objects: 3 to {MAX_ABSENT} names of objects plausible in "
                "this scene that are NOT among your objects (names, not ids).\n"
                'Answer as {"scene": ..., "objects": [...], "relations": [...], '
                '"absent_objects": [...]}.'
            ),
        },
    ]
