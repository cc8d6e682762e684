"""The checkpoint cache key: a hash of everything that determines the trained weights.

A model given with its weights is not trained; its identity (:func:`given_model_identity`)
is where it came from and a hash of its weights (:func:`file_fingerprint` of the file, or
:func:`state_fingerprint` of a model given in Python), so that a run folder never mixes the
results of two different weights under one model name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from comparisons.datasets._dataset import ImageDataset, ImageSplit
from comparisons.training._config import TrainingConfig

CACHE_FORMAT = 1
_FULL_HASH_BYTES = 256 * 2**20
_SAMPLED_ROWS = 512


def tensor_fingerprint(tensor: Tensor) -> dict[str, Any]:
    """Shape, dtype and a BLAKE2b digest of a tensor's bytes.

    Tensors up to 256 MiB are hashed whole; larger ones by 512 evenly spaced rows plus
    their float64 sum and sum of squares (any change to a pixel changes those, up to
    rounding), so the key stays cheap for the paper's 256 x 256 sets.
    """
    data = tensor.detach().cpu().contiguous()
    digest = hashlib.blake2b(digest_size=16)
    if data.numel() * data.element_size() <= _FULL_HASH_BYTES or data.dim() == 0:
        digest.update(_as_bytes(data))
        mode = "full"
    else:
        rows = torch.linspace(0, data.shape[0] - 1, _SAMPLED_ROWS).round().long().unique()
        digest.update(_as_bytes(data[rows].contiguous()))
        total, squares = 0.0, 0.0
        for chunk in data.split(64):  # float64 sums without a float64 copy of the whole
            wide = chunk.to(torch.float64)
            total, squares = total + float(wide.sum()), squares + float((wide * wide).sum())
        digest.update(np.array([total, squares]).tobytes())
        mode = f"sampled{_SAMPLED_ROWS}"
    return {
        "shape": list(data.shape),
        "dtype": str(data.dtype),
        "hash": digest.hexdigest(),
        "mode": mode,
    }


def dataset_fingerprint(dataset: ImageDataset) -> dict[str, Any]:
    """The dataset's identity: name, classes, statistics and every split's tensors."""

    def split(part: ImageSplit) -> dict[str, Any]:
        return {
            "images": tensor_fingerprint(part.images),
            "labels": tensor_fingerprint(part.labels),
        }

    return {
        "name": dataset.name,
        "description": dataset.description,
        "class_names": list(dataset.class_names),
        "pixel_mean": dataset.pixel_mean,
        "pixel_std": dataset.pixel_std,
        "value_range": None if dataset.value_range is None else list(dataset.value_range),
        "train": split(dataset.train),
        "val": split(dataset.val),
        "test": split(dataset.test),
    }


def cache_identity(
    model_name: str,
    model_options: Mapping[str, Any],
    dataset: ImageDataset,
    config: TrainingConfig,
    seed: int,
) -> dict[str, Any]:
    """The JSON-serialisable record the cache key hashes (stored beside each checkpoint).

    The device is not part of it: a checkpoint trained on a GPU serves a CPU run.
    """
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    return {
        "format": CACHE_FORMAT,
        "model": model_name,
        "model_options": _jsonable(dict(model_options), "model_options"),
        "dataset": dataset_fingerprint(dataset),
        "training": config.to_dict(),
        "seed": seed,
        "torch": f"{major}.{minor}",
    }


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    """The name, size and SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def state_fingerprint(model: nn.Module) -> dict[str, Any]:
    """The class and a hash of every tensor of ``model.state_dict()`` (names, shapes, dtypes
    and bytes), for a model given in Python rather than as a file."""
    tensors = {name: tensor_fingerprint(t) for name, t in model.state_dict().items()}
    digest = hashlib.sha256(json.dumps(tensors, sort_keys=True).encode()).hexdigest()
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "sha256": digest}


def given_model_identity(source: Mapping[str, Any], weights: Mapping[str, Any]) -> dict[str, Any]:
    """The record that identifies a model used as given (hashed by :func:`cache_key`).

    Args:
        source: Where its architecture came from (registry name, factory or zoo name, and
            options, preprocessing), JSON-serialisable.
        weights: :func:`file_fingerprint` of its weights file, or :func:`state_fingerprint`.
    """
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    return {
        "format": CACHE_FORMAT,
        "given": _jsonable(dict(source), "the model's source"),
        "weights": _jsonable(dict(weights), "the weights' fingerprint"),
        "torch": f"{major}.{minor}",
    }


def cache_key(identity: Mapping[str, Any]) -> str:
    """A 24-hex-digit SHA-256 of an identity from :func:`cache_identity`."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def checkpoint_stem(model_name: str, dataset_name: str, seed: int, key: str) -> str:
    """A readable file name stem: ``<model>__<dataset>__seed<k>__<key>``."""

    def clean(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "unnamed"

    return f"{clean(model_name)}__{clean(dataset_name)}__seed{seed}__{key}"


def _as_bytes(tensor: Tensor) -> memoryview:
    if tensor.numel() == 0:  # an empty split (a test-only dataset): no bytes
        return memoryview(b"")
    if tensor.dtype == torch.bool:
        tensor = tensor.to(torch.uint8)
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    return np.ascontiguousarray(tensor.numpy()).data.cast("B")


def _jsonable(value: Any, where: str) -> Any:
    try:
        return json.loads(json.dumps(value, sort_keys=True))
    except (TypeError, ValueError) as error:
        raise TypeError(f"expected JSON-serialisable {where}, got {value!r}") from error
