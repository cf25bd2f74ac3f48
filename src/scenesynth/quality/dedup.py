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
        """:meth:`offer` from the parts of a sample's key (the runner's hot path: it has the
        image ids as a tuple already); ``form`` is the form's text value."""
        self.offered += 1
        k = (image_ids, normalize_question(question), form)
        if k in self._seen:
            self.rejected += 1
            return False
        self._seen.add(k)
        return True

    def stats(self) -> dict[str, int]:
        return {"offered": self.offered, "kept": self.offered - self.rejected,
                "rejected": self.rejected}
