"""Benchmark of the synth stages on one core: layout, render (images/s), and KG -> QA samples/s.

    python bench/synth.py [--images 200] [--canvas 512] [--per-image 2]

Prints per-stage milliseconds per image, rendered images per second per core (render only and
layout + render + verify), and the end-to-end KG -> layout -> render -> verify -> generate
throughput in samples per second on one core (no image encoding, no export).
"""

from __future__ import annotations

import argparse
import statistics
import time

from scenesynth.generators.base import GenConfig
from scenesynth.graph import AnswerForm
from scenesynth.knowledge import make_source
from scenesynth.layout import solve_layout
from scenesynth.pipeline.shard import generate_shard
from scenesynth.quality.rules import verify_rendered
from scenesynth.render import CpuRenderer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--canvas", type=int, default=512)
    parser.add_argument("--per-image", type=int, default=2)
    args = parser.parse_args()

    source = make_source("kb", canvas=(args.canvas, args.canvas))
    kgs = [source.sample(seed) for seed in range(args.images)]
    renderer = CpuRenderer()
    layout_ms, render_ms, verify_ms = [], [], []
    render_cpu = 0.0
    graphs = []
    unsolved = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for seed, kg in enumerate(kgs):
        t0 = time.perf_counter()
        result = solve_layout(kg, seed)
        t1 = time.perf_counter()
        layout_ms.append((t1 - t0) * 1000)
        if result.graph is None:
            unsolved += 1
            continue
        c1 = time.process_time()
        rendered = renderer.render(result.graph, seed)
        render_cpu += time.process_time() - c1
        t2 = time.perf_counter()
        verified = verify_rendered(rendered.graph)
        t3 = time.perf_counter()
        render_ms.append((t2 - t1) * 1000)
        verify_ms.append((t3 - t2) * 1000)
        if verified.ok:
            graphs.append(verified.graph)
    pipeline_s = time.perf_counter() - started
    pipeline_cpu = time.process_time() - cpu_started

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    forms = (AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE, AnswerForm.YES_NO)
    samples = 0
    for start in range(0, len(graphs), 16):  # the pipeline's shard size
        shard = generate_shard(graphs[start:start + 16], None, args.per_image, forms, 0,
                               GenConfig(), (2, 3))
        samples += len(shard.samples)
    generate_s = time.perf_counter() - t0
    generate_cpu = time.process_time() - cpu0

    def row(name: str, values: list[float]) -> None:
        print(f"  {name:<8} mean {statistics.fmean(values):7.2f} ms   "
              f"median {statistics.median(values):7.2f} ms   max {max(values):7.2f} ms")

    print(f"synth bench: {args.images} KB scenes at {args.canvas}x{args.canvas}, one core")
    row("layout", layout_ms)
    row("render", render_ms)
    row("verify", verify_ms)
    print(f"  unsatisfiable KGs: {unsolved}; verified images: {len(graphs)}")
    print(f"rendered images/s per core (render only, wall):          "
          f"{1000 / statistics.fmean(render_ms):8.1f}")
    print(f"rendered images/s per core (render only, CPU):           "
          f"{len(render_ms) / render_cpu:8.1f}  ({render_cpu / len(render_ms) * 1000:.1f} ms "
          "CPU per image)")
    print(f"rendered images/s per core (layout+render+verify, wall):  "
          f"{len(render_ms) / pipeline_s:8.1f}")
    print(f"rendered images/s per core (layout+render+verify, CPU):   "
          f"{len(render_ms) / pipeline_cpu:8.1f}")
    print(f"generate: {samples} samples from {len(graphs)} images in {generate_s:.2f} s wall "
          f"({generate_cpu:.2f} s CPU) = {samples / generate_s:,.0f} samples/s wall, "
          f"{samples / generate_cpu:,.0f} samples/s CPU")
    total, total_cpu = pipeline_s + generate_s, pipeline_cpu + generate_cpu
    print(f"KG -> QA throughput per core (layout, render, verify, generate): "
          f"{samples / total:,.0f} samples/s wall, {samples / total_cpu:,.0f} samples/s CPU "
          f"({len(graphs) / total_cpu:.1f} images/s CPU)")
    print("(wall figures include waiting for a shared CPU; CPU figures are process time)")


if __name__ == "__main__":
    main()
