"""The one box type used inside scenesynth.

Convention (the only one inside the package): pixel coordinates, corners ``(x0, y0, x1, y1)``,
origin at the image's top-left corner, x grows to the right, y grows downwards, ``x1 >= x0`` and
``y1 >= y0``. Boxes are continuous: a box covering pixel columns 0..9 is ``x0=0, x1=10``.

Other conventions (COCO/VG/GQA ``xywh``, centre-size ``cxcywh``, normalised ``[0, 1]`` or
``[0, 1000]`` boxes used by some trainers) exist only at the edges, via the constructors and
exporters below.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class Box(BaseModel):
    """Axis-aligned box, pixels, ``x0 y0 x1 y1``, origin top-left (see module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x0: float
    y0: float
    x1: float
    y1: float

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x1 < self.x0:
            raise ValueError(f"box has x1 < x0 ({self.x1} < {self.x0})")
        if self.y1 < self.y0:
            raise ValueError(f"box has y1 < y0 ({self.y1} < {self.y0})")
        return self

    # -- constructors at the edges -------------------------------------------------------
    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        """From COCO / Visual Genome / GQA style top-left corner plus width and height."""
        return cls(x0=x, y0=y, x1=x + w, y1=y + h)

    @classmethod
    def from_cxcywh(cls, cx: float, cy: float, w: float, h: float) -> Box:
        return cls(x0=cx - w / 2, y0=cy - h / 2, x1=cx + w / 2, y1=cy + h / 2)

    @classmethod
    def from_normalized(
        cls, x0: float, y0: float, x1: float, y1: float, width: int, height: int, scale: float = 1.0
    ) -> Box:
        """From corners normalised to ``[0, scale]`` (scale 1 or 1000 are common)."""
        return cls(
            x0=x0 / scale * width,
            y0=y0 / scale * height,
            x1=x1 / scale * width,
            y1=y1 / scale * height,
        )

    # -- conversions at the edges ------------------------------------------------------
    def to_xywh(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0)

    def to_cxcywh(self) -> tuple[float, float, float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2, self.width, self.height)

    def to_normalized(
        self, width: int, height: int, scale: float = 1.0
    ) -> tuple[float, float, float, float]:
        return (
            self.x0 / width * scale,
            self.y0 / height * scale,
            self.x1 / width * scale,
            self.y1 / height * scale,
        )

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    # -- measurements --------------------------------------------------------------------
    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def clip(self, width: float, height: float) -> Box:
        return Box(
            x0=min(max(self.x0, 0.0), width),
            y0=min(max(self.y0, 0.0), height),
            x1=min(max(self.x1, 0.0), width),
            y1=min(max(self.y1, 0.0), height),
        )

    def inside_image(self, width: float, height: float, tolerance: float = 0.0) -> bool:
        return (
            self.x0 >= -tolerance
            and self.y0 >= -tolerance
            and self.x1 <= width + tolerance
            and self.y1 <= height + tolerance
        )

    def __str__(self) -> str:
        return f"[{self.x0:g}, {self.y0:g}, {self.x1:g}, {self.y1:g}]"
