"""What ``[[methods.custom]]`` and ``[[metrics.custom]]`` entries share: a plain name of
their own, known keys, and one source (a class or factory path) given as a string."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from captum_ifim._registry_names import check_plain_name


def checked_custom_entry(
    table: dict[str, Any],
    section: str,
    kind: str,
    builtin: Sequence[str],
    keys: Sequence[str],
    sources: Sequence[str],
    sources_text: str,
) -> tuple[str, str, str, str]:
    """``(name, where, source key, source string)`` of one custom entry, checked.

    Args:
        table: The entry.
        section: ``"methods.custom"`` or ``"metrics.custom"``.
        kind: ``"method"`` or ``"metric"`` (for the message on a built-in's name).
        builtin: The built-in names it must not take.
        keys: Every key the entry may have.
        sources: The keys that say where it comes from; exactly one must be given.
        sources_text: How the message names them (``"one of class or factory"``).

    Raises:
        ValueError: No name, a name not plain or a built-in's, an unknown key, not exactly
            one source.
        TypeError: A source that is not a non-empty string.
    """
    name = table.get("name")
    if name is None:
        raise ValueError(f"expected a name in [[{section}]], got the keys {sorted(table)}")
    check_plain_name(f"a [[{section}]] name", name)
    where = f"[[{section}]] {name!r}"
    if name in builtin:
        raise ValueError(
            f"expected {where} to have a name of its own, got the name of a built-in {kind} "
            "(python -m comparisons list): choose another"
        )
    extra = sorted(set(table) - set(keys))
    if extra:
        raise ValueError(f"unknown key(s) {extra} in {where}: expected some of {list(keys)}")
    given = [key for key in sources if key in table]
    if len(given) != 1:
        raise ValueError(f"expected {sources_text} in {where}, got {given or 'none'}")
    source = given[0]
    target = table[source]
    if not isinstance(target, str) or not target:
        raise TypeError(f"expected {source} in {where} to be a non-empty string, got {target!r}")
    return name, where, source, target
