"""Is what the model proposed a plausible object of a plausible size? (answers of small models)

Each rule returns the reason it fails (a short snake_case word, counted in the run's
statistics) or repairs the value from the knowledge base:

* a name must name a physical object: not an id (``o2``, ``obj3``), not light, weather, sky or
  the floor itself, at most four words of letters;
* plural names of known objects become the known singular (``clouds`` -> ``cloud``);
* sizes must lie within a factor ``SIZE_TOLERANCE`` of the knowledge base's size for the
  name, or, for a name the knowledge base does not know, within the range its objects of
  the same form span (no 60 m people, no 12 m ovens);
* a known object keeps the knowledge base's form and placement (a sofa is not drawn round)
  unless the caller trusts the model's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from scenesynth.knowledge.kb import KnowledgeBase

SIZE_TOLERANCE = 4.0  # a proposal may be 4x smaller or larger than the KB's size

# what a model writes as an "object" that is not one: light, weather, the backdrop itself
NOT_OBJECTS = frozenset({
    "light", "lights", "sunlight", "sunshine", "daylight", "moonlight", "lighting", "sunbeam",
    "shadow", "shadows", "shade", "reflection", "weather", "rain", "fog", "mist", "haze",
    "wind", "breeze", "air", "sky", "atmosphere", "darkness", "dark", "background",
    "foreground", "scene", "floor", "ground", "ceiling", "view", "noise", "sound", "smell",
    "heat", "temperature", "horizon", "space", "area", "room", "environment", "ambience",
    # places and directions, not things
    "surface", "side", "corner", "top", "bottom", "front", "back", "left", "right", "center",
    "middle", "distance",
})
# words that make a compound name light or weather too ("bright sunlight", "clouds and rain");
# "light" itself is not here: "traffic light" and "street light" are objects
NOT_OBJECT_HEADS = frozenset({
    "sunlight", "sunshine", "daylight", "moonlight", "lighting", "sunbeam", "weather", "rain",
    "fog", "mist", "haze", "wind", "breeze", "atmosphere", "darkness", "shadow", "shadows",
    "reflection",
})
_ID_LIKE = re.compile(r"^(?:[a-z]{0,3}[_\- ]?\d+|(?:object|obj|item|id|entity)[_\- ]?\d*)$")
_NOUN = re.compile(r"^[a-z][a-z' \-]*$")


def normalize_name(raw: str) -> str:
    return " ".join(raw.lower().split())


def name_problem(name: str, kb: KnowledgeBase | None = None) -> str | None:
    """Why ``name`` (normalized) is not an object name, or None (a known object is one)."""
    if not name:
        return "empty_name"
    if kb is not None and name in kb.objects:
        return None
    if _ID_LIKE.match(name):
        return "name_is_id"
    if name in NOT_OBJECTS or name.split()[-1] in NOT_OBJECT_HEADS:
        return "not_physical"
    if not _NOUN.match(name) or len(name.split()) > 4 or len(name) > 40:
        return "name_not_a_noun"
    return None


def known_singular(name: str, kb: KnowledgeBase | None) -> str:
    """``name``, or its singular when that is a known object and ``name`` is not."""
    if kb is None or name in kb.objects:
        return name
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if name.endswith(suffix):
            candidate = name[: -len(suffix)] + replacement
            if candidate in kb.objects:
                return candidate
    return name


@dataclass(frozen=True)
class FormRange:
    low: tuple[float, float, float]
    high: tuple[float, float, float]


def form_ranges(kb: KnowledgeBase) -> dict[str, FormRange]:
    """Per form, the smallest and largest size of each dimension among the KB's objects,
    widened by ``SIZE_TOLERANCE``: the plausible range of an unknown object of that form."""
    sizes: dict[str, list[tuple[float, float, float]]] = {}
    for spec in kb.objects.values():
        sizes.setdefault(spec.form, []).append(spec.size)
    ranges: dict[str, FormRange] = {}
    for form, values in sizes.items():
        low = tuple(min(v[i] for v in values) / SIZE_TOLERANCE for i in range(3))
        high = tuple(max(v[i] for v in values) * SIZE_TOLERANCE for i in range(3))
        ranges[form] = FormRange(low, high)  # type: ignore[arg-type]
    return ranges


def size_problem(size: Sequence[float], reference_low: Sequence[float],
                 reference_high: Sequence[float]) -> str | None:
    for dim, value, lo, hi in zip("whd", size, reference_low, reference_high, strict=True):
        if not lo <= value <= hi:
            return f"{dim} {value:g} m outside {lo:.3g}..{hi:.3g} m"
    return None


def known_size_problem(size: Sequence[float], known: Sequence[float]) -> str | None:
    return size_problem(size, [k / SIZE_TOLERANCE for k in known],
                        [k * SIZE_TOLERANCE for k in known])


def clean_scene_names(raw: Sequence[str], examples: Sequence[str]) -> tuple[list[str], list[
        tuple[str, str]]]:
    """Distinct scene names without ids, non-nouns and the prompt's own examples; returns
    (names, [(reason, name) dropped])."""
    names: list[str] = []
    dropped: list[tuple[str, str]] = []
    for value in raw:
        name = normalize_name(value)
        if not name or name in names:
            continue
        if name in examples:
            dropped.append(("scene_prompt_example", name))
            continue
        if _ID_LIKE.match(name) or not _NOUN.match(name) or len(name.split()) > 5:
            dropped.append(("scene_name_invalid", name))
            continue
        names.append(name)
    return sorted(names), dropped
