"""QC figures of ``write-questions`` on the shared CLEVR scenes.

Two writers:

* ``--scripted`` (default): the scripted OpenAI-compatible server of the tests
  (``tests/support/scripted_llm.py``: six questions per scene, one good, one of wrong type, one
  trivial, one whose independent solvers disagree, one the template engine contradicts, one
  near duplicate), on 127.0.0.1. The figures must equal the drops worked out from the scenes'
  object names; the script says so or fails.
* ``--server URL --model NAME``: any OpenAI-compatible server (e.g. llama.cpp's server with a
  Qwen2.5-Coder GGUF); prints the pass rate, the drops by reason and a few kept examples.

Usage::

    python bench/write_questions.py [--scenes 200] [--probes 4]
    python bench/write_questions.py --server http://127.0.0.1:8080/v1 --model qwen --scenes 50
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from scenesynth.authoring.writer import OpenAIWriter
from scenesynth.graph import write_graphs_jsonl
from scenesynth.pipeline.write_questions import WriteQuestionsConfig, WriteQuestionsError, run
from scenesynth.sources import load

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--probes", type=int, default=4)
    parser.add_argument("--server", help="OpenAI-compatible base URL (default: scripted)")
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--questions-per-graph", type=int, default=None)
    parser.add_argument("--agreement", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    args = parser.parse_args()

    graphs = list(itertools.islice(load(DATA / "clevr" / "CLEVR_train_scenes_1000.json"),
                                   args.scenes))
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from scripted_llm import QC_SCRIPT, ScriptedLLM, qc_expected, qc_respond

    per_graph = args.questions_per_graph or (len(QC_SCRIPT) if not args.server else 2)
    config = WriteQuestionsConfig(questions_per_graph=per_graph, probe_scenes=args.probes,
                                  agreement=args.agreement,
                                  cache_dir=str(Path.home() / ".cache" / "scenesynth" /
                                                "write_questions") if args.server else None)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "graphs.jsonl"
        write_graphs_jsonl(graphs, source)
        start = time.perf_counter()
        if args.server:
            writer = OpenAIWriter(args.model, args.server, max_tokens=512,
                                  timeout_s=args.timeout, transport_retries=0)
            try:
                card = run(source, writer, Path(tmp) / "out", config)
            except WriteQuestionsError as exc:  # nothing kept: the card is written all the same
                print(f"no sample kept: {exc}")
                card = json.loads((Path(tmp) / "out" / "card.json").read_text())
        else:
            with ScriptedLLM(qc_respond, max_requests=100_000, lifetime_s=3600) as server:
                card = run(source, OpenAIWriter("scripted", server.url, api_key="bench"),
                           Path(tmp) / "out", config)
        seconds = time.perf_counter() - start
        examples = [json.loads(line) for line in
                    (Path(tmp) / "out" / "samples.jsonl").read_text().splitlines()[:3]]
        drops = [json.loads(line) for line in
                 (Path(tmp) / "out" / "drops.jsonl").read_text().splitlines()]
    counts, qc = card["counts"], card["qc"]
    share = counts["samples"] / max(counts["questions_written"], 1)
    print(f"scenes {counts['graphs']}, questions written {counts['questions_written']}, "
          f"kept {counts['samples']} ({share:.1%}), program executions "
          f"{counts['program_executions']}, {seconds:.1f} s")
    print(f"drops by reason: {card['drops_by_reason']}")
    print(f"agreement: {qc['agreement_passed']} of {qc['agreement_checked']} "
          f"({qc['agreement_rate']}); template checks: {qc['template_checked']}")
    div = card["diversity"]
    print(f"distinct 3-grams per 1,000 questions: LLM-written "
          f"{div['llm_distinct_3grams_per_1000_questions']}, template "
          f"{div['template_distinct_3grams_per_1000_questions']}")
    for e in examples:
        print(f"  kept: {e['question']} -> {e['answer']}")
    for d in drops[:5]:
        print(f"  dropped ({d['reason']}): {d['question']!r} {d['detail'][:120]!r}")
    if not args.server:
        expected = qc_expected([[o.name for o in g.objects] for g in graphs], args.probes)
        assert card["drops_by_reason"] == dict(
            sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))), expected
        print("drops equal the scripted defects exactly")


if __name__ == "__main__":
    main()
