"""Train a registered model on a dataset, or load the identical run from the cache."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from comparisons.datasets._dataset import ImageDataset
from comparisons.models import build_model, get_model_spec
from comparisons.training._cache_key import cache_identity, cache_key, checkpoint_stem
from comparisons.training._checkpoint_cache import (
    CheckpointFiles,
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
) -> TrainedModel:
    """Train ``model_name`` on ``dataset`` with ``config`` from ``seed`` (paper Sec. IV-B).

    Deterministic given the seed on one device: the initialisation comes from
    ``build_model(..., seed=seed)``, the shuffles and flips from a ``torch.Generator``
    seeded from it, dropout from a forked global RNG (the caller's RNG state is left as
    found). With ``cache_dir``, a run whose key (model and options, the dataset's
    fingerprint, the config, the seed, torch major.minor; see ``cache_identity``) is
    already stored is loaded instead of trained; a new run is stored atomically.

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
    get_model_spec(model_name)  # an unknown name fails before any hashing
    options = dict(model_options or {})
    if config.standardize_inputs:
        given = sorted({"input_mean", "input_std"} & set(options))
        if given:
            raise ValueError(
                f"expected no {given} in model_options with standardize_inputs=True (they "
                f"come from the dataset), got {options}"
            )
        options.update(input_mean=dataset.pixel_mean, input_std=dataset.pixel_std)
    device = torch.device(device)
    identity = cache_identity(model_name, options, dataset, config, seed)
    key = cache_key(identity)
    files = None
    if cache_dir is not None:
        files = CheckpointFiles.at(cache_dir, checkpoint_stem(model_name, dataset.name, seed, key))
        cached = _load(files, key, model_name, dataset, seed, options, config, device)
        if cached is not None:
            return cached

    model = build_model(
        model_name,
        dataset.in_channels,
        dataset.num_classes,
        dataset.image_size,
        seed=seed,
        **options,
    ).to(device)
    devices = []
    if device.type == "cuda":
        devices = [torch.cuda.current_device() if device.index is None else device.index]
    started = time.perf_counter()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(_derived_seed(seed, "dropout"))
        generator = torch.Generator().manual_seed(_derived_seed(seed, "shuffle"))
        result = fit(
            model,
            dataset.train,
            dataset.val,
            config,
            generator,
            device=device,
            progress=progress,
            description=f"{model_name} seed {seed}",
        )
    seconds = time.perf_counter() - started
    _, predictions = evaluate(model, dataset.test, config.eval_batch_size, device=device)
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
    if files is not None:
        metadata = {
            "key": key,
            "identity": identity,
            "history": result.history.to_dict(),
            "best_epoch": result.best_epoch,
            "seconds": seconds,
            "test_metrics": metrics.to_dict(),
        }
        save_checkpoint(files, result.best_state, metadata)
    return TrainedModel(
        model=model,
        model_name=model_name,
        model_options=options,
        seed=seed,
        config=config,
        history=result.history,
        best_epoch=result.best_epoch,
        seconds=seconds,
        test_metrics=metrics,
        cache_key=key,
        from_cache=False,
        checkpoint=None if files is None else files.weights,
    )


def _load(
    files: CheckpointFiles,
    key: str,
    model_name: str,
    dataset: ImageDataset,
    seed: int,
    options: dict[str, Any],
    config: TrainingConfig,
    device: torch.device,
) -> TrainedModel | None:
    """The cached run under ``key``, or ``None`` (with a warning when it is unusable)."""
    loaded = load_checkpoint(files, key)
    if loaded is None:
        return None
    state, metadata = loaded
    try:
        model = build_model(
            model_name,
            dataset.in_channels,
            dataset.num_classes,
            dataset.image_size,
            seed=seed,
            **options,
        )
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


def _derived_seed(seed: int, purpose: str) -> int:
    """An independent 63-bit seed for one use of ``seed`` (init, shuffling, dropout)."""
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
