"""A run folder read once, for the report: rows, method facts, config, environment, examples."""

from __future__ import annotations

import json
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from comparisons.config import HarnessConfig, read_config_for_report
from comparisons.run_folder._keys import CellKey, GroupKey
from comparisons.run_folder._layout import RunLayout
from comparisons.run_folder._per_example import read_per_example
from comparisons.run_folder._quarantine import quarantined_files
from comparisons.run_folder._rows import ResultRow, load_results

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExampleFile:
    """One ``examples/<cell key>.pt`` file (not yet loaded)."""

    path: Path
    cell: CellKey

    @property
    def dataset(self) -> str:
        return self.cell.group.dataset

    @property
    def model(self) -> str:
        return self.cell.group.model

    @property
    def seed(self) -> int:
        return self.cell.group.seed

    @property
    def method(self) -> str:
        return self.cell.method

    def load(self) -> dict[str, Any]:
        """The saved dict: ``inputs`` (n, C, H, W), ``labels`` (n,), ``predictions`` (n,),
        ``masks`` (n, H, W) or None, ``maps`` (n, C, H, W), and ``eigenvalues``
        (N_eval, R) for methods with a spectrum.

        Raises:
            ValueError: Unreadable, not a dict, or without ``inputs`` and ``maps``.
        """
        try:
            content = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file: name it
            raise ValueError(f"expected a readable example file {self.path}: {error}") from error
        if not isinstance(content, dict):
            raise ValueError(f"expected a dict in {self.path}, got {type(content).__name__}")
        for key in ("inputs", "maps"):
            if not isinstance(content.get(key), torch.Tensor) or content[key].dim() < 4:
                raise ValueError(f"expected {key!r} (n, C, H, W) in {self.path}, got none")
        return content


def parse_example_name(path: Path) -> ExampleFile | None:
    """The cell an example file holds, from its name; ``None`` when the name does not fit."""
    if path.suffix != ".pt":
        return None
    try:
        return ExampleFile(path, CellKey.parse(path.stem))
    except ValueError:
        return None


@dataclass(frozen=True)
class RunContents:
    """What a run folder holds, read once.

    Attributes:
        path: The folder.
        rows: ``results.json``.
        methods: ``methods.json``: name -> the method's facts (``{}`` when missing).
        config: ``config.toml`` read as a config (``None`` when missing or not valid for
            this version); ``config_text`` as written.
        environment: ``environment.json`` (``{}`` when missing).
        examples: The example files, sorted by (dataset, model, seed, method).
        missing: Files of the format that were not there (said in the report).
        skipped: Files that were there but unreadable, one line each: the quarantined
            cells, models and examples not recomputed yet, and unreadable example files.
        per_example: ``per_example/<cell>.csv.gz`` files by cell (runs from before they
            existed have none); read with :meth:`load_per_example`.
        model_records: ``models/<group>.json``'s record of each trained or given model
            (its training, or the identity of given weights; the dataset's
            ``class_names``), by group; unreadable files are left out.
        failed: The cells whose last attempt failed (``failed/<cell>.txt``), each with
            the reason: the last line of its traceback.
    """

    path: Path
    rows: list[ResultRow]
    methods: dict[str, dict[str, Any]]
    config: HarnessConfig | None
    config_text: str
    environment: dict[str, Any]
    examples: list[ExampleFile] = field(default_factory=list)
    missing: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    per_example: dict[CellKey, Path] = field(default_factory=dict)
    model_records: dict[GroupKey, dict[str, Any]] = field(default_factory=dict)
    failed: dict[CellKey, str] = field(default_factory=dict)

    def model_record(self, dataset: str, model: str, seed: int) -> dict[str, Any]:
        """The record of one group's model, ``{}`` when there is none."""
        return self.model_records.get(GroupKey(dataset, model, seed), {})

    def load_per_example(self, cell: CellKey) -> pd.DataFrame | None:
        """The per-example table of ``cell`` (:data:`PER_EXAMPLE_COLUMNS`), ``None`` when
        the cell has no file.

        Raises:
            ValueError: The file is unreadable (the message names it).
        """
        path = self.per_example.get(cell)
        return None if path is None else read_per_example(path)

    def example(self, dataset: str, model: str, seed: int, method: str) -> ExampleFile | None:
        """The example file of one cell, or ``None``."""
        for ex in self.examples:
            if (ex.dataset, ex.model, ex.seed, ex.method) == (dataset, model, seed, method):
                return ex
        return None


