"""What a model client did: requests, retries, tokens, latency, cache hits, rejections.

One :class:`LLMStats` per process; worker processes hand theirs to the parent, which merges
them (:meth:`LLMStats.merge`) into the run summary and the dataset card. Every rejection is
also kept as an event (:class:`Rejection`) so that the pipeline can write it to
``failures.jsonl`` next to the image it concerns.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("scenesynth.models.llm")


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str = ""


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class LLMStats:
    """Counters of one client (thread-safe; picklable without its lock)."""

    requests: int = 0  # chat requests sent
    probe_requests: int = 0  # GET /models sent to identify the server
    wasted_requests: int = 0  # chat requests refused for their structured-output form
    cache_hits: int = 0  # answers replayed from the disk cache
    responses_accepted: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stream_chunks: int = 0  # content chunks received (a token count when usage is absent)
    latencies_s: list[float] = field(default_factory=list)  # per answered request
    retries: Counter[str] = field(default_factory=Counter)  # reason -> attempts retried
    rejections: Counter[str] = field(default_factory=Counter)  # reason -> count
    repairs: Counter[str] = field(default_factory=Counter)  # JSON repairs applied
    strategies: Counter[str] = field(default_factory=Counter)  # strategy -> requests sent
    strategy_notes: list[str] = field(default_factory=list)  # how each choice was made
    events: list[Rejection] = field(default_factory=list)  # drained by the pipeline
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reject(self, reason: str, detail: str = "", level: int = logging.INFO) -> None:
        """Count a rejection and log it: whole responses at WARNING, single dropped
        objects/triplets at INFO (a large run drops many)."""
        with self._lock:
            self.rejections[reason] += 1
            self.events.append(Rejection(reason, detail[:300]))
        log.log(level, "LLM rejection %s%s", reason, f": {detail}" if detail else "")

    def repair(self, reason: str, detail: str = "") -> None:
        """Count a repair of the answer (a value replaced by a plausible one)."""
        with self._lock:
            self.repairs[reason] += 1
            self.events.append(Rejection(f"repaired_{reason}", detail[:300]))
        log.info("LLM repair %s%s", reason, f": {detail}" if detail else "")

    def note_strategy(self, note: str, level: int = logging.INFO) -> None:
        with self._lock:
            if note not in self.strategy_notes:
                self.strategy_notes.append(note)
        log.log(level, "LLM structured output: %s", note)

    def count(self, counter: str, key: str, n: int = 1) -> None:
        """Add ``n`` to ``key`` of the Counter field ``counter`` (keys at 0 disappear)."""
        with self._lock:
            values: Counter[str] = getattr(self, counter)
            values[key] += n
            if values[key] <= 0:
                del values[key]

    def add_latency(self, seconds: float) -> None:
        with self._lock:
            self.latencies_s.append(seconds)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def drain_events(self) -> list[Rejection]:
        """Rejections since the last drain (for ``failures.jsonl``)."""
        with self._lock:
            events, self.events = self.events, []
        return events

    def take(self) -> LLMStats:
        """Everything counted so far, reset to zero (a worker hands this to the parent)."""
        with self._lock:
            snapshot = LLMStats()
            for name in _FIELDS:
                setattr(snapshot, name, getattr(self, name))
                setattr(self, name, _FIELD_FACTORIES[name]())
        return snapshot

    def merge(self, other: LLMStats) -> None:
        with self._lock:
            for name in _FIELDS:
                mine, theirs = getattr(self, name), getattr(other, name)
                if isinstance(mine, Counter):
                    mine.update(theirs)
                elif isinstance(mine, list):
                    if name == "strategy_notes":
                        mine.extend(n for n in theirs if n not in mine)
                    else:
                        mine.extend(theirs)
                else:
                    setattr(self, name, mine + theirs)

    @property
    def strategy(self) -> str | None:
        """The structured-output form that carried most requests."""
        return self.strategies.most_common(1)[0][0] if self.strategies else None

    def as_dict(self) -> dict[str, Any]:
        lat = self.latencies_s
        return {
            "requests": self.requests,
            "probe_requests": self.probe_requests,
            "wasted_requests": self.wasted_requests,
            "cache_hits": self.cache_hits,
            "responses_accepted": self.responses_accepted,
            "strategy": self.strategy,
            "strategy_requests": dict(sorted(self.strategies.items())),
            "strategy_notes": list(self.strategy_notes),
            "retries": dict(sorted(self.retries.items())),
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens,
                       "stream_chunks": self.stream_chunks},
            "latency_s": {"p50": round(percentile(lat, 0.5), 3),
                          "p90": round(percentile(lat, 0.9), 3),
                          "p99": round(percentile(lat, 0.99), 3),
                          "max": round(max(lat), 3) if lat else 0.0},
            "rejections": dict(sorted(self.rejections.items())),
            "repairs": dict(sorted(self.repairs.items())),
        }


_FIELDS = ("requests", "probe_requests", "wasted_requests", "cache_hits", "responses_accepted",
           "prompt_tokens", "completion_tokens", "stream_chunks", "latencies_s", "retries",
           "rejections", "repairs", "strategies", "strategy_notes")
_FIELD_FACTORIES: dict[str, Any] = {
    name: (Counter if name in ("retries", "rejections", "repairs", "strategies")
           else list if name in ("latencies_s", "strategy_notes") else int)
    for name in _FIELDS
}
