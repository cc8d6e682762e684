"""Seeded random streams and balanced label draws for the simulated datasets.

Every simulated split draws from its own ``torch.Generator``, seeded from ``(seed, salt,
split)`` through ``numpy.random.SeedSequence``, so train, validation and test come from
disjoint, independent streams and nothing touches the global RNG.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

SPLITS: tuple[str, str, str] = ("train", "val", "test")


def split_generator(seed: int, salt: int, split: str) -> torch.Generator:
    """A CPU ``torch.Generator`` for one split of one simulated dataset.

    Args:
        seed: The user's seed.
        salt: A constant per dataset family, so two families with the same seed differ.
        split: One of ``"train"``, ``"val"``, ``"test"``.
    """
    if split not in SPLITS:
        raise ValueError(f"expected split in {SPLITS}, got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"expected a non-negative integer seed, got {seed!r}")
    state = np.random.SeedSequence([int(seed), salt, SPLITS.index(split)]).generate_state(
        1, dtype=np.uint64
    )
    # torch seeds are taken modulo 2**64 but must fit in a signed 64-bit integer on input.
    return torch.Generator().manual_seed(int(state[0]) & ((1 << 63) - 1))


def balanced_labels(num: int, num_classes: int, generator: torch.Generator) -> Tensor:
    """A random permutation of ``[0, 1, ..., C-1, 0, 1, ...]``: class counts differ by <= 1.

    Returns:
        (num,) int64.
    """
    labels = torch.arange(num, dtype=torch.int64) % num_classes
    return labels[torch.randperm(num, generator=generator)]
