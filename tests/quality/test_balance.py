"""AnswerBalancer, Deduplicator and the answer report on controlled, skewed sample streams."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest
from rich.console import Console
from samples import make_sample

from scenesynth.graph.sample import AnswerForm, InstructionSample
from scenesynth.quality.balance import AnswerBalancer, answer_key, value_key
from scenesynth.quality.dedup import Deduplicator, normalize_question
from scenesynth.quality.report import (
    answer_report,
    entropy_bits,
    numeric_rank,
    render_report,
    uniform_p_value,
)


def skewed_stream(n: int, seed: int) -> list[InstructionSample]:
    """80 % yes for a yes/no generator; counts 0..5 with 70 % zeros for a counting generator."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(make_sample(rng.random() < 0.8, generator="exists", family="existence"))
        count = 0 if rng.random() < 0.7 else rng.randint(1, 5)
        out.append(make_sample(count, generator="count", family="counting"))
    return out


def run_balancer(samples: list[InstructionSample], **kw: object) -> list[InstructionSample]:
    balancer = AnswerBalancer(**kw)  # type: ignore[arg-type]
    return [s for s in samples if balancer.offer(s)]


def test_yes_share_stays_in_band_and_counts_capped_once_warm() -> None:
    samples = skewed_stream(4000, seed=1)
    balancer = AnswerBalancer()
    kept_yes = kept_total = 0
    for s in samples:
        if balancer.offer(s) and s.provenance.generator == "exists":
            kept_total += 1
            kept_yes += s.answer == "yes"
            if kept_total >= 20:  # warm: the band holds after every single kept sample
                assert 0.45 <= kept_yes / kept_total <= 0.55
    stats = balancer.stats()
    assert stats["exists"]["kept"] == kept_total
    assert 0.45 <= stats["exists"]["yes_share"] <= 0.55
    # counting: 6 distinct answers so the cap is max(0.3, 1.1 / 6) = 0.3
    assert stats["count"]["cap"] == pytest.approx(0.3)
    assert stats["count"]["top_share"] <= 0.3
    # the skew is real: far more "0" than any other answer was offered, so many were rejected
    assert stats["count"]["rejected"] > 1000
    assert stats["count"]["counts"]["0"] <= 0.3 * stats["count"]["kept"]


def test_warmup_bounds_the_first_samples() -> None:
    balancer = AnswerBalancer(max_share=0.3, warmup=20)
    kept = [balancer.offer(make_sample(7)) for _ in range(50)]
    # one answer only: its cap is max(0.3, 1.1 / 1) = 1.1 so nothing is rejected ...
    assert all(kept)
    # ten answers seen, then a flood of "1": during warmup "1" may fill 30 % of 20 slots
    balancer = AnswerBalancer(max_share=0.3, warmup=20)
    samples = [make_sample(v) for v in list(range(1, 11)) + [1] * 100]
    kept_values = [s.answer_value for s in samples if balancer.offer(s)]
    assert kept_values.count(1) == 6
    assert len(kept_values) == 15


def test_small_answer_domain_gets_yes_no_tolerance() -> None:
    # two images: "Image 1" / "Image 2"; a 30 % cap would reject everything, 55 % is used
    rng = random.Random(3)
    balancer = AnswerBalancer()
    kept = []
    for _ in range(1000):
        value = "Image 1" if rng.random() < 0.75 else "Image 2"
        s = make_sample(value, generator="pick", image_ids=("a", "b"), answer_type="image")
        if balancer.offer(s):
            kept.append(value)
    share = kept.count("Image 1") / len(kept)
    assert 0.45 <= share <= 0.55
    assert len(kept) > 400  # roughly every "Image 2" (about 250) plus as many "Image 1"
    assert balancer.stats()["pick"]["cap"] == pytest.approx(0.55)


def test_stats_say_how_long_the_cap_has_held() -> None:
    # a new count lowers every count's cap (1.1 / k); the stats count the samples kept since
    balancer = AnswerBalancer()
    for value in [1, 2, 3] * 20:
        balancer.offer(make_sample(value, generator="count"))
        balancer.offer(make_sample(value % 2 == 0, generator="yes_no"))
    assert balancer.stats()["count"]["kept_under_cap"] == 58  # since the first 3
    assert balancer.offer(make_sample(4, generator="count"))
    count = balancer.stats()["count"]
    assert count["kept_under_cap"] == 1 and count["answers_offered"] == 4
    assert count["cap"] == pytest.approx(0.3)
    # a yes/no bucket's band does not depend on the answers seen
    assert balancer.stats()["yes_no"]["kept_under_cap"] == balancer.stats()["yes_no"]["kept"]


