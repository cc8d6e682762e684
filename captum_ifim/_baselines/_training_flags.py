"""Every module's ``training`` flag put back as found, whatever happens inside."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def training_flags_restored(model: nn.Module) -> Iterator[None]:
    """Put every module's ``training`` flag back as found on exit, also after an error.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.BatchNorm1d(2)).train()
        >>> with training_flags_restored(model):
        ...     _ = model.eval()
        >>> model.training, model[0].training
        (True, True)
    """
    flags = [(module, module.training) for module in model.modules()]
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag
