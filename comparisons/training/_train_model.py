"""Train a registered model on a dataset, or load the identical run from the cache."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from comparisons.datasets._dataset import ImageDataset
from comparisons.models import build_model, get_model_spec
from comparisons.training._cache_key import cache_identity, cache_key, checkpoint_stem
from comparisons.training._checkpoint_cache import (
    CheckpointFiles,
    entry_lock,
    load_checkpoint,
    save_checkpoint,
)
from comparisons.training._classification_metrics import (
    ClassificationMetrics,
    classification_metrics,
)
from comparisons.training._config import TrainingConfig
from comparisons.training._fit import evaluate, fit
from comparisons.training._trained_model import TrainedModel, TrainingHistory

logger = logging.getLogger(__name__)


def train_model(
    model_name: str,
    dataset: ImageDataset,
    config: TrainingConfig | None = None,
    seed: int = 0,
    *,
    model_options: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    builder: Callable[..., nn.Module] | None = None,
) -> TrainedModel:
    """Train ``model_name`` on ``dataset`` with ``config`` from ``seed`` (paper Sec. IV-B).

    Deterministic given the seed on one device: the initialisation comes from
    ``build_model(..., seed=seed)``, the shuffles and flips from a ``torch.Generator``
    seeded from it (PGD's random starts from another one, so adversarial training shuffles
    as clean training does), dropout from a forked global RNG (the caller's RNG state is left as
    found). With ``cache_dir``, a run whose key (model and options, the dataset's
    fingerprint, the config, the seed, torch major.minor; see ``cache_identity``) is
    already stored is loaded instead of trained; a new run is stored atomically. Processes
    sharing a cache train each entry once: the lookup and the training hold the entry's lock
    (``<stem>.lock``), so a second process waits, then loads. A cache that cannot be written
    (read-only, full) is warned about once per folder; the model is then kept in memory only.

    Args:
        model_name: One of ``comparisons.models.available_models()``.
        dataset: Train, validation and test splits.
        config: The protocol; ``TrainingConfig.fast()`` when ``None``.
        seed: Initialisation and shuffling seed.
        model_options: Options of the model (``get_model_spec(name).options``); with
            ``config.standardize_inputs``, ``input_mean``/``input_std`` come from the
            dataset and must not be given.
        cache_dir: Folder of cached checkpoints, or ``None`` for no cache.
        device: Where to train; the model is returned there.
        progress: A tqdm bar over epochs (with ETA).
        builder: Builds a model from outside the registry, with a registered builder's
            signature ``(in_channels, num_classes, image_size, **model_options)``;
            ``model_name`` then only names the run (and its cache entry).

    Returns:
        A :class:`TrainedModel` whose model is in eval mode.

    >>> from comparisons.datasets._dataset import ImageDataset, ImageSplit
    >>> split = ImageSplit(torch.rand(8, 1, 16, 16), torch.arange(8) % 2)
    >>> data = ImageDataset("noise", ("a", "b"), split, split, split, 0.5, 0.3)
    >>> trained = train_model("shallow-cnn", data, TrainingConfig.fast(epochs=1), progress=False)
    >>> trained.model.training, trained.history.epochs, trained.best_epoch
    (False, 1, 1)
    """
    config = TrainingConfig.fast() if config is None else config
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"expected a TrainingConfig, got {type(config).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"expected an int seed, got {type(seed).__name__}")
    if builder is None:
        get_model_spec(model_name)  # an unknown name fails before any hashing
    options = model_build_options(model_options, config, dataset)
    device = torch.device(device)
    identity = cache_identity(model_name, options, dataset, config, seed)
    key = cache_key(identity)
    run = _Run(model_name, dataset, config, seed, options, device, progress, key, identity, builder)
    if cache_dir is None:
        return _train(run, None)
    files = CheckpointFiles.at(cache_dir, checkpoint_stem(model_name, dataset.name, seed, key))
    # Held while looking up and training: a second process sharing the cache waits here,
    # then loads what the first one stored, so each model is trained once.
    with entry_lock(files):
        cached = _load(files, key, model_name, dataset, seed, options, config, device, builder)
        if cached is not None:
            return cached
        return _train(run, files)


def model_build_options(
    model_options: Mapping[str, Any] | None, config: TrainingConfig, dataset: ImageDataset
) -> dict[str, Any]:
    """The options ``build_model`` gets: ``model_options``, and with
    ``config.standardize_inputs`` the dataset's pixel mean and std.

    Raises:
        ValueError: ``input_mean``/``input_std`` given with ``standardize_inputs=True``.
    """
    options = dict(model_options or {})
    if config.standardize_inputs:
        given = sorted({"input_mean", "input_std"} & set(options))
        if given:
            raise ValueError(
                f"expected no {given} in model_options with standardize_inputs=True (they "
                f"come from the dataset), got {options}"
            )
        options.update(input_mean=dataset.pixel_mean, input_std=dataset.pixel_std)
    return options


@dataclass(frozen=True)
class _Run:
    """One training run's inputs, resolved."""

    model_name: str
    dataset: ImageDataset
    config: TrainingConfig
    seed: int
    options: dict[str, Any]
    device: torch.device
    progress: bool
    key: str
    identity: dict[str, Any]
    builder: Callable[..., nn.Module] | None = None


def _train(run: _Run, files: CheckpointFiles | None) -> TrainedModel:
    """Train ``run`` and store it in the cache (``files``), where the cache can be written."""
    model_name, dataset, seed, device = run.model_name, run.dataset, run.seed, run.device
    model = _build(model_name, run.builder, dataset, seed, run.options).to(device)
    devices = []
    if device.type == "cuda":
        devices = [torch.cuda.current_device() if device.index is None else device.index]
    started = time.perf_counter()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(_derived_seed(seed, "dropout"))
        generator = torch.Generator().manual_seed(_derived_seed(seed, "shuffle"))
        attacks = torch.Generator().manual_seed(_derived_seed(seed, "attack"))
        result = fit(
            model,
            dataset.train,
            dataset.val,
            run.config,
            generator,
            device=device,
            progress=run.progress,
            description=f"{model_name} seed {seed}",
            value_range=dataset.value_range,
            attack_generator=attacks,
        )
    seconds = time.perf_counter() - started
    _, predictions = evaluate(model, dataset.test, run.config.eval_batch_size, device=device)
    metrics = classification_metrics(dataset.test.labels, predictions, dataset.num_classes)
    logger.info(
        "trained %s on %s (seed %d) in %.1f s: best epoch %d, test accuracy %.4f",
        model_name,
        dataset.name,
        seed,
        seconds,
        result.best_epoch,
        metrics.accuracy,
    )
    stored = False
    if files is not None:
        metadata = {
            "key": run.key,
            "identity": run.identity,
            "history": result.history.to_dict(),
            "best_epoch": result.best_epoch,
            "seconds": seconds,
            "test_metrics": metrics.to_dict(),
        }
        stored = _store(files, result.best_state, metadata)
    return TrainedModel(
        model=model,
        model_name=model_name,
        model_options=run.options,
        seed=seed,
        config=run.config,
        history=result.history,
        best_epoch=result.best_epoch,
        seconds=seconds,
        test_metrics=metrics,
        cache_key=run.key,
        from_cache=False,
        checkpoint=files.weights if files is not None and stored else None,
    )


#: Cache folders already warned about in this process (one warning per folder).
_UNWRITABLE_CACHES: set[str] = set()


def _store(files: CheckpointFiles, state: Mapping[str, Any], metadata: dict[str, Any]) -> bool:
    """Save a trained model in the cache; a cache that cannot be written (read-only, full)
    is warned about once per folder and the model is kept in memory only."""
    try:
        save_checkpoint(files, state, metadata)
    except OSError as error:
        folder = str(files.weights.parent)
        message = (
            f"the checkpoint cache {folder} cannot be written ({error.strerror or error}): "
            "trained models are kept in memory for this run only (give --cache-dir a "
            "writable folder to keep them)"
        )
        if folder not in _UNWRITABLE_CACHES:  # the CLI logs warnings: one line, once
            _UNWRITABLE_CACHES.add(folder)
            warnings.warn(message, RuntimeWarning, stacklevel=4)
        else:
            logger.debug(message)
        return False
    return True


def _load(
    files: CheckpointFiles,
    key: str,
    model_name: str,
    dataset: ImageDataset,
    seed: int,
    options: dict[str, Any],
    config: TrainingConfig,
    device: torch.device,
    builder: Callable[..., nn.Module] | None = None,
) -> TrainedModel | None:
    """The cached run under ``key``, or ``None`` (with a warning when it is unusable)."""
    loaded = load_checkpoint(files, key)
    if loaded is None:
        return None
    state, metadata = loaded
    try:
        model = _build(model_name, builder, dataset, seed, options)
        model.load_state_dict(state, strict=True)
        trained = TrainedModel(
            model=model.to(device).eval(),
            model_name=model_name,
            model_options=options,
            seed=seed,
            config=config,
            history=TrainingHistory.from_dict(metadata["history"]),
            best_epoch=int(metadata["best_epoch"]),
            seconds=float(metadata["seconds"]),
            test_metrics=ClassificationMetrics.from_dict(metadata["test_metrics"]),
            cache_key=key,
            from_cache=True,
            checkpoint=files.weights,
        )
    except Exception as error:  # a stale or damaged entry is retrained, never fatal
        message = f"unusable checkpoint {files.weights.name} ({error}); retraining"
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return None
    logger.info("loaded %s (seed %d) from the cache: %s", model_name, seed, files.weights)
    return trained


def _build(
    model_name: str,
    builder: Callable[..., nn.Module] | None,
    dataset: ImageDataset,
    seed: int,
    options: dict[str, Any],
) -> nn.Module:
    """The registered model ``model_name``, or ``builder``'s, initialised from ``seed``."""
    if builder is None:
        return build_model(
            model_name,
            dataset.in_channels,
            dataset.num_classes,
            dataset.image_size,
            seed=seed,
            **options,
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(dataset.in_channels, dataset.num_classes, dataset.image_size, **options)


def _derived_seed(seed: int, purpose: str) -> int:
    """An independent 63-bit seed for one use of ``seed`` (init, shuffling, dropout)."""
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
