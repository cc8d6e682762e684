"""The device of a run: its name checked when the config loads, resolved when a run starts."""

from __future__ import annotations

import re

import torch

from comparisons._exit_codes import DeviceUnavailableError

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device_name(device: str) -> None:
    """Raise ``ValueError`` unless ``device`` is ``auto``, ``cpu``, ``mps``, ``cuda`` or
    ``cuda:<k>`` (whether this machine has it is checked when a run starts)."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ValueError(
            f"expected run.device 'auto', 'cpu', 'cuda', 'cuda:<k>' or 'mps', got {device!r}"
        )


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; ``device`` is a name the config's
    load checked (:func:`check_device_name`).

    Raises:
        DeviceUnavailableError: A device this machine does not have (``"cuda"`` without
            CUDA, ``"cuda:3"`` with two GPUs, ``"mps"`` off Apple silicon).
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceUnavailableError(
                f"expected an available device, got {device!r}: CUDA is not available on this "
                f"machine (torch {torch.__version__}); use device = 'cpu' or 'auto'"
            )
        if resolved.index is not None and resolved.index >= count:
            raise DeviceUnavailableError(
                f"expected an available device, got {device!r}: this machine has {count} "
                "CUDA device(s)"
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailableError(f"expected an available device, got {device!r}: no MPS")
    return resolved
