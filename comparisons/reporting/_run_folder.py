"""Reading a run folder: rows, method facts, config, environment and example files."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef, unused-ignore]

from comparisons.reporting._result_rows import ResultRow, load_results

logger = logging.getLogger(__name__)

_EXAMPLE_NAME = re.compile(
    r"^(?P<dataset>.+?)__(?P<model>.+?)__seed(?P<seed>-?\d+)__(?P<method>.+)$"
)


@dataclass(frozen=True)
class ExampleFile:
    """One ``examples/<dataset>__<model>__seed<k>__<method>.pt`` file (not yet loaded)."""

    path: Path
    dataset: str
    model: str
    seed: int
    method: str

    def load(self) -> dict[str, Any]:
        """The saved dict: ``inputs`` (n, C, H, W), ``labels`` (n,), ``predictions`` (n,),
        ``masks`` (n, H, W) or None, ``maps`` (n, C, H, W), and ``eigenvalues``
        (N_eval, R) for ifim-sensitive cells.

        Raises:
            ValueError: Not a dict, or without ``inputs`` and ``maps``.
        """
        content = torch.load(self.path, map_location="cpu", weights_only=True)
        if not isinstance(content, dict):
            raise ValueError(f"expected a dict in {self.path}, got {type(content).__name__}")
        for key in ("inputs", "maps"):
            if not isinstance(content.get(key), torch.Tensor) or content[key].dim() != 4:
                raise ValueError(f"expected {key!r} (n, C, H, W) in {self.path}, got none")
        return content


def parse_example_name(path: Path) -> ExampleFile | None:
    """The cell an example file holds, from its name; ``None`` when the name does not fit."""
    match = _EXAMPLE_NAME.match(path.stem) if path.suffix == ".pt" else None
    if match is None:
        return None
    return ExampleFile(
        path=path,
        dataset=match["dataset"],
        model=match["model"],
        seed=int(match["seed"]),
        method=match["method"],
    )


@dataclass(frozen=True)
class RunFolder:
    """What a run folder holds, read once.

    Attributes:
        path: The folder.
        rows: ``results.json``.
        methods: ``methods.json``: name -> the method's facts (``{}`` when missing).
        config: ``config.toml`` parsed (``{}`` when missing); ``config_text`` as written.
        environment: ``environment.json`` (``{}`` when missing).
        examples: The example files, sorted by (dataset, model, seed, method).
        missing: Files of the format that were not there (said in the report).
    """

    path: Path
    rows: list[ResultRow]
    methods: dict[str, dict[str, Any]]
    config: dict[str, Any]
    config_text: str
    environment: dict[str, Any]
    examples: list[ExampleFile] = field(default_factory=list)
    missing: tuple[str, ...] = ()

    def example(self, dataset: str, model: str, seed: int, method: str) -> ExampleFile | None:
        """The example file of one cell, or ``None``."""
        for ex in self.examples:
            if (ex.dataset, ex.model, ex.seed, ex.method) == (dataset, model, seed, method):
                return ex
        return None


def read_run_folder(run_dir: Path) -> RunFolder:
    """Read a run folder (see the harness's run-folder format).

    Only ``results.json`` is required; the other files are read when present.

    Raises:
        FileNotFoundError: No ``results.json``.
        ValueError: A malformed file.
    """
    run_dir = Path(run_dir)
    results = run_dir / "results.json"
    if not results.is_file():
        raise FileNotFoundError(f"expected {results}, got no such file")
    missing: list[str] = []
    methods = _read_json(run_dir / "methods.json", missing)
    environment = _read_json(run_dir / "environment.json", missing)
    config_path = run_dir / "config.toml"
    if config_path.is_file():
        config_text = config_path.read_text(encoding="utf-8")
        config = tomllib.loads(config_text)
    else:
        missing.append("config.toml")
        config_text, config = "", {}
    examples = []
    examples_dir = run_dir / "examples"
    if examples_dir.is_dir():
        for path in sorted(examples_dir.glob("*.pt")):
            parsed = parse_example_name(path)
            if parsed is None:
                logger.warning(
                    "skipping %s: not named <dataset>__<model>__seed<k>__<method>.pt", path
                )
                continue
            examples.append(parsed)
    else:
        missing.append("examples/")
    examples.sort(key=lambda e: (e.dataset, e.model, e.seed, e.method))
    if not all(isinstance(v, dict) for v in methods.values()):
        raise ValueError("expected methods.json to map each method name to a dict of facts")
    return RunFolder(
        path=run_dir,
        rows=load_results(results),
        methods=methods,
        config=config,
        config_text=config_text,
        environment=environment,
        examples=examples,
        missing=tuple(missing),
    )


def _read_json(path: Path, missing: list[str]) -> dict[str, Any]:
    if not path.is_file():
        missing.append(path.name)
        return {}
    content = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(content, dict):
        raise ValueError(f"expected a JSON object in {path}, got {type(content).__name__}")
    return content
