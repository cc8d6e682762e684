"""The harness from Python: :func:`compare` a trained model on your data, :func:`load_results`.

:func:`compare` builds the same config a TOML file would (a ``[[datasets]]`` entry for data
given in Python, a ``[[models]]`` entry for the model, each named by a hash of its contents),
checks it with :func:`comparisons.config.parse_config`, and runs it with the CLI's runner,
so every method sees the same images, model and noise as in a ``python -m comparisons run``
of the same data, and the rows agree value for value.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from captum_ifim import as_logits_model
from comparisons.config import python_config, stable_hash
from comparisons.datasets import ImageDataset, ImageSplit, pixel_statistics
from comparisons.run_folder import (
    RESULT_COLUMNS,
    ResultRow,
    RunFolder,
    RunLayout,
    sorted_rows,
)
from comparisons.run_folder import load_results as load_results_json

if TYPE_CHECKING:
    import pandas as pd

Data = ImageDataset | tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]


def _frame(rows: Sequence[ResultRow]) -> pd.DataFrame:
    """The rows as a DataFrame with :data:`~comparisons.run_folder.RESULT_COLUMNS`."""
    import pandas as pd

    frame = pd.DataFrame([asdict(r) for r in sorted_rows(rows)], columns=list(RESULT_COLUMNS))
    return frame.astype({"seed": "int64", "n": "int64", "value": "float64"})


def load_results(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every result row of a run folder, as a tidy DataFrame.

    Reads the finished models and cells of a run folder (the same rows ``results.csv``
    holds after ``python -m comparisons report``), or, for a folder holding only a
    ``results.json``, that file.

    Args:
        run_dir: A run folder of ``python -m comparisons run`` or of :func:`compare`.

    Returns:
        One row per (dataset, model, seed, method, metric, setting), with the columns of
        ``results.csv`` (:data:`comparisons.run_folder.RESULT_COLUMNS`); ``value`` is NaN
        where undefined. Model rows (Table II: test accuracy, precision, recall) have an
        empty ``method``.

    Raises:
        ValueError: ``run_dir`` is not a run folder.
    """
    path = Path(run_dir)
    layout = RunLayout(path)
    if layout.config_json.is_file():
        return _frame(RunFolder.open(path).rows())
    if layout.results_json.is_file():
        return _frame(load_results_json(layout.results_json))
    raise ValueError(
        f"expected a run folder (with {layout.config_json.name} or {layout.results_json.name}),"
        f" got {str(run_dir)!r}"
    )


def _check_tensors(data: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor | None]:
    """The images (as float32), labels and masks, checked; the caller's tensors unchanged."""
    if len(data) not in (2, 3) or not all(isinstance(t, Tensor) for t in data):
        raise TypeError(
            "expected data as an ImageDataset, (images, labels) or (images, labels, masks) "
            f"tensors, got a tuple of {[type(t).__name__ for t in data]}"
        )
    for name, tensor in zip(("images", "labels", "masks"), data, strict=False):
        if tensor.is_meta:
            raise ValueError(
                f"expected {name} holding values (on the cpu or an accelerator), got a tensor "
                "on the meta device, which has a shape but no data"
            )
    images, labels = data[0], data[1]
    masks = data[2] if len(data) == 3 else None
    if images.dim() not in (4, 5) or not images.is_floating_point() or len(images) < 2:
        raise ValueError(
            f"expected images (N, C, H, W) or (N, C, D, H, W) floating point with N >= 2, got "
            f"{tuple(images.shape)} {images.dtype}"
        )
    images = images.detach().to(torch.float32)  # the harness computes in float32
    _check_finite(images, "the images")
    if labels.shape != (len(images),) or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(
            f"expected integer labels of shape ({len(images)},), got {tuple(labels.shape)} "
            f"{labels.dtype}"
        )
    if masks is not None and masks.shape != (len(images), *images.shape[2:]):
        raise ValueError(
            f"expected masks of shape {(len(images), *images.shape[2:])}, got {tuple(masks.shape)}"
        )
    return images, labels, masks


