"""Generation time on dense graphs with a Zipf-distributed vocabulary (many same-name objects,
the case that makes referring expressions expensive): CPU seconds per graph at 80 and 160
objects, and the growth exponent k (time ~ n^k) between them.

    python bench/dense.py [--per-image 5] [--rounds 3] [--graphs 30] [--generators a439423] \
        [--provision PATH]

Two kinds of graphs: by default this script's own (bench/generate.py's synthetic layout,
names drawn Zipf-weighted from a 150-word vocabulary, 0-3 loose attributes); with
``--provision PATH`` (a ProVision checkout) the graphs ``bench/reference.py`` writes for the
side-by-side (ProVision's object list drawn Zipf-weighted, its attribute categories, one
annotated relation per object from its relation list, large random boxes): the shape of
graph on which issue 23 measured growth k = 1.8-2.0 for a439423.

Prints a digest of the graphs (two builds measured on the same graphs print the same) and of
the generated samples (identical output prints the same). It runs against older builds too
(``PYTHONPATH=<a439423 tree>/src``, the baseline of issue 23); ``--generators a439423``
restricts a newer build to the single-image generators that build has, so both do the same
work.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import A439_GENERATORS, generate_shard, synthetic_graph

from scenesynth.generators.base import GenConfig, registered
from scenesynth.graph import Attribute, AttributeKind, SceneGraph
from scenesynth.graph.sample import AnswerForm

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


def provision_graphs(provision: Path, count: int, n_objects: int) -> list[SceneGraph]:
    """``count`` graphs of ``n_objects`` objects as bench/reference.py writes them from a
    ProVision checkout's vocabulary (seed 0), read back as scenesynth graphs."""
    from reference import make_graphs

    from scenesynth.sources import load

    with tempfile.TemporaryDirectory(prefix="dense-graphs-") as folder:
        make_graphs(provision.resolve(), Path(folder), count, n_objects, n_objects, seed=0,
                    reference_files=False)
        return list(load(Path(folder) / "graphs.jsonl"))


def graphs_digest(data: dict[int, list[SceneGraph]]) -> str:
    """What every build reads of the graphs (names, attribute values and kinds, boxes,
    depths, relations), hashed: the same across builds whose graph models differ."""
    digest = hashlib.sha256()
    for n in sorted(data):
        for graph in data[n]:
            for o in graph.objects:
                box = o.box
                corners = None if box is None else (box.x0, box.y0, box.x1, box.y1)
                digest.update(repr((o.id, o.name, [(a.value, str(a.kind)) for a in o.attributes],
                                    corners, o.depth)).encode())
            for r in graph.relations:
                digest.update(repr((r.subject, r.predicate, r.object)).encode())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-image", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--graphs", type=int, default=30)
    parser.add_argument("--generators", default="",
                        help="'a439423' (that build's single-image generators) or a "
                        "comma-separated list; default: every single-image generator")
    parser.add_argument("--provision", type=Path, help="a ProVision checkout: measure on "
                        "the graphs bench/reference.py writes from its vocabulary")
    args = parser.parse_args()
    import scenesynth.generators  # noqa: F401  (fills the registry)

    names = sorted(n for n, c in registered().items() if not c.spec.multi_image)
    if args.generators:
        wanted = (A439_GENERATORS if args.generators == "a439423"
                  else args.generators.split(","))
        names = [n for n in names if n in wanted]
    sizes = (80, 160)
    if args.provision is None:
        data = {n: [zipf_graph(i, n) for i in range(args.graphs)] for n in sizes}
    else:
        data = {n: provision_graphs(args.provision, args.graphs, n) for n in sizes}
    print(f"generators={len(names)} graphs digest {graphs_digest(data)}")
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
