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
