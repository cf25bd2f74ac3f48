"""Question writers: a language model that writes ``{question, answer_type, code}``.

A :class:`QuestionWriter` turns chat messages plus a JSON schema into the model's raw text.
Two implementations:

* :class:`OpenAIWriter` (``openai:MODEL@URL``): any OpenAI-compatible server through the
  official ``openai`` client, the schema sent as ``response_format`` ``json_schema``.
* :class:`HFWriter` (``hf:PATH``): a local transformers causal LM (a folder or a hub id the
  local cache holds); the schema is described in the prompt and the output parsed.

:func:`ask` is what callers use: it builds nothing itself, but parses and validates the text
against a pydantic model, retries within a bounded budget when the text is unusable, and caches
valid answers on disk (one file per sha256 of writer, prompt, schema, scene hash and
variation), so a re-run issues no requests. Prompts are built here too
(:func:`write_messages`, :func:`solve_messages`, :func:`paraphrase_messages`); their version is
:data:`PROMPT_VERSION`, stored in every sample's provenance.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scenesynth.authoring.api import api_reference
from scenesynth.ioutil import atomic_write

PROMPT_VERSION = "write-questions/1"
ANSWER_TYPES = ("count", "yes_no", "number", "name", "attribute", "text")
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class WrittenQuestion(BaseModel):
    """What the writer returns for one question."""

    model_config = ConfigDict(extra="ignore")
    question: str = Field(min_length=3, max_length=400)
    answer_type: Literal["count", "yes_no", "number", "name", "attribute", "text"]
    code: str = Field(min_length=10, max_length=20_000)


class Paraphrases(BaseModel):
    model_config = ConfigDict(extra="ignore")
    phrasings: list[str] = Field(max_length=20)


class WriterError(RuntimeError):
    """No usable answer within the retry budget; ``reason`` is a stable label for counting."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class QuestionWriter(Protocol):
    """A language model behind a chat interface."""

    @property
    def name(self) -> str:
        """Identifies the model (and server) in provenance and cache keys."""
        ...

    def generate(self, messages: list[dict[str, str]], schema: dict[str, Any],
                 seed: int) -> str:
        """The model's raw text for ``messages``; ``schema`` is the JSON schema the answer
        must follow; ``seed`` selects an independent sample."""
        ...


# -- implementations ------------------------------------------------------------------------


