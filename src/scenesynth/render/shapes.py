"""Per-form silhouettes for the CPU renderer, drawn in an object's own box.

Each form is drawn into a local RGB image and a local mask of exactly the object's pixel box;
every drawing reaches all four edges of that box (head at the top, feet/wheels/legs at the
bottom, arms/tail/bumpers at the sides), so the bounding box of an unoccluded mask equals the
layout box. Colours: the object's colour for its main part; materials add cheap textures.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PIL import Image, ImageDraw

from scenesynth.render.palette import RGB, mix, shade

SKIN_TONES: tuple[RGB, ...] = (
    (241, 194, 160), (224, 172, 125), (198, 134, 92), (141, 85, 56), (92, 60, 40),
)


class Painter:
    """Draws each silhouette primitive on both the colour image and the mask."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.image = Image.new("RGB", (w, h))
        self.mask = Image.new("L", (w, h), 0)
        self.rgb = ImageDraw.Draw(self.image)
        self.alpha = ImageDraw.Draw(self.mask)

    # coordinates are fractions of the box; Pillow's boxes include both end pixels
    def _xy(self, fx0: float, fy0: float, fx1: float, fy1: float) -> list[float]:
        mw, mh = self.w - 1, self.h - 1
        return [round(fx0 * mw), round(fy0 * mh), round(fx1 * mw), round(fy1 * mh)]

    def _pts(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        mw, mh = self.w - 1, self.h - 1
        return [(round(x * mw), round(y * mh)) for x, y in pts]

    def rect(self, fx0: float, fy0: float, fx1: float, fy1: float, fill: RGB,
             outline: RGB | None = None) -> None:
        xy = self._xy(fx0, fy0, fx1, fy1)
        self.rgb.rectangle(xy, fill=fill, outline=outline)
        self.alpha.rectangle(xy, fill=255)

    def rounded(self, fx0: float, fy0: float, fx1: float, fy1: float, radius: float,
                fill: RGB, outline: RGB | None = None) -> None:
        xy = self._xy(fx0, fy0, fx1, fy1)
        r = max(0, int(radius * min(xy[2] - xy[0], xy[3] - xy[1])))
        self.rgb.rounded_rectangle(xy, radius=r, fill=fill, outline=outline)
        self.alpha.rounded_rectangle(xy, radius=r, fill=255)

    def ellipse(self, fx0: float, fy0: float, fx1: float, fy1: float, fill: RGB,
                outline: RGB | None = None) -> None:
        xy = self._xy(fx0, fy0, fx1, fy1)
        self.rgb.ellipse(xy, fill=fill, outline=outline)
        self.alpha.ellipse(xy, fill=255)

    def poly(self, pts: list[tuple[float, float]], fill: RGB, outline: RGB | None = None) -> None:
        xy = self._pts(pts)
        self.rgb.polygon(xy, fill=fill, outline=outline)
        self.alpha.polygon(xy, fill=255)

    # decoration: colour only, inside an already drawn silhouette
    def deco_rect(self, fx0: float, fy0: float, fx1: float, fy1: float, fill: RGB) -> None:
        self.rgb.rectangle(self._xy(fx0, fy0, fx1, fy1), fill=fill)

    def deco_ellipse(self, fx0: float, fy0: float, fx1: float, fy1: float, fill: RGB) -> None:
        self.rgb.ellipse(self._xy(fx0, fy0, fx1, fy1), fill=fill)

    def deco_poly(self, pts: list[tuple[float, float]], fill: RGB) -> None:
        self.rgb.polygon(self._pts(pts), fill=fill)


def _box(p: Painter, c: RGB, rng: random.Random) -> None:
    edge = shade(c, 0.6)
    p.rect(0, 0, 1, 1, c, edge)
    p.deco_poly([(0.02, 0.02), (0.98, 0.02), (0.9, 0.16), (0.02, 0.16)], shade(c, 1.18))
    p.deco_rect(0.86, 0.16, 0.98, 0.98, shade(c, 0.8))


def _round(p: Painter, c: RGB, rng: random.Random) -> None:
    p.ellipse(0, 0, 1, 1, c, shade(c, 0.6))
    p.deco_ellipse(0.22, 0.16, 0.45, 0.36, shade(c, 1.35))


def _tall(p: Painter, c: RGB, rng: random.Random) -> None:
    edge = shade(c, 0.6)
    p.rect(0.3, 0, 0.7, 0.14, shade(c, 0.75), edge)
    p.rounded(0, 0.1, 1, 1, 0.25, c, edge)
    p.deco_rect(0.12, 0.2, 0.22, 0.9, shade(c, 1.25))


def _flat(p: Painter, c: RGB, rng: random.Random) -> None:
    edge = shade(c, 0.6)
    if p.h < 0.45 * p.w:  # a board, rug or book: a slab seen slightly from above
        p.poly([(0.1, 0), (1, 0), (0.9, 1), (0, 1)], c, edge)
        p.deco_poly([(0.03, 0.7), (0.93, 0.7), (0.9, 0.98), (0.01, 0.98)], shade(c, 0.8))
        return
    # a table/desk: top slab and legs
    p.rect(0.03, 0.16, 0.13, 1, shade(c, 0.7))
    p.rect(0.87, 0.16, 0.97, 1, shade(c, 0.7))
    p.rect(0.2, 0.16, 0.27, 0.85, shade(c, 0.5))
    p.rect(0.73, 0.16, 0.8, 0.85, shade(c, 0.5))
    p.rect(0, 0, 1, 0.2, c, edge)
    p.deco_rect(0.01, 0.01, 0.99, 0.07, shade(c, 1.2))


def _long(p: Painter, c: RGB, rng: random.Random) -> None:
    edge = shade(c, 0.6)
    if p.h > p.w:  # a pole
        p.rounded(0, 0, 1, 1, 0.5, c, edge)
        return
    # a bench/sofa/log: seat with a back rest and short legs
    p.rect(0.04, 0.6, 0.12, 1, shade(c, 0.55))
    p.rect(0.88, 0.6, 0.96, 1, shade(c, 0.55))
    p.rounded(0, 0, 1, 0.72, 0.3, c, edge)
    p.deco_rect(0.04, 0.42, 0.96, 0.5, shade(c, 0.8))


def _person(p: Painter, c: RGB, rng: random.Random) -> None:
    skin = rng.choice(SKIN_TONES)
    hair = rng.choice([(30, 25, 20), (90, 60, 30), (200, 170, 90), (120, 120, 120)])
    legs = rng.choice([(40, 50, 90), (30, 30, 35), (110, 90, 70), shade(c, 0.55)])
    p.rect(0.2, 0.55, 0.47, 1, legs)  # legs
    p.rect(0.53, 0.55, 0.8, 1, legs)
    p.rounded(0, 0.19, 0.17, 0.58, 0.45, skin)  # arms
    p.rounded(0.83, 0.19, 1, 0.58, 0.45, skin)
    p.rounded(0.12, 0.17, 0.88, 0.6, 0.25, c, shade(c, 0.6))  # torso (the colour)
    p.ellipse(0.3, 0, 0.7, 0.19, skin)  # head
    p.deco_ellipse(0.3, 0, 0.7, 0.08, hair)


def _animal(p: Painter, c: RGB, rng: random.Random) -> None:
    dark = shade(c, 0.65)
    for x in (0.16, 0.3, 0.58, 0.72):
        p.rect(x, 0.5, x + 0.09, 1, dark)  # legs
    p.poly([(0, 0.12), (0.06, 0.1), (0.2, 0.35), (0.14, 0.42)], dark)  # tail
    p.ellipse(0.1, 0.18, 0.86, 0.66, c, dark)  # body
    p.ellipse(0.7, 0.0, 1, 0.4, c, dark)  # head
    p.deco_ellipse(0.86, 0.12, 0.91, 0.18, (20, 20, 20))  # eye
    p.deco_poly([(0.72, 0.02), (0.78, 0.0), (0.8, 0.12)], dark)  # ear


def _plant(p: Painter, c: RGB, rng: random.Random) -> None:
    pot = (170, 90, 55)
    p.poly([(0.26, 0.64), (0.74, 0.64), (0.66, 1), (0.34, 1)], pot, shade(pot, 0.7))
    leaf = c
    p.ellipse(0, 0.2, 0.52, 0.62, shade(leaf, 0.8))
    p.ellipse(0.48, 0.16, 1, 0.58, shade(leaf, 0.9))
    p.ellipse(0.14, 0, 0.86, 0.7, leaf, shade(leaf, 0.6))
    p.deco_ellipse(0.35, 0.12, 0.5, 0.3, shade(leaf, 1.25))


def _tree(p: Painter, c: RGB, rng: random.Random) -> None:
    """A plant growing from the ground (tree, bush): trunk instead of a pot."""
    bark = (110, 75, 45)
    p.rect(0.42, 0.55, 0.58, 1, bark, shade(bark, 0.7))
    p.ellipse(0, 0.22, 0.55, 0.68, shade(c, 0.8))
    p.ellipse(0.45, 0.18, 1, 0.64, shade(c, 0.9))
    p.ellipse(0.12, 0, 0.88, 0.62, c, shade(c, 0.6))
    p.deco_ellipse(0.32, 0.1, 0.48, 0.26, shade(c, 1.25))


def _vehicle(p: Painter, c: RGB, rng: random.Random) -> None:
    edge = shade(c, 0.6)
    glass = (170, 205, 230)
    p.poly([(0.2, 0.36), (0.32, 0), (0.7, 0), (0.84, 0.36)], c, edge)  # cabin
    p.deco_poly([(0.27, 0.33), (0.35, 0.06), (0.49, 0.06), (0.49, 0.33)], glass)
    p.deco_poly([(0.53, 0.33), (0.53, 0.06), (0.67, 0.06), (0.78, 0.33)], glass)
    p.rounded(0, 0.33, 1, 0.84, 0.3, c, edge)  # body
    p.deco_rect(0.02, 0.55, 0.98, 0.6, shade(c, 0.75))
    tyre, hub = (25, 25, 25), (170, 170, 170)
    for x0 in (0.1, 0.66):
        p.ellipse(x0, 0.64, x0 + 0.24, 1, tyre)
        p.deco_ellipse(x0 + 0.07, 0.75, x0 + 0.17, 0.89, hub)
    p.deco_ellipse(0.92, 0.42, 0.99, 0.5, (250, 240, 180))  # headlight


def _container(p: Painter, c: RGB, rng: random.Random) -> None:
    edge = shade(c, 0.6)
    p.poly([(0, 0.12), (1, 0.12), (0.84, 1), (0.16, 1)], c, edge)
    p.ellipse(0, 0, 1, 0.24, shade(c, 1.15), edge)
    p.deco_ellipse(0.1, 0.04, 0.9, 0.2, shade(c, 0.55))  # the opening


DRAW: dict[str, Callable[[Painter, RGB, random.Random], None]] = {
    "box": _box, "round": _round, "tall": _tall, "flat": _flat, "long": _long,
    "person": _person, "animal": _animal, "plant": _plant, "vehicle": _vehicle,
    "container": _container,
}

# (form, placement) pairs drawn differently from the form's default
VARIANTS: dict[tuple[str, str], Callable[[Painter, RGB, random.Random], None]] = {
    ("plant", "ground"): _tree,
}


def drawing_for(form: str, placement: str | None) -> Callable[[Painter, RGB, random.Random], None]:
    """The drawing function for an object's form (and placement, for variants)."""
    return VARIANTS.get((form, placement or ""), DRAW.get(form, DRAW["box"]))


# forms drawn facing a random side (mirrored) for variety
MIRRORABLE = frozenset({"animal", "vehicle"})

METAL = frozenset({"metal", "steel", "iron", "aluminum"})
WOOD = frozenset({"wood", "wicker", "straw"})
GLASS = frozenset({"glass"})
GLOSSY = frozenset({"plastic", "ceramic", "porcelain", "rubber"})
FABRIC = frozenset({"fabric", "cloth", "cotton", "wool", "denim", "leather", "silk"})
STONE = frozenset({"stone", "concrete", "brick", "marble", "granite", "rock", "tile", "clay"})
PAPER = frozenset({"paper", "cardboard"})


def apply_material(p: Painter, material: str | None, c: RGB, rng: random.Random) -> None:
    """Cheap texture/sheen inside the silhouette (clipped by the mask when composited)."""
    if material is None:
        return
    w, h = p.w, p.h
    draw = p.rgb
    if material in WOOD:
        grain = shade(c, 0.78)
        step = max(3, h // 9)
        for y in range(rng.randrange(1, step + 1), h, step):
            draw.line([(0, y), (w, y + rng.randint(-1, 1))], fill=grain, width=1)
    elif material in METAL:
        band = max(1, w // 8)
        x = int(w * 0.25)
        draw.rectangle([x, 0, x + band, h], fill=shade(c, 1.45))
        draw.rectangle([x + band + 1, 0, x + band + max(1, band // 2), h], fill=shade(c, 1.2))
    elif material in GLASS:
        draw.line([(int(w * 0.2), int(h * 0.85)), (int(w * 0.5), int(h * 0.15))],
                  fill=mix(c, (255, 255, 255), 0.7), width=max(1, w // 14))
    elif material in GLOSSY:
        draw.ellipse([int(w * 0.6), int(h * 0.2), int(w * 0.72), int(h * 0.3)],
                     fill=mix(c, (255, 255, 255), 0.75))
    elif material in FABRIC:
        dot = shade(c, 0.8)
        step = max(3, min(w, h) // 8)
        for y in range(1, h, step):
            for x in range((y // step) % 2 * (step // 2), w, step):
                draw.point((x, y), fill=dot)
    elif material in STONE:
        line = shade(c, 0.7)
        step = max(4, h // 6)
        for row, y in enumerate(range(0, h, step)):
            draw.line([(0, y), (w, y)], fill=line)
            offset = (row % 2) * step
            for x in range(offset, w, 2 * step):
                draw.line([(x, y), (x, y + step)], fill=line)
    elif material in PAPER:
        line = shade(c, 0.85)
        for y in range(h // 4, h, max(3, h // 6)):
            draw.line([(int(w * 0.15), y), (int(w * 0.85), y)], fill=line)
