"""Value checks of metric options when a config loads: counts, positive numbers, fractions,
and the library's own choices (read from its functions' ``Literal`` annotations).

Each :class:`comparisons.metrics.HarnessMetric` names its checks in ``check``; they get the
resolved options (defaults updated with the config's) and raise ``ValueError`` with
"expected ..., got ..." messages, so a bad value fails before any model is trained.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping
from typing import Any


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_count(options: Mapping[str, Any], key: str, minimum: int = 1) -> None:
    """``options[key]`` is an int >= ``minimum``."""
    value = options[key]
    if not _is_int(value) or value < minimum:
        raise ValueError(f"expected {key} to be an int >= {minimum}, got {value!r}")


def check_max_examples(options: Mapping[str, Any], key: str = "max_examples") -> None:
    """``options[key]`` is ``None`` (every evaluated image) or an int >= 1."""
    value = options[key]
    if value is not None and (not _is_int(value) or value < 1):
        raise ValueError(f"expected {key} to be None or an int >= 1, got {value!r}")


def check_positive(options: Mapping[str, Any], key: str) -> None:
    """``options[key]`` is a finite number > 0."""
    value = options[key]
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"expected {key} to be a finite number > 0, got {value!r}")


def check_numbers(
    options: Mapping[str, Any], key: str, low: float = 0.0, high: float = math.inf
) -> None:
    """``options[key]`` is a non-empty list of distinct numbers in the open interval
    (``low``, ``high``)."""
    values = options[key]
    if (
        not isinstance(values, list | tuple)
        or not values
        or not all(_is_number(v) and low < v < high for v in values)
        or len(set(values)) != len(values)
    ):
        bound = f"({low:g}, {high:g})" if math.isfinite(high) else f"> {low:g}"
        raise ValueError(
            f"expected {key} to be a non-empty list of distinct numbers {bound}, got {values!r}"
        )


def library_choices(function: Callable[..., Any], parameter: str) -> tuple[Any, ...]:
    """The ``Literal`` choices of ``parameter`` of a library function (alone or in a union)."""
    hint = typing.get_type_hints(function)[parameter]
    choices: list[Any] = []
    stack = [hint]
    while stack:
        current = stack.pop()
        if typing.get_origin(current) is typing.Literal:
            choices += typing.get_args(current)
        else:
            stack += typing.get_args(current)
    return tuple(choices)


def check_choice(options: Mapping[str, Any], key: str, choices: tuple[Any, ...]) -> None:
    """``options[key]`` is one of ``choices``."""
    if options[key] not in choices:
        raise ValueError(f"expected {key} to be one of {list(choices)}, got {options[key]!r}")
