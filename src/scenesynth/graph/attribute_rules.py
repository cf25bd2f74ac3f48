"""Which colour, material and name go together on one object: the one home of that rule.

A caption or an answer that says "a silver wooden ladder" or "a wooden glass" contradicts
itself, and a model trained on it learns nonsense. :func:`attribute_conflict` names the
contradiction (None when there is none); the knowledge sampler draws only compatible
attributes with it, and tests check sampled graphs against it.

The rule is deliberately about contradictions, not plausibility: painted wood can be any
colour, so wood is not tied to brown; but a metallic colour (silver, gold) is a finish that
only metal-like surfaces have, and a few materials have their own colours (sand, denim,
brick). A material word inside the name ("wine glass", "paper stack") fixes the material to
that word or a close kin (a plastic wine glass exists; a wooden one does not).
"""

from __future__ import annotations

METALLIC_COLORS: frozenset[str] = frozenset({"silver", "gold"})
# Materials whose surface can look silver or gold (polished, plated, anodised or coated).
METALLIC_CAPABLE: frozenset[str] = frozenset({
    "metal", "metallic", "steel", "aluminum", "iron", "plastic", "glass", "ceramic",
    "porcelain", "leather", "rubber", "tile", "tiled", "silk", "fabric", "cloth",
})
# Materials that show their own colour; any colour outside the set contradicts them.
OWN_COLORS: dict[str, frozenset[str]] = {
    "sand": frozenset({"tan", "beige", "khaki", "cream", "light brown", "brown", "ivory",
                       "white", "gold"}),
    "denim": frozenset({"blue", "dark blue", "light blue", "navy", "black", "gray",
                        "dark gray", "light gray", "white"}),
    "brick": frozenset({"red", "brown", "dark brown", "maroon", "orange", "gray", "tan",
                        "beige", "white"}),
}
# A material word in an object's name, and the materials the object may then be made of.
NAME_MATERIALS: dict[str, frozenset[str]] = {
    "glass": frozenset({"glass", "plastic"}),
    "paper": frozenset({"paper", "cardboard"}),
    "brick": frozenset({"brick", "clay", "concrete"}),
    "stone": frozenset({"stone", "rock", "granite", "marble", "concrete"}),
    "wood": frozenset({"wood", "wooden"}),
    "wooden": frozenset({"wood", "wooden"}),
}


def attribute_conflict(name: str, color: str | None, material: str | None) -> str | None:
    """Why ``color`` and ``material`` cannot both describe an object called ``name``."""
    words = name.lower().split()
    if material is not None:
        for word in words:
            allowed = NAME_MATERIALS.get(word)
            if allowed is not None and material not in allowed:
                return f"a {name} cannot be made of {material}"
    if color is None or material is None:
        return None
    if color in METALLIC_COLORS and material not in METALLIC_CAPABLE:
        return f"{material} is not {color}: {color} is a metallic finish"
    own = OWN_COLORS.get(material)
    if own is not None and color not in own:
        return f"{material} is not {color}"
    return None


def compatible(name: str, color: str | None, material: str | None) -> bool:
    return attribute_conflict(name, color, material) is None
