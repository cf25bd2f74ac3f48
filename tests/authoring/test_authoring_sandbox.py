"""The sandbox for LLM-written programs: hostile programs from a scripted OpenAI-compatible
server are contained and reported, the AST gate and the OS layers each hold on their own, and
the pool survives to run the next good program."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest
from scripted_llm import ScriptedLLM, TrapPort, field, program, user_text

from scenesynth.authoring.api import Scene, scene_payload
from scenesynth.authoring.gate import GateError, check_program
from scenesynth.authoring.sandbox import Job, SandboxConfig, SandboxLimits, SandboxPool
from scenesynth.authoring.writer import OpenAIWriter
from scenesynth.graph import SceneGraph
from scenesynth.pipeline.write_questions import WriteQuestionsConfig, write_questions
from scenesynth.sources import load

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux first")

LIMITS = SandboxLimits(cpu_s=0.2, wall_s=3.0, memory_mb=256)
GOOD = "def answer(scene):\n    return len(scene.find('cube')) + 10 * len(scene.objects)\n"


@pytest.fixture(scope="module")
def clevr(shared_data: Path) -> list[SceneGraph]:
    return list(itertools.islice(load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"),
                                 12))


def good_value(graph: SceneGraph) -> int:
    return sum(o.name == "cube" for o in graph.objects) + 10 * len(graph.objects)


def hostile_programs(tmp: Path, port: int) -> list[tuple[str, str, set[str]]]:
    """(name, code, acceptable drop reasons) -- at least 15 hostile programs."""
    forbidden = {"exec_forbidden"}
    return [
        ("read /etc/passwd", "def answer(scene):\n    return open('/etc/passwd').read()\n",
         forbidden),
        ("write a file", f"def answer(scene):\n    f = open('{tmp}/pwned', 'w')\n"
         "    f.write('x')\n    return 1\n", forbidden),
        ("open a socket", "import socket\ndef answer(scene):\n"
         f"    socket.create_connection(('127.0.0.1', {port}))\n    return 1\n", forbidden),
        ("import os", f"import os\ndef answer(scene):\n    return os.system('touch {tmp}/x')\n",
         forbidden),
        ("import subprocess", "import subprocess\ndef answer(scene):\n"
         "    return subprocess.run(['id']).returncode\n", forbidden),
        ("import ctypes", "from ctypes import CDLL\ndef answer(scene):\n"
         "    return CDLL(None).getpid()\n", forbidden),
        ("__import__", "def answer(scene):\n    return __import__('os').getpid()\n", forbidden),
        ("getattr", "def answer(scene):\n    f = getattr(scene, 'find')\n"
         "    return getattr(f, 'fun' + 'c_globals')\n", forbidden),
        ("globals()", "def answer(scene):\n    return globals()['os']\n", forbidden),
        ("mro escape", "def answer(scene):\n"
         "    for c in ().__class__.__mro__[1].__subclasses__():\n"
         "        if c.__name__ == '_wrap_close':\n"
         "            return c.__init__.__globals__['system']('id')\n    return 0\n", forbidden),
        ("format-string escape", "def answer(scene):\n"
         "    return '{0.find.__globals__}'.format(scene)\n", forbidden),
        ("generator frame escape", "def answer(scene):\n    g = (x for x in [1])\n"
         "    return str(g.gi_frame.f_back.f_globals)\n", forbidden),
        ("fork bomb", "import os\ndef answer(scene):\n    while True:\n        os.fork()\n",
         forbidden),
        ("infinite loop", "def answer(scene):\n    n = 0\n    while True:\n        n += 1\n",
         {"exec_cpu_time", "exec_wall_time"}),
        ("10**10**10", "def answer(scene):\n    return 10**10**10\n",
         {"exec_cpu_time", "exec_wall_time", "exec_memory"}),
        ("allocate 8 GiB", "def answer(scene):\n    return len([0] * (2**30))\n",
         {"exec_memory"}),
        ("deep recursion", "def answer(scene):\n    def down(n):\n        return down(n + 1) + 1\n"
         "    return down(0)\n", {"exec_recursion"}),
        ("print 1 GB", "def answer(scene):\n    chunk = 'x' * 1000000\n"
         "    for i in range(1000):\n        print(chunk)\n    return 1\n", {"exec_output_size"}),
        ("mutate the scene", "def answer(scene):\n    scene.objects[0].name = 'hacked'\n"
         "    return 1\n", forbidden),
        ("mutate the scene's tuple", "def answer(scene):\n    objs = scene.objects\n"
         "    objs.append(objs[0])\n    return len(objs)\n", {"exec_error"}),
        ("raise SystemExit", "def answer(scene):\n    raise SystemExit(0)\n", {"exec_error"}),
        ("os._exit", "import os\ndef answer(scene):\n    os._exit(0)\n", forbidden),
        ("signal tricks", "import signal\ndef answer(scene):\n"
         "    signal.signal(signal.SIGPROF, signal.SIG_IGN)\n    while True:\n        pass\n",
         forbidden),
        ("bare except around a busy loop", "def answer(scene):\n    while True:\n        try:\n"
         "            while True:\n                pass\n        except:\n            pass\n",
         {"exec_cpu_time", "exec_wall_time"}),
        ("huge result", "def answer(scene):\n    return list(range(10**6))\n",
         {"exec_result_size"}),
    ]


def nobody_files(directory: Path) -> set[str]:
    """Entries of ``directory`` owned by the sandbox's user (uid 65534)."""
    out = set()
    for entry in directory.iterdir():
        try:
            if entry.lstat().st_uid == 65534:
                out.add(entry.name)
        except OSError:
            continue
    return out