def test_balancing_is_deterministic_and_keyed_per_generator() -> None:
    samples = skewed_stream(1000, seed=7)
    first = [s.answer for s in run_balancer(samples)]
    second = [s.answer for s in run_balancer(samples)]
    assert first == second
    # a generator's bucket is independent of other generators' streams
    only_exists = [s for s in samples if s.provenance.generator == "exists"]
    kept_exists = [s for s in run_balancer(samples) if s.provenance.generator == "exists"]
    assert [s.answer for s in run_balancer(only_exists)] == [s.answer for s in kept_exists]


def test_balance_key_from_provenance_extra_splits_buckets() -> None:
    balancer = AnswerBalancer(warmup=2)
    a = make_sample(True, generator="g")
    b = make_sample(True, generator="g")
    b.provenance.extra["balance_key"] = "g/color"
    assert balancer.offer(a) and balancer.offer(b)
    assert set(balancer.stats()) == {"g", "g/color"}


def test_would_keep_of_a_template_bucket_is_exact_for_that_template() -> None:
    """A generator asks about the bucket its sample will be offered to (a template of its
    balance key): would_keep must say what offer then does, the generator's caps included."""
    balancer = AnswerBalancer()
    rng = random.Random(3)
    for i in range(2000):
        template = rng.choice(["t1", "t2", "t3"])
        sample = make_sample(rng.random() < 0.7, generator="g")
        sample.provenance.extra["balance_key"] = f"g:kind#{template}"
        predicted = balancer.would_keep(f"g:kind#{template}", sample.answer_value)
        assert balancer.offer(sample) is predicted, i
    stats = balancer.stats()
    assert stats["g:kind"]["rejected"] > 0  # the caps did bind
    for name in ("g:kind#t1", "g:kind#t2", "g:kind#t3"):
        assert 0.45 <= stats[name]["yes_share"] <= 0.55 + 1 / stats[name]["kept"]


def test_dedup_remembers_only_what_it_is_told() -> None:
    dedup = Deduplicator()
    key = dedup.new_key(("a",), "How many cubes?", "short")
    assert key is not None
    # not remembered (the balancer refused that sample): a later copy is new
    again = dedup.new_key(("a",), "how many cubes", "short")
    assert again == key
    dedup.remember(again)
    assert dedup.new_key(("a",), "How many cubes?", "short") is None
    assert dedup.stats() == {"offered": 3, "kept": 2, "rejected": 1}


def test_answer_key_forms() -> None:
    assert answer_key(make_sample(True)) == "yes"
    assert answer_key(make_sample(3)) == "3"
    assert answer_key(make_sample(["a", "b"])) == '["a","b"]'
    yn = make_sample(True, form=AnswerForm.YES_NO)
    assert answer_key(yn) == "yes"


def test_invalid_balancer_settings_are_named() -> None:
    with pytest.raises(ValueError, match="max_share"):
        AnswerBalancer(max_share=0)
    with pytest.raises(ValueError, match="yes_no_band"):
        AnswerBalancer(yes_no_band=(0.6, 0.7))
    with pytest.raises(ValueError, match="warmup"):
        AnswerBalancer(warmup=0)


def test_dedup_on_images_normalised_question_and_form() -> None:
    dedup = Deduplicator()
    assert dedup.offer(make_sample(1, question="How many  cubes are there?"))
    assert not dedup.offer(make_sample(2, question="how many cubes are there"))
    assert dedup.offer(make_sample(1, question="How many cubes are there?",
                                   form=AnswerForm.MULTIPLE_CHOICE))
    assert dedup.offer(make_sample(1, question="How many cubes are there?", image_ids=("b",)))
    assert dedup.stats() == {"offered": 4, "kept": 3, "rejected": 1}
    assert normalize_question("  Is it  red ?!") == "is it red"


