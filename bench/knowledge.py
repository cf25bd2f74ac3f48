"""Knowledge benchmark: built-in KB load time, KG sampling throughput, and the LLM backend's
cache path (a re-run served from disk). Prints figures; asserts nothing.

    python bench/knowledge.py               # 5000 KGs
    python bench/knowledge.py --graphs 20000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter

from scenesynth.knowledge import load_kb, sample_kg
from scenesynth.knowledge.kb import DATA_DIR
from scenesynth.models.llm import ResponseCache


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graphs", type=int, default=5000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    kb = load_kb(DATA_DIR)  # uncached path: parse + validate
    load_s = time.perf_counter() - t0
    stats = kb.stats()
    print(f"kb load+validate: {load_s * 1000:.0f} ms  ({stats.scenes} scenes, {stats.objects} "
          f"objects, {stats.avg_objects_per_scene:.1f} objects/scene, {stats.support_pairs} "
          f"support pairs)")

    t0 = time.perf_counter()
    predicates: Counter[str] = Counter()
    n_objects = 0
    for seed in range(args.graphs):
        g = sample_kg(kb, seed)
        n_objects += len(g.objects)
        predicates.update(r.predicate for r in g.relations)
    dt = time.perf_counter() - t0
    n_rel = sum(predicates.values())
    print(f"sample_kg: {args.graphs / dt:.0f} graphs/s ({dt * 1000 / args.graphs:.2f} ms/graph), "
          f"{n_objects / args.graphs:.2f} objects and {n_rel / args.graphs:.2f} relations/graph")
    print("predicates:", json.dumps(dict(predicates.most_common())))

    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(tmp)
        content = json.dumps({"scene": "kitchen", "objects": [], "relations": []})
        keys = [ResponseCache.key([{"role": "user", "content": str(i)}], "m", {}) for i in
                range(2000)]
        t0 = time.perf_counter()
        for k in keys:
            cache.put(k, [{"seed": 0, "content": content}], "m")
        put_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        hits = sum(cache.get(k) is not None for k in keys)
        get_s = time.perf_counter() - t0
        print(f"llm cache: {len(keys) / put_s:.0f} writes/s (atomic), {hits / get_s:.0f} "
              f"hits/s")


if __name__ == "__main__":
    main()