class OpenAIWriter:
    """Any OpenAI-compatible chat server (OpenAI, vLLM, llama.cpp's server, Ollama)."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 temperature: float = 0.8, max_tokens: int = 1024, timeout_s: float = 60.0,
                 transport_retries: int = 2, response_format: str = "json_schema") -> None:
        import openai

        self.model = model
        self.base_url = base_url
        self.temperature = temperature
        self.max_tokens = max_tokens
        key = api_key or os.environ.get("SCENESYNTH_LLM_API_KEY") \
            or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self.response_format = response_format
        self._client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s,
                                     max_retries=transport_retries)
        self._openai = openai

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.response_format == "json_object":
            return {"type": "json_object", "schema": grammar_schema(schema)}
        return {"type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.base_url}" if self.base_url else \
            f"openai:{self.model}"

    def generate(self, messages: list[dict[str, str]], schema: dict[str, Any],
                 seed: int) -> str:
        params: dict[str, Any] = {
            "model": self.model, "messages": messages, "temperature": self.temperature,
            "max_tokens": self.max_tokens, "seed": seed,
        }
        while True:
            params["response_format"] = self._response_format(schema)
            try:
                response = self._client.chat.completions.create(**params)
                break
            except self._openai.APIStatusError as exc:
                # servers without json_schema (llama-cpp-python's) take json_object plus the
                # schema, which they turn into a grammar; switch once and remember
                if self.response_format == "json_schema" and "response_format" in str(exc):
                    self.response_format = "json_object"
                    continue
                raise WriterError("request_failed", f"{type(exc).__name__}: {exc}") from None
            except self._openai.APIError as exc:
                raise WriterError("request_failed", f"{type(exc).__name__}: {exc}") from None
        if not response.choices:
            raise WriterError("empty_response", "the server returned no choices")
        return response.choices[0].message.content or ""


class HFWriter:
    """A local transformers causal LM (``hf:PATH``). Small models rarely follow the schema;
    their text is parsed and validated like any other and rejected when unusable."""

    def __init__(self, path: str, max_new_tokens: int = 256, temperature: float = 0.8) -> None:
        import transformers

        self.path = path
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(path)
        self.model.eval()

    @property
    def name(self) -> str:
        return f"hf:{self.path}"

    def generate(self, messages: list[dict[str, str]], schema: dict[str, Any],
                 seed: int) -> str:
        import torch

        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            prompt = tok.apply_chat_template(messages, add_generation_prompt=True,
                                             tokenize=False)
        else:
            prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + \
                "\n\nassistant: "
        inputs = tok(prompt, return_tensors="pt")
        limit = getattr(self.model.config, "max_position_embeddings", None) or 2048
        keep = max(1, int(limit) - self.max_new_tokens)
        inputs = {k: v[:, -keep:] for k, v in inputs.items()}
        torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                      do_sample=True, temperature=self.temperature,
                                      pad_token_id=tok.pad_token_id or tok.eos_token_id or 0)
        return str(tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))


_GRAMMAR_UNSUPPORTED = frozenset({"title", "description", "minLength", "maxLength",
                                  "minItems", "maxItems", "default"})


def grammar_schema(schema: Any) -> Any:
    """The schema without the keywords llama.cpp's schema-to-grammar step does not take (its
    server crashes on string lengths); the answer is validated against the full schema."""
    if isinstance(schema, dict):
        return {k: grammar_schema(v) for k, v in schema.items() if k not in _GRAMMAR_UNSUPPORTED}
    if isinstance(schema, list):
        return [grammar_schema(v) for v in schema]
    return schema


def parse_writer_spec(spec: str, **options: Any) -> QuestionWriter:
    """``openai:MODEL@URL`` (or ``openai:MODEL``, base URL from ``SCENESYNTH_LLM_BASE_URL``)
    or ``hf:PATH``."""
    kind, _, rest = spec.partition(":")
    if kind == "openai" and rest:
        model, _, url = rest.partition("@")
        if not model:
            raise ValueError(f"--writer {spec!r}: no model name before '@'")
        return OpenAIWriter(model, url or os.environ.get("SCENESYNTH_LLM_BASE_URL") or None,
                            **options)
    if kind == "hf" and rest:
        return HFWriter(rest, **options)
    raise ValueError(f"--writer {spec!r}: expected openai:MODEL@URL or hf:PATH")


# -- asking: parse, validate, retry, cache --------------------------------------------------


class WriterCache:
    """Valid answers on disk, one JSON file per key (atomic writes)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return str(json.loads(self.path(key).read_text(encoding="utf-8"))["content"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, content: str, writer: str) -> None:
        with atomic_write(self.path(key)) as fh:
            json.dump({"writer": writer, "content": content}, fh)


def extract_json(text: str) -> Any:
    """The JSON object in a model's text: bare, in a code fence, or surrounded by prose."""
    text = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    # strict=False: small models put raw newlines inside the code string
    try:
        return json.loads(text, strict=False)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise
        return json.loads(text[start:end + 1], strict=False)


def ask(writer: QuestionWriter, messages: list[dict[str, str]], model_cls: type[M],
        seed: int, scene_hash: str = "", cache: WriterCache | None = None,
        max_attempts: int = 3) -> M:
    """Ask until the text validates as ``model_cls`` (at most ``max_attempts`` requests;
    attempt k uses seed ``(seed * 101 + k) mod 2**31``). Raises :class:`WriterError`."""
    schema = model_cls.model_json_schema()
    last = WriterError("no_attempt")
    for attempt in range(max_attempts):
        sub_seed = (seed * 101 + attempt) % 2**31  # servers and torch take 32-bit seeds
        key = hashlib.sha256(json.dumps(
            [PROMPT_VERSION, writer.name, messages, schema, scene_hash, sub_seed],
            sort_keys=True).encode()).hexdigest()
        content = cache.get(key) if cache is not None else None
        cached = content is not None
        if content is None:
            try:
                content = writer.generate(messages, schema, sub_seed)
            except WriterError as exc:
                last = exc
                time.sleep(min(0.1 * 2 ** attempt, 2.0))
                continue
        try:
            answer = model_cls.model_validate(extract_json(content))
        except ValueError as exc:  # JSONDecodeError and ValidationError are ValueErrors
            kind = "invalid_schema" if isinstance(exc, ValidationError) else "unparseable"
            last = WriterError(kind, str(exc).splitlines()[0][:200])
            continue
        if cache is not None and not cached:
            cache.put(key, content, writer.name)
        return answer
    raise last


# -- prompts ----------------------------------------------------------------------------------


@cache
def few_shot_examples() -> tuple[dict[str, str], ...]:
    """The few-shot examples (``authoring/data/examples.json``): question, answer_type, code."""
    text = resources.files("scenesynth.authoring").joinpath("data/examples.json").read_text(
        encoding="utf-8")
    return tuple(json.loads(text))


def scene_summary(payload: dict[str, Any]) -> str:
    """The scene as the writer sees it: compact JSON of the payload (rounded numbers)."""
    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 2)
        if isinstance(value, list):
            return [rounded(v) for v in value]
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items() if v is not None}
        return value
    return json.dumps(rounded(payload), separators=(",", ":"))


