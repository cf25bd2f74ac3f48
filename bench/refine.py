"""Client throughput of the model roles against a fast scripted server (not in CI).

Starts the scripted teacher / judge / editor server of tests/support/refine_server.py in its own
process on 127.0.0.1 (answers after a fixed latency, 5 ms by default), then sends N judge
questions (each with a marked PNG image part) through :class:`ClientBackend` at 1, 16 and 64
requests in flight, each level with a fresh answer cache; then sends the 64-level batch again
over its cache, which must send zero requests.

    python bench/refine.py --requests 2000 --latency-ms 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scenesynth.graph import Box, ImageInfo, SceneGraph, SceneObject
from scenesynth.models.llm import LLMConfig
from scenesynth.models.review import ClientBackend, Judge

REPO = Path(__file__).resolve().parents[1]

SERVER = """
import sys, time
sys.path.insert(0, {tests!r})
from refine_server import RoleServer
with RoleServer(delay_s={delay}, max_requests=10**7, lifetime_s={life}) as s:
    print(s.base_url, flush=True)
    time.sleep({life})
"""


def graph() -> SceneGraph:
    return SceneGraph(image=ImageInfo(id="bench", width=64, height=64), objects=[
        SceneObject(id="a", name="person", box=Box(x0=4, y0=4, x1=30, y1=60)),
        SceneObject(id="b", name="dog", box=Box(x0=34, y0=30, x1=60, y1=60)),
    ])


def run_level(url: str, n: int, in_flight: int, cache: str) -> dict[str, float]:
    backend = ClientBackend(LLMConfig(model="judge", base_url=url, strategy="json_schema",
                                      concurrency=in_flight, cache_dir=cache, stream=False,
                                      max_attempts=2, backoff_s=0.0, temperature=0.0,
                                      max_tokens=64, breaker_failures=10**6))
    judge = Judge(backend)
    g = graph()
    # distinct predicates: distinct requests (the cache would answer repeats)
    asks = [judge.relation_ask(g, "a", f"walking dog number {i}", "b") for i in range(n)]
    started, cpu = time.perf_counter(), time.process_time()
    answers = judge.verdicts(asks)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu  # this process only: the server runs in its own
    ok = sum(1 for a in answers if not isinstance(a, Exception))
    return {"in_flight": in_flight, "requests": backend.stats.requests,
            "answered": ok, "seconds": round(seconds, 3),
            "requests_per_s": round(backend.stats.requests / seconds, 1) if seconds else 0.0,
            "answers_per_s": round(ok / seconds, 1),
            "client_cpu_ms_per_request": (round(1000 * cpu / backend.stats.requests, 2)
                                          if backend.stats.requests else None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--levels", default="1,16,64")
    args = parser.parse_args()
    support = REPO / "tests" / "support"
    code = SERVER.format(tests=str(support), delay=args.latency_ms / 1000, life=600)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{support}"}
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env,
                              text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        results = []
        with tempfile.TemporaryDirectory(prefix="bench-refine-") as tmp:
            for level in (int(x) for x in args.levels.split(",")):
                # fewer requests at 1 in flight: its rate is latency-bound anyway
                n = args.requests if level > 1 else min(args.requests, 300)
                cache = str(Path(tmp) / f"cache-{level}")
                results.append(run_level(url, n, level, cache))
                print(json.dumps(results[-1]), flush=True)
            top = max(int(x) for x in args.levels.split(","))
            again = run_level(url, args.requests, top, str(Path(tmp) / f"cache-{top}"))
            again["rerun_over_cache"] = 1
            print(json.dumps(again), flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
