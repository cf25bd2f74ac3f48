"""Inspect the knowledge base and sample KGs from the command line.

    python -m scenesynth.knowledge stats
    python -m scenesynth.knowledge sample --seed 0 --count 5 [--source llm] [--out kgs.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from scenesynth.graph.io import graph_to_json, write_graphs_jsonl
from scenesynth.knowledge.kb import load_kb
from scenesynth.knowledge.source import make_source, sample_many


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenesynth.knowledge")
    sub = parser.add_subparsers(dest="command", required=True)
    stats = sub.add_parser("stats", help="print the knowledge base's size")
    stats.add_argument("--kb-dir", default=None, help="a knowledge-base directory to validate")
    sample = sub.add_parser("sample", help="sample KGs and print them (or write JSONL)")
    sample.add_argument("--source", choices=("kb", "llm"), default="kb")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--count", type=int, default=1)
    sample.add_argument("--out", default=None, help="write the graphs to this JSONL file")
    args = parser.parse_args(argv)

    if args.command == "stats":
        print(json.dumps(asdict(load_kb(args.kb_dir).stats()), indent=2))
        return 0
    source = make_source(args.source)
    report = sample_many(source, range(args.seed, args.seed + args.count))
    if args.out:
        write_graphs_jsonl(report.graphs, args.out)
    else:
        for graph in report.graphs:
            print(graph_to_json(graph))
    for seed, error in report.failures:
        print(f"seed {seed} failed: {error}", file=sys.stderr)
    print(f"{report.n_ok} graphs, {report.n_failed} failed", file=sys.stderr)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