def _check_finite(images: Tensor, where: str) -> None:
    """Refuse NaN or infinite values, naming how many and the first (image, then position)."""
    bad = ~torch.isfinite(images)
    count = int(bad.sum())
    if count:
        first = int(bad.flatten().to(torch.uint8).argmax())
        index = [int(i) for i in torch.unravel_index(torch.tensor(first), images.shape)]
        raise ValueError(
            f"expected finite images, got {count} NaN or infinite value"
            f"{'s' if count > 1 else ''} in {where}, the first in image {index[0]} at "
            f"{tuple(index[1:])}"
        )


def _check_value_range(value_range: Any) -> tuple[float, float] | None:
    """``None``, or ``(low, high)`` as floats with finite ``low < high``."""
    if value_range is None:
        return None
    pair = value_range if isinstance(value_range, tuple | list) else ()
    if (
        len(pair) != 2
        or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in pair)
        or not all(math.isfinite(v) for v in pair)
        or not pair[0] < pair[1]
    ):
        raise ValueError(
            f"expected value_range = (low, high) with finite low < high, got {value_range!r}"
        )
    return float(pair[0]), float(pair[1])


def _check_model(model: nn.Module) -> None:
    """Refuse a model whose weights are on the meta device (a shape without values)."""
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        if tensor.is_meta:
            raise ValueError(
                f"expected a model holding its weights, got {name!r} on the meta device (a "
                "shape without values): load them first (model.to_empty(device='cpu'), then "
                "model.load_state_dict(...))"
            )


def _empty(split: ImageSplit) -> ImageSplit:
    return split.subset(slice(0, 0))


def tensor_dataset(
    images: Tensor,
    labels: Tensor,
    masks: Tensor | None = None,
    *,
    class_names: Sequence[str],
    value_range: tuple[float, float] | None = None,
    name: str = "data",
) -> ImageDataset:
    """A test-only :class:`ImageDataset` of tensors (no training or validation images).

    The pixel mean and std (the noise of eqs. 25-26, the deletion baseline) are the test
    images'. Images of any floating dtype are stored as float32. Masks are nonzero where the
    signal is.

    Raises:
        ValueError: Shapes that do not fit, tensors on the meta device, NaN or infinite
            images, labels outside ``[0, len(class_names))``, or a ``value_range`` that is
            not finite ``low < high``.
    """
    value_range = _check_value_range(value_range)
    images, labels, masks = _check_tensors(
        (images, labels) if masks is None else (images, labels, masks)
    )
    if len(class_names) < 2 or labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(
            f"expected labels in [0, {len(class_names)}) (the classes {list(class_names)}), "
            f"got labels from {int(labels.min())} to {int(labels.max())}"
        )
    test = ImageSplit(
        images.detach().cpu().float(),
        labels.detach().cpu().long(),
        None if masks is None else masks.detach().cpu() != 0,
    )
    mean, std = pixel_statistics(test.images)
    return ImageDataset(
        name=name,
        class_names=tuple(str(c) for c in class_names),
        train=_empty(test),
        val=_empty(test),
        test=test,
        pixel_mean=mean,
        pixel_std=std,
        value_range=value_range,
        description=f"{len(test)} test images given in Python",
    )


def _warn_failures(folder: RunFolder) -> None:
    """A warning naming the cells that failed (their rows are missing) and why."""
    if not folder.failed:
        return
    reasons = []
    for key in folder.failed:
        text = folder.layout.failure(key).read_text(encoding="utf-8").strip().splitlines()
        reasons.append(f"{key}: {text[-1] if text else 'unknown error'}")
    warnings.warn(
        f"{len(reasons)} cell(s) failed and have no rows: " + "; ".join(reasons),
        RuntimeWarning,
        stacklevel=3,
    )


def _class_count(model: nn.Module, images: Tensor) -> int:
    """C of the model's (N, C) outputs on two of the images (on the model's device)."""
    device = next((p.device for p in model.parameters()), images.device)
    try:
        with torch.no_grad():
            outputs = model.eval()(images[:2].to(device))
    except (RuntimeError, ValueError, TypeError, IndexError) as error:
        raise ValueError(
            f"expected images the model takes, got {tuple(images.shape)} {images.dtype}: "
            f"the model raised {type(error).__name__}: {str(error).splitlines()[0]}"
        ) from error
    if not isinstance(outputs, Tensor) or outputs.dim() != 2:
        raise ValueError(
            f"expected the model to return (N, C) logits, got "
            f"{getattr(outputs, 'shape', type(outputs).__name__)}"
        )
    return int(outputs.shape[1])


