"""The disk cache: every answer a request received, accepted or rejected, in order.

One JSON file per request key (sha256 of model, messages, schema and sampling parameters),
written atomically after each attempt. An attempt is ``{"seed", "strategy", "content"}`` (an
answer), ``{"seed", "rejected", "detail"}`` (an answer cut on the wire: a repetition loop) or
``{"seed", "error", "detail"}`` (no answer: timeout, 5xx). A re-run replays the recorded
attempts through the same validation and reports the same rejections, so it reaches the same
result with no request, also when the first answers were rejected. Attempts without an answer
keep their seed slot (later attempts keep their seeds); when a request never got a usable
answer, a re-run asks again with the next seeds. The structured-output form detected for a
server is cached here as well (keyed by base URL and model).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from scenesynth.ioutil import atomic_write

log = logging.getLogger("scenesynth.models.llm")


def request_key(messages: list[dict[str, Any]], model: str, params: dict[str, Any]) -> str:
    blob = json.dumps(
        {"messages": messages, "model": model, "params": params},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """One JSON file per request key under ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    key = staticmethod(request_key)

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[dict[str, Any]] | None:
        """The recorded attempts (``{"seed", "content"}`` or ``{"seed", "error"}``), or None."""
        path = self.path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            attempts = record["attempts"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable LLM cache file %s: %s", path, exc)
            return None
        if not isinstance(attempts, list) or not all(isinstance(a, dict) for a in attempts):
            log.warning("ignoring LLM cache file %s: attempts is not a list of objects", path)
            return None
        return attempts

    def put(self, key: str, attempts: list[dict[str, Any]], model: str) -> None:
        # no fsync: a killed run keeps every answer (the rename is atomic); only an OS crash
        # can lose the last ones, which costs a repeated request, not a wrong answer
        with atomic_write(self.path(key), durable=False) as fh:
            json.dump({"key": key, "model": model, "attempts": attempts}, fh,
                      ensure_ascii=False)

    # -- the structured-output strategy detected for a server ------------------------------

    def _strategy_path(self, base_url: str | None, model: str) -> Path:
        digest = hashlib.sha256(f"{base_url}\n{model}".encode()).hexdigest()
        return self.directory / "strategies" / f"{digest}.json"

    def get_strategy(self, base_url: str | None, model: str) -> str | None:
        try:
            data = json.loads(self._strategy_path(base_url, model).read_text(encoding="utf-8"))
            value = data["strategy"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return value if isinstance(value, str) else None

    def put_strategy(self, base_url: str | None, model: str, strategy: str, note: str) -> None:
        with atomic_write(self._strategy_path(base_url, model)) as fh:
            json.dump({"base_url": base_url, "model": model, "strategy": strategy,
                       "note": note}, fh)
