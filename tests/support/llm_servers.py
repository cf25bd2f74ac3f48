"""Scripted OpenAI-compatible servers on 127.0.0.1 for the LLM client's tests.

Each :class:`ScriptedServer` imitates one server family's accepted structured-output forms,
its ``GET /models`` answer and its error codes (see ``KINDS``), streams answers as server-sent
events when asked, and stops itself: after ``max_requests`` requests it answers 503, and after
``lifetime_s`` seconds it shuts down. Replies come from a script (one per chat request, in
order) and then from ``answer`` (a function of the request body).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str | None = None  # assistant message content (status 200)
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted error"
    raw: bytes | None = None  # a raw response body instead of a chat completion
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Kind:
    """What one server family accepts (measured or documented, see strategies.py)."""

    owned_by: str | None  # GET /models owned_by; None: no /models route (404)
    formats: frozenset[str]  # response_format types it honours
    refuse_status: int  # status for a response_format type it does not know
    refuse_message: str
    guided_json: bool = False  # honours extra-body guided_json (vLLM / SGLang)
    ignore_unknown: bool = False  # unknown types are ignored, not refused (Ollama)


KINDS: dict[str, Kind] = {
    "openai": Kind("system", frozenset({"json_schema", "json_object", "text"}), 400,
                   "Invalid value for 'response_format'"),
    # llama-cpp-python 0.3: only text / json_object (+ schema); json_schema -> HTTP 500
    "llama-cpp-python": Kind("me", frozenset({"json_object", "text"}), 500,
                             "1 validation error: response_format.type Input should be 'text' "
                             "or 'json_object'"),
    "vllm": Kind("vllm", frozenset({"json_schema", "json_object", "text"}), 400,
                 "invalid response_format", guided_json=True),
    # Ollama's OpenAI endpoint: json_schema -> format=<schema>, json_object -> "json",
    # anything else ignored
    "ollama": Kind("library", frozenset({"json_schema", "json_object"}), 200, "",
                   ignore_unknown=True),
    # a server without structured output: refuses any response_format, no /models route
    "plain": Kind(None, frozenset({"text"}), 400, "response_format is not supported"),
}

SCENES = ["living room", "office", "park", "bedroom", "garden", "classroom", "kitchen",
          "playground", "library", "bathroom"]
# (name, colors, size, form, placement): sizes close to the built-in knowledge base
OBJECT_POOL: list[tuple[str, str, list[float], str, str]] = [
    ("table", "brown", [1.4, 0.75, 0.8], "long", "floor"),
    ("chair", "red", [0.45, 0.9, 0.5], "box", "floor"),
    ("lamp", "white", [0.3, 0.5, 0.3], "tall", "surface"),
    ("cup", "blue", [0.08, 0.1, 0.08], "container", "surface"),
    ("sofa", "gray", [2.0, 0.85, 0.9], "long", "floor"),
    ("potted plant", "green", [0.4, 0.8, 0.4], "plant", "floor"),
    ("book", "yellow", [0.16, 0.03, 0.24], "box", "surface"),
    ("dog", "black", [0.3, 0.6, 0.9], "animal", "ground"),
    ("bicycle", "orange", [0.6, 1.0, 1.7], "vehicle", "ground"),
]


def prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def requested_k(text: str) -> int:
    marker = "Propose exactly "
    start = text.index(marker) + len(marker)
    return int(text[start:].split()[0])


def good_graph(text: str, seed: Any = None) -> dict[str, Any]:
    """A plausible answer for a scene-graph prompt: exactly k objects from the pool."""
    k = requested_k(text)
    scene = text.split("Scene: ", 1)[1].split(".")[0]
    offset = int(hashlib.sha256(f"{text}{seed}".encode()).hexdigest(), 16) % len(OBJECT_POOL)
    objects = []
    for i in range(k):
        name, color, size, form, placement = OBJECT_POOL[(offset + i) % len(OBJECT_POOL)]
        objects.append({"id": f"o{i}", "name": name, "colors": [color], "materials": [],
                        "states": [], "size_m": size, "form": form, "placement": placement})
    relations = [{"subject": f"o{i}", "predicate": "left of", "object": f"o{i + 1}"}
                 for i in range(k - 1)]
    present = {o["name"] for o in objects}
    absent = [n for n, *_ in OBJECT_POOL if n not in present][:3]
    return {"scene": scene, "objects": objects, "relations": relations,
            "absent_objects": absent}


def good_answer(body: dict[str, Any]) -> str:
    """A valid answer to either prompt of the LLM knowledge source."""
    text = prompt_text(body)
    if "distinct everyday scenes" in text:
        return json.dumps({"scenes": SCENES})
    return json.dumps(good_graph(text, body.get("seed")))


class ScriptedServer:
    """A bounded OpenAI-compatible chat server on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        script: list[Reply] | None = None,
        kind: str = "openai",
        answer: Callable[[dict[str, Any]], str] | None = good_answer,
        max_requests: int = 200,
        lifetime_s: float = 120.0,
    ) -> None:
        self.script = list(script or [])
        self.kind = KINDS[kind]
        self.answer = answer
        self.max_requests = max_requests
        self.lifetime_s = lifetime_s
        self.requests: list[dict[str, Any]] = []  # chat requests: {"path", "body"}
        self.gets: list[str] = []
        self.refused = 0  # requests refused for their structured-output form
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", content_type)
                    self.send_header("content-length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up

            def _error(self, status: int, message: str,
                       headers: dict[str, str] | None = None) -> None:
                payload = {"error": {"message": message, "type": "test", "code": None}}
                self._send(status, json.dumps(payload).encode(), headers)

            def do_GET(self) -> None:
                with server._lock:
                    server.gets.append(self.path)
                if self.path == "/v1/models" and server.kind.owned_by is not None:
                    payload = {"object": "list", "data": [
                        {"id": "test-model", "object": "model", "owned_by":
                         server.kind.owned_by}]}
                    self._send(200, json.dumps(payload).encode())
                else:
                    self._error(404, f"no route {self.path}")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "body": body})
                    over_budget = len(server.requests) > server.max_requests
                    reply = server.script.pop(0) if server.script else None
                if self.path != "/v1/chat/completions":
                    return self._error(404, f"no route {self.path}")
                if over_budget:
                    return self._error(503, "test server: request budget exhausted")
                refusal = server._refusal(body)
                if refusal is not None:
                    with server._lock:
                        server.refused += 1
                    return self._error(*refusal)
                if reply is None:
                    if server.answer is None:
                        return self._error(500, "script exhausted")
                    reply = Reply(server.answer(body))
                time.sleep(reply.delay_s)
                if reply.status != 200:
                    return self._error(reply.status, reply.error, reply.headers)
                if reply.raw is not None:
                    return self._send(200, reply.raw, reply.headers)
                if body.get("stream"):
                    return self._stream(body, reply)
                payload = {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                    "model": body.get("model", "test"),
                    "choices": [{"index": 0,
                                 "message": {"role": "assistant", "content": reply.content},
                                 "finish_reason": reply.finish_reason}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                              "total_tokens": 15},
                }
                self._send(200, json.dumps(payload).encode(), reply.headers)

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                content = reply.content or ""
                pieces = [content[i:i + 16] for i in range(0, len(content), 16)]
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for i, piece in enumerate(pieces):
                        last = i == len(pieces) - 1
                        chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk",
                                 "created": 0, "model": body.get("model", "test"),
                                 "choices": [{"index": 0, "delta": {"content": piece},
                                              "finish_reason": reply.finish_reason if last
                                              else None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up (repetition stop)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.httpd.shutdown)
        self._timer.daemon = True

    def _refusal(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """(status, message) when this kind refuses the request's structured-output form."""
        kind = self.kind
        fmt = body.get("response_format")
        if "guided_json" in body and not kind.guided_json and kind.owned_by == "system":
            return 400, "Unrecognized request argument supplied: guided_json"
        if fmt is None:
            return None
        ftype = fmt.get("type")
        if ftype in kind.formats or kind.ignore_unknown:
            return None
        return kind.refuse_status, kind.refuse_message

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
