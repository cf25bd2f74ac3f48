"""Side-by-side with the reference implementation (ProVision): the same scene graphs for both,
the contenders alternated, QA per CPU-second and the ratios printed.

ProVision (github.com/JieyuZ2/ProVision, Apache-2.0) is not packaged and not vendored here:
check it out anywhere, give its folder, and run with an interpreter that has its dependencies
(numpy, scipy, networkx, inflect, tqdm, Pillow) and scenesynth's::

    git clone https://github.com/JieyuZ2/ProVision /tmp/provision
    python bench/reference.py /tmp/provision [--graphs 100] [--rounds 3] [--mode multi] \
        [--compiled SITE]

The graphs are synthetic and shaped like ProVision's augmented inputs (detector labels drawn
Zipf-weighted from ProVision's own object list, 0-3 attributes from its attribute categories,
relations from its relations.json, a depth map): written once in ProVision's five-file format,
and converted for scenesynth (per-object depth = 255 - the mean depth-map value in the box,
since ProVision's map is "higher = closer"). Each contender runs in its own subprocess; CPU is
process time, loading excluded. What is counted differs and is printed: ProVision's questions
are its generators' candidates (`return_templated=False`, no text); scenesynth's are finished
samples (text, program, balance and checks). ``--compiled SITE`` adds a compiled build (its
site folder) to the same alternation, so one run prints the pure and the compiled ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

H, W = 480, 640


def make_graphs(provision: Path, out: Path, n: int, lo: int, hi: int, seed: int) -> None:
    """``n`` graphs in ProVision's input layout under ``out`` and as ``out/graphs.jsonl``."""
    import numpy as np
    from scipy.sparse import csr_matrix

    sys.path.insert(0, str(provision))
    from provision.generators.attribute_category import ATTRIBUTE_CATEGORY
    from provision.generators.object_annotation import OBJECT_FOR_COUNTING_TASK

    rng = np.random.default_rng(seed)
    vocab = list(rng.choice(sorted(OBJECT_FOR_COUNTING_TASK), 150, replace=False))
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    attrs = sorted({a for values in ATTRIBUTE_CATEGORY.values() for a in values})
    rels = json.loads((provision / "relations.json").read_text())
    rel_vocab = [*rng.choice(rels["spatial"], 30, replace=False),
                 *rng.choice(rels["interactional"], 30, replace=False)]
    (out / "depth_masks").mkdir(parents=True, exist_ok=True)
    (out / "seg_masks").mkdir(exist_ok=True)
    files: dict[str, dict] = {k: {} for k in ("det", "seg", "depth", "attr", "rel")}
    yy, xx = np.mgrid[0:H, 0:W]
    with (out / "graphs.jsonl").open("w") as jsonl:
        for i in range(n):
            key = f"img{i:05d}"
            count = int(rng.integers(lo, hi + 1))
            labels = [str(x) for x in rng.choice(vocab, count, p=zipf)]
            boxes = []
            for _ in range(count):
                w, h = int(rng.integers(20, W // 2)), int(rng.integers(20, H // 2))
                x0, y0 = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
                boxes.append([x0, y0, x0 + w, y0 + h])
            attributes = [[str(a) for a in rng.choice(attrs, int(rng.integers(0, 4)),
                                                      replace=False)] for _ in range(count)]
            relations: set[tuple[int, str, int]] = set()
            while len(relations) < count:
                a, b = (int(v) for v in rng.integers(0, count, 2))
                if a != b:
                    relations.add((a, str(rng.choice(rel_vocab)), b))
            # "higher = closer": the bottom of the picture is nearer the camera
            depth = (yy / H * 200 + rng.normal(0, 5, (H, W))).clip(0, 255).astype(np.uint8)
            masks = []
            for x0, y0, x1, y1 in boxes:
                cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
                masks.append(csr_matrix(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1,
                                        dtype=bool))
            np.save(out / "depth_masks" / f"{key}_depth.npy", depth)
            with (out / "seg_masks" / f"{key}_mask.pkl").open("wb") as fh:
                pickle.dump(masks, fh)

            def base(annotation: dict, key: str = key) -> dict:
                return {"data_path": f"synthetic/{key}.jpg", "source": None,
                        "annotation": {"width": W, "height": H, **annotation}}

            files["det"][key] = base({"det_scores": [float(s) for s in rng.random(count)],
                                      "labels": labels, "bboxes": boxes})
            files["seg"][key] = base({"seg_mask_id": f"{key}_mask.pkl", "bboxes": boxes,
                                      "labels": labels})
            files["depth"][key] = base({"depth_mask_id": f"{key}_depth.npy"})
            files["attr"][key] = base({"attributes": attributes})
            files["rel"][key] = base({"relations": sorted(relations)})
            objects = [{"id": str(j), "name": label, "attributes": attributes[j],
                        "box": {"x0": b[0], "y0": b[1], "x1": b[2], "y1": b[3]},
                        "depth": round(255.0 - float(depth[b[1]:b[3], b[0]:b[2]].mean()), 3)}
                       for j, (label, b) in enumerate(zip(labels, boxes, strict=True))]
            jsonl.write(json.dumps({
                "image": {"id": key, "width": W, "height": H, "source": "synthetic"},
                "objects": objects,
                "relations": [{"subject": str(s), "predicate": p, "object": str(o)}
                              for s, p, o in sorted(relations)]}) + "\n")
    for k, name in (("det", "object-detection-annotations.json"),
                    ("seg", "segmentation-annotations.json"),
                    ("depth", "depth-estimation-annotations.json"),
                    ("attr", "image-attributes-annotations.json"),
                    ("rel", "relation-annotations-parsed.json")):
        (out / name).write_text(json.dumps(files[k]))


def run_provision(data: Path, mode: str, n_sample: int, group: int, limit_s: int) -> dict:
    """ProVision's generators of ``mode`` on every graph: candidates per CPU-second."""
    import contextlib
    import io
    import time
    import warnings

    warnings.filterwarnings("ignore")
    from provision.dataset import JointDataset

    dataset = JointDataset(
        [str(data / f) for f in ("object-detection-annotations.json",
                                 "segmentation-annotations.json",
                                 "depth-estimation-annotations.json",
                                 "image-attributes-annotations.json",
                                 "relation-annotations-parsed.json")],
        seg_dir_path=str(data / "seg_masks"), depth_dir_path=str(data / "depth_masks"))
    if mode == "multi":
        from provision.generators.multi_image.aggregate import MultiAggregateGeneratorList
        from provision.generators.multi_image.compare import MultiCompareGeneratorList
        from provision.generators.multi_image.select import MultiSelectGeneratorList

        classes = [*MultiSelectGeneratorList, *MultiAggregateGeneratorList,
                   *MultiCompareGeneratorList]
        options = {"n_sample": n_sample, "n_data": group}
    else:
        import importlib

        lists = []
        for module in ("attribute", "depth", "object", "relation", "segmentation"):
            mod = importlib.import_module(f"provision.generators.single_image.{module}")
            lists += [getattr(mod, n) for n in dir(mod) if n.endswith("GeneratorList")]
        classes = [c for group_list in lists for c in group_list]
        options = {}
    import signal

    # BaseException, not Exception: a reference generator's own `except Exception` retry
    # loop must not swallow the stop.
    class Stuck(BaseException):
        pass

    def stop(*_: object) -> None:
        raise Stuck

    # Some reference generators retry without a cap on graphs that cannot satisfy them: such
    # a generator is stopped and left out (its time and output both), and named.
    signal.signal(signal.SIGALRM, stop)
    n = 0
    cpu = 0.0
    left_out = []
    for cls in classes:
        gen = cls(dataset=dataset, template_mode="qa", return_templated=False, seed=0,
                  **options)
        start = time.process_time()
        signal.alarm(limit_s)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                got = len(gen.generate())
            signal.alarm(0)
        except Stuck:
            left_out.append(f"{cls.__name__} (stopped after {limit_s} s)")
            continue
        except Exception as exc:  # the reference's own failures: reported, not fatal
            signal.alarm(0)
            left_out.append(f"{cls.__name__} ({type(exc).__name__}: {exc})"[:120])
            continue
        cpu += time.process_time() - start
        n += got
    return {"n": n, "cpu": cpu, "left_out": left_out}


def run_scenesynth(data: Path, mode: str, per_image: int, group: int) -> dict:
    import importlib.machinery
    import time

    import scenesynth.generators  # noqa: F401  (fills the registry)
    import scenesynth.pipeline.shard as runner
    from scenesynth.generators.base import GenConfig, registered
    from scenesynth.graph.sample import AnswerForm
    from scenesynth.sources import load

    graphs = list(load(data / "graphs.jsonl"))
    multi = mode == "multi"
    names = sorted(n for n, c in registered().items() if c.spec.multi_image == multi)
    start = time.process_time()
    result = runner.generate_shard(graphs, names, per_image, (AnswerForm.SHORT,), 0,
                                   GenConfig(), (group, group) if multi else None)
    cpu = time.process_time() - start
    compiled = str(runner.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return {"n": len(result.samples), "cpu": cpu,
            "build": "compiled" if compiled else "pure"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("provision", type=Path, help="a ProVision checkout (its root folder)")
    parser.add_argument("--mode", choices=("multi", "single"), default="multi")
    parser.add_argument("--graphs", type=int, default=100)
    parser.add_argument("--objects", default="10-40", help="objects per graph, MIN-MAX")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-image", type=int, default=5, help="scenesynth questions per "
                        "image (multi: per group) and generator")
    parser.add_argument("--n-sample", type=int, default=200, help="ProVision multi-image "
                        "samples asked of each generator")
    parser.add_argument("--group", type=int, default=2, help="images per multi-image sample")
    parser.add_argument("--limit-s", type=int, default=60, help="stop a reference "
                        "generator after this many wall seconds (they have no retry cap)")
    parser.add_argument("--data", type=Path, help="reuse graphs written here earlier")
    parser.add_argument("--compiled", type=Path, help="a compiled build's site folder "
                        "(SCENESYNTH_COMPILE=1 pip install --target DIR .): measured too, "
                        "in the same alternation, put first on PYTHONPATH")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    provision = args.provision.resolve()
    if args.contender:  # one measurement, in its own process
        sys.path.insert(0, str(provision))
        if args.contender == "provision":
            out = run_provision(args.data, args.mode, args.n_sample, args.group,
                                args.limit_s)
        else:
            out = run_scenesynth(args.data, args.mode, args.per_image, args.group)
        print(json.dumps(out))
        return
    if not (provision / "provision" / "dataset.py").is_file():
        parser.error(f"{provision} is not a ProVision checkout (no provision/dataset.py)")
    lo, hi = (int(v) for v in args.objects.split("-"))
    data = args.data or Path(tempfile.mkdtemp(prefix="reference-graphs-"))
    if not (data / "graphs.jsonl").is_file():
        make_graphs(provision, data, args.graphs, lo, hi, seed=0)
    # (label, contender, PYTHONPATH prefix): the compiled build, when given, beside the
    # interpreter's own scenesynth
    contenders = [("scenesynth", "scenesynth", None), ("provision", "provision", None)]
    if args.compiled is not None:
        contenders.insert(1, ("compiled", "scenesynth", str(args.compiled.resolve())))
    best: dict[str, dict] = {}
    for r in range(args.rounds):
        for label, contender, site in contenders:  # alternated: the machine is shared
            cmd = [sys.executable, str(Path(__file__).resolve()), str(provision),
                   "--contender", contender,
                   "--data", str(data), "--mode", args.mode, "--per-image",
                   str(args.per_image), "--n-sample", str(args.n_sample), "--group",
                   str(args.group), "--limit-s", str(args.limit_s)]
            env = {**os.environ}
            if site is not None:
                env["PYTHONPATH"] = os.pathsep.join(
                    p for p in (site, env.get("PYTHONPATH", "")) if p)
            line = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                  env=env).stdout.strip().splitlines()[-1]
            out = json.loads(line)
            out["rate"] = out["n"] / max(out["cpu"], 1e-9)
            print(f"round {r + 1} {label:10s} {out['n']:7d} QA in {out['cpu']:7.2f} CPU-s "
                  f"= {out['rate']:9.0f} QA/CPU-s {out.get('build', '')}", flush=True)
            for name in out.get("left_out", []) if r == 0 else []:
                print(f"  left out: {name}")
            if label not in best or out["rate"] > best[label]["rate"]:
                best[label] = out
    ref = best["provision"]
    for label in [c[0] for c in contenders if c[0] != "provision"]:
        ours = best[label]
        print(f"{args.mode}-image, {args.graphs} graphs of {args.objects} objects, best of "
              f"{args.rounds}: scenesynth ({ours.get('build')}) {ours['rate']:.0f} "
              f"samples/CPU-s, ProVision {ref['rate']:.0f} candidates/CPU-s (no text): "
              f"ratio {ours['rate'] / max(ref['rate'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
