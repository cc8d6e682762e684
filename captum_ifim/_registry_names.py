"""The names a registry takes: plain names a run folder can use in its file names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_new_name(kind: str, name: Any, registry: Mapping[str, Any]) -> None:
    """Raise unless ``name`` is a plain name (letters, digits, ``. _ + -``, starting with a
    letter or digit, no ``__``) not yet in ``registry``.

    Raises:
        TypeError: Not a string.
        ValueError: Not a plain name, or taken (the message names the registry's kind).
    """
    if not isinstance(name, str):
        raise TypeError(f"expected a {kind} name to be a string, got {type(name).__name__}")
    if not _PLAIN_NAME.match(name) or "__" in name:
        raise ValueError(
            f"expected a {kind} name of letters, digits and . _ + - starting with a letter or "
            f"digit, without '__' (it names files of a run folder), got {name!r}"
        )
    if name in registry:
        raise ValueError(f"expected a new {kind} name, got {name!r}, which is registered")
