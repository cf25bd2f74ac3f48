"""Program executions per second: the warm sandbox pool vs a new worker per program (forked
from the fork server, hardened) vs a fresh interpreter per program vs bare ``exec`` in this
process, for a typical 20-line question program over the shared CLEVR
scenes, every guard on (AST gate, restricted builtins, rlimits, seccomp, network namespace and
uid drop where the machine allows them; the line "layers" says which ones it had).

Target: warm pool >= 1,000 runs/s on 2 cores. The machine is shared, so a pure-Python
calibration loop (iterations/s) is printed beside the figures.

Usage::

    python bench/sandbox.py [--runs 4000] [--fresh 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import builtins
import itertools
import time
from pathlib import Path

from scenesynth.authoring.api import Scene, scene_payload
from scenesynth.authoring.sandbox import Job, SandboxConfig, SandboxPool
from scenesynth.sources import load

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A typical written program: 20 lines, filters, geometry through the shared rules, a count.
PROGRAM = '''\
import math

def answer(scene):
    """How many metal objects are behind the largest rubber object?"""
    rubber = [o for o in scene.objects if o.attribute("material") == "rubber"]
    if not rubber:
        return 0
    order = {"small": 0, "large": 1}
    anchor = max(rubber, key=lambda o: (order.get(o.attribute("size"), 0), o.id))
    count = 0
    for o in scene.objects:
        if o is anchor or not o.has("metal"):
            continue
        if scene.spatial(o, anchor, "behind") is True:
            count += 1
    near = [o for o in scene.objects if o is not anchor and scene.distance(o, anchor) is not None
            and scene.distance(o, anchor) < 3.0]
    if len(near) > 100:
        return -1
    return count + 0 * math.floor(len(near) / 10)
'''


def calibration(seconds: float = 0.5) -> float:
    """Iterations per second of a pure-Python loop (how loaded the machine is right now)."""
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(10_000):
            n += 1
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--fresh", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    assert len(PROGRAM.strip().splitlines()) == 20

    graphs = list(itertools.islice(load(DATA / "clevr" / "CLEVR_train_scenes_1000.json"), 100))
    payloads = [scene_payload(g) for g in graphs]
    jobs = [Job(PROGRAM, payloads[i % len(payloads)]) for i in range(args.runs)]
    print(f"calibration: {calibration() / 1e6:.1f} M loop iterations/s")

    # bare exec in this process: no guard at all
    code = compile(PROGRAM, "<program>", "exec")
    start = time.perf_counter()
    bare_answers = []
    for job in jobs:
        namespace = {"__builtins__": builtins}
        exec(code, namespace)  # the unguarded baseline
        bare_answers.append(namespace["answer"](Scene(job.scene)))
    bare = args.runs / (time.perf_counter() - start)

    with SandboxPool(SandboxConfig(workers=args.workers)) as pool:
        print(f"layers: {pool.layers}")
        pool.run_many(jobs[:200])  # warm: scenes cached, program compiled
        start = time.perf_counter()
        results = pool.run_many(jobs)
        warm = args.runs / (time.perf_counter() - start)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert [r.value for r in results] == bare_answers

    # a new worker per program, forked from the warm fork server (the cost of replacing a
    # worker a hostile program killed)
    with SandboxPool(SandboxConfig(workers=args.workers, jobs_per_worker=1)) as forking:
        n = min(args.runs, 300)
        start = time.perf_counter()
        assert all(r.ok for r in forking.run_many(jobs[:n]))
        forked = n / (time.perf_counter() - start)

    start = time.perf_counter()
    for job in jobs[:args.fresh]:
        with SandboxPool(SandboxConfig(workers=1)) as fresh_pool:
            assert fresh_pool.run_many([job])[0].ok
    fresh = args.fresh / (time.perf_counter() - start)

    print(f"warm pool ({args.workers} workers, every guard): {warm:,.0f} runs/s")
    print(f"new forked worker per program:          {forked:,.0f} runs/s")
    print(f"fresh interpreter per program:          {fresh:,.1f} runs/s")
    print(f"bare exec in this process (no guard):    {bare:,.0f} runs/s")
    print(f"calibration: {calibration() / 1e6:.1f} M loop iterations/s")


if __name__ == "__main__":
    main()
