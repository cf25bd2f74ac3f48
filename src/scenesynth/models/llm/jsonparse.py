"""Lenient JSON: what small models write around and inside their JSON, repaired; never eval."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def parse_json_lenient(text: str) -> tuple[Any, list[str]]:
    """Parse a model's JSON answer, repairing common slips; returns (value, repairs applied).

    Repairs: strip Markdown code fences, cut prose around the outermost ``{...}``, drop
    trailing commas. Raises ValueError when the text is still not JSON. Never evaluates code.
    """
    repairs: list[str] = []
    s = text.strip()
    m = _FENCE.search(s)
    if m:
        s = m.group(1).strip()
        repairs.append("code_fence")
    try:
        return json.loads(s), repairs
    except json.JSONDecodeError:
        pass
    start, end = s.find("{"), s.rfind("}")
    if start > 0 or (start >= 0 and end < len(s) - 1):
        s = s[start : end + 1]
        repairs.append("surrounding_text")
    fixed = _TRAILING_COMMA.sub(r"\1", s)
    if fixed != s:
        s = fixed
        repairs.append("trailing_comma")
    try:
        return json.loads(s), repairs
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at char {exc.pos}): {text[:120]!r}") from None
