"""OS-level failures (disk full, permission denied, read-only output) as one line on stderr and
exit code 7, with the traceback kept in a log file: ``scenesynth-error.log`` in the output
folder, or a temporary file when that folder cannot be written (a full disk, for one)."""

from __future__ import annotations

import errno
import functools
import os
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from scenesynth.ioutil import atomic_write
from scenesynth.pipeline.runner import EXIT_OS_ERROR

LOG_NAME = "scenesynth-error.log"
_F = TypeVar("_F", bound=Callable[..., Any])


def describe_os_error(exc: OSError) -> str:
    """``No space left on device (ENOSPC) writing 'out/shards'``: what, which errno, where."""
    code = errno.errorcode.get(exc.errno or 0, "")
    what = exc.strerror or str(exc) or type(exc).__name__
    text = f"{what} ({code})" if code else what
    if exc.filename is not None:
        # atomic_write's temporary names (.NAME.xyz.tmp) mean nothing to a user: name the folder.
        name = Path(os.fsdecode(exc.filename))
        shown = name.parent if name.name.startswith(".") and name.suffix == ".tmp" else name
        text += f": {str(shown)!r}"
    return text


def write_error_log(out: Path | None, exc: BaseException) -> Path:
    """Write the traceback to ``out``/scenesynth-error.log (atomically, so a full disk leaves
    no half-written log), else to a new temporary file; returns where it went."""
    text = "".join(traceback.format_exception(exc))
    if out is not None:
        try:
            with atomic_write(out / LOG_NAME) as fh:
                fh.write(text)
            return out / LOG_NAME
        except OSError:
            pass
    fd, name = tempfile.mkstemp(prefix="scenesynth-error-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(name)


def _output_folder(kwargs: dict[str, Any]) -> Path | None:
    out = kwargs.get("out")
    if out is None:
        return None
    path = Path(out)
    # convert's --out is a file; the other verbs' is a folder.
    return path.parent if path.suffix and not path.is_dir() else path


def guard_os_errors(command: _F) -> _F:
    """Wrap a CLI command: an :class:`OSError` escaping it becomes one line and exit code 7."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OSError as exc:
            folder = _output_folder(kwargs)
            log = write_error_log(folder if folder is not None and folder.is_dir() else None, exc)
            Console(stderr=True, highlight=False).print(
                f"[red]error:[/red] {escape(describe_os_error(exc))} (traceback in {log})",
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_OS_ERROR) from None

    return wrapper  # type: ignore[return-value]
