"""Which images to annotate, and opening each one safely as RGB.

Inputs are folders (their image files, recursively, sorted), glob patterns, single image files,
or JSONL files of image paths (a JSON string per line, or an object with ``path``; relative
paths are relative to the JSONL file). The list is sorted and de-duplicated, so the shard a
file lands in does not depend on the order the shell expanded it.

:func:`open_image` decodes fully before returning (a truncated file fails here, not in a
model) and normalises modes a model cannot take: CMYK and palette images convert to RGB
(transparent pixels on white), 16-bit greyscale is scaled to 8 bits (not clipped).
"""

from __future__ import annotations

import glob
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: above a 7952x5304 camera frame; decompression-bomb guard
DEFAULT_MIN_SIDE = 8  # a model needs pixels to look at (1x1 "tracking pixels" are no photo)


class ImageInputError(ValueError):
    """An input argument names nothing readable (one line, names the argument)."""


def list_images(inputs: list[str]) -> list[Path]:
    found: set[Path] = set()
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            found.update(p for p in path.rglob("*")
                         if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        elif path.suffix.lower() == ".jsonl" and path.is_file():
            found.update(_from_jsonl(path))
        elif any(ch in arg for ch in "*?["):
            matches = [Path(m) for m in glob.glob(arg, recursive=True)]
            if not matches:
                raise ImageInputError(f"{arg}: the pattern matches no file")
            found.update(m for m in matches if m.suffix.lower() in IMAGE_SUFFIXES)
        else:
            # A single named file is kept even when missing: it is reported as a failure
            # (unreadable path) with the others annotated.
            found.add(path)
    return sorted({Path(p.absolute()) for p in found})


def _from_jsonl(path: Path) -> list[Path]:
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ImageInputError(f"{path}:{lineno}: not JSON ({exc})") from None
        if isinstance(value, dict):
            value = value.get("path") or value.get("image")
        if not isinstance(value, str) or not value:
            raise ImageInputError(f"{path}:{lineno}: expected an image path string or "
                                  '{"path": ...}')
        p = Path(value)
        out.append(p if p.is_absolute() else path.parent / p)
    return out


@dataclass(frozen=True)
class OpenedImage:
    image: Image.Image  # RGB, fully decoded
    original_mode: str
    converted: str | None = None  # why it was converted to RGB (conversion_reason)


class BadImage(ValueError):
    """An image that cannot be annotated; ``reason`` groups failures (``failures.jsonl``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def open_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS,
               min_side: int = DEFAULT_MIN_SIDE) -> OpenedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
            # Size first, from the header: a bomb is refused before its pixels are allocated.
            w, h = im.size
            if w * h > max_pixels:
                raise BadImage("too_large", f"{w}x{h} = {w * h} pixels is above the "
                               f"{max_pixels} pixel limit (decompression-bomb guard)")
            if min(w, h) < min_side:
                raise BadImage("too_small", f"{w}x{h} is below the {min_side} pixel minimum side")
            im.load()
    except BadImage:
        raise
    except FileNotFoundError:
        raise BadImage("unreadable", "no such file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage("too_large", f"decompression-bomb guard: {exc}") from None
    except OSError as exc:  # truncated data, bad markers, not an image, permission denied
        raise BadImage("unreadable", f"cannot decode: {exc}") from None
    except (ValueError, SyntaxError) as exc:  # Pillow raises these for some corrupt headers
        raise BadImage("unreadable", f"cannot decode: {exc}") from None
    return OpenedImage(to_rgb(im), im.mode, conversion_reason(im))


def conversion_reason(im: Image.Image) -> str | None:
    """Why an image that decodes is not plain RGB/greyscale (``notes.jsonl``), or None."""
    mode = im.mode
    if mode in ("RGB", "L") and "transparency" not in im.info:
        return None
    if mode.startswith("I;16"):
        return "16bit"
    if mode in ("P", "PA"):
        return "palette_alpha" if mode == "PA" or "transparency" in im.info else "palette"
    return {"CMYK": "cmyk", "I": "32bit_int", "F": "float", "RGBA": "alpha", "LA": "alpha",
            "La": "alpha", "1": "bilevel"}.get(mode, mode.lower())


def to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit int) greyscale: scale the range to 8 bits instead of clipping.
        data = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(data.max()), 1.0)
        grey = np.clip(np.round(data / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        data = np.asarray(im, dtype=np.float64)
        lo, hi = float(data.min()), float(data.max())
        grey = ((data - lo) / (hi - lo or 1.0) * 255.0).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode in ("P", "PA", "LA", "RGBA", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")
