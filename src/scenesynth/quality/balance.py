"""Answer balancing: CLEVR-style rejection so no answer dominates a question family.

Samples are grouped in *buckets*: the question's balance key (by default the generator name)
per template (``graph.keys.template_bucket``), so a family balanced on average cannot hide
a template whose wording predicts its answer (a same-material wording at 73 % yes in a
family at 55 %).
Within a bucket each answer may hold at most its *cap* share of the kept samples:

* yes/no answers: the share of "yes" stays inside ``yes_no_band`` (``yes <= hi``, ``no <= 1 - lo``);
* other answers: ``cap = max(max_share, (1 + 2 * (hi - 0.5)) / k)`` where ``k`` is the number of
  distinct answers offered to the bucket so far (the number of images for image-selection
  answers). A fixed 30 % cap is unreachable when a bucket has only two or three possible answers
  (CLEVR materials, "Image 1"/"Image 2"), so small answer domains get the yes/no tolerance instead.

Multiple-choice samples are also balanced on the correct option's position: within a bucket
no position may lead the uniform share ``kept_mc / options`` by more than ``position_slack``
samples. The form renderer draws positions uniformly, but answer rejection skews what
survives; this keeps the kept samples' positions uniform.

A new answer lowers the cap of every answer of a non-yes/no bucket (``k`` grows), and the
samples already kept stay kept: a late fourth count can leave the first above the lowered cap
until later samples dilute it (``stats()``: ``kept_under_cap``).

An answer is rejected when keeping it would push its share above the cap, measured against
``max(kept + 1, warmup)`` samples; the ``warmup`` floor stops the first few samples from being
judged on tiny denominators while still bounding what the warmup phase can let through. Once a
bucket holds at least ``warmup`` samples every share is within its cap. Balancing is a pure
function of the order in which samples are offered, so a deterministic offer order gives
deterministic output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from scenesynth.graph.keys import TEMPLATE_SEPARATOR
from scenesynth.graph.sample import AnswerForm, InstructionSample

YES: Final = "yes"
NO: Final = "no"
# Enum members as C statics when compiled: EnumType.__getattr__ (Python 3.11) makes
# ``AnswerForm.YES_NO`` a Python-level lookup on every use.
_YES_NO_FORM: Final = AnswerForm.YES_NO
_MC_FORM: Final = AnswerForm.MULTIPLE_CHOICE


def answer_key(sample: InstructionSample) -> str:
    """The answer a sample is balanced on: "yes"/"no" for booleans, else the typed value as JSON."""
    if sample.form == AnswerForm.YES_NO:
        return sample.answer.strip().lower()
    value = sample.answer_value
    if value is None:
        return sample.answer.strip().lower()
    return value_key(value)


def value_key(value: Any) -> str:
    """:func:`answer_key` of a typed (not None) answer value."""
    if isinstance(value, bool):
        return YES if value else NO
    if type(value) is int:  # the common cases, as json.dumps writes them (hot path)
        return str(value)
    if type(value) is str:
        key = _STR_KEYS.get(value)
        if key is None:
            key = _json_string(value)
            if len(_STR_KEYS) < 100_000:
                _STR_KEYS[value] = key
        return key
    if type(value) is list:
        # lists of strings (names, captions) and of finite numbers (boxes): the same text
        # json.dumps writes (it writes a float as repr() does), without its encoder setup
        if all(type(v) is str for v in value):
            return "[" + ",".join([value_key(v) for v in value]) + "]"
        if all(type(v) is int or (type(v) is float and math.isfinite(v)) for v in value):
            return "[" + ",".join([repr(v) for v in value]) + "]"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_STR_KEYS: Final[dict[str, str]] = {}  # answer string -> its JSON text (a bounded memo)
# What json.dumps(str) returns (its encoder's own C function for a str, without the
# encoder set-up around it).
_json_string: Final = json.encoder.encode_basestring_ascii


def balance_key(sample: InstructionSample) -> str:
    """Bucket of a sample: the runner-recorded balance key, else the generator name."""
    key = sample.provenance.extra.get("balance_key")
    return str(key) if key else sample.provenance.generator


def _family_key(sample: InstructionSample) -> str:
    """The generator's balance key of a sample (its bucket without the template)."""
    return balance_key(sample).partition(TEMPLATE_SEPARATOR)[0]


def _generator_key(sample: InstructionSample) -> str:
    """The generator of a sample's balance key ("count_attribute:size" -> "count_attribute")."""
    return _family_key(sample).partition(":")[0]


