"""The command line's exit codes, and the errors of a run that choose them.

Every failure of ``python -m comparisons`` is one logged line and one of these codes, so a
script (a SLURM array, a CI job) can tell a bad config from a full disk or a busy folder:

====  ========================================================================
0     done
1     some cells failed (``failed/<cell>.txt``); the next run retries them
2     bad config or usage (a typo, a bad value, a missing file it names)
3     the device is not available here (``cuda`` without CUDA, ``cuda:3`` of 2)
4     a file could not be written: a read-only folder, a full disk, an I/O error
5     the run folder is locked by another run, or a checkpoint-cache entry stayed locked past
      the wait's bound (the message names the holder)
6     an unexpected error (a bug): the traceback is in the log
130   interrupted (Ctrl-C); the finished cells are kept
====  ========================================================================
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from enum import IntEnum

logger = logging.getLogger("comparisons")


class ExitCode(IntEnum):
    """What ``python -m comparisons`` returns (see the module docstring)."""

    OK = 0
    CELLS_FAILED = 1
    BAD_CONFIG = 2
    DEVICE_UNAVAILABLE = 3
    NOT_WRITABLE = 4
    LOCKED = 5
    UNEXPECTED = 6
    INTERRUPTED = 130


class DeviceUnavailableError(RuntimeError):
    """The config's device is a valid name, but this machine does not have it."""


class RunFolderLockedError(RuntimeError):
    """Another process holds the run folder's lock."""


class CacheLockTimeoutError(RuntimeError):
    """Another process held a checkpoint-cache entry's lock past the wait's bound."""


#: ``errno`` values of a full disk or quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is an ``OSError`` of a full disk (``ENOSPC``) or quota (``EDQUOT``)."""
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def is_write_error(error: BaseException) -> bool:
    """Whether ``error`` is an ``OSError`` of writing a file (not a path that is missing)."""
    missing = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
    return isinstance(error, OSError) and not isinstance(error, missing)


def exit_code_of(error: BaseException) -> ExitCode:
    """The exit code of an error that ended a command."""
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, (RunFolderLockedError, CacheLockTimeoutError)):
        return ExitCode.LOCKED
    if isinstance(error, DeviceUnavailableError):
        return ExitCode.DEVICE_UNAVAILABLE
    if isinstance(error, (ValueError, TypeError, FileNotFoundError, NotADirectoryError)):
        return ExitCode.BAD_CONFIG
    if isinstance(error, ImportError) and str(error).startswith("[[models]]"):
        return ExitCode.BAD_CONFIG  # a config's factory that cannot be imported (it names it)
    if is_write_error(error):
        return ExitCode.NOT_WRITABLE
    return ExitCode.UNEXPECTED


def one_line(error: BaseException) -> str:
    """The cause of ``error`` in one line, naming the file of an ``OSError``."""
    if isinstance(error, OSError) and error.strerror:
        where = f" {error.filename}" if error.filename else ""
        if is_disk_full(error):
            return (
                f"disk full while writing{where} ({error.strerror}): free some space and run "
                "the same command again (finished cells are kept)"
            )
        if is_write_error(error):
            return f"cannot write{where}: {error.strerror} (is the folder writable?)"
        return f"{error.strerror}:{where}"
    return " ".join(str(error).split()) or type(error).__name__


def run_command(action: Callable[[], int], *, verbose: bool = False) -> int:
    """Run one command of ``python -m comparisons`` with its logging: every failure is one
    logged line (a traceback only where unexpected, or with ``verbose``) and its exit code."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.captureWarnings(True)  # the metrics' warnings (F1 = 0, constant maps) in the log
    try:
        return action()
    except (Exception, KeyboardInterrupt) as error:
        code = exit_code_of(error)
        if code is ExitCode.UNEXPECTED:
            logger.error("unexpected %s: %s", type(error).__name__, one_line(error), exc_info=True)
        elif code is ExitCode.INTERRUPTED:
            logger.error("interrupted: the finished cells are kept; run the same command to resume")
        else:
            logger.error("%s", one_line(error), exc_info=verbose)
        return code
    finally:
        logging.captureWarnings(False)