def read_run_contents(run_dir: Path) -> RunContents:
    """Read a run folder for its report.

    Only ``results.json`` is required; the other files are read when present.

    Raises:
        FileNotFoundError: No ``results.json``.
        ValueError: A malformed file (the message names it).
    """
    layout = RunLayout(Path(run_dir))
    if not layout.results_json.is_file():
        raise FileNotFoundError(f"expected {layout.results_json}, got no such file")
    missing: list[str] = []
    skipped = [  # results left out until a run recomputes them
        f"`{q.original}`: {q.reason}; moved to `{q.moved_to}` (the next run recomputes it)"
        for q in quarantined_files(layout)
        if q.original.split("/")[0] in ("cells", "models")
        and not (layout.root / q.original).exists()
    ]
    methods = _read_json_object(layout.methods, missing)
    environment = _read_json_object(layout.environment, missing)
    config_text = ""
    config = read_config_for_report(layout.config_toml)
    if layout.config_toml.is_file():
        try:
            config_text = layout.config_toml.read_text(encoding="utf-8")
            tomllib.loads(config_text)
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            skipped.append(f"`{layout.config_toml.name}`: not valid TOML ({error})")
            config_text = ""
    else:
        missing.append(layout.config_toml.name)
    examples = []
    if layout.examples_dir.is_dir():
        for path in sorted(layout.examples_dir.glob("*.pt")):
            parsed = parse_example_name(path)
            if parsed is None:
                logger.warning(
                    "skipping %s: not named <dataset>__<model>__seed<k>__<method>.pt", path
                )
                continue
            try:
                parsed.load()
            except ValueError as error:
                logger.warning("skipping %s", error)
                skipped.append(f"`{layout.examples_dir.name}/{path.name}`: unreadable ({error})")
                continue
            examples.append(parsed)
    else:
        missing.append(f"{layout.examples_dir.name}/")
    examples.sort(key=lambda e: (e.dataset, e.model, e.seed, e.method))
    per_example = {}
    for path in sorted(layout.per_example_dir.glob("*.csv.gz")):
        try:
            per_example[CellKey.parse(path.name.removesuffix(".csv.gz"))] = path
        except ValueError:
            logger.warning("skipping %s: not named <cell key>.csv.gz", path)
    if not all(isinstance(v, dict) for v in methods.values()):
        raise ValueError(f"expected {layout.methods} to map each method name to its facts")
    return RunContents(
        path=layout.root,
        rows=load_results(layout.results_json),
        methods=methods,
        config=config,
        config_text=config_text,
        environment=environment,
        examples=examples,
        missing=tuple(missing),
        skipped=tuple(skipped),
        per_example=per_example,
        model_records=_model_records(layout),
        failed=_failed_cells(layout),
    )


#: How a cell whose method refuses its model (``not_applicable/<cell>.txt``) is reported
#: among the cells without results.
NOT_APPLICABLE = "not applicable"


def _failed_cells(layout: RunLayout) -> dict[CellKey, str]:
    """The cells of ``failed/*.txt``, each with the last line of its traceback, and those of
    ``not_applicable/*.txt``, each with ``"not applicable: <the method's reason>"``."""
    failed = {}
    for path in sorted(layout.not_applicable_dir.glob("*.txt")):
        try:
            cell = CellKey.parse(path.stem)
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except (OSError, ValueError):
            continue
        failed[cell] = f"{NOT_APPLICABLE}: {text.splitlines()[0] if text else ''}".rstrip(": ")
    for path in sorted(layout.failed_dir.glob("*.txt")):
        try:
            cell = CellKey.parse(path.stem)
            text = path.read_text(encoding="utf-8", errors="replace")
        except (OSError, ValueError):
            continue  # not a cell's file, or unreadable: nothing to say about a cell
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        failed[cell] = lines[-1] if lines else "(no traceback recorded)"
    return failed


def _model_records(layout: RunLayout) -> dict[GroupKey, dict[str, Any]]:
    """The ``training`` record of every readable ``models/*.json``, by group."""
    records = {}
    for path in sorted(layout.models_dir.glob("*.json")):
        try:
            group = GroupKey.parse(path.stem)
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # the run's recover() moves it aside; its rows are left out too
        record = content.get("training") if isinstance(content, dict) else None
        if isinstance(record, dict):
            records[group] = record
    return records


def _read_json_object(path: Path, missing: list[str]) -> dict[str, Any]:
    if not path.is_file():
        missing.append(path.name)
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"expected JSON in {path}, got an unreadable file: {error}") from error
    if not isinstance(content, dict):
        raise ValueError(f"expected a JSON object in {path}, got {type(content).__name__}")
    return content
