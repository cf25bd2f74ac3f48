"""Real-model check (not in CI): `synth --source llm` against a real model server.

Given a GGUF file, starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (needs
``pip install 'llama-cpp-python[server]'``); given a URL, uses that server. Then runs
``scenesynth synth --source llm`` on a few scenes and prints acceptance rates, rejection and
repair reasons, timings, and a sanity scan of what reached the export (ids as absent objects,
non-objects, sizes far from the knowledge base's).

    python bench/real_llm.py --gguf qwen2.5-coder-0.5b.gguf --scenes 3 --threads 1
    python bench/real_llm.py --url http://127.0.0.1:8000/v1 --model qwen --scenes 5

See the README ("Real models") for assembling the small Qwen2.5-Coder GGUF files from wheels.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from scenesynth.knowledge import load_kb
from scenesynth.knowledge.llm.sanity import SIZE_TOLERANCE, name_problem


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_server(url: str, proc: subprocess.Popen[bytes], limit_s: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        if proc.poll() is not None:
            raise SystemExit(f"llama-cpp-python server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(1.0)
    raise SystemExit(f"server at {url} not up after {limit_s:.0f} s")


def sanity_scan(out: Path) -> dict[str, int]:
    """Nonsense of the kinds issue 24 found, counted in the written graphs."""
    kb = load_kb()
    counts = {"graphs": 0, "objects": 0, "absent_not_a_name": 0, "object_not_an_object": 0,
              "size_far_from_kb": 0, "form_differs_from_kb": 0}
    for line in (out / "graphs.jsonl").read_text().splitlines():
        graph = json.loads(line)
        counts["graphs"] += 1
        for name in graph["meta"].get("absent_objects", []):
            counts["absent_not_a_name"] += name_problem(name, kb) is not None
        for obj in graph["objects"]:
            counts["objects"] += 1
            counts["object_not_an_object"] += name_problem(obj["name"], kb) is not None
            spec = kb.objects.get(obj["name"])
            if spec is not None:
                size = obj["meta"]["real_size"]
                counts["size_far_from_kb"] += any(
                    not s / SIZE_TOLERANCE <= v <= s * SIZE_TOLERANCE
                    for v, s in zip(size, spec.size, strict=True))
                counts["form_differs_from_kb"] += (obj["meta"]["form"], obj["meta"][
                    "placement"]) != (spec.form, spec.placement)
    return counts


def questions(out: Path, n: int) -> list[str]:
    for path in sorted(out.rglob("*.json")):
        if path.name in ("card.json",) or "cache" in path.parts:
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(data, list) and data and "conversations" in data[0]:
            return [f"{r['conversations'][0]['value'].replace('<image>', '').strip()} -> "
                    f"{r['conversations'][1]['value']}" for r in data[:n]]
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gguf", type=Path, help="GGUF model file to serve")
    source.add_argument("--url", help="base URL of a running OpenAI-compatible server")
    parser.add_argument("--model", default="local", help="model name to request")
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--objects", default="3,5")
    parser.add_argument("--threads", type=int, default=1,
                        help="llama.cpp threads (1 on a loaded 2-core machine)")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default="auto")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="real_llm_"))
    server: subprocess.Popen[bytes] | None = None
    startup_s = 0.0
    url = args.url
    if args.gguf is not None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1"
        log = open(out.with_suffix(".server.log"), "wb")  # noqa: SIM115 (lives with the server)
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(args.gguf),
             "--model_alias", args.model, "--host", "127.0.0.1", "--port", str(port),
             "--n_threads", str(args.threads), "--n_ctx", str(args.ctx)],
            stdout=log, stderr=subprocess.STDOUT)
        startup_s = wait_for_server(url, server, 600)
    try:
        cmd = [sys.executable, "-m", "scenesynth", "synth", "--source", "llm",
               "--scenes", str(args.scenes), "--objects", args.objects, "--out", str(out),
               "--seed", str(args.seed), "--workers", "1", "--no-progress",
               "--llm-model", args.model, "--llm-base-url", str(url),
               "--llm-cache-dir", str(out / "cache"), "--llm-timeout", str(args.timeout),
               "--llm-strategy", args.strategy]
        started = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        wall = time.perf_counter() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    print(f"synth exit code {run.returncode} in {wall:.0f} s (server start {startup_s:.0f} s)")
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:])
    card_path = out / "card.json"
    if not card_path.exists():
        raise SystemExit(f"no card.json in {out}")
    card = json.loads(card_path.read_text())
    llm: dict[str, Any] = card["llm"]
    answers = llm["responses_accepted"] + sum(
        v for k, v in llm["rejections"].items()
        if k in ("invalid_json", "schema_invalid", "repetition_loop", "no_usable_objects",
                 "too_few_objects", "scenes_not_diverse", "truncated_at_max_tokens",
                 "empty_response"))
    counts = card["counts"]
    print(f"images {counts['images']} of {counts['images_requested']}, samples "
          f"{counts['samples_exported']}")
    print(f"strategy {llm['strategy']} ({'; '.join(llm['strategy_notes'])})")
    print(f"requests {llm['requests']} (probe {llm['probe_requests']}, wasted "
          f"{llm['wasted_requests']}), cache hits {llm['cache_hits']}")
    if answers:
        print(f"answers accepted {llm['responses_accepted']} of {answers} "
              f"({100 * llm['responses_accepted'] / answers:.0f} %)")
    print(f"latency p50 {llm['latency_s']['p50']} s, p90 {llm['latency_s']['p90']} s, max "
          f"{llm['latency_s']['max']} s; tokens {llm['tokens']}")
    print("retries:", json.dumps(llm["retries"]))
    print("rejections:", json.dumps(llm["rejections"]))
    print("repairs:", json.dumps(llm["repairs"]))
    print("export sanity scan (all 0 is good):", json.dumps(sanity_scan(out)))
    for q in questions(out, 5):
        print("  Q:", q)
    print(f"output in {out}")


if __name__ == "__main__":
    main()
