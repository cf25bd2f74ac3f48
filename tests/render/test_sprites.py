"""Drawings that match their labels: the emoji depictions of the knowledge base, exact masks
from their alpha, colours true of the pixels, no contradictory attributes, nothing that needs
support floating in the air, and the contact sheet (issue 15, item 3)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import emoji
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from scenesynth.graph import AttributeKind, SceneGraph
from scenesynth.graph.attribute_rules import attribute_conflict
from scenesynth.knowledge import load_kb, sample_kg
from scenesynth.knowledge.kb import load_depictions
from scenesynth.layout import solve_layout
from scenesynth.render import CpuRenderer, sprites
from scenesynth.render.palette import COLOR_RGB

KB = load_kb()
DEPICTIONS = load_depictions()


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower().replace("’", "")) + " "


def _emoji_data(code: str) -> dict[str, object]:
    text = sprites.code_to_text(code)
    for candidate in (text, text + "\ufe0f", text.replace("\u200d", "\ufe0f\u200d") + "\ufe0f"):
        if candidate in emoji.EMOJI_DATA:
            return emoji.EMOJI_DATA[candidate]
    raise AssertionError(f"{code} is not an emoji known to the emoji package")


def test_every_object_has_an_entry_and_every_placeable_object_is_drawn() -> None:
    assert set(DEPICTIONS) == set(KB.objects)
    placeable = {o for scene in KB.scenes.values() for o in scene.objects}
    assert placeable == {n for n, d in DEPICTIONS.items() if d is not None}
    for name in placeable:
        assert KB.objects[name].depiction == DEPICTIONS[name].sprite  # type: ignore[union-attr]
    drawn = [d.sprite for d in DEPICTIONS.values() if d is not None]
    assert len(drawn) == len(set(drawn)), "two objects share one drawing"
    assert len(placeable) >= 200


def test_each_emoji_is_named_like_its_object() -> None:
    """The mechanical rule: the emoji's own name (or a package alias) contains the object's
    name or one of its listed synonyms, as whole words; a built-in drawing is named after the
    object it draws."""
    wrong = []
    for name, dep in DEPICTIONS.items():
        if dep is None:
            continue
        if dep.emoji is None:
            assert dep.drawing in (name, *dep.synonyms), name
            continue
        data = _emoji_data(dep.emoji)
        own = str(data["en"]).strip(":").replace("_", " ")
        assert own == dep.emoji_name, f"{name}: emoji_name {dep.emoji_name!r} is not {own!r}"
        aliases = [str(a).strip(":").replace("_", " ") for a in data.get("alias", [])]  # type: ignore[attr-defined]
        text = _words(" | ".join([own, *aliases]))
        if not any(_words(n) in text or _words(n).rstrip("s ") + " " in text
                   for n in (name, *dep.synonyms)):
            wrong.append((name, own))
    assert not wrong


def test_stored_aspect_and_colour_are_measured_from_the_sprite() -> None:
    for name, dep in DEPICTIONS.items():
        if dep is None:
            continue
        assert sprites.aspect(dep.sprite) == pytest.approx(dep.aspect, abs=2e-3), name
        if not dep.tint and dep.color is not None:
            # the asserted colour is close to the drawing's own (CIELAB distance; the renderer
            # then paints the main fill in exactly that colour)
            fill, named = sprites._lab(sprites.main_fill(dep.sprite)), sprites._lab(
                COLOR_RGB[dep.color])
            assert sum((a - b) ** 2 for a, b in zip(fill, named, strict=True)) ** 0.5 < 30, name


def _rendered(seed: int) -> tuple[SceneGraph, SceneGraph, np.ndarray]:
    kg = sample_kg(KB, seed)
    laid = solve_layout(kg, seed)
    assert laid.graph is not None
    result = CpuRenderer().render(laid.graph, seed)
    return laid.graph, result.graph, np.asarray(result.image)


def test_masks_are_exactly_the_sprite_alpha_minus_nearer_objects() -> None:
    checked = 0
    for seed in range(12):
        try:
            laid, rendered, _ = _rendered(seed)
        except AssertionError:
            continue
        h, w = laid.image.height, laid.image.width
        # each object's full alpha, drawn as the renderer does, in painter's order
        owner = np.full((h, w), -1)
        order = sorted(range(len(laid.objects)),
                       key=lambda k: (-(laid.objects[k].depth or 0.0), -k))
        for k in order:
            obj = laid.objects[k]
            box = obj.box
            assert box is not None and isinstance(obj.meta.get("depiction"), str)
            x0 = max(0, min(round(box.x0), w - 1))
            y0 = max(0, min(round(box.y0), h - 1))
            x1 = max(x0 + 1, min(w, round(box.x1)))
            y1 = max(y0 + 1, min(h, round(box.y1)))
            colors = obj.attribute_values(AttributeKind.COLOR)
            color = COLOR_RGB.get(colors[0]) if colors else None
            _, alpha = sprites.draw(str(obj.meta["depiction"]), color, x1 - x0, y1 - y0)
            owner[y0:y1, x0:x1][np.asarray(alpha) >= sprites.ALPHA_THRESHOLD] = k
        for k, obj in enumerate(rendered.objects):
            expected = owner == k
            if obj.mask is None:
                assert not expected.any()
                continue
            mask = mask_utils.decode(obj.mask.model_dump()).astype(bool)
            assert np.array_equal(mask, expected), (seed, obj.name)
            checked += 1
    assert checked >= 30


def test_colour_attribute_is_the_main_colour_of_the_pixels() -> None:
    """Inside each visible mask, the most common colour (outline excluded) is the colour
    attribute's RGB: "Is the car blue?" is answerable from the image."""
    checked = 0
    for seed in range(20, 40):
        try:
            _, rendered, image = _rendered(seed)
        except AssertionError:
            continue
        for obj in rendered.objects:
            colors = obj.attribute_values(AttributeKind.COLOR)
            if obj.mask is None or not colors or int(obj.meta["visible_pixels"]) < 400:
                continue
            if obj.meta.get("visible_fraction", 1.0) < 0.8:
                continue  # mostly hidden: what is left may be a detail, not the main fill
            mask = mask_utils.decode(obj.mask.model_dump()).astype(bool)
            pixels = image[mask].astype(int)
            luma = 0.299 * pixels[:, 0] + 0.587 * pixels[:, 1] + 0.114 * pixels[:, 2]
            pixels = pixels[luma > sprites.OUTLINE_LUMA]
            mode, _ = Counter(map(tuple, pixels // 6)).most_common(1)[0]
            top = pixels[(pixels // 6 == mode).all(axis=1)].mean(axis=0)
            target = np.array(COLOR_RGB[colors[0]])
            assert np.abs(top - target).max() <= 12, (seed, obj.name, colors[0], top)
            checked += 1
    assert checked >= 40


def test_no_contradictory_attributes_in_sampled_graphs() -> None:
    for seed in range(200):
        graph = sample_kg(KB, seed)
        for obj in graph.objects:
            colors = obj.attribute_values(AttributeKind.COLOR)
            materials = obj.attribute_values(AttributeKind.MATERIAL)
            assert obj.meta.get("depiction"), obj.name
            for c in colors or [None]:
                for m in materials or [None]:
                    assert attribute_conflict(obj.name, c, m) is None, (seed, obj.name, c, m)


@pytest.mark.parametrize(("name", "color", "material", "bad"), [
    ("ladder", "silver", "wood", True),
    ("wine glass", "white", "wood", True),
    ("jeans", "red", "denim", True),
    ("ladder", "brown", "wood", False),
    ("wine glass", None, "glass", False),
    ("key", "gold", "metal", False),
])
def test_attribute_rule(name: str, color: str | None, material: str | None, bad: bool) -> None:
    assert (attribute_conflict(name, color, material) is not None) is bad


def test_objects_that_need_support_rest_on_something_and_sky_objects_are_in_the_sky() -> None:
    checked = 0
    for seed in range(40):
        kg = sample_kg(KB, seed)
        laid = solve_layout(kg, seed).graph
        if laid is None:
            continue
        horizon = float(laid.meta["layout"]["horizon"])
        supported = {r.subject for r in laid.relations if r.predicate == "on top of"}
        for obj in laid.objects:
            place = obj.meta["placement"]
            assert obj.box is not None
            if place in ("floor", "ground", "surface") and obj.id not in supported:
                assert obj.box.y1 > horizon, (seed, obj.name)
                checked += 1
            if place == "sky":
                assert obj.box.y1 <= horizon + 1, (seed, obj.name)
    assert checked >= 100
    any_placed = {n for n, s in KB.objects.items() if s.placement == "any" and s.depiction}
    assert any_placed <= {"bird", "butterfly", "balloon", "bee", "frisbee"}


def test_contact_sheet_shows_every_drawable_object(tmp_path: Path) -> None:
    import importlib.util

    script = Path(__file__).parents[2] / "scripts" / "contact_sheet.py"
    spec = importlib.util.spec_from_file_location("contact_sheet", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module.main(str(tmp_path))
    cells = sum(1 for d in DEPICTIONS.values() if d is not None)
    assert len(paths) == -(-cells // module.PER_SHEET)
    for path in paths:
        assert path.stat().st_size < 1_000_000
    committed = sorted((Path(__file__).parents[2] / "docs" / "images").glob(
        "objects_contact_sheet_*.png"))
    assert len(committed) == len(paths)


def test_bad_depiction_entries_name_file_entry_and_field(tmp_path: Path) -> None:
    import shutil

    from scenesynth.knowledge import KnowledgeBaseError
    from scenesynth.knowledge.kb import DATA_DIR

    for name in ("objects.yaml", "scenes.yaml", "support.yaml", "overlaps.yaml",
                 "depictions.yaml"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    path = tmp_path / "depictions.yaml"
    original = path.read_text()
    path.write_text(original.replace("materials: [wood]}", "materials: [sand]}", 1))
    with pytest.raises(KnowledgeBaseError, match=r"depictions.yaml: entry 'table': field "
                                                 r"materials: \['sand'\]"):
        load_kb(tmp_path)
    path.write_text(original.replace('ladder: {emoji: "1FA9C",', "ladder: {emoji: 1fa9c,"))
    with pytest.raises(KnowledgeBaseError, match=r"depictions.yaml: entry 'ladder': field emoji"):
        load_kb(tmp_path)
    path.write_text(original.replace("\ntable: {", "\n# table: {"))
    with pytest.raises(KnowledgeBaseError, match=r"depictions.yaml: no entry for objects "
                                                 r"\['table'\]"):
        load_kb(tmp_path)
