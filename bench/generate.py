"""Throughput of single-image short-answer generation, in QA samples per second per core.

Runs :func:`scenesynth.pipeline.shard.generate_shard` in this one process (one core) over

* the 1000 shared CLEVR scenes (``../shared/data/clevr/CLEVR_train_scenes_1000.json``), and
* synthetic 40-object graphs (names, attributes, boxes, depth, annotated relations),

with every single-image generator, short answers only, answer balancing and dedup on. A third
line, not part of the target, checks scaling: the synthetic graphs drawn from a 3000-name
vocabulary (as in a Visual Genome shard), rendered in every natural form. Loading
the graphs is not timed. Rates are per second of this process's CPU time (the machine is
shared; wall-time rates are printed as well), with graphs per CPU-second beside them: QA per
second also moves with how many questions the generators find worth asking on the graphs.
Target: >= 20,000 QA/s per core. Builds side by side (e.g. a439423, the baseline of issues 17
and 18): ``bench/lockstep.py``; the reference generator (ProVision) beside us:
``bench/reference.py``.

It measures whichever build of scenesynth is imported, and says which: the pure-Python one, or
the compiled one (``SCENESYNTH_COMPILE=1 pip install .``, mypyc on the generation hot path).

Usage::

    python bench/generate.py [--per-image 5] [--synthetic 200] [--profile] [--repeat 3]
                             [--generators a439423 | NAME,NAME,...]

    # the compiled build side by side, without touching the editable install:
    SCENESYNTH_COMPILE=1 pip wheel --no-deps . -w /tmp/wheel
    pip install --no-deps --target /tmp/compiled /tmp/wheel/scenesynth-*.whl
    PYTHONPATH=/tmp/compiled python bench/generate.py
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.machinery
import pstats
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scenesynth.generators.base import GenConfig, registered
from scenesynth.graph import (
    Attribute,
    AttributeKind,
    Box,
    ImageInfo,
    Relation,
    SceneGraph,
    SceneObject,
)
from scenesynth.graph.sample import AnswerForm

try:
    from scenesynth.pipeline.shard import generate_shard
except ImportError:  # builds before issue 17 (a439423, the baseline of issues 17 and 23)
    from scenesynth.generators.runner import generate_shard  # type: ignore[no-redef]

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NAMES = ["person", "car", "tree", "dog", "cup", "table", "chair", "lamp", "book", "bottle",
         "window", "door", "plate", "bag", "bike", "sign", "bench", "horse", "boat", "clock"]
COLORS = ["red", "blue", "green", "white", "black", "yellow", "brown", "gray"]
MATERIALS = ["wood", "metal", "plastic", "glass", "stone"]
SIZES = ["small", "large", "tall"]
PREDICATES = ["on", "near", "behind", "holding", "wearing", "under", "next to", "in"]


def synthetic_graph(index: int, n_objects: int = 40, width: int = 1024,
                    height: int = 768, names: Sequence[str] = NAMES) -> SceneGraph:
    rng = random.Random(index)
    objects = []
    for i in range(n_objects):
        w, h = rng.uniform(20, 300), rng.uniform(20, 300)
        x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
        attrs = [Attribute(value=rng.choice(COLORS), kind=AttributeKind.COLOR),
                 Attribute(value=rng.choice(MATERIALS), kind=AttributeKind.MATERIAL)]
        if rng.random() < 0.5:
            attrs.append(Attribute(value=rng.choice(SIZES), kind=AttributeKind.SIZE))
        objects.append(SceneObject(
            id=str(i), name=rng.choice(names), attributes=attrs,
            box=Box(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h), depth=rng.uniform(1.0, 30.0),
        ))
    relations = []
    for _ in range(n_objects):
        a, b = rng.sample(range(n_objects), 2)
        relations.append(Relation(subject=str(a), predicate=rng.choice(PREDICATES),
                                  object=str(b)))
    return SceneGraph(
        image=ImageInfo(id=f"synthetic-{index}", width=width, height=height,
                        source="synthetic"),
        objects=objects, relations=relations,
    )


# The 33 single-image generators of a439423, the build issue 17 compares against: its
# bench/generate.py runs exactly these. (Generators added since are not in that build.)
A439_GENERATORS = (
    "closest_object compare_count compare_depth compare_height compare_mask_area compare_size "
    "compare_volume count_attribute count_objects count_same_attribute count_union depth_order "
    "exist_object farthest_object grounding_box grounding_identify logic_and logic_or "
    "multi_hop_relation objects_with_attribute query_attribute referring_expression "
    "region_position relation_caption relation_object_query relation_predicate_query "
    "relation_subject_query relation_verify same_attribute scene_description spatial_choice "
    "spatial_verify verify_attribute").split()


def single_image_generators() -> list[str]:
    import scenesynth.generators  # noqa: F401  (fills the registry)

    return sorted(n for n, c in registered().items() if not c.spec.multi_image)


def measure(label: str, graphs: Sequence[SceneGraph], per_image: int, profile: bool,
            repeat: int = 1, forms: tuple[AnswerForm, ...] = (AnswerForm.SHORT,),
            generators: Sequence[str] | None = None) -> float:
    """QA samples per second of CPU time of this process (wall time is reported too: on a
    shared, loaded machine it is inflated by waiting for the core). With ``repeat`` > 1 the
    fastest run counts (the others were slowed by neighbours); every run's output is the
    same."""
    names = list(generators) if generators else single_image_generators()
    config = GenConfig()
    profiler = cProfile.Profile() if profile else None
    best: tuple[float, float] | None = None
    before = calibration()
    for _ in range(max(1, repeat)):
        start, cpu_start = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        result = generate_shard(graphs, names, per_image, forms, 0, config, None)
        if profiler is not None:
            profiler.disable()
        run = (time.process_time() - cpu_start, time.perf_counter() - start)
        if best is None or run < best:
            best = run
    assert best is not None
    cpu, elapsed = best
    after = calibration()
    n = len(result.samples)
    rate = n / cpu
    print(f"{label}: {len(graphs)} graphs, {len(names)} generators, per_image={per_image}: "
          f"{n} QA samples in {cpu:.2f} s CPU ({elapsed:.2f} s wall) = {rate:,.0f} QA/s per "
          f"core on CPU time ({n / elapsed:,.0f} on wall time), {len(graphs) / cpu:,.0f} "
          f"graphs per CPU-s, {1e6 / rate:.0f} us/sample "
          f"({len(result.failures)} failures; calibration {before:.1f} before, {after:.1f} "
          f"after)")
    if profiler is not None:
        stats = pstats.Stats(profiler)
        calls = getattr(stats, "total_calls", 0)
        print(f"  {calls / max(n, 1):.0f} Python calls per sample")
        stats.sort_stats("tottime").print_stats(25)
    return rate


def calibration() -> float:
    """Million iterations per CPU second of a trivial Python loop: a yardstick for how fast
    this core runs Python right now (an idle modern core runs this at roughly 20-40; a
    loaded shared core is slower even on CPU time)."""
    start = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i
    return 2.0 / (time.process_time() - start)


def build_kind() -> str:
    """Which build of the generation hot path is imported: compiled (mypyc) or pure Python."""
    import scenesynth.pipeline.shard as runner

    compiled = str(runner.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return f"{'compiled (mypyc)' if compiled else 'pure Python'}: {runner.__file__}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-image", type=int, default=5)
    parser.add_argument("--synthetic", type=int, default=200, help="number of 40-object graphs")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--generators", default="",
                        help="comma-separated generator names, or 'a439423' for the 33 that "
                        "build has (to compare with it like with like); default: every "
                        "single-image generator")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per dataset; the fastest counts, as with timeit: on a shared "
                        "machine the slower runs were slowed by other processes")
    args = parser.parse_args(argv)

    # Imported before timing: the quality package's first import (scipy, via its report
    # module) costs over a second once per process and is not generation throughput.
    import scenesynth.quality.balance
    import scenesynth.quality.dedup  # noqa: F401
    from scenesynth.sources import load

    clevr = list(load(DATA / "clevr" / "CLEVR_train_scenes_1000.json"))
    synthetic = [synthetic_graph(i) for i in range(args.synthetic)]
    print(f"build: {build_kind()}")
    print(f"calibration: {calibration():.1f} M loop iterations per CPU second on this core")
    chosen = (list(A439_GENERATORS) if args.generators == "a439423"
              else [n for n in args.generators.split(",") if n] or None)
    rates = {
        "clevr": measure("CLEVR 1000 scenes", clevr, args.per_image, args.profile,
                         args.repeat, generators=chosen),
        "synthetic": measure("synthetic 40-object graphs", synthetic, args.per_image,
                             args.profile, args.repeat, generators=chosen),
    }
    # Not part of the target: a shard of a large vocabulary (a Visual Genome shard has
    # thousands of object names), in every natural form. Name distractors and the other
    # per-question lists must not grow with the vocabulary.
    vocabulary = [f"thing{i}" for i in range(3000)]
    large = [synthetic_graph(i, names=vocabulary) for i in range(args.synthetic)]
    measure("synthetic 40-object graphs, 3000-name vocabulary, all forms (scaling check)",
            large, args.per_image, args.profile, args.repeat, tuple(AnswerForm), chosen)
    target = 20_000
    print(f"calibration after: {calibration():.1f} M loop iterations per CPU second")
    for label, rate in rates.items():
        print(f"{label}: {rate:,.0f} QA/s per core "
              f"({'meets' if rate >= target else 'below'} the {target:,} QA/s target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
