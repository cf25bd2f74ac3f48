"""Chat messages with text and image parts (OpenAI's content-part form, which vLLM, llama.cpp,
Ollama and SGLang also read), so that vision-language roles reuse the same client."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

Message = dict[str, Any]


def image_part(data: bytes, mime: str = "image/png") -> dict[str, Any]:
    """An image as a ``data:`` URL content part (no file path or URL leaves the machine)."""
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{encoded}"}}


def system_message(text: str) -> Message:
    return {"role": "system", "content": text}


def user_message(text: str, images: Sequence[bytes] = (), mime: str = "image/png") -> Message:
    """A user turn: plain text, or the images followed by the text as content parts."""
    if not images:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [image_part(img, mime) for img in images]
    parts.append({"type": "text", "text": text})
    return {"role": "user", "content": parts}
