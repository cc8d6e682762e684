"""Where everything of a run folder lives: the only code that knows its file names.

Layout::

    config.toml, config.json   the resolved config (config.json also holds its fingerprint)
    environment.json           versions, device, threads, git commit, start and resume times
    methods.json               per method: the registry's facts (normalized maps, ...)
    models/<group>.json        rows and training record of one trained model
    examples/<cell>.pt         maps of the figure images (and the iFIM spectra)
    cells/<cell>.json          rows of one finished cell, written last: its marker of completion
    failed/<cell>.txt          the traceback of a cell that failed (retried on resume)
    results.json, results.csv  the tidy table of every row
    report.md, summary.*, figures/   written by the report
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder (nothing is read or created here)."""

    root: Path

    @property
    def config_toml(self) -> Path:
        return self.root / "config.toml"

    @property
    def config_json(self) -> Path:
        return self.root / "config.json"

    @property
    def environment(self) -> Path:
        return self.root / "environment.json"

    @property
    def methods(self) -> Path:
        return self.root / "methods.json"

    @property
    def results_json(self) -> Path:
        return self.root / "results.json"

    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    @property
    def cells_dir(self) -> Path:
        return self.root / "cells"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def examples_dir(self) -> Path:
        return self.root / "examples"

    @property
    def failed_dir(self) -> Path:
        return self.root / "failed"

    def cell(self, key: str) -> Path:
        """``cells/<key>.json``: a finished cell's rows."""
        return self.cells_dir / f"{key}.json"

    def model(self, key: str) -> Path:
        """``models/<key>.json``: a trained model's rows and training record."""
        return self.models_dir / f"{key}.json"

    def examples(self, key: str) -> Path:
        """``examples/<key>.pt``: a cell's figure maps."""
        return self.examples_dir / f"{key}.pt"

    def failure(self, key: str) -> Path:
        """``failed/<key>.txt``: the traceback of a cell's last failed attempt."""
        return self.failed_dir / f"{key}.txt"
