"""Join the run folders of ``--shard i/n`` runs into one run folder with the full tables."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from comparisons._cells import cells_of, groups_of
from comparisons._run_folder import RunFolder

logger = logging.getLogger(__name__)


def merge(output: Path, shards: list[Path]) -> tuple[RunFolder, list[str]]:
    """Copy every finished model and cell of ``shards`` into ``output`` and write its tables.

    All shards must be runs of the same config. A cell present in several shards is taken
    from the first that has it. Nothing in a shard folder is changed.

    Returns:
        The merged folder and the keys of the config's cells that no shard has finished.

    Raises:
        ValueError: No shards, a folder that is not a run, or shards of different configs.
    """
    if not shards:
        raise ValueError("expected at least one shard run folder to merge, got none")
    folders = []
    for path in shards:
        if not (Path(path) / "config.json").is_file():
            raise ValueError(f"expected a run folder (with config.json), got {str(path)!r}")
        folders.append(RunFolder(Path(path)))
    config = folders[0].config()
    for folder in folders[1:]:
        if folder.fingerprint() != folders[0].fingerprint():
            raise ValueError(
                f"expected shards of one config, got {folder.path} with another config than "
                f"{folders[0].path}"
            )
    merged = RunFolder.create(output, config)
    for folder in folders:
        if folder.path.resolve() == merged.path.resolve():
            continue
        for kind in ("models", "cells", "examples"):
            for source in sorted((folder.path / kind).glob("*")):
                target = merged.path / kind / source.name
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if kind == "cells":  # a cell's examples go first: its json marks it done
                    examples = folder.path / "examples" / f"{source.stem}.pt"
                    (merged.path / "examples").mkdir(exist_ok=True)
                    shutil.copy2(examples, merged.path / "examples" / examples.name)
                temporary = target.with_name(f".{target.name}.tmp")
                shutil.copy2(source, temporary)
                temporary.replace(target)
    missing = [
        cell.key
        for group in groups_of(config)
        for cell in cells_of(config, group)
        if not merged.has_cell(cell.key)
    ]
    merged.write_tables()
    if missing:
        logger.warning("%d cells are in no shard: %s", len(missing), ", ".join(missing[:10]))
    return merged, missing
