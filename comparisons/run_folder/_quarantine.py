"""Unreadable files of a run folder, moved aside: never deleted, never blocking a resume.

A truncated ``cells/<key>.json`` (a filesystem crash, a copy that stopped) would otherwise
look like a finished cell that cannot be read. It is moved to
``quarantine/cells/<key>.json.<time>`` with a ``.reason.json`` beside it, so the cell is not
done any more and the next run recomputes it; the report names what it skipped.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from comparisons._atomic import write_json
from comparisons.run_folder._layout import RunLayout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuarantinedFile:
    """A file moved aside, relative to the run folder.

    Attributes:
        original: Where it was, e.g. ``"cells/<key>.json"``.
        moved_to: Where it is now, e.g. ``"quarantine/cells/<key>.json.<time>"``.
        reason: Why it could not be used.
        time: When it was moved (UTC, ISO 8601).
    """

    original: str
    moved_to: str
    reason: str
    time: str


def quarantine(
    layout: RunLayout, path: Path, reason: str, *, required: bool = False
) -> QuarantinedFile | None:
    """Move ``path`` (a file inside ``layout.root``) into the quarantine, with its reason.

    Args:
        required: The caller will write over ``path`` next (a run about to recompute a
            cell): a file that cannot be moved aside raises instead of staying.

    Returns:
        The record, or ``None`` when the file was already gone (another process moved it)
        or, unless ``required``, could not be moved (a read-only folder: logged, the file
        stays where it is).

    Raises:
        OSError: ``required`` and the file could not be moved (the message names the
            quarantine folder; nothing was changed).
    """
    now = datetime.now(UTC)
    target = layout.quarantined(path, now.strftime("%Y%m%dT%H%M%S.%fZ"))
    record = QuarantinedFile(
        original=path.relative_to(layout.root).as_posix(),
        moved_to=target.relative_to(layout.root).as_posix(),
        reason=reason,
        time=now.isoformat(timespec="seconds"),
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except FileNotFoundError:
        return None
    except OSError as error:
        if required:
            raise OSError(
                error.errno,
                f"cannot move the unreadable {record.original} aside into "
                f"{layout.quarantine_dir} ({error.strerror}), so it is kept as it is and "
                f"nothing was overwritten: make {layout.quarantine_dir} a writable folder and "
                "run again",
                str(layout.quarantine_dir),
            ) from error
        logger.error("cannot move the unreadable %s aside (%s): %s", path, error, reason)
        return None
    try:
        write_json(layout.quarantine_reason(target), asdict(record))
    except OSError as error:  # the file is moved: its reason is also in the log
        logger.error("cannot write the reason beside %s: %s", target, error)
    logger.warning("moved the unreadable %s to %s: %s", record.original, record.moved_to, reason)
    return record


def quarantined_files(layout: RunLayout) -> list[QuarantinedFile]:
    """Every file in the quarantine, oldest first (from the ``.reason.json`` records)."""
    records: list[QuarantinedFile] = []
    if not layout.quarantine_dir.is_dir():
        return records
    for path in sorted(layout.quarantine_dir.rglob("*.reason.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            values = {f.name: str(data[f.name]) for f in fields(QuarantinedFile)}
            records.append(QuarantinedFile(**values))
        except (OSError, ValueError, KeyError, TypeError):
            moved = path.with_name(path.name.removesuffix(".reason.json"))
            relative = moved.relative_to(layout.root).as_posix()
            records.append(QuarantinedFile("?", relative, "its reason file is unreadable", ""))
    return sorted(records, key=lambda r: (r.time, r.moved_to))
