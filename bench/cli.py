"""The whole ``scenesynth generate`` command, end to end: samples per CPU-second, peak RSS.

Writes ``--graphs`` synthetic 40-object graphs (``bench/generate.py``'s ``synthetic_graph``)
to one JSONL source file once, then runs ``scenesynth generate --source FILE --format llava``
(shards, export, validation, dataset card and its plots: everything the command does) once per
contender and round, alternating the contenders (A, B, A, B, ...), each in a fresh process.
CPU is the command's process time including its workers' (``wait4`` on the command), so the
figure does not depend on how many cores were free. Each run's output folder is removed after
it is measured (a 10,000-graph run writes about 22 GB); the sha256 of its export file and card
is printed, so contenders that must agree byte for byte can be compared.

A contender is ``NAME=PATH``: PATH goes first on ``PYTHONPATH`` (a source tree's ``src``, or a
compiled build's site folder, ``pip install --no-deps --target SITE WHEEL``). Ratios are each
contender's samples per CPU-second over the first's, paired by round.

Usage::

    python bench/cli.py --contender old=/tmp/old/site --contender new=src \\
        [--graphs 1000] [--rounds 2] [--workers N] [--shard-size N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The console script's entry point, called the same way for every contender (a compiled build
# installed with --target has no __main__ module in some older trees).
ENTRY = "import sys; sys.argv[0] = 'scenesynth'; from scenesynth.cli import main; main()"
DIGESTED = ("export/data.json", "export/data_multi_image.json", "card.json")


def write_source(path: Path, n: int) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    from generate import synthetic_graph

    from scenesynth.graph import graph_to_json

    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(graph_to_json(synthetic_graph(i)) + "\n")


def digest(out: Path) -> str:
    h = hashlib.sha256()
    for name in DIGESTED:
        path = out / name
        if path.is_file():
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def run_once(path: str, source: Path, out: Path, args: argparse.Namespace) -> dict[str, object]:
    """One ``generate`` run in a fresh process: its CPU seconds (with its workers'), wall
    seconds, peak RSS of its largest process, samples and output digest."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-c", ENTRY, "generate", "--source", str(source), "--format",
           "llava", "--out", str(out), "--no-progress"]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    if args.shard_size:
        cmd += ["--shard-size", str(args.shard_size)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(path).resolve()), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{errors.decode()}")
    summary = json.loads((out / "summary.json").read_text())
    result = {
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,
        "samples": summary["samples"],
        "digest": digest(out),
    }
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--graphs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0, help="0: the command's default")
    parser.add_argument("--shard-size", type=int, default=0, help="0: the command's default")
    parser.add_argument("--keep", default="", help="write sources and outputs here, kept")
    args = parser.parse_args(argv)
    contenders = [c.split("=", 1) for c in args.contender]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-cli-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        source = work / f"synthetic-{args.graphs}.jsonl"
        if not source.is_file():
            write_source(source, args.graphs)
        rates: dict[str, list[float]] = {name: [] for name, _ in contenders}
        for round_ in range(args.rounds):
            for name, path in contenders:
                r = run_once(path, source, work / f"out-{name}", args)
                rate = float(r["samples"]) / float(r["cpu"])  # type: ignore[arg-type]
                rates[name].append(rate)
                print(f"round {round_ + 1} {name:>10}: {r['samples']} samples, "
                      f"{r['cpu']:.1f} CPU-s, {r['wall']:.1f} s wall, {rate:,.0f} samples/CPU-s, "
                      f"peak RSS {r['rss_mb']:.0f} MB, digest {r['digest']}", flush=True)
        base = contenders[0][0]
        for name, _ in contenders[1:]:
            ratios = [new / old for new, old in zip(rates[name], rates[base], strict=True)]
            print(f"{name} / {base}: " + ", ".join(f"{x:.2f}x" for x in ratios)
                  + f" (samples per CPU-s, {args.graphs} graphs, paired by round)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
