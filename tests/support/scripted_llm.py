"""A scripted OpenAI-compatible chat server on 127.0.0.1 for tests (bounded, stops itself),
and a trap port that counts the connections a sandboxed program manages to make."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# the assistant's content, or (HTTP status, error message) for an error response
Respond = Callable[[dict[str, Any]], "str | tuple[int, str]"]


def user_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")


def field(text: str, name: str) -> str:
    """The value of a ``NAME: value`` line of the prompt."""
    for line in text.splitlines():
        if line.startswith(name + ": "):
            return line[len(name) + 2:]
    return ""


def program(question: str, answer_type: str, code: str) -> str:
    return json.dumps({"question": question, "answer_type": answer_type, "code": code})


class ScriptedLLM:
    """``with ScriptedLLM(respond) as server: server.url`` -- ``respond(body)`` returns the
    assistant's message content for a chat-completions request body."""

    def __init__(self, respond: Respond, max_requests: int = 5000,
                 lifetime_s: float = 300.0) -> None:
        self.respond = respond
        self.max_requests = max_requests
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                outer.requests.append(body)
                if len(outer.requests) > outer.max_requests:
                    self.send_error(429, "request budget of the scripted server spent")
                    return
                content = outer.respond(body)
                if isinstance(content, tuple):  # (HTTP status, error message)
                    status, message = content
                    error = json.dumps({"error": {"message": message, "type": "invalid"}})
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error.encode())
                    return
                payload = json.dumps({
                    "id": f"cmpl-{len(outer.requests)}", "object": "chat.completion",
                    "created": 0, "model": body.get("model", "scripted"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.server.shutdown)
        self._timer.daemon = True

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self.server.shutdown()
        self.server.server_close()


class TrapPort:
    """A listening socket on 127.0.0.1 that counts every connection made to it."""

    def __init__(self, lifetime_s: float = 300.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._deadline = time.monotonic() + lifetime_s
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> TrapPort:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


# -- the scripted question writer used for the QC figures on CLEVR ---------------------------

CUBES = "def answer(scene):\n    return len(scene.find('cube'))\n"
CUBES_OTHER = ("def answer(scene):\n    n = 0\n    for o in scene.objects:\n"
               "        if o.name == 'cube':\n            n += 1\n    return n\n")
SPHERES = "def answer(scene):\n    return len(scene.find('sphere'))\n"
SPHERES_OFF_BY_ONE = "def answer(scene):\n    return len(scene.find('sphere')) + 1\n"
CYLINDERS_PLUS_CUBES = ("def answer(scene):\n"
                        "    return len(scene.find('cylinder')) + len(scene.find('cube'))\n")

# One entry per VARIATION of a write request: (question, answer_type, code, defect).
QC_SCRIPT: list[tuple[str, str, str, str]] = [
    ("How many cubes are there?", "count", CUBES, "good"),
    ("Is there anything red?", "yes_no",
     "def answer(scene):\n    return len([o for o in scene.objects if o.has('red')])\n",
     "wrong type: declared yes_no, returns a count"),
    ("How many legs does a table have?", "count", "def answer(scene):\n    return 4\n",
     "trivial: constant answer"),
    ("How many spheres are there?", "count", SPHERES,
     "disagreement: the second solver counts one more"),
    ("What number of cylinders are in the image?", "count", CYLINDERS_PLUS_CUBES,
     "template disagreement whenever the scene has a cube"),
    ("How many cubes are there, please?", "count", CUBES,
     "near duplicate of the first question"),
]

# Programs the ``solve`` requests get, per question: one per solve VARIATION (1, 2).
QC_SOLVERS: dict[str, list[str]] = {
    "How many cubes are there?": [CUBES_OTHER, CUBES],
    "Is there anything red?": [CUBES, CUBES],
    "How many legs does a table have?": ["def answer(scene):\n    return 4\n"] * 2,
    "How many spheres are there?": [SPHERES, SPHERES_OFF_BY_ONE],
    "What number of cylinders are in the image?": [CYLINDERS_PLUS_CUBES] * 2,
    "How many cubes are there, please?": [CUBES_OTHER, CUBES],
}


def qc_respond(body: dict[str, Any]) -> str:
    text = user_text(body)
    variation = int(field(text, "VARIATION") or 0)
    task = field(text, "TASK")
    if task == "write":
        question, answer_type, code, _ = QC_SCRIPT[variation % len(QC_SCRIPT)]
        return program(question, answer_type, code)
    if task == "solve":
        question = field(text, "QUESTION")
        return program(question, field(text, "ANSWER_TYPE"),
                       QC_SOLVERS[question][variation - 1])
    return "{}"


def qc_expected(names: list[list[str]], probes: int) -> dict[str, int]:
    """The drops the script must produce, worked out from each scene's object names alone
    (graph i is probed on the next ``probes`` graphs, cyclically)."""
    from collections import Counter

    n = len(names)
    drops: Counter[str] = Counter()

    def constant(i: int, count: Callable[[list[str]], int]) -> bool:
        scenes = [i] + [(i + k) % n for k in range(1, min(probes, n - 1) + 1)]
        return len({count(names[j]) for j in scenes}) < 2

    def cubes(ns: list[str]) -> int:
        return ns.count("cube")

    def spheres(ns: list[str]) -> int:
        return ns.count("sphere")

    def cyl_cubes(ns: list[str]) -> int:
        return ns.count("cylinder") + ns.count("cube")

    for i in range(n):
        first_kept = not constant(i, cubes)
        if not first_kept:
            drops["constant_answer"] += 1
        drops["wrong_type"] += 1
        drops["constant_answer"] += 1
        drops["constant_answer" if constant(i, spheres) else "disagreement"] += 1
        if constant(i, cyl_cubes):
            drops["constant_answer"] += 1
        elif cubes(names[i]) > 0:
            drops["template_disagreement"] += 1
        if constant(i, cubes):
            drops["constant_answer"] += 1
        else:
            drops["near_duplicate"] += 1
    return dict(drops)
