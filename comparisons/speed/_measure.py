"""Timing and memory of one cell, run inside a fresh worker process.

Each cell builds its model from the cell's seed and draws its batch from a seeded
generator, so every method of a configuration sees the same weights and the same inputs
(the row's checksums show it). The method is called ``warmup`` times untimed, then up to
``repeats`` times timed (fewer when the first call says ``cell_budget_s`` would be
exceeded, at least once); the median is reported. Memory is read around the timed work:
on CPU the resident set before (``/proc/self/statm``) and its peak after
(``getrusage(RUSAGE_SELF).ru_maxrss``), on CUDA ``torch.cuda.max_memory_allocated``.
Backward passes are counted over all the calls (a Python counter around
``torch.autograd.grad``, nothing measurable) and reported per call.
"""

from __future__ import annotations

import logging
import os
import resource
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn

from captum_ifim import UnsupportedModelError
from captum_ifim.functional import fisher_factor
from comparisons.models import build_model
from comparisons.speed._backward_count import BackwardCounter
from comparisons.speed._method_calls import method_call
from comparisons.speed._timed_cell import IFIM, Row, TimedCell
from comparisons.speed._zoo import ZOO_NETWORKS, build_zoo_network

logger = logging.getLogger(__name__)

_MIB = 2**20


def current_rss_mib() -> float:
    """Resident memory of this process now, MiB (the peak so far where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / _MIB
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MIB if sys.platform == "darwin" else peak / 1024


def time_calls(
    call: Callable[[], object],
    warmup: int,
    repeats: int,
    budget_s: float,
    synchronize: Callable[[], None] = lambda: None,
) -> list[float]:
    """Wall times of the timed calls, seconds, after ``warmup`` untimed ones.

    The first call (warm-up or timed) sets how many timed calls fit in ``budget_s``:
    ``min(repeats, max(1, budget_s // first))``.
    """
    planned: int | None = None
    for _ in range(warmup):
        start = time.perf_counter()
        call()
        synchronize()
        if planned is None:
            planned = _fitting(repeats, budget_s, time.perf_counter() - start)
    times: list[float] = []
    while len(times) < (planned or repeats):
        synchronize()
        start = time.perf_counter()
        call()
        synchronize()
        times.append(time.perf_counter() - start)
        if planned is None:
            planned = _fitting(repeats, budget_s, times[0])
    return times


def _fitting(repeats: int, budget_s: float, first_s: float) -> int:
    return max(1, min(repeats, int(budget_s // max(first_s, 1e-9))))


def scale_logits(model: nn.Module, scale: float) -> nn.Module:
    """Multiply the weight and bias of the model's last ``nn.Linear`` by ``scale``, in place.

    Raises:
        ValueError: The model has no ``nn.Linear``.
    """
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError(f"expected a model with an nn.Linear head, got {type(model).__name__}")
    with torch.no_grad():
        for parameter in linear[-1].parameters():
            parameter.mul_(scale)
    return model


def _checksum(tensors: list[Tensor]) -> float:
    return float(sum(t.detach().double().sum().item() for t in tensors))


def measure_cell(cell: TimedCell) -> Row:
    """Time one cell and read its memory; errors become a ``failed`` row.

    Args:
        cell: The configuration.

    Returns:
        The row; ``ratio_to_saliency`` is filled in later, from the Saliency row.
    """
    try:
        return _measure(cell)
    except UnsupportedModelError as error:  # DeepSHAP on a ViT: not a failure of the run
        first = error.operations[0]
        return Row.for_cell(cell, "skipped", f"{error.method} has no exact rule for {first}")
    except Exception as error:  # the benchmark goes on; the row says what went wrong
        logger.debug("cell %s failed:\n%s", cell, traceback.format_exc())
        return Row.for_cell(cell, "failed", f"{type(error).__name__}: {error}")


def _measure(cell: TimedCell) -> Row:
    torch.set_num_threads(cell.threads)
    warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")
    device = torch.device(cell.device)
    if cell.model in ZOO_NETWORKS:
        network = ZOO_NETWORKS[cell.model]
        model = build_zoo_network(cell.model, cell.num_classes, cell.side, cell.seed)
        shape = network.input_shape(cell.batch, cell.side)[1:]
    else:
        shape = (1, cell.side, cell.side)
        model = build_model(cell.model, 1, cell.num_classes, shape[1:], seed=cell.seed).eval()
    if cell.logit_scale != 1:
        scale_logits(model, cell.logit_scale)
    model = model.to(device)
    generator = torch.Generator().manual_seed(cell.seed + 1)
    inputs = torch.randn(cell.batch, *shape, generator=generator).to(device)
    background = torch.randn(cell.background, *shape, generator=generator).to(device)
    with torch.no_grad():
        targets = model(inputs).argmax(dim=1)
    call = method_call(cell.method, model, inputs, targets, background, cell.class_mass)
    cuda = device.type == "cuda"
    synchronize = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = current_rss_mib()
    with BackwardCounter() as counter:
        times = time_calls(call, cell.warmup, cell.repeats, cell.cell_budget_s, synchronize)
    rss_peak = peak_rss_mib()
    cuda_peak = torch.cuda.max_memory_allocated(device) / _MIB if cuda else None
    calls = cell.warmup + len(times)
    if counter.count % calls:
        raise RuntimeError(
            f"expected the same backward passes in each of {calls} calls, "
            f"got {counter.count} in all"
        )
    retained = None
    if cell.method == IFIM:
        with torch.no_grad():
            factor = fisher_factor(model(inputs), "logits", cell.class_mass)
        retained = float(factor.retained_mass.min())
    row = Row.for_cell(cell, "ok")
    row.repeats_done = len(times)
    row.median_s = statistics.median(times)
    row.min_s = min(times)
    row.max_s = max(times)
    row.backward_passes = counter.count // calls
    row.retained_mass_min = retained
    row.rss_before_mib = rss_before
    row.rss_peak_mib = rss_peak
    row.rss_increase_mib = max(0.0, rss_peak - rss_before)
    row.cuda_peak_mib = cuda_peak
    row.weights_checksum = _checksum(list(model.state_dict().values()))
    row.inputs_checksum = _checksum([inputs])
    return row
