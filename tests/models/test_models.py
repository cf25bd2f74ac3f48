"""Model backends with tiny random-weight models built from configs and saved to tmp dirs.

Nothing is downloaded: the GLIGEN pipeline (gated UNet, CLIP text encoder and tokenizer, VAE,
scheduler) and the OWL-ViT detector are constructed here, saved with ``save_pretrained`` and
loaded back through the backends' real loading code by local path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_models import torch, transformers

from scenesynth.graph import Box, ImageInfo, SceneGraph, SceneObject

pytestmark = pytest.mark.models







def gqa_graph(shared_data: Path, n_objects: int = 6) -> SceneGraph:
    """The first GQA debug scene graph (500x333), its first objects with their boxes."""
    raw = json.loads((shared_data / "gqa" / "debug_sceneGraphs.json").read_text())
    image_id, g = next(iter(raw.items()))
    objects = [
        SceneObject(id=oid, name=o["name"], attributes=o["attributes"],
                    box=Box.from_xywh(o["x"], o["y"], o["w"], o["h"]))
        for oid, o in list(g["objects"].items())[:n_objects]
    ]
    return SceneGraph(image=ImageInfo(id=image_id, width=g["width"], height=g["height"],
                                      source="gqa"), objects=objects)


# -- GLIGEN --------------------------------------------------------------------------------




def test_gligen_renders_with_box_conditioning(tiny_gligen_dir, shared_data):
    from scenesynth.render.diffusion import GligenRenderer, grounding_inputs

    graph = gqa_graph(shared_data)
    # beta 1.0: grounding on for every step (with 2 steps, the default 0.3 grounds none)
    renderer = GligenRenderer(model=str(tiny_gligen_dir), device="cpu", num_inference_steps=2,
                              long_side=32, size_multiple=16, scheduled_sampling_beta=1.0)
    pipe = renderer.load()
    seen: list[dict] = []
    hook = pipe.unet.position_net.register_forward_hook(
        lambda _m, _args, kwargs, _out: seen.append(kwargs), with_kwargs=True
    )
    try:
        result = renderer.render(graph, seed=3)
    finally:
        hook.remove()

    assert result.exact is False and result.depth_map is None
    assert result.image.size == (500, 333) and result.image.mode == "RGB"
    assert result.graph.objects == graph.objects  # the requested layout, unchanged
    meta = result.graph.meta["render"]
    assert meta["generation_size"] == [32, 16] and meta["seed"] == 3
    assert meta["prompt"] == ("a photo of white pipe, light colored leg, dark sloped roof, "
                              "closed framed window, wall and white wall")
    # the grounding reached the UNet's GLIGEN projection: our boxes, in [0, 1], six live slots
    assert seen, "GLIGEN position net never ran"
    phrases, boxes, ids = grounding_inputs(graph)
    assert phrases[0] == "white pipe" and ids[0] == "722335"
    assert boxes[0] == pytest.approx([104 / 500, 1 / 333, 121 / 500, 168 / 333])
    got = seen[0]["boxes"]
    # batch = [unconditional, conditional] for classifier-free guidance; the mask switches the
    # grounding off in the unconditional half
    assert got.shape == (2, 30, 4)
    assert torch.allclose(got[1, :6], torch.tensor(boxes), atol=1e-6)
    assert got[1, 6:].abs().sum() == 0
    assert seen[0]["masks"][1].tolist() == [1.0] * 6 + [0.0] * 24
    assert seen[0]["masks"][0].tolist() == [0.0] * 30

    # same seed, same image; same seed with the boxes moved, a different image
    again = renderer.render(graph, seed=3).image
    assert again.tobytes() == result.image.tobytes()
    moved = graph.model_copy(update={"objects": [
        o.model_copy(update={"box": Box(x0=0, y0=0, x1=60, y1=60)}) for o in graph.objects
    ]})
    assert renderer.render(moved, seed=3).image.tobytes() != result.image.tobytes()


def test_grounding_keeps_largest_boxes_and_clips(shared_data):
    from scenesynth.render.diffusion import generation_size, grounding_inputs

    graph = gqa_graph(shared_data, n_objects=21)
    with pytest.raises(ValueError, match="image 2375429: no object has a box to ground"):
        from scenesynth.render.diffusion import GligenRenderer

        boxless = graph.model_copy(update={"objects": [
            o.model_copy(update={"box": None}) for o in graph.objects]})
        GligenRenderer(pipeline=object()).render(boxless, seed=0)
    _, boxes, ids = grounding_inputs(graph, max_objects=3)
    areas = sorted(((o.box.area, o.id) for o in graph.objects if o.box), reverse=True)
    assert ids == [oid for _, oid in areas[:3]]
    assert all(0.0 <= v <= 1.0 for b in boxes for v in b)
    assert generation_size(500, 333, 512) == (512, 320)
    assert generation_size(333, 500, 512) == (320, 512)


# -- open-vocabulary detector ------------------------------------------------------------




def test_owlvit_detector_boxes_follow_our_convention(tiny_owlvit_dir, shared_data):
    from PIL import Image

    from scenesynth.models import Detection, Detector, ZeroShotDetector

    image = Image.open(shared_data / "coco_panoptic" / "000000439180.jpg")  # 640x360
    labels = ["horse", "person", "truck"]
    detector = ZeroShotDetector(model=str(tiny_owlvit_dir), device="cpu", score_threshold=0.0,
                                nms_iou=1.0)  # keep every query: compare with the processor
    assert isinstance(detector, Detector)
    dets = detector.detect(image, labels)
    assert detector.model_type == "owlvit"
    assert len(dets) == 16  # one per 8x8 patch of the 32x32 input
    assert all(isinstance(d, Detection) and d.label in labels for d in dets)
    assert all(0 <= d.box.x0 <= d.box.x1 <= 640 and 0 <= d.box.y0 <= d.box.y1 <= 360
               for d in dets)
    assert all(0.0 < d.score < 1.0 for d in dets)

    # the same queries through the processor's own post-processing give the same boxes
    processor = transformers.AutoProcessor.from_pretrained(tiny_owlvit_dir)
    model = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(tiny_owlvit_dir)
    queries = [[f"a photo of a {label}" for label in labels]]
    with torch.no_grad():
        out = model(**processor(text=queries, images=image.convert("RGB"), return_tensors="pt"))
    ref = processor.post_process_grounded_object_detection(
        out, threshold=0.0, target_sizes=[(360, 640)], text_labels=[labels])[0]
    ref_boxes = sorted(
        (round(s.item(), 5), lab, tuple(round(v, 2) for v in b.clamp(min=0).tolist()))
        for s, lab, b in zip(ref["scores"], ref["text_labels"], ref["boxes"], strict=True)
    )
    ours = sorted(
        (round(d.score, 5), d.label, tuple(round(min(v, lim), 2) for v, lim in
                                           zip(d.box.as_tuple(), (640, 360, 640, 360),
                                               strict=True)))
        for d in dets
    )
    assert [(s, lab) for s, lab, _ in ours] == [(s, lab) for s, lab, _ in ref_boxes]
    for (_, _, a), (_, _, b) in zip(ours, ref_boxes, strict=True):
        clipped_b = (b[0], b[1], min(b[2], 640), min(b[3], 360))
        assert a == pytest.approx(clipped_b, abs=0.02)

    # non-max suppression keeps the best box of each overlapping group
    fewer = ZeroShotDetector(model=str(tiny_owlvit_dir), device="cpu", score_threshold=0.0,
                             nms_iou=0.3).detect(image, labels)
    assert 0 < len(fewer) < len(dets)
    assert max(d.score for d in fewer) == max(d.score for d in dets)
    assert detector.detect(image, []) == []
    # half precision (as on a GPU): inputs are cast to the model's dtype, outputs back to float
    half = ZeroShotDetector(model=str(tiny_owlvit_dir), device="cpu", dtype="bfloat16",
                            score_threshold=0.0, nms_iou=1.0).detect(image, labels)
    assert len(half) == 16 and all(0 <= d.box.x1 <= 640 for d in half)
    # queries longer than the text tower's 16 positions are truncated, not a crash
    long_label = "small light colored wooden horse standing next to the big red truck"
    assert {d.label for d in detector.detect(image, [long_label])} == {long_label}


# -- both backends together: a GLIGEN render judged by the detector verifier -------------------


def test_detector_verifier_on_gligen_render(tiny_gligen_dir, tiny_owlvit_dir, shared_data):
    from scenesynth.graph import derive_relations
    from scenesynth.models import ZeroShotDetector
    from scenesynth.quality.verify import DetectorVerifier, Reason, verify_all
    from scenesynth.render.diffusion import GligenRenderer

    graph = gqa_graph(shared_data)
    graph = graph.model_copy(update={"relations": derive_relations(graph, ("left of",))})
    n_relations = len(graph.relations)
    assert n_relations == 15
    renderer = GligenRenderer(model=str(tiny_gligen_dir), device="cpu", num_inference_steps=2,
                              long_side=32, size_multiple=16)
    rendered = renderer.render(graph, seed=0)
    detector = ZeroShotDetector(model=str(tiny_owlvit_dir), device="cpu", score_threshold=0.0)
    verdicts, tally = verify_all(DetectorVerifier(detector, iou_threshold=0.1), [rendered])
    (verdict,) = verdicts

    # every object is either matched to a detection of its own label or reported missing
    missing = {f.objects[0] for f in verdict.failures if f.reason == Reason.NOT_DETECTED}
    assert set(verdict.detected) | missing == {o.id for o in graph.objects}
    assert not set(verdict.detected) & missing
    # every relation is accounted for exactly once: kept, failed, or unchecked
    rel_failures = [f for f in verdict.failures if f.reason != Reason.NOT_DETECTED]
    unchecked = [f for f in verdict.notes if f.reason == Reason.RELATION_UNCHECKED]
    both_found = [r for r in graph.relations
                  if r.subject in verdict.detected and r.object in verdict.detected]
    assert len(unchecked) == n_relations - len(both_found)
    assert len(rel_failures) <= len(both_found)
    assert verdict.passed == (not verdict.failures)
    assert (tally.n_passed, tally.n_failed) == ((1, 0) if verdict.passed else (0, 1))
    assert sum(tally.failed_by_reason.values()) == len(verdict.reasons)
