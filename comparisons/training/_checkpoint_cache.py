"""Checkpoint files: a state dict (``torch.save``) and its JSON metadata, written atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointFiles:
    """The two files of one cached training run.

    Attributes:
        weights: ``<stem>.pt``, the state dict.
        metadata: ``<stem>.json``: the cache identity, key, history, metrics and the
            weights file's SHA-256. Written last, so its presence marks a complete entry.
    """

    weights: Path
    metadata: Path

    @classmethod
    def at(cls, folder: str | os.PathLike[str], stem: str) -> CheckpointFiles:
        folder = Path(folder)
        return cls(folder / f"{stem}.pt", folder / f"{stem}.json")


def save_checkpoint(
    files: CheckpointFiles, state_dict: Mapping[str, Tensor], metadata: Mapping[str, Any]
) -> None:
    """Write the state dict, then the metadata (with the weights' SHA-256), each atomically.

    Each file goes to a temporary file in the same folder and is moved into place with
    ``os.replace``, so a killed run leaves either the old entry or the new one.
    """
    files.weights.parent.mkdir(parents=True, exist_ok=True)
    cpu_state = {name: value.detach().cpu() for name, value in state_dict.items()}
    _atomic_write(files.weights, lambda handle: torch.save(cpu_state, handle), binary=True)
    record = {**metadata, "weights_sha256": _sha256(files.weights)}
    text = json.dumps(record, indent=1, sort_keys=True)
    _atomic_write(files.metadata, lambda handle: handle.write(text), binary=False)


def load_checkpoint(
    files: CheckpointFiles, key: str
) -> tuple[dict[str, Tensor], dict[str, Any]] | None:
    """The state dict and metadata stored under ``key``, or ``None``.

    ``None`` when there is no entry; also, with a warning, when the entry cannot be read
    (truncated or corrupt files, a weights file that does not match its metadata, another
    key): the caller retrains and overwrites it.
    """
    if not files.metadata.exists():
        return None
    try:
        metadata = json.loads(files.metadata.read_text())
        if metadata.get("key") != key:
            raise ValueError(f"expected key {key}, got {metadata.get('key')!r}")
        if _sha256(files.weights) != metadata.get("weights_sha256"):
            raise ValueError("expected the weights file the metadata describes, got another")
        state = torch.load(files.weights, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
        ):
            raise ValueError(f"expected a state dict, got {type(state).__name__}")
    except Exception as error:  # any unreadable entry is retrained, never fatal
        message = f"unreadable checkpoint {files.weights.name} ({error}); retraining"
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return None
    return state, metadata


def _atomic_write(path: Path, write: Callable[[IO[Any]], Any], *, binary: bool) -> None:
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb" if binary else "w") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
