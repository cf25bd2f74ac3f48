"""Balance per template: a template whose wording predicts its answer is capped on its own,
even when its family is balanced on average."""

from __future__ import annotations

from scenesynth.graph.keys import template_bucket
from scenesynth.quality.balance import AnswerBalancer


def _offer(balancer: AnswerBalancer, template: str, yes: bool) -> bool:
    return balancer.offer_parts(template_bucket("same_attribute", template), "short",
                                "yes" if yes else "no", yes, "yes_no", 1, None, None)


def test_skewed_template_is_capped_inside_a_balanced_family() -> None:
    balancer = AnswerBalancer()
    for i in range(2000):  # "made": 75 % yes, "have": 25 % yes -> the family at 50 %
        _offer(balancer, "same_made", i % 4 != 0)
        _offer(balancer, "same_have", i % 4 == 0)
    stats = balancer.stats()
    lo, hi = balancer.yes_no_band
    for name in ("same_attribute#same_made", "same_attribute#same_have", "same_attribute"):
        assert stats[name]["kept"] > 500, name
        assert lo <= stats[name]["yes_share"] <= hi, (name, stats[name])


def test_count_answers_capped_per_template_and_per_family() -> None:
    balancer = AnswerBalancer()
    for i in range(3000):
        value = [1, 1, 1, 2, 3, 1, 4][i % 7]
        balancer.offer_parts(template_bucket("count", ("a", "b")[i % 2]), "short", str(value),
                             value, "count", 1, None, None)
    stats = balancer.stats()
    for name in ("count#a", "count#b", "count"):
        assert stats[name]["top_share"] <= stats[name]["cap"] + 1e-9, (name, stats[name])


def test_would_keep_reads_the_templates_of_a_generator() -> None:
    balancer = AnswerBalancer()
    for _ in range(60):
        _offer(balancer, "same_made", True)
    assert balancer.would_keep("same_attribute", True) is False
    assert balancer.would_keep("same_attribute", False) is True
    assert balancer.would_keep("unknown", True) is True