def test_hostile_programs_from_a_scripted_server_are_contained(
        clevr: list[SceneGraph], tmp_path: Path) -> None:
    g0 = clevr[0]
    g1 = next(g for g in clevr[1:] if good_value(g) != good_value(g0))
    sandbox_dir = tmp_path / "watched"
    sandbox_dir.mkdir()
    (sandbox_dir / "canary.txt").write_text("unchanged")
    before = {p: p.stat().st_mtime_ns for p in sandbox_dir.rglob("*")}
    cwd_before = set(os.listdir("."))
    tmp_nobody_before = nobody_files(Path("/tmp"))

    with TrapPort() as trap:
        hostile = hostile_programs(sandbox_dir, trap.port)
        # the script: hostile program k, then a good one, alternately, for the first image;
        # the probe image gets unusable text (the writer fails fast)
        script = []
        for name, code, _ in hostile:
            script.append(program(f"Hostile: {name}?", "count", code))
            script.append(program(f"How many objects, weighted, after {name}?", "count", GOOD))

        def respond(body: dict) -> str:
            text = user_text(body)
            if field(text, "IMAGE") != g0.image.id:
                return "not json"
            return script[int(field(text, "VARIATION"))]

        with ScriptedLLM(respond) as server:
            writer = OpenAIWriter("scripted", server.url, api_key="test")
            config = WriteQuestionsConfig(
                questions_per_graph=len(script), agreement=1, probe_scenes=1,
                near_duplicate=1.01, max_attempts=1,
                sandbox=SandboxConfig(workers=2, limits=LIMITS))
            with SandboxPool(config.sandbox) as pool:
                result = write_questions([g0, g1], writer, config, pool)
                pids_after = pool.pids()
                # the pool still runs a good program on the untouched scene
                final = pool.run(GOOD, scene_payload(g0))
                alive = all(w.alive() for w in pool.workers)
        connections = trap.connections

    drops = {d.question: d for d in result.drops if d.image_id == g0.image.id}
    for name, _code, reasons in hostile:
        drop = drops.get(f"Hostile: {name}?")
        assert drop is not None, f"{name}: not dropped"
        assert drop.reason in reasons, f"{name}: {drop.reason} ({drop.detail})"
        assert drop.detail, f"{name}: no reason given"
    # every good program after a hostile one still ran, on the unchanged scene
    assert len(result.samples) == len(hostile)
    assert {s.answer_value for s in result.samples} == {good_value(g0)}
    assert final.ok and final.value == good_value(g0)
    assert alive and len(pids_after) == 2
    assert connections == 0
    assert {p: p.stat().st_mtime_ns for p in sandbox_dir.rglob("*")} == before
    assert (sandbox_dir / "canary.txt").read_text() == "unchanged"
    assert set(os.listdir(".")) == cwd_before
    assert nobody_files(Path("/tmp")) <= tmp_nobody_before
    assert result.workers_replaced >= 2  # memory and CPU-limit programs renew their worker