def compare(
    model: nn.Module,
    data: Data,
    *,
    methods: str | Sequence[str | tuple[str, Any]] | Mapping[str, Any] = "paper",
    metrics: str | Sequence[str] | Mapping[str, Any] = "all",
    output: str | os.PathLike[str] | None = None,
    seeds: Sequence[int] = (0,),
    eval_examples: int = 64,
    device: str = "cpu",
    class_names: Sequence[str] | None = None,
    value_range: tuple[float, float] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    output_key: str | int | Callable[[Any], Tensor] | None = None,
    target_layer: str | None = None,
    reshape: str | None = None,
    model_name: str = "model",
    dataset_name: str = "data",
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    metric_options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
    **run_options: Any,
) -> pd.DataFrame:
    """Benchmark the attribution methods on a trained model and your data.

    The model is used as given (a copy, in eval mode: yours is left as found). The harness
    computes in float32: float64 and half-precision images, and the copy of a float64 or
    half-precision model, are cast to float32. Every method
    explains the same ``eval_examples`` test images and every metric scores them, exactly
    as ``python -m comparisons run`` does; the model's test precision and recall (Table II)
    are among the rows. DeepSHAP's background is drawn from the data's training split, or,
    without one (tensors), from test images that are not evaluated.

    Args:
        model: The trained classifier: (N, C, ...) images in, (N, num_classes) logits out,
            or an output holding them (a Hugging Face ``ModelOutput`` with ``.logits``, a
            dict, a tuple: :func:`captum_ifim.logits_of`'s rule).
        data: An :class:`~comparisons.datasets.ImageDataset` from the loaders
            (``load_dataset("image-folder", ...)``), or test tensors ``(images, labels)``
            or ``(images, labels, masks)``: images (N, C, H, W) or (N, C, D, H, W), labels
            (N,), masks (N, H, W) or (N, D, H, W), nonzero inside the signal (masks enable
            the localization metrics).
        methods: ``"paper"`` (the paper's comparison, :data:`captum_ifim.PAPER_METHODS`),
            ``"all"`` (every registered method) or registry names
            (``python -m comparisons list``); with your own methods, a list mixing names
            and ``(name, method)`` pairs, or a dict of names to a built-in's options
            (``{"gradcam": {}}``) or to your method: an attribution class (built as
            ``cls(model[, layer])``, e.g. ``captum.attr.InputXGradient``), an attribution
            object built on ``model`` (``Occlusion(model)``: rebuilt on the copy the harness
            runs), a function ``f(inputs, target) -> Tensor``, or
            :func:`captum_ifim.methods.custom_method_spec` (options, a factory, declared
            facts). Your methods run after the named ones through every metric, test and
            figure; the run folder records their class and options (docs/own-methods.md).
        metrics: ``"all"`` or registry names; with your own metrics, a dict of names to a
            built-in's options (``{"irof": {"n_segments": 8}}``) or to your metric: a
            function ``f(*, inputs, targets, model, maps, **options) -> (N,)`` per-example
            values with a ``direction`` attribute (``"higher"``/``"lower"``; ``needs``,
            ``family``, ``description`` optional), or ``{"function": f, "direction": ...,
            "needs": [...]}``. They get intervals, paired tests and ranks like the
            built-ins (docs/metrics.md, "Your own metric").
        output: A run folder to write (the same files and ``report.md`` as the CLI), or to
            resume when it holds this comparison; ``None``: a temporary folder, removed.
        seeds: Seeds of the metrics' random draws (the model is the same for each).
        eval_examples: Test images every method explains.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"``.
        class_names: For tensors: the class names (default ``"0"``, ``"1"``, ... for the
            model's C outputs).
        value_range: For tensors: the valid (low, high) pixel values (FGSM clamps to it).
        preprocessing: What the model expects of the raw images, applied inside it
            (``size``, ``channels``, ``mean``, ``std``; see
            :class:`comparisons.models.InputPreprocessing`).
        output_key: Where the logits are in the model's output when the rule does not
            find them: a key or attribute name, an index, or a callable ``output -> Tensor``
            (a callable is not recorded in the run folder).
        target_layer: The CAMs' target layer, a module name of ``model``
            (``"vit.layers.5.layernorm_before"``); ``None``: its family's default
            (``docs/baselines.md``).
        reshape: The CAMs' reshape of that layer's output: ``"token-grid"``,
            ``"token-grid:<k>"`` (k prefix tokens dropped), ``"channels-last"``, ``"none"``
            or a ``"package.module:callable"`` path; ``None``: the family's.
        model_name, dataset_name: Their names in the rows.
        method_options, metric_options: As ``[methods.options.<name>]`` and
            ``[metrics.options.<name>]`` of a config.
        progress: Show progress bars.
        **run_options: Other ``[run]`` keys: ``batch_size``, ``figure_examples``,
            ``background_examples``, ``map_target``, ``num_threads``, ``name``.

    Returns:
        The tidy rows, with the columns of ``results.csv``
        (:data:`comparisons.run_folder.RESULT_COLUMNS`).

    Raises:
        ValueError, TypeError: Bad data, names or options, before anything runs: among
            them images or a model on the meta device, NaN or infinite images (naming how
            many and the first), and a ``value_range`` that is not finite ``low < high``.

    Warns:
        RuntimeWarning: Cells that failed (a method or metric that raised): they have no
            rows; their tracebacks are in ``output/failed/``, and a rerun retries them.

    >>> import torch
    >>> from comparisons import compare
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    >>> images, labels = torch.rand(12, 1, 8, 8), torch.arange(12) % 2
    >>> rows = compare(model, (images, labels), methods=["saliency"],
    ...                metrics=["deletion-auc"], eval_examples=4, value_range=(0.0, 1.0))
    >>> list(rows.columns)
    ['dataset', 'model', 'seed', 'method', 'metric', 'setting', 'value', 'n']
    >>> rows.loc[rows.metric == "deletion-auc", ["method", "n"]].values.tolist()
    [['saliency', 4]]
    """
    from comparisons.reporting import report_run_folder
    from comparisons.run import run
    from comparisons.training import dataset_fingerprint, state_fingerprint

    if not isinstance(model, nn.Module):
        model = getattr(model, "model", model)  # a TrainedModel holds its model
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected model to be an nn.Module, got {type(model).__name__}")
    _check_model(model)
    model = copy.deepcopy(model).eval().float()  # the harness computes in float32
    model = as_logits_model(model, output_key)  # ModelOutput, dict, tuple -> logits
    if isinstance(data, ImageDataset):
        if class_names is not None or value_range is not None:
            raise ValueError(
                "expected class_names and value_range only with tensors, got them with an "
                "ImageDataset (it has its own)"
            )
        for split in ("train", "val", "test"):
            _check_finite(getattr(data, split).images, f"the dataset's {split} split")
        dataset = data
    elif isinstance(data, tuple):
        value_range = _check_value_range(value_range)
        images, labels, masks = _check_tensors(data)
        names = class_names
        if names is None:
            names = [str(c) for c in range(_class_count(model, images))]
        dataset = tensor_dataset(
            images, labels, masks, class_names=names, value_range=value_range, name=dataset_name
        )
    else:
        raise TypeError(
            "expected data as an ImageDataset, (images, labels) or (images, labels, masks) "
            f"tensors, got {type(data).__name__}"
        )
    config = python_config(
        dataset_label=dataset_name,
        dataset_fingerprint=stable_hash(dataset_fingerprint(dataset)),
        model_name=model_name,
        model_fingerprint=state_fingerprint(model)["sha256"][:16],
        preprocessing=preprocessing,
        methods=methods,
        metrics=metrics,
        method_options=method_options,
        metric_options=metric_options,
        seeds=seeds,
        device=device,
        eval_examples=eval_examples,
        run_options=run_options,
        model_layers={
            "output_key": None if callable(output_key) else output_key,
            "target_layer": target_layer,
            "reshape": reshape,
        },
    )
    datasets = {dataset_name: dataset}
    models = {model_name: model}
    if output is None:
        with tempfile.TemporaryDirectory(prefix="comparisons-") as temporary:
            folder = run(
                config,
                Path(temporary) / "run",
                progress=progress,
                python_datasets=datasets,
                python_models=models,
            )
            _warn_failures(folder)
            return _frame(folder.rows())
    folder = run(
        config, Path(output), progress=progress, python_datasets=datasets, python_models=models
    )
    _warn_failures(folder)
    report_run_folder(folder.path)
    return _frame(folder.rows())
