"""Small file helpers shared by every stage: atomic writes, so a killed run never leaves a
half-written file under its final name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", durable: bool = True,
                 buffering: int = -1) -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    ``durable=False`` skips the fsync: the file still appears whole or not at all when the
    process is killed, only an operating-system crash can lose it (for caches, whose loss
    costs a repeated request, at thousands of writes per second). ``buffering`` is
    ``open``'s (a large buffer for files written in many small pieces)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    # mkstemp creates 0600; datasets are meant to be shared, so follow the umask like open().
    os.chmod(tmp, 0o666 & ~_current_umask())
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, buffering, encoding=encoding) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.filename is None:  # write/fsync failures (a full disk) name no file: name it
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
