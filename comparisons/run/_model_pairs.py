"""The model-pair stage: every two models trained on a dataset, compared on the same images.

After the groups of a run (:func:`comparisons.run._runner.run`) and after a merge, every pair of
groups of each dataset (two architectures, or two seeds of one) is compared on the test
images both evaluated, from what their cells stored in the run folder (``maps/<cell>.pt``,
written by :func:`evaluated_maps`), so no model is needed and shards merge cleanly:

- ``subspace-overlap`` (methods with an iFIM spectrum, i.e. ``ifim-sensitive``): at each
  image, the mean cos^2 of the principal angles between the two models' iFIM eigenspaces
  U_K (eqs. 9, 13; :func:`captum_ifim.metrics.subspace_overlap`), then the mean over the
  images where both K > 0;
- ``map-correlation`` (every method): the Pearson correlation of the two models' maps of
  each image (for ``ifim-sensitive`` the S(x) of eq. 16), then the mean over the images
  where it is defined. For the baselines this is the reference: how much a method's maps
  move between two seeds of one architecture, or between two architectures.

Rows: ``model = "<a>|<b>"``, ``setting = "seeds=<i>|<j>"``, ``seed = i``
(:class:`~comparisons.run_folder.PairKey`); one file ``pairs/<pair>.json`` per pair, with
the per-example values. A pair is done when its file lists the methods both groups have
now; a pair whose groups gained a method since (a failed cell redone) is compared again.
What the overlap does and does not mean: docs/theory.md, "Comparing two models' iFIM
subspaces".
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_ifim.metrics import pearson_per_sample, subspace_overlap
from comparisons.config import HarnessConfig
from comparisons.metrics import MAP_CORRELATION_ROW, SUBSPACE_OVERLAP_ROW
from comparisons.run._plan import groups_of
from comparisons.run._spectrum_maps import SpectrumMaps
from comparisons.run_folder import CellKey, GroupKey, PairKey, ResultRow, RunFolder

logger = logging.getLogger(__name__)

#: The result-row metrics of the stage (declared in :data:`comparisons.metrics.PAIR_ROWS`).
SUBSPACE_OVERLAP = SUBSPACE_OVERLAP_ROW.name
MAP_CORRELATION = MAP_CORRELATION_ROW.name


def evaluated_maps(
    maps: Tensor, test_indices: Tensor, spectrum: SpectrumMaps | None = None
) -> dict[str, Tensor]:
    """What a cell stores for the pair stage (``maps/<cell>.pt``).

    Args:
        maps: The method's maps of the evaluated images, (N, C, H, W) or (N, C, D, H, W)
            (channel dims may be 1).
        test_indices: (N,) their indices in the test split.
        spectrum: For a method with an iFIM spectrum, its decomposition of those images
            (:func:`~comparisons.run._spectrum_maps.spectrum_maps`): then its eigenspace
            U_K is stored too.

    Returns:
        ``test_indices`` (N,) long; ``maps`` float16, each map divided by its largest
        ``|value|`` (a Pearson correlation does not see the scale, and float16 keeps
        11 bits of the shape without underflowing small maps); ``scales`` (N,) float32,
        that largest value (0 for an all-zero map); with a spectrum ``basis`` (N, R, d)
        float32 and ``num_components`` (N,) long (K of eq. 13).
    """
    flat = maps.detach().flatten(1).abs().amax(dim=1)
    safe = torch.where(flat > 0, flat, torch.ones_like(flat))
    scaled = maps.detach() / safe.view(-1, *([1] * (maps.dim() - 1)))
    record = {
        "test_indices": test_indices.detach().to(torch.long).cpu(),
        "maps": scaled.to(torch.float16).cpu(),
        "scales": flat.to(torch.float32).cpu(),
    }
    if spectrum is not None:
        record["basis"], record["num_components"] = spectrum.basis, spectrum.num_components
    return record


@dataclass(frozen=True)
class EvaluatedMaps:
    """A cell's stored maps of every evaluated image, and its iFIM eigenspace when it has one.

    Attributes:
        test_indices: (N,) long, the test-set index of each image.
        maps: (N, ...) float64, each map scaled by its largest ``|value|``.
        basis: (N, d, R) float64 orthonormal U_K (columns past K zero), or ``None``.
        num_components: (N,) long K of each image (eq. 13), or ``None``.
    """

    test_indices: Tensor
    maps: Tensor
    basis: Tensor | None = None
    num_components: Tensor | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> EvaluatedMaps:
        """From what :func:`evaluated_maps` stored.

        Raises:
            ValueError: Inconsistent shapes.
        """
        indices, maps = record["test_indices"], record["maps"]
        n = indices.shape[0]
        if indices.dim() != 1 or maps.shape[0] != n:
            raise ValueError(
                f"expected test_indices (N,) and maps (N, ...), got {tuple(indices.shape)} and "
                f"{tuple(maps.shape)}"
            )
        basis, k = record.get("basis"), record.get("num_components")
        if basis is not None:
            if k is None or basis.dim() != 3 or basis.shape[0] != n or k.shape != (n,):
                shape = None if k is None else tuple(k.shape)
                raise ValueError(
                    f"expected basis (N, R, d) and num_components (N,) with N = {n}, got "
                    f"{tuple(basis.shape)} and {shape}"
                )
            basis = basis.to(torch.float64).transpose(1, 2)
            k = k.to(torch.long)
        return cls(indices.to(torch.long), maps.to(torch.float64), basis, k)


@dataclass(frozen=True)
class PairValues:
    """One method's per-image comparison of two models on the images both evaluated.

    Attributes:
        test_indices: (n,) the test-set indices, in the first model's order.
        map_correlation: (n,) float64 Pearson correlation of the two maps (NaN: constant).
        overlap: (n,) float64 mean cos^2 of the principal angles of the two U_K (NaN:
            a K of 0), or ``None`` without eigenspaces.
        num_components_a, num_components_b: (n,) K of each model, or ``None``.
    """

    test_indices: Tensor
    map_correlation: Tensor
    overlap: Tensor | None = None
    num_components_a: Tensor | None = None
    num_components_b: Tensor | None = None


def compare_maps(a: EvaluatedMaps, b: EvaluatedMaps) -> PairValues:
    """Compare two cells' stored maps (and eigenspaces) on the images both evaluated.

    Raises:
        ValueError: No image in common, or maps of different sizes.

    Example:
        >>> import torch
        >>> maps = torch.randn(3, 1, 4, 4, dtype=torch.float64)
        >>> basis = torch.linalg.qr(torch.randn(3, 16, 1, dtype=torch.float64)).Q
        >>> cell = EvaluatedMaps(torch.arange(3), maps, basis, torch.ones(3, dtype=torch.long))
        >>> same = compare_maps(cell, cell)
        >>> same.overlap.allclose(torch.ones(3, dtype=torch.float64)), same.map_correlation
        (True, tensor([1., 1., 1.], dtype=torch.float64))
    """
    position_b = {int(index): row for row, index in enumerate(b.test_indices.tolist())}
    rows_a = [row for row, index in enumerate(a.test_indices.tolist()) if index in position_b]
    if not rows_a:
        raise ValueError("expected the two models to share evaluated test images, got none")
    rows_b = [position_b[int(a.test_indices[row])] for row in rows_a]
    ia, ib = torch.tensor(rows_a), torch.tensor(rows_b)
    correlation = pearson_per_sample(a.maps[ia], b.maps[ib])
    if a.basis is None or b.basis is None or a.num_components is None or b.num_components is None:
        return PairValues(a.test_indices[ia], correlation)
    k_a, k_b = a.num_components[ia], b.num_components[ib]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty U_K: NaN, counted in n
        overlap = subspace_overlap(a.basis[ia], b.basis[ib], k_a, k_b)
    return PairValues(a.test_indices[ia], correlation, overlap, k_a, k_b)


def model_pairs(config: HarnessConfig) -> list[PairKey]:
    """Every unordered pair of the config's groups on one dataset, in plan order."""
    groups = groups_of(config)
    datasets = list(dict.fromkeys(g.dataset for g in groups))
    return [
        PairKey(a, b)
        for dataset in datasets
        for a, b in itertools.combinations([g for g in groups if g.dataset == dataset], 2)
    ]


