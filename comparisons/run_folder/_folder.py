"""The run folder: the only writer and reader of its files (paths in :mod:`._layout`)."""

from __future__ import annotations

import json
import shutil
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
from comparisons.run_folder._layout import RunLayout
from comparisons.run_folder._rows import (
    ResultRow,
    results_csv,
    row_from_record,
    sorted_rows,
)

_JSON_SCALARS = (str, bool, int, float, type(None))


class RunFolder:
    """One run's folder: create or resume it, write models and cells, read its rows.

    A cell is complete when ``cells/<key>.json`` exists; it is written after the cell's
    ``examples/<key>.pt``, so a killed run never leaves a cell that looks done without
    its examples.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.layout = RunLayout(self.path)

    @classmethod
    def create(cls, path: Path, config: HarnessConfig) -> RunFolder:
        """Open ``path`` for ``config``: new, or a resume of the same config.

        Raises:
            ValueError: ``path`` holds a run of a different config (nothing is changed).
        """
        folder = cls(path)
        layout = folder.layout
        if layout.config_json.is_file():
            stored = folder.fingerprint()
            if stored != config.fingerprint():
                raise ValueError(
                    f"expected {folder.path} to hold a run of this config, got a run of "
                    f"another config (fingerprint {stored} != {config.fingerprint()}): use "
                    "another --output, or delete the folder to start over"
                )
            environment = json.loads(layout.environment.read_text())
            environment.setdefault("resumed", []).append(environment_record()["started"])
            write_json(layout.environment, environment)
            return folder
        folder.path.mkdir(parents=True, exist_ok=True)
        write_text(layout.config_toml, dumps(config.to_dict()))
        write_json(
            layout.config_json, {"fingerprint": config.fingerprint(), "config": config.to_dict()}
        )
        write_json(layout.environment, environment_record())
        write_json(layout.methods, {name: method_facts(name) for name in config.methods})
        return folder

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        """An existing run folder.

        Raises:
            ValueError: ``path`` is not a run folder (no ``config.json``).
        """
        folder = cls(path)
        if not folder.layout.config_json.is_file():
            raise ValueError(
                f"expected a run folder (with {folder.layout.config_json.name}), got {str(path)!r}"
            )
        return folder

    def config(self) -> HarnessConfig:
        """The config this folder was created for."""
        return parse_config(self._config_record()["config"])

    def fingerprint(self) -> str:
        return str(self._config_record()["fingerprint"])

    def _config_record(self) -> dict[str, Any]:
        return json.loads(self.layout.config_json.read_text())

    def has_cell(self, key: str) -> bool:
        return self.layout.cell(key).is_file()

    def has_model(self, key: str) -> bool:
        return self.layout.model(key).is_file()

    def model_record(self, key: str) -> dict[str, Any] | None:
        """The training record :meth:`write_model` stored for ``key``, or ``None``."""
        path = self.layout.model(key)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:  # an unusable file: recover() quarantines it
            return None
        training = record.get("training") if isinstance(record, dict) else None
        return training if isinstance(training, dict) else None

    def count_cells(self) -> int:
        return len(list(self.layout.cells_dir.glob("*.json")))

    def write_model(self, key: str, rows: list[ResultRow], record: dict[str, Any]) -> None:
        """The rows and training record of a trained model (written once)."""
        if not self.has_model(key):
            write_json(
                self.layout.model(key),
                {"rows": [r.to_record() for r in rows], "training": record},
            )

    def write_cell(self, key: str, rows: list[ResultRow], examples: dict[str, Any]) -> None:
        """A finished cell: its examples first, then its rows (the marker of completion)."""
        write_torch(self.layout.examples(key), examples)
        write_json(self.layout.cell(key), {"rows": [r.to_record() for r in rows]})
        self.layout.failure(key).unlink(missing_ok=True)

    def record_failure(self, key: str, error: BaseException) -> None:
        text = "".join(traceback.format_exception(error))
        write_text(self.layout.failure(key), text)

    @property
    def failed(self) -> list[str]:
        """Keys of cells whose last attempt failed."""
        return sorted(p.stem for p in self.layout.failed_dir.glob("*.txt"))

    def copy_finished_from(self, source: RunFolder) -> None:
        """Copy ``source``'s finished models and cells that this folder lacks (merge).

        A cell's examples are copied before its rows, each file atomically, so an
        interrupted merge never leaves a cell that looks done without its examples.
        """
        for source_path in sorted(source.layout.models_dir.glob("*.json")):
            _copy_atomically(source_path, self.layout.model(source_path.stem))
        for source_path in sorted(source.layout.cells_dir.glob("*.json")):
            key = source_path.stem
            if self.has_cell(key):
                continue
            _copy_atomically(source.layout.examples(key), self.layout.examples(key))
            _copy_atomically(source_path, self.layout.cell(key))

    def rows(self) -> list[ResultRow]:
        """Every row of every finished model and cell, sorted."""
        rows = []
        for directory in (self.layout.models_dir, self.layout.cells_dir):
            for path in sorted(directory.glob("*.json")):
                rows += [row_from_record(r) for r in json.loads(path.read_text())["rows"]]
        return sorted_rows(rows)

    def write_tables(self) -> None:
        """``results.json`` and ``results.csv`` from every finished model and cell."""
        rows = self.rows()
        write_json(self.layout.results_json, [r.to_record() for r in rows])
        write_text(self.layout.results_csv, results_csv(rows))

    def load_examples(self, key: str) -> dict[str, Any]:
        return torch.load(self.layout.examples(key), weights_only=True)


def method_facts(name: str) -> dict[str, Any]:
    """The registry's facts of a method that ``methods.json`` records (its plain fields)."""
    facts = asdict(get_method_spec(name))
    return {k: v for k, v in facts.items() if isinstance(v, _JSON_SCALARS)}


def _copy_atomically(source: Path, target: Path) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.copy2(source, temporary)
    temporary.replace(target)
