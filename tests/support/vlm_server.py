"""A scripted OpenAI-compatible chat server on 127.0.0.1, for the ``eval`` tests.

``policy(prompt, image_urls)`` writes each reply. The server binds an ephemeral port on
127.0.0.1 only, runs in a daemon thread and stops itself after ``lifetime`` seconds at most.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Policy = Callable[[str, list[str]], str]


@contextmanager
def scripted_server(policy: Policy, lifetime: float = 300.0) -> Iterator[str]:
    calls = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            content = body["messages"][-1]["content"]
            prompt = "".join(p["text"] for p in content if p["type"] == "text")
            urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
            calls["n"] += 1
            reply: dict[str, Any] = {
                "id": f"c{calls['n']}", "object": "chat.completion", "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": policy(prompt, urls)}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stop = threading.Timer(lifetime, server.shutdown)
    stop.daemon = True
    stop.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        stop.cancel()
        server.shutdown()
        server.server_close()
