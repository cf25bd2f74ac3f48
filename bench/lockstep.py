"""Generation speed of several builds side by side, run in lockstep so each sees the same load.

On a shared 2-core machine, contenders run one after another can see load that differs by 2x
between them. Here every contender runs at the same time as its own process and the driver
hands the CPU to one at a time in 50 ms turns (SIGSTOP / SIGCONT), so each one's CPU seconds
are spent under the same conditions. Each contender times what ``bench/generate.py`` times:
``generate_shard`` over the first ``--clevr`` shared CLEVR scenes and ``--synthetic`` synthetic
40-object graphs, short answers, balance and dedup on, the generators of a439423 (the 33 that
build has; its own bench script lists them as all its single-image generators).

A contender is ``NAME=PYTHONPATH=BENCH``: what goes first on ``PYTHONPATH`` (a source tree's
``src`` or a compiled build's site folder) and that tree's ``bench/generate.py`` (it supplies
the synthetic graphs and the generator list of that tree)::

    python bench/lockstep.py --rounds 3 \\
        --contender old=/tmp/a439423/site=/tmp/a439423/src/bench/generate.py \\
        --contender new=/tmp/new/site=bench/generate.py

Prints each round's QA per CPU-second and each contender's ratio to the first, per round, and
the ratio of graphs per CPU-second (the baseline's CPU time over the contender's on the same
graphs): the speed on equal input, which QA per CPU-s also reflects unless the builds differ in
how many questions they find worth asking (a build that refuses ambiguous questions asks fewer).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLEVR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clevr" / \
    "CLEVR_train_scenes_1000.json"
TURN_S = 0.05


def measure(bench_file: str, n_clevr: int, n_synthetic: int) -> dict[str, object]:
    """QA per CPU-second of the imported build, as ``bench_file`` (a tree's bench/generate.py)
    defines the graphs and the a439423 generator list."""
    spec = importlib.util.spec_from_file_location("tree_bench", bench_file)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from scenesynth.generators.base import GenConfig
    from scenesynth.graph.sample import AnswerForm
    from scenesynth.sources import load

    generators = list(getattr(bench, "A439_GENERATORS", None) or bench.single_image_generators())
    if len(generators) != 33:
        raise SystemExit(f"{bench_file}: expected a439423's 33 generators, got {len(generators)}")
    sets = {"clevr": list(load(CLEVR))[:n_clevr],
            "synthetic": [bench.synthetic_graph(i) for i in range(n_synthetic)]}
    out: dict[str, object] = {"build": bench.build_kind().split(":")[0]}
    for label, graphs in sets.items():
        start = time.process_time()
        result = bench.generate_shard(graphs, generators, 5, (AnswerForm.SHORT,), 0,
                                      GenConfig(), None)
        cpu = time.process_time() - start
        out[label] = len(result.samples) / cpu
        out[label + "_samples"] = len(result.samples)
        out[label + "_cpu_s"] = cpu
    return out


def in_lockstep(commands: list[tuple[str, list[str], dict[str, str]]]) -> dict[str, str]:
    """Run every ``(name, argv, env)`` command at once, each in its own process, started
    stopped; then give each the CPU in turn, ``TURN_S`` at a time, until all have ended.
    Returns each one's standard output (SystemExit naming the first that failed)."""
    procs = []
    for name, argv, env in commands:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        os.kill(proc.pid, signal.SIGSTOP)
        procs.append((name, proc))
    live = list(procs)
    turn = 0
    while live:
        name, proc = live[turn % len(live)]
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(TURN_S)
        if proc.poll() is not None:
            live.remove((name, proc))
            continue
        os.kill(proc.pid, signal.SIGSTOP)
        turn += 1
    outputs = {}
    for name, proc in procs:
        out, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"{name} failed:\n{err}")
        outputs[name] = out
    return outputs


def run_round(contenders: list[tuple[str, str, str]], n_clevr: int, n_synthetic: int,
              ) -> dict[str, dict[str, object]]:
    """Every contender's figures, measured in lockstep."""
    outputs = in_lockstep([
        (name, [sys.executable, __file__, "--child", bench_file, str(n_clevr),
                str(n_synthetic)], dict(os.environ, PYTHONPATH=pythonpath))
        for name, pythonpath, bench_file in contenders])
    return {name: json.loads(out.strip().splitlines()[-1]) for name, out in outputs.items()}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contender", action="append", required=True,
                        help="NAME=PYTHONPATH=BENCH_FILE (the first is the baseline)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clevr", type=int, default=1000)
    parser.add_argument("--synthetic", type=int, default=200)
    args = parser.parse_args()
    contenders: list[tuple[str, str, str]] = []
    for text in args.contender:
        parts = text.split("=", 2)
        if len(parts) != 3:
            parser.error(f"{text!r}: a contender is NAME=PYTHONPATH=BENCH_FILE")
        contenders.append((parts[0], parts[1], parts[2]))
    rounds = []
    for index in range(args.rounds):
        # rotate who starts, so no contender always takes the first turn
        order = contenders[index % len(contenders):] + contenders[:index % len(contenders)]
        result = run_round(order, args.clevr, args.synthetic)
        rounds.append(result)
        for name, figures in result.items():
            print(index, name, figures, flush=True)
    base = contenders[0][0]
    for name, *_ in contenders:
        for label in ("clevr", "synthetic"):
            rates = [float(r[name][label]) for r in rounds]  # type: ignore[arg-type]
            ratios = [float(r[name][label]) / float(r[base][label])  # type: ignore[arg-type]
                      for r in rounds]
            # the same graphs for every contender: CPU time is the speed on equal input; QA
            # per CPU-s also moves with how many questions a build finds worth asking
            speed = [float(r[base][label + "_cpu_s"]) / float(r[name][label + "_cpu_s"])  # type: ignore[arg-type]
                     for r in rounds]
            print(f"{name:>12} {label:>9}: {min(rates):,.0f}-{max(rates):,.0f} QA/CPU-s; "
                  f"vs {base} per round {', '.join(f'{x:.3f}' for x in ratios)} "
                  f"(median {statistics.median(ratios):.3f}); graphs per CPU-s vs {base} "
                  f"{', '.join(f'{x:.3f}' for x in speed)} (median {statistics.median(speed):.3f})")


if __name__ == "__main__":
    main()