@pytest.fixture(scope="module")
def open_pool():
    """Gate off and the interpreter's full builtins: only the OS layers stand."""
    config = SandboxConfig(workers=1, ast_gate=False, restricted_builtins=False, limits=LIMITS)
    with SandboxPool(config) as pool:
        yield pool


def test_without_the_gate_the_os_layers_still_contain(open_pool: SandboxPool,
                                                      clevr: list[SceneGraph],
                                                      tmp_path: Path) -> None:
    layers = open_pool.layers
    if not layers["seccomp"]:
        pytest.skip("no seccomp on this machine")
    scene = scene_payload(clevr[0])
    host_pid = os.getpid()
    with TrapPort() as trap:
        cases = {
            "read": ("def answer(s):\n    return open('/etc/passwd').read()\n",
                     "PermissionError"),
            "write": (f"def answer(s):\n    open('{tmp_path}/pwned', 'w').write('x')\n",
                      "PermissionError"),
            "fork": ("import os\ndef answer(s):\n    return os.fork()\n", "Error"),
            "kill host": (f"import os\ndef answer(s):\n    os.kill({host_pid}, 9)\n",
                          "PermissionError"),
            "mro escape": (
                "def answer(s):\n"
                "    for c in ().__class__.__mro__[1].__subclasses__():\n"
                "        if c.__name__ == '_wrap_close':\n"
                f"            return c.__init__.__globals__['system']('touch {tmp_path}/x')\n",
                None),
            "raw socket": ("import ctypes\ndef answer(s):\n"
                           "    return ctypes.CDLL(None).socket(2, 1, 0)\n", None),
            "connect": ("import socket\ndef answer(s):\n"
                        f"    socket.create_connection(('127.0.0.1', {trap.port}), 1)\n",
                        "Error"),
        }
        for name, (code, error) in cases.items():
            r = open_pool.run(code, scene)
            if error is None:  # the call returns -1: fork / socket refused by the kernel
                assert r.ok and r.value in (-1, 32512, 256), (name, r)
            else:
                assert not r.ok and r.reason == "error" and error in r.detail, (name, r)
        connections = trap.connections
    assert connections == 0
    assert list(tmp_path.iterdir()) == []
    # leaving through os._exit, or ignoring the CPU timer: the worker dies, is replaced
    exit_result = open_pool.run("import os\ndef answer(s):\n    os._exit(3)\n", scene)
    assert exit_result.reason == "crashed" and "status 3" in exit_result.detail
    trick = open_pool.run("import signal\ndef answer(s):\n"
                          "    signal.signal(signal.SIGPROF, signal.SIG_IGN)\n"
                          "    while True:\n        pass\n", scene)
    assert trick.reason in ("cpu_time", "wall_time") and trick.worker_replaced
    memory = open_pool.run("def answer(s):\n    return len(bytearray(8 * 2**30))\n", scene)
    assert memory.reason == "memory"
    assert open_pool.run(GOOD, scene).value == good_value(clevr[0])


