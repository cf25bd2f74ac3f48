"""Model refinement inside ``scenesynth run``: a run config's ``refine`` section names the
teacher / judge / editor (here the scripted server of tests/support/refine_server.py on
127.0.0.1), so
the one engine loads the shared Visual Genome sample, refines it with the models and generates;
the answer cache makes a re-run send no request."""

from __future__ import annotations

import json
from pathlib import Path

from refine_server import RoleServer
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.sources import load

VG = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "visual_genome"


def _config(path: Path, out: Path, url: str, cache: Path) -> Path:
    path.write_text(
        f"source: {VG}\nout: {out}\n"
        "generators: [relation_caption, relation_predicate_query, relation_verify]\n"
        "per_image: 50\nprogress: false\nworkers: 1\n"
        "refine:\n"
        f"  teacher: openai:teacher@{url}\n  judge: openai:judge@{url}\n"
        f"  editor: openai:editor@{url}\n  k: 3\n  backoff_s: 0\n  cache_dir: {cache}\n")
    return path


def _triples(out: Path) -> tuple[set[tuple[str, ...]], bytes]:
    shards = sorted((out / "shards").glob("samples-*.jsonl"))
    data = b"".join(p.read_bytes() for p in shards)
    triples = {tuple(r) for line in data.decode().splitlines()
               for r in json.loads(line)["provenance"]["relations"]}
    return triples, data


def test_run_refines_with_models_and_reruns_from_cache(tmp_path: Path) -> None:
    annotated = {(r.subject, r.predicate, r.object) for g in load(VG) for r in g.relations}
    cache = tmp_path / "llm-cache"
    runner = CliRunner()
    with RoleServer() as server:
        config = _config(tmp_path / "run.yaml", tmp_path / "out", server.base_url, cache)
        result = runner.invoke(app, ["run", "--config", str(config)])
        assert result.exit_code == 0, result.output
        first = len(server.requests)
        assert first > 0 and server.missing_images == 0
        triples, data = _triples(tmp_path / "out")
        # questions about relations the teacher proposed and a check kept (source=model)
        assert triples - annotated, "no sample uses a model relation"

        # the same command again: shards resume, and no request is sent
        again = runner.invoke(app, ["run", "--config", str(config)])
        assert again.exit_code == 0, again.output
        assert len(server.requests) == first

        # a fresh output folder over the same answer cache: same samples, zero requests
        config2 = _config(tmp_path / "run2.yaml", tmp_path / "out2", server.base_url, cache)
        fresh = runner.invoke(app, ["run", "--config", str(config2)])
        assert fresh.exit_code == 0, fresh.output
        assert len(server.requests) == first
        assert _triples(tmp_path / "out2")[1] == data


def test_run_with_unreachable_model_server_stops_with_the_reason(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on (127.0.0.1 only)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _config(tmp_path / "run.yaml", tmp_path / "out", f"http://127.0.0.1:{port}/v1",
                     tmp_path / "cache")
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code != 0
    assert "stage 'refine' failed on 5 of 5 records" in result.output
    failures = [json.loads(line) for p in (tmp_path / "out" / "shards").glob("*fail*")
                for line in p.read_text().splitlines()]
    assert failures and all("cannot reach the LLM server" in f["error"] for f in failures)
