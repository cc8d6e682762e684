"""The lock a run holds on its folder for its whole duration, and who holds it.

Two processes started on one output folder (a SLURM array launched without ``--shard``)
would train the same models and compute the same cells twice. A run takes an exclusive
``filelock`` on ``<folder>/.lock`` (an OS lock: released by the kernel when the process dies,
even by SIGKILL) and writes ``lock-holder.json`` (pid, host, start time, command) beside it;
a second run refuses at once with a message naming the holder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from filelock import FileLock, Timeout

from comparisons._atomic import write_json
from comparisons._exit_codes import RunFolderLockedError
from comparisons.run_folder._layout import RunLayout


def lock_holder(layout: RunLayout) -> dict[str, Any] | None:
    """What ``lock-holder.json`` says about the holder, or ``None`` (missing, unreadable)."""
    try:
        holder = json.loads(layout.lock_holder.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict[str, Any] | None) -> str:
    """``pid 123 on host h since <time>``, or that the holder is unknown."""
    if holder is None:
        return "a process that left no lock-holder.json"
    return (
        f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since "
        f"{holder.get('started', '?')}"
    )


def _locked_error(layout: RunLayout) -> RunFolderLockedError:
    return RunFolderLockedError(
        f"run folder {layout.root} is locked by another run: "
        f"{describe_holder(lock_holder(layout))}; wait for it to finish, or run into another "
        "--output (or give each job its own --shard i/n)"
    )


def check_not_locked(layout: RunLayout) -> None:
    """Fail early, before a run reads its data, when another run holds ``layout``'s lock.

    Raises:
        RunFolderLockedError: It is held (the message names the holder).
    """
    if is_locked(layout):
        raise _locked_error(layout)


class RunLock:
    """An exclusive lock on a run folder, held from :meth:`acquire` to :meth:`release`.

    >>> import tempfile
    >>> from pathlib import Path
    >>> layout = RunLayout(Path(tempfile.mkdtemp()))
    >>> with RunLock(layout):
    ...     layout.lock_holder.is_file()
    True
    """

    def __init__(self, layout: RunLayout) -> None:
        self.layout = layout
        self._lock = FileLock(str(layout.lock), thread_local=False)

    def acquire(self) -> None:
        """Take the lock without waiting, and record the holder.

        Raises:
            RunFolderLockedError: Another process holds it (the message names it).
            OSError: The folder cannot be created or written (read-only, disk full).
        """
        self.layout.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise _locked_error(self.layout) from None
        try:
            write_json(
                self.layout.lock_holder,
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": datetime.now(UTC).isoformat(timespec="seconds"),
                    "command": sys.argv,
                },
            )
        except BaseException:
            self._lock.release()
            raise

    def release(self) -> None:
        """Drop the holder record, then the lock."""
        if self._lock.is_locked:
            try:
                self.layout.lock_holder.unlink(missing_ok=True)
            finally:
                self._lock.release()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def is_locked(layout: RunLayout) -> bool:
    """Whether a process holds the lock of an existing run folder (nothing is created)."""
    if not layout.lock.is_file():
        return False
    probe = FileLock(str(layout.lock), thread_local=False)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:  # cannot tell (an unreadable lock file): a run would say why
        return False
    probe.release()
    return False
