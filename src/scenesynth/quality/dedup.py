"""Exact-duplicate removal for instruction samples.

Two samples are duplicates when they ask the same question (after normalising case, whitespace
and trailing punctuation) about the same images in the same answer form. The first one offered
wins, so the result depends only on the order samples are offered in (the runner offers them in
a deterministic order).
"""

from __future__ import annotations

from scenesynth.graph.keys import normalize_question
from scenesynth.graph.sample import InstructionSample


class Deduplicator:
    """Remembers (image ids, normalised question, form) keys; ``offer`` is True for new ones."""

    def __init__(self) -> None:
        self._seen: set[tuple[tuple[str, ...], str, str]] = set()
        self.offered = 0
        self.rejected = 0

    def offer(self, sample: InstructionSample) -> bool:
        return self.offer_parts(tuple(sample.provenance.image_ids), sample.question,
                                str(sample.form))

    def offer_parts(self, image_ids: tuple[str, ...], question: str, form: str) -> bool:
        """:meth:`offer` from the parts of a sample's key; ``form`` is the form's text value."""
        key = self.new_key(image_ids, question, form)
        if key is None:
            return False
        self.remember(key)
        return True

    def new_key(self, image_ids: tuple[str, ...], question: str,
                form: str) -> tuple[tuple[str, ...], str, str] | None:
        """The key of a sample no kept sample has asked (None, counted as rejected, for a
        duplicate). The caller :meth:`remember` s it once the sample is kept: a sample the
        answer balancer refuses must not make a later copy of it, which the balancer would
        take, a duplicate of nothing."""
        self.offered += 1
        key = (image_ids, normalize_question(question), form)
        if key in self._seen:
            self.rejected += 1
            return None
        return key

    def remember(self, key: tuple[tuple[str, ...], str, str]) -> None:
        self._seen.add(key)

    def stats(self) -> dict[str, int]:
        return {"offered": self.offered, "kept": self.offered - self.rejected,
                "rejected": self.rejected}
