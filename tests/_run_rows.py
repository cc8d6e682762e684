"""Result rows of two runs made comparable: sortable tuples, timing rows left out."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any


def comparable_rows(
    rows: Iterable[Any], is_timing: Callable[[str], bool], digits: int | None
) -> list[tuple[object, ...]]:
    """Rows (ResultRow objects or JSON records) as sorted tuples, timing rows left out.

    Args:
        rows: ``ResultRow`` dataclasses or their JSON records (``value`` None for NaN).
        is_timing: Whether a metric name is a timing row (differs between runs).
        digits: Round values to this many decimals; ``None``: compare them exactly.
    """
    records = [r if isinstance(r, dict) else dataclasses.asdict(r) for r in rows]
    return sorted(
        (
            r["dataset"],
            r["model"],
            r["seed"],
            r["method"],
            r["metric"],
            r["setting"],
            "nan"
            if r["value"] is None or math.isnan(r["value"])
            else (r["value"] if digits is None else round(r["value"], digits)),
            r["n"],
        )
        for r in records
        if not is_timing(r["metric"])
    )
