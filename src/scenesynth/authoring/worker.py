"""One sandbox worker process: hardens itself once, then runs programs one at a time.

Forked by the pool's fork server (:func:`fork_server`, started as
``python -B -m scenesynth.authoring.worker --fork-server FD``) with a job pipe and a reply pipe;
it speaks length-prefixed JSON on them. Everything it needs is imported *before* it hardens itself,
because afterwards it can open no file.

Operating-system layers, in the order they are applied (each is reported to the pool, which
records which ones this machine has):

1. ``netns``: when running as root, ``unshare(CLONE_NEWNET)`` moves the worker into an empty
   network namespace (not even a loopback that is up): no connection can reach any host.
2. ``rlimits``: ``RLIMIT_AS`` (address space: the worker's size after its imports plus the
   memory budget), ``RLIMIT_FSIZE = 0`` (no file can grow), ``RLIMIT_NOFILE`` (no descriptor
   beyond those open now), ``RLIMIT_CORE = 0``, ``RLIMIT_NPROC = 0`` (no new process; root
   ignores it, hence layer 3). Per program, ``RLIMIT_CPU`` is moved to the CPU used so far plus
   the budget (the kernel's SIGXCPU kills a program stuck inside one C call) and an
   ``ITIMER_PROF`` timer raises inside a Python-level loop at the budget.
3. ``uid``: when running as root, the worker drops to ``nobody`` (65534) with no
   supplementary groups, so file permissions and RLIMIT_NPROC apply to it.
4. ``seccomp`` (``pyseccomp`` over libseccomp, ``no_new_privs`` set): the system calls that
   open, create, rename, delete or re-permission files, create sockets or connect, fork,
   clone, exec, signal other processes, trace, mount or change namespaces fail with
   ``EPERM``. Reading and writing the already-open pipes, ``mmap`` and the clock still work.

Then, per program: the AST gate and restricted builtins (:mod:`scenesynth.authoring.gate`),
a recursion limit, a capped ``print``, and a result that must be plain JSON data under a size
cap. A layer that is unavailable (not root, no libseccomp, not Linux) is skipped and reported;
the others still apply.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import os
import resource
import signal
import struct
import sys
import time
from typing import Any

from scenesynth.authoring.api import Scene
from scenesynth.authoring.gate import (
    CappedOutput,
    GateError,
    OutputLimitExceeded,
    check_program,
    code_key,
    full_builtins,
    safe_builtins,
)

try:  # imported now: after seccomp nothing can be loaded from disk
    import pyseccomp
except Exception:
    pyseccomp = None

_HEADER = struct.Struct(">I")
CLONE_NEWNET = 0x40000000
NOBODY = 65534

DENIED_SYSCALLS = (
    # files
    "open", "openat", "openat2", "creat", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod",
    "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate",
    "mknod", "mknodat", "utime", "utimes", "utimensat", "futimesat", "chroot", "mount",
    "umount2", "pivot_root", "name_to_handle_at", "open_by_handle_at", "memfd_create",
    # network
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    # processes and the kernel
    "fork", "vfork", "clone", "clone3", "execve", "execveat", "kill", "tkill", "tgkill",
    "ptrace", "process_vm_readv", "process_vm_writev", "setns", "unshare", "setuid",
    "setgid", "setreuid", "setregid", "setresuid", "setresgid", "bpf", "perf_event_open",
    "userfaultfd", "io_uring_setup", "keyctl", "add_key", "request_key", "init_module",
    "finit_module", "delete_module", "reboot", "swapon", "swapoff", "sethostname",
    "setdomainname", "personality",
)


class CPUTimeExceeded(BaseException):
    """Raised inside the program by the CPU timer (a BaseException: ``except Exception`` in
    the program does not swallow it; the timer re-fires if a bare ``except`` does)."""


def _on_cpu_timer(signum: int, frame: Any) -> None:
    raise CPUTimeExceeded("CPU time limit")


# -- hardening -----------------------------------------------------------------------------


def _vm_size_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def harden(config: dict[str, Any]) -> dict[str, Any]:
    layers: dict[str, Any] = {}
    is_root = os.geteuid() == 0
    if config.get("network_namespace", True) and is_root and sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        layers["netns"] = libc.unshare(CLONE_NEWNET) == 0
    else:
        layers["netns"] = False

    memory = int(config["memory_mb"]) * 1024 * 1024
    try:
        base = _vm_size_bytes()
    except OSError:
        base = 0
    rl: list[str] = []
    if base:
        resource.setrlimit(resource.RLIMIT_AS, (base + memory, base + memory))
        rl.append("AS")
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    highest = max(int(n) for n in os.listdir("/proc/self/fd")) if os.path.isdir(
        "/proc/self/fd") else 16
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, highest + 1))
    rl += ["FSIZE", "CORE", "NOFILE"]
    if hasattr(resource, "RLIMIT_NPROC"):
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        rl.append("NPROC")
    layers["rlimits"] = rl

    layers["uid"] = False
    if config.get("drop_privileges", True) and is_root:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        layers["uid"] = os.geteuid() == NOBODY

    layers["seccomp"] = False
    if config.get("seccomp", True) and pyseccomp is not None and sys.platform == "linux":
        denied = pyseccomp.ERRNO(errno.EPERM)
        filt = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
        for name in DENIED_SYSCALLS:
            with contextlib.suppress(Exception):  # a call this architecture lacks
                filt.add_rule(denied, name)
        filt.load()
        layers["seccomp"] = True

    signal.signal(signal.SIGPROF, _on_cpu_timer)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # past the timer: the kernel kills us
    return layers


# -- protocol --------------------------------------------------------------------------------


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> Any:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    return json.loads(_read_exact(fd, size))


def send(fd: int, message: Any) -> None:
    body = json.dumps(message, ensure_ascii=True, allow_nan=False).encode()
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# -- running one program ----------------------------------------------------------------------


class ResultRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def plain(value: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    """The value as plain JSON data (exact built-in types only: no subclass smuggles code).
    ``budget``: how many more values may follow (each takes at least one byte of JSON), so
    an oversized result is refused before it is copied."""
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise ResultRejected("result_size", "result has too many values")
    if depth > 20:
        raise ResultRejected("result_type", "result nested deeper than 20 levels")
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ResultRejected("result_type", f"result is {value}")
        return value
    if kind in (list, tuple):
        return [plain(v, depth + 1, budget) for v in value]
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise ResultRejected("result_type", "result dict has a non-string key")
        return {k: plain(v, depth + 1, budget) for k, v in value.items()}
    raise ResultRejected("result_type", f"result of type {kind.__name__} is not plain data")


class Runner:
    def __init__(self, config: dict[str, Any]) -> None:
        self.cpu_s = float(config["cpu_s"])
        self.output_chars = int(config["output_chars"])
        self.result_bytes = int(config["result_bytes"])
        self.recursion = int(config["recursion"])
        self.max_code_chars = int(config["max_code_chars"])
        self.ast_gate = bool(config.get("ast_gate", True))
        self.builtins = safe_builtins if config.get("restricted_builtins", True) \
            else full_builtins
        self.scenes: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, Any] = {}
        self.base_recursion = sys.getrecursionlimit()

    def compiled(self, code: str) -> Any:
        key = code_key(code)
        found = self.codes.get(key)
        if found is None:
            try:
                if self.ast_gate:
                    tree = check_program(code, self.max_code_chars)
                    found = compile(tree, "<program>", "exec")
                else:
                    found = compile(code, "<program>", "exec")
            except GateError as exc:
                found = ("forbidden", str(exc))
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                found = ("syntax", f"{type(exc).__name__}: {exc}")
            if len(self.codes) >= 512:
                self.codes.pop(next(iter(self.codes)))
            self.codes[key] = found
        return found

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = {"id": job["id"]}
        if "scene" in job:
            if len(self.scenes) >= 256:
                self.scenes.pop(next(iter(self.scenes)))
            self.scenes[job["scene_key"]] = job["scene"]
        data = self.scenes.get(job["scene_key"])
        code = self.compiled(job["code"]) if "code" in job else self.codes.get(job["code_key"])
        if data is None or code is None:  # forgotten (evicted): the pool sends it again
            reply["need_scene"] = True
            return reply
        if isinstance(code, tuple):
            reply.update(ok=False, reason=code[0], detail=code[1])
            return reply
        output = CappedOutput(self.output_chars)
        namespace: dict[str, Any] = {"__builtins__": self.builtins(output),
                                     "__name__": "program"}
        start = time.process_time()
        self._arm(start)
        try:
            scene = Scene(data)
            exec(code, namespace)
            fn = namespace.get("answer")
            if not callable(fn):
                raise ResultRejected("no_answer", "the program defines no answer(scene)")
            value = plain(fn(scene), 0, [self.result_bytes // 2])
            text = json.dumps(value, allow_nan=False)
            if len(text) > self.result_bytes:
                raise ResultRejected("result_size",
                                     f"result is {len(text)} bytes (limit {self.result_bytes})")
            reply.update(ok=True, value=value)
        except CPUTimeExceeded:
            reply.update(ok=False, reason="cpu_time",
                         detail=f"used more than {self.cpu_s:g} s of CPU")
        except MemoryError:
            reply.update(ok=False, reason="memory", detail="memory limit reached")
        except RecursionError:
            reply.update(ok=False, reason="recursion", detail="recursion limit reached")
        except OutputLimitExceeded as exc:
            reply.update(ok=False, reason="output_size", detail=str(exc))
        except ResultRejected as exc:
            reply.update(ok=False, reason=exc.reason, detail=str(exc))
        except BaseException as exc:
            reply.update(ok=False, reason="error",
                         detail=f"{type(exc).__name__}: {_short(exc)}")
        finally:
            self._disarm()
        reply["cpu_s"] = round(time.process_time() - start, 6)
        reply["stdout"] = output.text()[:2000]
        return reply

    def _arm(self, used: float) -> None:
        sys.setrecursionlimit(self.base_recursion + self.recursion)
        # the kernel's backstop (whole seconds), for a program stuck inside one C call
        soft = math.ceil(used + self.cpu_s) + 1
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard == resource.RLIM_INFINITY or soft <= hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        signal.setitimer(signal.ITIMER_PROF, self.cpu_s, 0.05)

    def _disarm(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        sys.setrecursionlimit(self.base_recursion)


def _short(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable>"
    return text[:300]


def serve(in_fd: int, out_fd: int) -> None:
    """A worker's life: read its configuration, harden, then run jobs until EOF or stop."""
    config = receive(in_fd)
    runner = Runner(config)
    layers = harden(config)
    send(out_fd, {"ready": True, "layers": layers, "pid": os.getpid()})
    while True:
        try:
            job = receive(in_fd)
        except EOFError:
            return
        if job.get("stop"):
            return
        try:
            reply = runner.run(job)
        except CPUTimeExceeded:  # the timer fired between the program and its disarming
            runner._disarm()
            reply = {"id": job["id"], "ok": False, "reason": "cpu_time", "detail": "CPU time"}
        try:
            send(out_fd, reply)
        except (TypeError, ValueError) as exc:  # defensive: a reply that is not JSON
            send(out_fd, {"id": job["id"], "ok": False, "reason": "result_type",
                          "detail": str(exc)[:300]})


