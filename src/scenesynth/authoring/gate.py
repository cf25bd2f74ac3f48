"""The language layers of the sandbox: an AST gate and restricted builtins.

The gate rejects a program before it runs when it

* imports anything outside :data:`ALLOWED_MODULES` (``import os``, ``from ctypes import *``);
* names or reads an attribute that starts with ``_`` (``__class__``, ``__mro__``,
  ``__subclasses__``, ``__globals__``, ``__builtins__``, ``_exit``), or one of the
  introspection attributes that reach frames and code (``gi_frame``, ``f_globals``,
  ``tb_frame``, ``co_code``, ``format`` / ``format_map``, which read attributes by name);
* uses a string constant containing ``__`` (so no attribute can be reached by a string);
* calls or names :data:`FORBIDDEN_NAMES` (``getattr``, ``globals``, ``exec``, ``eval``, ``open``,
  ``__import__``, ``type``, ``vars`` ...);
* assigns or deletes attributes, declares ``global``/``nonlocal``, defines classes, or uses
  ``async``/``await``/``yield`` (frames of generators are one more way to the interpreter).

The program then runs with :func:`safe_builtins` as its only builtins: pure functions and
constructors, a ``print`` whose output is capped, and an ``__import__`` that hands out fresh
read-only copies of the allowed modules (so a program cannot patch ``math`` for the next one).

These layers alone are not a security boundary (Python has many escape routes); the worker's
operating-system layers (:mod:`scenesynth.authoring.worker`) contain a program that gets past
them, and the tests disable the gate to show it.
"""

from __future__ import annotations

import ast
import builtins
import collections
import hashlib
import itertools
import math
import statistics
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

ALLOWED_MODULES: dict[str, Any] = {
    "math": math, "statistics": statistics, "itertools": itertools, "collections": collections,
}

FORBIDDEN_NAMES = frozenset({
    "getattr", "setattr", "delattr", "hasattr", "globals", "locals", "vars", "dir", "exec",
    "eval", "compile", "open", "input", "breakpoint", "help", "memoryview", "type", "object",
    "super", "classmethod", "staticmethod", "property", "exit", "quit", "copyright", "credits",
    "license", "id", "bytearray", "__import__", "__builtins__", "__loader__", "__spec__",
})

# Attributes without a leading underscore that still reach frames, code objects or the
# interpreter, or read attributes by name.
FORBIDDEN_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame",
    "ag_code", "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame",
    "tb_next", "co_code", "co_consts", "func_globals", "format", "format_map", "mro",
    "with_traceback",
})

_SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "frozenset",
    "int", "isinstance", "len", "list", "map", "max", "min", "next", "pow", "range", "reversed",
    "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip", "iter", "chr", "ord", "hash",
    "Exception", "ValueError", "KeyError", "IndexError", "TypeError", "ZeroDivisionError",
    "StopIteration", "ArithmeticError", "LookupError", "AttributeError", "RuntimeError",
    "True", "False", "None",
)

_FORBIDDEN_NODES: tuple[tuple[type[ast.AST], str], ...] = (
    (ast.Global, "global statement"),
    (ast.Nonlocal, "nonlocal statement"),
    (ast.ClassDef, "class definition"),
    (ast.AsyncFunctionDef, "async function"),
    (ast.Await, "await"),
    (ast.AsyncFor, "async for"),
    (ast.AsyncWith, "async with"),
    (ast.Yield, "yield"),
    (ast.YieldFrom, "yield from"),
)


def code_key(code: str) -> str:
    """The key under which the pool and its workers know a program's source."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class GateError(ValueError):
    """The program uses a construct the gate forbids (the message names it and its line)."""


def check_program(source: str, max_chars: int = 20_000) -> ast.Module:
    """Parse ``source`` and apply the gate; returns the tree or raises GateError /
    SyntaxError."""
    if len(source) > max_chars:
        raise GateError(f"program is {len(source)} characters (limit {max_chars})")
    tree = ast.parse(source, mode="exec")
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        for kind, label in _FORBIDDEN_NODES:
            if isinstance(node, kind):
                raise GateError(f"line {line}: {label} is not allowed")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in ALLOWED_MODULES:
                    raise GateError(f"line {line}: import of {alias.name!r} is not allowed")
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module not in ALLOWED_MODULES:
                raise GateError(f"line {line}: import from {node.module!r} is not allowed")
            for alias in node.names:
                _check_name(alias.name, line)
        elif isinstance(node, ast.Name):
            _check_name(node.id, line)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRIBUTES:
                raise GateError(f"line {line}: attribute {node.attr!r} is not allowed")
            if isinstance(node.ctx, ast.Store | ast.Del):
                raise GateError(f"line {line}: assigning attribute {node.attr!r} is not allowed")
        elif isinstance(node, ast.MatchClass):  # `case C(attr=x)` reads attributes too
            for attr in node.kwd_attrs:
                if attr.startswith("_") or attr in FORBIDDEN_ATTRIBUTES:
                    raise GateError(f"line {line}: attribute {attr!r} is not allowed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            if "__" in text:
                raise GateError(f"line {line}: string constants may not contain '__'")
        else:
            bound = _bound_name(node)
            if bound:
                _check_name(bound, line)
    return tree


def _bound_name(node: ast.AST) -> str | None:
    """The name a node binds or passes by keyword (argument, keyword, function, alias,
    exception handler), if any."""
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.keyword | ast.ExceptHandler):
        return node.arg if isinstance(node, ast.keyword) else node.name
    if isinstance(node, ast.FunctionDef):
        return node.name
    if isinstance(node, ast.alias):
        return node.asname
    if isinstance(node, ast.MatchAs | ast.MatchStar):
        return node.name
    if isinstance(node, ast.MatchMapping):
        return node.rest
    return None


def _check_name(name: str, line: int) -> None:
    if name.startswith("_"):
        raise GateError(f"line {line}: name {name!r} is not allowed")
    if name in FORBIDDEN_NAMES:
        raise GateError(f"line {line}: {name!r} is not allowed")


class OutputLimitExceeded(Exception):
    """The program printed more than the sandbox's output limit."""


class CappedOutput:
    """What ``print`` writes, kept up to ``limit`` characters; beyond that it raises."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def print(self, *args: Any, sep: str = " ", end: str = "\n", **_: Any) -> None:
        text = str(sep).join(str(a) for a in args) + str(end)
        self.size += len(text)
        if self.size > self.limit:
            raise OutputLimitExceeded(f"printed more than {self.limit} characters")
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


def _module_copy(module: Any) -> SimpleNamespace:
    return SimpleNamespace(**{k: v for k, v in vars(module).items() if not k.startswith("_")})


def _restricted_import(name: str, globals: Any = None, locals: Any = None,
                       fromlist: Any = (), level: int = 0) -> Any:
    if level or name not in ALLOWED_MODULES:
        raise ImportError(f"import of {name!r} is not allowed")
    return _module_copy(ALLOWED_MODULES[name])


def safe_builtins(output: CappedOutput) -> dict[str, Any]:
    """A fresh builtins mapping for one program run."""
    table: dict[str, Any] = {n: getattr(builtins, n) for n in _SAFE_BUILTIN_NAMES}
    table["print"] = output.print
    table["__import__"] = _restricted_import
    return table


def full_builtins(output: CappedOutput) -> dict[str, Any]:
    """The interpreter's own builtins (tests only: shows the OS layers hold on their own)."""
    table = dict(vars(builtins))
    table["print"] = output.print
    return table


BuiltinsFactory = Callable[[CappedOutput], dict[str, Any]]
