"""The run folder's copy of a config: ``config.toml`` (for people) and ``config.json`` (the
fingerprint and the TOML layout, for the harness), written and read back here only."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path
from typing import Any

from comparisons._atomic import write_json, write_text
from comparisons.config._harness_config import HarnessConfig
from comparisons.config._parse import parse_config
from comparisons.config._toml import dumps

logger = logging.getLogger(__name__)


def write_stored_config(config: HarnessConfig, toml_path: Path, json_path: Path) -> None:
    """Write ``config`` as ``config.toml`` and ``config.json`` (atomically, each)."""
    layout = config.to_dict()
    write_text(toml_path, dumps(layout))
    write_json(json_path, {"fingerprint": config.fingerprint(), "config": layout})


def _stored_record(json_path: Path) -> dict[str, Any]:
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"expected JSON in {json_path}, got an unreadable file: {error}"
        ) from error
    if not isinstance(record, dict) or not {"config", "fingerprint"} <= set(record):
        raise ValueError(f"expected 'config' and 'fingerprint' in {json_path}, got another JSON")
    return record


def stored_fingerprint(json_path: Path) -> str:
    """The fingerprint recorded in ``config.json``.

    Raises:
        ValueError: The file is unreadable or not a stored config (the message names it).
    """
    return str(_stored_record(json_path)["fingerprint"])


def read_stored_config(json_path: Path) -> HarnessConfig:
    """The config recorded in ``config.json``, checked as when it was loaded.

    Raises:
        ValueError, TypeError: The file is unreadable, or the config is not valid for this
            version of the harness (the message names the file).
    """
    try:
        return parse_config(_stored_record(json_path)["config"])
    except (TypeError, ValueError) as error:
        raise type(error)(f"{json_path}: {error}") from error


def read_config_for_report(toml_path: Path) -> HarnessConfig | None:
    """The run folder's ``config.toml`` as a :class:`HarnessConfig`, or ``None`` (logged)
    where it cannot be read, e.g. a run folder of an older version naming a method this
    version lacks: the report then lists what the rows hold."""
    if not toml_path.is_file():
        return None
    try:
        return parse_config(tomllib.loads(toml_path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TypeError, ValueError) as error:
        logger.warning("the report lists the run from its rows: %s: %s", toml_path, error)
        return None
