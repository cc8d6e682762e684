"""Where everything of a run folder lives: the only code that knows its file names.

Layout::

    config.toml, config.json   the resolved config (config.json also holds its fingerprint)
    environment.json           versions, device, threads, git commit, start and resume times
    methods.json               per method: the registry's facts (normalized maps, ...)
    models/<group>.json        rows and training record of one trained model
    examples/<cell>.pt         maps of the figure images (and the iFIM spectra)
    per_example/<cell>.csv.gz  every per-example value and prediction behind the cell's rows
    maps/<cell>.pt             every evaluated image's map (float16, scaled per image) and, for
                               a method with a spectrum, its iFIM eigenspace U_K
    pairs/<pair>.json          rows of one pair of models compared on the same images (the
                               model-pair stage), with their per-example values
    partial/<cell>.pt          a cell in progress: its maps and the metrics done so far (a
                               killed run resumes the cell from there; removed once it is done)
    cells/<cell>.json          rows of one finished cell, written last: its marker of completion
    failed/<cell>.txt          the traceback of a cell that failed (retried on resume)
    quarantine/<dir>/<file>.<time>   an unreadable file moved aside (recomputed on resume),
                               with ``<file>.<time>.reason.json``: where it was and why
    .lock, lock-holder.json    the lock a running run holds, and who holds it (pid, host, start)
    results.json, results.csv  the tidy table of every row
    report.md, summary.*, figures/   written by the report, with paired.csv, ranks.csv,
                               seed_intervals.csv and tables/ (markdown, LaTeX, CSV)
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

    @property
    def not_applicable_dir(self) -> Path:
        return self.root / "not_applicable"

    @property
    def per_example_dir(self) -> Path:
        return self.root / "per_example"

    @property
    def maps_dir(self) -> Path:
        return self.root / "maps"

    @property
    def pairs_dir(self) -> Path:
        return self.root / "pairs"

    @property
    def partial_dir(self) -> Path:
        return self.root / "partial"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def lock(self) -> Path:
        """``.lock``: the file a running run holds a lock on (``filelock``)."""
        return self.root / ".lock"

    @property
    def lock_holder(self) -> Path:
        """``lock-holder.json``: pid, host and start time of the run holding the lock."""
        return self.root / "lock-holder.json"

    def quarantined(self, path: Path, stamp: str) -> Path:
        """Where the unreadable ``path`` (inside the folder) is moved, at time ``stamp``."""
        relative = path.relative_to(self.root)
        return self.quarantine_dir / relative.parent / f"{relative.name}.{stamp}"

    @staticmethod
    def quarantine_reason(quarantined: Path) -> Path:
        """The JSON record beside a quarantined file: its original path and the reason."""
        return quarantined.with_name(f"{quarantined.name}.reason.json")

    def cell(self, key: str) -> Path:
        """``cells/<key>.json``: a finished cell's rows."""
        return self.cells_dir / f"{key}.json"

    def model(self, key: str) -> Path:
        """``models/<key>.json``: a trained model's rows and training record."""
        return self.models_dir / f"{key}.json"

    def examples(self, key: str) -> Path:
        """``examples/<key>.pt``: a cell's figure maps."""
        return self.examples_dir / f"{key}.pt"

    def per_example(self, key: str) -> Path:
        """``per_example/<key>.csv.gz``: the per-example values behind a cell's rows."""
        return self.per_example_dir / f"{key}.csv.gz"

    def maps(self, key: str) -> Path:
        """``maps/<key>.pt``: a cell's maps of every evaluated image (and its U_K)."""
        return self.maps_dir / f"{key}.pt"

    def partial(self, key: str) -> Path:
        """``partial/<key>.pt``: a cell in progress, its maps and the metrics done so far."""
        return self.partial_dir / f"{key}.pt"

    def pair(self, key: str) -> Path:
        """``pairs/<key>.json``: the rows of a compared pair of models."""
        return self.pairs_dir / f"{key}.json"

    def failure(self, key: str) -> Path:
        """``failed/<key>.txt``: the traceback of a cell's last failed attempt."""
        return self.failed_dir / f"{key}.txt"

    def not_applicable(self, key: str) -> Path:
        """``not_applicable/<key>.txt``: why a cell's method refuses its model (DeepSHAP on
        a transformer); the cell is done, with no rows."""
        return self.not_applicable_dir / f"{key}.txt"
