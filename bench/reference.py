"""Side-by-side with the reference implementation (ProVision): the same scene graphs for both,
the contenders alternated or in lockstep, QA per CPU-second and the ratios printed.

ProVision (github.com/JieyuZ2/ProVision, Apache-2.0) is not packaged and not vendored here:
check it out anywhere, give its folder, and run with an interpreter that has its dependencies
(numpy, scipy, networkx, inflect, tqdm, Pillow) and scenesynth's::

    git clone https://github.com/JieyuZ2/ProVision /tmp/provision
    python bench/reference.py /tmp/provision [--graphs 200] [--rounds 3] [--mode multi] \
        [--compiled SITE] [--lockstep]

The graphs are synthetic and shaped like ProVision's augmented inputs (detector labels drawn
Zipf-weighted from ProVision's own object list, 0-3 attributes from its attribute categories,
relations from its relations.json, a depth map): written once in ProVision's five-file format,
and converted for scenesynth (per-object depth = 255 - the mean depth-map value in the box,
since ProVision's map is "higher = closer"). Each contender runs in its own subprocess; CPU is
process time, loading excluded. The contenders of a round run one after another, or, with
``--lockstep``, at once, handed the CPU in 50 ms turns (``bench/lockstep.py``): the machine's
speed drifts by more than the differences measured, and in lockstep every contender spends
its CPU seconds in the same stretch of time. ``--compiled SITE`` adds a compiled build (its
site folder) to the same round, so one run prints the pure and the compiled ratios.

Multi-image is compared per generator: each of ProVision's multi-image generators
(``MULTI_PAIRS``) beside the scenesynth generator that asks the same question, each timed on
its own (a whole ``generate_shard`` for ours, ``--passes`` seeded groupings of the graphs so
that it runs long enough to time), fastest of the rounds. A reference generator that does not
finish within ``--limit-s`` CPU seconds (they retry without a cap) is named and left out of
both sides of the overall figure, which is the sum of QA over the sum of CPU-seconds of the
families where it finished, computed the same way for both (the geometric mean of the
per-family ratios is printed too). The same families are also timed together, in one shard, as
a ``generate`` run asks them: each family alone pays for building the per-graph lookups again,
which ProVision's figure leaves out (its dataset indexes are built before its clock starts).
What is counted differs and is printed: ProVision's questions are its generators' candidates
(``return_templated=False``: no text, no balance, no checks), and, as a second column, the same
candidates templated by its ``multi_image_template`` (short answers); scenesynth's are finished
short-answer samples (text, program, balance, dedup and checks).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from lockstep import in_lockstep

H, W = 480, 640


def make_graphs(
    provision: Path, out: Path, n: int, lo: int, hi: int, seed: int,
    reference_files: bool = True,
) -> None:
    """``n`` graphs in ProVision's input layout under ``out`` and as ``out/graphs.jsonl``
    (``reference_files`` False: the JSONL only, the same graphs, without ProVision's masks,
    depth maps and annotation files)."""
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
    out.mkdir(parents=True, exist_ok=True)
    if reference_files:
        (out / "depth_masks").mkdir(exist_ok=True)
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
            scores = [float(s) for s in rng.random(count)]  # drawn either way: same graphs
            if reference_files:
                masks = []
                for x0, y0, x1, y1 in boxes:
                    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                    rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
                    masks.append(csr_matrix(
                        ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1, dtype=bool))
                np.save(out / "depth_masks" / f"{key}_depth.npy", depth)
                with (out / "seg_masks" / f"{key}_mask.pkl").open("wb") as fh:
                    pickle.dump(masks, fh)

            def base(annotation: dict, key: str = key) -> dict:
                return {"data_path": f"synthetic/{key}.jpg", "source": None,
                        "annotation": {"width": W, "height": H, **annotation}}

            files["det"][key] = base({"det_scores": scores, "labels": labels, "bboxes": boxes})
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
    if not reference_files:
        return
    for k, name in (("det", "object-detection-annotations.json"),
                    ("seg", "segmentation-annotations.json"),
                    ("depth", "depth-estimation-annotations.json"),
                    ("attr", "image-attributes-annotations.json"),
                    ("rel", "relation-annotations-parsed.json")):
        (out / name).write_text(json.dumps(files[k]))


# ProVision's multi-image generators, each paired with the scenesynth generator(s) that ask
# the same question about a group of images (for the per-generator ratios). scenesynth's
# multi-image generators with no counterpart there are timed and listed apart.
MULTI_PAIRS: dict[str, tuple[str, ...]] = {
    "HasObjectMultiGenerator": ("multi_which_contains",),  # which image has an X
    "HasAttributedObjectMultiGenerator": ("multi_which_attribute",),  # ... a red X
    "HasNotObjectMultiGenerator": ("multi_which_lacks",),  # which image has no X
    "HasNotAttributedObjectMultiGenerator": ("multi_which_lacks_attribute",),  # ... no red X
    "HasRelationMultiGenerator": ("multi_relation_where",),  # where is an X <rel> a Y
    "HasNotRelationMultiGenerator": ("multi_which_lacks_relation",),  # ... no X <rel> a Y
    "HasMostObjectMultiGenerator": ("multi_most_count",),  # which image has the most Xs
    "HasLeastObjectMultiGenerator": ("multi_fewest_count",),  # ... the fewest Xs
    "CountObjectMultiGenerator": ("multi_total_count",),  # how many Xs in all the images
    "CountAttributeObjectMultiGenerator": ("multi_total_attribute_count",),  # ... red Xs
    "CommonObjectMultiGenerator": ("multi_common_categories",),  # categories in common
    "CommonAttributeMultiGenerator": ("multi_common_attribute_values",),  # attributes in common
    "CompareAttributeMultiGenerator": ("multi_same_attribute",),  # the X's attributes compared
    "CompareRelationMultiGenerator": ("multi_relation_both",),  # the X-Y relation compared
}


def provision_classes(mode: str) -> list[type]:
    """ProVision's generator classes of ``mode``, in its own list order."""
    if mode == "multi":
        from provision.generators.multi_image.aggregate import MultiAggregateGeneratorList
        from provision.generators.multi_image.compare import MultiCompareGeneratorList
        from provision.generators.multi_image.select import MultiSelectGeneratorList

        return [*MultiSelectGeneratorList, *MultiAggregateGeneratorList,
                *MultiCompareGeneratorList]
    import importlib

    lists = []
    for module in ("attribute", "depth", "object", "relation", "segmentation"):
        mod = importlib.import_module(f"provision.generators.single_image.{module}")
        lists += [getattr(mod, n) for n in dir(mod) if n.endswith("GeneratorList")]
    return [c for group_list in lists for c in group_list]


