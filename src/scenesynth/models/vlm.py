"""Vision-language models behind one small protocol (``eval`` asks them; the annotation,
teacher and judge roles reuse them), with two implementations.

- ``openai:NAME@URL``: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, TGI, ...) through
  the official ``openai`` client; images travel as ``data:`` URL parts, requests run with bounded
  concurrency, and failed requests are retried with the client's backoff.
- ``hf:PATH``: a local transformers model (``AutoModelForImageTextToText`` + ``AutoProcessor``,
  loaded from a path or id), greedy decoding.

Both answer a batch of :class:`Query` objects with one reply per query, or the exception that
the query ended in (counted as a malformed answer, never dropped).
"""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Query:
    images: list[Path]
    prompt: str


class VisionModel(Protocol):
    name: str

    def answer(self, queries: Sequence[Query]) -> list[str | BaseException]: ...


class ModelSpecError(ValueError):
    """A ``--model`` value that names no model this module can run."""


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


class OpenAIVisionModel:
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    def __init__(self, model: str, base_url: str, api_key: str | None = None,
                 concurrency: int = 4, max_retries: int = 3, timeout: float = 120.0,
                 max_tokens: int = 64) -> None:
        from openai import OpenAI

        self.name = f"openai:{model}@{base_url}"
        self.model = model
        self.concurrency = max(1, concurrency)
        self.max_tokens = max_tokens
        self.client = OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            max_retries=max_retries,
            timeout=timeout,
        )

    def _one(self, query: Query) -> str | BaseException:
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": _data_url(p)}} for p in query.images]
        content.append({"type": "text", "text": query.prompt})
        messages: Any = [{"role": "user", "content": content}]
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=0.0,
                max_tokens=self.max_tokens,
            )
            return response.choices[0].message.content or ""
        except Exception as exc:
            return exc

    def answer(self, queries: Sequence[Query]) -> list[str | BaseException]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._one, queries))


class HFVisionModel:
    """A local transformers image-text-to-text model (path or hub id), greedy decoding."""

    def __init__(self, path: str, max_new_tokens: int = 32, device: str | None = None) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.name = f"hf:{path}"
        self.processor = AutoProcessor.from_pretrained(path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model: Any = AutoModelForImageTextToText.from_pretrained(path)
        self.model: Any = model.to(self.device)
        self.model.eval()
        self.max_new_tokens = max_new_tokens

    def _one(self, query: Query) -> str | BaseException:
        import torch
        from PIL import Image

        try:
            images = [Image.open(p).convert("RGB") for p in query.images]
            content: list[dict[str, Any]] = [{"type": "image"} for _ in images]
            content.append({"type": "text", "text": query.prompt})
            messages = [{"role": "user", "content": content}]
            prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
            inputs = self.processor(text=prompt, images=images or None, return_tensors="pt")
            inputs = inputs.to(self.device)
            with torch.no_grad():
                out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                          do_sample=False)
            new = out[0, inputs["input_ids"].shape[1]:]
            return str(self.processor.decode(new, skip_special_tokens=True)).strip()
        except Exception as exc:
            return exc

    def answer(self, queries: Sequence[Query]) -> list[str | BaseException]:
        return [self._one(q) for q in queries]


def load_model(spec: str, concurrency: int = 4, max_tokens: int = 64) -> VisionModel:
    """``openai:NAME@URL`` or ``hf:PATH``."""
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        name, at, url = rest.rpartition("@")
        if not at or not name or not url:
            raise ModelSpecError(f"--model {spec!r}: expected openai:NAME@URL")
        return OpenAIVisionModel(name, url, concurrency=concurrency, max_tokens=max_tokens)
    if kind == "hf" and rest:
        return HFVisionModel(rest, max_new_tokens=max_tokens)
    raise ModelSpecError(f"--model {spec!r}: expected openai:NAME@URL or hf:PATH")
