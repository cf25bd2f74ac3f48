"""``annotate --engine ray``: each model role is a Ray actor pool with the resources its config
declares, and the output bytes equal the local engine's (shards, graphs.jsonl, failures.jsonl,
notes.jsonl, depth maps) on the shared COCO photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_annotate import FAKES, _annotate, _yaml, tiny_models  # noqa: F401 (fixture)

ray = pytest.importorskip("ray", reason='Ray is not installed; CI needs: pip install '
                          '"scenesynth[ray]"')

from scenesynth.annotate.config import (  # noqa: E402
    AnnotateConfigError,
    RoleResources,
    role_resources,
)

pytestmark = pytest.mark.ray
COCO = "coco_panoptic"


@pytest.fixture(scope="module")
def ray_local() -> object:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _output(out: Path) -> dict[str, bytes]:
    names = ["graphs.jsonl", "failures.jsonl", "notes.jsonl"]
    files = {n: (out / n).read_bytes() for n in names}
    files.update({p.relative_to(out).as_posix(): p.read_bytes()
                  for p in sorted((out / "shards").iterdir())})
    files.update({p.relative_to(out).as_posix(): np.load(p).tobytes()
                  for p in sorted((out / "depth").glob("*.npy"))})
    return files


def _images(folder: Path, shared_data: Path) -> Path:
    """The two COCO photos, a CMYK copy of one (a note) and an unreadable file (a failure)."""
    folder.mkdir()
    for jpg in sorted((shared_data / COCO).glob("*.jpg")):
        (folder / jpg.name).write_bytes(jpg.read_bytes())
    Image.open(folder / "000000142238.jpg").convert("CMYK").save(folder / "cmyk.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    return folder


def test_role_resources_default_to_one_gpu_on_cuda_only() -> None:
    got = role_resources({"detector": {"backend": "fake", "device": "cuda:0"},
                          "depth": {"backend": "fake", "device": "cpu", "replicas": 2},
                          "segmenter": {"backend": "fake", "device": "cuda",
                                        "num_gpus": 0.5, "num_cpus": 2}})
    assert got == {"detector": RoleResources(num_gpus=1.0),
                   "depth": RoleResources(num_gpus=0.0, replicas=2),
                   "segmenter": RoleResources(num_gpus=0.5, num_cpus=2.0)}
    with pytest.raises(AnnotateConfigError, match="depth: num_gpus and num_cpus"):
        role_resources({"depth": {"backend": "fake", "replicas": 0}})


def test_fake_roles_on_ray_actor_pools_write_the_local_bytes(ray_local, tmp_path, shared_data):
    images = _images(tmp_path / "images", shared_data)
    # 1.75 of the 2 CPUs: actors hold their CPUs for the run
    cfg = {**FAKES, "batch_size": 1, "shard_size": 2,
           "tagger": {**FAKES["tagger"], "num_cpus": 0.25},
           "segmenter": {"backend": "fake", "num_cpus": 0.25},
           "detector": {"backend": "fake", "rows": 2, "cols": 2, "cost_s": 0.02,
                        "replicas": 2, "num_cpus": 0.5},
           "depth": {"backend": "fake", "num_cpus": 0.25}}
    outs = {}
    for engine in ("local", "ray"):
        # the same --out for both (graphs hold depth-map paths relative to the image root)
        out = tmp_path / "out"
        _annotate(str(images), "--out", str(out), "-c", str(_yaml(tmp_path / "a.yaml", cfg)),
                  "--image-root", str(tmp_path), "--engine", engine)
        outs[engine] = _output(out)
        out.rename(tmp_path / engine)
    assert outs["ray"] == outs["local"]
    assert len(outs["local"]["graphs.jsonl"].splitlines()) == 3
    assert b"converted.cmyk" in outs["local"]["notes.jsonl"]
    assert b"broken.png" in outs["local"]["failures.jsonl"]
    # the declared resources reached Ray: what each actor was assigned, as Ray reports it
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["engine"] == "ray"
    assert summary["ray"]["detector"]["replicas"] == 2
    assert summary["ray"]["detector"]["assigned"] == [{"CPU": 0.5}, {"CPU": 0.5}]
    assert summary["ray"]["depth"]["assigned"] == [{"CPU": 0.25}]
    assert summary["ray"]["segmenter"]["assigned"] == [{"CPU": 0.25}]
    # a run may resume on the other engine: the manifest does not depend on it
    assert (tmp_path / "ray" / "manifest.json").read_bytes() == (
        tmp_path / "local" / "manifest.json").read_bytes()


def test_a_gpu_role_without_a_gpu_is_refused_in_one_line(ray_local, tmp_path, shared_data):
    images = _images(tmp_path / "images", shared_data)
    cfg = _yaml(tmp_path / "a.yaml", {**FAKES, "engine": "ray",
                                      "detector": {"backend": "fake", "num_gpus": 1}})
    from typer.testing import CliRunner

    from scenesynth.cli import app

    result = CliRunner().invoke(app, ["annotate", str(images), "--out", str(tmp_path / "o"),
                                      "-c", str(cfg)])
    assert result.exit_code == 2, result.output
    assert "the role pools need 4 CPU and 1 GPU but the Ray cluster has 2 CPU and 0 GPU" in (
        " ".join(result.output.split()))


@pytest.mark.slow
def test_tiny_models_on_ray_actor_pools_write_the_local_bytes(ray_local, tmp_path, shared_data,
                                                              tiny_models):  # noqa: F811
    images = _images(tmp_path / "images", shared_data)
    cfg = {"batch_size": 2, "shard_size": 2,
           "tagger": {"backend": "fixed", "names": ["person", "horse"], "num_cpus": 0.25},
           "detector": {"backend": "transformers", "model": str(tiny_models["owlv2"]),
                        "score_threshold": 0.0, "max_objects": 3, "device": "cpu",
                        "num_cpus": 0.5},
           "segmenter": {"backend": "sam", "model": str(tiny_models["sam"]), "device": "cpu",
                         "mask_threshold": -1.0, "num_cpus": 0.5},
           "depth": {"backend": "transformers", "model": str(tiny_models["depth"]),
                     "device": "cpu", "num_cpus": 0.5}}
    import torch

    outs = {}
    # Ray gives an actor with num_cpus <= 1 one math thread (OMP_NUM_THREADS=1); float sums
    # over another thread count differ in the last bit, so the local run uses one thread too.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for engine in ("local", "ray"):
            out = tmp_path / "out"
            _annotate(str(images), "--out", str(out), "-c",
                      str(_yaml(tmp_path / "a.yaml", cfg)), "--image-root", str(tmp_path),
                      "--engine", engine)
            outs[engine] = _output(out)
            out.rename(tmp_path / engine)
    finally:
        torch.set_num_threads(threads)
    assert outs["ray"] == outs["local"]
    graphs = [json.loads(line) for line in outs["ray"]["graphs.jsonl"].splitlines()]
    assert len(graphs) == 3 and all(g["objects"] for g in graphs)