def run_provision(data: Path, mode: str, n_sample: int, group: int, limit_s: int) -> dict:
    """Each of ProVision's generators of ``mode`` on the graphs, timed apart: its candidates
    and CPU-seconds, or why it was left out."""
    import contextlib
    import io
    import signal
    import time
    import warnings

    warnings.filterwarnings("ignore")
    from provision.base import JointGenerator
    from provision.dataset import JointDataset

    dataset = JointDataset(
        [str(data / f) for f in ("object-detection-annotations.json",
                                 "segmentation-annotations.json",
                                 "depth-estimation-annotations.json",
                                 "image-attributes-annotations.json",
                                 "relation-annotations-parsed.json")],
        seg_dir_path=str(data / "seg_masks"), depth_dir_path=str(data / "depth_masks"))
    options: dict = {}
    if mode == "multi":
        options = {"n_sample": n_sample, "n_data": group}
        # the dataset's lazy indexes (name -> images, relation -> images) are built before
        # the clock starts: like loading, they are not any one generator's cost
        for n in {1, group - 1, group} - {0}:
            dataset.object_with_n_data(n)
            dataset.relation_with_n_data(n)
            dataset.object_pair_with_n_data(n)

    # BaseException, not Exception: a reference generator's own `except Exception` retry
    # loop must not swallow the stop. A bare `except:` still can, so the alarm is set again
    # each time it fires until the stop gets through.
    class Stuck(BaseException):
        pass

    def stop(*_: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 1)
        raise Stuck

    def alarm(seconds: float) -> None:
        """Stop the running generator after ``seconds`` of this process's CPU time (0:
        never). CPU time, not wall time: a contender run in lockstep (``--lockstep``) waits
        for its turns."""
        signal.setitimer(signal.ITIMER_PROF, seconds)

    # Some reference generators retry without a cap on graphs that cannot satisfy them: such
    # a generator is stopped, named, and its time and output left out.
    signal.signal(signal.SIGPROF, stop)
    generators: dict[str, dict] = {}
    for cls in provision_classes(mode):
        gen = cls(dataset=dataset, template_mode="qa", return_templated=False, seed=0,
                  **options)
        start = time.process_time()
        alarm(limit_s)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                candidates = gen.generate()
            alarm(0)
        except Stuck:
            alarm(0)
            generators[cls.__name__] = {"left_out": f"stopped after {limit_s} CPU-s"}
            continue
        except Exception as exc:  # the reference's own failures: reported, not fatal
            alarm(0)
            generators[cls.__name__] = {"left_out": f"{type(exc).__name__}: {exc}"[:100]}
            continue
        cpu = time.process_time() - start
        generators[cls.__name__] = {"n": len(candidates), "cpu": cpu}
        if mode == "multi":
            # ProVision's own text for the same candidates, short answers (its
            # multi_image_template with no multiple choice): timed apart
            joint = JointGenerator(dataset=dataset, generators=[cls], template_mode="qa",
                                   n_data=group)
            start = time.process_time()
            alarm(limit_s)
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    texts = joint.multi_image_template([dict(c) for c in candidates],
                                                       multiple_choice_ratio=0.0)
                alarm(0)
                generators[cls.__name__]["text"] = {
                    "n": len(texts), "cpu": cpu + time.process_time() - start}
            except (Stuck, Exception) as exc:
                alarm(0)
                generators[cls.__name__]["text"] = {"left_out": type(exc).__name__}
    return {"generators": generators}


