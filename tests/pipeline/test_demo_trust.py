"""What a trainer reads from a rendered (demo-style) run: relation questions with one answer in
the image, answer caps that hold over the whole run, and wording without the defects a reader
found (a name repeating its material, stuff counted like things).

One small ``synth`` run (the demo's pipeline and settings, fewer scenes) is read back from its
exported ``data.json``, the way a user would read it.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from geometry_ambiguity import measure_demo

from scenesynth.graph.vocab import MASS_NOUNS, plural
from scenesynth.quality.balance import AnswerBalancer


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    from scenesynth.pipeline import SynthesizeConfig
    from scenesynth.pipeline import run as run_pipeline
    from scenesynth.pipeline.synthesize import synthesis_config

    out = tmp_path_factory.mktemp("demo")
    run_pipeline(synthesis_config(out, SynthesizeConfig(scenes=24), seed=0, per_image=1,
                                  progress=False))
    return out, json.loads((out / "data.json").read_text())


def test_no_relation_step_with_a_second_geometric_answer(run: tuple[Path, Any]) -> None:
    count = measure_demo(run[0])
    assert count.relation_steps > 20
    assert count.defects == 0, count.examples[:5]


def _bucket_answers(records: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    buckets: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        meta = r["metadata"]
        prov = meta["provenance"]
        key = prov["extra"].get("balance_key") or prov["generator"]
        value = meta["answer_value"]
        answer = ("yes" if value else "no") if isinstance(value, bool) else json.dumps(value)
        buckets[key][answer] += 1
    return buckets


def test_every_answer_within_its_cap_over_the_whole_run(run: tuple[Path, Any]) -> None:
    balancer = AnswerBalancer()
    lo, hi = balancer.yes_no_band
    counting = Counter()
    yes_by_family: dict[str, Counter[bool]] = defaultdict(Counter)
    for r in run[1]:
        meta = r["metadata"]
        if meta["answer_type"] == "count":
            counting[meta["answer_value"]] += 1
        if isinstance(meta["answer_value"], bool):
            yes_by_family[meta["provenance"]["family"]][meta["answer_value"]] += 1
    for bucket, answers in _bucket_answers(run[1]).items():
        total = sum(answers.values())
        if set(answers) <= {"yes", "no"}:
            assert lo - 1e-9 <= answers["yes"] / total <= hi + 1e-9, (bucket, answers)
            continue
        cap = max(balancer.max_share, (1 + 2 * (hi - 0.5)) / len(answers))
        assert max(answers.values()) <= cap * total + 1e-9, (bucket, answers)
    for family, shares in yes_by_family.items():
        assert lo - 1e-9 <= shares[True] / sum(shares.values()) <= hi + 1e-9, family
    assert counting and max(counting.values()) / sum(counting.values()) <= 0.55


_MASS = "|".join(sorted(MASS_NOUNS, key=len, reverse=True))


def test_wording_has_no_repeated_words_and_counts_no_stuff(run: tuple[Path, Any]) -> None:
    counted = re.compile(rf"\b(How many|What number of|more|fewer) ({_MASS})\b")
    for r in run[1]:
        question, answer = (c["value"] for c in r["conversations"])
        for text in (question, answer):
            assert not re.search(r"\b(\w+) \1\b", text), text  # "paper paper stack"
        assert not counted.search(question), question
        assert not re.search(rf"\ban? ({_MASS})\b(?! \w)", question), question


def test_trim_keeps_the_most_samples_within_the_caps() -> None:
    from samples import make_sample

    answers = [1] * 60 + [2] * 25 + [3] * 10 + [4] * 5
    samples = [make_sample(a, generator="count", question=f"c{i}")
               for i, a in enumerate(answers)]
    samples += [make_sample(i % 10 != 0, generator="exists", question=f"e{i}")
                for i in range(100)]  # 90 % yes
    kept = AnswerBalancer().trim(samples)
    counts = Counter((s.provenance.generator, s.answer) for s in kept)
    # four answers, cap 30 %: 37 samples is the most where no answer exceeds 30 % (11/37);
    # with 38, the 12th "1" or "2" would be 31.6 %. The rare answers are all kept.
    assert [counts[("count", a)] for a in "1234"] == [11, 11, 10, 5]
    # yes/no: 10 "no" allow at most 12 "yes" (54.5 %; 13 would be 56.5 %)
    assert counts[("exists", "no")] == 10 and counts[("exists", "yes")] == 12
    # the first samples of each answer are kept, in the original order
    assert [s.question for s in kept if s.answer == "1"] == [f"c{i}" for i in range(11)]
    order = [s.question for s in samples]
    assert [order.index(s.question) for s in kept] == sorted(order.index(s.question)
                                                           for s in kept)


def test_trim_drops_a_yes_no_bucket_with_one_answer() -> None:
    from samples import make_sample

    samples = [make_sample(True, generator="always_yes") for _ in range(5)]
    assert AnswerBalancer().trim(samples) == []


def test_plural_and_articles_of_stuff_and_plural_only_nouns() -> None:
    from scenesynth.graph.vocab import indefinite, is_mass_noun, names_value

    assert plural("sky") == "sky" and plural("gravel") == "gravel" and plural("scarf") == "scarves"
    assert indefinite("gravel") == "gravel" and indefinite("truck") == "a truck"
    assert indefinite("scissors") == "a pair of scissors"
    assert is_mass_noun("green grass") and not is_mass_noun("grass patch")
    assert names_value("paper stack", "paper") and not names_value("paper stack", "white")


def _crafted_scene() -> Any:
    from scenesynth.graph import Attribute, AttributeKind, Box, ImageInfo, SceneGraph, SceneObject

    def obj(i: str, name: str, box: tuple[int, int, int, int], *values: tuple[str, str]
            ) -> SceneObject:
        return SceneObject(id=i, name=name, box=Box(x0=box[0], y0=box[1], x1=box[2], y1=box[3]),
                           attributes=[Attribute(value=v, kind=AttributeKind(k))
                                       for k, v in values])

    return SceneGraph(
        image=ImageInfo(id="stuff", width=400, height=300, source="test"),
        objects=[obj("s", "sky", (0, 0, 400, 100), ("color", "blue")),
                 obj("g", "grass", (0, 200, 400, 300), ("color", "green")),
                 obj("p1", "person", (20, 120, 60, 250), ("color", "green")),
                 obj("p2", "person", (300, 120, 340, 250), ("color", "red")),
                 obj("t", "truck", (120, 130, 260, 240), ("color", "blue")),
                 obj("k1", "paper stack", (70, 210, 110, 240), ("material", "paper"),
                     ("color", "white")),
                 obj("k2", "paper stack", (200, 250, 240, 280), ("material", "paper"),
                     ("color", "yellow"))],
    )


def _all_questions(graph: Any, name: str) -> list[Any]:
    import itertools
    import random

    import scenesynth.generators  # noqa: F401
    from scenesynth.generators.base import GenConfig, GenContext, registered

    out = []
    for seed in range(8):
        ctx = GenContext(graphs=[graph], rng=random.Random(seed), config=GenConfig(),
                         other_names=("gravel", "truck", "dog"))
        out.extend(itertools.islice(registered()[name]().generate(ctx), 60))
    return out


def test_stuff_is_never_counted_or_compared_and_takes_no_article() -> None:
    g = _crafted_scene()
    counted_names = set()
    for name in ("count_objects", "count_attribute", "compare_count", "count_union"):
        for q in _all_questions(g, name):
            counted_names |= {s.args["name"] for s in q.program if s.op == "filter_name"}
            assert not re.search(r"\b(sky|grass|skies|grasses)\b", q.text), q.text
            # "how many green objects" would count the green grass
            values = {s.args["value"] for s in q.program if s.op == "filter_attr"}
            assert "green" not in values or "filter_name" in {s.op for s in q.program}, q.text
    assert counted_names == {"person", "truck", "paper stack"}
    texts = [q.text for n in ("exist_object", "logic_or", "logic_and")
             for q in _all_questions(g, n)]
    assert any(re.search(r"\b(grass|gravel)\b", t) for t in texts)
    for t in texts:
        assert not re.search(r"\ban? (sky|grass|gravel)\b", t), t
        assert "Are there any grass" not in t and "Are there any gravel" not in t, t


def test_a_name_never_repeats_its_material() -> None:
    g = _crafted_scene()
    for name in ("query_attribute", "verify_attribute", "grounding_box", "scene_description",
                 "same_attribute", "count_attribute"):
        for q in _all_questions(g, name):
            text = f"{q.text} {q.answer}"
            assert "paper paper" not in text, text
            if name == "query_attribute" and "paper stack" in q.text:
                assert q.program[-1].args["kind"] != "material", q.text  # the name says it
    (description,) = _all_questions(g, "scene_description")[:1]
    assert "white paper stack" in description.answer


def test_coco_stuff_regions_are_never_counted(shared_data: Path) -> None:
    from scenesynth.sources import load

    for g in load(shared_data / "coco_panoptic"):
        stuff = {o.name for o in g.objects if o.meta.get("isthing") is False}
        assert stuff
        for name in ("count_objects", "compare_count"):
            for q in _all_questions(g, name):
                named = {s.args["name"] for s in q.program if s.op == "filter_name"}
                assert not named & stuff, q.text