def _finite_mean(values: Tensor) -> tuple[float, int]:
    finite = values[torch.isfinite(values)]
    return (float(finite.mean()) if finite.numel() else math.nan), int(finite.numel())


def _pair_rows(pair: PairKey, compared: dict[str, PairValues]) -> list[ResultRow]:
    rows = []
    for method, values in compared.items():
        measured = [(MAP_CORRELATION, values.map_correlation)]
        if values.overlap is not None:
            measured.insert(0, (SUBSPACE_OVERLAP, values.overlap))
        for metric, per_example in measured:
            value, n = _finite_mean(per_example)
            rows.append(
                ResultRow(
                    pair.dataset, pair.model, pair.a.seed, method, metric, pair.setting, value, n
                )
            )
    return rows


def _pair_record(pair: PairKey, compared: dict[str, PairValues]) -> dict[str, Any]:
    examples: dict[str, Any] = {}
    for method, values in compared.items():
        entry: dict[str, Any] = {
            "test_index": values.test_indices.tolist(),
            MAP_CORRELATION: values.map_correlation.tolist(),
        }
        if values.overlap is not None:
            entry[SUBSPACE_OVERLAP] = values.overlap.tolist()
            entry["num_components_a"] = values.num_components_a.tolist()  # type: ignore[union-attr]
            entry["num_components_b"] = values.num_components_b.tolist()  # type: ignore[union-attr]
        examples[method] = entry
    return {
        "pair": {"dataset": pair.dataset, "a": pair.a.key, "b": pair.b.key},
        "methods": list(compared),
        "examples": examples,
    }


