"""A scripted teacher / judge / editor behind the scripted OpenAI-compatible server
(tests/support/llm_servers.py) on 127.0.0.1, for the ``refine`` tests and bench.

It reads the role from the system prompt and the objects from the user prompt, and answers:

* teacher: per subject, one spatial proposal geometry contradicts (the subject is right of the
  object, proposed "left of"), one geometry confirms, and two non-spatial ones: "holding"
  (the judge confirms) and "afraid of" (the judge denies);
* judge: "yes" unless the question contains a word of ``deny`` (default "afraid of");
* editor: remove the first relation, add one naming a missing id (o-missing), add one geometry
  contradicts, refine the first object's attribute to "maroon".

Every chat request must carry an image part; one that does not is counted in
``missing_images`` and answered 400.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from llm_servers import Reply, ScriptedServer

OBJECT_LINE = re.compile(r"^(\S+): ([^\[;\n]+?) \[(-?[\d.]+), (-?[\d.]+), (-?[\d.]+), (-?[\d.]+)\]",
                         re.M)


def _texts(body: dict[str, Any]) -> tuple[str, str, int]:
    system = user = ""
    images = 0
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            if m["role"] == "system":
                system += content
            else:
                user += content
            continue
        for part in content or []:
            if part.get("type") == "text":
                user += part["text"]
            elif part.get("type") == "image_url" and str(
                    part["image_url"]["url"]).startswith("data:image/png;base64,"):
                images += 1
    return system, user, images


def _objects(user: str) -> dict[str, tuple[float, float, float, float]]:
    return {m.group(1): tuple(float(m.group(i)) for i in range(3, 7))  # type: ignore[misc]
            for m in OBJECT_LINE.finditer(user)}


def teacher_answer(user: str) -> dict[str, Any]:
    boxes = _objects(user)
    subjects = re.search(r"For each of these subjects: (.*)", user)
    names = [s.strip() for s in subjects.group(1).split(",")] if subjects else []
    relations = []
    for s in names:
        if s not in boxes:
            continue
        sx = (boxes[s][0] + boxes[s][2]) / 2
        # an object clearly to one side of the subject (geometry decides left/right)
        others = [o for o in boxes if o != s and abs((boxes[o][0] + boxes[o][2]) / 2 - sx) > 80]
        if others:
            o = others[0]
            ox = (boxes[o][0] + boxes[o][2]) / 2
            true_pred, false_pred = ("left of", "right of") if sx < ox else ("right of", "left of")
            relations.append({"subject": s, "predicate": false_pred, "object": o,
                              "category": "spatial", "confidence": 0.9})
            relations.append({"subject": s, "predicate": true_pred, "object": o,
                              "category": "spatial", "confidence": 0.8})
        rest = [o for o in boxes if o != s]
        if rest:
            relations.append({"subject": s, "predicate": "holding", "object": rest[-1],
                              "category": "interactional", "confidence": 0.7})
            relations.append({"subject": s, "predicate": "afraid of", "object": rest[-1],
                              "category": "emotional", "confidence": 0.6})
    return {"relations": relations}


def editor_answer(user: str) -> dict[str, Any]:
    boxes = _objects(user)
    rel = re.search(r"^\((\S+), ([^,]+), (\S+)\)$", user, re.M)
    ops: list[dict[str, Any]] = []
    if rel:
        ops.append({"op": "remove_relation", "subject": rel.group(1),
                    "predicate": rel.group(2), "object": rel.group(3)})
    ids = list(boxes)
    if ids:
        ops.append({"op": "add_relation", "subject": ids[0], "predicate": "wearing",
                    "object": "o-missing", "category": "functional"})
        ops.append({"op": "refine_attribute", "object_id": ids[0], "attribute": "maroon"})
    # a relation geometry contradicts: a pair clearly apart, named the wrong way round
    for a in ids:
        for b in ids:
            ax = (boxes[a][0] + boxes[a][2]) / 2
            bx = (boxes[b][0] + boxes[b][2]) / 2
            if bx - ax > 80:
                ops.append({"op": "add_relation", "subject": a, "predicate": "right of",
                            "object": b, "category": "spatial"})
                return {"operations": ops, "rationale": "scripted edit"}
    return {"operations": ops, "rationale": "scripted edit"}


def role_answer(body: dict[str, Any], deny: tuple[str, ...] = ("afraid of",)) -> str:
    system, user, _ = _texts(body)
    if "annotate scene graphs" in system:
        return json.dumps(teacher_answer(user))
    if "verify statements" in system:
        denied = any(word in user for word in deny)
        return json.dumps({"answer": "no" if denied else "yes", "confidence": 0.9})
    if "edit scene graphs" in system:
        return json.dumps(editor_answer(user))
    return "{}"


class RoleServer(ScriptedServer):
    """The scripted server answering as teacher, judge and editor (see the module docstring)."""

    def __init__(self, script: list[Reply] | None = None, delay_s: float = 0.0,
                 max_requests: int = 5000, lifetime_s: float = 120.0,
                 deny: tuple[str, ...] = ("afraid of",)) -> None:
        self.missing_images = 0
        self.deny = deny  # the judge answers "no" to a question containing one of these
        self.delay_s = delay_s
        super().__init__(script=script, kind="vllm", answer=None,
                         max_requests=max_requests, lifetime_s=lifetime_s)
        self.answer = self._answer
        # keep-alive like vLLM (BaseHTTPRequestHandler closes after each answer under
        # HTTP/1.0, which would measure connection set-up, not the client); every answer
        # here carries a content-length, the refine roles do not stream
        self.httpd.RequestHandlerClass.protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without TCP_NODELAY the body waits for the
        # client's delayed ACK (40 ms) on a kept-alive connection
        self.httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]

    def _answer(self, body: dict[str, Any]) -> str:
        if self.delay_s:
            time.sleep(self.delay_s)
        _, _, images = _texts(body)
        if images == 0:
            with self._lock:
                self.missing_images += 1
            return "no image part received"
        return role_answer(body, self.deny)