def test_without_seccomp_no_connection_is_made(clevr: list[SceneGraph]) -> None:
    """Gate, builtins and seccomp off: the descriptor limit (no new socket) and the empty
    network namespace still stop the connection."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root here")
    config = SandboxConfig(workers=1, ast_gate=False, restricted_builtins=False,
                           seccomp=False, limits=LIMITS)
    with TrapPort() as trap, SandboxPool(config) as pool:
        assert pool.layers["netns"] and not pool.layers["seccomp"]
        r = pool.run("import socket\ndef answer(s):\n"
                     f"    socket.create_connection(('127.0.0.1', {trap.port}), 1)\n"
                     "    return 1\n", scene_payload(clevr[0]))
        connections = trap.connections
    assert not r.ok and r.reason == "error", r
    assert connections == 0


@pytest.mark.parametrize("code, message", [
    ("import os", "import of 'os'"),
    ("from os import path", "import from 'os'"),
    ("from math import *", None),
    ("x = ().__class__", "'__class__'"),
    ("x = [].copy.__self__", "'__self__'"),
    ("x = getattr", "'getattr'"),
    ("x = globals()", "'globals'"),
    ("x = eval('1')", "'eval'"),
    ("x = exec", "'exec'"),
    ("x = open", "'open'"),
    ("x = __import__('os')", "'__import__'"),
    ("x = _private", "'_private'"),
    ("x = '__class__'", "'__'"),
    ("def f():\n    global x", "global"),
    ("class A:\n    pass", "class definition"),
    ("def f():\n    yield 1", "yield"),
    ("o.name = 1", "assigning attribute"),
    ("x = g.gi_frame", "'gi_frame'"),
    ("x = '{0}'.format(1)", "'format'"),
    ("x = type(1)", "'type'"),
    ("match 1:\n    case int(__class__=c):\n        pass", "'__class__'"),
    ("match 1:\n    case int(real=r):\n        pass", None),
    ("import math\ndef answer(scene):\n    return math.floor(2.5)", None),
])
def test_ast_gate(code: str, message: str | None) -> None:
    if message is None:
        check_program(code)
        return
    with pytest.raises(GateError, match=message.replace("(", r"\(")):
        check_program(code)


def test_scene_api_is_read_only_and_uses_the_shared_geometry(clevr: list[SceneGraph]) -> None:
    from scenesynth.graph import spatial_relation

    g = clevr[0]
    scene = Scene(scene_payload(g))
    a, b = scene.objects[0], scene.objects[1]
    assert scene.left_of(a, b) == spatial_relation(g.objects[0], g.objects[1], "left of",
                                                   g.image, g.camera)
    assert set(scene.direction(a, b)) == {
        p for p in ("left of", "right of", "above", "below", "in front of", "behind")
        if spatial_relation(g.objects[0], g.objects[1], p, g.image, g.camera) is True}
    assert a.attribute("color") == g.objects[0].attribute_values()[0]
    with pytest.raises(AttributeError):
        a.name = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        scene.objects = ()  # type: ignore[misc]
    assert isinstance(scene.objects, tuple) and isinstance(a.attributes, tuple)


def test_resource_limits_with_the_gate_on(clevr: list[SceneGraph]) -> None:
    scene = scene_payload(clevr[0])
    cases = [
        ("def answer(s):\n    n = 0\n    while True:\n        n += 1\n", {"cpu_time"}),
        ("def answer(s):\n    return len([0] * 2**31)\n", {"memory"}),
        ("def answer(s):\n    def f(n):\n        return f(n + 1)\n    return f(0)\n",
         {"recursion"}),
        ("def answer(s):\n    for i in range(100):\n        print('x' * 1000)\n",
         {"output_size"}),
        ("def answer(s):\n    return ['x' * 100] * 1000\n", {"result_size"}),
        ("def answer(s):\n    return float('nan')\n", {"result_type"}),
        ("def answer(s):\n    return s.objects[0]\n", {"result_type"}),
        ("def answer(s):\n    return 10**5000\n", {"result_size", "error"}),
        ("x = 1\n", {"no_answer"}),
        ("def answer(s):\n    return (\n", {"syntax"}),
    ]
    limits = SandboxLimits(cpu_s=0.2, wall_s=3.0, memory_mb=256, output_chars=10_000,
                           result_bytes=16_384)
    with SandboxPool(SandboxConfig(workers=2, limits=limits)) as pool:
        results = pool.run_many([Job(code, scene) for code, _ in cases])
        for (code, reasons), r in zip(cases, results, strict=True):
            assert not r.ok and r.reason in reasons, (code, r)
        assert results[0].worker_replaced and results[1].worker_replaced
        assert pool.run(GOOD, scene).value == good_value(clevr[0])


def test_wall_time_limit_and_no_host_environment(clevr: list[SceneGraph],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret")
    config = SandboxConfig(workers=1, ast_gate=False, restricted_builtins=False,
                           limits=SandboxLimits(cpu_s=0.5, wall_s=1.0))
    scene = scene_payload(clevr[0])
    with SandboxPool(config) as pool:
        env = pool.run("import os\ndef answer(s):\n    return sorted(os.environ)\n", scene)
        assert env.ok and "OPENAI_API_KEY" not in env.value
        slept = pool.run("import time\ndef answer(s):\n    time.sleep(30)\n", scene)
        assert slept.reason == "wall_time" and slept.worker_replaced
        assert pool.run(GOOD, scene).ok
