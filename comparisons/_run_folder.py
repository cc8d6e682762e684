"""The run folder on disk: config, environment, one file per finished cell, and the tables.

Layout (also read by :mod:`comparisons.reporting`)::

    config.toml, config.json   the resolved config (config.json also holds its fingerprint)
    environment.json           versions, device, threads, git commit, start and resume times
    methods.json               per method: the registry's facts (normalized maps, ...)
    cells/<key>.json           rows of one finished cell; models/<group>.json of one model
    examples/<key>.pt          maps of the figure images (and the iFIM spectra)
    failed/<key>.txt           the traceback of a cell that failed (retried on resume)
    results.json, results.csv  the tidy table of every row
"""

from __future__ import annotations

import csv
import io
import json
import math
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from captum_ifim import get_method_spec
from comparisons._atomic import write_json, write_text, write_torch
from comparisons._config import HarnessConfig, parse_config
from comparisons._environment import environment_record
from comparisons._toml_writer import dumps

COLUMNS = ("dataset", "model", "seed", "method", "metric", "setting", "value", "n")
_SORT = ("dataset", "model", "seed", "method", "metric", "setting")


class RunFolder:
    """One run's folder; see the module docstring for the layout."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, path: Path, config: HarnessConfig) -> RunFolder:
        """Open ``path`` for ``config``: new, or a resume of the same config.

        Raises:
            ValueError: ``path`` holds a run of a different config (nothing is changed).
        """
        folder = cls(path)
        existing = folder.path / "config.json"
        if existing.is_file():
            stored = json.loads(existing.read_text())
            if stored.get("fingerprint") != config.fingerprint():
                raise ValueError(
                    f"expected {folder.path} to hold a run of this config, got a run of "
                    "another config (fingerprint "
                    f"{stored.get('fingerprint')} != {config.fingerprint()}): use another "
                    "--output, or delete the folder to start over"
                )
            environment = json.loads((folder.path / "environment.json").read_text())
            environment.setdefault("resumed", []).append(environment_record()["started"])
            write_json(folder.path / "environment.json", environment)
            return folder
        folder.path.mkdir(parents=True, exist_ok=True)
        write_text(folder.path / "config.toml", dumps(config.to_dict()))
        write_json(existing, {"fingerprint": config.fingerprint(), "config": config.to_dict()})
        write_json(folder.path / "environment.json", environment_record())
        methods = {}
        for name in config.methods:
            spec = asdict(get_method_spec(name))
            spec.pop("factory", None)
            methods[name] = spec
        write_json(folder.path / "methods.json", methods)
        return folder

    def config(self) -> HarnessConfig:
        """The config this folder was created for."""
        return parse_config(json.loads((self.path / "config.json").read_text())["config"])

    def fingerprint(self) -> str:
        return json.loads((self.path / "config.json").read_text())["fingerprint"]

    def _cell_path(self, key: str) -> Path:
        return self.path / "cells" / f"{key}.json"

    def _model_path(self, key: str) -> Path:
        return self.path / "models" / f"{key}.json"

    def has_cell(self, key: str) -> bool:
        return self._cell_path(key).is_file()

    def has_model(self, key: str) -> bool:
        return self._model_path(key).is_file()

    def count_cells(self) -> int:
        return len(list((self.path / "cells").glob("*.json")))

    def write_model(self, key: str, rows: list[dict], record: dict[str, Any]) -> None:
        """The rows and training record of a trained model (written once)."""
        if not self.has_model(key):
            write_json(self._model_path(key), {"rows": rows, "training": record})

    def write_cell(self, key: str, rows: list[dict], examples: dict[str, Any]) -> None:
        """A finished cell: its examples first, then its rows (the marker of completion)."""
        write_torch(self.path / "examples" / f"{key}.pt", examples)
        write_json(self._cell_path(key), {"rows": rows})
        (self.path / "failed" / f"{key}.txt").unlink(missing_ok=True)

    def record_failure(self, key: str, error: BaseException) -> None:
        text = "".join(traceback.format_exception(error))
        write_text(self.path / "failed" / f"{key}.txt", text)

    @property
    def failed(self) -> list[str]:
        """Keys of cells whose last attempt failed."""
        return sorted(p.stem for p in (self.path / "failed").glob("*.txt"))

    def rows(self) -> list[dict]:
        """Every row of every finished model and cell, sorted."""
        rows = []
        for kind in ("models", "cells"):
            for path in sorted((self.path / kind).glob("*.json")):
                rows += json.loads(path.read_text())["rows"]
        for row in rows:
            row["value"] = _float(row["value"])
        return sorted(rows, key=lambda r: tuple(str(r[k]) for k in _SORT))

    def write_tables(self) -> None:
        """``results.json`` and ``results.csv`` from every finished model and cell."""
        rows = self.rows()
        write_json(self.path / "results.json", rows)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            value = row["value"]
            writer.writerow({**row, "value": "" if math.isnan(value) else repr(value)})
        write_text(self.path / "results.csv", buffer.getvalue())

    def load_examples(self, key: str) -> dict[str, Any]:
        return torch.load(self.path / "examples" / f"{key}.pt", weights_only=True)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)