def test_report_figures() -> None:
    assert entropy_bits([5, 5]) == pytest.approx(1.0)
    assert entropy_bits([4, 0]) == 0.0
    assert uniform_p_value([25, 25, 25, 25]) == pytest.approx(1.0)
    assert uniform_p_value([100, 0, 0, 0]) < 1e-6
    assert uniform_p_value([3]) is None

    mc = make_sample(2, form=AnswerForm.MULTIPLE_CHOICE, options=["4", "2", "1", "3"],
                     answer_index=1)
    assert numeric_rank(mc) == 1
    samples = [
        make_sample(True, generator="e", family="existence"),
        make_sample(False, generator="e", family="existence"),
        make_sample(True, generator="e2", family="existence", form=AnswerForm.YES_NO),
        mc,
        make_sample(3, form=AnswerForm.MULTIPLE_CHOICE, options=["3", "2", "1", "4"],
                    answer_index=0),
    ]
    rep = answer_report(samples)
    assert set(rep.families) == {"existence", "fam"}
    ex = rep.families["existence"]
    assert ex.n == 3 and ex.yes_share == pytest.approx(2 / 3)
    assert ex.answer_counts == {"yes": 2, "no": 1}
    fam = rep.families["fam"]
    assert fam.mc_options == 4
    assert fam.mc_position_hist == [1, 1, 0, 0]
    assert fam.numeric_rank_hist == [0, 1, 1, 0]
    assert rep.generators["e"].n == 2
    assert rep.to_dict()["families"]["existence"]["n"] == 3


def test_mc_positions_are_kept_uniform_per_bucket() -> None:
    # a renderer that puts the answer at position 3 two times out of three
    rng = random.Random(11)
    balancer = AnswerBalancer()
    kept_positions = []
    for i in range(3000):
        position = 3 if rng.random() < 2 / 3 else rng.randrange(3)
        options = ["w", "x", "y", "z"]
        s = make_sample(f"v{i % 40}", form=AnswerForm.MULTIPLE_CHOICE, options=options,
                        answer_index=position)
        s.answer = options[position]
        if balancer.offer(s):
            kept_positions.append(position)
    hist = [kept_positions.count(p) for p in range(4)]
    mean = len(kept_positions) / 4
    assert all(abs(h - mean) <= 2 for h in hist), hist
    assert len(kept_positions) > 1000  # every position-0..2 sample (about 1000) survives
    assert uniform_p_value(hist) > 0.99
    assert balancer.stats()["gen"]["mc_positions"] == dict(enumerate(hist))


def test_report_on_a_real_shard(shared_data: Path) -> None:
    from scenesynth.generators.base import GenConfig
    from scenesynth.pipeline.shard import generate_shard
    from scenesynth.sources import load

    graphs = list(itertools.islice(load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"),
                                   60))
    forms = (AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE, AnswerForm.YES_NO)
    samples = generate_shard(graphs, None, 1, forms, 3, GenConfig(), (2, 3)).samples
    rep = answer_report(samples)
    assert sum(g.n for g in rep.families.values()) == len(samples)
    assert sum(g.n for g in rep.generators.values()) == len(samples)
    for family, g in rep.families.items():
        members = [s for s in samples if s.provenance.family == family]
        assert sum(g.answer_counts.values()) == g.n == len(members)
        booleans = [s for s in members if isinstance(s.answer_value, bool)]
        if booleans:
            assert g.yes_share == pytest.approx(
                sum(s.answer_value for s in booleans) / len(booleans))
        mc = [s for s in members if s.form == AnswerForm.MULTIPLE_CHOICE]
        assert sum(g.mc_position_hist) == len(mc)
        assert 0.0 <= g.entropy <= math.log2(max(len(g.answer_counts), 1)) + 1e-9
    console = Console(record=True, width=220)
    render_report(rep, console)
    text = console.export_text()
    assert "Answer balance by family" in text and "multi_selection" in text


def test_answer_keys_are_the_json_text_of_the_answer() -> None:
    """value_key's fast paths (strings, lists of strings or finite numbers) write exactly
    what json.dumps writes; everything else goes through json.dumps."""
    rng = random.Random(0)
    values: list[object] = [
        0, 7, "cube", 'say "hi"', "ü", [], ["a", 'b"c', "ü"], [1.5, 2.0, 3],
        [0.1 + 0.2, 1e-7, 1e22, -0.0], [float("inf"), 1.0], [True, 1], ["a", 1.5],
        [2**70, 1.25], {"b": 1, "a": [2]},
    ]
    values += [[rng.uniform(-1e6, 1e6) for _ in range(4)] for _ in range(2000)]
    # strings with control characters, quotes, backslashes, non-ASCII, lone surrogates and
    # astral characters (JSON escapes every non-ASCII one)
    chars = [chr(c) for c in [*range(0x00, 0x250), 0x2028, 0xD800, 0xDFFF, 0xFFFF, 0x1F600]]
    strings = ["".join(rng.choice(chars) for _ in range(rng.randint(0, 10))) for _ in range(3000)]
    values += strings + [strings[i:i + 3] for i in range(0, 300, 3)]
    for value in values:
        assert value_key(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))
