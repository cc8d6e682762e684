"""One fresh worker process per cell, forked from a server that has only imported modules.

A fresh process per cell keeps the peak-memory reading of one method free of what the
previous ones left allocated. The workers come from a ``forkserver`` whose server imports
torch, Captum and the methods' libraries once and computes nothing, so a worker starts in
milliseconds instead of seconds and never inherits a used thread pool or a CUDA context.
A worker that dies (killed for memory, a crash) gives a ``failed`` row; the run goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

from comparisons.speed._speedups import SpeedupCell, SpeedupRow
from comparisons.speed._timed_cell import Row, TimedCell

logger = logging.getLogger(__name__)

#: Imported once by the fork server, so workers start with them loaded.
_PRELOAD = ["comparisons.speed._measure", "shap", "pytorch_grad_cam"]


def _work(cell: TimedCell | SpeedupCell, connection: Connection) -> None:
    from comparisons.speed._measure import measure_cell
    from comparisons.speed._speedups import measure_speedup

    connection.send(measure_speedup(cell) if isinstance(cell, SpeedupCell) else measure_cell(cell))
    connection.close()


def run_isolated(cells: Sequence[TimedCell | SpeedupCell]) -> Iterator[Any]:
    """Measure each cell in its own worker process, in order.

    Args:
        cells: The cells to run: timed cells, or speed-up cells.

    Yields:
        Per cell, as its worker finishes: a :class:`Row` for a timed cell, a list of
        :class:`~comparisons.speed._speedups.SpeedupRow` for a speed-up cell.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    for cell in cells:
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(target=_work, args=(cell, sender), daemon=True)
        worker.start()
        sender.close()
        try:
            row = receiver.recv()
        except EOFError:
            row = None
        finally:
            receiver.close()
        worker.join()
        if row is None:
            code = worker.exitcode
            reason = f"worker exited with code {code}" + (
                " (killed: out of memory?)" if code is not None and code < 0 else ""
            )
            logger.warning("%s: %s", cell, reason)
            if isinstance(cell, SpeedupCell):
                failed = SpeedupRow.for_cell(cell, "all", "", "failed")
                failed.reason = reason
                row = [failed]
            else:
                row = Row.for_cell(cell, "failed", reason)
        yield row
