"""Colour names -> RGB, and small colour helpers for the CPU renderer."""

from __future__ import annotations

import hashlib

RGB = tuple[int, int, int]

COLOR_RGB: dict[str, RGB] = {
    "red": (200, 40, 40), "orange": (235, 130, 30), "yellow": (235, 205, 40),
    "green": (60, 150, 60), "blue": (45, 85, 200), "purple": (120, 60, 160),
    "pink": (235, 130, 170), "brown": (125, 80, 45), "black": (30, 30, 32),
    "white": (236, 236, 232), "gray": (128, 128, 128), "silver": (185, 188, 192),
    "gold": (212, 175, 55), "beige": (222, 205, 170), "tan": (205, 170, 125),
    "cyan": (40, 200, 210), "teal": (30, 128, 128), "navy": (25, 35, 100),
    "maroon": (120, 25, 35), "violet": (150, 90, 200), "magenta": (210, 50, 170),
    "turquoise": (60, 210, 190), "khaki": (190, 180, 120), "cream": (245, 235, 200),
    "ivory": (245, 242, 225), "olive": (110, 115, 40), "lime": (150, 220, 60),
    "dark blue": (20, 40, 120), "light blue": (140, 185, 235), "dark brown": (80, 50, 25),
    "light brown": (175, 130, 85), "dark green": (25, 90, 35), "light green": (150, 215, 130),
    "dark gray": (70, 70, 72), "light gray": (195, 195, 195), "blond": (230, 205, 130),
}


def color_rgb(name: str | None) -> RGB:
    """The RGB for a colour name; unknown names get a stable colour from their hash."""
    if name is None:
        return (150, 150, 150)
    key = " ".join(name.lower().split())
    if key in COLOR_RGB:
        return COLOR_RGB[key]
    digest = hashlib.sha256(key.encode()).digest()
    return (60 + digest[0] % 170, 60 + digest[1] % 170, 60 + digest[2] % 170)


def shade(rgb: RGB, factor: float) -> RGB:
    """Darker (< 1) or lighter (> 1, towards white) version of ``rgb``."""
    if factor <= 1.0:
        return (int(rgb[0] * factor), int(rgb[1] * factor), int(rgb[2] * factor))
    t = min(1.0, factor - 1.0)
    return (
        int(rgb[0] + (255 - rgb[0]) * t),
        int(rgb[1] + (255 - rgb[1]) * t),
        int(rgb[2] + (255 - rgb[2]) * t),
    )


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        int(a[0] + (b[0] - a[0]) * t),
        int(a[1] + (b[1] - a[1]) * t),
        int(a[2] + (b[2] - a[2]) * t),
    )
