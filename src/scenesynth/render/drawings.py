"""Furniture that no emoji shows, drawn in OpenMoji's style (flat fills, thick black outline).

Tables, desks, counters and shelves carry most of what rests on something in a scene (a cup on
a table), so they are drawn here rather than left out. Each drawing is a clear side view that
people name without hesitation, and only furniture whose drawing could not be taken for
another placed object is drawn (a coffee table would read as a table, so it is not placed).
The wood tone is the drawing's main fill, so :func:`scenesynth.render.sprites.tint` recolours
it to the object's colour like any emoji; darker parts are the same hue, so they follow.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageDraw

OUTLINE = (0, 0, 0, 255)
WOOD = (177, 121, 72, 255)  # main fill
WOOD_DARK = (133, 90, 53, 255)  # legs, sides, inner panels: same hue, darker
KNOB = (63, 63, 63, 255)
LINE = 7  # outline width at the master size

Painter = Callable[[ImageDraw.ImageDraw], None]


def _rect(d: ImageDraw.ImageDraw, box: tuple[float, float, float, float],
          fill: tuple[int, int, int, int]) -> None:
    d.rectangle(box, fill=fill, outline=OUTLINE, width=LINE)


def _table(d: ImageDraw.ImageDraw) -> None:  # 360 x 200
    _rect(d, (28, 30, 52, 199), WOOD_DARK)
    _rect(d, (308, 30, 332, 199), WOOD_DARK)
    _rect(d, (40, 30, 320, 58), WOOD)  # apron
    _rect(d, (0, 0, 359, 34), WOOD)


def _desk(d: ImageDraw.ImageDraw) -> None:  # 340 x 210
    _rect(d, (300, 30, 324, 209), WOOD_DARK)
    _rect(d, (14, 30, 150, 209), WOOD)  # drawer pedestal
    for y in (40, 97, 154):
        _rect(d, (26, y, 138, y + 48), WOOD_DARK)
        d.ellipse((72, y + 18, 92, y + 30), fill=KNOB)
    _rect(d, (150, 30, 300, 62), WOOD)  # drawer under the top
    _rect(d, (0, 0, 339, 34), WOOD)


def _counter(d: ImageDraw.ImageDraw) -> None:  # 400 x 190
    _rect(d, (10, 28, 390, 189), WOOD)
    for x in (10, 105, 200, 295):
        _rect(d, (x + 10, 42, x + 85, 178), WOOD_DARK)
        d.rectangle((x + 68, 90, x + 75, 130), fill=KNOB)
    _rect(d, (0, 0, 399, 30), (210, 210, 205, 255))  # stone worktop


def _shelf(d: ImageDraw.ImageDraw) -> None:  # 360 x 110
    for x in (50, 270):
        d.polygon([(x, 26), (x + 40, 26), (x + 40, 109)], fill=WOOD_DARK, outline=OUTLINE,
                  width=LINE)
    _rect(d, (0, 0, 359, 30), WOOD)


def _bench(d: ImageDraw.ImageDraw) -> None:  # 360 x 200
    _rect(d, (30, 100, 52, 199), WOOD_DARK)
    _rect(d, (308, 100, 330, 199), WOOD_DARK)
    _rect(d, (30, 0, 46, 110), WOOD_DARK)  # back posts
    _rect(d, (314, 0, 330, 110), WOOD_DARK)
    _rect(d, (0, 8, 359, 36), WOOD)  # back slats
    _rect(d, (0, 48, 359, 76), WOOD)
    _rect(d, (0, 96, 359, 122), WOOD)  # seat


def _cabinet(d: ImageDraw.ImageDraw) -> None:  # 240 x 260
    _rect(d, (0, 0, 239, 259), WOOD)
    _rect(d, (18, 18, 116, 240), WOOD_DARK)
    _rect(d, (124, 18, 222, 240), WOOD_DARK)
    d.ellipse((96, 120, 110, 134), fill=KNOB)
    d.ellipse((130, 120, 144, 134), fill=KNOB)


def _dresser(d: ImageDraw.ImageDraw) -> None:  # 340 x 250
    _rect(d, (0, 0, 339, 239), WOOD)
    _rect(d, (14, 232, 40, 249), WOOD_DARK)
    _rect(d, (300, 232, 326, 249), WOOD_DARK)
    for y in (16, 88, 160):
        _rect(d, (16, y, 323, y + 62), WOOD_DARK)
        d.ellipse((100, y + 24, 118, y + 38), fill=KNOB)
        d.ellipse((222, y + 24, 240, y + 38), fill=KNOB)


def _bookshelf(d: ImageDraw.ImageDraw) -> None:  # 220 x 360
    _rect(d, (0, 0, 219, 359), WOOD)
    colors = ((234, 90, 71), (97, 178, 228), (177, 204, 51), (252, 234, 43), (141, 70, 150))
    for row, y in enumerate((18, 130, 242)):
        _rect(d, (16, y, 203, y + 100), WOOD_DARK)
        x = 24
        for k in range(6 - row % 2):
            w = 16 + (k * 7 + row * 5) % 12
            color = colors[(k + row) % len(colors)] + (255,)
            top = y + 22 + (k * 11 + row * 3) % 22
            d.rectangle((x, top, x + w, y + 100), fill=color, outline=OUTLINE, width=4)
            x += w + 6


def _crate(d: ImageDraw.ImageDraw) -> None:  # 280 x 220
    _rect(d, (0, 0, 279, 219), WOOD)
    for y in (70, 140):
        d.line((0, y, 279, y), fill=OUTLINE, width=LINE)
    d.line((20, 200, 260, 20), fill=OUTLINE, width=LINE + 2)
    _rect(d, (0, 0, 30, 219), WOOD_DARK)
    _rect(d, (249, 0, 279, 219), WOOD_DARK)


def _fence(d: ImageDraw.ImageDraw) -> None:  # 400 x 200
    for y in (60, 140):
        _rect(d, (0, y, 399, y + 24), WOOD_DARK)
    for x in range(6, 400, 56):
        d.polygon([(x, 30), (x + 20, 0), (x + 40, 30), (x + 40, 199), (x, 199)], fill=WOOD,
                  outline=OUTLINE, width=LINE)


DRAWINGS: dict[str, tuple[tuple[int, int], Painter]] = {
    "table": ((360, 200), _table),
    "desk": ((340, 210), _desk),
    "counter": ((400, 190), _counter),
    "shelf": ((360, 110), _shelf),
    "bench": ((360, 200), _bench),
    "cabinet": ((240, 260), _cabinet),
    "dresser": ((340, 250), _dresser),
    "bookshelf": ((220, 360), _bookshelf),
    "crate": ((280, 220), _crate),
    "fence": ((400, 200), _fence),
}


def draw_furniture(name: str) -> Image.Image:
    """The drawing as RGBA on a transparent canvas (KeyError for an unknown name)."""
    (width, height), painter = DRAWINGS[name]
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    painter(ImageDraw.Draw(image))
    return image