def run_scenesynth(data: Path, mode: str, per_image: int, group: int, passes: int,
                   families_finished: list[str]) -> dict:
    """scenesynth's generators on the graphs, as ``generate`` runs them (``generate_shard``:
    text, program, balance, dedup, checks): each ProVision counterpart's generators alone,
    the unmatched ones alone, every matched one together, and (``families_finished``) the
    counterparts of the reference generators that finished, together. Multi-image:
    ``passes`` shards over the same graphs, seeds 0, 1, ... (each seed groups the graphs
    differently)."""
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

    def timed(chosen: list[str]) -> dict:
        n = 0
        start = time.process_time()
        for seed in range(passes if multi else 1):
            n += len(runner.generate_shard(graphs, chosen, per_image, (AnswerForm.SHORT,), seed,
                                           GenConfig(), (group, group) if multi else None)
                     .samples)
        return {"n": n, "cpu": time.process_time() - start}

    compiled = str(runner.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    out: dict = {"build": "compiled" if compiled else "pure"}
    if not multi:
        out["together"] = timed(names)
        return out
    matched = sorted({n for pair in MULTI_PAIRS.values() for n in pair})
    missing = set(matched) - set(names)
    if missing:
        raise SystemExit(f"paired generators not registered: {sorted(missing)}")
    out["generators"] = {cls: timed(list(pair)) for cls, pair in MULTI_PAIRS.items()}
    out["unmatched"] = {n: timed([n]) for n in names if n not in matched}
    out["together"] = timed(matched)
    if families_finished:
        out["together_finished"] = timed(families_finished)
    return out


def rate(result: dict) -> float:
    return result["n"] / max(result["cpu"], 1e-9)


def fastest(a: dict | None, b: dict) -> dict:
    """The faster of two measurements of the same work (the same count: the work is seeded);
    a reference generator's text (its own templating) is kept the same way, apart."""
    if a is None or "left_out" in b:
        return b
    if "left_out" in a:
        return a
    best = dict(b if b["cpu"] < a["cpu"] else a)
    if "text" in a and "text" in b:
        best["text"] = fastest(a["text"], b["text"])
    return best


def finished(result: dict | None) -> bool:
    return result is not None and "left_out" not in result


def finished_with_text(result: dict | None) -> bool:
    """A reference generator that finished, and its templating too."""
    return finished(result) and result is not None and finished(result.get("text"))


def report_multi(best: dict[str, dict], ours: list[str], args: argparse.Namespace) -> None:
    """Per ProVision generator: its rate (bare candidates, and with its own text) and ours,
    the ratios; then the overall rates over the families where ProVision finished, summed the
    same way on both sides (sum of QA over sum of CPU-seconds)."""
    ref = best["provision"]["generators"]
    print(f"\nmulti-image, {args.graphs} graphs of {args.objects} objects, groups of "
          f"{args.group}, fastest of {args.rounds} rounds per generator")
    print("ProVision 'cand': its generators' candidates (no text, no balance, no checks), "
          f"n_sample={args.n_sample} per generator; 'text': the same candidates templated by "
          "its multi_image_template (short answers), generation + templating CPU")
    print(f"scenesynth: finished short-answer samples (text, program, balance, dedup, checks), "
          f"{args.per_image} questions per group and generator, {args.passes} seeded passes; "
          "ratio = scenesynth / ProVision (cand | text)")
    head = f"{'ProVision generator':37s} {'cand/s':>7s} {'text/s':>7s} {'scenesynth':27s}"
    for label in ours:
        head += f" {label[:8] + '/s':>9s} {'x cand':>6s} {'x text':>6s}"
    print(head)
    keys = ("cand", "text", *ours)
    sums = {key: [0, 0.0] for key in keys}
    for cls, pair in MULTI_PAIRS.items():
        r = ref.get(cls, {"left_out": "not in this ProVision"})
        text = r.get("text")
        line = f"{cls:37s} "
        if finished(r):
            line += f"{rate(r):7.0f} "
            line += f"{rate(text):7.0f}" if finished(text) else f"{'-':>7s}"
        else:
            line += f"{'did not finish':>15s}"
        line += f" {'+'.join(pair):27s}"
        both = finished(r) and finished(text)
        for label in ours:
            mine = best[label]["generators"][cls]
            line += f" {rate(mine):9.0f}"
            if both:
                line += (f" {rate(mine) / max(rate(r), 1e-9):6.2f}"
                         f" {rate(mine) / max(rate(text), 1e-9):6.2f}")
                sums[label][0] += mine["n"]
                sums[label][1] += mine["cpu"]
        if both:
            for key, piece in (("cand", r), ("text", text)):
                sums[key][0] += piece["n"]
                sums[key][1] += piece["cpu"]
        else:
            line += f"   ({r.get('left_out') or (text and text.get('left_out'))})"
        print(line, flush=True)
    n_done = sum(1 for cls in MULTI_PAIRS if finished(ref.get(cls))
                 and finished(ref[cls].get("text")))
    overall = {key: n / max(cpu, 1e-9) for key, (n, cpu) in sums.items()}
    print(f"\noverall, the {n_done} families where ProVision finished (sum of QA / sum of "
          f"CPU-s, each side): ProVision {overall['cand']:.0f} candidates/CPU-s "
          f"({sums['cand'][0]} in {sums['cand'][1]:.2f} s), {overall['text']:.0f} with text")
    for label in ours:
        n, cpu = sums[label]
        # each family weighted alike (the sums above weigh the slow generators most)
        logs = {key: [math.log(max(rate(best[label]["generators"][cls]), 1e-9)
                               / max(rate(ref[cls] if key == "cand" else ref[cls]["text"]),
                                     1e-9))
                      for cls in MULTI_PAIRS if finished(ref.get(cls))
                      and finished(ref[cls].get("text"))] for key in ("cand", "text")}
        geo = {key: math.exp(sum(v) / max(len(v), 1)) for key, v in logs.items()}
        print(f"  scenesynth {best[label]['build']:8s} {overall[label]:7.0f} samples/CPU-s "
              f"({n} in {cpu:.2f} s): ratio {overall[label] / max(overall['cand'], 1e-9):.2f}x "
              f"candidates, {overall[label] / max(overall['text'], 1e-9):.2f}x with text; "
              f"geometric mean of the per-family ratios {geo['cand']:.2f}x candidates, "
              f"{geo['text']:.2f}x with text; "
              f"all {len(MULTI_PAIRS)} matched generators in one shard: "
              f"{rate(best[label]['together']):.0f}/CPU-s")
        joint = best[label].get("together_finished")
        if joint is not None:
            # the same families in one shard, as a run asks them: the per-graph lookups are
            # built once per group, not once per family (ProVision's indexes are built
            # before its clock starts)
            print(f"    the {n_done} families where ProVision finished, in one shard: "
                  f"{rate(joint):.0f} samples/CPU-s ({joint['n']} in {joint['cpu']:.2f} s): "
                  f"ratio {rate(joint) / max(overall['cand'], 1e-9):.2f}x candidates, "
                  f"{rate(joint) / max(overall['text'], 1e-9):.2f}x with text")
        extra = ", ".join(f"{name} {rate(r):.0f}"
                          for name, r in best[label]["unmatched"].items())
        print(f"    unmatched (no ProVision counterpart), samples/CPU-s: {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("provision", type=Path, help="a ProVision checkout (its root folder)")
    parser.add_argument("--mode", choices=("multi", "single"), default="multi")
    parser.add_argument("--graphs", type=int, default=200)
    parser.add_argument("--objects", default="10-40", help="objects per graph, MIN-MAX")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-image", type=int, default=5, help="scenesynth questions per "
                        "image (multi: per group) and generator")
    parser.add_argument("--passes", type=int, default=4, help="multi-image: scenesynth "
                        "shards per generator over the graphs (seeds 0, 1, ...: each groups "
                        "them differently), so that each generator runs long enough to time")
    parser.add_argument("--n-sample", type=int, default=2000, help="ProVision multi-image "
                        "samples asked of each generator")
    parser.add_argument("--group", type=int, default=2, help="images per multi-image sample")
    parser.add_argument("--limit-s", type=int, default=20, help="stop a reference "
                        "generator after this many CPU seconds (they have no retry cap)")
    parser.add_argument("--lockstep", action="store_true", help="run the contenders of a "
                        "round at once, handing the CPU to one at a time in 50 ms turns "
                        "(bench/lockstep.py), so that each sees the machine in the same state; "
                        "without it they run one after another")
    parser.add_argument("--data", type=Path, help="reuse graphs written here earlier")
    parser.add_argument("--compiled", type=Path, help="a compiled build's site folder "
                        "(SCENESYNTH_COMPILE=1 pip install --target DIR .): measured too, "
                        "in the same alternation, put first on PYTHONPATH")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--finished", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    provision = args.provision.resolve()
    if args.contender:  # one measurement, in its own process
        sys.path.insert(0, str(provision))
        if args.contender == "provision":
            out = run_provision(args.data, args.mode, args.n_sample, args.group,
                                args.limit_s)
        else:
            out = run_scenesynth(args.data, args.mode, args.per_image, args.group,
                                 args.passes, [n for n in args.finished.split(",") if n])
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
    # ProVision first: which of its generators finish decides the families of the
    # one-shard figure that scenesynth's runs time
    contenders: list[tuple[str, str, str | None]] = [
        ("provision", "provision", None), ("scenesynth", "scenesynth", None)]
    if args.compiled is not None:
        contenders.append(("compiled", "scenesynth", str(args.compiled.resolve())))
    families_finished: list[str] = []
    # per contender, the fastest measurement of each piece of work over the rounds
    best: dict[str, dict] = {}

    def command(contender: str, site: str | None) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, str(Path(__file__).resolve()), str(provision),
                "--contender", contender,
                "--data", str(data), "--mode", args.mode, "--per-image",
                str(args.per_image), "--passes", str(args.passes), "--n-sample",
                str(args.n_sample), "--group", str(args.group), "--limit-s",
                str(args.limit_s), "--finished", ",".join(families_finished)]
        env = {**os.environ}
        if site is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (site, env.get("PYTHONPATH", "")) if p)
        return argv, env

    def finished_families(out: dict) -> list[str]:
        """The scenesynth families whose reference generator finished (with its text)."""
        return sorted({n for cls, pair in MULTI_PAIRS.items()
                       if finished_with_text(out["generators"].get(cls)) for n in pair})

    def record(r: int, label: str, stdout: str) -> dict:
        out: dict = json.loads(stdout.strip().splitlines()[-1])
        pieces = [p for key in ("generators", "unmatched") for p in out.get(key, {}).values()]
        if "together" in out:
            pieces.append(out["together"])
        done = [p for p in pieces if "left_out" not in p]
        n, cpu = sum(p["n"] for p in done), sum(p["cpu"] for p in done)
        print(f"round {r + 1} {label:10s} {n:8d} QA in {cpu:7.2f} CPU-s "
              f"{out.get('build', '')}", flush=True)
        kept = best.setdefault(label, {"build": out.get("build", "")})
        for key in ("generators", "unmatched"):
            for name, piece in out.get(key, {}).items():
                kept.setdefault(key, {})[name] = fastest(kept.get(key, {}).get(name), piece)
        for key in ("together", "together_finished"):
            if key in out:
                kept[key] = fastest(kept.get(key), out[key])
        return out

    if args.lockstep and args.mode == "multi":
        # the contenders of a round start together, so which reference generators finish
        # (the families of scenesynth's one-shard figure) is found first, in a reference run
        # of its own whose timing is not used
        argv, env = command("provision", None)
        first = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        families_finished = finished_families(
            json.loads(first.stdout.strip().splitlines()[-1]))
    for r in range(args.rounds):
        if args.lockstep:
            # who starts rotates, so that no contender always takes the first turn
            order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
            outputs = in_lockstep([(label, *command(contender, site))
                                   for label, contender, site in order])
            for label, _, _ in contenders:
                record(r, label, outputs[label])
            continue
        for label, contender, site in contenders:  # alternated: the machine is shared
            argv, env = command(contender, site)
            out = record(r, label, subprocess.run(argv, capture_output=True, text=True,
                                                  check=True, env=env).stdout)
            if contender == "provision" and args.mode == "multi" and not families_finished:
                families_finished = finished_families(out)
    ours = [c[0] for c in contenders if c[0] != "provision"]
    if args.mode == "multi":
        report_multi(best, ours, args)
        return
    ref = [g for g in best["provision"]["generators"].values() if "left_out" not in g]
    ref_rate = sum(g["n"] for g in ref) / max(sum(g["cpu"] for g in ref), 1e-9)
    for name, g in best["provision"]["generators"].items():
        if "left_out" in g:
            print(f"  left out: {name} ({g['left_out']})")
    for label in ours:
        mine = rate(best[label]["together"])
        print(f"single-image, {args.graphs} graphs of {args.objects} objects, fastest of "
              f"{args.rounds}: scenesynth ({best[label]['build']}) {mine:.0f} samples/CPU-s, "
              f"ProVision {ref_rate:.0f} candidates/CPU-s (no text): "
              f"ratio {mine / max(ref_rate, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
