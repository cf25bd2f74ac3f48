"""Generation time on dense graphs with a Zipf-distributed vocabulary (many same-name objects,
the case that makes referring expressions expensive): CPU seconds per graph at 80 and 160
objects, and the growth exponent k (time ~ n^k) between them.

    python bench/dense.py [--per-image 5] [--rounds 3] [--graphs 6]

Prints a digest of the generated samples so two builds can be compared for identical output.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import synthetic_graph

from scenesynth.generators.base import GenConfig, registered
from scenesynth.graph import Attribute, AttributeKind, SceneGraph
from scenesynth.graph.sample import AnswerForm
from scenesynth.pipeline.shard import generate_shard

# Shaped like detector output on a busy photo (ProVision's synthetic benchmark graphs): a
# 150-name vocabulary drawn Zipf-weighted, so the frequent names repeat many times, and 0-3
# loosely typed attributes per object, so attributes rarely tell same-name objects apart.
VOCABULARY = [f"thing{i}" for i in range(150)]
ATTRIBUTES = [f"quality{i}" for i in range(80)]


def zipf_graph(index: int, n_objects: int) -> SceneGraph:
    """bench/generate.py's synthetic graph with Zipf-weighted names (weight 1/rank) and 0-3
    attributes per object from a large, uniformly drawn set."""
    graph = synthetic_graph(index, n_objects=n_objects)
    rng = random.Random(10_000 + index)
    weights = [1.0 / (rank + 1) for rank in range(len(VOCABULARY))]
    names = rng.choices(VOCABULARY, weights=weights, k=len(graph.objects))
    objects = []
    for obj, name in zip(graph.objects, names, strict=True):
        attributes = [Attribute(value=v, kind=AttributeKind.OTHER)
                      for v in rng.sample(ATTRIBUTES, rng.randint(0, 3))]
        objects.append(obj.model_copy(update={"name": name, "attributes": attributes}))
    return graph.model_copy(update={"objects": objects})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-image", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--graphs", type=int, default=6)
    args = parser.parse_args()
    import scenesynth.generators  # noqa: F401  (fills the registry)

    names = sorted(n for n, c in registered().items() if not c.spec.multi_image)
    sizes = (80, 160)
    data = {n: [zipf_graph(i, n) for i in range(args.graphs)] for n in sizes}
    best: dict[int, float] = {}
    digest = hashlib.sha256()
    for r in range(args.rounds):
        for n in sizes:  # alternated, so a noisy neighbour slows both sizes alike
            start = time.process_time()
            out = generate_shard(data[n], names, args.per_image, (AnswerForm.SHORT,), 0,
                                 GenConfig(), None)
            per_graph = (time.process_time() - start) / len(data[n])
            best[n] = min(best.get(n, math.inf), per_graph)
            if r == 0:
                for s in out.samples:
                    digest.update(s.model_dump_json().encode())
                print(f"objects={n} samples/graph={len(out.samples) / len(data[n]):.1f}")
    for n in sizes:
        print(f"objects={n} CPU ms/graph (best of {args.rounds}) = {1e3 * best[n]:.1f}")
    k = math.log(best[160] / best[80]) / math.log(2)
    print(f"growth k (time ~ n^k, 80 -> 160 objects) = {k:.2f}")
    print(f"samples digest {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