_SYSTEM = (
    "You write questions about an image's scene graph together with a Python program that "
    "computes each question's answer from the scene. The program is run to obtain the "
    "answer, so the question must be answerable from the scene data alone. Reply with one "
    "JSON object {\"question\": ..., \"answer_type\": ..., \"code\": ...} and nothing else."
)


def _examples_text() -> str:
    parts = []
    for ex in few_shot_examples():
        parts.append(json.dumps({"question": ex["question"], "answer_type": ex["answer_type"],
                                 "code": ex["code"]}))
    return "\n".join(parts)


def write_messages(payload: dict[str, Any], variation: int) -> list[dict[str, str]]:
    """Ask for one new question about the scene (``variation``: which of several)."""
    return [
        {"role": "system", "content": _SYSTEM + "\n\n" + api_reference()},
        # what every request shares comes first, so a server's prompt cache covers it
        {"role": "user", "content": (
            f"Examples of answers:\n{_examples_text()}\n\n"
            "Write one new question about the scene below whose answer is not stated in the "
            "question, and the program answer(scene) that computes it. The program must work "
            "on any scene (it must not hard-code this scene's answer).\n\n"
            f"TASK: write\nIMAGE: {payload['image']['id']}\nVARIATION: {variation}\n"
            f"SCENE: {scene_summary(payload)}")},
    ]


def solve_messages(question: str, answer_type: str, payload: dict[str, Any],
                   variation: int) -> list[dict[str, str]]:
    """Ask for an independent program answering a given question (answer agreement)."""
    return [
        {"role": "system", "content": _SYSTEM + "\n\n" + api_reference()},
        {"role": "user", "content": (
            f"Examples of answers:\n{_examples_text()}\n\n"
            "Write the program answer(scene) that answers exactly the question below; repeat "
            "the question verbatim in \"question\".\n\n"
            f"TASK: solve\nIMAGE: {payload['image']['id']}\nVARIATION: {variation}\n"
            f"QUESTION: {question}\nANSWER_TYPE: {answer_type}\n"
            f"SCENE: {scene_summary(payload)}")},
    ]


def paraphrase_messages(template_id: str, template: str, count: int) -> list[dict[str, str]]:
    """Ask for new phrasings of a question template (slots in braces kept as they are)."""
    return [
        {"role": "system", "content": (
            "You rephrase question templates for a visual question answering dataset. Keep "
            "every slot in braces exactly as written, keep the meaning, never state or hint at "
            "the answer, and end with a question mark. Reply with one JSON object "
            "{\"phrasings\": [...]} and nothing else.")},
        {"role": "user", "content": (
            f"TASK: paraphrase\nTEMPLATE_ID: {template_id}\nTEMPLATE: {template}\n"
            f"Give {count} new phrasings.")},
    ]
