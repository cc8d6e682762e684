"""Checkpoint files: a state dict (``torch.save``) and its JSON metadata, written atomically,
and a lock per entry so that processes sharing a cache train each model once."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from torch import Tensor

from comparisons._atomic import write_text, write_torch
from comparisons._exit_codes import CacheLockTimeoutError

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

    @property
    def lock(self) -> Path:
        """``<stem>.lock``: held while the entry is looked up and, if missing, trained."""
        return self.metadata.with_suffix(".lock")

    @property
    def holder(self) -> Path:
        """``<stem>.holder.json``: pid, host and start of the process holding the lock."""
        return self.metadata.with_suffix(".holder.json")


#: How long a run waits for another process training the same model (seconds); the
#: environment variable ``COMPARISONS_CACHE_WAIT_SECONDS`` overrides it.
CACHE_WAIT_SECONDS = 4 * 3600.0
_REPORT_EVERY_SECONDS = 60.0


def _wait_limit() -> float:
    text = os.environ.get("COMPARISONS_CACHE_WAIT_SECONDS")
    if text is None:
        return CACHE_WAIT_SECONDS
    try:
        return max(0.0, float(text))
    except ValueError:
        raise ValueError(
            f"expected COMPARISONS_CACHE_WAIT_SECONDS to be a number of seconds, got {text!r}"
        ) from None


def _describe_holder(files: CheckpointFiles) -> str:
    """Who holds the entry's lock: pid, host, start and, on this host, the process state."""
    try:
        holder = json.loads(files.holder.read_text(encoding="utf-8"))
        pid, host = int(holder["pid"]), str(holder["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that left no holder record"
    text = f"pid {pid} on host {host} (since {holder.get('started', '?')})"
    if host == socket.gethostname():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("T", "t"):
                text += ", which is STOPPED (SIGSTOP: `kill -CONT` it or kill it)"
        except (OSError, IndexError):
            pass
    return text


@contextlib.contextmanager
def entry_lock(files: CheckpointFiles) -> Iterator[bool]:
    """Hold the lock of one cache entry: a second process waits here until the first has
    trained and stored the model, then finds it in the cache. The wait is bounded
    (:data:`CACHE_WAIT_SECONDS`) and logged every minute, naming the holder.

    Yields:
        Whether the lock is held; ``False`` when the cache folder cannot be written (a
        read-only cache is read without a lock, and its entries are not written).

    Raises:
        CacheLockTimeoutError: The holder kept the lock past the bound (the message names
            it and says how to break a stale lock).
    """
    lock = FileLock(str(files.lock), thread_local=False)
    held = False
    try:
        files.lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            _wait_for_lock(lock, files)
        held = True
        _write_holder(files)
    except OSError as error:
        logger.debug("no lock on the cache entry %s (%s)", files.lock, error)
    try:
        yield held
    finally:
        if held:
            files.holder.unlink(missing_ok=True)
            lock.release()


def _wait_for_lock(lock: FileLock, files: CheckpointFiles) -> None:
    limit = _wait_limit()
    waited = 0.0
    logger.info(
        "waiting for another process to train %s (it holds %s: %s)",
        files.weights.stem,
        files.lock,
        _describe_holder(files),
    )
    while True:
        step = min(_REPORT_EVERY_SECONDS, max(limit - waited, 0.0))
        try:
            lock.acquire(timeout=step)
            return
        except Timeout:
            waited += step
        if waited >= limit:
            raise CacheLockTimeoutError(
                f"waited {waited:.0f} s for {_describe_holder(files)} to train "
                f"{files.weights.stem} (lock {files.lock}): if that process is not training "
                f"any more, stop it, or delete {files.lock} and {files.holder.name}; "
                "COMPARISONS_CACHE_WAIT_SECONDS sets how long to wait"
            )
        logger.info(
            "still waiting (%.0f s of %.0f s) for %s to train %s",
            waited,
            limit,
            _describe_holder(files),
            files.weights.stem,
        )


def _write_holder(files: CheckpointFiles) -> None:
    try:
        write_text(
            files.holder,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            ),
        )
    except OSError as error:  # the lock still works; only the holder's name is missing
        logger.debug("no holder record for %s (%s)", files.lock, error)


def save_checkpoint(
    files: CheckpointFiles, state_dict: Mapping[str, Tensor], metadata: Mapping[str, Any]
) -> None:
    """Write the state dict, then the metadata (with the weights' SHA-256), each atomically.

    Each file goes to a temporary file in the same folder and is moved into place with
    ``os.replace``, so a killed run leaves either the old entry or the new one.

    Raises:
        OSError: The cache cannot be written (read-only, full); no entry is left half.
    """
    files.weights.parent.mkdir(parents=True, exist_ok=True)
    cpu_state = {name: value.detach().cpu() for name, value in state_dict.items()}
    write_torch(files.weights, cpu_state)
    record = {**metadata, "weights_sha256": _sha256(files.weights)}
    write_text(files.metadata, json.dumps(record, indent=1, sort_keys=True))


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
