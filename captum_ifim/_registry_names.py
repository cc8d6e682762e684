"""The names a registry takes: plain names a run folder can use in its file names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_plain_name(what: str, name: Any) -> None:
    """Raise ``ValueError`` unless ``name`` is a plain name: letters, digits and ``. _ + -``,
    starting with a letter or digit, without ``__`` (it separates the parts of a run
    folder's keys), so that no name writes outside a run folder (``../x``, ``/x``).

    Args:
        what: The name's role in the message, e.g. ``"a dataset label"``.
    """
    if not isinstance(name, str) or not _PLAIN_NAME.match(name) or "__" in name:
        raise ValueError(
            f"expected {what} of letters, digits and . _ + - starting with a letter or digit, "
            f"without '__' (it names files of a run folder), got {name!r}"
        )


def check_new_name(kind: str, name: Any, registry: Mapping[str, Any]) -> None:
    """Raise unless ``name`` is a plain name (letters, digits, ``. _ + -``, starting with a
    letter or digit, no ``__``) not yet in ``registry``.

    Raises:
        TypeError: Not a string.
        ValueError: Not a plain name, or taken (the message names the registry's kind).
    """
    if not isinstance(name, str):
        raise TypeError(f"expected a {kind} name to be a string, got {type(name).__name__}")
    check_plain_name(f"a {kind} name", name)
    if name in registry:
        raise ValueError(f"expected a new {kind} name, got {name!r}, which is registered")
