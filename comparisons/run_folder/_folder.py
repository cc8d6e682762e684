"""The run folder: the only writer and reader of its files (paths in :mod:`._layout`)."""

from __future__ import annotations

import enum
import json
import logging
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from captum_ifim import get_method_spec
from comparisons._atomic import write_bytes, write_json, write_text, write_torch
from comparisons._environment import environment_record
from comparisons.config import (
    HarnessConfig,
    changed_custom_methods,
    read_stored_config,
    stored_fingerprint,
    write_stored_config,
)
from comparisons.run_folder._keys import CellKey
from comparisons.run_folder._layout import RunLayout
from comparisons.run_folder._per_example import per_example_bytes, read_per_example
from comparisons.run_folder._quarantine import QuarantinedFile, quarantine
from comparisons.run_folder._rows import (
    ResultRow,
    results_csv,
    row_from_record,
    sorted_rows,
)

logger = logging.getLogger(__name__)


def read_rows_file(path: Path) -> list[ResultRow]:
    """The rows of one ``cells/*.json`` or ``models/*.json`` file.

    Raises:
        ValueError: The file is not a JSON object with a ``rows`` list of valid rows (the
            message says what is wrong, not the file: the caller names it).
        OSError: It cannot be read.
    """
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"not valid JSON ({error})") from error
    if not isinstance(content, dict) or not isinstance(content.get("rows"), list):
        raise ValueError("expected a JSON object with a 'rows' list")
    return [row_from_record(record) for record in content["rows"]]


def read_examples_file(path: Path) -> dict[str, Any]:
    """The dict of one ``examples/*.pt`` file (``torch.load``, tensors only).

    Raises:
        ValueError: Missing, truncated, or not a dict holding ``inputs`` and ``maps``.
    """
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, foreign pickle, missing file: all unusable
        raise ValueError(f"unreadable ({type(error).__name__}: {error})") from error
    if not isinstance(content, dict) or not all(
        isinstance(content.get(key), torch.Tensor) for key in ("inputs", "maps")
    ):
        raise ValueError("expected a dict with the tensors 'inputs' and 'maps'")
    return content


def read_maps_file(path: Path) -> dict[str, Any]:
    """The dict of one ``maps/*.pt`` file (``torch.load``, tensors only).

    Raises:
        ValueError: Missing, truncated, or not a dict holding ``test_indices`` and ``maps``.
    """
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, foreign pickle, missing file: all unusable
        raise ValueError(f"unreadable ({type(error).__name__}: {error})") from error
    if not isinstance(content, dict) or not all(
        isinstance(content.get(key), torch.Tensor) for key in ("test_indices", "maps")
    ):
        raise ValueError("expected a dict with the tensors 'test_indices' and 'maps'")
    return content


class FolderState(enum.Enum):
    """What a run does with its output folder (:meth:`RunFolder.state_for`)."""

    NEW = "new (created by the run)"
    NO_RUN = "exists, holds no run yet (the run starts it)"
    FOREIGN = "REFUSED: holds files that are not a run's (a run exits 2 and changes nothing)"
    RESUME = "resumes this config"
    REUSE = "reused: nothing of its config finished there, this config replaces it"
    REFUSE = "refused: holds finished cells or models of another config"


