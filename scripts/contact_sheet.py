"""Draw every object the knowledge base can place, with its name under its sprite.

    python scripts/contact_sheet.py            # writes docs/images/objects_contact_sheet_*.png

Each cell shows the emoji as the renderer draws it, in the object's first colour (or as drawn
when it asserts none), the object's name, and the emoji's own name, so a reviewer can check at
a glance that every drawing is named correctly (knowledge/data/depictions.yaml).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

from scenesynth.knowledge import load_kb
from scenesynth.knowledge.kb import load_depictions
from scenesynth.render import sprites
from scenesynth.render.palette import color_rgb

CELL_W, CELL_H, SPRITE = 128, 118, 72
COLUMNS, PER_SHEET = 10, 130


def main(out_dir: str = "docs/images") -> list[Path]:
    kb = load_kb()
    depictions = load_depictions()
    names = sorted(n for n, d in depictions.items() if d is not None)
    paths = []
    for sheet_no, start in enumerate(range(0, len(names), PER_SHEET), 1):
        chunk = names[start:start + PER_SHEET]
        rows = (len(chunk) + COLUMNS - 1) // COLUMNS
        sheet = Image.new("RGB", (COLUMNS * CELL_W, rows * CELL_H), (244, 244, 240))
        draw = ImageDraw.Draw(sheet)
        for i, name in enumerate(chunk):
            dep = depictions[name]
            assert dep is not None
            spec = kb.objects[name]
            x, y = (i % COLUMNS) * CELL_W, (i // COLUMNS) * CELL_H
            w, h = ((SPRITE, max(1, round(SPRITE / dep.aspect))) if dep.aspect >= 1
                    else (max(1, round(SPRITE * dep.aspect)), SPRITE))
            color = color_rgb(spec.colors[0]) if spec.colors else None
            img, mask = sprites.draw(dep.sprite, color, w, h)
            sheet.paste(img, (x + (CELL_W - w) // 2, y + 6 + (SPRITE - h) // 2), mask)
            draw.text((x + 4, y + SPRITE + 12), name, fill=(0, 0, 0))
            label = dep.emoji_name if dep.emoji is not None else "drawn"
            draw.text((x + 4, y + SPRITE + 26), f"({label})"[:22], fill=(110, 110, 110))
        path = Path(out_dir) / f"objects_contact_sheet_{sheet_no}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(path, optimize=True)
        paths.append(path)
    removed = sorted(n for n, d in depictions.items() if d is None)
    print(f"{len(names)} drawable objects on {len(paths)} sheets; {len(removed)} not placed")
    return paths


if __name__ == "__main__":
    for p in main(*sys.argv[1:]):
        print(p, f"{p.stat().st_size / 1e3:.0f} kB")
