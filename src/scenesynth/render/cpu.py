"""The built-in CPU renderer: exact ground truth by construction.

Why Pillow (not cairo): Pillow is already a core dependency, its C drawing primitives render a
512x512 scene in a few milliseconds on one core, and its aliased drawing gives *binary*
coverage: every pixel belongs to exactly one instance, so the instance masks, the boxes
re-measured from them and the depth map are exact, with no antialiasing fringe to threshold.
An antialiased vector backend (cairocffi) would look smoother but needs an extra native
dependency and makes mask membership of edge pixels a rounding decision.

How it draws: a backdrop per scene type (indoor: wall and floor; outdoor: sky and ground, the
ground coloured by scene: sand, asphalt, snow, grass) split at the layout's horizon, then the
objects in painter's order far-to-near (larger depth first), each in its own pixel box: an
object of the knowledge base as its emoji or built-in drawing (``meta["depiction"]``,
:mod:`scenesynth.render.sprites`: main fill in its colour attribute, mask = the binarised
alpha), any other object as a per-form silhouette (:mod:`scenesynth.render.shapes`) coloured by
its colour and textured by its material. A label map and a depth map are written alongside, so
each object's visible mask is exactly the pixels it owns after nearer objects were drawn over
it.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from pycocotools import mask as mask_utils

from scenesynth.graph import AttributeKind, Box, Mask, SceneGraph
from scenesynth.graph.seeds import random_from_text
from scenesynth.layout import is_outdoor
from scenesynth.render import sprites
from scenesynth.render.base import RenderResult
from scenesynth.render.palette import RGB, color_rgb, mix, shade
from scenesynth.render.shapes import MIRRORABLE, Painter, apply_material, drawing_for

SKY_DEPTH = 1000.0  # metres assigned to sky pixels (larger = farther)

GROUND_BY_SCENE: tuple[tuple[tuple[str, ...], RGB], ...] = (
    (("beach", "desert", "sand"), (222, 200, 150)),
    (("snow", "ski", "ice"), (236, 240, 245)),
    (("street", "road", "parking", "city", "highway", "station", "airport", "bridge",
      "square", "construction", "gas"), (105, 105, 110)),
    (("harbor", "harbour", "port", "dock", "marina", "pier", "lake", "river", "sea", "ocean",
      "pool"), (70, 120, 170)),
    (("court", "stadium", "playground"), (180, 110, 80)),
)
GRASS: RGB = (105, 160, 80)
WALLS: tuple[RGB, ...] = ((226, 218, 200), (205, 220, 228), (232, 214, 214), (214, 228, 210),
                          (238, 232, 218), (200, 200, 210))
FLOORS: tuple[RGB, ...] = ((165, 120, 80), (190, 185, 175), (120, 95, 70), (150, 150, 155),
                           (200, 170, 130))


class RenderError(ValueError):
    """A graph the renderer cannot draw (names image, object and field)."""


def _rng(seed: int, image_id: str, part: str = "") -> random.Random:
    return random_from_text(f"render:{seed}:{image_id}:{part}")


def _ground_color(scene: str) -> RGB:
    for words, rgb in GROUND_BY_SCENE:
        if any(w in scene for w in words):
            return rgb
    return GRASS


def _vertical_gradient(top: RGB, bottom: RGB, rows: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, max(rows, 1), dtype=np.float32)[:, None]
    return (np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t)


def _rle(binary: np.ndarray) -> Mask:
    """COCO RLE of a uint8 (ideally already Fortran-ordered) HxW mask."""
    encoded = mask_utils.encode(np.asfortranarray(binary, dtype=np.uint8))
    counts = encoded["counts"]
    return Mask(size=(int(encoded["size"][0]), int(encoded["size"][1])),
                counts=counts.decode("ascii") if isinstance(counts, bytes) else counts)


class CpuRenderer:
    """Implements :class:`scenesynth.render.base.Renderer` (``exact=True``)."""

    name = "cpu"

    def __init__(self, texture: bool = True) -> None:
        self.texture = texture

    def render(self, graph: SceneGraph, seed: int) -> RenderResult:
        width, height = graph.image.width, graph.image.height
        rng = _rng(seed, graph.image.id)
        for k, obj in enumerate(graph.objects):
            if obj.box is None:
                raise RenderError(
                    f"image {graph.image.id!r}: objects[{k}] ({obj.id!r}).box is missing; "
                    "lay the graph out first (scenesynth.layout.solve_layout)"
                )
        layout = graph.meta.get("layout", {}) if isinstance(graph.meta.get("layout"), dict) \
            else {}
        horizon = float(layout.get("horizon", height * 0.42))
        depths = [obj.depth for obj in graph.objects]
        known = [d for d in depths if d is not None]
        nearest = min(known) if known else 2.0
        floor_ref = float(layout.get("floor_ref_depth", nearest * 0.92))
        farthest = max((d for d in known if d < SKY_DEPTH / 2), default=8.0)
        outdoor = is_outdoor(graph)
        image, depth_map = self._backdrop(graph, rng, outdoor, horizon, floor_ref, farthest)
        label = np.full((height, width), -1, dtype=np.int16)  # object index per pixel
        if len(graph.objects) >= np.iinfo(np.int16).max:
            raise RenderError(f"image {graph.image.id!r}: too many objects to render "
                              f"({len(graph.objects)})")

        # Far to near. Equal depths: the earlier object counts as nearer (the layout solver's
        # convention). Objects without depth are ordered by how low their box reaches.
        def order_key(k: int) -> tuple[float, int]:
            d = depths[k]
            box = graph.objects[k].box
            assert box is not None
            return (-(d if d is not None else SKY_DEPTH - box.y1), -k)

        full_pixels = [0] * len(graph.objects)
        pixel_boxes: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)] * len(graph.objects)
        for k in sorted(range(len(graph.objects)), key=order_key):
            obj = graph.objects[k]
            box = obj.box
            assert box is not None
            x0 = max(0, min(round(box.x0), width - 1))
            y0 = max(0, min(round(box.y0), height - 1))
            x1 = max(x0 + 1, min(width, round(box.x1)))
            y1 = max(y0 + 1, min(height, round(box.y1)))
            w, h = x1 - x0, y1 - y0
            colors = obj.attribute_values(AttributeKind.COLOR)
            materials = obj.attribute_values(AttributeKind.MATERIAL)
            base = color_rgb(colors[0] if colors else None)
            depiction = obj.meta.get("depiction")
            if isinstance(depiction, str):
                # the object's emoji, its main fill in the colour attribute (as drawn when it
                # has none), its mask the binarised alpha at the drawn size
                sprite, alpha = sprites.draw(
                    depiction, color_rgb(colors[0]) if colors else None, w, h)
            else:
                # graphs from other sources (no depiction): the per-form silhouette
                # one stream per object: removing or adding an object never changes another's
                obj_rng = _rng(seed, graph.image.id, obj.id)
                painter = Painter(w, h)
                form = str(obj.meta.get("form", "box"))
                drawing_for(form, obj.meta.get("placement"))(painter, base, obj_rng)
                if self.texture:
                    apply_material(painter, materials[0] if materials else None, base, obj_rng)
                sprite, alpha = painter.image, painter.mask
                if form in MIRRORABLE and obj_rng.random() < 0.5:
                    sprite, alpha = ImageOps.mirror(sprite), ImageOps.mirror(alpha)
            image.paste(sprite, (x0, y0), alpha)
            covered = np.asarray(alpha) > 0
            full_pixels[k] = int(covered.sum())
            pixel_boxes[k] = (x0, y0, x1, y1)
            label[y0:y1, x0:x1][covered] = k
            d = depths[k]
            depth_map[y0:y1, x0:x1][covered] = (
                d if d is not None else depth_map[y0:y1, x0:x1][covered]
            )

        objects = []
        # label.T is a C-contiguous view; (label.T == k).T is then Fortran-ordered for free,
        # which is the layout pycocotools encodes from.
        label_t = label.T
        for k, obj in enumerate(graph.objects):
            x0, y0, x1, y1 = pixel_boxes[k]
            crop = label[y0:y1, x0:x1] == k  # an object only shows inside its own box
            count = int(crop.sum())
            meta = {**obj.meta, "visible_pixels": count,
                    "visible_fraction": round(count / full_pixels[k], 4) if full_pixels[k] else 0.0}
            if count == 0:
                objects.append(obj.model_copy(update={"box": None, "mask": None, "meta": meta}))
                continue
            rows = np.flatnonzero(crop.any(axis=1))
            cols = np.flatnonzero(crop.any(axis=0))
            measured = Box(x0=float(x0 + cols[0]), y0=float(y0 + rows[0]),
                           x1=float(x0 + cols[-1] + 1), y1=float(y0 + rows[-1] + 1))
            visible = np.equal(label_t, k, order="C").view(np.uint8).T
            objects.append(obj.model_copy(update={
                "box": measured, "mask": _rle(visible), "meta": meta,
            }))
        meta = {**graph.meta, "render": {"renderer": self.name, "seed": seed,
                                         "setting": "outdoor" if outdoor else "indoor"}}
        rendered = graph.model_copy(update={"objects": objects, "meta": meta})
        return RenderResult(image=image, graph=rendered, depth_map=depth_map, exact=True)

    # -- backdrop ------------------------------------------------------------------------
    def _backdrop(
        self, graph: SceneGraph, rng: random.Random, outdoor: bool, horizon: float,
        floor_ref: float, farthest: float,
    ) -> tuple[Image.Image, np.ndarray]:
        width, height = graph.image.width, graph.image.height
        split = int(min(max(horizon, 1), height - 1))
        scene = str(graph.meta.get("scene", "")).lower()
        rows = np.arange(height, dtype=np.float32) + 0.5
        # Ground/floor depth from the same perspective the layout used for floor objects.
        below = np.maximum(rows - horizon, 1e-3)
        floor_depth = floor_ref * (height - horizon) / below
        if outdoor:
            top = (95 + rng.randint(-15, 15), 150 + rng.randint(-15, 15), 225)
            sky = _vertical_gradient(top, (215, 232, 245), split)
            ground = _ground_color(scene)
            land = _vertical_gradient(shade(ground, 0.85), shade(ground, 1.1), height - split)
            column = np.concatenate([sky, land], axis=0)
            depth_col = np.where(rows < horizon, SKY_DEPTH, np.minimum(floor_depth, SKY_DEPTH))
        else:
            wall = mix(rng.choice(WALLS), (255, 255, 255), 0.0)
            floor = rng.choice(FLOORS)
            upper = _vertical_gradient(shade(wall, 0.92), wall, split)
            lower = _vertical_gradient(shade(floor, 0.8), floor, height - split)
            column = np.concatenate([upper, lower], axis=0)
            wall_depth = max(farthest * 1.15, floor_ref * 1.5)
            depth_col = np.where(rows < horizon, wall_depth, np.minimum(floor_depth, wall_depth))
        # one column of colours stretched sideways by Pillow (much cheaper than numpy tiling)
        strip = Image.fromarray(np.ascontiguousarray(column[:, None, :].astype(np.uint8)), "RGB")
        image = strip.resize((width, height), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(image)
        if outdoor:
            if rng.random() < 0.5:  # distant hills or skyline on the horizon
                hill = shade(_ground_color(scene), 0.75)
                pts = [(0, split)]
                for x in range(0, width + 64, 64):
                    pts.append((x, split - rng.randint(4, max(5, height // 20))))
                pts.append((width, split))
                draw.polygon(pts, fill=hill)
        else:
            draw.rectangle([0, split - 3, width, split + 2], fill=shade(wall, 0.7))  # baseboard
            line = shade(floor, 0.75)
            for step in range(1, 9):  # floor boards converging in depth
                y = horizon + (height - horizon) * (1.0 / (1.0 + 0.6 * step)) ** 0.9
                if split + 3 < y < height:
                    draw.line([(0, int(y)), (width, int(y))], fill=line)
            for step in range(-6, 7):
                x_far = width / 2 + step * width / 10
                x_near = width / 2 + step * width / 3
                draw.line([(x_far, split + 3), (x_near, height)], fill=line)
        depth_map = np.empty((height, width), dtype=np.float32)
        depth_map[:] = depth_col.astype(np.float32)[:, None]
        if not math.isfinite(float(depth_map.max())):
            raise RenderError(f"image {graph.image.id!r}: non-finite depth in backdrop")
        return image, depth_map