# -- the fork server ---------------------------------------------------------------------------


def fork_server(control_fd: int) -> None:
    """Serve ``spawn`` and ``status`` requests on a UNIX socket (the pool's end holds the
    other side). This process has imported everything and never hardens itself; each worker
    is a fork of it, so a new worker is ready in milliseconds instead of a fresh interpreter's
    second.

    * ``{"spawn": true}`` with two descriptors (the job pipe's read end, the reply pipe's
      write end): fork; the child keeps only those two, points 0-2 at /dev/null and
      :func:`serve` s; the answer is ``{"pid": PID}``.
    * ``{"status": PID}``: wait for that child (the pool asks only once it is gone or killed)
      and answer ``{"status": WAIT_STATUS}``.
    """
    import socket

    control = socket.socket(fileno=control_fd)
    statuses: dict[int, int] = {}

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            statuses[pid] = status

    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(control, 65536, 2)
        except OSError:
            return
        if not data:
            return
        request = json.loads(data)
        reap()
        if request.get("spawn"):
            if len(fds) != 2:
                control.sendall(json.dumps({"error": "spawn needs two descriptors"}).encode())
                continue
            pid = os.fork()
            if pid == 0:  # the worker
                try:
                    control.close()
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(null, fd)
                    os.close(null)
                    serve(fds[0], fds[1])
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"pid": pid}).encode())
        elif "status" in request:
            pid = int(request["status"])
            if pid not in statuses:
                try:
                    _, statuses[pid] = os.waitpid(pid, 0)
                except ChildProcessError:
                    statuses[pid] = -1
            control.sendall(json.dumps({"status": statuses.pop(pid)}).encode())


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--fork-server":
        fork_server(int(sys.argv[2]))
        return
    # a worker started on its own: the protocol keeps its own descriptors; 0, 1 and 2 point
    # at /dev/null, so nothing a program prints can corrupt a reply
    in_fd, out_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    serve(in_fd, out_fd)


if __name__ == "__main__":
    main()
