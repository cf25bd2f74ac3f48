"""``scenesynth annotate``: photos -> scene graphs with model roles, checked on what the user
gets (graphs.jsonl, failures.jsonl, depth maps, the generate/validate verbs on the result)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from scenesynth.annotate.pipeline import decode_mask
from scenesynth.cli import app
from scenesynth.graph.io import graph_from_json
from scenesynth.models.roles import box_pixels

COCO = "coco_panoptic"
runner = CliRunner()


def _graphs(out: Path) -> list:
    return [graph_from_json(line) for line in (out / "graphs.jsonl").read_bytes().splitlines()]


def _yaml(path: Path, data: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data))
    return path


def _annotate(*args: str) -> None:
    result = runner.invoke(app, ["annotate", *args])
    assert result.exit_code == 0, result.output


@pytest.fixture
def photos(tmp_path: Path, shared_data: Path) -> Path:
    """The two COCO photos and two scikit-image photos, in one folder."""
    skimage_data = pytest.importorskip("skimage.data")
    folder = tmp_path / "photos"
    folder.mkdir()
    for jpg in sorted((shared_data / COCO).glob("*.jpg")):
        (folder / jpg.name).write_bytes(jpg.read_bytes())
    Image.fromarray(skimage_data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(skimage_data.coffee()).save(folder / "coffee.jpg")
    return folder


def test_replayed_coco_annotations_give_the_coco_loaders_graphs(tmp_path, shared_data, photos):
    from scenesynth.sources import load

    coco = str(shared_data / COCO / "panoptic_coco_detection_format.json")
    replay = {"backend": "replay", "source": coco}
    cfg = _yaml(tmp_path / "annotate.yaml", {"tagger": replay, "detector": replay,
                                            "segmenter": replay})
    out = tmp_path / "out"
    _annotate(*[str(p) for p in sorted(photos.glob("0*.jpg"))], "--out", str(out),
              "-c", str(cfg))
    got = {Path(g.image.path).name: g for g in _graphs(out)}
    expected = {g.image.path: g for g in load(coco)}
    assert set(got) == set(expected) == {"000000142238.jpg", "000000439180.jpg"}

    def key(o):
        return (o.name, o.box.as_tuple(), decode_mask(o.mask).tobytes())

    for name, graph in got.items():
        assert sorted(map(key, graph.objects)) == sorted(map(key, expected[name].objects))
        assert (graph.image.width, graph.image.height) == (expected[name].image.width,
                                                           expected[name].image.height)
        for obj in graph.objects:
            assert set(obj.provenance) == {"name", "box", "mask"}
            assert obj.provenance["box"].model == "replay:panoptic_coco_detection_format.json"


def test_replayed_stereo_disparity_orders_objects_by_depth(tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    left, _, disparity = skimage_data.stereo_motorcycle()
    images, maps = tmp_path / "images", tmp_path / "maps"
    images.mkdir()
    maps.mkdir()
    Image.fromarray(left).save(images / "motorcycle.png")
    np.save(maps / "motorcycle.npy", disparity)
    # Hand-picked boxes (pixels of the 741x500 left view), nearest first.
    boxes = {"floor": (0, 450, 120, 500), "wheel": (510, 280, 680, 450),
             "shelf box": (530, 60, 640, 100), "wall": (180, 0, 280, 70)}
    truth = tmp_path / "truth.jsonl"
    truth.write_text(json.dumps({
        "image": {"id": "motorcycle", "width": 741, "height": 500, "path": "motorcycle.png"},
        "objects": [{"id": n, "name": n, "box": dict(zip(("x0", "y0", "x1", "y1"), b,
                                                          strict=True))}
                    for n, b in boxes.items()]}) + "\n")
    replay = {"backend": "replay", "source": str(truth)}
    cfg = _yaml(tmp_path / "annotate.yaml", {
        "tagger": replay, "detector": replay,
        "depth": {"backend": "replay", "maps": str(maps), "kind": "disparity"}})
    out = tmp_path / "out"
    _annotate(str(images), "--out", str(out), "-c", str(cfg))
    (graph,) = _graphs(out)
    by_depth = sorted(graph.objects, key=lambda o: o.depth)
    assert [o.name for o in by_depth] == ["floor", "wheel", "shelf box", "wall"]
    assert graph.meta["depth"] == {"model": "replay:maps", "kind": "relative"}
    stored = np.load(tmp_path / graph.image.depth_map)
    wall = graph.object("3")
    rows, cols = box_pixels(wall.box, *stored.shape)
    assert wall.depth == pytest.approx(float(np.nanmedian(stored[rows, cols])))


def _bad_images(folder: Path, shared_data: Path) -> dict[str, str]:
    """Write the bad and odd images; return file name -> expected failure reason (or "" when
    the image must be annotated after conversion)."""
    jpg = (shared_data / COCO / "000000439180.jpg").read_bytes()
    (folder / "corrupt.jpg").write_bytes(jpg[:200] + b"\x00" * 500 + jpg[700:2000])
    png = folder / "full.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(png)
    data = png.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    png.unlink()
    Image.new("RGB", (1, 1)).save(folder / "pixel.png")
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).save(
        folder / "sixteen.png")
    pal = Image.new("P", (64, 48), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.info["transparency"] = 0
    pal.save(folder / "palette_alpha.png", transparency=0)
    Image.new("L", (12000, 9000)).save(folder / "bomb.png", optimize=False)
    return {"corrupt.jpg": "unreadable", "truncated.png": "unreadable",
            "pixel.png": "too_small", "bomb.png": "too_large", "missing.jpg": "unreadable",
            "cmyk.jpg": "", "sixteen.png": "", "palette_alpha.png": ""}


FAKES = {"tagger": {"backend": "fixed", "names": ["thing", "stuff"]},
         "detector": {"backend": "fake", "rows": 2, "cols": 2},
         "segmenter": {"backend": "fake"}, "depth": {"backend": "fake"}}


def test_bad_images_are_reported_and_the_rest_annotated(tmp_path, shared_data):
    folder = tmp_path / "images"
    folder.mkdir()
    expected = _bad_images(folder, shared_data)
    (folder / "good.jpg").write_bytes((shared_data / COCO / "000000142238.jpg").read_bytes())
    cfg = _yaml(tmp_path / "annotate.yaml", FAKES)
    out = tmp_path / "out"
    listing = tmp_path / "list.jsonl"
    listing.write_text("".join(json.dumps({"path": f"images/{n}"}) + "\n"
                               for n in [*expected, "good.jpg"]))
    _annotate(str(listing), "--out", str(out), "-c", str(cfg))
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    reasons = {Path(f["file"]).name: f["reason"] for f in failures}
    assert reasons == {n: r for n, r in expected.items() if r}
    assert all(f["error"] and f["stage"] == "annotate" for f in failures)
    annotated = {Path(g.image.path).name: g for g in _graphs(out)}
    assert set(annotated) == {"good.jpg", "cmyk.jpg", "sixteen.png", "palette_alpha.png"}
    assert annotated["cmyk.jpg"].meta["image_mode"] == "CMYK"
    for graph in annotated.values():
        assert len(graph.objects) == 4 and all(o.mask and o.depth for o in graph.objects)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failures"] == 5 and summary["graphs"] == 4
    # the odd-but-valid images are annotated, and each conversion is reported with its file
    notes = [json.loads(line) for line in (out / "notes.jsonl").read_text().splitlines()]
    assert {Path(n["file"]).name: n["reason"] for n in notes} == {
        "cmyk.jpg": "converted.cmyk", "sixteen.png": "converted.16bit",
        "palette_alpha.png": "converted.palette_alpha"}
    assert all(n["severity"] == "note" and n["error"] and n["record_id"] for n in notes)
    assert summary["converted"] == {"16bit": 1, "cmyk": 1, "palette_alpha": 1}


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_gives_identical_output(tmp_path, shared_data):
    folder = tmp_path / "images"
    folder.mkdir()
    photo = Image.open(shared_data / COCO / "000000439180.jpg").resize((160, 90))
    for i in range(12):
        photo.rotate(i * 7).save(folder / f"img{i:02d}.png")
    _bad_images(folder, shared_data)
    (folder / "bomb.png").unlink()  # keep the run short
    cfg = {**FAKES, "detector": {"backend": "fake", "cost_s": 0.15}, "shard_size": 2,
           "batch_size": 2}
    config = _yaml(tmp_path / "annotate.yaml", cfg)
    # The same --out for both runs (graphs name depth maps by their path under the root).
    killed, reference = tmp_path / "out", tmp_path / "reference"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    base = [sys.executable, "-m", "scenesynth", "annotate", str(folder), "-c", str(config)]
    subprocess.run([*base, "--out", str(killed)], check=True, env=env, capture_output=True)
    killed.rename(reference)
    proc = subprocess.Popen([*base, "--out", str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list((killed / "shards").glob("graphs-00000[2-9].jsonl")):
        assert time.monotonic() < deadline and proc.poll() is None, "no shard before the kill"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "graphs.jsonl").exists()
    subprocess.run([*base, "--out", str(killed)], env=env, capture_output=True,
                            text=True, check=True)
    assert json.loads((killed / "summary.json").read_text())["shards_skipped"] >= 2
    for name in ("graphs.jsonl", "failures.jsonl"):
        assert (killed / name).read_bytes() == (reference / name).read_bytes(), name
    for npy in sorted((reference / "depth").glob("*.npy")):
        assert np.array_equal(np.load(npy), np.load(killed / "depth" / npy.name))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("transformers")
    from tiny_annotators import build_tiny_depth_anything, build_tiny_owlv2, build_tiny_sam
    from tiny_vlm import build_tiny_llava

    root = tmp_path_factory.mktemp("tiny_annotators")
    return {"owlv2": build_tiny_owlv2(root), "sam": build_tiny_sam(root),
            "depth": build_tiny_depth_anything(root),
            "vlm": build_tiny_llava(root / "llava")}


@pytest.mark.slow
def test_tiny_transformers_models_annotate_photos_then_generate(tmp_path, photos, tiny_models):
    vlm = {"backend": "vlm", "model": f"hf:{tiny_models['vlm']}", "max_tokens": 8,
           "device": "cpu"}
    cfg = _yaml(tmp_path / "annotate.yaml", {
        "batch_size": 2, "shard_size": 2,
        "tagger": {"backend": "fixed", "names": ["person", "horse", "cup"]},
        "detector": {"backend": "transformers", "model": str(tiny_models["owlv2"]),
                     "score_threshold": 0.0, "max_objects": 4, "device": "cpu"},
        "segmenter": {"backend": "sam", "model": str(tiny_models["sam"]), "device": "cpu",
                      "mask_threshold": -1.0},
        "depth": {"backend": "transformers", "model": str(tiny_models["depth"]),
                  "device": "cpu"},
        "attributes": vlm, "relations": {**vlm, "max_pairs": 2}})
    out = tmp_path / "out"
    _annotate(str(photos), "--out", str(out), "-c", str(cfg))
    graphs = _graphs(out)
    assert len(graphs) == 4
    masks = depths = 0
    for graph in graphs:
        assert graph.objects, graph.image.path
        depth_map = np.load(tmp_path / graph.image.depth_map)
        assert depth_map.shape == (graph.image.height, graph.image.width)
        assert graph.meta["depth"] == {"model": str(tiny_models["depth"]), "kind": "relative"}
        for obj in graph.objects:
            assert obj.provenance["name"].model == "fixed:person,horse,cup"
            assert obj.provenance["box"].model == str(tiny_models["owlv2"])
            assert 0.0 <= obj.provenance["box"].score <= 1.0
            assert obj.provenance["depth"].model == str(tiny_models["depth"])
            if obj.mask is None:
                continue
            masks += 1
            assert obj.provenance["mask"].model == str(tiny_models["sam"])
            pixels = decode_mask(obj.mask)
            rows, cols = box_pixels(obj.box, *pixels.shape)
            inside = np.zeros_like(pixels)
            inside[rows, cols] = True
            assert pixels.any() and not (pixels & ~inside).any(), "mask leaves its box"
            assert obj.depth == float(np.median(depth_map[pixels]))
            depths += 1
    assert masks and depths == masks
    summary = json.loads((out / "summary.json").read_text())
    # random weights answer gibberish: every VLM answer is malformed, counted, not fatal
    assert summary["llm"]["attributes"]["malformed"] > 0
    check = runner.invoke(app, ["validate", str(out / "graphs.jsonl")])
    assert check.exit_code == 0, check.output + str(check.exception)
    qa = tmp_path / "qa"
    gen = runner.invoke(app, ["generate", "-c", str(out / "generate.yaml"), "--out", str(qa),
                              "-w", "1", "-n", "2", "--no-progress"])
    assert gen.exit_code == 0, gen.output
    assert "valid" in gen.output
    exported = json.loads((qa / "export" / "data.json").read_text())
    assert exported and all((qa / "export" / r["image"]).is_file() for r in exported)


def test_openai_compatible_vlm_roles_retry_count_and_cache(tmp_path, shared_data):
    import base64
    import io

    from llm_servers import Reply, ScriptedServer, prompt_text

    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "horses.jpg").write_bytes((shared_data / COCO / "000000439180.jpg").read_bytes())
    seen_sizes: list[tuple[int, int]] = []

    def answer(body: dict) -> str:
        parts = body["messages"][-1]["content"]
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        png = base64.b64decode(url.split(",", 1)[1])
        seen_sizes.append(Image.open(io.BytesIO(png)).size)
        if '"attributes"' in prompt_text(body):
            return json.dumps({"attributes": ["brown", "Large"]})
        return json.dumps({"predicate": "next to", "category": "spatial"})

    script = [Reply(status=429, headers={"retry-after": "0"}), Reply(content="not json {"),
              Reply(content='{"attributes": ["x"]}', delay_s=1.5)]
    with ScriptedServer(script=list(script), answer=answer) as server:
        vlm = {"backend": "vlm", "model": "test-vlm", "base_url": server.base_url,
               "timeout_s": 1.0, "backoff_s": 0.01, "stream": False,
               "cache_dir": str(tmp_path / "cache"), "max_attempts": 4}
        cfg = _yaml(tmp_path / "annotate.yaml", {
            **FAKES, "detector": {"backend": "fake", "rows": 1, "cols": 2},
            "attributes": vlm, "relations": {**vlm, "max_pairs": 1}})
        _annotate(str(folder), "--out", str(tmp_path / "first"), "-c", str(cfg))
        first_requests = len(server.requests)
        summary = json.loads((tmp_path / "first" / "summary.json").read_text())
        _annotate(str(folder), "--out", str(tmp_path / "second"), "-c", str(cfg))
        assert len(server.requests) == first_requests, "the second run asked the server"
    assert seen_sizes and set(seen_sizes) == {(640, 360)}  # the photo itself reached the server
    # 429, a malformed answer and a timeout: each retried once and counted by reason
    assert summary["llm"]["attributes"]["retries"] == {"rate_limited": 1, "invalid_json": 1,
                                                       "timeout": 1}
    second = json.loads((tmp_path / "second" / "summary.json").read_text())["llm"]
    assert second["attributes"]["requests"] == second["relations"]["requests"] == 0
    assert second["attributes"]["cache_hits"] >= 2 and second["relations"]["cache_hits"] >= 1
    (graph,) = _graphs(tmp_path / "first")
    assert [o.attribute_values() for o in graph.objects] == [["brown", "large"]] * 2
    assert all(o.provenance["attributes"].model == "openai:test-vlm" for o in graph.objects)
    (rel,) = [r for r in graph.relations if r.source == "model"]
    assert (rel.predicate, rel.category, rel.meta["model"]) == ("next to", "spatial",
                                                                 "openai:test-vlm")
    first = (tmp_path / "first" / "graphs.jsonl").read_text()
    assert first.replace("first/depth/", "second/depth/") == \
        (tmp_path / "second" / "graphs.jsonl").read_text()


def test_augment_fills_masks_and_depth_of_visual_genome_without_touching_it(tmp_path,
                                                                             shared_data):
    """VG ships no images here: stand-in photos of each image's size play them, so this checks
    the fill-in logic and that depth and mask questions now come out of VG graphs."""
    skimage_data = pytest.importorskip("skimage.data")
    vg = tmp_path / "vg.jsonl"
    converted = runner.invoke(app, ["convert", str(shared_data / "visual_genome"), "-o", str(vg)])
    assert converted.exit_code == 0, converted.output
    human = {g.image.id: g for g in map(graph_from_json, vg.read_bytes().splitlines())}
    images = tmp_path / "vg_images"
    images.mkdir()
    photo = Image.fromarray(skimage_data.astronaut())
    for graph in human.values():
        photo.resize((graph.image.width, graph.image.height)).save(images / f"{graph.image.id}.jpg")
    cfg = _yaml(tmp_path / "annotate.yaml", FAKES)
    out = tmp_path / "augmented"
    _annotate("--graphs", str(vg), "--images", str(images), "--add", "depth,masks",
              "--out", str(out), "-c", str(cfg))
    augmented = {g.image.id: g for g in _graphs(out)}
    assert set(augmented) == set(human)
    for image_id, graph in augmented.items():
        before = human[image_id]
        assert graph.relations == before.relations
        assert graph.image.path == f"vg_images/{image_id}.jpg" and graph.image.depth_map
        assert graph.image.model_copy(update={"path": None, "depth_map": None}) == before.image
        for new, old in zip(graph.objects, before.objects, strict=True):
            assert new.model_copy(update={"mask": None, "depth": None, "provenance": None}) == old
            assert new.mask is not None and new.depth is not None
            assert set(new.provenance) == {"mask", "depth"}
    qa = tmp_path / "qa"
    gen = runner.invoke(app, ["generate", "-c", str(out / "generate.yaml"), "--out", str(qa),
                              "-w", "1", "--no-progress",
                              "-g", "compare_depth,depth_order,compare_mask_area"])
    assert gen.exit_code == 0, gen.output
    records = json.loads((qa / "export" / "data.json").read_text())
    fired = {r["metadata"]["provenance"]["generator"] for r in records}
    assert fired == {"compare_depth", "depth_order", "compare_mask_area"}, fired


def test_clip_tagger_ranks_the_shipped_vocabulary(tmp_path, photos):
    transformers = pytest.importorskip("transformers")
    import torch
    from tiny_models import tiny_clip_tokenizer

    from scenesynth.models.roles import ClipTagger, RoleImage, load_vocabulary

    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config={"vocab_size": 600, "hidden_size": 16, "intermediate_size": 32,
                     "num_attention_heads": 2, "num_hidden_layers": 1,
                     "max_position_embeddings": 16, "bos_token_id": 519, "eos_token_id": 520,
                     "pad_token_id": 520},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
                       "num_hidden_layers": 1, "image_size": 32, "patch_size": 8},
        projection_dim=16)
    model_dir = tmp_path / "clip"
    transformers.CLIPModel(config).save_pretrained(model_dir)
    transformers.CLIPProcessor(
        image_processor=transformers.CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tiny_clip_tokenizer(tmp_path / "vocab", max_length=16),
    ).save_pretrained(model_dir)
    vocabulary = load_vocabulary("coco")
    assert len(vocabulary) == 80 and "traffic light" in vocabulary
    tagger = ClipTagger(str(model_dir), "coco", top_k=5, device="cpu", batch_size=2)
    images = [RoleImage(p.name, p, Image.open(p).convert("RGB"))
              for p in sorted(photos.iterdir())]
    tags = tagger.tag(images)
    assert len(tags) == 4
    for found in tags:
        assert len(found) == 5 and all(t.name in vocabulary for t in found)
        scores = [t.score for t in found]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6
    assert tagger.tag(images) == tags  # deterministic


def test_exit_codes_for_bad_config_nothing_annotated_and_a_changed_config(tmp_path, photos):
    bad = _yaml(tmp_path / "bad.yaml", {"detector": {"backend": "yolo"}})
    result = runner.invoke(app, ["annotate", str(photos), "--out", str(tmp_path / "a"),
                                 "-c", str(bad)])
    assert result.exit_code == 2 and "detector: unknown backend 'yolo'" in result.output
    cfg = _yaml(tmp_path / "annotate.yaml", FAKES)
    result = runner.invoke(app, ["annotate", str(tmp_path / "nowhere.jpg"), "--out",
                                 str(tmp_path / "b"), "-c", str(cfg)])
    assert result.exit_code == 5  # the run produced no graph
    failure = json.loads((tmp_path / "b" / "failures.jsonl").read_text())
    assert failure["file"].endswith("nowhere.jpg") and failure["reason"] == "unreadable"
    _annotate(str(photos), "--out", str(tmp_path / "c"), "-c", str(cfg))
    other = _yaml(tmp_path / "other.yaml", {**FAKES, "detector": {"backend": "fake", "rows": 3}})
    result = runner.invoke(app, ["annotate", str(photos), "--out", str(tmp_path / "c"),
                                 "-c", str(other)])
    assert result.exit_code == 2 and "another config" in result.output


def test_vision_language_tagger_lists_the_names_the_detector_looks_for(tmp_path, photos):
    from llm_servers import ScriptedServer

    def answer(body: dict) -> str:
        return json.dumps({"objects": ["Horse", "person", "horse", " fence "]})

    with ScriptedServer(answer=answer) as server:
        cfg = _yaml(tmp_path / "annotate.yaml", {
            **FAKES, "tagger": {"backend": "vlm", "model": "test-vlm", "stream": False,
                                "base_url": server.base_url,
                                "cache_dir": str(tmp_path / "cache")}})
        _annotate(str(photos / "000000439180.jpg"), "--out", str(tmp_path / "out"),
                  "-c", str(cfg))
        assert len(server.requests) == 1
    (graph,) = _graphs(tmp_path / "out")
    # the grid detector cycles through the names it is given: the tagger's, cleaned and unique
    assert [o.name for o in graph.objects] == ["horse", "person", "fence", "horse"]
    assert {o.provenance["name"].model for o in graph.objects} == {"openai:test-vlm"}
