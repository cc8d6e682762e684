"""A model's trained weights from a file: safetensors or a state dict, pickles only if trusted.

``.safetensors`` files and PyTorch state dicts (``torch.save(model.state_dict())``, read with
``torch.load(..., weights_only=True)``, which runs no code) load as they are. A checkpoint
that needs full unpickling (a whole pickled model, a training checkpoint holding other
objects) and a TorchScript archive run code from the file when loaded, so they load only
with ``trust_pickle=True``. A state dict nested under ``"state_dict"``, ``"model_state_dict"``
or ``"model"`` is found, and a prefix on every key (``module.`` from ``DataParallel``, or
another one) is dropped when that makes the keys the model's.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

CheckpointKind = Literal["safetensors", "state-dict", "module", "torchscript"]
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")
_SHOWN = 8


@dataclass(frozen=True)
class Checkpoint:
    """What a weights file holds.

    Attributes:
        path: The file.
        kind: ``"safetensors"``, ``"state-dict"``, ``"module"`` (a pickled ``nn.Module``) or
            ``"torchscript"``.
        state: The tensors by name (``None`` for a TorchScript archive).
        module: The model itself for ``"module"`` and ``"torchscript"``, else ``None``.
    """

    path: Path
    kind: CheckpointKind
    state: dict[str, Tensor] | None
    module: nn.Module | None = None


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _is_pickle(path: Path) -> bool:
    """A ``torch.save`` file: a zip archive (torch >= 1.6) or a bare pickle (protocol 2+)."""
    if zipfile.is_zipfile(path):
        return True
    with path.open("rb") as handle:
        return handle.read(1) == b"\x80"


def _untrusted(path: Path, what: str) -> ValueError:
    return ValueError(
        f"expected weights that load without running code (safetensors, or a state dict "
        f"saved with torch.save(model.state_dict())), got {what} in {path}: loading it runs "
        f"code from the file. Set trust_pickle = true for this model if you trust the file, "
        f"or save its state dict instead"
    )


def _state_of(value: Any, path: Path) -> dict[str, Tensor]:
    """The tensors of a loaded checkpoint (a state dict, or one nested under a known key)."""
    if isinstance(value, nn.Module):
        return dict(value.state_dict())
    if isinstance(value, Mapping):
        if value and all(isinstance(v, Tensor) for v in value.values()):
            return {str(k): v for k, v in value.items()}
        for key in _NESTED_KEYS:
            nested = value.get(key)
            if isinstance(nested, nn.Module | Mapping):
                return _state_of(nested, path)
        keys = sorted(str(k) for k in value)[:_SHOWN]
        raise ValueError(
            f"expected a state dict (names -> tensors) in {path}, or one under "
            f"{list(_NESTED_KEYS)}, got a mapping with keys {keys}"
        )
    raise ValueError(f"expected a state dict or a model in {path}, got a {type(value).__name__}")


def read_checkpoint(path: str | Path, *, trust_pickle: bool = False) -> Checkpoint:
    """Read a weights file (on the CPU).

    Raises:
        FileNotFoundError: No such file.
        ValueError: An unreadable file, or one that needs ``trust_pickle`` without it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"expected a weights file, got no file at {path}")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as error:
            raise ImportError(
                f"weights {path} need safetensors ({error}): pip install captum-ifim[compare]"
            ) from error
        try:
            return Checkpoint(path, "safetensors", dict(load_file(str(path), device="cpu")))
        except Exception as error:  # safetensors raises its own error types
            raise ValueError(
                f"expected a readable safetensors file, got {path}: {error}"
            ) from error
    if _is_torchscript(path):
        if not trust_pickle:
            raise _untrusted(path, "a TorchScript archive")
        module = torch.jit.load(str(path), map_location="cpu")
        return Checkpoint(path, "torchscript", None, module)
    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            if not _is_pickle(path):
                raise
            if not trust_pickle:
                raise _untrusted(path, "a pickle of Python objects") from error
            loaded = torch.load(path, map_location="cpu", weights_only=False)
    except ValueError:
        raise
    except Exception as error:
        raise ValueError(
            f"expected a safetensors file or a PyTorch checkpoint, got an unreadable {path}: "
            f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
        ) from error
    if isinstance(loaded, nn.Module):
        return Checkpoint(path, "module", _state_of(loaded, path), loaded)
    return Checkpoint(path, "state-dict", _state_of(loaded, path))


def _stripped(state: Mapping[str, Tensor], expected: set[str]) -> dict[str, Tensor] | None:
    """``state`` without a prefix common to every key, when that gives exactly ``expected``."""
    keys = list(state)
    prefixes = {k.split(".", 1)[0] + "." for k in keys if "." in k}
    for prefix in sorted(prefixes):
        if all(k.startswith(prefix) for k in keys):
            renamed = {k[len(prefix) :]: v for k, v in state.items()}
            if set(renamed) == expected:
                return renamed
            deeper = _stripped(renamed, expected)
            if deeper is not None:
                return deeper
    return None


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > _SHOWN else ''})"


def load_weights(model: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Load ``state`` into ``model`` after checking that it fits exactly.

    Raises:
        ValueError: Missing, unexpected or mis-shaped keys, each named (the model is left
            as it was).
    """
    own = model.state_dict()
    expected = set(own)
    weights = dict(state)
    if set(weights) != expected:
        weights = _stripped(weights, expected) or weights
    missing = sorted(expected - set(weights))
    unexpected = sorted(set(weights) - expected)
    misshaped = sorted(
        f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}"
        for k in expected & set(weights)
        if tuple(weights[k].shape) != tuple(own[k].shape)
    )
    if missing or unexpected or misshaped:
        parts = []
        if missing:
            parts.append(f"missing keys {_listed(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_listed(unexpected)}")
        if misshaped:
            parts.append(f"mis-shaped keys (file vs model) {_listed(misshaped)}")
        raise ValueError(
            f"expected the weights in {source} to fit the model ({type(model).__name__}, "
            f"{len(expected)} tensors), got {'; '.join(parts)}"
        )
    model.load_state_dict(weights, strict=True)
