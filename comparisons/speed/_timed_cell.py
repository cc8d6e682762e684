"""What the benchmark times (a :class:`TimedCell`) and what it records (a :class:`Row`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Literal, get_args

from captum_ifim import available_methods

MethodName = Literal["saliency", "ifim-sensitive", "naive", "gradcam", "scorecam", "deepshap"]
#: The methods of the grid and the targets, in report order: registry names
#: (:func:`captum_ifim.available_methods`), and ``naive``, the benchmark's own reference
#: (:func:`comparisons.speed.naive_ifim_map`, no registered method). The iFIM restricted
#: with ``class_mass`` is ``ifim-sensitive`` with its ``class_mass`` set.
METHODS: tuple[str, ...] = get_args(MethodName)


def timed_methods() -> tuple[str, ...]:
    """Every method the benchmark can time, in report order: :data:`METHODS`, then every
    other registered method (yours included, once registered)."""
    return tuple(dict.fromkeys([*METHODS, *available_methods()]))


#: The iFIM's map S(x) (eq. 16), whose cost the targets are about.
IFIM = "ifim-sensitive"
#: The one method of :data:`METHODS` that the registry does not hold.
NAIVE = "naive"
#: The names of speed CSVs written before the benchmark used the registry's (read back
#: as these; ``ifim-mass`` rows carry their ``class_mass``).
FORMER_METHOD_NAMES: Mapping[str, str] = MappingProxyType({"ifim": IFIM, "ifim-mass": IFIM})

Status = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class TimedCell:
    """One timed configuration: a method on a model, a class count, an image side, a batch.

    Attributes:
        suites: The suites that asked for it (``"grid"``, ``"targets"``).
        model: A :func:`comparisons.models.build_model` name.
        num_classes: C.
        side: Image side; inputs are (batch, 1, side, side), or the zoo network's
            (batch, channels, side, ...) (:data:`comparisons.speed.ZOO_NETWORKS`).
        batch: N.
        method: One of :data:`METHODS`.
        class_mass: For ``ifim-sensitive``: the probability mass kept (the option
            ``class_mass``); ``None``: the exact iFIM, and for every other method.
        logit_scale: The model's last linear layer (weight and bias) is multiplied by it:
            1 is the freshly initialised network, whose softmax is nearly flat; larger
            values give a confident classifier, as after training. The cost is the same;
            only ``class_mass`` (how many classes hold the mass) depends on it.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        threads: ``torch.set_num_threads`` in the worker.
        repeats: Timed calls asked for (fewer when ``cell_budget_s`` runs out, never 0).
        warmup: Untimed calls first.
        cell_budget_s: Seconds of timed calls to aim for per cell.
        background: DeepSHAP's reference samples.
        seed: Seeds the model weights, the inputs and the background.
    """

    suites: tuple[str, ...]
    model: str
    num_classes: int
    side: int
    batch: int
    method: str
    class_mass: float | None = None
    logit_scale: float = 1.0
    device: str = "cpu"
    threads: int = 1
    repeats: int = 5
    warmup: int = 1
    cell_budget_s: float = 20.0
    background: int = 4
    seed: int = 0

    @property
    def key(self) -> tuple[object, ...]:
        """Identity of the measurement (cells from two suites with one key run once)."""
        return (
            self.model,
            self.num_classes,
            self.side,
            self.batch,
            self.method,
            self.class_mass,
            self.logit_scale,
            self.device,
        )

    @property
    def spatial_dims(self) -> int:
        """3 for a 3-D zoo network, else 2."""
        from comparisons.speed._zoo import ZOO_NETWORKS

        network = ZOO_NETWORKS.get(self.model)
        return network.spatial_dims if network is not None else 2

    @property
    def configuration(self) -> tuple[object, ...]:
        """Model, C, side, batch, logit scale and device: cells sharing it share a Saliency
        reference."""
        return (self.model, self.num_classes, self.side, self.batch, self.logit_scale, self.device)


@dataclass
class Row:
    """One line of the results CSV: a cell and what was measured (``None`` if not).

    Attributes:
        suite: ``+``-joined suites.
        model, num_classes, side, batch, method, class_mass, logit_scale, device, threads:
            The cell.
        pixels: Pixels (voxels) per input: side ** 2, or side ** 3 for a 3-D network.
        status: ``ok``, ``skipped`` (a cap; never run) or ``failed`` (an error; see reason).
        reason: Why a cell was skipped or failed.
        warmup, repeats: As asked. ``repeats_done``: timed calls made.
        median_s, min_s, max_s: Wall time of one call over the timed calls, seconds.
        ratio_to_saliency: ``median_s`` over that of Saliency on the same configuration.
        backward_passes: ``torch.autograd.grad``/``backward`` calls in one call.
        retained_mass_min: iFIM only: the smallest probability mass the iFIM was built from.
        rss_before_mib: Resident memory of the worker before the warm-up (MiB).
        rss_peak_mib: Its peak resident memory (``ru_maxrss``) after the timed calls.
        rss_increase_mib: ``rss_peak_mib - rss_before_mib``.
        cuda_peak_mib: ``torch.cuda.max_memory_allocated`` over the timed calls (CUDA).
        weights_checksum, inputs_checksum: Sums of the weights and of the inputs, equal for
            every method of a configuration (same model, same batch).
    """

    suite: str
    model: str
    num_classes: int
    side: int
    pixels: int
    batch: int
    method: str
    class_mass: float | None
    logit_scale: float
    device: str
    threads: int
    status: Status
    reason: str = ""
    warmup: int = 0
    repeats: int = 0
    repeats_done: int = 0
    median_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    ratio_to_saliency: float | None = None
    backward_passes: int | None = None
    retained_mass_min: float | None = None
    rss_before_mib: float | None = None
    rss_peak_mib: float | None = None
    rss_increase_mib: float | None = None
    cuda_peak_mib: float | None = None
    weights_checksum: float | None = None
    inputs_checksum: float | None = None

    @classmethod
    def for_cell(cls, cell: TimedCell, status: Status, reason: str = "") -> Row:
        """A row holding only the cell's description."""
        return cls(
            suite="+".join(cell.suites),
            model=cell.model,
            num_classes=cell.num_classes,
            side=cell.side,
            pixels=cell.side**cell.spatial_dims,
            batch=cell.batch,
            method=cell.method,
            class_mass=cell.class_mass,
            logit_scale=cell.logit_scale,
            device=cell.device,
            threads=cell.threads,
            status=status,
            reason=reason,
            warmup=cell.warmup,
            repeats=cell.repeats,
        )

    @property
    def peak_mib(self) -> float | None:
        """The peak memory the targets use: CUDA's allocator peak on a GPU, else peak RSS."""
        return self.cuda_peak_mib if self.device.startswith("cuda") else self.rss_peak_mib

    @property
    def working_mib(self) -> float | None:
        """Memory of the work itself: CUDA's allocator peak, else the RSS increase."""
        return self.cuda_peak_mib if self.device.startswith("cuda") else self.rss_increase_mib


def method_label(row: Row) -> str:
    """A row's method as the summary and the figures name it: the registry name, with the
    iFIM's ``class_mass`` where it is set (``ifim-sensitive class_mass=0.99``)."""
    return row.method if row.class_mass is None else f"{row.method} class_mass={row.class_mass:g}"


#: The CSV columns, in order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Row))
