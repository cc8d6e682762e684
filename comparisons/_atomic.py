"""Atomic file writes: a killed run leaves either the old file or the new one, never half.

A write goes to a temporary file in the target's folder, is flushed and ``fsync``-ed, then
moved over the target with ``os.replace``. A full disk (``ENOSPC``) or a read-only folder
raises the ``OSError`` before the target is touched, and the temporary file is removed.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def _default_mode() -> int:
    """The mode ``open`` would give a new file (mkstemp's is 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:  # a read-only folder: name the file being written, not the temp
        raise OSError(error.errno, error.strerror, str(path)) from error
    try:
        os.chmod(temporary, _default_mode())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        if error.filename in (None, temporary):  # name the target, not the temporary file
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    _write_atomically(path, lambda stream: stream.write(data))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode())


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON atomically: NaN as ``null``, infinities as Python's
    ``Infinity`` (read back by ``json``, pandas and most JSON5 readers)."""
    write_text(path, json.dumps(_nan_to_none(data), indent=1) + "\n")


def write_torch(path: Path, data: Any) -> None:
    """``torch.save`` ``data`` to ``path`` atomically.

    Serialised in memory first, so a failed write is the ``OSError`` itself (``torch.save``
    into a file turns it into a ``RuntimeError`` without the file's name).
    """
    buffer = io.BytesIO()
    torch.save(data, buffer)
    write_bytes(path, buffer.getvalue())


def _nan_to_none(data: Any) -> Any:
    if isinstance(data, float) and data != data:
        return None
    if isinstance(data, dict):
        return {key: _nan_to_none(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_nan_to_none(value) for value in data]
    return data
