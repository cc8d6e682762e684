"""Join the run folders of ``--shard i/n`` runs into one run folder with the full tables."""

from __future__ import annotations

import logging
from pathlib import Path

from comparisons.run._model_pairs import compare_model_pairs
from comparisons.run._plan import cells_of, groups_of
from comparisons.run_folder import RunFolder, RunLayout, RunLock

logger = logging.getLogger(__name__)


def merge(output: Path, shards: list[Path]) -> tuple[RunFolder, list[str]]:
    """Copy every finished model and cell of ``shards`` into ``output``, compare the pairs of
    models (:func:`~comparisons.run._model_pairs.compare_model_pairs`) and write its tables.

    All shards must be runs of the same config. A cell present in several shards is taken
    from the first that has it. Nothing in a shard folder is changed.

    Returns:
        The merged folder and the keys of the config's cells that no shard has finished.

    Raises:
        ValueError: No shards, a folder that is not a run, or shards of different configs.
        RunFolderLockedError: A run or another merge is writing into ``output``.
    """
    if not shards:
        raise ValueError("expected at least one shard run folder to merge, got none")
    folders = [RunFolder.open(Path(path)) for path in shards]
    config = folders[0].config()
    for folder in folders[1:]:
        if folder.fingerprint() != folders[0].fingerprint():
            raise ValueError(
                f"expected shards of one config, got {folder.path} with another config than "
                f"{folders[0].path}"
            )
    RunFolder(Path(output)).check_usable_for(config)  # a folder of user files: untouched
    with RunLock(RunLayout(Path(output))):  # no run or other merge writes into it meanwhile
        merged = RunFolder.create(output, config)
        for folder in folders:
            if folder.path.resolve() != merged.path.resolve():
                merged.copy_finished_from(folder)
        not_applicable = merged.not_applicable()
        missing = [
            cell.key
            for group in groups_of(config)
            for cell in cells_of(config, group)
            if not merged.has_cell(cell.key) and cell.key not in not_applicable
        ]
        compare_model_pairs(merged, config)  # pairs across shards: only the merge has both
        merged.write_tables()
    if missing:
        logger.warning("%d cells are in no shard: %s", len(missing), ", ".join(missing[:10]))
    return merged, missing