class RunFolder:
    """One run's folder: create or resume it, write models and cells, read its rows.

    A cell is complete when ``cells/<key>.json`` exists; it is written after the cell's
    ``examples/<key>.pt``, so a killed run never leaves a cell that looks done without
    its examples.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.layout = RunLayout(self.path)
        self._unrecorded_failures: set[str] = set()

    @classmethod
    def create(cls, path: Path, config: HarnessConfig) -> RunFolder:
        """Open ``path`` for ``config``: new, a resume of the same config, or a folder where
        nothing finished yet, reused by a corrected config.

        Unreadable cells, models and examples are moved to the quarantine first
        (:meth:`recover`), so they count as not done.

        Raises:
            ValueError: ``path`` holds finished cells or models of another config (the
                message names both fingerprints; nothing is changed).
            OSError: The folder cannot be written.
        """
        folder = cls(path)
        layout = folder.layout
        folder.check_usable_for(config)
        state = folder.state_for(config)
        if state in (FolderState.NEW, FolderState.NO_RUN):
            folder.path.mkdir(parents=True, exist_ok=True)
            folder._write_config(config, environment_record())
            return folder
        if state is FolderState.RESUME:
            folder.recover()
            environment = folder._environment()
            environment.setdefault("resumed", []).append(environment_record()["started"])
            write_json(layout.environment, environment)
            return folder
        stored = folder._stored_fingerprint()
        folder.recover()
        folder._reconfigure(config, stored)
        return folder

    def state_for(self, config: HarnessConfig) -> FolderState:
        """What :meth:`create` does with this folder for ``config`` (reads only)."""
        if not self.path.exists():
            return FolderState.NEW
        if not self.layout.config_json.is_file():
            return FolderState.FOREIGN if self.foreign_entries() else FolderState.NO_RUN
        if self._stored_fingerprint() == config.fingerprint():
            return FolderState.RESUME
        cells, models = self.finished()
        return FolderState.REFUSE if cells or models else FolderState.REUSE

    def foreign_entries(self) -> list[str]:
        """What a folder without ``config.json`` holds besides a run's lock files: a folder
        of the user's own files, which a run must not write into."""
        if not self.path.is_dir():
            return [] if not self.path.exists() else [self.path.name]
        own = {self.layout.lock.name, self.layout.lock_holder.name}
        return sorted(p.name for p in self.path.iterdir() if p.name not in own)

    def check_usable_for(self, config: HarnessConfig) -> None:
        """Raise before anything is written where :meth:`create` must refuse the folder.

        Raises:
            ValueError: A folder of files that are not a run's, or a run of another config
                with finished cells (the message says which, and changes nothing).
        """
        for parent in [self.path, *self.path.parents]:
            if parent.exists() and not parent.is_dir() and parent != self.path:
                raise ValueError(
                    f"expected --output {str(self.path)!r} in a folder, got {str(parent)!r}, "
                    "which is a file: nothing was written; choose another --output"
                )
        for own in (self.layout.lock, self.layout.lock_holder):
            if own.exists() and not own.is_file():
                raise ValueError(
                    f"expected {own} to be the run's lock file, got a folder: remove it if no "
                    "run is writing into this folder, then run again"
                )
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(
                f"expected --output {str(self.path)!r} to be a folder, got a file: nothing was "
                "written; choose another --output"
            )
        state = self.state_for(config)
        if state is FolderState.FOREIGN:
            entries = self.foreign_entries()
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise ValueError(
                f"expected --output {str(self.path)!r} to be a new folder, an empty one or a "
                f"run folder, got a folder of {len(entries)} other entries ({shown}): "
                "nothing was written; choose another --output"
            )
        if state is FolderState.REFUSE:
            cells, models = self.finished()
            stored = self._stored_fingerprint()
            other = "an unreadable config.json" if stored is None else f"fingerprint {stored}"
            raise ValueError(
                f"expected {self.path} to hold a run of this config "
                f"(fingerprint {config.fingerprint()}), got a run of another config ({other}"
                f"{self._changed_methods(config)}) with {len(cells)} finished cells and "
                f"{len(models)} trained models: use "
                "another --output, or delete the folder to start over"
            )

    def _changed_methods(self, config: HarnessConfig) -> str:
        """Which of ``config``'s own methods the stored config defined otherwise."""
        try:
            stored = json.loads(self.layout.config_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        return changed_custom_methods(
            stored.get("config") if isinstance(stored, dict) else {}, config.custom_methods
        )

    def holds(self, config: HarnessConfig) -> bool:
        """This folder is a run of ``config`` (its finished cells count for it)."""
        return self.state_for(config) is FolderState.RESUME

    def _write_config(self, config: HarnessConfig, environment: dict[str, Any]) -> None:
        layout = self.layout
        write_stored_config(config, layout.config_toml, layout.config_json)
        write_json(layout.environment, environment)
        write_json(layout.methods, _methods_record(config))

    def _reconfigure(self, config: HarnessConfig, previous: str | None) -> None:
        """A folder with nothing finished takes ``config``: the old failures and example
        files move to the quarantine, the config files are rewritten, and
        ``environment.json`` keeps a note of the change."""
        reason = f"left by the previous config (fingerprint {previous})"
        stale = [self.layout.config_toml, self.layout.config_json]
        for directory in (self.layout.failed_dir, self.layout.examples_dir, self.layout.maps_dir):
            stale += sorted(directory.glob("*"))
        for path in stale:
            if path.is_file():
                quarantine(self.layout, path, reason)
        environment = environment_record()
        environment["reconfigured"] = [
            *self._environment().get("reconfigured", []),
            {"time": environment["started"], "from": previous, "to": config.fingerprint()},
        ]
        self._write_config(config, environment)
        logger.warning(
            "%s held no finished cell of config %s: reused for this config (%s)",
            self.path,
            previous,
            config.fingerprint(),
        )

    def _environment(self) -> dict[str, Any]:
        """``environment.json``; an unreadable one is quarantined and starts afresh."""
        path = self.layout.environment
        try:
            environment = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(environment, dict):
                return environment
            reason = "expected a JSON object"
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            reason = f"not valid JSON ({error})"
        quarantine(self.layout, path, reason)
        return {}

    def _stored_fingerprint(self) -> str | None:
        """The fingerprint in ``config.json`` (or, where that file is unreadable, of the
        config in ``config.toml``, which :meth:`recover` then writes back); ``None`` when
        neither can be read."""
        try:
            return self.fingerprint()
        except (OSError, ValueError, KeyError, TypeError):
            config = self._config_from_toml()
            return None if config is None else config.fingerprint()

    def _config_from_toml(self) -> HarnessConfig | None:
        """The config of ``config.toml``, or ``None`` where it is missing or unreadable."""
        from comparisons.config import read_config_for_report

        return read_config_for_report(self.layout.config_toml)

    def _recover_config_files(self) -> list[QuarantinedFile | None]:
        """An unreadable ``config.json`` beside a readable ``config.toml`` is moved aside
        and written again from it; an unreadable ``methods.json`` or ``environment.json``
        is moved aside (``methods.json`` is written again from the config)."""
        moved: list[QuarantinedFile | None] = []
        layout = self.layout
        try:
            config: HarnessConfig | None = self.config()
        except (OSError, ValueError, KeyError, TypeError) as error:
            config = self._config_from_toml()
            if config is not None and layout.config_json.is_file():
                moved.append(
                    quarantine(layout, layout.config_json, f"unreadable ({error})", required=True)
                )
                write_stored_config(config, layout.config_toml, layout.config_json)
        problem = _json_object_problem(layout.methods, values_are_objects=True)
        if problem is not None:
            moved.append(quarantine(layout, layout.methods, problem, required=True))
            if config is not None:
                write_json(layout.methods, _methods_record(config))
        problem = _json_object_problem(layout.environment)
        if problem is not None:
            moved.append(quarantine(layout, layout.environment, problem, required=True))
        return moved

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
        """The config this folder was created for.

        Raises:
            ValueError: ``config.json`` is unreadable (the message names it).
        """
        return read_stored_config(self.layout.config_json)

    def fingerprint(self) -> str:
        return stored_fingerprint(self.layout.config_json)

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

    def count_models(self) -> int:
        return len(list(self.layout.models_dir.glob("*.json")))

    def unusable_files(self) -> list[tuple[Path, str]]:
        """The finished files that cannot be used, each with the reason (nothing is moved).

        A model, cell or pair file that is not valid JSON rows; a cell whose examples file
        is missing or unreadable, or whose maps or per-example file is unreadable (then that
        file comes first, then the cell), or missing where the folder's other cells have
        theirs (a file deleted). A cell without a maps or per-example file in a folder where
        no cell has one (a run from before they existed) is usable: the model-pair stage and
        the statistics leave it out.
        """
        found: list[tuple[Path, str]] = []
        writes_maps = any(self.layout.maps_dir.glob("*.pt"))
        writes_per_example = any(self.layout.per_example_dir.glob("*.csv.gz"))
        for path in sorted(self.layout.models_dir.glob("*.json")):
            found += _rows_problem(path, _model_rows_belong)
        for path in sorted(self.layout.pairs_dir.glob("*.json")):
            found += _rows_problem(path)
        for path in sorted(self.layout.cells_dir.glob("*.json")):
            problem = _rows_problem(path, _cell_rows_belong)
            if problem:
                found += problem
                continue
            examples = self.layout.examples(path.stem)
            try:
                read_examples_file(examples)
            except ValueError as error:
                if examples.is_file():
                    found.append((examples, str(error)))
                found.append((path, f"its examples file {examples.name} is {error}"))
                continue
            for kind, extra, read, written in (
                ("maps", self.layout.maps(path.stem), read_maps_file, writes_maps),
                (
                    "per-example",
                    self.layout.per_example(path.stem),
                    read_per_example,
                    writes_per_example,
                ),
            ):
                if not extra.is_file():
                    if written:  # the other cells have theirs: this one was deleted
                        found.append((path, f"its {kind} file {extra.name} is missing"))
                        break
                    continue
                try:
                    read(extra)
                except ValueError as error:
                    found.append((extra, str(error)))
                    found.append((path, f"its {kind} file {extra.name} is {error}"))
                    break
        return found

    def finished(self) -> tuple[set[str], set[str]]:
        """The keys of the usable finished cells (with the cells whose method does not apply
        to their model, :meth:`not_applicable`) and models (read only: nothing is moved)."""
        unusable = {path for path, _ in self.unusable_files()}
        cells = {p.stem for p in self.layout.cells_dir.glob("*.json") if p not in unusable}
        models = {p.stem for p in self.layout.models_dir.glob("*.json") if p not in unusable}
        return cells | set(self.not_applicable()), models

    def not_applicable(self) -> dict[str, str]:
        """The cells whose method refused their model (:meth:`write_not_applicable`), each
        with the method's reason."""
        found = {}
        for path in sorted(self.layout.not_applicable_dir.glob("*.txt")):
            if _is_cell_key(path.stem):
                try:
                    found[path.stem] = path.read_text(encoding="utf-8").strip()
                except OSError:  # unreadable: the cell is not done, the next run asks again
                    continue
        return found

    def write_not_applicable(self, key: str, reason: str) -> None:
        """Cell ``key`` is done without rows: its method refuses its model (an
        ``UnsupportedModelError``, e.g. DeepSHAP's rules on a transformer's LayerNorm). A
        rerun does not retry it, and the model-pair stage compares the methods both models
        have."""
        write_text(self.layout.not_applicable(key), reason.rstrip() + "\n")
        self.layout.failure(key).unlink(missing_ok=True)
        self._unrecorded_failures.discard(key)

    def recover(self) -> list[QuarantinedFile]:
        """Move every unusable finished file (:meth:`unusable_files`) to the quarantine, so
        it counts as not done and the next run recomputes it; each is logged with the file
        name and the reason. Complete files are never touched: every write is atomic.

        Returns:
            What was moved.
        """
        moved = self._recover_config_files()
        moved += [
            quarantine(self.layout, path, reason, required=True)
            for path, reason in self.unusable_files()
        ]
        return [record for record in moved if record is not None]

    def write_model(self, key: str, rows: list[ResultRow], record: dict[str, Any]) -> None:
        """The rows and training record of a trained model (written once)."""
        if not self.has_model(key):
            write_json(
                self.layout.model(key),
                {"rows": [r.to_record() for r in rows], "training": record},
            )

    def write_cell(
        self,
        key: str,
        rows: list[ResultRow],
        examples: dict[str, Any],
        per_example: pd.DataFrame | None = None,
        maps: dict[str, Any] | None = None,
    ) -> None:
        """A finished cell: its examples, per-example values (a table from
        :func:`~comparisons.run_folder.per_example_table`) and evaluated maps (for the
        model-pair stage) first, then its rows (the marker of completion).

        Raises:
            OSError: A write failed (full disk, read-only folder); the cell is not marked
                done, so a rerun computes it again.
        """
        write_torch(self.layout.examples(key), examples)
        if per_example is not None:
            write_bytes(self.layout.per_example(key), per_example_bytes(per_example))
        if maps is not None:
            write_torch(self.layout.maps(key), maps)
        write_json(self.layout.cell(key), {"rows": [r.to_record() for r in rows]})
        self.layout.failure(key).unlink(missing_ok=True)
        self._unrecorded_failures.discard(key)

    def record_failure(self, key: str, error: BaseException) -> None:
        """Keep the traceback of a failed cell in ``failed/<key>.txt`` (retried on resume).

        A failure that cannot be written (the disk is full) is logged instead.
        """
        text = "".join(traceback.format_exception(error))
        try:
            write_text(self.layout.failure(key), text)
        except OSError as write_error:
            self._unrecorded_failures.add(key)
            logger.error("cannot record the failure of %s (%s)", key, write_error)

    @property
    def failed(self) -> list[str]:
        """Keys of cells whose last attempt failed (recorded in ``failed/``, or not
        recordable: the disk was full)."""
        recorded = {p.stem for p in self.layout.failed_dir.glob("*.txt") if _is_cell_key(p.stem)}
        return sorted(recorded | self._unrecorded_failures)

    def copy_finished_from(self, source: RunFolder) -> None:
        """Copy ``source``'s finished models, cells and pairs that this folder lacks (merge).

        A cell's examples, per-example values and maps are copied before its rows, each
        file atomically, so an interrupted merge never leaves a cell that looks done without
        its examples.
        Unreadable files of ``source`` are skipped with a warning (``source`` is not
        changed), so their cells count as missing.
        """
        for source_path in sorted(source.layout.models_dir.glob("*.json")):
            if _usable(source_path, read_rows_file):
                _copy_atomically(source_path, self.layout.model(source_path.stem))
        for source_path in sorted(source.layout.cells_dir.glob("*.json")):
            key = source_path.stem
            examples = source.layout.examples(key)
            if self.has_cell(key) or not (
                _usable(source_path, read_rows_file) and _usable(examples, read_examples_file)
            ):
                continue
            _copy_atomically(examples, self.layout.examples(key))
            if source.layout.per_example(key).is_file():
                _copy_atomically(source.layout.per_example(key), self.layout.per_example(key))
            if source.layout.maps(key).is_file() and _usable(
                source.layout.maps(key), read_maps_file
            ):
                _copy_atomically(source.layout.maps(key), self.layout.maps(key))
            _copy_atomically(source_path, self.layout.cell(key))
        for source_path in sorted(source.layout.pairs_dir.glob("*.json")):
            if _usable(source_path, read_rows_file):
                _copy_atomically(source_path, self.layout.pair(source_path.stem))
        for key, reason in source.not_applicable().items():
            if not self.has_cell(key) and key not in self.not_applicable():
                self.write_not_applicable(key, reason)

    def rows(self) -> list[ResultRow]:
        """Every row of every finished model, cell and compared pair of models, sorted.

        Never fails on one bad file: an unreadable one is moved to the quarantine (logged
        with its name and the reason) and its rows are left out.
        """
        rows = []
        for directory in (self.layout.models_dir, self.layout.cells_dir, self.layout.pairs_dir):
            for path in sorted(directory.glob("*.json")):
                try:
                    rows += read_rows_file(path)
                except (OSError, ValueError) as error:
                    quarantine(self.layout, path, str(error))
        return sorted_rows(rows)

    def write_tables(self) -> None:
        """``results.json`` and ``results.csv`` from every finished model and cell."""
        rows = self.rows()
        write_json(self.layout.results_json, [r.to_record() for r in rows])
        write_text(self.layout.results_csv, results_csv(rows))

    def load_maps(self, key: str) -> dict[str, Any] | None:
        """The evaluated maps of cell ``key`` (:meth:`write_cell`), ``None`` when the cell
        has none (a run from before maps files existed).

        Raises:
            ValueError: Unreadable (the message names the file).
        """
        path = self.layout.maps(key)
        if not path.is_file():
            return None
        try:
            return read_maps_file(path)
        except ValueError as error:
            raise ValueError(f"expected a readable maps file {path}, got one {error}") from error

    def write_pair(self, key: str, rows: list[ResultRow], record: dict[str, Any]) -> None:
        """The rows of a compared pair of models and its record (what was compared, the
        per-example values), written atomically; a later call replaces them."""
        write_json(self.layout.pair(key), {"rows": [r.to_record() for r in rows], **record})

    def pair_record(self, key: str) -> dict[str, Any] | None:
        """The stored pair file of ``key`` (its ``rows`` and record), ``None`` when there is
        none or it cannot be read (:meth:`recover` quarantines the latter)."""
        path = self.layout.pair(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def load_examples(self, key: str) -> dict[str, Any]:
        """The examples of cell ``key``.

        Raises:
            ValueError: Missing or unreadable (the message names the file).
        """
        path = self.layout.examples(key)
        try:
            return read_examples_file(path)
        except ValueError as error:
            message = f"expected a readable examples file {path}, got one {error}"
            raise ValueError(message) from error


def _methods_record(config: HarnessConfig) -> dict[str, Any]:
    """``methods.json``: per method of ``config``, its facts with its options."""
    return {
        name: config.method_spec(name).facts(config.method_options.get(name))
        for name in config.methods
    }


def _json_object_problem(path: Path, values_are_objects: bool = False) -> str | None:
    """Why the JSON object file at ``path`` is unusable; ``None`` when usable or absent."""
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return f"not valid JSON ({error})"
    if not isinstance(content, dict):
        return f"expected a JSON object, got {type(content).__name__}"
    if values_are_objects and not all(isinstance(v, dict) for v in content.values()):
        return "expected each method name to map to its facts"
    return None


def method_facts(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The facts of method ``name`` built with ``options`` that ``methods.json`` records
    (:meth:`captum_ifim.MethodSpec.facts`: e.g. a CAM with ``normalization="none"`` does
    not normalize its maps)."""
    return get_method_spec(name).facts(options)


def _rows_problem(
    path: Path, belong: Callable[[str, ResultRow], bool] | None = None
) -> list[tuple[Path, str]]:
    """Why the rows file at ``path`` cannot be used: unreadable, or (with ``belong``)
    holding rows of another cell or model than its name says; empty when usable."""
    try:
        rows = read_rows_file(path)
    except (OSError, ValueError) as error:
        return [(path, str(error))]
    if belong is not None:
        strangers = [r for r in rows if not belong(path.stem, r)]
        if strangers:
            r = strangers[0]
            found = f"{r.dataset}__{r.model}__seed{r.seed}" + (f"__{r.method}" if r.method else "")
            return [(path, f"holds rows of another cell or model ({found}), not of {path.stem}")]
    return []


def _is_cell_key(text: str) -> bool:
    """``text`` names a cell (``<dataset>__<model>__seed<k>__<method>``); another file in
    ``failed/`` (a note of the user's) is not a failure of the run."""
    try:
        CellKey.parse(text)
    except ValueError:
        return False
    return True


def _cell_rows_belong(key: str, row: ResultRow) -> bool:
    try:
        cell = CellKey.parse(key)
    except ValueError:
        return False
    return (row.dataset, row.model, row.seed, row.method) == (
        cell.group.dataset,
        cell.group.model,
        cell.group.seed,
        cell.method,
    )


def _model_rows_belong(key: str, row: ResultRow) -> bool:
    return not row.method and f"{row.dataset}__{row.model}__seed{row.seed}" == key


def _usable(path: Path, read: Callable[[Path], object]) -> bool:
    try:
        read(path)
    except (OSError, ValueError) as error:
        logger.warning("skipping the unreadable %s: %s", path, error)
        return False
    return True


def _copy_atomically(source: Path, target: Path) -> None:
    if not target.exists():
        write_bytes(target, source.read_bytes())
