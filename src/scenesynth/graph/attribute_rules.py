"""Which colour, material and name go together on one object: the one home of that rule.

A caption or an answer that says "a silver wooden ladder" or "a wooden glass" contradicts
itself, and a model trained on it learns nonsense. :func:`attribute_conflict` names the
contradiction (None when there is none); the knowledge sampler draws only compatible
attributes with it, and tests check sampled graphs against it.

The rule is deliberately about contradictions, not plausibility: painted wood can be any
colour, so wood is not tied to brown; but a metallic colour (silver, gold) is a finish that
only metal-like surfaces have, and a few materials have their own colours (sand, denim,
brick). A material word inside the name ("wine glass", "paper stack") fixes the material to
that word or a close kin (a plastic wine glass exists; a wooden one does not). States split
the same way: people and animals are never open or parked, things never walking
(:func:`state_conflict`). :func:`value_conflict` applies the rule to one attribute value, so a
question's wrong value ("Is the person open?") is never one the words alone rule out.
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


# People and animals, by the last word of a name ("young man", "brown dog").
LIVING: frozenset[str] = frozenset("""
    person man woman boy girl child kid baby people player skier surfer skateboarder rider
    lady guy men women children adult teenager cyclist biker pedestrian officer chef
    dog cat horse cow sheep bird elephant zebra giraffe bear duck goose pigeon seagull
    animal puppy kitten pony calf lamb deer goat pig chicken monkey
""".split())
# States no person or animal is in ("Is the person open?" is answered by the words alone).
THING_STATES: frozenset[str] = frozenset({
    "open", "closed", "empty", "full", "on", "off", "parked", "lit", "folded", "sliced",
    "cooked", "raw", "ripe", "melted", "stacked",
})
# States only a person or an animal is in (a cup is not walking).
LIVING_STATES: frozenset[str] = frozenset({"walking", "running", "sitting"})


def state_conflict(name: str, state: str) -> str | None:
    """Why an object called ``name`` can never be in ``state`` (None when it can)."""
    living = name.lower().rpartition(" ")[2] in LIVING
    if living and state in THING_STATES:
        return f"a {name} is never {state}"
    if not living and state in LIVING_STATES:
        return f"a {name} is never {state}: only people and animals are"
    return None


def value_conflict(name: str, kind: str, value: str, color: str | None = None,
                   material: str | None = None) -> str | None:
    """Why ``value`` of attribute ``kind`` can never describe an object called ``name`` whose
    colour and material are ``color`` and ``material`` (None when it can). A question offering
    such a value ("Is the wine glass made of wood?", "Is the man open?") is answered by its
    words, so generators draw wrong values only among those this allows."""
    if kind == "color":
        return attribute_conflict(name, value, material)
    if kind == "material":
        return attribute_conflict(name, color, value)
    if kind == "state":
        return state_conflict(name, value)
    return None
