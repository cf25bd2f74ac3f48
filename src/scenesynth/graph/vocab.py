"""Attribute kinds and the small vocabulary used to infer a kind from a bare attribute value.

Datasets such as Visual Genome and GQA store attributes as bare strings ("white", "wooden"). The
generators ask typed questions ("what color is ..."), so each attribute carries a kind. Loaders
that know the kind (CLEVR, the knowledge base) set it; otherwise it is inferred here, and values
that match no list keep the kind ``other`` (they are still usable as plain attributes).
"""

from __future__ import annotations

from enum import StrEnum


class AttributeKind(StrEnum):
    COLOR = "color"
    MATERIAL = "material"
    SHAPE = "shape"
    SIZE = "size"
    STATE = "state"
    OTHER = "other"


COLORS = frozenset(
    """
    red orange yellow green blue purple pink brown black white gray grey silver gold beige tan
    cyan teal navy maroon violet magenta turquoise khaki cream ivory olive lime
    """.split()
) | frozenset(
    {"dark blue", "light blue", "dark brown", "light brown", "dark green", "light green",
     "dark gray", "light gray", "blond", "blonde"}
)

MATERIALS = frozenset(
    """
    metal metallic rubber wood wooden plastic glass ceramic concrete stone brick leather cloth
    fabric paper cardboard steel iron aluminum porcelain marble cotton wool denim tile tiled
    granite silk straw wicker clay rock sand
    """.split()
)

SHAPES = frozenset(
    """
    cube sphere cylinder round square rectangular circular triangular oval cone curved
    """.split()
)

SIZES = frozenset(
    """
    small large big tiny huge little tall short long giant wide thin thick
    """.split()
)

STATES = frozenset(
    """
    open closed empty full on off sitting standing walking running lying parked moving
    wet dry clean dirty broken lit folded hanging sliced cooked raw ripe melted stacked
    """.split()
)

_BY_KIND: dict[AttributeKind, frozenset[str]] = {
    AttributeKind.COLOR: COLORS,
    AttributeKind.MATERIAL: MATERIALS,
    AttributeKind.SHAPE: SHAPES,
    AttributeKind.SIZE: SIZES,
    AttributeKind.STATE: STATES,
}

# Canonical spellings, so "grey" and "gray" are one answer.
_CANONICAL = {"grey": "gray", "metallic": "metal", "wooden": "wood", "blonde": "blond"}


def canonical_value(value: str) -> str:
    v = " ".join(value.strip().lower().split())
    return _CANONICAL.get(v, v)


def infer_kind(value: str) -> AttributeKind:
    v = canonical_value(value)
    for kind, words in _BY_KIND.items():
        if v in words:
            return kind
    return AttributeKind.OTHER


def vocabulary(kind: AttributeKind) -> frozenset[str]:
    """Known values of one kind (used e.g. to draw plausible distractors)."""
    return _BY_KIND.get(kind, frozenset())


# -- nouns ---------------------------------------------------------------------------------
# How object names behave in a sentence. A *mass* noun names stuff, not things: it is never
# counted or compared by number ("how many skies", "fewer people than sky") and takes no
# indefinite article ("is there gravel"). COCO panoptic marks stuff regions itself
# (``SceneObject.meta["isthing"] is False``); this list covers names from every source.
MASS_NOUNS = frozenset(
    """
    sky grass water gravel sand snow ice dirt mud soil ground carpeting pavement asphalt
    concrete smoke fog mist steam foliage hair fur paint sauce food bread rice pasta meat
    soup milk juice coffee tea wine beer firewood toothpaste hay straw wallpaper sea ocean
    dust rain sunlight padding
    """.split()
) | frozenset({"toilet paper", "paper towel"})
# Background regions: stuff or surfaces that span the picture behind and under the things in
# it. Their box centre is not where they are, so they are never a spatial anchor ("left of
# the sky", "below the wall"); COCO panoptic stuff regions (``isthing`` false) count too.
REGION_NOUNS = frozenset(
    """
    sky ground wall walls floor ceiling road street sidewalk pavement field grass water sea
    ocean lake river beach sand snow dirt mud gravel asphalt background fog mist
    """.split()
)


def is_region(name: str) -> bool:
    """Whether an object name names a background region (its head, the last word, is one of
    :data:`REGION_NOUNS`: "blue sky", "brick wall"; "wall clock" is a clock)."""
    return " ".join(name.lower().split()).rpartition(" ")[2] in REGION_NOUNS


# Names that are grammatically plural but name one thing ("a pair of scissors").
PLURAL_ONLY = frozenset(
    """
    scissors glasses sunglasses eyeglasses goggles jeans pants trousers shorts headphones
    earphones skis binoculars tongs pliers tweezers pajamas
    """.split()
)
_IRREGULAR_PLURALS = {
    "man": "men", "woman": "women", "person": "people", "child": "children",
    "foot": "feet", "tooth": "teeth", "mouse": "mice", "goose": "geese", "knife": "knives",
    "leaf": "leaves", "shelf": "shelves", "wolf": "wolves", "loaf": "loaves",
    "scarf": "scarves", "half": "halves", "sheep": "sheep", "deer": "deer", "fish": "fish",
    "people": "people", "clothes": "clothes", "cactus": "cacti",
}
# Words ending in "man" that are not compounds of "man" (their plural is regular).
_MAN_REGULAR = frozenset({"human", "german", "talisman", "caiman", "ottoman", "shaman",
                          "walkman", "doberman", "cayman"})
_PLURAL_FORMS = frozenset(_IRREGULAR_PLURALS.values()) | PLURAL_ONLY
# Name endings that look plural but are singular ("glass", "bus", "tennis", "lens").
_SINGULAR_S = ("ss", "us", "is", "ns")


def is_mass_noun(name: str) -> bool:
    """Whether an object name names stuff (its head, the last word, is a mass noun: "sky",
    "green grass"; "grass patch" is a patch, countable)."""
    n = " ".join(name.lower().split())
    if n in MASS_NOUNS:
        return True
    return n.rpartition(" ")[2] in MASS_NOUNS


def is_plural(name: str) -> bool:
    """Whether an object name is plural already ("shoes", "glasses", "people")."""
    last = name.rpartition(" ")[2]
    if last in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[last] == last
    if last in _PLURAL_FORMS:
        return True
    return last.endswith("s") and not last.endswith(_SINGULAR_S)


def plural(name: str) -> str:
    """English plural of a (possibly multi-word) name; the last word is inflected. Plural
    and mass names stay as they are ("shoes", "grass")."""
    head, _, last = name.rpartition(" ")
    if not last or is_plural(name) or is_mass_noun(name):
        return name
    if last in _IRREGULAR_PLURALS:
        word = _IRREGULAR_PLURALS[last]
    elif last.endswith("man") and last not in _MAN_REGULAR:
        word = last[:-3] + "men"  # snowman, fireman, policeman
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def indefinite(phrase: str) -> str:
    """The phrase with its indefinite article: "a cube", "an orange cube", "a pair of
    scissors", "gravel" (mass), "shoes" (plural)."""
    last = phrase.rpartition(" ")[2]
    if is_mass_noun(phrase):
        return phrase
    if last in PLURAL_ONLY:
        return "a pair of " + phrase
    if is_plural(phrase):
        return phrase
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def names_value(name: str, value: str) -> bool:
    """Whether an attribute value is already said by the object's name ("paper" of a "paper
    stack", "rock" of a "rock"): phrases leave it out ("the paper paper stack")."""
    return value == name or (" " in name and value in name.split(" "))
