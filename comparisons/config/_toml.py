"""Write the harness config back as TOML (the standard library reads TOML but cannot write it)."""

from __future__ import annotations

import json
import math
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }"
    if value is None:
        raise TypeError("TOML has no null: leave the key out instead")
    raise TypeError(f"expected a TOML value (bool, int, float, str, list, dict), got {value!r}")


def _key(key: str) -> str:
    bare = key.replace("-", "").replace("_", "").isalnum()
    return key if bare else json.dumps(key)


def _table(lines: list[str], header: str, table: dict[str, Any]) -> None:
    lines.append(header)
    nested = {}
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, dict):
            nested[key] = value
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    name = header.strip("[]")
    for key, value in nested.items():
        lines.append("")
        _table(lines, f"[{name}.{_key(key)}]", value)


def dumps(data: dict[str, Any]) -> str:
    """TOML text of ``data``: tables, arrays of tables (lists of dicts), plain values.

    ``None`` values are left out (TOML has no null): a reader gets the default back.
    """
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            _table(lines, f"[{_key(key)}]", value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                _table(lines, f"[[{_key(key)}]]", entry)
                lines.append("")
        else:
            lines.insert(0, f"{_key(key)} = {_value(value)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
