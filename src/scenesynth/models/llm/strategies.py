"""How each server family is asked for JSON that follows a schema.

Measured and documented forms (see the README's LLM section):

* ``json_schema``: OpenAI's ``response_format={"type": "json_schema", ...}``; also vLLM,
  SGLang and Ollama >= 0.5, whose OpenAI-compatible endpoint turns it into ``format=<schema>``.
* ``json_object_schema``: llama.cpp's server and llama-cpp-python:
  ``response_format={"type": "json_object", "schema": ...}`` (llama-cpp-python 0.3 answers a
  ``json_schema`` type with HTTP 500).
* ``guided_json``: vLLM / SGLang's ``guided_json`` in the request body (older vLLM).
* ``json_object``: plain JSON mode; the schema goes into the prompt.
* ``prompt``: no structured output at all; the schema goes into the prompt and the answer is
  parsed leniently (the last resort).

With ``strategy="auto"`` the client asks ``GET /models`` once: the ``owned_by`` field names
the server family (``me`` llama-cpp-python, ``llamacpp`` llama.cpp, ``vllm``, ``sglang``,
``library`` Ollama, ``system``/``openai`` OpenAI). The family's first form is used; when the
server refuses it as an invalid request, the next one is tried (one wasted request) and the
choice is cached per server and model.
"""

from __future__ import annotations

import json
from typing import Any

# owned_by of GET /models -> (family, forms to try in order)
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "me": ("llama-cpp-python", ("json_object_schema", "prompt")),
    "llamacpp": ("llama.cpp", ("json_object_schema", "prompt")),
    "vllm": ("vLLM", ("json_schema", "guided_json", "prompt")),
    "sglang": ("SGLang", ("json_schema", "guided_json", "prompt")),
    "library": ("Ollama", ("json_schema", "json_object", "prompt")),
    "ollama": ("Ollama", ("json_schema", "json_object", "prompt")),
    "system": ("OpenAI", ("json_schema", "prompt")),
    "openai": ("OpenAI", ("json_schema", "prompt")),
    "openai-internal": ("OpenAI", ("json_schema", "prompt")),
}
UNKNOWN_FAMILY: tuple[str, tuple[str, ...]] = ("unknown server", ("json_schema", "prompt"))

# forms whose request does not carry the schema: the prompt has to
SCHEMA_IN_PROMPT = frozenset({"json_object", "prompt"})

# words in an error body that mean "this request is invalid" (not "the server is broken"),
# also in a 5xx (llama-cpp-python answers an unsupported response_format with 500)
_INVALID_REQUEST_WORDS = (
    "response_format", "json_schema", "guided_json", "schema", "invalid", "not supported",
    "unsupported", "validation", "unexpected keyword", "extra inputs", "input should be",
    "literal_error", "unknown field", "bad request",
)


def identify(owned_by: list[str]) -> tuple[str, tuple[str, ...]]:
    """The server family and its forms, from the ``owned_by`` values of ``GET /models``."""
    for value in owned_by:
        family = FAMILIES.get(value.strip().lower())
        if family is not None:
            return family
    return UNKNOWN_FAMILY


def says_invalid_request(body: str) -> bool:
    text = body.lower()
    return any(word in text for word in _INVALID_REQUEST_WORDS)


def schema_instruction(schema: dict[str, Any]) -> str:
    return ("Answer with one JSON object that follows this JSON schema exactly (same keys, "
            "no others):\n" + json.dumps(schema, separators=(",", ":")))


def with_schema_in_prompt(messages: list[dict[str, Any]], schema: dict[str, Any]
                          ) -> list[dict[str, Any]]:
    """The messages with the schema appended to the last user message's text."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                m["content"] = content + "\n" + schema_instruction(schema)
            elif isinstance(content, list):  # image + text parts: add a text part
                m["content"] = [*content,
                                {"type": "text", "text": schema_instruction(schema)}]
            return out
    out.append({"role": "user", "content": schema_instruction(schema)})
    return out


def structured_output(strategy: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The request arguments (``response_format`` / ``extra_body``) for ``strategy``."""
    if strategy == "json_schema":
        return {"response_format": {
            "type": "json_schema", "json_schema": {"name": name, "schema": schema,
                                                   "strict": False}}}
    if strategy == "json_object_schema":
        return {"response_format": {"type": "json_object", "schema": schema}}
    if strategy == "guided_json":
        return {"extra_body": {"guided_json": schema}}
    if strategy == "json_object":
        return {"response_format": {"type": "json_object"}}
    if strategy == "prompt":
        return {}
    raise ValueError(f"unknown structured-output strategy {strategy!r}")