@dataclass
class _Bucket:
    counts: dict[str, int] = field(default_factory=dict)
    seen_answers: set[str] = field(default_factory=set)
    positions: dict[int, int] = field(default_factory=dict)  # MC correct-option positions
    mc_kept: int = 0
    kept: int = 0
    rejected: int = 0
    is_yes_no: bool = False
    domain: int | None = None  # known answer-domain size (images for image selection)
    cap_set_at: int = 0  # samples kept when a new answer last lowered the cap
    family: _Bucket | None = None  # a per-template bucket's generator bucket (also capped)


class AnswerBalancer:
    """Per-bucket answer caps; ``offer`` returns True when the sample should be kept."""

    def __init__(
        self,
        max_share: float = 0.3,
        yes_no_band: tuple[float, float] = (0.45, 0.55),
        warmup: int = 20,
        position_slack: int = 2,
    ) -> None:
        lo, hi = yes_no_band
        if not 0.0 < max_share <= 1.0:
            raise ValueError(f"max_share must be in (0, 1], got {max_share}")
        if not 0.0 <= lo <= 0.5 <= hi <= 1.0:
            raise ValueError(
                f"yes_no_band must satisfy 0 <= lo <= 0.5 <= hi <= 1, got {yes_no_band}"
            )
        if warmup < 1:
            raise ValueError(f"warmup must be >= 1, got {warmup}")
        self.max_share = max_share
        self.yes_no_band = (lo, hi)
        self.warmup = warmup
        self.position_slack = position_slack
        # the caps, worked out once: a yes/no bucket's two, and a k-answer bucket's for the
        # usual k (offer reads one per sample)
        self._yes_cap = hi
        self._no_cap = 1.0 - lo
        self._spread = 1.0 + 2.0 * (hi - 0.5)
        self._share_caps = [max(max_share, self._spread / max(k, 1)) for k in range(64)]
        self._buckets: dict[str, _Bucket] = {}
        # balance key -> its per-template buckets (template_bucket), for would_keep
        self._templates: dict[str, list[_Bucket]] = {}

    # -- caps ---------------------------------------------------------------------------------
    def cap(self, bucket: str, answer: str) -> float:
        """Largest share ``answer`` may hold in ``bucket`` (see module docstring)."""
        b = self._buckets.get(bucket)
        if b is None:
            return self._cap(answer, False, 1)
        return self._cap(answer, b.is_yes_no, self._domain_size(b, len(b.seen_answers)))

    def _cap(self, answer: str, yes_no: bool, k: int) -> float:
        """The cap of ``answer`` in a yes/no bucket, or in one of ``k`` distinct answers."""
        if yes_no:
            return self._yes_cap if answer == YES else self._no_cap
        return self._share_cap(k)

    def _share_cap(self, k: int) -> float:
        """The cap of every answer of a non-yes/no bucket of ``k`` distinct answers."""
        if 0 < k < len(self._share_caps):
            return self._share_caps[k]
        return max(self.max_share, self._spread / max(k, 1))

    @staticmethod
    def _domain_size(b: _Bucket, distinct: int) -> int:
        """``distinct`` answers seen, or the known domain size (images) when larger."""
        return distinct if b.domain is None else max(distinct, b.domain)

    def would_keep(self, bucket: str, value: Any) -> bool:
        """Whether a sample of ``bucket`` whose typed answer is ``value`` would pass the answer
        cap right now (changes nothing). False means :meth:`offer` would reject every form of
        it, so a generator may skip building such a candidate (its answer still comes from
        executing its program when it is built). ``bucket`` is a generator's balance key, or
        one of its templates' buckets (``graph.keys.template_bucket``), the bucket the sample
        is offered to: exact for that template."""
        b = self._buckets.get(bucket)
        answer = value_key(value)
        yes_no = isinstance(value, bool)
        if b is None:
            base, sep, _ = bucket.partition(TEMPLATE_SEPARATOR)
            if sep:  # a template not offered yet: only its generator's caps can refuse
                family = self._buckets.get(base)
                return family is None or self._has_room(family, answer, yes_no)
            # a generator asks before it picks a template: kept if one of its templates would
            per_template = self._templates.get(bucket)
            if per_template is None:
                return True
            return any(self._has_room(t, answer, yes_no) for t in per_template)
        # a per-template bucket is also held to its generator's caps (as in offer_parts)
        family = b.family
        return self._has_room(b, answer, yes_no) and (
            family is None or self._has_room(family, answer, yes_no))

    def _has_room(self, b: _Bucket, answer: str, yes_no: bool) -> bool:
        """Whether ``b``'s cap on ``answer`` lets one more in (the test of :meth:`_admits`,
        changing nothing)."""
        seen = b.seen_answers
        cap = self._cap(answer, yes_no or b.is_yes_no,
                        self._domain_size(b, len(seen) + (answer not in seen)))
        kept = b.kept + 1
        return b.counts.get(answer, 0) + 1 <= cap * (kept if kept > self.warmup else self.warmup)

    def offer(self, sample: InstructionSample) -> bool:
        """Whether to keep ``sample`` (and count it when kept)."""
        return self.offer_parts(
            balance_key(sample), sample.form, sample.answer, sample.answer_value,
            sample.answer_type, len(sample.provenance.image_ids), sample.options,
            sample.answer_index,
        )

    def offer_parts(
        self,
        bucket_name: str,
        form: str,
        answer_text: str,
        answer_value: Any,
        answer_type: str,
        n_images: int,
        options: list[str] | None,
        answer_index: int | None,
    ) -> bool:
        """:meth:`offer` from a sample's parts (the runner's hot path: it holds them before
        the sample is assembled, and reading them back off the model costs more)."""
        # answer_key inlined (same result), and a bucket object is created only for a new
        # bucket
        if form == _YES_NO_FORM:
            answer = answer_text.strip().lower()
        else:
            answer = answer_text.strip().lower() if answer_value is None \
                else value_key(answer_value)
        b = self._buckets.get(bucket_name)
        if b is None:
            b = self._bucket(bucket_name)
        family = b.family  # a per-template bucket is also held to its generator's caps
        yes_no = form == _YES_NO_FORM or isinstance(answer_value, bool)
        domain = n_images if answer_type == "image" else 0
        mc_options = len(options) if form == _MC_FORM and options and \
            answer_index is not None else 0
        admitted = self._admits(b, answer, yes_no, domain, mc_options, answer_index)
        if family is not None:
            admitted = self._admits(family, answer, yes_no, domain, mc_options,
                                    answer_index) and admitted
        if not admitted:
            b.rejected += 1
            if family is not None:
                family.rejected += 1
            return False
        self._count(b, answer, mc_options, answer_index)
        if family is not None:
            self._count(family, answer, mc_options, answer_index)
        return True

    def _bucket(self, name: str) -> _Bucket:
        b = self._buckets.get(name)
        if b is None:
            b = self._buckets[name] = _Bucket()
            base, sep, _ = name.partition(TEMPLATE_SEPARATOR)
            if sep:
                self._templates.setdefault(base, []).append(b)
                b.family = self._bucket(base)
        return b

    def _admits(
        self, b: _Bucket, answer: str, yes_no: bool, domain: int, mc_options: int,
        answer_index: int | None,
    ) -> bool:
        """Whether ``b`` may keep one more ``answer`` (notes its answer domain, counts
        nothing). ``yes_no``: a yes/no answer; ``domain``: the images an image-selection
        answer picks from (else 0); ``mc_options``: the options of a multiple-choice sample
        whose position is balanced (else 0)."""
        if yes_no:
            b.is_yes_no = True
        if domain:
            b.domain = max(b.domain or 0, domain)
        seen = b.seen_answers
        if answer not in seen:
            if not b.is_yes_no and self._share_cap(self._domain_size(b, len(seen) + 1)) \
                    < self._share_cap(self._domain_size(b, len(seen))):
                b.cap_set_at = b.kept  # k grows past a small domain: every cap is lowered
            seen.add(answer)
        cap = self._cap(answer, b.is_yes_no, self._domain_size(b, len(seen)))
        kept = b.kept + 1
        if b.counts.get(answer, 0) + 1 > cap * (kept if kept > self.warmup else self.warmup):
            return False
        if mc_options and answer_index is not None:
            uniform = (b.mc_kept + 1) / mc_options
            if b.positions.get(answer_index, 0) + 1 > uniform + self.position_slack:
                return False
        return True

    @staticmethod
    def _count(b: _Bucket, answer: str, mc_options: int, answer_index: int | None) -> None:
        """Count a kept ``answer`` (``mc_options``: as in :meth:`_admits`)."""
        if mc_options and answer_index is not None:
            b.positions[answer_index] = b.positions.get(answer_index, 0) + 1
            b.mc_kept += 1
        b.counts[answer] = b.counts.get(answer, 0) + 1
        b.kept += 1

    # -- a whole run ----------------------------------------------------------------------------
    def trim(self, samples: list[InstructionSample]) -> list[InstructionSample]:
        """The most samples of ``samples`` (order kept) such that, over the whole list, every
        bucket meets its caps exactly: each answer's share at most its cap, with ``k`` the
        number of distinct answers of the bucket (all of them stay represented), yes shares
        inside ``yes_no_band`` (a yes/no bucket with one answer only is dropped).

        Online balancing (:meth:`offer`) is per shard and lenient on small buckets (the
        warmup floor), so a run of many small shards can drift; this pass makes the stated
        caps hold for the run. Deterministic: within each (bucket, answer) the first samples
        in list order are kept. Changes no state of the balancer.

        Per-template buckets (``graph.keys.template_bucket``), their generator's bucket and
        the generator as a whole (a key split by kind, "count_attribute:size", split a small
        run into buckets too small for their caps to bind) are trimmed in turn until all meet
        their caps."""
        kept = samples
        for _ in range(8):  # each pass only removes; a few passes settle every level
            before = len(kept)
            kept = self._trim_by(kept, balance_key)
            kept = self._trim_by(kept, _family_key)
            kept = self._trim_by(kept, _generator_key)
            if len(kept) == before:
                break
        return kept

    def _trim_by(self, samples: list[InstructionSample],
                 key: Callable[[InstructionSample], str]) -> list[InstructionSample]:
        groups: dict[str, dict[str, list[int]]] = {}
        yes_no: dict[str, bool] = {}
        for i, sample in enumerate(samples):
            bucket = key(sample)
            answers = groups.get(bucket)
            if answers is None:
                answers = groups[bucket] = {}
                yes_no[bucket] = False
            if sample.form == _YES_NO_FORM or isinstance(sample.answer_value, bool):
                yes_no[bucket] = True
            answer = answer_key(sample)
            members = answers.get(answer)
            if members is None:
                answers[answer] = [i]
            else:
                members.append(i)
        keep = [False] * len(samples)
        for bucket, answers in groups.items():
            is_yes_no = yes_no[bucket]
            k = len(answers)
            sizes = {a: len(m) for a, m in answers.items()}
            caps = {a: self._cap(a, is_yes_no, k) for a in answers}
            for answer, n in _largest_within_caps(sizes, caps).items():
                for i in answers[answer][:n]:
                    keep[i] = True
        return [s for i, s in enumerate(samples) if keep[i]]

    # -- reporting ----------------------------------------------------------------------------
    def stats(self) -> dict[str, dict[str, Any]]:
        """Per bucket: kept, rejected, answer counts, largest share, its cap, yes share."""
        out: dict[str, dict[str, Any]] = {}
        for name in sorted(self._buckets):
            b = self._buckets[name]
            top_answer, top_count = max(
                sorted(b.counts.items()), key=lambda kv: kv[1], default=("", 0)
            )
            out[name] = {
                "kept": b.kept,
                "rejected": b.rejected,
                "counts": dict(sorted(b.counts.items())),
                "top_answer": top_answer,
                "top_share": top_count / b.kept if b.kept else 0.0,
                "cap": self.cap(name, top_answer) if b.kept else self.max_share,
                # samples kept since a new answer last lowered the cap: the answers kept before
                # were held to the higher cap, so the lower one binds only as later samples
                # dilute them
                "kept_under_cap": b.kept - b.cap_set_at,
                "answers_offered": len(b.seen_answers),
                "yes_share": (b.counts.get(YES, 0) / b.kept) if b.is_yes_no and b.kept else None,
                "warm": b.kept >= self.warmup,
                "mc_positions": dict(sorted(b.positions.items())),
            }
        return out


def _largest_within_caps(sizes: dict[str, int], caps: dict[str, float]) -> dict[str, int]:
    """Kept count per answer: the largest total ``T`` for which every answer can hold at most
    ``cap * T`` samples (and at most what it has), then the surplus taken from the largest
    answers first (ties by answer text), so every kept share is within its cap."""
    total = sum(sizes.values())
    order = sorted(sizes)
    for t in range(total, 0, -1):
        limits = {a: min(sizes[a], math.floor(caps[a] * t + 1e-9)) for a in order}
        available = sum(limits.values())
        if available < t:
            continue
        surplus = available - t
        while surplus > 0:
            largest = max(order, key=lambda a: (limits[a], a))
            limits[largest] -= 1
            surplus -= 1
        return limits
    return {a: 0 for a in order}
