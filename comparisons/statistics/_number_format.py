"""Numbers as the report and the statistics' sentences write them: three significant
digits, ``mean ± std``, p-values."""

from __future__ import annotations

import math


def format_significant(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, trailing zeros kept (``1.50``).

    NaN gives ``"n/a"``; infinities give ``"inf"`` / ``"-inf"``.

    Example:
        >>> [format_significant(v) for v in (1.5, 0.012345, 123456.0, 100.0)]
        ['1.50', '0.0123', '1.23e+05', '100']
    """
    if digits < 1:
        raise ValueError(f"expected digits >= 1, got {digits}")
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0.0:
        value = 0.0  # drops the sign of -0.0
    mantissa, sep, exponent = f"{value:#.{digits}g}".partition("e")
    return mantissa.rstrip(".") + sep + exponent


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """``"mean ± std"`` with ``digits`` significant digits each; the mean alone when the
    std is NaN (a single seed), ``"n/a"`` when the mean is NaN."""
    if math.isnan(mean):
        return "n/a"
    if math.isnan(std):
        return format_significant(mean, digits)
    return f"{format_significant(mean, digits)} ± {format_significant(std, digits)}"


def format_p(p: float) -> str:
    """A p-value for a table: ``"<0.001"``, two significant digits otherwise, ``"—"`` for
    NaN (no test)."""
    if math.isnan(p):
        return "—"
    return "<0.001" if p < 0.001 else format_significant(p, 2)
