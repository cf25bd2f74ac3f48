"""Run untrusted question programs: a pool of warm, hardened worker processes.

Defence in depth, outermost first (details and the syscall list in
:mod:`scenesynth.authoring.worker`; the language layers in :mod:`scenesynth.authoring.gate`):

==========================  ====================================================================
layer                       what it stops
==========================  ====================================================================
separate process            the host's objects: the scene travels as plain JSON data and is
                            rebuilt, read-only, for every program; the environment is emptied
                            (no API keys) and the interpreter runs with ``-B`` (no .pyc writes)
wall-time limit (host)      anything that does not answer in time: the worker is SIGKILLed
network namespace (root)    every connection, loopback included
RLIMIT_AS / CPU / FSIZE /   8 GiB allocations, ``10**10**10``, busy loops, file growth, extra
NOFILE / NPROC / CORE       descriptors, fork bombs, core dumps
drop to ``nobody`` (root)   file permissions of a normal user; makes RLIMIT_NPROC effective
seccomp (libseccomp)        open/create/unlink/rename, sockets, fork/clone/exec, kill, ptrace
AST gate                    imports beyond math/statistics/itertools/collections, ``_`` names and
                            attributes, getattr/globals/eval/exec/open/__import__, attribute
                            assignment, classes, generators
restricted builtins         everything not listed; ``print`` capped; fresh module copies
result check                non-plain or oversized results, NaN, subclasses of int/str
==========================  ====================================================================

Workers are forked from a fork server (one ``python -B -m scenesynth.authoring.worker
--fork-server`` per pool that has imported everything and never runs a program), so a
replacement costs a fork and the worker's hardening (tens of milliseconds), not a new
interpreter.
Each worker hardens itself once, then runs one program at a time. A worker that dies
(SIGXCPU, ``os._exit``, a crash) or that is killed for time is replaced, and the program is
reported with its reason; after a memory or CPU limit the worker is replaced as well, so no
state outlives a bad program.
:attr:`SandboxPool.layers` says which OS layers this machine gave the workers (not root: no
namespace and no uid drop; no libseccomp: no seccomp); the other layers hold regardless.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scenesynth.authoring.gate import code_key

_HEADER = struct.Struct(">I")
_CODE_KEYS: dict[str, str] = {}


def _code_key(code: str) -> str:
    key = _CODE_KEYS.get(code)
    if key is None:
        if len(_CODE_KEYS) > 4096:
            _CODE_KEYS.clear()
        key = _CODE_KEYS[code] = code_key(code)
    return key
# Reasons after which the worker is replaced even though it answered.
_RECYCLE_AFTER = frozenset({"memory", "cpu_time"})


@dataclass(frozen=True)
class SandboxLimits:
    cpu_s: float = 1.0  # CPU seconds per program
    wall_s: float = 3.0  # wall seconds per program (the host kills the worker beyond it)
    memory_mb: int = 256  # address space a program may add to the worker's
    output_chars: int = 10_000  # what print may write
    result_bytes: int = 16_384  # the JSON of the result
    recursion: int = 200  # frames a program may add
    max_code_chars: int = 20_000


@dataclass(frozen=True)
class SandboxConfig:
    workers: int = 2
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    ast_gate: bool = True
    restricted_builtins: bool = True
    seccomp: bool = True
    network_namespace: bool = True
    drop_privileges: bool = True
    jobs_per_worker: int = 20_000  # a worker is renewed after this many programs
    start_timeout_s: float = 60.0


@dataclass
class ExecResult:
    ok: bool
    value: Any = None
    reason: str | None = None  # forbidden, syntax, error, cpu_time, wall_time, memory, ...
    detail: str = ""
    stdout: str = ""
    cpu_s: float = 0.0
    worker_replaced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Job:
    code: str
    scene: dict[str, Any]
    scene_key: str = ""

    def key(self) -> str:
        return self.scene_key or scene_key(self.scene)


_SCENE_KEYS: dict[int, tuple[dict[str, Any], str]] = {}


def scene_key(scene: dict[str, Any]) -> str:
    """sha256 of the scene's canonical JSON (memoised per payload object: a run reuses one
    payload per graph for many programs, and payloads are never modified)."""
    found = _SCENE_KEYS.get(id(scene))
    if found is not None and found[0] is scene:
        return found[1]
    text = json.dumps(scene, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(text.encode()).hexdigest()[:32]
    if len(_SCENE_KEYS) >= 4096:
        _SCENE_KEYS.clear()
    _SCENE_KEYS[id(scene)] = (scene, key)  # holds the payload, so its id stays unique
    return key


class SandboxError(RuntimeError):
    """A worker could not be started at all."""


def _worker_env() -> dict[str, str]:
    """The worker's whole environment: where to import scenesynth from, nothing else (no
    keys or tokens of the host)."""
    import scenesynth

    src = str(Path(scenesynth.__file__).resolve().parents[1])
    paths = [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C.UTF-8"}


class _ForkServer:
    """The process workers are forked from (see :func:`scenesynth.authoring.worker.fork_server`):
    it has imported everything once, so a replacement worker costs a fork, not a new
    interpreter. Talks over a UNIX seqpacket socket; descriptors travel as SCM_RIGHTS."""

    def __init__(self, timeout_s: float) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-B", "-m", "scenesynth.authoring.worker", "--fork-server",
             str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=_worker_env(), cwd="/", start_new_session=True,
        )
        theirs.close()
        ours.settimeout(timeout_s)
        self.sock = ours

    def _ask(self, request: dict[str, Any], fds: Sequence[int] = ()) -> dict[str, Any]:
        socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
        data = self.sock.recv(65536)
        if not data:
            raise OSError("the sandbox fork server is gone")
        answer: dict[str, Any] = json.loads(data)
        return answer

    def spawn(self) -> tuple[int, int, int]:
        """A new worker: (pid, the job pipe's write end, the reply pipe's read end)."""
        job_r, job_w = os.pipe()
        reply_r, reply_w = os.pipe()
        try:
            answer = self._ask({"spawn": True}, [job_r, reply_w])
        except BaseException:
            for fd in (job_w, reply_r):
                os.close(fd)
            raise
        finally:
            os.close(job_r)
            os.close(reply_w)
        if "pid" not in answer:
            raise OSError(f"the sandbox fork server refused: {answer}")
        return int(answer["pid"]), job_w, reply_r

    def wait_status(self, pid: int) -> int:
        """The wait status of a worker that has exited or been killed (reaps it)."""
        return int(self._ask({"status": pid})["status"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class _Worker:
    def __init__(self, config: SandboxConfig, server: _ForkServer) -> None:
        self.server = server
        self.pid, self.wfd, self.rfd = server.spawn()
        os.set_blocking(self.rfd, False)
        self.closed = False
        self.buffer = b""
        self.scenes: set[str] = set()
        self.codes: set[str] = set()
        self.jobs = 0
        limits = config.limits
        self._send({**asdict(limits), "ast_gate": config.ast_gate,
                    "restricted_builtins": config.restricted_builtins,
                    "seccomp": config.seccomp, "network_namespace": config.network_namespace,
                    "drop_privileges": config.drop_privileges})
        hello = self._wait_message(config.start_timeout_s)
        if not isinstance(hello, dict) or not hello.get("ready"):
            self.kill()
            raise SandboxError("sandbox worker did not start")
        self.layers: dict[str, Any] = hello["layers"]

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return not self.closed

    def _send(self, message: Any) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        data = _HEADER.pack(len(body)) + body
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]

    def send_job(self, job_id: int, job: Job, key: str) -> None:
        """Send a job; the scene and the source go only to a worker that has not had them
        (it keeps the last 256 scenes and 512 compiled programs, and asks when it forgot)."""
        ckey = _code_key(job.code)
        message: dict[str, Any] = {"id": job_id, "scene_key": key, "code_key": ckey}
        if key not in self.scenes:
            message["scene"] = job.scene
            if len(self.scenes) >= 256:
                self.scenes.clear()
            self.scenes.add(key)
        if ckey not in self.codes:
            message["code"] = job.code
            if len(self.codes) >= 512:
                self.codes.clear()
            self.codes.add(ckey)
        self._send(message)
        self.jobs += 1

    def poll_message(self) -> Any:
        """A complete message when one has arrived; None when more bytes are needed;
        raises EOFError when the worker is gone."""
        try:
            chunk = os.read(self.rfd, 1 << 20)
        except BlockingIOError:
            chunk = None
        if chunk == b"":
            raise EOFError
        if chunk:
            self.buffer += chunk
        if len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        if len(self.buffer) < _HEADER.size + size:
            return None
        body = self.buffer[_HEADER.size:_HEADER.size + size]
        self.buffer = self.buffer[_HEADER.size + size:]
        return json.loads(body)

    def _wait_message(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.rfd, selectors.EVENT_READ)
            while True:
                try:
                    message = self.poll_message()
                except EOFError:
                    return None
                if message is not None:
                    return message
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sel.select(left)

    def death_reason(self) -> tuple[str, str]:
        """Why the worker is gone (it has closed its reply pipe, or was killed). A worker
        that closed its pipe but lives on is killed first (a zombie keeps its status)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        try:
            code = os.waitstatus_to_exitcode(self.server.wait_status(self.pid))
        except (OSError, ValueError):
            return "crashed", "the worker is gone (its exit status is unknown)"
        finally:
            self._close_fds()
        if code < 0:
            sig = signal.Signals(-code)
            if sig == signal.SIGXCPU:
                return "cpu_time", "the worker exceeded its CPU limit (SIGXCPU)"
            return "crashed", f"the worker was killed by {sig.name}"
        return "crashed", f"the worker exited with status {code}"

    def _close_fds(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in (self.wfd, self.rfd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def kill(self) -> None:
        """SIGKILL the worker and reap it (no-op when already reaped)."""
        if self.closed:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError):
            self.server.wait_status(self.pid)
        self._close_fds()

    stop = kill  # workers keep no state worth a graceful exit


class SandboxPool:
    """Warm hardened workers; ``run_many`` spreads programs over them.

        with SandboxPool(SandboxConfig(workers=2)) as pool:
            result = pool.run(code, scene_payload(graph))
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        if self.config.workers < 1:
            raise ValueError("SandboxConfig.workers must be >= 1")
        self.workers: list[_Worker] = []
        self.replaced = 0
        self.executed = 0
        self.server = _ForkServer(self.config.start_timeout_s)
        try:
            for _ in range(self.config.workers):
                self.workers.append(_Worker(self.config, self.server))
        except BaseException:
            self.close()
            raise
        self.layers: dict[str, Any] = dict(self.workers[0].layers)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []
        self.server.close()

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    def _replace(self, index: int) -> None:
        self.workers[index].kill()
        if not self.server.alive():  # the fork server itself died: start another
            self.server.close()
            self.server = _ForkServer(self.config.start_timeout_s)
        self.workers[index] = _Worker(self.config, self.server)
        self.replaced += 1

    def run(self, code: str, scene: dict[str, Any], key: str = "") -> ExecResult:
        return self.run_many([Job(code, scene, key)])[0]

    def run_many(self, jobs: Sequence[Job]) -> list[ExecResult]:
        """Run every job (in parallel over the workers); results in the jobs' order."""
        if not self.workers:
            raise SandboxError("the sandbox pool is closed")
        results: list[ExecResult | None] = [None] * len(jobs)
        keys = [job.key() for job in jobs]
        pending = list(range(len(jobs) - 1, -1, -1))  # popped from the end: in order
        busy: dict[int, tuple[int, float]] = {}  # worker index -> (job index, deadline)
        wall = self.config.limits.wall_s
        with selectors.DefaultSelector() as sel:
            while pending or busy:
                for w in range(len(self.workers)):
                    if w in busy or not pending:
                        continue
                    j = pending.pop()
                    if not self._dispatch(w, j, jobs[j], keys[j], results):
                        continue
                    busy[w] = (j, time.monotonic() + wall)
                    sel.register(self.workers[w].rfd, selectors.EVENT_READ, w)
                if not busy:
                    continue
                timeout = max(0.0, min(d for _, d in busy.values()) - time.monotonic())
                for sel_key, _ in sel.select(timeout):
                    w = sel_key.data
                    j, _deadline = busy[w]
                    worker = self.workers[w]
                    try:
                        message = worker.poll_message()
                    except EOFError:
                        reason, detail = worker.death_reason()
                        sel.unregister(worker.rfd)
                        del busy[w]
                        results[j] = ExecResult(False, reason=reason, detail=detail,
                                                worker_replaced=True)
                        self._replace(w)
                        continue
                    if message is None:
                        continue
                    if message.get("need_scene"):
                        worker.scenes.discard(keys[j])
                        worker.codes.discard(_code_key(jobs[j].code))
                        worker.send_job(j, jobs[j], keys[j])
                        continue
                    sel.unregister(worker.rfd)
                    del busy[w]
                    result = ExecResult(
                        ok=bool(message.get("ok")), value=message.get("value"),
                        reason=message.get("reason"), detail=message.get("detail", ""),
                        stdout=message.get("stdout", ""), cpu_s=message.get("cpu_s", 0.0),
                    )
                    if result.reason in _RECYCLE_AFTER or \
                            worker.jobs >= self.config.jobs_per_worker:
                        result.worker_replaced = True
                        self._replace(w)
                    results[j] = result
                now = time.monotonic()
                for w, (j, deadline) in list(busy.items()):
                    if now >= deadline:
                        sel.unregister(self.workers[w].rfd)
                        del busy[w]
                        results[j] = ExecResult(
                            False, reason="wall_time",
                            detail=f"no answer within {wall:g} s; the worker was killed",
                            worker_replaced=True)
                        self._replace(w)
        self.executed += len(jobs)
        return [r if r is not None else ExecResult(False, reason="lost") for r in results]

    def _dispatch(self, w: int, j: int, job: Job, key: str,
                  results: list[ExecResult | None]) -> bool:
        """Send job j to worker w. A worker found dead while idle (its last program is
        already reported) is replaced and the job sent to the new one; if that fails too,
        the job is reported with the new worker's death."""
        for attempt in range(2):
            try:
                self.workers[w].send_job(j, job, key)
                return True
            except OSError:
                reason, detail = self.workers[w].death_reason()
                self._replace(w)
                if attempt:
                    results[j] = ExecResult(False, reason=reason, detail=detail,
                                            worker_replaced=True)
        return False