@dataclass(frozen=True)
class PairStage:
    """What one pass of the stage did.

    Attributes:
        written: Pairs compared and written now.
        done: Pairs already compared, with every method both groups have (not recomputed).
        waiting: Pairs with a group whose cells are not all done (compared on a later run).
        failed: Pairs whose comparison raised (logged; retried on the next run).
    """

    written: tuple[PairKey, ...] = ()
    done: tuple[PairKey, ...] = ()
    waiting: tuple[PairKey, ...] = ()
    failed: tuple[PairKey, ...] = ()


def compare_model_pairs(folder: RunFolder, config: HarnessConfig) -> PairStage:
    """Compare every pair of groups of each dataset whose cells are all done (the stage).

    Only the run folder is read: each cell's ``maps/<cell>.pt``. A cell without one (a run
    from before they existed) leaves its method out of the pair. Nothing raises: a pair that
    fails is logged and retried on the next run.

    Returns:
        A :class:`PairStage`.
    """
    cells_done, _ = folder.finished()
    methods = list(config.methods)

    def complete(group: GroupKey) -> bool:
        return all(CellKey(group, m).key in cells_done for m in methods)

    written: list[PairKey] = []
    done: list[PairKey] = []
    waiting: list[PairKey] = []
    failed: list[PairKey] = []
    for pair in model_pairs(config):
        if not (complete(pair.a) and complete(pair.b)):
            waiting.append(pair)
            continue
        compared_methods = [
            m
            for m in methods
            if folder.layout.maps(CellKey(pair.a, m).key).is_file()
            and folder.layout.maps(CellKey(pair.b, m).key).is_file()
        ]
        record = folder.pair_record(pair.key)
        if record is not None and record.get("methods") == compared_methods:
            done.append(pair)
            continue
        try:
            compared = _compare_pair(folder, pair, compared_methods, config)
            folder.write_pair(pair.key, _pair_rows(pair, compared), _pair_record(pair, compared))
        except Exception:  # one pair must not lose the others; the next run retries it
            logger.exception("model pair %s failed", pair.key)
            failed.append(pair)
            continue
        written.append(pair)
        logger.info("model pair %s compared (%d methods)", pair.key, len(compared))
    if written or failed or waiting:
        logger.info(
            "model pairs: %d compared, %d already done, %d waiting for their cells, %d failed",
            len(written),
            len(done),
            len(waiting),
            len(failed),
        )
    return PairStage(tuple(written), tuple(done), tuple(waiting), tuple(failed))


def _compare_pair(
    folder: RunFolder, pair: PairKey, methods: Sequence[str], config: HarnessConfig
) -> dict[str, PairValues]:
    compared = {}
    for method in methods:
        stored = [folder.load_maps(CellKey(group, method).key) for group in (pair.a, pair.b)]
        if stored[0] is None or stored[1] is None:  # removed meanwhile
            continue
        a, b = (EvaluatedMaps.from_record(record) for record in stored)
        if config.method_spec(method).has_spectrum and (a.basis is None or b.basis is None):
            logger.warning("%s: %s has no stored eigenspace, no subspace overlap", pair.key, method)
        compared[method] = compare_maps(a, b)
    return compared
