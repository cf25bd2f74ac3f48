"""Load benchmark: a synthetic Visual Genome-shaped dataset (>= 200 MB by default) through the
streaming VG loader; prints records/s, objects/s, MB/s and peak memory (RSS high-water mark).

    python bench/load.py                 # generate into a temp dir, load, clean up
    python bench/load.py --mb 400 --keep /tmp/vg_big

The files are generated one image at a time (never held in memory), in VG v1.2's layout:
image_data.json, objects.json, attributes.json, relationships.json. Exits 1 when peak memory
reaches --max-rss-mb (500 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from scenesynth.sources import LoadReport, read_visual_genome

NAMES = ["man", "woman", "tree", "car", "building", "window", "sign", "shirt", "table", "dog",
         "cat", "plate", "street", "sky", "cloud", "grass", "wall", "door", "chair", "light"]
ATTRS = ["white", "black", "red", "green", "blue", "wooden", "metal", "large", "small", "tall",
         "open", "parked", "standing", "brick", "glass", "striped", "bright", "dark"]
PREDICATES = ["on", "has", "wearing", "in", "of", "near", "behind", "holding", "next to",
              "above", "riding", "sitting on", "under", "in front of", "with", "by"]


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / scale / 1024


def _object(rng: random.Random, oid: int, width: int, height: int) -> dict[str, Any]:
    w, h = rng.randint(5, width // 2), rng.randint(5, height // 2)
    name = rng.choice(NAMES)
    return {
        "synsets": [f"{name}.n.01"], "h": h, "object_id": oid, "names": [name], "w": w,
        "y": rng.randint(0, height - h), "x": rng.randint(0, width - w),
    }


class _ArrayWriter:
    """Writes a JSON array one element at a time."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh, self.first = fh, True
        fh.write("[")

    def add(self, item: Any) -> None:
        self.fh.write(("" if self.first else ", ") + json.dumps(item))
        self.first = False

    def close(self) -> None:
        self.fh.write("]")


def generate(directory: Path, target_mb: float, seed: int = 0) -> dict[str, int]:
    """Write VG-shaped files until their total size reaches ``target_mb``."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    names = ("image_data", "objects", "attributes", "relationships")
    with contextlib.ExitStack() as files:
        writers = {}
        for n in names:
            fh = files.enter_context(open(directory / f"{n}.json", "w", encoding="utf-8"))
            writers[n] = _ArrayWriter(fh)
        return _fill(rng, writers, target_mb)


def _fill(rng: random.Random, writers: dict[str, _ArrayWriter], target_mb: float) -> dict[str, int]:
    counts = {"images": 0, "objects": 0, "relations": 0}
    next_object, next_relation = 1, 1
    try:
        while True:
            image_id = counts["images"] + 1
            width, height = rng.choice([(800, 600), (640, 480), (500, 375)])
            writers["image_data"].add({
                "width": width, "url": f"https://example.invalid/{image_id}.jpg",
                "height": height, "image_id": image_id, "coco_id": None, "flickr_id": None,
            })
            objects = [_object(rng, next_object + k, width, height)
                       for k in range(rng.randint(15, 50))]
            next_object += len(objects)
            writers["objects"].add({"image_id": image_id, "objects": objects})
            writers["attributes"].add({"image_id": image_id, "attributes": [
                {**o, "attributes": rng.sample(ATTRS, rng.randint(0, 3))} for o in objects
            ]})
            rels = []
            for _ in range(rng.randint(10, 45)):
                s, o = rng.sample(objects, 2)
                rels.append({
                    "predicate": rng.choice(PREDICATES), "relationship_id": next_relation,
                    "synsets": ["along.r.01"],
                    "subject": {**s, "name": s["names"][0]}, "object": {**o, "name": o["names"][0]},
                })
                next_relation += 1
            writers["relationships"].add({"image_id": image_id, "relationships": rels})
            counts["images"] += 1
            counts["objects"] += len(objects)
            counts["relations"] += len(rels)
            if counts["images"] % 500 == 0:
                total = sum(w.fh.tell() for w in writers.values())
                if total >= target_mb * 1e6:
                    break
    finally:
        for w in writers.values():
            w.close()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=210.0, help="dataset size to generate (MB)")
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this directory")
    parser.add_argument("--max-rss-mb", type=float, default=500.0)
    args = parser.parse_args()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="scenesynth-bench-vg-"))
    try:
        t0 = time.perf_counter()
        counts = generate(directory, args.mb)
        size_mb = sum(f.stat().st_size for f in directory.glob("*.json")) / 1e6
        gen_s = time.perf_counter() - t0
        rss_after_generation = _rss_mb()
        print(f"generated {size_mb:.1f} MB in {gen_s:.1f}s: {counts['images']} images, "
              f"{counts['objects']} objects, {counts['relations']} relations ({directory})")

        report = LoadReport()
        t0, cpu0 = time.perf_counter(), time.process_time()
        n = objects = relations = 0
        for graph in read_visual_genome(directory, report):
            n += 1
            objects += len(graph.objects)
            relations += len(graph.relations)
        load_s = time.perf_counter() - t0
        cpu_s = time.process_time() - cpu0
        peak = _rss_mb()
        print(f"loaded {n} graphs, {objects} objects, {relations} relations in {load_s:.1f}s "
              f"wall, {cpu_s:.1f}s CPU")
        print(f"records/s: {n / load_s:.0f} images/s, {objects / load_s:.0f} objects/s, "
              f"{relations / load_s:.0f} relations/s, {size_mb / load_s:.1f} MB/s (wall); "
              f"{objects / cpu_s:.0f} objects per CPU-second (independent of other load)")
        print(f"peak RSS: {peak:.0f} MB (after generation: {rss_after_generation:.0f} MB; "
              f"limit {args.max_rss_mb:.0f} MB)")
        print(f"report: {report.summary()}")
        ok = (
            peak < args.max_rss_mb
            and n == counts["images"]
            and objects == counts["objects"]
            and relations == counts["relations"]
            and report.ok
        )
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
